// The services' HTTP client against a peer that breaks HTTP/1.1's framing: bytes past an answer,
// bytes while idle, lengths that disagree, statuses and headers no answer may carry. Each is the
// peer's fault (502 through the master), never the answer of a call sent after them.

import assert from "node:assert/strict";
import { type Http1Client, http1Client, type Http1Options } from "./client.ts";
import { parseResponseHead, readBody, Reader } from "./reader.ts";
import { rawServer } from "./test_support.ts";

const write = (conn: Deno.Conn, text: string) => conn.write(new TextEncoder().encode(text));
const ok = (body: string) => `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
const text = (body: Uint8Array) => new TextDecoder().decode(body);
const pathOf = (request: string) => request.split(" ")[1];

/** Runs `use` with a client of a raw peer that answers as `answer` does; closes both after. */
async function withPeer(
  answer: Parameters<typeof rawServer>[0],
  use: (client: Http1Client, server: ReturnType<typeof rawServer>) => Promise<void>,
  options?: Http1Options,
): Promise<void> {
  const server = rawServer(answer);
  const client = http1Client(options);
  try {
    await use(client, server);
  } finally {
    client.close();
    await server.close();
  }
}

/** A peer answering every path with itself, then, 20 ms after answering `/a`, doing `then`. */
function answersThenOnA(then: (conn: Deno.Conn) => Promise<unknown> | void) {
  return async (request: string, conn: Deno.Conn) => {
    const path = pathOf(request);
    await write(conn, ok(path));
    if (path === "/a") {
      await new Promise((resolve) => setTimeout(resolve, 20));
      await then(conn);
    }
  };
}

Deno.test("exchange() refuses an answer with bytes past it, and no later call reads them", async () => {
  await withPeer(async (request, conn) => {
    const path = pathOf(request);
    if (path === "/two") await write(conn, ok("first") + ok("smuggled"));
    else if (path === "/no-content") await write(conn, "HTTP/1.1 204 No Content\r\n\r\nbody");
    else await write(conn, ok(path));
  }, async (client, server) => {
    for (const path of ["/two", "/no-content"]) {
      await assert.rejects(client.exchange(server.url, { path }), /past its answer/, path);
      for (const next of ["/b", "/c"]) {
        assert.equal(text((await client.exchange(server.url, { path: next })).body), next);
      }
    }
    assert.equal(server.conns.length, 3, "each connection given bytes past an answer is closed");
  });
});

Deno.test("a connection that gets bytes while idle is not used again", async () => {
  // The unasked answer comes while the connection sits idle in the pool.
  await withPeer(answersThenOnA((conn) => write(conn, ok("unasked"))), async (client, server) => {
    assert.equal(text((await client.exchange(server.url, { path: "/a" })).body), "/a");
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const path of ["/b", "/c"]) {
      assert.equal(text((await client.exchange(server.url, { path })).body), path);
    }
    assert.equal(server.conns.length, 2, "a new connection after the unasked answer");
  });
});

Deno.test("exchange() refuses lengths that disagree, statuses out of range, 101 and bare line breaks", async () => {
  const answers: Record<string, string> = {
    "/lengths": "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 0\r\n\r\nok",
    "/lengths-in-one": "HTTP/1.1 200 OK\r\ncontent-length: 2, 0\r\n\r\nok",
    "/999": "HTTP/1.1 999 Odd\r\ncontent-length: 2\r\n\r\nok",
    "/101": "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n",
    "/bare-lf": "HTTP/1.1 200 OK\r\ncontent-type: text/plain\nx: 1\r\ncontent-length: 2\r\n\r\nok",
    "/nul": "HTTP/1.1 200 OK\r\nx-a: a\0b\r\ncontent-length: 2\r\n\r\nok",
  };
  await withPeer(
    (request, conn) => void write(conn, answers[pathOf(request)]),
    async (client, server) => {
      for (const path of Object.keys(answers)) {
        await assert.rejects(client.exchange(server.url, { path }), Error, path);
      }
      const same = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 2, 2\r\n\r\nok";
      answers["/same"] = same;
      assert.equal(text((await client.exchange(server.url, { path: "/same" })).body), "ok");
    },
  );
});

Deno.test("Reader lets go of the buffer a long answer grew once it is read", async () => {
  const body = "x".repeat((1 << 20) - 1000); // the next answer fits in the buffer grown for it
  let source = new TextEncoder().encode(ok(body) + ok("next"));
  const reader = new Reader({
    read(buffer: Uint8Array) {
      const n = Math.min(buffer.length, source.length); // the next answer comes with the body's end
      buffer.set(source.subarray(0, n));
      source = source.subarray(n);
      return Promise.resolve(n === 0 ? null : n);
    },
  });
  const head = await parseResponseHead(reader, () => new Error("closed"));
  assert.equal((await readBody(reader, head)).length, body.length);
  assert.ok(reader.buffer.length >= body.length);
  reader.shrink();
  assert.ok(reader.buffer.length >= body.length, "kept while the next answer's bytes are unread");
  assert.equal(text(await readBody(reader, await parseResponseHead(reader, Error))), "next");
  reader.shrink();
  assert.equal(reader.buffer.length, 16 * 1024);
});

Deno.test("a script that made calls ends once its work is done, its connections idle", async () => {
  const server = rawServer((request, conn) => void write(conn, ok(pathOf(request))));
  const script = `
    import { http1Client, http1Fetch } from "${new URL("./client.ts", import.meta.url)}";
    console.log(await (await http1Fetch()("${server.url}/a")).text());
    const client = http1Client(); // never closed
    console.log(new TextDecoder().decode((await client.exchange("${server.url}", { path: "/b" })).body));
  `;
  try {
    assert.equal(await scriptOutput(script), "/a\n/b\n");
  } finally {
    await server.close();
  }
});

/** What `script` printed, run in its own process; "still running after 10 s" if it did not end. */
async function scriptOutput(script: string): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ended = await Promise.race([
    child.output().then((out) => new TextDecoder().decode(out.success ? out.stdout : out.stderr)),
    new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve("still running after 10 s"), 10_000);
    }),
  ]);
  clearTimeout(timer);
  if (ended.startsWith("still")) child.kill("SIGKILL");
  return ended;
}

Deno.test("a script whose call gave up on a TLS handshake the peer never answers ends", async () => {
  // The handshake went on after the call's timeout, and kept the script running until the peer
  // closed the connection (Deno keeps the socket itself open that long even so).
  const server = rawServer(() => {}); // reads the hello, never answers
  const url = server.url.replace("http:", "https:");
  const script = `
    import { http1Fetch } from "${new URL("./client.ts", import.meta.url)}";
    await http1Fetch()("${url}/a", { signal: AbortSignal.timeout(100) }).catch(() => {});
    console.log("given up");
  `;
  try {
    assert.equal(await scriptOutput(script), "given up\n");
  } finally {
    await server.close();
  }
});

Deno.test("exchange() given a signal aborted as the call starts settles at once", async () => {
  await withPeer((request, conn) => {
    if (pathOf(request) === "/warm") void write(conn, ok("/warm")); // then never answers
  }, async (client, server) => {
    await client.exchange(server.url, { path: "/warm" }); // a connection idle in the pool
    const controller = new AbortController();
    const call = client.exchange(server.url, { path: "/x", signal: controller.signal });
    controller.abort();
    const outcome = await Promise.race([
      call.then(() => "answered", (error) => `rejected: ${error?.name}`),
      new Promise((resolve) => setTimeout(() => resolve("pending after 2 s"), 2000)),
    ]);
    assert.equal(outcome, "rejected: AbortError");
  });
});

Deno.test("exchange() takes header values past ASCII: obs-text bytes and UTF-8", async () => {
  const head = (value: number[]) =>
    new Uint8Array([
      ...new TextEncoder().encode("HTTP/1.1 200 OK\r\nx-name: caf"),
      ...value,
      ...new TextEncoder().encode("\r\ncontent-length: 2\r\n\r\nok"),
    ]);
  await withPeer(
    (request, conn) =>
      void conn.write(pathOf(request) === "/latin1" ? head([0xe9]) : head([0xe2, 0x82, 0xac])),
    async (client, server) => {
      for (const path of ["/latin1", "/utf8"]) {
        assert.equal(text((await client.exchange(server.url, { path })).body), "ok", path);
      }
    },
  );
});

Deno.test("a call that waited for a connection the peer then closed is sent again on a new one", async () => {
  // Closed after answering /a, before reading the call that waited.
  await withPeer(answersThenOnA((conn) => conn.close()), async (client, server) => {
    const [a, b] = await Promise.all([
      client.exchange(server.url, { path: "/a" }),
      client.exchange(server.url, { path: "/b" }), // waits for /a's connection
    ]);
    assert.deepEqual([text(a.body), text(b.body)], ["/a", "/b"]);
  }, { maxConnections: 1 });
});
