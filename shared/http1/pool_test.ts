import assert from "node:assert/strict";
import { handshaken } from "./pool.ts";

/** A TLS connection whose handshake runs `handshake`, counting its closes. */
function tlsConn(handshake: () => Promise<void>) {
  const conn = {
    closes: 0,
    handshake,
    close() {
      if (conn.closes++ > 0) throw new Deno.errors.BadResource("Bad resource ID");
    },
  };
  return conn;
}

Deno.test("handshaken() given up in the turn its handshake ends returns no closed connection", async () => {
  // It returned the connection it had just closed, which the pool closed again in a promise no one
  // handled: an uncaught BadResource, which ends the process.
  const controller = new AbortController();
  const conn = tlsConn(() => {
    controller.abort(new Error("gave up"));
    return Promise.resolve();
  });
  const connecting = Promise.resolve(conn as unknown as Deno.TlsConn);
  await assert.rejects(handshaken(connecting, controller.signal), /gave up/);
  assert.equal(conn.closes, 1);
});

Deno.test("handshaken() says a handshake failed, and closes its connection", async () => {
  const conn = tlsConn(() => Promise.reject(new Error("invalid peer certificate: UnknownIssuer")));
  const connecting = Promise.resolve(conn as unknown as Deno.TlsConn);
  await assert.rejects(
    handshaken(connecting, new AbortController().signal),
    /TLS handshake with the peer failed: invalid peer certificate: UnknownIssuer/,
  );
  assert.equal(conn.closes, 1);
});
