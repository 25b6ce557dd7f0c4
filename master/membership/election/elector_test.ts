import assert from "node:assert/strict";
import { createLogger, silentLogger as log } from "@cache/log/log";
import { type Attempt, type ElectionState, Elector, type Lock } from "./elector.ts";

/**
 * A lock whose answers the test sets; `hang` makes attempts never settle, `stuck` makes evictions
 * leave the claim in place.
 */
function fakeLock() {
  const state = {
    holder: undefined as string | undefined,
    term: 0,
    hang: false,
    released: 0,
    evicted: [] as string[],
    stuck: false,
  };
  const lock: Lock = {
    attempt(identity): Promise<Attempt> {
      if (state.hang) return new Promise(() => {});
      if (state.holder === undefined) {
        state.holder = identity;
        state.term++;
      }
      return Promise.resolve({ leader: state.holder, term: state.term });
    },
    release(identity) {
      if (state.holder === identity) state.holder = undefined;
      state.released++;
      return Promise.resolve();
    },
    evict(identity) {
      state.evicted.push(identity);
      if (state.holder === identity && !state.stuck) state.holder = undefined;
      return Promise.resolve();
    },
  };
  return { state, lock };
}

function elector(
  lock: Lock,
  clock: { now: number },
  changes: ElectionState[] = [],
  logs?: Record<string, unknown>[],
) {
  return new Elector({
    lock,
    identity: "http://m1#a",
    renewDeadlineMs: 1000,
    retryPeriodMs: 100,
    now: () => clock.now,
    log: logs ? createLogger("master", { write: (line) => logs.push(JSON.parse(line)) }) : log,
    onChange: (state) => changes.push(state),
  });
}

/** A candidate on the real clock, running: attempts every `retryPeriodMs`, given up after
 * `renewDeadlineMs`. */
function running(
  lock: Lock,
  renewDeadlineMs: number,
  retryPeriodMs: number,
  extra: Partial<ConstructorParameters<typeof Elector>[0]> = {},
) {
  const candidate = new Elector({
    lock,
    identity: "http://m1#a",
    renewDeadlineMs,
    retryPeriodMs,
    now: () => performance.now(),
    log,
    ...extra,
  });
  candidate.start();
  return candidate;
}

Deno.test("Elector leads once its lock says so, and reports the term", async () => {
  const { lock } = fakeLock();
  const clock = { now: 0 };
  const changes: ElectionState[] = [];
  const candidate = elector(lock, clock, changes);
  assert.equal(candidate.leading, false);
  await candidate.tick();
  assert.equal(candidate.leading, true);
  assert.equal(candidate.leader, "http://m1#a");
  assert.deepEqual(changes, [{ leading: true, leader: "http://m1#a", term: 1 }]);
  await candidate.tick(); // a renewal changes nothing
  assert.equal(changes.length, 1);
});

Deno.test("Elector does not take the lead on an attempt that took nearly the whole deadline", async () => {
  // One that hung while etcd was away, then went through: the lead, dated from its start, lapsed
  // 60 ms later ("leadership lost"), then came back, two ring changes for nothing.
  const { lock } = fakeLock();
  const clock = { now: 0 };
  const changes: ElectionState[] = [];
  const slow: Lock = {
    ...lock,
    attempt: async (identity) => {
      const attempt = await lock.attempt(identity);
      clock.now += 950; // of the 1000 ms deadline, with a retry period of 100
      return attempt;
    },
  };
  const candidate = elector(slow, clock, changes);
  await candidate.tick();
  assert.equal(candidate.leading, false);
  assert.ok(changes.every((change) => !change.leading), "never reported leading");
  await candidate.tick(); // as slow: a lead of 50 ms is none to take either
  assert.equal(candidate.leading, false);
  const quick = elector(lock, clock, changes);
  await quick.tick();
  assert.equal(quick.leading, true);
});

Deno.test("Elector follows the leader its lock names", async () => {
  const { state, lock } = fakeLock();
  state.holder = "http://m2#b";
  state.term = 7;
  const candidate = elector(lock, { now: 0 });
  await candidate.tick();
  assert.equal(candidate.leading, false);
  assert.equal(candidate.leader, "http://m2#b");
  assert.equal(candidate.term, 7);
  assert.deepEqual(state.evicted, [], "another master's claim is left alone");
});

Deno.test("Elector evicts its own earlier incarnation's claim and leads at once", async () => {
  const { state, lock } = fakeLock();
  state.holder = "http://m1#dead"; // this master's address, before it restarted
  state.term = 3;
  const changes: ElectionState[] = [];
  const logs: Record<string, unknown>[] = [];
  const candidate = elector(lock, { now: 0 }, changes, logs);
  await candidate.tick();
  assert.deepEqual(state.evicted, ["http://m1#dead"]);
  assert.equal(candidate.leading, true);
  assert.equal(candidate.leader, "http://m1#a");
  assert.deepEqual(changes, [{ leading: true, leader: "http://m1#a", term: 4 }]);
  const evictions = logs.filter((line) => line.msg === "evicted own earlier incarnation");
  assert.equal(evictions.length, 1);
  assert.equal(evictions[0].stale, "http://m1#dead");
});

Deno.test("Elector never follows its own earlier incarnation while the claim stays", async () => {
  const { state, lock } = fakeLock();
  state.holder = "http://m1#dead";
  state.stuck = true; // e.g. the eviction lost a race and the claim is read again
  const changes: ElectionState[] = [];
  const logs: Record<string, unknown>[] = [];
  const candidate = elector(lock, { now: 0 }, changes, logs);
  await candidate.tick();
  await candidate.tick();
  assert.equal(candidate.leading, false);
  assert.equal(candidate.leader, undefined, "no leader, rather than its own URL");
  assert.equal(changes.filter((change) => change.leader !== undefined).length, 0);
  assert.deepEqual(state.evicted, ["http://m1#dead", "http://m1#dead"], "evicted on every attempt");
  assert.equal(logs.filter((line) => line.msg === "evicted own earlier incarnation").length, 1);
  state.stuck = false;
  await candidate.tick();
  assert.equal(candidate.leading, true, "it leads once the claim is gone");
});

Deno.test("Elector stops leading at the renew deadline while its attempt still hangs", async () => {
  const { state, lock } = fakeLock();
  const clock = { now: 0 };
  const changes: ElectionState[] = [];
  const candidate = elector(lock, clock, changes);
  await candidate.tick();
  state.hang = true;
  void candidate.tick(); // never settles
  clock.now = 999;
  assert.equal(candidate.leading, true);
  clock.now = 1000;
  assert.equal(candidate.leading, false, "the clock alone ends leadership");
  assert.equal(candidate.leader, undefined, "it does not name itself leader any more");
  await new Promise((resolve) => setTimeout(resolve, 1100)); // the fence timer reports it
  assert.deepEqual(changes.at(-1), { leading: false, leader: undefined, term: 1 });
});

Deno.test("Elector.stop() releases the lock it holds", async () => {
  const { state, lock } = fakeLock();
  const candidate = elector(lock, { now: 0 });
  candidate.start();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(candidate.leading, true);
  await candidate.stop();
  assert.equal(candidate.leading, false);
  assert.equal(state.released, 1);
  assert.equal(state.holder, undefined);
});

Deno.test("Elector gives up on an attempt that hangs, and the next one counts", async () => {
  const { state, lock } = fakeLock();
  let attempts = 0;
  const hangsOnce: Lock = {
    ...lock,
    attempt(identity) {
      if (++attempts === 1) return new Promise(() => {}); // a call lost on the way
      return lock.attempt(identity);
    },
  };
  const logs: Record<string, unknown>[] = [];
  const candidate = running(hangsOnce, 50, 10, {
    log: createLogger("master", { write: (line) => logs.push(JSON.parse(line)) }),
  });
  try {
    for (let i = 0; i < 100 && !candidate.leading; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(candidate.leading, true, `attempts made: ${attempts}`);
    assert.equal(state.holder, "http://m1#a");
    assert.ok(logs.some((line) => line.msg === "election attempt timed out"));
  } finally {
    await candidate.stop();
  }
});

Deno.test("Elector.stop() waits for the attempt in flight, and releases one that won", async () => {
  const { state, lock } = fakeLock();
  let answer = () => {};
  const slow: Lock = {
    ...lock,
    attempt: (identity) => new Promise((resolve) => answer = () => resolve(lock.attempt(identity))),
  };
  const candidate = running(slow, 1000, 100);
  await new Promise((resolve) => setTimeout(resolve, 10));
  const stopping = candidate.stop(); // SIGTERM while the attempt is out
  answer(); // it wins
  await stopping;
  assert.equal(state.released, 1, "the lease it won is released");
  assert.equal(state.holder, undefined);
});

Deno.test("Elector.stop() waits for an attempt that hangs no longer than the renew deadline", async () => {
  const { state, lock } = fakeLock();
  state.hang = true;
  const candidate = running(lock, 100, 10);
  await new Promise((resolve) => setTimeout(resolve, 10));
  const stopped = await Promise.race([
    candidate.stop().then(() => "stopped"),
    new Promise((resolve) => setTimeout(() => resolve("still waiting"), 1000)),
  ]);
  assert.equal(stopped, "stopped");
});

Deno.test("Elector ignores the answer of an attempt it gave up on, however late", async () => {
  let attempts = 0;
  let late = (_attempt: Attempt) => {};
  const changes: ElectionState[] = [];
  const lock: Lock = {
    attempt: () => {
      if (++attempts === 1) return new Promise((resolve) => late = resolve);
      return new Promise(() => {}); // the next ones hang too
    },
    release: () => Promise.resolve(),
    evict: () => Promise.resolve(),
  };
  const candidate = running(lock, 50, 200, { onChange: (state) => changes.push(state) });
  await new Promise((resolve) => setTimeout(resolve, 80)); // given up on, waiting to try again
  late({ leader: "http://m1#a", term: 3 }); // it won, but too late to count
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(candidate.leading, false);
  assert.deepEqual(changes, [], "no leadership to flap");
  await candidate.stop(); // the next attempt hangs: given up on at its deadline
});

Deno.test("Elector started again before its stop() ended runs one loop, and the stop ends", async () => {
  const { state, lock } = fakeLock();
  let attempts = 0;
  const counting: Lock = { ...lock, attempt: (identity) => (attempts++, lock.attempt(identity)) };
  const candidate = running(counting, 1000, 50);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const stopped = candidate.stop();
  candidate.start(); // before the stop ended: it goes on once the stop released the lock
  const ended = await Promise.race([
    stopped.then(() => true),
    new Promise((resolve) => setTimeout(() => resolve(false), 500)),
  ]);
  assert.equal(ended, true, "stop() ends though the candidate was started again");
  assert.equal(state.released, 1);
  state.hang = true; // each loop now has one attempt in flight until the renew deadline
  await new Promise((resolve) => setTimeout(resolve, 100));
  attempts = 0;
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(attempts, 0, "the one loop waits on its attempt");
  state.hang = false;
  await candidate.stop();
});

Deno.test("Elector stopped twice, then started, releases once and keeps what it wins next", async () => {
  const { state, lock } = fakeLock();
  const delays = [100, 10]; // the first release is the slower to be answered
  const slow: Lock = {
    ...lock,
    release: async (identity) => {
      await new Promise((resolve) => setTimeout(resolve, delays.shift() ?? 0));
      await lock.release(identity);
    },
  };
  const candidate = running(slow, 1000, 50);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(candidate.leading, true);
  const first = candidate.stop();
  const second = candidate.stop();
  candidate.start();
  await Promise.all([first, second]);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(state.released, 1, "one release");
  assert.equal(candidate.leading, true);
  assert.equal(state.term, 2, "won back once, never lost since");
  await candidate.stop();
});
