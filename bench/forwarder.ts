// The ceiling of a Deno process that forwards, for the load benchmark: each GET goes on to one of
// its backends, in turn, over a kept-alive connection, as HTTP/1.1 written and read inline, and
// nothing is checked. No batching: one call per request, as the master makes at low load.
// Usage: deno run --allow-net bench/forwarder.ts <port> <backend port>...

const [port, ...backendPorts] = Deno.args.map(Number);
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const HEAD_END = encoder.encode("\r\n\r\n");

/** One kept-alive connection to a backend, one call at a time. */
class Connection {
  #conn: Deno.TcpConn;
  #buffer: Uint8Array<ArrayBuffer> = new Uint8Array(16_384);

  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    conn.setNoDelay(true);
  }

  /** GETs `path`; resolves with the answer's status and body. */
  async get(path: string): Promise<{ status: number; body: Uint8Array<ArrayBuffer> }> {
    await this.#conn.write(encoder.encode(`GET ${path} HTTP/1.1\r\nhost: backend\r\n\r\n`));
    let length = 0;
    for (;;) {
      if (length === this.#buffer.length) this.#grow();
      const read = await this.#conn.read(this.#buffer.subarray(length));
      if (read === null) throw new Error("the backend closed the connection");
      length += read;
      const headEnd = indexOf(this.#buffer.subarray(0, length), HEAD_END);
      if (headEnd < 0) continue;
      const head = decoder.decode(this.#buffer.subarray(0, headEnd)).toLowerCase();
      const bodyLength = Number(/\r\ncontent-length:\s*(\d+)/.exec(head)?.[1] ?? 0);
      const bodyStart = headEnd + HEAD_END.length;
      if (length < bodyStart + bodyLength) continue;
      return {
        status: Number(head.slice(9, 12)),
        body: this.#buffer.slice(bodyStart, bodyStart + bodyLength),
      };
    }
  }

  close(): void {
    this.#conn.close();
  }

  #grow(): void {
    const bigger = new Uint8Array(this.#buffer.length * 2);
    bigger.set(this.#buffer);
    this.#buffer = bigger;
  }
}

function indexOf(bytes: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

const idle: Connection[][] = backendPorts.map(() => []);
let turn = 0;

async function forward(path: string): Promise<Response> {
  const backend = turn++ % backendPorts.length;
  const connection = idle[backend].pop() ??
    new Connection(await Deno.connect({ hostname: "127.0.0.1", port: backendPorts[backend] }));
  try {
    const { status, body } = await connection.get(path);
    idle[backend].push(connection);
    return new Response(body, { status, headers: { "content-type": "application/json" } });
  } catch (error) {
    connection.close();
    throw error;
  }
}

const server = Deno.serve(
  { hostname: "127.0.0.1", port: port ?? 0, onListen: () => {} },
  async (request) => {
    try {
      const { pathname, search } = new URL(request.url);
      return await forward(pathname + search);
    } catch (error) {
      return Response.json({ error: `backend unreachable: ${error}` }, { status: 502 });
    }
  },
);
console.log(JSON.stringify({ msg: "listening", url: `http://127.0.0.1:${server.addr.port}` }));
