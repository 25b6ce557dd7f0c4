import assert from "node:assert/strict";
import { byDeadline, sendGroups, SHARED_MIN_LEFT_MS } from "./deadlines.ts";

Deno.test("byDeadline() sorts a batch's items by when their senders stop waiting", () => {
  const now = 1000;
  const dues = [
    undefined, // waits as long as a call
    now - 1, // gone
    now, // gone: nothing left
    now + SHARED_MIN_LEFT_MS - 1, // too soon to share a call
    now + SHARED_MIN_LEFT_MS, // soon, with others that are soon
    now + 999,
    now + 1000, // as long as a call waits
    now + 60_000,
  ];
  assert.deepEqual(byDeadline(dues, (due) => due, 1000, now), {
    late: [1, 2],
    alone: [3],
    short: [4, 5],
    patient: [0, 6, 7],
  });
  // With a call that waits no time of its own, every item not gone is patient.
  assert.deepEqual(byDeadline(dues, (due) => due, 0, now).patient, [0, 3, 4, 5, 6, 7]);
});

Deno.test("sendGroups() places each group's answers at its items, a failed call's as rejections", async () => {
  // An answer still to come that fails while another group's call is out must not end the process.
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const answers = await sendGroups([[0, 3], [1], [4]], async (group) => {
    if (group[0] === 1) {
      await sleep(20);
      throw new Error("the call failed");
    }
    if (group[0] === 0) return group.map((i) => `a${i}`);
    return [sleep(1).then(() => Promise.reject(new Error("sent again alone, and failed")))];
  });
  assert.deepEqual([answers[0], answers[3], 2 in answers], ["a0", "a3", false]);
  await assert.rejects(answers[1] as Promise<string>, /the call failed/);
  await assert.rejects(answers[4] as Promise<string>, /sent again alone, and failed/);
});
