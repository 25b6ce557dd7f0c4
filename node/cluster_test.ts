import assert from "node:assert/strict";
import { HttpError } from "../shared/errors.ts";
import type { Fetch } from "../shared/fetch.ts";
import { Ring } from "../shared/ring.ts";
import type { RingView } from "../shared/wire.ts";
import { Cluster, MisdirectedError } from "./cluster.ts";

const nodes = ["http://a:1", "http://b:1"];

/** A cluster as node `self` sees it at `epoch`; `newer` is what a refresh brings. */
function setup(self: string, epoch: number, fetch: Fetch = () => Promise.reject(new Error("no"))) {
  const view = (e: number): RingView => ({
    term: 0,
    epoch: e,
    replicas: 2,
    vnodes: 160,
    nodes,
    joined: {},
    settled: true,
  });
  const source = {
    view: view(epoch),
    ring: new Ring(nodes),
    refreshes: 0,
    refresh() {
      source.refreshes++;
      source.view = view(source.view.epoch + 1);
      return Promise.resolve(true);
    },
  };
  return { source, cluster: new Cluster({ self, ring: source, fetch, timeoutMs: 100 }) };
}

const ring = new Ring(nodes);
const keyOf = (owner: string) => {
  for (let i = 0;; i++) if (ring.owner(`k${i}`) === owner) return `k${i}`;
};

Deno.test("Cluster.checkPrimary() refuses with 421 a write routed with an older ring", async () => {
  const { cluster } = setup("http://a:1", 10);
  const error = await cluster.checkPrimary([keyOf("http://a:1")], 9).catch((e) => e);
  assert.ok(error instanceof MisdirectedError);
  assert.equal(error.status, 421);
  assert.equal(error.details.epoch, 10);
  await cluster.checkPrimary([keyOf("http://a:1")], 10); // the same ring: taken
});

Deno.test("Cluster.checkPrimary() refuses with 421 a key it is not the primary of", async () => {
  const { cluster } = setup("http://a:1", 10);
  const error = await cluster.checkPrimary([keyOf("http://b:1")], 10).catch((e) => e);
  assert.ok(error instanceof MisdirectedError);
  assert.deepEqual(error.details, { epoch: 10, owner: "http://b:1" });
});

Deno.test("Cluster.checkPrimary() reads the ring first for a write routed with a newer one", async () => {
  const { source, cluster } = setup("http://a:1", 10);
  await cluster.checkPrimary([keyOf("http://a:1")], 11);
  assert.equal(source.refreshes, 1);
  assert.equal(source.view.epoch, 11);
});

Deno.test("Cluster.replicate() says the write is on the primary when a backup fails", async () => {
  const sent: string[] = [];
  const fetch: Fetch = (input) => {
    sent.push(String(input));
    return Promise.reject(new TypeError("refused"));
  };
  const { cluster } = setup("http://a:1", 10, fetch);
  const key = keyOf("http://a:1");
  const error = await cluster.replicate([{ key, version: 1, value: "v" }]).catch((e) => e);
  assert.deepEqual(sent, ["http://b:1/replicate"]);
  assert.ok(error instanceof HttpError);
  assert.equal(error.status, 502);
  assert.match(error.message, /^Stored on the primary, but 1 of 1 backups did not take it/);
  assert.deepEqual(error.details, { unreplicated: [key] });
});

Deno.test("Cluster.replicate() names as unreplicated only the keys of the backup that failed", async () => {
  const three = ["http://a:1", "http://b:1", "http://c:1"];
  const ringOf3 = new Ring(three);
  const source = {
    view: { term: 0, epoch: 1, replicas: 2, vnodes: 160, nodes: three, joined: {}, settled: true },
    ring: ringOf3,
    refresh: () => Promise.resolve(true),
  };
  const fetch: Fetch = (input) =>
    String(input).startsWith("http://b:1")
      ? Promise.reject(new TypeError("refused"))
      : Promise.resolve(Response.json({ applied: 1 }));
  const cluster = new Cluster({ self: "http://a:1", ring: source, fetch, timeoutMs: 100 });
  const keys = [...Array(400).keys()].map((i) => `k${i}`)
    .filter((key) => ringOf3.owner(key) === "http://a:1").slice(0, 20);
  const onB = keys.filter((key) => ringOf3.owners(key, 2)[1] === "http://b:1");
  assert.ok(onB.length > 0 && onB.length < keys.length, "keys backed up on b and on c");
  const error = await cluster.replicate(keys.map((key) => ({ key, version: 1, value: "v" })))
    .catch((e) => e);
  assert.ok(error instanceof HttpError);
  assert.deepEqual(error.details, { unreplicated: onB });
});
