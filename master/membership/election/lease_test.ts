import assert from "node:assert/strict";
import { silentLogger as log } from "@cache/log/log";
import { startLeaseStandIn } from "../../../tests/support/lease_stand_in.ts";
import { Elector } from "./elector.ts";
import { kubeConfigFor, kubeLeaseApi } from "./kube.ts";
import { Conflict, type LeaseApi, LeaseLock, microTime } from "./lease.ts";

function setup() {
  const standIn = startLeaseStandIn();
  const api = () =>
    kubeLeaseApi({
      name: "cache-master",
      namespace: "cache",
      config: kubeConfigFor(standIn.url, standIn.token),
    });
  return { standIn, api };
}

Deno.test("microTime() writes the six fractional digits Kubernetes requires", () => {
  assert.equal(microTime(Date.UTC(2026, 10, 25, 16, 0, 0, 865)), "2026-11-25T16:00:00.865000Z");
});

Deno.test("LeaseLock creates the Lease, renews it, and holds it against a rival", async () => {
  const { standIn, api } = setup();
  try {
    const clock = { now: 0 };
    const a = new LeaseLock({ api: api(), leaseDurationMs: 15_000, now: () => clock.now });
    const b = new LeaseLock({ api: api(), leaseDurationMs: 15_000, now: () => clock.now });
    assert.deepEqual(await a.attempt("m1#a"), { leader: "m1#a", term: 0 });
    const created = standIn.leases.get("cache/cache-master")!;
    assert.equal(created.spec.holderIdentity, "m1#a");
    assert.equal(created.spec.leaseDurationSeconds, 15);
    assert.deepEqual(await b.attempt("m2#b"), { leader: "m1#a", term: 0 });
    clock.now = 10_000;
    assert.deepEqual(await a.attempt("m1#a"), { leader: "m1#a", term: 0 }, "renewed");
    clock.now = 20_000; // 20 s since b first saw the Lease, but it changed at 10 s
    assert.deepEqual(await b.attempt("m2#b"), { leader: "m1#a", term: 0 });
    assert.deepEqual(standIn.requests.slice(0, 3), [
      "GET /apis/coordination.k8s.io/v1/namespaces/cache/leases/cache-master",
      "POST /apis/coordination.k8s.io/v1/namespaces/cache/leases",
      "GET /apis/coordination.k8s.io/v1/namespaces/cache/leases/cache-master",
    ]);
  } finally {
    await standIn.close();
  }
});

Deno.test("LeaseLock judges expiry by its monotonic clock and writes the Lease's times by the wall", async () => {
  const { standIn, api } = setup();
  try {
    const wall = { now: Date.UTC(2026, 11, 3, 12, 0, 0) };
    const clock = { now: 5 };
    const options = { leaseDurationMs: 15_000, now: () => clock.now, wallNow: () => wall.now };
    const a = new LeaseLock({ api: api(), ...options });
    const b = new LeaseLock({ api: api(), ...options });
    await a.attempt("m1#a");
    assert.equal(standIn.leases.get("cache/cache-master")!.spec.renewTime, microTime(wall.now));
    await b.attempt("m2#b");
    wall.now += 60_000; // b's wall clock steps a minute ahead: the Lease has not expired
    clock.now += 100;
    assert.deepEqual(await b.attempt("m2#b"), { leader: "m1#a", term: 0 });
  } finally {
    await standIn.close();
  }
});

Deno.test("LeaseLock takes over a Lease unrenewed for its duration, counting the transition", async () => {
  const { standIn, api } = setup();
  try {
    const clock = { now: 0 };
    const a = new LeaseLock({ api: api(), leaseDurationMs: 15_000, now: () => clock.now });
    const b = new LeaseLock({ api: api(), leaseDurationMs: 15_000, now: () => clock.now });
    await a.attempt("m1#a");
    await b.attempt("m2#b"); // b sees the record at 0
    clock.now = 14_999;
    assert.equal((await b.attempt("m2#b")).leader, "m1#a");
    clock.now = 15_000;
    assert.deepEqual(await b.attempt("m2#b"), { leader: "m2#b", term: 1 });
    assert.equal(standIn.leases.get("cache/cache-master")!.spec.leaseTransitions, 1);
    assert.deepEqual(await a.attempt("m1#a"), { leader: "m2#b", term: 1 }, "a sees it lost");
  } finally {
    await standIn.close();
  }
});

Deno.test("kubeLeaseApi: a write with a stale resourceVersion gets 409 Conflict", async () => {
  const { standIn, api } = setup();
  try {
    const lock = new LeaseLock({ api: api(), leaseDurationMs: 15_000, now: () => 0 });
    await lock.attempt("m1#a");
    const writer1 = api();
    const writer2 = api();
    const read1 = (await writer1.read())!;
    const read2 = (await writer2.read())!;
    await writer1.replace({ ...read1, holderIdentity: "m2#b" });
    await assert.rejects(writer2.replace({ ...read2, holderIdentity: "m3#c" }), Conflict);
    assert.equal(standIn.leases.get("cache/cache-master")!.spec.holderIdentity, "m2#b");
  } finally {
    await standIn.close();
  }
});

Deno.test("LeaseLock.evict() clears the holder only if the Lease is unchanged since read", async () => {
  const { standIn, api } = setup();
  try {
    const holder = new LeaseLock({ api: api(), leaseDurationMs: 15_000, now: () => 0 });
    await holder.attempt("m1#a");
    const real = api();
    let between: (() => Promise<unknown>) | undefined; // runs once between read and write
    const racing: LeaseApi = {
      read: async () => {
        const record = await real.read();
        const write = between;
        between = undefined;
        await write?.();
        return record;
      },
      create: (record) => real.create(record),
      replace: (record) => real.replace(record),
    };
    const evictor = new LeaseLock({ api: racing, leaseDurationMs: 15_000, now: () => 0 });
    await evictor.evict("m2#b"); // not the holder: nothing written
    assert.equal(standIn.leases.get("cache/cache-master")!.spec.holderIdentity, "m1#a");
    between = () => holder.attempt("m1#a"); // the holder renews after the evictor read
    await assert.rejects(evictor.evict("m1#a"), Conflict);
    assert.equal(standIn.leases.get("cache/cache-master")!.spec.holderIdentity, "m1#a");
    await evictor.evict("m1#a");
    const cleared = standIn.leases.get("cache/cache-master")!.spec;
    assert.equal(cleared.holderIdentity, "");
    assert.equal(cleared.leaseTransitions, 0, "the next holder counts the transition");
  } finally {
    await standIn.close();
  }
});

/** Electors of `identity` sharing one Lease through `api()`, retrying every 50 ms. */
const leaseElector = (api: () => LeaseApi) => (identity: string) =>
  new Elector({
    lock: new LeaseLock({ api: api(), leaseDurationMs: 15_000, now: Date.now }),
    identity,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 50,
    now: Date.now,
    log,
  });

Deno.test("Electors on a Lease: a restarted master takes its dead incarnation's Lease at once", async () => {
  const { standIn, api } = setup();
  const elector = leaseElector(api);
  const dead = elector("http://m1#a");
  const other = elector("http://m2#b");
  const restarted = elector("http://m1#c"); // same address as `dead`, a new process
  try {
    await dead.tick();
    await other.tick();
    assert.equal(other.leader, "http://m1#a");
    await restarted.tick(); // the dead one's Lease was renewed a moment ago
    assert.equal(restarted.leading, true);
    assert.equal(restarted.leader, "http://m1#c");
    assert.equal(restarted.term, 1);
    assert.equal(standIn.leases.get("cache/cache-master")!.spec.holderIdentity, "http://m1#c");
    await other.tick();
    assert.equal(other.leader, "http://m1#c");
  } finally {
    await Promise.all([dead.stop(), other.stop(), restarted.stop()]);
    await standIn.close();
  }
});

Deno.test("Electors on a Lease: the second leads at once when the first releases", async () => {
  const { standIn, api } = setup();
  const elector = leaseElector(api);
  const first = elector("http://m1#a");
  const second = elector("http://m2#b");
  try {
    await first.tick();
    await second.tick();
    assert.equal(first.leading, true);
    assert.equal(second.leader, "http://m1#a");
    await first.stop();
    assert.equal(standIn.leases.get("cache/cache-master")!.spec.holderIdentity, "");
    await second.tick();
    assert.equal(second.leading, true);
    assert.equal(second.term, 1);
  } finally {
    await second.stop();
    await standIn.close();
  }
});
