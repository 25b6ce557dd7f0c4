// Builds the client's npm package in dist/npm-client/ (ESM bundle, one .d.ts, the command line as
// the bin `cache`, package.json, README, LICENSE) from the same source as the Deno package, and
// packs it as dist/cache-client-<v>.tgz.
// Run: deno task npm:client   (bundles with `deno bundle`; declarations with TypeScript and
// dts-bundle-generator, pinned below, fetched by npx from the npm registry into npm's cache)

import { parseArgs } from "node:util";

const ROOT = new URL("../", import.meta.url);
const root = ROOT.pathname;
/** Pinned, so a build gives the same declarations: the compiler and the bundler of its output. */
const TYPESCRIPT = "typescript@5.9.3";
const DTS_BUNDLE_GENERATOR = "dts-bundle-generator@9.5.1";
/** What the bundle may import: the one npm dependency and Node's built-ins. */
const EXTERNAL = ["zod"];

const readJson = async (path: string) => JSON.parse(await Deno.readTextFile(new URL(path, ROOT)));

/** Runs `command` in `cwd`, passing its output through; throws naming it when it fails. */
async function run(command: string, args: string[], cwd = root): Promise<void> {
  const { code } = await new Deno.Command(command, {
    args,
    cwd,
    stdout: "inherit",
    stderr: "inherit",
  })
    .output();
  if (code !== 0) throw new Error(`${command} ${args.join(" ")} exited with ${code}`);
}

/**
 * Each export of our workspace packages (`@cache/ring/ring`) and its file, from the deno.json
 * files.
 */
async function workspaceExports(): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const entry of (await readJson("deno.json")).workspace as string[]) {
    const dir = entry.replace(/^\.\//, "").replace(/\/$/, "");
    const member = await readJson(`${dir}/deno.json`);
    const exports = typeof member.exports === "string" ? { ".": member.exports } : member.exports;
    for (const [key, file] of Object.entries<string>(exports ?? {})) {
      found.set(member.name + key.slice(1), new URL(`${dir}/${file}`, ROOT).pathname);
    }
  }
  return found;
}

/** The package's bundles: the library, and the command line as the bin `cache`. */
const BUNDLES = [
  { entry: "shared/client/client.ts", file: "index.js", bin: false },
  { entry: "tools/npm_client_bin.ts", file: "cli.js", bin: true },
];

/** The ESM bundles: our workspace code inlined, zod left to npm, tracing swapped for a no-op. */
async function bundle(out: string, work: string): Promise<void> {
  const importMap = `${work}/import_map.json`;
  const otel = new URL("tools/npm_client_otel.ts", ROOT).href;
  await Deno.writeTextFile(importMap, JSON.stringify({ imports: { "@opentelemetry/api": otel } }));
  for (const { entry, file, bin } of BUNDLES) {
    const path = `${out}/${file}`;
    await run(Deno.execPath(), [
      "bundle",
      "--quiet",
      "--platform",
      "deno",
      ...EXTERNAL.flatMap((name) => ["--external", name]),
      "--import-map",
      importMap,
      "-o",
      path,
      entry,
    ]);
    // The package declares zod alone: any other import would fail in a user's project.
    const source = await Deno.readTextFile(path);
    const imports = [...source.matchAll(/^import\b[^"']*["']([^"']+)["']/gm)].map((m) => m[1]);
    const unexpected = imports.filter((name) =>
      !EXTERNAL.includes(name) && !name.startsWith("node:")
    );
    if (unexpected.length > 0) {
      throw new Error(
        `The bundle ${file} imports ${unexpected.join(", ")}, which the package does not declare`,
      );
    }
    if (bin) {
      // npm links the bin as it is: the shell runs it by its first line.
      if (!source.startsWith("#!/usr/bin/env node\n")) {
        await Deno.writeTextFile(path, `#!/usr/bin/env node\n${source.replace(/^#!.*\n/, "")}`);
      }
      await Deno.chmod(path, 0o755);
    }
  }
}

/**
 * One index.d.ts: TypeScript writes each module's declarations (the workspace's bare imports
 * resolved by `paths`), then dts-bundle-generator joins those the client's exports reach, keeping
 * `zod` as an import, and type-checks the result.
 */
async function declarations(out: string, work: string): Promise<void> {
  const exports = await workspaceExports();
  const zod = new URL("node_modules/zod", ROOT).pathname;
  try {
    await Deno.stat(zod);
  } catch {
    throw new Error(`Cannot find ${zod}: run deno install first`);
  }
  // What both compilations below share: the client's sources or declarations, as a bundler sees
  // them.
  const common = {
    target: "ES2022",
    module: "ESNext",
    moduleResolution: "bundler",
    allowImportingTsExtensions: true,
    strict: true,
    lib: ["ES2024", "DOM", "DOM.Iterable"],
    types: [],
  };
  const emitted = `${work}/types`;
  const paths = (file: (path: string) => string) =>
    Object.fromEntries([...exports].map(([name, path]) => [name, [file(path)]]));
  await Deno.writeTextFile(
    `${work}/tsconfig.emit.json`,
    JSON.stringify({
      compilerOptions: {
        ...common,
        declaration: true,
        emitDeclarationOnly: true,
        noCheck: true, // Deno's own types are not TypeScript's; `deno check` checks the source
        rootDir: root,
        outDir: emitted,
        paths: paths((path) => path),
      },
      files: [`${root}shared/client/client.ts`],
    }),
  );
  await run("npx", ["--yes", "--package", TYPESCRIPT, "tsc", "-p", `${work}/tsconfig.emit.json`]);
  const declared = (path: string) =>
    `${emitted}/${path.slice(root.length).replace(/\.ts$/, ".d.ts")}`;
  await Deno.writeTextFile(
    `${work}/tsconfig.bundle.json`,
    JSON.stringify({
      compilerOptions: { ...common, noEmit: true, paths: { ...paths(declared), zod: [zod] } },
      files: [declared(`${root}shared/client/client.ts`)],
    }),
  );
  await run("npx", [
    "--yes",
    "--package",
    TYPESCRIPT,
    "--package",
    DTS_BUNDLE_GENERATOR,
    "dts-bundle-generator",
    "--silent",
    "--project",
    `${work}/tsconfig.bundle.json`,
    "-o",
    `${out}/index.d.ts`,
    declared(`${root}shared/client/client.ts`),
  ]);
}

/** The README: what the package is, and docs/client.md's install section's example. */
async function readme(version: string): Promise<string> {
  const docs = await Deno.readTextFile(new URL("docs/client.md", ROOT));
  const install = docs.slice(docs.indexOf("\n## Install\n"));
  const example = /```js\n([\s\S]*?)```/.exec(install)?.[1];
  if (!example) throw new Error("docs/client.md has no js example under ## Install");
  return [
    "# @cache/client",
    "",
    `Version ${version}. The client of the cache cluster for Node 20.3 and later, and Deno: it`,
    "reads the ring from the master and sends each call to the node that owns its key, over",
    "pooled keep-alive connections. ESM, with type declarations; its one dependency is `zod`.",
    "",
    "```js",
    example.trimEnd(),
    "```",
    "",
    "It installs the command line as `cache` (`npx cache get user:42`, `npx cache --help`); under",
    "Deno, `deno run --allow-net --allow-env --allow-read node_modules/@cache/client/cli.js`.",
    "",
    "Every option, how direct mode routes and what each call does: `docs/client.md` in the",
    "repository this package is built from (`deno task npm:client`).",
    "",
  ].join("\n");
}

/** Builds the package folder `out` and packs it beside; returns the tarball's path. */
export async function buildNpmClient(out: string): Promise<string> {
  const client = await readJson("shared/client/deno.json");
  const { imports } = await readJson("deno.json");
  const zodRange = String(imports.zod).replace(/^npm:zod@/, "");
  await Deno.remove(out, { recursive: true }).catch(() => {});
  await Deno.mkdir(out, { recursive: true });
  const work = await Deno.makeTempDir({ prefix: "npm-client-" });
  try {
    await bundle(out, work);
    await declarations(out, work);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
  const manifest = {
    name: client.name,
    version: client.version,
    description: "Client of the cache cluster: each key's call straight to the node that owns it",
    license: client.license ?? "MIT",
    type: "module",
    exports: { ".": { types: "./index.d.ts", default: "./index.js" } },
    types: "./index.d.ts",
    files: [...BUNDLES.map(({ file }) => file), "index.d.ts", "README.md", "LICENSE"],
    bin: { cache: "./cli.js" },
    // Node 20.3 brought AbortSignal.any, which every call uses.
    engines: { node: ">=20.3" },
    sideEffects: false,
    dependencies: { zod: zodRange },
  };
  await Deno.writeTextFile(`${out}/package.json`, JSON.stringify(manifest, null, 2) + "\n");
  await Deno.writeTextFile(`${out}/README.md`, await readme(client.version));
  await Deno.copyFile(new URL("LICENSE", ROOT), `${out}/LICENSE`);
  const parent = out.replace(/\/[^/]+\/?$/, "");
  await run("npm", ["pack", "--silent", "--pack-destination", parent], out);
  const tarball = `${parent}/${
    client.name.replace(/^@/, "").replace("/", "-")
  }-${client.version}.tgz`;
  await Deno.stat(tarball);
  return tarball;
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { out: { type: "string" } } });
  const out = values.out ?? `${root}dist/npm-client`;
  const started = performance.now();
  const tarball = await buildNpmClient(out);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`Built ${out} and packed ${tarball} in ${seconds} s`);
}
