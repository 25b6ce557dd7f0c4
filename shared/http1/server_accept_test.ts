// A client resetting its connections before they are taken keeps no other client out.

import assert from "node:assert/strict";
import { peerGone, serveHttp } from "./server.ts";
import { LIMITS } from "./test_support.ts";

// Connects and resets at once (SO_LINGER 0), 50 times a second: Deno cannot reset a connection.
const FLOOD = `
import socket, struct, sys, time
end = time.time() + float(sys.argv[2])
while time.time() < end:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.connect(("127.0.0.1", int(sys.argv[1])))
    s.close()
    time.sleep(0.02)
`;

async function python(): Promise<boolean> {
  try {
    return (await new Deno.Command("python3", { args: ["-c", "1"] }).output()).success;
  } catch {
    return false;
  }
}

Deno.test("peerGone() names the accept failures of one connection alone", () => {
  assert.equal(peerGone(new Deno.errors.NotConnected("Transport endpoint is not connected")), true);
  assert.equal(peerGone(new Deno.errors.ConnectionReset("reset")), true);
  assert.equal(peerGone(new Deno.errors.ConnectionAborted("aborted")), true);
  assert.equal(peerGone(new Error("Too many open files (os error 24)")), false);
});

Deno.test("serveHttp() keeps serving while a client resets connections before they are taken", async () => {
  if (!await python()) {
    console.log("  skipped: python3 is needed to reset a connection (SO_LINGER 0)");
    return;
  }
  const server = serveHttp(LIMITS, () => new Response("ok"));
  const flood = new Deno.Command("python3", {
    args: ["-c", FLOOD, String(server.addr.port), "3"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (let i = 0; i < 10; i++) {
      // A fresh connection each time: it must be taken, not left in the backlog.
      const answer = await fetch(`http://127.0.0.1:${server.addr.port}/`, {
        signal: AbortSignal.timeout(2000),
        headers: { connection: "close" },
      });
      assert.equal(await answer.text(), "ok");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    try {
      flood.kill("SIGKILL");
    } catch {
      // ended
    }
    await flood.status;
    await server.shutdown();
  }
});
