// Stamped writes against stand-in owners: one version per write on every owner, gathered per node,
// and what the primary's answer makes of each write.

import assert from "node:assert/strict";
import { CacheError, type CallInit, StaleRing } from "./call.ts";
import { StampedWrites, Unstamped } from "./stamped_writes.ts";

const [PRIMARY, BACKUP] = ["http://a:1", "http://b:1"];

interface Item {
  key: string;
  value: string;
  version: number;
}

/**
 * Stamped writes to stand-in nodes whose clock reads `clock.now`; `calls` lists each call as
 * `node path @epoch key:version,…`; `answer` gives a node's stale indexes or throws.
 */
function stamped(answer: (node: string, items: Item[]) => number[] = () => []) {
  const calls: string[] = [];
  const clock = { now: 1000 };
  const held: (() => void)[] = [];
  let holding = false;
  const callNode = async (node: string, path: string, init: CallInit, epoch: number) => {
    const items: Item[] = JSON.parse(init.body!).items;
    calls.push(`${node} ${path} @${epoch} ${items.map((i) => `${i.key}:${i.version}`).join(",")}`);
    if (holding) await new Promise<void>((resolve) => held.push(resolve));
    return { stale: answer(node, items) };
  };
  const writes = new StampedWrites({ callNode, now: () => clock.now });
  const hold = () => holding = true;
  const release = () => {
    holding = false;
    for (const resolve of held.splice(0)) resolve();
  };
  return { writes, calls, clock, hold, release };
}

/** Writes `key` to `owners` by ring `epoch`, stamped with the next version of `writes`. */
const send = (writes: StampedWrites, owners: string[], key: string, epoch: number) =>
  writes.write(owners, JSON.stringify({ key, value: "v" }), epoch, writes.version());

Deno.test("StampedWrites sends each write to every owner with one version of its clock", async () => {
  const { writes, calls, clock } = stamped();
  assert.equal(await send(writes, [PRIMARY, BACKUP], "a", 7), true);
  assert.equal(await send(writes, [PRIMARY, BACKUP], "b", 7), true);
  clock.now = 999; // a clock going back still gives a newer version
  assert.equal(await send(writes, [BACKUP, PRIMARY], "c", 8), true);
  assert.deepEqual(calls.sort(), [
    `${PRIMARY} /stamped @7 a:1000000`,
    `${PRIMARY} /stamped @7 b:1000001`,
    `${PRIMARY} /stamped @8 c:1000002`,
    `${BACKUP} /stamped @7 a:1000000`,
    `${BACKUP} /stamped @7 b:1000001`,
    `${BACKUP} /stamped @8 c:1000002`,
  ]);
});

Deno.test("StampedWrites gathers the writes to a busy node into its next call, in order", async () => {
  const { writes, calls, hold, release } = stamped();
  hold();
  const first = send(writes, [PRIMARY, BACKUP], "a", 7);
  const later = ["b", "c", "b"].map((key) => send(writes, [PRIMARY, BACKUP], key, 7));
  await Promise.resolve();
  release();
  assert.deepEqual(await Promise.all([first, ...later]), [true, true, true, true]);
  assert.deepEqual(calls, [
    `${PRIMARY} /stamped @7 a:1000000`,
    `${BACKUP} /stamped @7 a:1000000`,
    `${PRIMARY} /stamped @7 b:1000001,c:1000002,b:1000003`,
    `${BACKUP} /stamped @7 b:1000001,c:1000002,b:1000003`,
  ]);
});

Deno.test("StampedWrites answers false for a write any owner listed as stale", async () => {
  const { writes } = stamped((node, items) =>
    node === PRIMARY ? items.flatMap((item, i) => item.key === "old" ? [i] : []) : []
  );
  const results = await Promise.all(
    ["new", "old"].map((key) => send(writes, [PRIMARY, BACKUP], key, 7)),
  );
  assert.deepEqual(results, [true, false]);
  // A backup lists a write whose very version it holds already: another sender's.
  const { writes: other } = stamped((node) => node === BACKUP ? [0] : []);
  assert.equal(await send(other, [PRIMARY, BACKUP], "k", 7), false);
});

Deno.test("StampedWrites rejects a write with an owner's failure", async () => {
  const { writes } = stamped((node) => {
    if (node === BACKUP) throw new CacheError(421, "Routed with ring epoch 7; this node knows 8");
    return [];
  });
  const error = await send(writes, [PRIMARY, BACKUP], "a", 7).catch((e) => e);
  assert.ok(error instanceof CacheError);
  assert.equal(error.status, 421);
});

Deno.test("StampedWrites rejects with Unstamped only when every owner refused before storing", async () => {
  const refusing = (status: number) => () => {
    throw new CacheError(status, `refused with ${status}`);
  };
  // A version too far ahead of every owner's clock: no copy anywhere.
  const { writes } = stamped(refusing(409));
  const ahead = await send(writes, [PRIMARY, BACKUP], "a", 7).catch((e) => e);
  assert.ok(ahead instanceof Unstamped, String(ahead));
  assert.equal((ahead.cause as CacheError).status, 409);
  // A 413 comes after the writes before it in the call were stored; a 502 leaves it unknown; and
  // an owner that stored its copy holds it.
  for (
    const answer of [
      refusing(413),
      refusing(502),
      (node: string) => node === PRIMARY ? [] : refusing(409)(),
      // Stored, answered from a newer ring than the call's: the copy is there all the same.
      () => {
        throw new StaleRing(200);
      },
    ]
  ) {
    const error = await send(stamped(answer).writes, [PRIMARY, BACKUP], "a", 7).catch((e) => e);
    assert.ok(error instanceof CacheError, String(error));
  }
});

Deno.test("StampedWrites fails, unsent, a gathered write routed by another ring than the call's", async () => {
  const { writes, calls, hold, release } = stamped();
  hold();
  const first = send(writes, [PRIMARY], "a", 7);
  const same = send(writes, [PRIMARY], "b", 7);
  // Sent nowhere: written again as any write.
  const newer = send(writes, [PRIMARY], "c", 8).catch((e) =>
    e instanceof Unstamped && (e.cause as CacheError).status
  );
  await Promise.resolve();
  release();
  assert.deepEqual(await Promise.all([first, same, newer]), [true, true, 421]);
  assert.deepEqual(calls, [`${PRIMARY} /stamped @7 a:1000000`, `${PRIMARY} /stamped @7 b:1000001`]);
});

/**
 * Stamped writes of key `k` to one stand-in primary whose calls take a moment, as over a network,
 * the first held until `release()`; `calls` lists each call's keys, `untils` its deadline. With
 * `refusedBelowMs`, a call whose deadline is that close is refused (504) as read past it.
 */
function timedNode(timeoutMs?: number, refusedBelowMs?: number) {
  const calls: string[] = [];
  const untils: (number | undefined)[] = [];
  let release = () => {};
  const held = new Promise<void>((resolve) => release = resolve);
  const callNode = async (_n: string, _p: string, init: CallInit, _e: number, until?: number) => {
    const items: Item[] = JSON.parse(init.body!).items;
    calls.push(items.map((item) => item.key).join(","));
    untils.push(until);
    if (calls.length === 1) await held;
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (refusedBelowMs !== undefined && until !== undefined) {
      if (until < performance.now() + refusedBelowMs) {
        throw new CacheError(504, "The sender gave up on this write: not applied");
      }
    }
    return { stale: [] };
  };
  const writes = new StampedWrites({ callNode, now: () => 1000, timeoutMs });
  const by = (key: string, until?: number) =>
    writes.write([PRIMARY], JSON.stringify({ key, value: "v" }), 7, writes.version(), until)
      .catch((e) => e instanceof CacheError ? e.status : Promise.reject(e));
  return { calls, untils, release: () => release(), by };
}

/**
 * Writes `a` through `node`, which holds its call, then `b`, `c`... each with its sender's deadline
 * `left` ms from now (none for undefined), and releases the call `waitMs` later: the answers, `a`'s
 * first, and when the deadlines were counted from.
 */
async function behindHeld(
  node: ReturnType<typeof timedNode>,
  left: (number | undefined)[],
  waitMs: number,
) {
  const first = node.by("a");
  const now = performance.now();
  const others = left.map((ms, i) =>
    node.by(String.fromCharCode(98 + i), ms === undefined ? undefined : now + ms)
  );
  await new Promise((resolve) => setTimeout(resolve, waitMs));
  node.release();
  return { answers: await Promise.all([first, ...others]), now };
}

Deno.test("StampedWrites sends no copy past its sender's deadline, the others by the earliest", async () => {
  // A refusal made before the call and awaited only after it ended the process (an unhandled
  // rejection): the stand-in's calls take a timer's turn, as over a network.
  const node = timedNode();
  const { answers, now } = await behindHeld(node, [20, 500, 60_000, undefined], 40);
  assert.deepEqual(answers, [true, 504, true, true, true]);
  assert.deepEqual(node.calls, ["a", "c,d,e"]);
  assert.deepEqual(node.untils, [undefined, now + 500], "applied by the earliest deadline");
});

Deno.test("StampedWrites sends copies of senders that stop waiting soon apart from others'", async () => {
  const node = timedNode(1000, 300);
  const { answers } = await behindHeld(node, [60, 200, 60_000, undefined], 20);
  assert.deepEqual(answers, [true, 504, 504, true, true]);
  assert.deepEqual(node.calls, ["a", "b", "c", "d,e"], "alone, short apart, patient together");
});
