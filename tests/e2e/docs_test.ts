// The README documents every flag and variable the services read.

import assert from "node:assert/strict";
import { masterSettings } from "../../master/config.ts";
import { nodeSettings } from "../../node/config.ts";

Deno.test("README's flag tables list every flag and variable of both services", async () => {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  for (const setting of [...Object.values(masterSettings), ...Object.values(nodeSettings)]) {
    assert.ok(readme.includes(`| \`--${setting.flag}\``), `--${setting.flag} is not in README.md`);
    assert.ok(readme.includes(`\`${setting.env}\``), `${setting.env} is not in README.md`);
  }
});
