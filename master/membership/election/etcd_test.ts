// EtcdLock against a real etcd: a dead candidate's key evicted, and who leads after.

import assert from "node:assert/strict";
import { Election, Etcd3 } from "etcd3";
import { createLogger, silentLogger as log } from "@cache/log/log";
import { findEtcd, startEtcd } from "../../../tests/support/etcd.ts";
import { waitFor } from "../../../tests/support/process.ts";
import { Elector } from "./elector.ts";
import { electionBackend } from "./backends.ts";
import { EtcdLock } from "./etcd.ts";

const etcd = await findEtcd();
if (etcd.reason) console.log(`EtcdLock tests ignored: ${etcd.reason}`);

const name = "cache-master";

/** A fresh etcd, a client of it, and the election's keys; stop() ends both. */
async function election() {
  const server = await startEtcd(etcd.path!);
  const client = new Etcd3({ hosts: server.url });
  const keys = client.namespace(`${Election.prefix}/${name}/`);
  return {
    client,
    keys,
    stop: async () => {
      client.close();
      await server.stop();
    },
  };
}

Deno.test({
  name: "EtcdLock: a restarted master evicts its dead incarnation's key, and the next oldest leads",
  ignore: etcd.path === undefined,
  async fn() {
    const { client, keys, stop } = await election();
    const lock = () => new EtcdLock({ client, name, ttlSeconds: 60, log });
    const other = lock();
    const logs: Record<string, unknown>[] = [];
    const restarted = new Elector({
      lock: lock(),
      identity: "http://m1#c",
      renewDeadlineMs: 10_000,
      retryPeriodMs: 50,
      now: Date.now,
      log: createLogger("master", { write: (line) => logs.push(JSON.parse(line)) }),
    });
    // The dead incarnation's key: oldest, and kept for the lease's 60 s with nobody renewing it.
    const dead = client.lease(60, { autoKeepAlive: false });
    try {
      await keys.put(await dead.grant()).value("http://m1#a").lease(await dead.grant());
      assert.equal((await other.attempt("http://m2#b")).leader, "http://m1#a");
      await waitFor(async () => (await keys.getAll().count()) === 2, "m2's campaign has its key");

      await restarted.tick();
      assert.equal(restarted.leading, false);
      assert.equal(restarted.leader, "http://m2#b", "the next oldest candidate leads");
      const candidates = async () => Object.values(await keys.getAll().strings()).sort().join();
      await waitFor(
        async () => await candidates() === "http://m1#c,http://m2#b",
        "the dead incarnation's key gone, the live candidates' kept",
      );
      assert.equal(logs.filter((line) => line.msg === "evicted own earlier incarnation").length, 1);
      assert.equal((await other.attempt("http://m2#b")).leader, "http://m2#b");
    } finally {
      await restarted.stop();
      await other.release();
      await dead.revoke();
      await stop();
    }
  },
});

Deno.test({
  name: "EtcdLock: an attempt that names this candidate the leader renews its lease",
  ignore: etcd.path === undefined,
  async fn() {
    const { client, keys, stop } = await election();
    // The campaign renews on its own every third of the lease (3 s): the attempt at 2 s must.
    const lock = new EtcdLock({ client, name, ttlSeconds: 9, log });
    try {
      await lock.attempt("http://m1#a");
      await waitFor(async () => (await keys.getAll().count()) === 1, "the campaign has its key");
      assert.equal((await lock.attempt("http://m1#a")).leader, "http://m1#a");
      await new Promise((resolve) => setTimeout(resolve, 2000));
      assert.equal((await lock.attempt("http://m1#a")).leader, "http://m1#a");
      const [lease] = Object.keys(await keys.getAll().strings()); // keys are named by lease
      const { TTL } = await client.leaseClient.leaseTimeToLive({ ID: lease });
      assert.ok(Number(TTL) >= 8, `${TTL} s left of 9: renewed by the attempt`);
    } finally {
      await lock.release();
      await stop();
    }
  },
});

Deno.test({
  name: "EtcdLock: a key of this master's earlier campaign, which nothing renews, is not its lead",
  ignore: etcd.path === undefined,
  async fn() {
    // A restarted etcd restores the leases of before: the key of the campaign this master ran
    // then came back, oldest, with its identity, and it led on that key while nothing renewed it;
    // once it expired, the next master led too (two leaders, 60-143 ms, in a review).
    const { client, keys, stop } = await election();
    const lock = new EtcdLock({ client, name, ttlSeconds: 60, log });
    const earlier = client.lease(60, { autoKeepAlive: false });
    try {
      const stale = await earlier.grant();
      await keys.put(stale).value("http://m1#a").lease(stale);
      const staleTerm = Number((await keys.get(stale).exec()).kvs[0].create_revision);
      for (let i = 0; i < 10; i++) {
        const attempt = await lock.attempt("http://m1#a");
        assert.ok(attempt.term !== staleTerm, `led on the earlier campaign's key (attempt ${i})`);
        if (attempt.leader === "http://m1#a") break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal((await lock.attempt("http://m1#a")).leader, "http://m1#a", "its own key leads");
      assert.equal(await keys.get(stale).string(), null, "the earlier key is gone");
    } finally {
      await lock.release();
      await earlier.revoke().catch(() => {});
      await stop();
    }
  },
});

Deno.test({
  name: "etcd election: once etcd is back, attempts a retry period apart lead again within 2.5 s",
  ignore: etcd.path === undefined,
  async fn() {
    const server = await startEtcd(etcd.path!);
    const backend = electionBackend({
      election: "etcd",
      electionName: name,
      namespace: "",
      etcdEndpoints: [server.url],
      leaseDurationMs: 15_000,
      retryPeriodMs: 300,
      now: Date.now,
      log,
    });
    const me = "http://m1#a";
    try {
      await backend.lock.attempt(me);
      await waitFor(async () => (await backend.lock.attempt(me)).leader === me, "leading");
      await server.kill();
      // Failures enough to open the client's breaker (three in a row, on its one host).
      for (let i = 0; i < 3; i++) await assert.rejects(backend.lock.attempt(me));
      await server.start();
      // Its default breaker refused every call for 5 s: a leader with an etcd back within its
      // renew deadline still lost its lead. Attempts a retry period apart lead again well before
      // (on a loaded machine the first one may not lead yet: it read no leader once).
      const back = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 400));
      await waitFor(
        async () => {
          if ((await backend.lock.attempt(me).catch(() => undefined))?.leader === me) return true;
          await new Promise((resolve) => setTimeout(resolve, 300));
        },
        "leading again",
        10_000,
      );
      assert.ok(Date.now() - back < 2500, `led again ${Date.now() - back} ms after etcd came back`);
    } finally {
      await backend.lock.release(me).catch(() => {});
      backend.close();
      await server.stop();
    }
  },
});
