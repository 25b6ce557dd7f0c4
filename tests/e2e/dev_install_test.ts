// On a fresh clone, `deno task dev` installs what the services run on, not what only tests and
// tools import.

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { freePort, waitFor } from "../support/process.ts";

const root = new URL("../../", import.meta.url);

/**
 * npm packages that only tests and tools import (with theirs, such as ssh2 under testcontainers).
 */
const TEST_ONLY = [
  "dockerfile-utils",
  "fast-check",
  "kubernetes-models",
  "playwright-core",
  "testcontainers",
];
/**
 * Some of what the services run on: the master's election clients, the bundle /reference serves.
 */
const SERVICES = ["hono", "zod", "etcd3", "@kubernetes/client-node", "@scalar/api-reference"];

/** The working tree, committed or not, in a new folder without node_modules/: a fresh clone. */
async function freshCopy(): Promise<string> {
  const { stdout } = await new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: root,
    stdout: "piped",
  }).output();
  const copy = await Deno.makeTempDir({ prefix: "dev_install_" });
  for (const path of new TextDecoder().decode(stdout).split("\0").filter(Boolean)) {
    await Deno.mkdir(join(copy, dirname(path)), { recursive: true });
    try {
      await Deno.copyFile(new URL(path, root), join(copy, path));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error; // deleted, not yet committed
    }
  }
  return copy;
}

/** A port with the next one free too: the master's and its one node's. */
function twoFreePorts(): number {
  for (let tries = 0; tries < 50; tries++) {
    const port = freePort();
    try {
      Deno.listen({ hostname: "127.0.0.1", port: port + 1 }).close();
      return port;
    } catch {
      // the next port is taken: try another
    }
  }
  throw new Error("No two free ports in a row found");
}

/** The name of each package in `dir`'s node_modules, once per version installed. */
async function installed(dir: string): Promise<string[]> {
  const names = [];
  for await (const entry of Deno.readDir(join(dir, "node_modules", ".deno"))) {
    // `@scalar+api-reference@1.72.1_zod@4.6.7` is one; .deno.lock and node_modules/ are not.
    const match = /^(@?[^@]+)@\d/.exec(entry.name);
    if (match) names.push(match[1].replace("+", "/"));
  }
  return names;
}

Deno.test("deno task dev on a fresh clone installs the services' packages and none only tests use", async () => {
  const copy = await freshCopy();
  try {
    const port = twoFreePorts();
    // The Deno cache is shared: packages already downloaded are copied from it, others fetched.
    const child = new Deno.Command(Deno.execPath(), {
      args: ["task", "dev", "--nodes", "1", "--port", String(port)],
      cwd: copy,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    let stdout = "";
    const reading = (async () => {
      for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) stdout += text;
    })();
    const stderr = new Response(child.stderr).text();
    try {
      // Up to two minutes: with an empty cache, every package the services need is downloaded.
      await waitFor(() => Promise.resolve(stdout.includes("Cluster ready")), "dev up", 120_000);
      const bundle = await fetch(`http://127.0.0.1:${port}/reference/standalone.js`);
      await bundle.body?.cancel();
      assert.equal(bundle.status, 200, "the Scalar bundle was installed");
    } finally {
      child.kill("SIGINT");
      await child.status;
      await reading;
    }
    const log = `${stdout}\n${await stderr}`;
    assert.doesNotMatch(log, /Ignored build scripts/, "deno.json decides on every install script");
    const packages = await installed(copy);
    const names = new Set(packages);
    for (const name of SERVICES) assert.ok(names.has(name), `${name} is not installed\n${log}`);
    const extra = TEST_ONLY.filter((name) => names.has(name));
    assert.deepEqual(extra, [], `${packages.length} packages installed, test-only ones among them`);
    const locked = Object.keys(JSON.parse(await Deno.readTextFile(join(copy, "deno.lock"))).npm);
    assert.ok(packages.length < locked.length, `${packages.length} of the ${locked.length} locked`);
  } finally {
    await Deno.remove(copy, { recursive: true });
  }
});

Deno.test("deno task install:services asks for the Scalar bundle at the import map's version", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  const install: string = config.tasks["install:services"].command;
  assert.ok(
    install.split(" ").includes(config.imports["@scalar/api-reference"]),
    `${install} names ${config.imports["@scalar/api-reference"]}`,
  );
});
