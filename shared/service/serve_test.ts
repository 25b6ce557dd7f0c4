import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

// A service whose stop never ends: the process must end anyway, a little past its deadline.
const HANGING_STOP = `
import { startService } from "${new URL("shared/service/serve.ts", ROOT)}";
import { createLogger } from "${new URL("shared/log/log.ts", ROOT)}";
const log = createLogger("test");
const service = startService("test", {
  host: "127.0.0.1", port: 0, httpServer: "own", maxConnections: 0,
  headerTimeoutMs: 1000, idleTimeoutMs: 1000, minBodyRate: 1024,
}, undefined, log);
service.onStop(() => new Promise(() => {}), 300);
console.log("ready");
`;

Deno.test("onStop() ends a process whose stop hangs past its deadline, with exit code 1", async () => {
  // Outside the repository: a run killed midway leaves nothing in it.
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(script, HANGING_STOP);
    const config = new URL("deno.json", ROOT).pathname;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", "--allow-env", "--allow-read", "--config", config, script],
      stdout: "piped",
    }).spawn();
    let output = "";
    const { promise: ready, resolve: started } = Promise.withResolvers<void>();
    const reading = (async () => {
      for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
        output += text;
        if (output.includes("ready")) started(); // listening for SIGTERM
      }
    })();
    await ready;
    const signalled = performance.now();
    child.kill("SIGTERM");
    const { code } = await child.status;
    const tookMs = performance.now() - signalled;
    assert.equal(code, 1);
    assert.ok(tookMs >= 2000 && tookMs < 5000, `ended ${Math.round(tookMs)} ms after SIGTERM`);
    await reading;
    assert.match(output, /"msg":"shutdown ran past its deadline: exiting now"/);
  } finally {
    await Deno.remove(script);
  }
});
