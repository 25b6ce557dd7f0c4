import assert from "node:assert/strict";
import { silentLogger as log } from "../shared/log.ts";
import { Registry } from "./registry.ts";

function registryAt(clock: { now: number }) {
  return new Registry({ vnodes: 8, failureTimeoutMs: 1000, now: () => clock.now, log });
}

Deno.test("Registry.heartbeat() registers a new node once and bumps the epoch", () => {
  const clock = { now: 0 };
  const registry = registryAt(clock);
  assert.equal(registry.heartbeat("http://a:1"), "new");
  assert.equal(registry.heartbeat("http://a:1"), "known");
  assert.equal(registry.epoch, 1);
  assert.deepEqual(registry.view(), { epoch: 1, vnodes: 8, nodes: ["http://a:1"] });
});

Deno.test("Registry.sweep() marks a silent node down at the timeout and it comes back", () => {
  const clock = { now: 0 };
  const registry = registryAt(clock);
  registry.heartbeat("http://a:1");
  registry.heartbeat("http://b:1");
  clock.now = 999;
  registry.heartbeat("http://b:1");
  registry.sweep();
  assert.equal(registry.ring.size, 2, "not yet at the timeout");

  clock.now = 1000;
  registry.sweep();
  assert.deepEqual(registry.ring.nodes, ["http://b:1"]);
  assert.equal(registry.epoch, 3);
  assert.deepEqual(registry.list().nodes.map((n) => [n.address, n.status]), [
    ["http://a:1", "down"],
    ["http://b:1", "up"],
  ]);

  registry.sweep();
  assert.equal(registry.epoch, 3, "a node already down changes nothing");
  assert.equal(registry.heartbeat("http://a:1"), "known");
  assert.equal(registry.epoch, 4);
  assert.deepEqual(registry.ring.nodes, ["http://a:1", "http://b:1"]);
  assert.equal(registry.list().nodes[0].lastSeen, new Date(1000).toISOString());
});

Deno.test("Registry.deregister() forgets a node, bumping the epoch only if it was up", () => {
  const clock = { now: 0 };
  const registry = registryAt(clock);
  registry.heartbeat("http://a:1");
  registry.heartbeat("http://b:1");
  assert.equal(registry.deregister("http://a:1"), true);
  assert.equal(registry.epoch, 3);
  assert.equal(registry.deregister("http://a:1"), false);

  clock.now = 5000;
  registry.sweep(); // b is down: epoch 4
  assert.equal(registry.deregister("http://b:1"), true);
  assert.equal(registry.epoch, 4);
  assert.deepEqual(registry.list(), { epoch: 4, nodes: [] });
});
