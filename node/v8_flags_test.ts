import assert from "node:assert/strict";
import { NODE_V8_FLAGS } from "./v8_flags.ts";

const root = new URL("../", import.meta.url);
const read = (path: string) => Deno.readTextFileSync(new URL(path, root));

Deno.test("every way a node is started or built carries NODE_V8_FLAGS", () => {
  const flag = `--v8-flags=${NODE_V8_FLAGS}`;
  const tasks = JSON.parse(read("deno.json")).tasks;
  assert.ok(tasks.node.command.includes(`${flag} node/main.ts`), "deno task node");
  const nodeCompile = (tasks.compile as string).split("&&").find((c) => c.includes("dist/node"));
  assert.ok(nodeCompile?.includes(flag), "deno task compile, for the node");
  const dockerCompile = /RUN deno compile([\s\S]+?)\n\n/.exec(read("Dockerfile_node"))?.[1] ?? "";
  assert.ok(dockerCompile.includes(flag), "Dockerfile_node");
  for (const spawner of ["tools/dev.ts", "tests/support/process.ts"]) {
    assert.match(read(spawner), /NODE_V8_FLAGS/, spawner);
  }
});

Deno.test("NODE_V8_FLAGS are flags V8 takes", async () => {
  const run = await new Deno.Command(Deno.execPath(), {
    args: ["eval", `--v8-flags=${NODE_V8_FLAGS}`, "console.log('ok')"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(run.stderr);
  assert.equal(new TextDecoder().decode(run.stdout).trim(), "ok", stderr);
  assert.doesNotMatch(stderr, /unrecognized|Error/i);
});
