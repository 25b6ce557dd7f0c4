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

/** Every non-test module under `dir`, recursively. */
async function* sources(dir: URL): AsyncGenerator<URL> {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* sources(url);
    else if (/(?<!_test|_bench)\.ts$/.test(entry.name)) yield url;
  }
}

Deno.test("docs/observability.md names every metric the services export", async () => {
  const docs = await Deno.readTextFile(new URL("../../docs/observability.md", import.meta.url));
  const names = new Set<string>();
  for (const dir of ["master/", "node/", "shared/"]) {
    for await (const file of sources(new URL(`../../${dir}`, import.meta.url))) {
      const text = await Deno.readTextFile(file);
      for (const [, name] of text.matchAll(/\.(?:counter|gauge|histogram)\(\s*"([a-z_]+)"/g)) {
        names.add(name);
      }
    }
  }
  assert.ok(names.has("rebalance_pending_nodes") && names.size >= 10, [...names].join(", "));
  for (const name of names) assert.ok(docs.includes(`\`${name}\``), `${name} is not documented`);
});

Deno.test("README's route table names every field /ring, /nodes and /stats answer", async () => {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const row = (route: string) => readme.split("\n").find((line) => line.startsWith(`| \`${route}`));
  const { ClusterStats, NodeList, NodeStats, RingView } = await import("@cache/protocol/wire");
  const fields: [string, string[]][] = [
    ["GET /ring", Object.keys(RingView.shape)],
    ["GET /nodes", Object.keys(NodeList.shape.nodes.element.shape)],
    ["GET /stats", [...Object.keys(NodeStats.shape), ...Object.keys(ClusterStats.shape)]],
  ];
  for (const [route, keys] of fields) {
    const line = row(route);
    assert.ok(line, `README has no row for ${route}`);
    for (const key of keys) {
      if (key === "rebalance" || key === "nodes" && route === "GET /stats") continue;
      assert.ok(line.includes(`"${key}"`), `${route}'s row does not name "${key}"`);
    }
  }
});
