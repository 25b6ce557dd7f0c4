// Keeps the arrows pointing down: which of our folders each file may import, read from the source.

import assert from "node:assert/strict";

/** One import in a file: where it leads, and whether only types come from it. */
interface Edge {
  /** The specifier as written. */
  specifier: string;
  /** A repository path such as `shared/ring/ring.ts`, or a package such as `npm:hono`. */
  to: string;
  /** `import type`, `export type`, or braces holding only `type` names: gone at run time. */
  typeOnly: boolean;
  /** `import("…")`: loaded when the code reaches it, not with the importing module. */
  lazy?: boolean;
}

/** Each of our files, by repository path, and its imports. */
type Graph = Map<string, Edge[]>;

// An import or export clause holds names, braces, `*`, `as` and commas, never ; ( ) = or quotes,
// so a match cannot run on from an `export const` into the next statement.
const FROM = /^[ \t]*(import|export)\s+(type\s+)?([^;"'`()=]*?)\s*from\s*["']([^"']+)["']/gm;
const BARE = /^[ \t]*import\s*["']([^"']+)["']/gm;
const DYNAMIC = /(typeof\s+)?\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** The specifiers `source` imports or re-exports, each marked type-only or not. */
function parseImports(
  source: string,
): { specifier: string; typeOnly: boolean; lazy?: boolean }[] {
  const found = [];
  for (const [, , type, clause, specifier] of source.matchAll(FROM)) {
    found.push({ specifier, typeOnly: type !== undefined || onlyTypeNames(clause) });
  }
  for (const [, specifier] of source.matchAll(BARE)) found.push({ specifier, typeOnly: false });
  for (const [, type, specifier] of source.matchAll(DYNAMIC)) {
    found.push({ specifier, typeOnly: type !== undefined, lazy: true });
  }
  return found;
}

/** Whether a clause is `{ type A, type B }`: names the compiler erases, leaving no import. */
function onlyTypeNames(clause: string): boolean {
  const braces = /^\{([^}]*)\}$/.exec(clause.trim());
  if (!braces) return false; // a default or namespace import is a value
  const names = braces[1].split(",").map((name) => name.trim()).filter(Boolean);
  return names.length > 0 && names.every((name) => /^type\s/.test(name));
}

/** Our workspace packages by name (`@cache/ring`): their folder and `exports`. */
type Members = Map<string, { dir: string; exports: Record<string, string> }>;

/** Where `specifier`, imported by `from`, leads: one of our paths, or `npm:`/`node:` and a name. */
function resolve(from: string, specifier: string, members: Members = new Map()): string {
  if (specifier.startsWith("./") || specifier.startsWith("../")) {
    const url = new URL(specifier, new URL(from, "file:///repo/"));
    return url.pathname.slice("/repo/".length);
  }
  if (/^(node|jsr|https?):/.test(specifier)) return specifier.replace(/^(node:[^/]+).*$/, "$1");
  const bare = specifier.replace(/^npm:\/?/, "");
  for (const [name, member] of members) {
    if (bare !== name && !bare.startsWith(`${name}/`)) continue;
    const sub = `.${bare.slice(name.length)}`;
    const target = member.exports[sub] ?? sub;
    return new URL(target, `file:///repo/${member.dir}/`).pathname.slice("/repo/".length);
  }
  const parts = bare.split("/");
  const name = bare.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
  return `npm:${name.replace(/(.)@.*$/, "$1")}`; // drop a version: npm:zod@4 is zod
}

/**
 * The folder a path's rules come from: `shared/ring`, `shared` for a file directly in it, `master`.
 */
function areaOf(path: string): string {
  const parts = path.split("/");
  if (parts[0] === "shared" && parts.length > 2) return `${parts[0]}/${parts[1]}`;
  return parts[0];
}

/** What each area may import of ours, type-only imports included; its own files always. */
const MAY_IMPORT: Record<string, string[]> = {
  "shared/ring": [],
  "shared/protocol": ["shared/ring"],
  "shared/log": [],
  "shared/async": [],
  "shared/http1": ["shared/protocol", "shared/log", "shared/async", "shared/ring"],
  "shared/service": [
    "shared/ring",
    "shared/protocol",
    "shared/http1",
    "shared/log",
    "shared/async",
  ],
  "shared/client": ["shared/ring", "shared/protocol", "shared/http1", "shared/async"],
};

/** Areas an area never imports, type-only imports included; `shared` is every package in it. */
const NEVER_IMPORTS: Record<string, string[]> = {
  shared: ["master", "node", "tests", "tools", "bench"],
  master: ["node"],
  node: ["master"],
};

/** Areas a service's modules never import; its tests may use the harnesses in tests/support. */
const MODULES_NEVER_IMPORT: Record<string, string[]> = {
  master: ["tests", "tools", "bench"],
  node: ["tests", "tools", "bench"],
};

/**
 * Imports that break a rule today, each with the reason it stays for now, as "file -> target".
 * The test fails when one no longer occurs, so the list only shrinks.
 */
const KNOWN: Record<string, string> = {};

/** The modules of protocol that declare routes: the only ones that may load Hono. */
const ROUTE_MODULES = [
  "shared/protocol/key_routes.ts",
  "shared/protocol/batch_routes.ts",
  "shared/protocol/keyspace_routes.ts",
  "shared/protocol/route_parts.ts",
];

/** Whether loading `to` at run time would bring the web framework or the flag parser. */
function serverOnly(to: string): boolean {
  return to === "npm:hono" || /^npm:@(hono|scalar)\//.test(to) || to === "node:util" ||
    areaOf(to) === "shared/service" || ROUTE_MODULES.includes(to);
}

const isTest = (path: string) => /_(test|bench)\.ts$/.test(path);

/** Node's HTTP modules: the client takes them only lazily, where there is no Deno.connect. */
const NODE_TRANSPORT = ["node:http", "node:https"];

/**
 * Every import in `graph` that breaks a rule, as a line naming the file, the import and the rule;
 * `known` imports ("file -> target") are let pass.
 *
 * @example
 * ```ts
 * const graph: Graph = new Map([
 *   ["shared/ring/ring.ts", [
 *     { specifier: "../log/log.ts", to: "shared/log/log.ts", typeOnly: false },
 *   ]],
 * ]);
 * violations(graph); // ['shared/ring/ring.ts imports "../log/log.ts" (shared/log/log.ts): ...']
 * ```
 */
function violations(graph: Graph, known: Set<string> = new Set()): string[] {
  const found: string[] = [];
  const say = (file: string, edge: Edge, rule: string) => {
    if (!known.has(`${file} -> ${edge.to}`)) {
      found.push(`${file} imports "${edge.specifier}" (${edge.to}): ${rule}`);
    }
  };
  for (const [file, edges] of graph) {
    const area = areaOf(file);
    const nested = area.startsWith("shared/") ? "shared" : area;
    for (const edge of edges) {
      if (edge.to.includes(":")) {
        // Only the route declarations of protocol load Hono; its schemas need npm zod alone.
        if (
          area === "shared/protocol" && !edge.typeOnly && serverOnly(edge.to) &&
          !ROUTE_MODULES.includes(file)
        ) {
          say(file, edge, "protocol loads Hono only in its route declarations");
        }
        continue;
      }
      const target = areaOf(edge.to);
      if (target === area) continue;
      // A package is reached through its name and exports, so its files can move within it.
      if (target.startsWith("shared/") && edge.specifier.startsWith(".") && !isTest(file)) {
        say(file, edge, `${area}/ imports shared packages by name (@cache/…), not by path`);
      }
      if (NEVER_IMPORTS[nested]?.includes(target)) {
        say(file, edge, `${nested}/ never imports ${target}/`);
      } else if (!isTest(file) && MODULES_NEVER_IMPORT[area]?.includes(target)) {
        say(file, edge, `${area}/ imports ${target}/ only from its tests`);
      } else if (MAY_IMPORT[area] && !MAY_IMPORT[area].includes(target)) {
        const may = MAY_IMPORT[area];
        say(
          file,
          edge,
          may.length
            ? `${area} may import only ${may.join(", ")}`
            : `${area} imports nothing of ours`,
        );
      }
    }
  }
  // The client runs in browsers and other people's programs: what it loads must not pull in the
  // server's framework or flag parser, however many imports away. Its command line (cli*.ts) is a
  // program of its own: it may parse flags, and nothing else of the server's.
  const roots = [...graph.keys()].filter((f) => areaOf(f) === "shared/client" && !isTest(f));
  for (const root of roots) {
    const cli = /^shared\/client\/cli(_[a-z_]+)?\.ts$/.test(root);
    const via = new Map<string, string[]>([[root, [root]]]);
    const eager = new Set([root]); // reached with no import() on the way
    const queue = [root];
    while (queue.length > 0) {
      const file = queue.shift()!;
      for (const edge of graph.get(file) ?? []) {
        if (edge.typeOnly) continue;
        const chain = [...via.get(file)!, edge.to];
        const now = eager.has(file) && !edge.lazy;
        if (serverOnly(edge.to) && !(cli && edge.to === "node:util")) {
          found.push(`${root} loads ${edge.to} at run time: ${chain.join(" -> ")}`);
        } else if (now && NODE_TRANSPORT.includes(edge.to)) {
          found.push(
            `${root} loads ${edge.to} as it starts, under Deno too: ${chain.join(" -> ")}`,
          );
        } else if (!edge.to.includes(":")) {
          if (!via.has(edge.to)) queue.push(edge.to);
          else if (!now || eager.has(edge.to)) continue;
          else queue.push(edge.to); // reached lazily before, eagerly now: walk it again
          via.set(edge.to, chain);
          if (now) eager.add(edge.to);
        }
      }
    }
  }
  return found;
}

const ROOT = new URL("../", import.meta.url);
const AREAS = ["shared", "master", "node", "tools", "tests", "bench"];

/** Our workspace packages, from the root deno.json. */
async function readMembers(): Promise<Members> {
  const members: Members = new Map();
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  for (const entry of config.workspace ?? []) {
    const dir = entry.replace(/^\.\//, "").replace(/\/$/, "");
    const member = JSON.parse(await Deno.readTextFile(new URL(`${dir}/deno.json`, ROOT)));
    const exports = typeof member.exports === "string" ? { ".": member.exports } : member.exports;
    if (member.name) members.set(member.name, { dir, exports: exports ?? {} });
  }
  return members;
}

/** The import graph of every script of ours, read from disk. */
async function readGraph(): Promise<Graph> {
  const members = await readMembers();
  const graph: Graph = new Map();
  const walk = async (dir: string): Promise<void> => {
    for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
      const path = `${dir}/${entry.name}`;
      if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
      if (entry.isDirectory) await walk(path);
      else if (/\.(ts|tsx|js|mjs)$/.test(entry.name)) {
        const source = await Deno.readTextFile(new URL(path, ROOT));
        graph.set(
          path,
          parseImports(source).map(({ specifier, typeOnly, lazy }) => ({
            specifier,
            typeOnly,
            lazy,
            to: resolve(path, specifier, members),
          })),
        );
      }
    }
  };
  for (const area of AREAS) await walk(area);
  return graph;
}

Deno.test("imports point down: packages, services and the client's run-time closure", async () => {
  const graph = await readGraph();
  assert.ok(graph.has("shared/ring/ring.ts") && graph.has("shared/client/client.ts"));
  assert.ok((graph.get("shared/client/client.ts") ?? []).length > 0, "no imports were read");
  const broken = violations(graph, new Set(Object.keys(KNOWN)));
  assert.deepEqual(broken, [], `Imports that break the layering:\n${broken.join("\n")}`);
  const occurring = new Set(
    [...graph].flatMap(([file, edges]) => edges.map((edge) => `${file} -> ${edge.to}`)),
  );
  const stale = Object.keys(KNOWN).filter((pair) => !occurring.has(pair));
  assert.deepEqual(stale, [], "Known imports that no longer occur: take them off KNOWN");
});

Deno.test("violations() names each import that breaks a rule", () => {
  const edge = (to: string, typeOnly = false) => ({ specifier: to, to, typeOnly });
  const graph: Graph = new Map([
    ["shared/ring/ring.ts", [edge("shared/ring/hash.ts"), edge("shared/log/log.ts", true)]],
    ["shared/protocol/wire.ts", [edge("npm:zod"), edge("npm:@hono/zod-openapi")]],
    ["shared/protocol/errors.ts", [edge("npm:hono", true)]],
    ["shared/protocol/key_routes.ts", [edge("npm:@hono/zod-openapi")]],
    ["shared/http1/peer.ts", [edge("shared/protocol/errors.ts"), edge("shared/service/api.ts")]],
    ["shared/client/client.ts", [edge("shared/client/call.ts"), edge("shared/ring/ring.ts")]],
    ["shared/client/call.ts", [edge("shared/protocol/wire.ts")]],
    ["shared/client/client_test.ts", [edge("shared/service/api.ts")]],
    ["shared/client/cli.ts", [edge("node:util"), edge("shared/client/client.ts")]],
    ["shared/client/reads.ts", [edge("node:util")]],
    ["shared/client/transport.ts", [
      { ...edge("shared/http1/node.ts"), lazy: true },
      edge("shared/client/eager.ts"),
    ]],
    ["shared/client/eager.ts", [edge("node:https")]],
    ["shared/http1/node.ts", [edge("node:http")]],
    ["shared/log/log.ts", [edge("tools/cpu.ts", true)]],
    ["master/main.ts", [edge("node/store/store.ts", true), edge("shared/service/api.ts")]],
    ["master/http/app.ts", [edge("tests/support/in_process.ts"), edge("node/http/app.ts")]],
    ["master/http/app_test.ts", [edge("tests/support/in_process.ts")]],
    ["node/http/app.ts", [
      { specifier: "../../shared/log/log.ts", to: "shared/log/log.ts", typeOnly: true },
    ]],
  ]);
  const known = new Set(["master/http/app.ts -> node/http/app.ts"]);
  assert.deepEqual(violations(graph, known), [
    'shared/ring/ring.ts imports "shared/log/log.ts" (shared/log/log.ts): ' +
    "shared/ring imports nothing of ours",
    'shared/protocol/wire.ts imports "npm:@hono/zod-openapi" (npm:@hono/zod-openapi): ' +
    "protocol loads Hono only in its route declarations",
    'shared/http1/peer.ts imports "shared/service/api.ts" (shared/service/api.ts): ' +
    "shared/http1 may import only shared/protocol, shared/log, shared/async, shared/ring",
    'shared/client/client_test.ts imports "shared/service/api.ts" (shared/service/api.ts): ' +
    "shared/client may import only shared/ring, shared/protocol, shared/http1, shared/async",
    'shared/log/log.ts imports "tools/cpu.ts" (tools/cpu.ts): shared/ never imports tools/',
    'master/main.ts imports "node/store/store.ts" (node/store/store.ts): master/ never imports node/',
    'master/http/app.ts imports "tests/support/in_process.ts" (tests/support/in_process.ts): ' +
    "master/ imports tests/ only from its tests",
    'node/http/app.ts imports "../../shared/log/log.ts" (shared/log/log.ts): ' +
    "node/ imports shared packages by name (@cache/…), not by path",
    "shared/client/client.ts loads npm:@hono/zod-openapi at run time: " +
    "shared/client/client.ts -> shared/client/call.ts -> shared/protocol/wire.ts -> " +
    "npm:@hono/zod-openapi",
    "shared/client/call.ts loads npm:@hono/zod-openapi at run time: " +
    "shared/client/call.ts -> shared/protocol/wire.ts -> npm:@hono/zod-openapi",
    // The command line may parse flags; it may not load what the library must not.
    "shared/client/cli.ts loads npm:@hono/zod-openapi at run time: " +
    "shared/client/cli.ts -> shared/client/client.ts -> shared/client/call.ts -> " +
    "shared/protocol/wire.ts -> npm:@hono/zod-openapi",
    "shared/client/reads.ts loads node:util at run time: shared/client/reads.ts -> node:util",
    "shared/client/transport.ts loads node:https as it starts, under Deno too: " +
    "shared/client/transport.ts -> shared/client/eager.ts -> node:https",
    "shared/client/eager.ts loads node:https as it starts, under Deno too: " +
    "shared/client/eager.ts -> node:https",
  ]);
});

Deno.test("parseImports() reads multi-line, re-export and type-only imports", () => {
  const source = [
    'import assert from "node:assert/strict";',
    'import { a,\n  type B,\n} from "./a.ts";',
    'import type { Logger } from "../log/log.ts";',
    'import { type X, type Y as Z } from "hono";',
    'export { c } from "./c.ts";',
    'export type { D } from "./d.ts";',
    'import "./side.ts";',
    'export const e = 1; // from "./not.ts"',
    ' * import { f } from "./example.ts";',
    'const g = await import("./lazy.ts");',
  ].join("\n");
  assert.deepEqual(parseImports(source), [
    { specifier: "node:assert/strict", typeOnly: false },
    { specifier: "./a.ts", typeOnly: false },
    { specifier: "../log/log.ts", typeOnly: true },
    { specifier: "hono", typeOnly: true },
    { specifier: "./c.ts", typeOnly: false },
    { specifier: "./d.ts", typeOnly: true },
    { specifier: "./side.ts", typeOnly: false },
    { specifier: "./lazy.ts", typeOnly: false, lazy: true },
  ]);
});

Deno.test("resolve() gives our paths and package names", () => {
  const members: Members = new Map([
    ["@cache/ring", { dir: "shared/ring", exports: { ".": "./ring.ts", "./hash": "./hash.ts" } }],
  ]);
  assert.equal(resolve("shared/client/call.ts", "../http1/client.ts"), "shared/http1/client.ts");
  assert.equal(resolve("master/http/app.ts", "../../shared/log/log.ts"), "shared/log/log.ts");
  assert.equal(resolve("shared/client/x.ts", "@cache/ring", members), "shared/ring/ring.ts");
  assert.equal(resolve("shared/client/x.ts", "@cache/ring/hash", members), "shared/ring/hash.ts");
  assert.equal(resolve("shared/x.ts", "hono/body-limit"), "npm:hono");
  assert.equal(resolve("shared/x.ts", "@hono/zod-openapi"), "npm:@hono/zod-openapi");
  assert.equal(resolve("shared/x.ts", "npm:zod@^4"), "npm:zod");
  assert.equal(resolve("shared/x.ts", "node:util"), "node:util");
  assert.equal(resolve("shared/x.ts", "node:assert/strict"), "node:assert");
});
