// A relay on 127.0.0.1 between a node and its master, for tests: it passes every call on, or
// cuts the node off from its master the moment the node says it is leaving, as a partition or a
// hung master would, until told to pass calls on again.

/** A running relay; `url` is the master's address to give the node. */
export interface MasterRelay {
  url: string;
  /**
   * From now on the first heartbeat that says the node is leaving reaches the master, whose
   * answer the node never gets; the calls after it reach nothing and are answered when the node
   * gives up on them.
   */
  cutAtLeave(): void;
  /** Passes every call on again. */
  open(): void;
  close(): Promise<void>;
}

/** Starts a relay to the master at `master` on a free port. */
export function startMasterRelay(master: string): MasterRelay {
  let mode: "open" | "cut at leave" | "dark" = "open";
  const closing = new AbortController();
  const held = (request: Request) =>
    new Promise<Response>((resolve) => {
      const answer = () => resolve(new Response(null, { status: 503 }));
      request.signal.addEventListener("abort", answer, { once: true });
      closing.signal.addEventListener("abort", answer, { once: true });
    });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      if (mode === "dark") return await held(request);
      const body = request.method === "GET" ? undefined : await request.arrayBuffer();
      const leaving = mode === "cut at leave" && body !== undefined &&
        new TextDecoder().decode(body).includes('"leaving":true');
      if (leaving) mode = "dark";
      const headers = new Headers(request.headers);
      headers.delete("host");
      const { pathname, search } = new URL(request.url);
      const answer = await fetch(`${master}${pathname}${search}`, {
        method: request.method,
        headers,
        body,
        signal: request.signal,
      });
      if (!leaving) return answer;
      await answer.body?.cancel();
      return await held(request);
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    cutAtLeave: () => mode = "cut at leave",
    open: () => mode = "open",
    close: async () => {
      closing.abort();
      await server.shutdown();
    },
  };
}
