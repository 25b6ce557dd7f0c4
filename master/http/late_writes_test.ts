import assert from "node:assert/strict";
import { clockHeaders, lateWrites } from "./late_writes.ts";

const write = (deadline?: string, method = "POST") =>
  new Request("http://m/keys/a/incr", {
    method,
    headers: deadline === undefined ? {} : { "x-deadline": deadline },
  });

Deno.test("lateWrites() refuses a write past its sender's deadline with 504, and only that", async () => {
  const recorded: string[] = [];
  const gate = lateWrites(
    () => 5_000,
    (method, route, status) => recorded.push(`${method} ${route} ${status}`),
    () => "/keys/{key}/incr",
  );
  const late = gate(write("4999"));
  assert.equal(late?.status, 504);
  assert.match((await late!.json()).error, /past its sender's deadline: not applied/);
  assert.equal(late!.headers.get("x-node-time"), "5000", "the clock the sender was off from");
  assert.deepEqual(recorded, ["POST /keys/{key}/incr 504"]);
  assert.equal(gate(write("5000")), undefined, "on time");
  assert.equal(gate(write()), undefined, "no deadline given");
  assert.equal(gate(write("soon")), undefined, "not a time: the app judges the request");
  assert.equal(gate(write("1", "GET")), undefined, "a read applies nothing");
  assert.equal(gate(write("1", "DELETE"))?.status, 504);
});

Deno.test("clockHeaders() names the clock, one object a millisecond", () => {
  let now = 7;
  const headers = clockHeaders(() => now);
  const first = headers();
  assert.deepEqual(first, { "x-node-time": "7" });
  assert.equal(headers(), first);
  now = 8;
  assert.deepEqual(headers(), { "x-node-time": "8" });
});
