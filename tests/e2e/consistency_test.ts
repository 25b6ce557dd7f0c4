// Read-by-read consistency under faults, one at a time: node kill, leave, join, pause, master
// restart, leader kill and pause under etcd election, and a double fault (reported only).

import assert from "node:assert/strict";
import { loadConfig } from "../../master/config.ts";
import { type Figures, line, TABLE_HEADER, tableRow } from "../support/checker.ts";
import { prng, seedFromEnv, Workload } from "../support/workload.ts";
import { type EtcdServer, findEtcd, startEtcd } from "../support/etcd.ts";
import { leaderOf } from "../support/leader.ts";
import { nodesOf, Processes, settled, waitFor } from "../support/process.ts";

const FAILURE_TIMEOUT_MS = 1500;
// The master sweeps every tenth of the timeout: a silent node is down within 1.1 timeouts.
const DETECTED_WITHIN_S = 1.1 * FAILURE_TIMEOUT_MS / 1000;
const MASTER_ARGS = ["--replicas", "2", "--failure-timeout-ms", String(FAILURE_TIMEOUT_MS)];
const NODE_ARGS = ["--heartbeat-ms", "300"]; // after the harness's 100: the last flag wins
const WARM_MS = 1000; // load before each fault
const TAIL_MS = 1000; // load after the cluster settled again
// A leader paused for 3x the failure timeout is still leader when it wakes: the renew deadline
// (and the election's lease) are longer than the pause.
const LEADER_PAUSE_MS = 3 * FAILURE_TIMEOUT_MS;
const RENEW_DEADLINE_MS = LEADER_PAUSE_MS + 1000;
const LEASE_DURATION_MS = RENEW_DEADLINE_MS + 1000;
// A restarted master gets back the default wait for the nodes of the ring it lost, which the
// harness shortens for fresh clusters; none where the master has no such setting.
const defaults: Record<string, unknown> = loadConfig({}, []);
const RESTART_ARGS = defaults.recoveryMs === undefined
  ? []
  : ["--recovery-ms", String(defaults.recoveryMs)];
const FAULT_STREAM = 1; // the PRNG stream fault targets are drawn from (the workload's are >= 1000)

const SEED = seedFromEnv();
console.log(`consistency checker seed ${SEED} (replay: CHECKER_SEED=${SEED})`);
const etcd = await findEtcd();
if (etcd.reason) console.log(`Consistency under master election ignored: ${etcd.reason}`);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `masterUrl` sees `up` nodes up, all of them done moving keys. */
async function upAndSettled(masterUrl: string, up: number, ms = 15_000): Promise<void> {
  await waitFor(
    async () => (await nodesOf(masterUrl)).filter((n) => n.status === "up").length === up,
    `${up} nodes up`,
    ms,
  );
  await settled(masterUrl, ms);
}

/** Waits until `masterUrl` sees the node at `address` with `status`. */
async function statusOf(masterUrl: string, address: string, status: string): Promise<void> {
  await waitFor(
    async () =>
      (await nodesOf(masterUrl)).some((n) => n.address === address && n.status === status),
    `${address} ${status}`,
  );
}

/**
 * Runs `act` as step `name` under load: the load starts, `act` injects the fault and waits for the
 * cluster to settle, the load stops, every key is read once more, and the reads are judged.
 */
async function fault(
  t: Deno.TestContext,
  load: Workload,
  rows: Figures[],
  name: string,
  act: () => Promise<void>,
  asserted = true,
  recoveredWithinSeconds = Infinity,
): Promise<boolean> {
  return await t.step(name, async () => {
    let faultAt = load.now();
    let failure: unknown;
    try {
      await load.start(name);
      await sleep(WARM_MS);
      faultAt = load.now();
      await act();
      await sleep(TAIL_MS);
    } catch (error) {
      failure = error;
    } finally {
      await load.stop();
    }
    try {
      await load.finalCheck(name);
    } catch (error) {
      failure ??= error;
    }
    const figures = load.figures(name, faultAt);
    rows.push(figures);
    console.log(`  ${line(figures)}`);
    for (const example of figures.examples) console.log(`    ${example}`);
    if (figures.finalViolations > 0) {
      const repairs = await load.repair(name); // or the next fault would be blamed for them
      const failed = repairs.filter((write) => !write.acked);
      console.log(
        `    keys left wrong, written anew before the next fault: ${repairs.length}` +
          (failed.length > 0 ? `; ${failed.length} failed, e.g. ${failed[0].error}` : ""),
      );
    }
    if (failure !== undefined) throw failure;
    if (!asserted) return;
    const { lost, stale, phantom, unreadable } = figures;
    assert.deepEqual(
      { lost, stale, phantom, unreadable },
      { lost: 0, stale: 0, phantom: 0, unreadable: 0 },
      `${name}: ${figures.examples.join("; ")}`,
    );
    const recovered = figures.recoveredSeconds ?? Infinity;
    assert.ok(
      recovered <= recoveredWithinSeconds,
      `${name}: requests failed for ${recovered} s, more than ${recoveredWithinSeconds} s`,
    );
  });
}

function table(rows: Figures[]): void {
  if (rows.length > 0) console.log([TABLE_HEADER, ...rows.map(tableRow)].join("\n"));
}

Deno.test("consistency: no read is lost or stale through node faults and a master restart", async (t) => {
  const began = performance.now();
  const processes = new Processes();
  const rows: Figures[] = [];
  const random = prng(SEED, FAULT_STREAM);
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
  try {
    let master = await processes.master({ args: MASTER_ARGS });
    const url = master.url;
    const live = await Promise.all([1, 2, 3, 4].map(() => processes.node(url, NODE_ARGS)));
    await upAndSettled(url, 4);
    const load = new Workload({ seed: SEED, masters: () => [url] });
    await load.fill();

    await fault(
      t,
      load,
      rows,
      "1. kill -9 of a node, then a fresh node",
      async () => {
        const victim = pick(live);
        live.splice(live.indexOf(victim), 1);
        await victim.stop("SIGKILL");
        await statusOf(url, victim.address, "down");
        await upAndSettled(url, 3);
        live.push(await processes.node(url, NODE_ARGS));
        await upAndSettled(url, 4);
      },
      true,
      DETECTED_WITHIN_S + 1,
    ); // breakers close as the ring moves on: 1 s for the rest

    await fault(t, load, rows, "2. SIGTERM of a node (graceful leave)", async () => {
      const victim = pick(live);
      live.splice(live.indexOf(victim), 1);
      await victim.stop("SIGTERM");
      await upAndSettled(url, 3);
    });

    await fault(t, load, rows, "3. a node joins", async () => {
      live.push(await processes.node(url, NODE_ARGS));
      await upAndSettled(url, 4);
    });

    await fault(t, load, rows, "4. SIGSTOP of a node for 4.5 s, then SIGCONT", async () => {
      const victim = pick(live);
      Deno.kill(victim.pid, "SIGSTOP");
      try {
        await sleep(3 * FAILURE_TIMEOUT_MS);
      } finally {
        Deno.kill(victim.pid, "SIGCONT");
      }
      await statusOf(url, victim.address, "up");
      await upAndSettled(url, 4);
    });

    await fault(t, load, rows, "5. kill -9 of the master, restarted 2 s later", async () => {
      await master.stop("SIGKILL");
      await sleep(2000);
      master = await processes.master({ at: url, args: [...MASTER_ARGS, ...RESTART_ARGS] });
      await upAndSettled(url, 4, 20_000);
    });

    await fault(
      t,
      load,
      rows,
      "7. both owners of a key killed within 200 ms (reported only)",
      async () => {
        const key = pick(load.keys);
        const { owners } = await (await fetch(`${url}/ring/owners/${key}`)).json();
        const victims = live.filter((node) => owners.includes(node.address));
        assert.equal(victims.length, 2, `the owners of ${key}, ${owners}, are running`);
        const first = victims[0].stop("SIGKILL"); // the signal is sent at once
        await sleep(100);
        await Promise.all([first, victims[1].stop("SIGKILL")]);
        for (const victim of victims) live.splice(live.indexOf(victim), 1);
        await upAndSettled(url, 2);
      },
      false,
    );
  } finally {
    await processes.stopAll();
    table(rows);
    console.log(`node and master faults: ${((performance.now() - began) / 1000).toFixed(1)} s`);
  }
});

/** etcd, three masters electing through it, and four nodes heartbeating to all of them. */
async function haCluster(processes: Processes, server: EtcdServer) {
  const masterArgs = [
    ...MASTER_ARGS,
    "--election",
    "etcd",
    "--etcd-endpoints",
    server.url,
    "--election-name",
    `checker-${crypto.randomUUID().slice(0, 8)}`,
    "--lease-duration-ms",
    String(LEASE_DURATION_MS),
    "--renew-deadline-ms",
    String(RENEW_DEADLINE_MS),
    "--retry-period-ms",
    "200",
  ];
  const masters = await Promise.all([1, 2, 3].map(() => processes.master({ args: masterArgs })));
  const list = masters.map((m) => m.url).join(",");
  await Promise.all([1, 2, 3, 4].map(() => processes.node(list, NODE_ARGS)));
  const leader = await leaderOf(masters);
  await upAndSettled(leader.url, 4);
  await waitFor(
    async () => {
      const views = await Promise.all(
        masters.map(async (m) => (await fetch(`${m.url}/ring`)).json()),
      );
      return views.every((v) => v.nodes.length === 4 && v.term === views[0].term && v.settled);
    },
    "every master has the leader's ring of 4 nodes",
  );
  return { masters, masterArgs };
}

Deno.test({
  name: "consistency: no read is lost or stale when the leading master is killed or paused",
  ignore: etcd.path === undefined,
  async fn(t) {
    const began = performance.now();
    const server = await startEtcd(etcd.path!);
    const processes = new Processes();
    const rows: Figures[] = [];
    try {
      const { masters, masterArgs } = await haCluster(processes, server);
      let via: string[] = []; // the masters traffic goes through
      const load = new Workload({ seed: SEED, masters: () => via });
      let leader = await leaderOf(masters);
      via = [masters.find((m) => m !== leader)!.url];
      await load.fill();

      await fault(t, load, rows, "6a. kill -9 of the leading master, restarted", async () => {
        const faulted = leader;
        const others = masters.filter((m) => m !== faulted);
        await faulted.stop("SIGKILL");
        const next = await leaderOf(others, LEASE_DURATION_MS + 4000);
        const args = [...masterArgs, ...RESTART_ARGS];
        const back = await processes.master({ at: faulted.url, args });
        masters[masters.indexOf(faulted)] = back;
        leader = await leaderOf(masters);
        assert.equal(leader, next, "the restarted master follows");
        via = [via[0], back.url];
        await upAndSettled(leader.url, 4);
      });

      via = [masters.find((m) => m !== leader)!.url];
      const pause = `6b. SIGSTOP of the leading master for ${LEADER_PAUSE_MS / 1000} s`;
      await fault(t, load, rows, pause, async () => {
        const faulted = leader;
        Deno.kill(faulted.pid, "SIGSTOP");
        try {
          await sleep(LEADER_PAUSE_MS); // past every node's failure timeout, within its term
        } finally {
          Deno.kill(faulted.pid, "SIGCONT");
        }
        via = [via[0], faulted.url];
        leader = await leaderOf(masters);
        assert.equal(leader, faulted, "still the leader: its renew deadline is longer");
        const marked = faulted.logs.filter((line) => line.msg === "node down");
        assert.deepEqual(marked, [], "a paused leader marks no node down for its own lost time");
        await upAndSettled(leader.url, 4);
      });
    } finally {
      await processes.stopAll();
      await server.stop();
      table(rows);
      console.log(`leader faults: ${((performance.now() - began) / 1000).toFixed(1)} s`);
    }
  },
});
