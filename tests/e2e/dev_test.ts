// `deno task dev` starts a whole cluster and Ctrl-C stops it in order: nodes leave, then the
// master.

import assert from "node:assert/strict";
import { nodesOf, put, waitFor } from "../support/process.ts";

/** A port with `count` free ports after it. */
function freeRun(count: number): number {
  for (let tries = 0; tries < 50; tries++) {
    // Below Linux's ephemeral ports (32768 up): a connection made meanwhile, by this test or
    // another process, cannot take one of them before the cluster listens on it.
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    const listeners: Deno.Listener[] = [];
    try {
      for (let i = 0; i <= count; i++) {
        listeners.push(Deno.listen({ hostname: "127.0.0.1", port: base + i }));
      }
      return base;
    } catch {
      // taken: try another run
    } finally {
      listeners.forEach((listener) => listener.close());
    }
  }
  throw new Error("No run of free ports found");
}

/** `deno task dev` with `nodes` nodes and its master on `port`, its output piped. */
function dev(nodes: number, port: number, env: Record<string, string> = {}): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "tools/dev.ts", "--nodes", String(nodes), "--port", String(port)],
    cwd: new URL("../../", import.meta.url),
    stdout: "piped",
    stderr: "inherit",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
}

/** `deno task dev` with one node on free ports, the lines it prints, and its master's URL. */
function devOfOne() {
  const port = freeRun(1);
  const child = dev(1, port);
  const { lines: printed, done: output } = linesOf(child.stdout);
  return { port, child, printed, output, masterUrl: `http://127.0.0.1:${port}` };
}

/** The lines a process prints as they come, and the promise of their end. */
function linesOf(stream: ReadableStream<Uint8Array>): { lines: string[]; done: Promise<string> } {
  const lines: string[] = [];
  const done = (async () => {
    let buffered = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      buffered += text;
      const complete = buffered.split("\n");
      buffered = complete.pop()!;
      lines.push(...complete);
    }
    return [...lines, buffered].join("\n");
  })();
  return { lines, done };
}

/**
 * Ctrl-C to `child`, unless it ended already: the error that ended the test then stands (a kill of
 * an ended process threw over it, and a CI run lost why `deno task dev` had ended in 1 s).
 */
function interrupt(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGINT");
  } catch {
    // ended already: its status tells how
  }
}

/**
 * Waits until the master of `deno task dev` lists `nodes` nodes; failing, or should the script end
 * first, says what it printed so far (its services' logs).
 */
async function clusterUp(
  child: Deno.ChildProcess,
  printed: string[],
  masterUrl: string,
  nodes: number,
): Promise<void> {
  let exited: Deno.CommandStatus | undefined;
  child.status.then((status) => exited = status);
  try {
    await waitFor(
      async () => exited !== undefined || (await nodesOf(masterUrl)).length === nodes,
      "dev cluster up",
      30_000,
    );
  } catch (error) {
    throw new Error(`${error}; deno task dev printed:\n${printed.join("\n")}`);
  }
  if (exited) {
    throw new Error(`deno task dev ended (${exited.code}) first, printing:\n${printed.join("\n")}`);
  }
}

Deno.test("deno task dev runs a master and N nodes, and Ctrl-C stops nodes first", async () => {
  const port = freeRun(2);
  const child = dev(2, port, { REPLICAS: "1" }); // the services read their variables (README)
  const { lines, done: reading } = linesOf(child.stdout);
  try {
    const masterUrl = `http://127.0.0.1:${port}`;
    // Once it says the cluster is ready, a write through the master is taken at once.
    await waitFor(
      () => Promise.resolve(lines.some((l) => l.includes("Cluster ready"))),
      "ready line",
      30_000,
    );
    assert.equal(await put(masterUrl, "hello", "world"), 204);
    const up = await waitFor(async () => {
      const nodes = await nodesOf(masterUrl);
      return nodes.length === 2 && nodes.every((n) => n.status === "up") && nodes;
    }, "dev cluster up");
    assert.deepEqual(up.map((n) => n.address).sort(), [
      `http://127.0.0.1:${port + 1}`,
      `http://127.0.0.1:${port + 2}`,
    ]);
    await waitFor(async () => (await fetch(`${masterUrl}/ready`)).status === 200, "master ready");
    assert.equal((await (await fetch(`${masterUrl}/ring`)).json()).replicas, 1, "REPLICAS=1");
  } finally {
    // A terminal's Ctrl-C comes twice at once (the process group's, and deno task's): one stop.
    interrupt(child);
    await new Promise((resolve) => setTimeout(resolve, 50)); // deno task's, passed on
    interrupt(child);
  }
  const status = await child.status;
  await reading;
  assert.equal(status.code, 0, lines.join("\n"));
  assert.ok(lines.some((line) => line.includes("Cluster ready")), "prints the master URL");
  assert.ok(lines.some((line) => line.includes("/reference")), "prints the reference URL");
  // No tokens: every service listens on this machine alone.
  const listening = lines.filter((line) => line.includes('"msg":"listening"'));
  assert.equal(listening.length, 3);
  assert.ok(listening.every((line) => line.includes('"host":"127.0.0.1"')), listening.join("\n"));
  const deregistered = lines.filter((line) => line.includes('"msg":"deregistered"'));
  assert.equal(deregistered.length, 2, "both nodes deregistered");
  assert.ok(deregistered.every((line) => line.includes('"status":204')));
  const masterStopped = lines.findIndex((l) => l.startsWith("master") && l.includes('"stopped"'));
  assert.ok(masterStopped > lines.lastIndexOf(deregistered[1]), "master stops after the nodes");
  for (let i = 0; i <= 2; i++) {
    await assert.rejects(fetch(`http://127.0.0.1:${port + i}/live`), `port ${port + i} closed`);
  }
});

Deno.test("deno task dev refuses with one line and exit 2 when one of its ports is taken", async () => {
  const port = freeRun(2);
  const taken = Deno.listen({ port: port + 2 }); // the second node's port: another cluster's, say
  try {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "tools/dev.ts", "--nodes", "2", "--port", String(port)],
      cwd: new URL("../../", import.meta.url),
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(code, 2);
    const lines = new TextDecoder().decode(stderr).trim().split("\n");
    assert.deepEqual(lines.length, 1, lines.join("\n"));
    assert.match(lines[0], new RegExp(`^dev: Port ${port + 2} is in use`));
    assert.equal(new TextDecoder().decode(stdout), "", "nothing was started");
    await assert.rejects(fetch(`http://127.0.0.1:${port}/live`), "no master of its own");
  } finally {
    taken.close();
  }
});

Deno.test("deno task dev names a bad flag in one line, and --help prints its usage", async () => {
  const run = async (...args: string[]) => {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "tools/dev.ts", ...args],
      cwd: new URL("../../", import.meta.url),
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trim();
    return { code, stdout: text(stdout), stderr: text(stderr) };
  };
  const usage = /^Usage: deno task dev /m;
  for (
    const [args, line] of [
      [["--nodes", "-1"], 'dev: Invalid --nodes "-1": expected 1 to 100'], // node:util: 3 lines
      [["--port", "0x65f4"], 'dev: Invalid --port "0x65f4"'], // Number() took it: 26100
      [["--nodes", "2.6e1"], 'dev: Invalid --nodes "2.6e1"'],
    ] as const
  ) {
    const refused = await run(...args);
    assert.equal(refused.code, 2, args.join(" "));
    const [first, second, ...rest] = refused.stderr.split("\n");
    assert.ok(first.startsWith(line), first);
    assert.match(second, usage);
    assert.deepEqual(rest, []);
  }
  const help = await run("--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, usage);
});

/** The pid of the process whose command line matches `pattern` (`pgrep -f`), or 0 for none. */
async function pidOf(pattern: string): Promise<number> {
  const { stdout } = await new Deno.Command("pgrep", { args: ["-f", pattern], stdout: "piped" })
    .output();
  return Number(new TextDecoder().decode(stdout).trim().split("\n")[0]) || 0;
}

Deno.test("deno task dev starts a service that dies unexpectedly again, and the others go on", async () => {
  // Once one node's kill -9 stopped the whole cluster: no failover could be watched locally.
  const { port, child, printed, output, masterUrl } = devOfOne();
  let stopped = false;
  try {
    await clusterUp(child, printed, masterUrl, 1);
    const node = `node/main.ts --port ${port + 1}`;
    const first = await pidOf(node);
    assert.ok(first > 0, "the node's process");
    Deno.kill(first, "SIGKILL");
    const second = await waitFor(
      async () => {
        const pid = await pidOf(node);
        return ![0, first].includes(pid) && pid;
      },
      "the node again",
      20_000,
    );
    // Crashing again within 10 s of its start, it waits twice as long.
    Deno.kill(second, "SIGKILL");
    await waitFor(async () => ![0, second].includes(await pidOf(node)), "once more", 20_000);
    await waitFor(
      async () => {
        const ready = await fetch(`${masterUrl}/ready`);
        await ready.body?.cancel();
        const [again] = await nodesOf(masterUrl);
        return ready.ok && again?.status === "up" && again.synced;
      },
      "the node back in the ring",
      20_000,
    );
    assert.equal(await put(masterUrl, "kept", "across the master's restart"), 204);

    // The master too: started again, it learns the ring from its node, which kept the key.
    Deno.kill(await pidOf(`master/main.ts --port ${port} `), "SIGKILL");
    await waitFor(
      async () => {
        try {
          const read = await fetch(`${masterUrl}/keys/kept`);
          return read.ok && (await read.json()).value === "across the master's restart";
        } catch {
          return false; // not listening yet
        }
      },
      "the key read through the master again",
      30_000,
    );
  } finally {
    interrupt(child);
    await child.status;
    stopped = await closed(port) && await closed(port + 1);
    await killLeftovers(port);
  }
  assert.equal((await child.status).code, 0, "stopped by Ctrl-C");
  assert.ok(stopped, "Ctrl-C stopped the started-again services too");
  const lines = await output;
  assert.match(lines, /node-1 +\| exited unexpectedly \(SIGKILL\): starting it again in 1 s/);
  assert.match(lines, /node-1 +\| exited unexpectedly \(SIGKILL\): starting it again in 2 s/);
  assert.match(lines, /master +\| exited unexpectedly \(SIGKILL\): starting it again in 1 s/);
});

Deno.test("deno task dev stops at once on a second Ctrl-C, while a node waits for a paused master", async () => {
  // A leaving node waits for its master up to its handover time (20 s): a second Ctrl-C does not.
  const { port, child, printed, output, masterUrl } = devOfOne();
  try {
    await clusterUp(child, printed, masterUrl, 1);
    const masterPid = await pidOf(`master/main.ts --port ${port} `);
    assert.ok(masterPid > 0, "the master's process");
    Deno.kill(masterPid, "SIGSTOP"); // the node's leave now waits for it
    child.kill("SIGINT");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const second = performance.now();
    child.kill("SIGINT");
    const status = await child.status;
    assert.ok(performance.now() - second < 5000, "at once");
    assert.equal(status.code, 130);
    assert.ok(await closed(port) && await closed(port + 1), "every service stopped");
  } finally {
    await endAll(child, port);
  }
  assert.match(await output, /Stopping at once: no key is handed over/);
});

Deno.test("deno task dev stops every process, exit 2, when a service refuses its settings", async () => {
  // Started again and again, the master said the same line forever, and the script never ended.
  const port = freeRun(1);
  const child = dev(1, port, { REPLICAS: "abc" });
  const { done: output } = linesOf(child.stdout);
  const late = setTimeout(() => child.kill("SIGKILL"), 20_000); // still running: failed
  try {
    assert.equal((await child.status).code, 2);
    assert.ok(await closed(port) && await closed(port + 1), "every service stopped");
  } finally {
    clearTimeout(late);
    await endAll(child, port);
  }
  const lines = await output;
  assert.match(lines, /master +\| master: Invalid --replicas \(REPLICAS\) "abc"/);
  assert.match(lines, /dev: master cannot run with these settings/);
  assert.doesNotMatch(lines, /starting it again/);
});

Deno.test("deno task dev stops at once on Ctrl-C while its master waits to be started again", async () => {
  // Its nodes waited for a master to take their leave, up to 20 s, while the script kept it down.
  const { port, child, printed, output, masterUrl } = devOfOne();
  try {
    await clusterUp(child, printed, masterUrl, 1);
    Deno.kill(await pidOf(`master/main.ts --port ${port} `), "SIGKILL");
    const noticed = () => Promise.resolve(printed.some((line) => /master +\| exited/.test(line)));
    await waitFor(noticed, "noticed");
    const first = performance.now();
    child.kill("SIGINT");
    const status = await child.status;
    assert.ok(performance.now() - first < 5000, "at once");
    assert.equal(status.code, 0);
    assert.ok(await closed(port) && await closed(port + 1), "every service stopped");
  } finally {
    await endAll(child, port);
  }
  assert.match(await output, /Stopping: the master is down: the nodes stop at once/);
});

/** Kills `deno task dev` if it still runs, and whatever of its cluster on `port` is left. */
async function endAll(child: Deno.ChildProcess, port: number): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch {
    // already ended
  }
  await child.status;
  await killLeftovers(port);
}

/** Whether nothing listens on `port` any more. */
async function closed(port: number): Promise<boolean> {
  try {
    await (await fetch(`http://127.0.0.1:${port}/live`)).body?.cancel();
    return false;
  } catch {
    return true;
  }
}

/** Stops by pid whatever of a dev cluster on `port` is still running: a failed test's leftovers. */
async function killLeftovers(port: number): Promise<void> {
  const { stdout } = await new Deno.Command("pgrep", {
    args: ["-f", `--port (${port}|${port + 1})( |$)`], // the script, its master and its node
    stdout: "piped",
  }).output();
  for (const pid of new TextDecoder().decode(stdout).split("\n").filter(Boolean)) {
    try {
      Deno.kill(Number(pid), "SIGKILL");
    } catch {
      // ended already
    }
  }
}

for (
  const [what, command] of [
    ["its script", ["run", "--allow-all", "tools/dev.ts"]],
    ["the task", ["task", "dev"]],
  ] as const
) {
  Deno.test(`deno task dev leaves no service running when ${what} is killed outright`, async () => {
    const port = freeRun(1);
    const child = new Deno.Command(Deno.execPath(), {
      args: [...command, "--nodes", "1", "--port", String(port)],
      cwd: new URL("../../", import.meta.url),
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      const masterUrl = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await nodesOf(masterUrl)).length === 1, "dev cluster up", 30_000);
      child.kill("SIGKILL"); // no handler runs
      await child.status;
      // Nodes first, as after Ctrl-C: the master still takes the node's deregistration.
      await waitFor(() => closed(port + 1), "the node stopped", 20_000);
      await waitFor(() => closed(port), "the master stopped", 20_000);
    } finally {
      await killLeftovers(port);
    }
  });
}
