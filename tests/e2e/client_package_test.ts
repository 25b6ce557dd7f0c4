// Does what a user of the client package does, as docs/client.md's "Install" shows it: builds and
// packs the package, installs the tarball into a project outside the repository, and runs the
// docs' example and the bin `cache` there under Node and under Deno against a real master and
// nodes; then a Deno project that maps the name to the source.

import assert from "node:assert/strict";
import { Processes, settledCluster } from "../support/process.ts";

const repo = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const decoder = new TextDecoder();

/** Whether `command --version` runs: node and npm are needed, and may be missing. */
async function runs(command: string): Promise<boolean> {
  try {
    return (await new Deno.Command(command, { args: ["--version"], stdout: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

const missing = [];
for (const tool of ["node", "npm"]) if (!(await runs(tool))) missing.push(tool);
if (missing.length > 0) {
  console.log(`Skipping client_package_test.ts: ${missing.join(" and ")} not on PATH`);
}

/** docs/client.md's "Install": its shell lines, the example, what it prints, the Deno mapping. */
async function installSection() {
  const docs = await Deno.readTextFile(`${repo}/docs/client.md`);
  const start = docs.indexOf("\n## Install\n");
  assert.ok(start >= 0, "docs/client.md has an Install section");
  const section = docs.slice(start, docs.indexOf("\n## ", start + 1));
  const blocks = [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)];
  const block = (lang: string) => {
    const found = blocks.find((fence) => fence[1] === lang)?.[2];
    assert.ok(found, `the Install section has a \`\`\`${lang} block`);
    return found;
  };
  const mapping = /`(\{ "imports": \{ "@cache\/client": [^`]*\})`/.exec(section)?.[1];
  assert.ok(mapping, "the Install section shows the deno.json mapping");
  return {
    lines: block("sh").split("\n").filter((line) => line.trim()),
    example: block("js"),
    output: block(""),
    mapping,
  };
}

/**
 * Runs `line` with bash in `cwd`, the command line's cluster at `env.CACHE_URL`; its standard
 * output, or a failure naming it when it exits other than with `expected`.
 */
async function shell(
  line: string,
  cwd: string,
  env: Record<string, string> = {},
  expected = 0,
): Promise<string> {
  const path = `${Deno.execPath().replace(/\/[^/]+$/, "")}:${Deno.env.get("PATH") ?? ""}`;
  const { code, stdout, stderr } = await new Deno.Command("bash", {
    args: ["-c", line],
    cwd,
    env: { NO_COLOR: "1", PATH: path, ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = decoder.decode(stdout);
  assert.equal(
    code,
    expected,
    `${line} (in ${cwd}) exited with ${code}:\n${out}${decoder.decode(stderr)}`,
  );
  return out;
}

Deno.test({
  name:
    "the npm package installs into a project and runs the docs' example and bin under Node and Deno",
  ignore: missing.length > 0,
  fn: async () => {
    const { lines, example, output, mapping } = await installSection();
    const processes = new Processes();
    const project = await Deno.makeTempDir({ prefix: "cache-client-npm-" });
    const denoProject = await Deno.makeTempDir({ prefix: "cache-client-deno-" });
    try {
      const { master } = await settledCluster(processes, 2);
      const env = { CACHE_URL: master.url };
      const script = example.replaceAll("http://127.0.0.1:8080", master.url);
      assert.notEqual(script, example, "the example connects to http://127.0.0.1:8080");
      await Deno.writeTextFile(`${project}/example.mjs`, script);

      // The docs' lines as they are, but for the repository's path: "# in this repository" and
      // "# in your project" say where the next ones run.
      let cwd = repo;
      const ran: string[] = [];
      for (const line of lines) {
        if (line.startsWith("#")) {
          if (/in this repository/.test(line)) cwd = repo;
          else if (/in your project/.test(line)) cwd = project;
          continue;
        }
        if (line.startsWith("npx ")) {
          // npx would fetch a package of that name from the registry if the bin were not linked.
          const link = await Deno.readLink(`${project}/node_modules/.bin/cache`);
          assert.equal(link, "../@cache/client/cli.js", "npm links the bin cache");
        }
        const printed = await shell(line.replaceAll("/path/to/cache", repo), cwd, env);
        if (/example\.mjs$/.test(line)) assert.equal(printed, output, `what ${line} printed`);
        if (/ get user:42$/.test(line)) {
          assert.equal(printed, "Ada\n", `what ${line} printed: the value example.mjs stored`);
          const miss = line.replace(/user:42$/, "nobody");
          assert.equal(await shell(miss, cwd, env, 1), "", `what ${miss} printed`);
        }
        ran.push(line.split(" ").slice(0, 2).join(" "));
      }
      assert.deepEqual(ran, [
        "deno task",
        "npm install",
        "node example.mjs",
        "deno run",
        "npx cache",
        "deno run",
      ]);

      // What the tarball holds, and what the installed package declares.
      const tarball = /npm install (\S+\.tgz)/.exec(lines.join("\n"))![1].replace(
        "/path/to/cache",
        repo,
      );
      const listing = await shell(`tar -tzf ${tarball}`, repo);
      assert.deepEqual(listing.trim().split("\n").sort(), [
        "package/LICENSE",
        "package/README.md",
        "package/cli.js",
        "package/index.d.ts",
        "package/index.js",
        "package/package.json",
      ]);
      const bin = await shell(`tar -tvzf ${tarball} package/cli.js`, repo);
      assert.match(bin, /^-rwxr-xr-x /, "cli.js is executable");
      const installed = JSON.parse(
        await Deno.readTextFile(`${project}/node_modules/@cache/client/package.json`),
      );
      assert.equal(installed.type, "module");
      assert.deepEqual(installed.exports, {
        ".": { types: "./index.d.ts", default: "./index.js" },
      });
      assert.deepEqual(installed.bin, { cache: "./cli.js" });
      assert.deepEqual(Object.keys(installed.dependencies), ["zod"]);
      const cli = await Deno.readTextFile(`${project}/node_modules/@cache/client/cli.js`);
      assert.ok(cli.startsWith("#!/usr/bin/env node\n"), "cli.js starts with its interpreter");

      // A Deno project mapping the name to the source prints the same.
      await Deno.writeTextFile(`${denoProject}/example.mjs`, script);
      await Deno.writeTextFile(
        `${denoProject}/deno.json`,
        mapping.replaceAll("/path/to/cache", repo),
      );
      const fromSource = await shell("deno run --allow-net example.mjs", denoProject);
      assert.equal(fromSource, output, "what the source, mapped by deno.json, printed");
    } finally {
      await processes.stopAll();
      await Deno.remove(project, { recursive: true });
      await Deno.remove(denoProject, { recursive: true });
    }
  },
});
