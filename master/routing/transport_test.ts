// Calls to nodes through the router: 502/503/504, deadlines, and the breaker's count of batches.

import assert from "node:assert/strict";
import { HttpError } from "@cache/protocol/errors";
import type { Fetch } from "@cache/http1/fetch";
import { createLogger, silentLogger } from "@cache/log/log";
import { Ring } from "@cache/ring/ring";
import { Breakers } from "./breaker.ts";
import { Router } from "./router.ts";
import { oneNode, placement, ring } from "./test_support.ts";

async function failure(router: Router): Promise<HttpError> {
  const error = await router.delete("k").catch((e) => e);
  assert.ok(error instanceof HttpError, String(error));
  return error;
}

Deno.test("Router.delete() answers 503 when no node is up", async () => {
  const router = new Router({ placement: placement(new Ring()), fetch, timeoutMs: 100 });
  assert.equal((await failure(router)).status, 503);
});

Deno.test("Router.delete() answers 502 when the owner refuses the connection", async () => {
  const fetch: Fetch = () => Promise.reject(new TypeError("Connection refused"));
  const error = await failure(new Router({ placement: placement(ring), fetch, timeoutMs: 100 }));
  assert.equal(error.status, 502);
  assert.match(error.message, /unreachable: Connection refused/);
});

Deno.test("Router.delete() answers 504 when the owner does not answer in time", async () => {
  const hang: Fetch = (_input, init) =>
    new Promise((_resolve, reject) =>
      init?.signal?.addEventListener("abort", () => reject(init.signal!.reason))
    );
  const error = await failure(
    new Router({ placement: placement(ring), fetch: hang, timeoutMs: 20 }),
  );
  assert.equal(error.status, 504);
  assert.match(error.message, /did not answer within 20 ms/);
});

Deno.test("Router keeps sending to a node after a call whose fetch ignored its deadline", async () => {
  let calls = 0;
  const deafOnce: Fetch = () =>
    calls++ === 0 ? new Promise(() => {}) : Promise.resolve(new Response(null, { status: 204 }));
  const router = new Router({ placement: placement(ring), fetch: deafOnce, timeoutMs: 20 });
  assert.equal((await router.set("k", "{}").catch((e) => e)).status, 504);
  assert.equal((await router.set("k", "{}")).status, 204); // the primary's queue moved on
});

Deno.test("Router counts a timed-out batch as its calls for the breaker, a refused one as one", async () => {
  const breakersFor = () =>
    new Breakers({ failures: 3, cooldownMs: 60_000, now: () => 0, log: silentLogger });
  const reads = async (fetch: Fetch, breakers: Breakers) => {
    const router = new Router({ placement: oneNode, fetch, timeoutMs: 20, breakers });
    // One read goes alone; the four behind it go as one batch.
    await Promise.allSettled(["a", "b", "c", "d", "e"].map((key) => router.get(key)));
  };
  const refusing = breakersFor();
  await reads(() => Promise.reject(new TypeError("Connection reset")), refusing);
  assert.equal(refusing.state("http://a:1"), "closed", "two failed calls");
  // The first read is answered; the batch of four behind it times out: four failures.
  const batchHangs = breakersFor();
  let answered = false;
  await reads((input, init) => {
    if (!answered) {
      answered = true;
      return Promise.resolve(Response.json({ key: String(input).split("/").pop(), value: "v" }));
    }
    return new Promise((_resolve, reject) =>
      init?.signal?.addEventListener("abort", () => reject(init.signal!.reason))
    );
  }, batchHangs);
  assert.equal(batchHangs.state("http://a:1"), "open", "the batch timed out with four calls");
  // The first read times out; the four behind it fail unsent, and count as well.
  const hanging = breakersFor();
  await reads(
    (_input, init) =>
      new Promise((_resolve, reject) =>
        init?.signal?.addEventListener("abort", () => reject(init.signal!.reason))
      ),
    hanging,
  );
  assert.equal(hanging.state("http://a:1"), "open", "one read timed out, four waited behind it");
});

Deno.test("Router does not take a node's own 504 answer to a batch for a timeout", async () => {
  // Nodes refusing writes sent to every owner at once past their sender's deadline answered: the
  // breaker counted every call of the batch and the calls behind it as timed out.
  const warned: string[] = [];
  const log = createLogger("master", { write: (line) => warned.push(line) });
  const breakers = new Breakers({ failures: 3, cooldownMs: 60_000, now: () => 0, log });
  const stamped: string[] = [];
  const fetch: Fetch = async (input) => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (new URL(String(input)).pathname !== "/stamped") return new Response(null, { status: 204 });
    stamped.push(new URL(String(input)).origin);
    return Response.json({ error: "The sender gave up on this write", late: true }, {
      status: 504,
    });
  };
  const both = { ...placement(ring), replicas: 2 };
  const router = new Router({ placement: both, fetch, timeoutMs: 1000, breakers });
  const answers = await Promise.all(
    ["a", "b", "c", "d", "e"].map((key) => router.set(key, `{"key":"${key}","value":"v"}`)),
  );
  assert.deepEqual(answers.map((answer) => answer.status), [204, 204, 204, 204, 204]);
  for (const node of ring.nodes) {
    const calls = stamped.filter((origin) => origin === node).length;
    assert.equal(calls, 2, `${node}: the copies behind the first call were sent, not failed`);
  }
  assert.deepEqual(warned.filter((line) => line.includes("breaker opened")), []);
});

Deno.test("Router says that calls failed behind a timed-out one were not sent", async () => {
  const hangs: Fetch = (_input, init) =>
    new Promise((_resolve, reject) =>
      init?.signal?.addEventListener("abort", () => reject(init.signal!.reason))
    );
  const router = new Router({ placement: oneNode, fetch: hangs, timeoutMs: 20 });
  const [first, ...queued] = await Promise.allSettled(["a", "b", "c"].map((k) => router.get(k)));
  const reason = (result: PromiseSettledResult<Response>) =>
    result.status === "rejected" ? (result.reason as HttpError) : undefined;
  assert.equal(reason(first)?.status, 504);
  assert.equal(reason(first)?.message, "Node http://a:1 did not answer within 20 ms");
  for (const result of queued) {
    assert.equal(reason(result)?.status, 504);
    assert.equal(
      reason(result)?.message,
      "Node http://a:1 did not answer an earlier call within 20 ms; this one was not sent",
    );
  }
});

Deno.test("Router says which node answered a call, for the registry's reach of it", async () => {
  // Only the master's /live checks counted: loaded, they timed out (500 ms) while the node
  // answered every read and heartbeat, and a master marked three live nodes down at once.
  const answered: string[] = [];
  const fetch: Fetch = () => Promise.resolve(new Response(null, { status: 204 }));
  const router = new Router({
    placement: placement(ring),
    fetch,
    timeoutMs: 100,
    onAnswered: (node) => answered.push(node),
  });
  await router.delete("k").catch(() => {});
  assert.deepEqual(answered, [ring.owner("k")]);
});
