// Does what a user of the client package does, as docs/client.md's "Install" shows it: builds and
// packs the package, installs the tarball into a project outside the repository, and runs the
// docs' example there under Node and under Deno against a real master and nodes; then a Deno
// project that maps the name to the source.

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

/** Runs `line` with bash in `cwd`; its standard output, or a failure naming it. */
async function shell(line: string, cwd: string): Promise<string> {
  const path = `${Deno.execPath().replace(/\/[^/]+$/, "")}:${Deno.env.get("PATH") ?? ""}`;
  const { code, stdout, stderr } = await new Deno.Command("bash", {
    args: ["-c", line],
    cwd,
    env: { NO_COLOR: "1", PATH: path },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = decoder.decode(stdout);
  assert.equal(
    code,
    0,
    `${line} (in ${cwd}) exited with ${code}:\n${out}${decoder.decode(stderr)}`,
  );
  return out;
}

Deno.test({
  name: "the npm package installs into a project and runs the docs' example under Node and Deno",
  ignore: missing.length > 0,
  fn: async () => {
    const { lines, example, output, mapping } = await installSection();
    const processes = new Processes();
    const project = await Deno.makeTempDir({ prefix: "cache-client-npm-" });
    const denoProject = await Deno.makeTempDir({ prefix: "cache-client-deno-" });
    try {
      const { master } = await settledCluster(processes, 2);
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
        const printed = await shell(line.replaceAll("/path/to/cache", repo), cwd);
        if (/example\.mjs$/.test(line)) assert.equal(printed, output, `what ${line} printed`);
        ran.push(line.split(" ").slice(0, 2).join(" "));
      }
      assert.deepEqual(ran, ["deno task", "npm install", "node example.mjs", "deno run"]);

      // What the tarball holds, and what the installed package declares.
      const tarball = /npm install (\S+\.tgz)/.exec(lines.join("\n"))![1].replace(
        "/path/to/cache",
        repo,
      );
      const listing = await shell(`tar -tzf ${tarball}`, repo);
      assert.deepEqual(listing.trim().split("\n").sort(), [
        "package/LICENSE",
        "package/README.md",
        "package/index.d.ts",
        "package/index.js",
        "package/package.json",
      ]);
      const installed = JSON.parse(
        await Deno.readTextFile(`${project}/node_modules/@cache/client/package.json`),
      );
      assert.equal(installed.type, "module");
      assert.deepEqual(installed.exports, {
        ".": { types: "./index.d.ts", default: "./index.js" },
      });
      assert.deepEqual(Object.keys(installed.dependencies), ["zod"]);

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
