// A relay on 127.0.0.1 in front of a node, for tests: the node advertises the relay's address,
// so the master's calls to it pass here, and the answer to the first round of the next flush
// (`DELETE /keys` with no `through`) can be held back, as a slow link would, or failed; or every
// call can go unanswered.

/** A running relay; `url` is the address for the node to advertise. */
export interface NodeRelay {
  url: string;
  /**
   * Holds back the answer to the next flush's first round for `ms`, once the node emptied; or,
   * `failing`, answers it 500 after `ms` without passing it on.
   */
  holdNextFlush(ms: number, failing?: boolean): void;
  /** Answers nothing from now on, as a link that fails one way: calls wait until `close()`. */
  cut(): void;
  close(): Promise<void>;
}

/** Starts a relay to the node that will listen on `port`, on a free port of its own. */
export function startNodeRelay(port: number): NodeRelay {
  let holdMs = 0;
  let fail = false;
  let cut = false;
  const closing = Promise.withResolvers<void>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      if (cut) {
        await closing.promise;
        return Response.json({ error: "the relay was cut" }, { status: 502 });
      }
      const { pathname, search } = new URL(request.url);
      const firstRound = request.method === "DELETE" && pathname === "/keys" && search === "";
      const ms = firstRound ? holdMs : 0;
      if (ms > 0) holdMs = 0;
      if (ms > 0 && fail) {
        await new Promise((resolve) => setTimeout(resolve, ms));
        return Response.json({ error: "the relay failed it" }, { status: 500 });
      }
      const headers = new Headers(request.headers);
      headers.delete("host");
      const body = request.method === "GET" || request.method === "HEAD"
        ? undefined
        : await request.arrayBuffer();
      const answer = await fetch(`http://127.0.0.1:${port}${pathname}${search}`, {
        method: request.method,
        headers,
        body,
      });
      if (ms > 0) {
        const bytes = await answer.arrayBuffer();
        await new Promise((resolve) => setTimeout(resolve, ms));
        return new Response(bytes, { status: answer.status, headers: answer.headers });
      }
      return answer;
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    holdNextFlush: (ms, failing = false) => {
      holdMs = ms;
      fail = failing;
    },
    cut: () => {
      cut = true;
    },
    close: () => {
      closing.resolve();
      return server.shutdown();
    },
  };
}
