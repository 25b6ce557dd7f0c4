import assert from "node:assert/strict";
import { freePort, waitFor } from "../tests/support/process.ts";

function start(script: string, ports: number[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", new URL(script, import.meta.url).pathname, ...ports.map(String)],
    stdout: "null",
  }).spawn();
}

async function stop(children: Deno.ChildProcess[]): Promise<void> {
  for (const child of children) {
    child.kill("SIGTERM");
    await child.status;
  }
}

Deno.test("the forwarder passes each GET on and its answer back", async () => {
  const [first, second, forwarder] = [freePort(), freePort(), freePort()];
  const children = [
    start("./bare_server.ts", [first]),
    start("./bare_server.ts", [second]),
    start("./forwarder.ts", [forwarder, first, second]),
  ];
  try {
    const bare = await waitFor(
      async () => await (await fetch(`http://127.0.0.1:${first}/`)).text(),
      "bare server",
    );
    await waitFor(async () => (await fetch(`http://127.0.0.1:${second}/`)).ok, "bare server");
    const url = `http://127.0.0.1:${forwarder}/keys/k`;
    await waitFor(async () => (await fetch(url)).ok, "forwarder");
    for (let i = 0; i < 4; i++) {
      const answer = await fetch(url);
      assert.equal(answer.status, 200);
      assert.equal(answer.headers.get("content-type"), "application/json");
      assert.equal(await answer.text(), bare);
    }
  } finally {
    await stop(children);
  }
});

Deno.test("the forwarder takes its backends in turn, and answers 502 in JSON for one down", async () => {
  const [up, forwarder, nowhere] = [freePort(), freePort(), freePort()];
  const children = [
    start("./bare_server.ts", [up]),
    start("./forwarder.ts", [forwarder, up, nowhere]),
  ];
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${up}/`)).ok, "bare server");
    const url = `http://127.0.0.1:${forwarder}/keys/k`;
    await waitFor(async () => (await fetch(url)).ok, "forwarder");
    const statuses: number[] = [];
    let error = "";
    for (let i = 0; i < 4; i++) {
      const answer = await fetch(url);
      statuses.push(answer.status);
      if (answer.status === 502) error = (await answer.json()).error;
      else await answer.body?.cancel();
    }
    assert.deepEqual(statuses, [502, 200, 502, 200]); // the ok call above was the up backend's turn
    assert.match(error, /backend unreachable/);
  } finally {
    await stop(children);
  }
});
