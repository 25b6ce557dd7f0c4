// A TLS port as a TCP listener relaying to a TLS listener on loopback: the relay owns the client's
// socket, so a server that gives up on a handshake can close it.

import { peerGone } from "./messages.ts";

/** Bytes copied at a time from one socket to the other. */
const CHUNK_BYTES = 64 * 1024;

/** How long after a drop the relay looks again for a pair it had not made yet. */
const LATE_DROP_MS = 50;

/** How long the relay waits before accepting again after an accept failed (no descriptor left). */
const ACCEPT_RETRY_MS = 100;

/** Where a relayed TLS port listens, and with which certificate. */
export interface TlsRelayOptions {
  hostname: string;
  port: number;
  cert: string;
  key: string;
  /** Called when an accept or a connection to the TLS listener fails; the relay goes on. */
  onError?: (error: unknown) => void;
}

/**
 * A TLS port made of a TCP listener on the given address and a TLS listener on loopback that every
 * connection is relayed to, byte for byte. Deno keeps a TLS socket whose handshake has not ended
 * even once it is closed, so a client that opened connections and sent nothing kept a descriptor
 * each for as long as it liked; here the server gives up on the loopback connection
 * ({@link drop}), and the relay closes the client's socket, which it owns, and with it the
 * handshake. A copy of every byte is the price.
 *
 * @example
 * ```ts
 * import { TlsRelay } from "./tls_relay.ts";
 * const relay = new TlsRelay({ hostname: "127.0.0.1", port: 0, cert, key });
 * for await (const conn of relay.listener) {
 *   // ...serve conn; a handshake that does not end in time: relay.drop(conn)
 * }
 * ```
 */
export class TlsRelay {
  /** The public address, where clients connect. */
  readonly addr: Deno.NetAddr;
  /** The TLS listener the server accepts the relayed connections from. */
  readonly listener: Deno.TlsListener;
  readonly #outer: Deno.TcpListener;
  readonly #options: TlsRelayOptions;
  // The relayed pairs, by the loopback port the relay's side of each connects from.
  readonly #pairs = new Map<number, () => void>();
  #closed = false;

  constructor(options: TlsRelayOptions) {
    this.#options = options;
    this.listener = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: options.cert,
      key: options.key,
    });
    try {
      this.#outer = Deno.listen({ hostname: options.hostname, port: options.port });
    } catch (error) {
      this.listener.close();
      throw error;
    }
    this.addr = this.#outer.addr as Deno.NetAddr;
    this.#accept();
  }

  /**
   * Closes the client's connection that `conn`, accepted from {@link listener}, relays: its
   * handshake ends with it. Nothing for a connection already gone.
   */
  drop(conn: Deno.Conn): void {
    const port = (conn.remoteAddr as Deno.NetAddr).port;
    const end = this.#pairs.get(port);
    if (end) return end();
    // Accepted before the relay's own connect resolved (a connection refused at once, past the
    // cap): once it has.
    setTimeout(() => this.#pairs.get(port)?.(), LATE_DROP_MS);
  }

  /**
   * Stops accepting. The connections relayed already go on until the server closes them, as
   * connections do when a server stops.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#outer.close();
    this.listener.close();
  }

  async #accept(): Promise<void> {
    const inner = this.listener.addr as Deno.NetAddr;
    while (!this.#closed) {
      let client: Deno.TcpConn;
      try {
        client = await this.#outer.accept();
      } catch (error) {
        if (this.#closed) return;
        this.#options.onError?.(error);
        // A peer that reset before it was taken costs no wait (see `peerGone`).
        if (!peerGone(error)) await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      Deno.connect({ hostname: inner.hostname, port: inner.port }).then(
        (relayed) => this.#relay(client, relayed),
        (error) => {
          this.#options.onError?.(error);
          close(client);
        },
      );
    }
  }

  #relay(client: Deno.TcpConn, relayed: Deno.TcpConn): void {
    client.setNoDelay(true);
    relayed.setNoDelay(true);
    const port = (relayed.localAddr as Deno.NetAddr).port;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      this.#pairs.delete(port);
      close(client);
      close(relayed);
    };
    this.#pairs.set(port, end);
    // A client that half-closes still takes its answer: its end is passed on, and the pair ends
    // with the server's side, or with a failure either way.
    copy(client, relayed).then((ended) => ended ? halfClose(relayed) : end());
    copy(relayed, client).finally(end);
  }
}

/** Copies `from` to `to`; resolves true once `from` ended, false when either failed. */
async function copy(from: Deno.Conn, to: Deno.Conn): Promise<boolean> {
  const buffer = new Uint8Array(CHUNK_BYTES);
  try {
    for (;;) {
      const read = await from.read(buffer);
      if (read === null) return true;
      let written = 0;
      while (written < read) written += await to.write(buffer.subarray(written, read));
    }
  } catch {
    return false; // a side closed or reset
  }
}

function halfClose(conn: Deno.Conn): void {
  conn.closeWrite().catch(() => {}); // closed already
}

function close(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // closed already
  }
}
