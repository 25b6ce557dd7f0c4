import assert from "node:assert/strict";
import { Drain } from "./drain.ts";

Deno.test("Drain.idle() waits for requests in flight", async () => {
  const drain = new Drain();
  let finish!: () => void;
  const slow = drain.track(() =>
    new Promise<Response>((resolve) => finish = () => resolve(new Response("ok")))
  );
  assert.equal(drain.active, 1);
  let idle = false;
  const waiting = drain.idle(5000).then((drained) => idle = drained);
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(idle, false);
  finish();
  assert.equal(await (await slow).text(), "ok");
  await waiting;
  assert.equal(idle, true);
  assert.equal(drain.active, 0);
});

Deno.test("Drain.idle() gives up after its timeout, and a failed request still counts out", async () => {
  const drain = new Drain();
  const stuck = drain.track(() => new Promise(() => {}));
  assert.equal(await drain.idle(10), false);
  await assert.rejects(Promise.resolve(drain.track(() => Promise.reject(new Error("boom")))));
  assert.equal(drain.active, 1);
  void stuck;
});

Deno.test("Drain.track() passes a synchronous answer on as it is, counted out at once", async () => {
  const drain = new Drain();
  const answer = new Response("now");
  assert.equal(drain.track(() => answer), answer);
  assert.equal(drain.active, 0);
  assert.equal(await drain.idle(10), true);
});
