// Turns: first come first served, a call that gives up leaves the line, all() lets everyone go.

import assert from "node:assert/strict";
import { Turns } from "./turns.ts";

Deno.test("Turns lets calls go on in the order they came, skipping one that gave up", async () => {
  const turns = new Turns();
  const order: string[] = [];
  const giveUp = new AbortController();
  const a = turns.wait().then(() => order.push("a"));
  const b = turns.wait(giveUp.signal).then(() => order.push("b"), () => order.push("b gave up"));
  const c = turns.wait().then(() => order.push("c"));
  giveUp.abort();
  await b;
  turns.next();
  turns.next();
  await Promise.all([a, c]);
  assert.deepEqual(order, ["b gave up", "a", "c"]);
  turns.next(); // no one waits: nothing happens
});

Deno.test("Turns.all() lets every waiting call go on at once", async () => {
  const turns = new Turns();
  const waiting = [turns.wait(), turns.wait()];
  turns.all();
  await Promise.all(waiting);
  const later = turns.wait();
  let done = false;
  later.then(() => done = true);
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(done, false, "a call that came after waits for the next turn");
  turns.next();
  await later;
});
