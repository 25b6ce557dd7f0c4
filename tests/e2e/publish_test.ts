// The client and the packages it depends on pass `deno publish --dry-run`: names, versions,
// licenses, exports, and no relative import from one package into another.

import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

// The protocol's zod schemas have inferred types, which JSR calls slow types: published with them
// allowed, the package works, only its documentation is built more slowly.
const PACKAGES: [folder: string, flags: string[]][] = [
  ["shared/ring", []],
  ["shared/log", []],
  ["shared/async", []],
  ["shared/protocol", ["--allow-slow-types"]],
  ["shared/http1", []],
  ["shared/client", []],
];

for (const [folder, flags] of PACKAGES) {
  Deno.test(`deno publish --dry-run passes for ${folder}`, async () => {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["publish", "--dry-run", "--allow-dirty", ...flags],
      cwd: new URL(`${folder}/`, ROOT),
      env: { NO_COLOR: "1" },
    }).output();
    const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    assert.equal(code, 0, output);
    assert.match(output, /Success Dry run complete/);
  });
}
