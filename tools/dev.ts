// `deno task dev`: a whole local cluster, a master and N nodes as separate processes, one command.

import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { NODE_V8_FLAGS } from "../node/v8_flags.ts";
import { joinNegatives } from "@cache/service/config";

const usage =
  "Usage: deno task dev [--nodes N] [--port MASTER_PORT]  (nodes take the next N ports)";
let options: { nodes: number; port: number };
try {
  const { values } = parseArgs({
    args: joinNegatives(Deno.args),
    options: {
      nodes: { type: "string", default: "3" },
      port: { type: "string", default: "8080" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(`${usage}\nThe services' settings come from their variables too (README).`);
    Deno.exit(0);
  }
  // Decimal digits only: Number() also takes "0x65f4" and "2.61e4".
  const whole = (text: string) => /^\d+$/.test(text) ? Number(text) : NaN;
  options = { nodes: whole(values.nodes), port: whole(values.port) };
  if (!Number.isInteger(options.nodes) || options.nodes < 1 || options.nodes > 100) {
    throw new Error(`Invalid --nodes "${values.nodes}": expected 1 to 100`);
  }
  if (!Number.isInteger(options.port) || options.port < 1 || options.port + options.nodes > 65535) {
    throw new Error(
      `Invalid --port "${values.port}": expected a port with ${options.nodes} free after it`,
    );
  }
} catch (error) {
  console.error(`dev: ${error instanceof Error ? error.message : error}\n${usage}`);
  Deno.exit(2);
}

// Every port free first: a second cluster must not start half-way and join the first one.
for (let port = options.port; port <= options.port + options.nodes; port++) {
  try {
    Deno.listen({ port }).close();
  } catch (error) {
    const reason = error instanceof Deno.errors.AddrInUse
      ? "is in use"
      : `cannot be bound: ${error}`;
    console.error(
      `dev: Port ${port} ${reason} (a cluster may be running already): pick others with --port`,
    );
    Deno.exit(2);
  }
}

const root = fileURLToPath(new URL("../", import.meta.url)); // a path with spaces, too
const masterUrl = `http://127.0.0.1:${options.port}`;
const permissions = ["--allow-net", "--allow-env", "--allow-read"];
// A dev cluster has no tokens: it listens on this machine alone, not on every interface.
const local = ["--host", "127.0.0.1"];

// Stops the services should this script be killed outright (SIGKILL), which no handler sees: in a
// session of its own, it learns their pids here and acts once this end of its stdin closes.
const reaper = spawn(Deno.execPath(), ["run", "--allow-run", "tools/dev_reaper.ts"], {
  cwd: root,
  detached: true,
  stdio: ["pipe", "ignore", "inherit"],
});

/** A service of the cluster: how to start it, and its process now. */
interface Service {
  name: string;
  args: string[];
  child: ChildProcess;
  /** When its process started, and how long to wait before starting it again should it crash. */
  startedAt: number;
  backoffMs: number;
}

/** The first wait before a crashed service is started again, and the longest. */
const BACKOFF_MS = { first: 1_000, most: 30_000 };
/** A service that crashes sooner than this after its start waits twice as long before the next. */
const STEADY_MS = 10_000;

/**
 * Starts a service in its own process group, so Ctrl-C reaches this script alone and it decides
 * the order: nodes first (they deregister), then the master. One that crashes is started again,
 * as Kubernetes restarts a pod, after a wait that doubles while it keeps crashing.
 */
function start(name: string, args: string[]): Service {
  const child = spawnService(name, args);
  return { name, args, child, startedAt: Date.now(), backoffMs: BACKOFF_MS.first };
}

/** Starts the process of `service` again. */
function restart(service: Service): void {
  service.child = spawnService(service.name, service.args);
  service.startedAt = Date.now();
}

/** Runs a service's process, its lines labelled with `name`, and acts on its exit. */
function spawnService(name: string, args: string[]): ChildProcess {
  const child = spawn(Deno.execPath(), ["run", ...permissions, ...args], {
    cwd: root,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const label = `${name.padEnd(7)} |`;
  for (const stream of [child.stdout!, child.stderr!]) {
    let buffered = "";
    stream.on("data", (chunk: Uint8Array) => {
      buffered += new TextDecoder().decode(chunk);
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) console.log(`${label} ${line}`);
    });
  }
  reaper.stdin!.write(`${name === "master" ? "master" : "node"} ${child.pid}\n`);
  child.on("close", () => closed.add(child));
  child.on("exit", (code, signal) => {
    gone.add(child);
    // Its pid may be another process's before long: the reaper must not signal it.
    if (reaper.stdin!.writable) reaper.stdin!.write(`exited ${child.pid}\n`);
    if (stopping) return;
    // A clean stop, as after its own SIGTERM; or SIGTERM before it listened for it.
    if (code === 0 || signal === "SIGTERM") {
      console.log(`${label} stopped (${signal ?? "code 0"})`);
      return;
    }
    if (code === 2) {
      // A setting it refuses, or a port it cannot listen on: started again, it would say the same
      // line forever.
      console.log(`\ndev: ${name} cannot run with these settings (its line above): stopping.`);
      stopping = true;
      void killAll(2);
      return;
    }
    const service = services.find((other) => other.child === child)!;
    const steady = Date.now() - service.startedAt >= STEADY_MS;
    if (steady) service.backoffMs = BACKOFF_MS.first;
    const waitMs = service.backoffMs;
    service.backoffMs = Math.min(service.backoffMs * 2, BACKOFF_MS.most);
    console.log(
      `${label} exited unexpectedly (${signal ?? `code ${code}`}): starting it again in ` +
        `${waitMs / 1000} s; the others go on`,
    );
    setTimeout(() => stopping || restart(service), waitMs);
  });
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  if (closed.has(child)) return Promise.resolve();
  return new Promise((resolve) => child.once("close", () => resolve()));
}

let stopping = false;
const closed = new Set<ChildProcess>(); // exited, and their output read to the end
const gone = new Set<ChildProcess>(); // exited: their pids may be others' soon
const master = start("master", ["master/main.ts", "--port", String(options.port), ...local]);
const nodePorts = Array.from({ length: options.nodes }, (_, i) => options.port + 1 + i);
const nodes = nodePorts.map((port, i) => {
  const args = ["--port", String(port), ...local, "--master", masterUrl];
  return start(`node-${i + 1}`, [`--v8-flags=${NODE_V8_FLAGS}`, "node/main.ts", ...args]);
});
const services = [master, ...nodes];

// Say where to go once every node is up and the master takes requests: a master that just
// started first learns the last ring from its nodes, and answers 503 until then. A node listed up
// then takes writes only from its next heartbeat, which brings its lease: its own /ready says so.
const isReady = async (url: string) => {
  const answer = await fetch(`${url}/ready`);
  await answer.body?.cancel();
  return answer.ok;
};
(async () => {
  for (let tries = 0; tries < 300 && !stopping; tries++) {
    try {
      const { nodes: known } = await (await fetch(`${masterUrl}/nodes`)).json();
      const up = known.filter((n: { status: string }) => n.status === "up").length;
      const ready = await isReady(masterUrl) &&
        (await Promise.all(nodePorts.map((port) => isReady(`http://127.0.0.1:${port}`))))
          .every(Boolean);
      if (up === options.nodes && ready) {
        const count = `${options.nodes} node${options.nodes === 1 ? "" : "s"}`;
        console.log(`\nCluster ready: master ${masterUrl} with ${count}`);
        console.log(`Dashboard: ${masterUrl}/dashboard    API reference: ${masterUrl}/reference`);
        console.log(
          `Try: curl -X POST ${masterUrl}/keys -H 'content-type: application/json' ` +
            `-d '{"key":"hello","value":"world"}'`,
        );
        console.log(`     curl ${masterUrl}/keys/hello`);
        console.log(`     deno task cli --url ${masterUrl} get hello`);
        console.log("Ctrl-C stops every process.\n");
        return;
      }
    } catch {
      // master not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (!stopping) {
    console.log(
      `\ndev: the cluster is not ready after 30 s: see the lines above. Ctrl-C stops it.`,
    );
  }
})();

async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  stoppingAt = performance.now();
  if (gone.has(master.child)) {
    // Crashed, and waiting to be started again: the nodes would wait for it up to 20 s.
    console.log("\nStopping: the master is down: the nodes stop at once, with no key handed over.");
    return await killAll(code);
  }
  console.log(
    "\nStopping: nodes hand their keys over and deregister first, then the master " +
      "(Ctrl-C again stops everything at once).",
  );
  nodes.forEach((node) => node.child.kill("SIGTERM"));
  await Promise.all(nodes.map((node) => exited(node.child)));
  if (hurried) return; // a second Ctrl-C killed them all meanwhile: the master's pid may be reused
  master.child.kill("SIGTERM");
  await exited(master.child);
  if (hurried) return; // a second Ctrl-C while the master stopped: it says how this ends
  await finish(code);
}

let ended = false;

/** Tells the reaper the services are stopped (it leaves once it reads this), then exits. */
async function finish(code: number): Promise<void> {
  if (ended) return;
  ended = true;
  await new Promise<void>((resolve) => reaper.stdin!.end("done\n", resolve));
  Deno.exit(code);
}

let hurried = false;
let stoppingAt = 0;

/**
 * A terminal's Ctrl-C reaches this script twice at once (the process group's SIGINT, and the one
 * `deno task` passes on): a signal this soon after the first is the same Ctrl-C.
 */
const SAME_CTRL_C_MS = 500;

/**
 * A second Ctrl-C while stopping: a node whose master is down (crashed, or paused to watch a
 * failover) waits for it up to its handover time, 20 s; this does not.
 */
async function stopNow(): Promise<void> {
  if (hurried) return;
  console.log("\nStopping at once: no key is handed over.");
  await killAll(130);
}

/** Kills every service still running, waits for each to end, and exits with `code`. */
async function killAll(code: number): Promise<void> {
  if (hurried) return;
  hurried = true;
  for (const { child } of services) {
    // By pid: a ChildProcess sends no second signal once one was sent (the first Ctrl-C's). Not
    // to one that ended: its pid may be another process's now.
    try {
      if (!gone.has(child)) Deno.kill(child.pid!, "SIGKILL");
    } catch {
      // ended meanwhile
    }
  }
  await Promise.all(services.map((service) => exited(service.child)));
  await finish(code);
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  Deno.addSignalListener(signal, () => {
    if (!stopping) stop();
    else if (performance.now() - stoppingAt >= SAME_CTRL_C_MS) stopNow();
  });
}
// `deno task dev` passes its signals on, but killed outright it leaves this script behind,
// adopted by another process: stop then, as after Ctrl-C.
const parent = Deno.ppid;
setInterval(() => Deno.ppid !== parent && stop(), 500);
