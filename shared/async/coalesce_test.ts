import assert from "node:assert/strict";
import { type CoalesceLimits, Coalescer } from "./coalesce.ts";

/** One batch the coalescer sent; the test answers it when it chooses. */
interface Call {
  node: string;
  inputs: string[];
  reply: PromiseWithResolvers<(string | Promise<string>)[]>;
}

/** A coalescer over fake nodes that answer only when the test says so. */
function setup(limits: CoalesceLimits<string>) {
  const calls: Call[] = [];
  const waiters = new Map<number, (call: Call) => void>();
  const coalescer = new Coalescer<string, string>((node, inputs) => {
    const call = { node, inputs, reply: Promise.withResolvers<(string | Promise<string>)[]>() };
    waiters.get(calls.length)?.(call);
    calls.push(call);
    return call.reply.promise;
  }, limits);
  let taken = 0;
  /** The next batch sent, in sending order, once it is sent. */
  const next = (): Promise<Call> => {
    const index = taken++;
    if (index < calls.length) return Promise.resolve(calls[index]);
    return new Promise((resolve) => waiters.set(index, resolve));
  };
  /** What each batch sent so far held, in sending order. */
  const sent = () => calls.map((call) => `${call.node} ${call.inputs.join(",")}`);
  return { coalescer, calls, next, sent };
}

/** Answers each input of `call` with `input@node`. */
const echo = (call: Call) => call.reply.resolve(call.inputs.map((i) => `${i}@${call.node}`));

Deno.test("Coalescer.submit() sends a call to an idle node at once, alone", async () => {
  const { coalescer, next, sent } = setup({ inFlight: 1, maxItems: 10 });
  const a = coalescer.submit("n1", "a");
  assert.deepEqual(sent(), ["n1 a"], "sent before submit() returned");
  echo(await next());
  assert.equal(await a, "a@n1");
});

Deno.test("Coalescer.submit() gathers calls made while inFlight batches are out into one batch", async () => {
  const { coalescer, next, sent } = setup({ inFlight: 2, maxItems: 10 });
  const a = coalescer.submit("n1", "a");
  const b = coalescer.submit("n1", "b");
  assert.deepEqual(sent(), ["n1 a", "n1 b"], "each sent alone while a slot is free");
  const later = ["c", "d", "e"].map((input) => coalescer.submit("n1", input));
  assert.deepEqual(sent(), ["n1 a", "n1 b"], "both slots taken: the rest wait");
  const first = await next();
  const second = await next();
  echo(second);
  assert.equal(await b, "b@n1");
  echo(await next());
  assert.deepEqual(sent(), ["n1 a", "n1 b", "n1 c,d,e"]);
  assert.deepEqual(await Promise.all(later), ["c@n1", "d@n1", "e@n1"]);
  echo(first);
  assert.equal(await a, "a@n1");
});

Deno.test("Coalescer.submit() resolves each input with the result at its own index", async () => {
  const { coalescer, next } = setup({ inFlight: 1, maxItems: 10 });
  const busy = coalescer.submit("n1", "busy");
  const inputs = ["k", "k", "j"].map((input) => coalescer.submit("n1", input));
  (await next()).reply.resolve(["busy result"]);
  const batch = await next();
  assert.deepEqual(batch.inputs, ["k", "k", "j"]);
  batch.reply.resolve(["first", "second", "third"]);
  assert.equal(await busy, "busy result");
  assert.deepEqual(await Promise.all(inputs), ["first", "second", "third"]);
});

Deno.test("Coalescer.submit() keeps a separate queue per node", async () => {
  const { coalescer, next, sent } = setup({ inFlight: 1, maxItems: 10 });
  const a = coalescer.submit("n1", "a");
  const x = coalescer.submit("n2", "x");
  assert.deepEqual(sent(), ["n1 a", "n2 x"], "n2 is idle even while n1 is busy");
  const b = coalescer.submit("n1", "b");
  const y = coalescer.submit("n2", "y");
  const toN1 = await next();
  echo(await next()); // n2 comes back first: only its own waiting call goes
  const again = await next();
  assert.deepEqual(sent(), ["n1 a", "n2 x", "n2 y"]);
  echo(again);
  assert.deepEqual([await x, await y], ["x@n2", "y@n2"]);
  echo(toN1);
  echo(await next());
  assert.deepEqual(sent(), ["n1 a", "n2 x", "n2 y", "n1 b"]);
  assert.deepEqual([await a, await b], ["a@n1", "b@n1"]);
});

Deno.test("Coalescer.submit() splits a queue longer than maxItems into several batches", async () => {
  const { coalescer, next, sent } = setup({ inFlight: 1, maxItems: 2 });
  const all = ["a", "b", "c", "d", "e", "f"].map((input) => coalescer.submit("n1", input));
  for (let i = 0; i < 4; i++) echo(await next());
  assert.deepEqual(sent(), ["n1 a", "n1 b,c", "n1 d,e", "n1 f"]);
  assert.deepEqual(await Promise.all(all), ["a@n1", "b@n1", "c@n1", "d@n1", "e@n1", "f@n1"]);
});

Deno.test("Coalescer.submit() splits a queue by maxSize and sends a larger item alone", async () => {
  const { coalescer, next, sent } = setup({
    inFlight: 1,
    maxItems: 100,
    maxSize: 10,
    sizeOf: (input) => input.length,
  });
  const big = "x".repeat(20);
  const inputs = ["first", "aaaa", "bbbb", "cc", "dddddd", big, "e"];
  const all = inputs.map((input) => coalescer.submit("n1", input));
  for (let i = 0; i < 5; i++) echo(await next());
  assert.deepEqual(sent(), [
    "n1 first",
    "n1 aaaa,bbbb,cc", // exactly 10
    "n1 dddddd", // 6 + 20 is over
    `n1 ${big}`, // over 10 by itself: alone
    "n1 e",
  ]);
  assert.deepEqual(await Promise.all(all), inputs.map((input) => `${input}@n1`));
});

Deno.test("Coalescer.submit() rejects every input of a batch whose send fails, and sends on", async () => {
  const { coalescer, next, sent } = setup({ inFlight: 1, maxItems: 10 });
  const a = coalescer.submit("n1", "a");
  const failed = [coalescer.submit("n1", "b"), coalescer.submit("n1", "c")];
  const refused = new TypeError("Connection refused");
  const rejections = failed.map((call) => assert.rejects(call, (error) => error === refused));
  echo(await next());
  assert.equal(await a, "a@n1");
  const batch = await next();
  const after = [coalescer.submit("n1", "d"), coalescer.submit("n1", "e")];
  batch.reply.reject(refused);
  await Promise.all(rejections);
  echo(await next());
  assert.deepEqual(sent(), ["n1 a", "n1 b,c", "n1 d,e"]);
  assert.deepEqual(await Promise.all(after), ["d@n1", "e@n1"]);
});

Deno.test("Coalescer.submit() settles an input whose result is a promise by that promise alone", async () => {
  const { coalescer, next } = setup({ inFlight: 1, maxItems: 10 });
  const busy = coalescer.submit("n1", "busy");
  const [a, b, c, d] = ["a", "b", "c", "d"].map((input) => coalescer.submit("n1", input));
  const bFails = assert.rejects(b, /Node n1 refused b/);
  echo(await next());
  await busy;
  const resent = Promise.withResolvers<string>();
  (await next()).reply.resolve([
    "a1",
    Promise.reject(new Error("Node n1 refused b")),
    resent.promise,
    Promise.resolve("d1"),
  ]);
  await bFails;
  assert.deepEqual([await a, await d], ["a1", "d1"]);
  let cSettled = false;
  c.finally(() => cSettled = true);
  await new Promise((resolve) => setTimeout(resolve, 0)); // every settled promise has run
  assert.equal(cSettled, false, "c waits for its own promise");
  resent.resolve("c1");
  assert.equal(await c, "c1");
});

Deno.test("Coalescer.submit() fails the calls waiting behind a batch when failsWaiting says so", async () => {
  const timedOut = new Error("timed out");
  const unsent = new Error("not sent");
  const told: unknown[][] = [];
  const { coalescer, next, sent } = setup({
    inFlight: 1,
    maxItems: 10,
    failsWaiting: (node, error, sentCalls, waitingCalls) => {
      told.push([node, error, sentCalls, waitingCalls]);
      return error === timedOut ? unsent : undefined;
    },
  });
  const first = coalescer.submit("n1", "a");
  const batch = [coalescer.submit("n1", "b"), coalescer.submit("n1", "c")];
  echo(await next());
  assert.equal(await first, "a@n1");
  const failing = await next(); // b and c, together
  const waiting = coalescer.submit("n1", "d");
  const rejections = [
    ...batch.map((call) => assert.rejects(call, (error) => error === timedOut)),
    assert.rejects(waiting, (error) => error === unsent),
  ];
  failing.reply.reject(timedOut);
  await Promise.all(rejections);
  assert.deepEqual(told, [["n1", timedOut, 2, 1]], "told the batch's size and who waited");
  assert.deepEqual(sent(), ["n1 a", "n1 b,c"], "the waiting call was never sent");
  const later = coalescer.submit("n1", "e"); // the queue works on afterwards
  echo(await next());
  assert.equal(await later, "e@n1");
});
