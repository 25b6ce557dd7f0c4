import assert from "node:assert/strict";
import { HttpError } from "@cache/protocol/errors";
import { silentLogger as log } from "@cache/log/log";
import { Breakers } from "./breaker.ts";
import { Registry } from "../membership/registry.ts";

function setup() {
  const clock = { now: 0 };
  return {
    clock,
    breakers: new Breakers({ failures: 3, cooldownMs: 1000, now: () => clock.now, log }),
  };
}

const refused = (run: () => void) =>
  assert.throws(
    run,
    (e: unknown) => e instanceof HttpError && e.status === 503 && /circuit breaker/.test(e.message),
  );

Deno.test("Breakers open after N consecutive failures and fail fast", () => {
  const { breakers } = setup();
  for (let i = 0; i < 2; i++) breakers.failed("n");
  breakers.admit("n");
  breakers.succeeded("n"); // a success resets the count
  for (let i = 0; i < 2; i++) breakers.failed("n");
  assert.equal(breakers.state("n"), "closed");
  breakers.failed("n");
  assert.equal(breakers.state("n"), "open");
  refused(() => breakers.admit("n"));
  breakers.admit("other");
});

Deno.test("Breakers let one trial through after the cooldown and close on its success", () => {
  const { breakers, clock } = setup();
  for (let i = 0; i < 3; i++) breakers.failed("n");
  clock.now = 999;
  refused(() => breakers.admit("n"));
  clock.now = 1000;
  breakers.admit("n");
  assert.equal(breakers.state("n"), "half-open");
  refused(() => breakers.admit("n")); // one trial at a time
  breakers.succeeded("n");
  assert.equal(breakers.state("n"), "closed");
  breakers.admit("n");
});

Deno.test("Breakers reopen when the trial fails", () => {
  const { breakers, clock } = setup();
  for (let i = 0; i < 3; i++) breakers.failed("n");
  clock.now = 1000;
  breakers.admit("n");
  breakers.failed("n");
  assert.equal(breakers.state("n"), "open");
  clock.now = 1999;
  refused(() => breakers.admit("n"));
  clock.now = 2000;
  breakers.admit("n");
});

Deno.test("Breakers count a failed batch as the calls it carried", () => {
  const { breakers } = setup();
  breakers.failed("n", 2);
  assert.equal(breakers.state("n"), "closed");
  breakers.failed("n", 1);
  assert.equal(breakers.state("n"), "open");
});

Deno.test("A node's breaker closes when the node registers again, not after the cooldown", () => {
  const { breakers } = setup();
  const joined: string[] = [];
  const registry = new Registry({
    failureTimeoutMs: 1000,
    now: () => 0,
    log,
    onJoined: (address) => {
      joined.push(address);
      breakers.reset(address);
    },
  });
  registry.heartbeat("http://n:1", { instance: "first" });
  for (let i = 0; i < 3; i++) breakers.failed("http://n:1"); // killed: its calls fail
  refused(() => breakers.admit("http://n:1"));
  registry.heartbeat("http://n:1", { instance: "second" }); // restarted, registered anew
  assert.equal(breakers.state("http://n:1"), "closed");
  breakers.admit("http://n:1");
  assert.deepEqual(joined, ["http://n:1", "http://n:1"]);
});
