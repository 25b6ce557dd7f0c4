// A node's hot GET, from a request's head to its answer, against the store read and the answer it
// builds alone (the group baseline): what the hot path adds per read. And a 1 MiB value's answer
// on the wire, from its bytes against from its text (decoded, written as JSON, encoded again).

import { silentLogger as log } from "@cache/log/log";
import { KeyParam } from "@cache/protocol/wire";
import { Store } from "../store/store.ts";
import { createApp } from "./app.ts";
import { itemJson, readAnswer, readForAnswer } from "./items.ts";
import { encodeWire } from "../../shared/http1/server_answer.ts";

const KEYS = 1000;
const keys = Array.from({ length: KEYS }, (_, i) => `key:${String(i).padStart(11, "0")}`);
const store = new Store();
for (const key of keys) store.set(key, "v".repeat(100));
const app = createApp({
  store,
  maxValueBytes: 1 << 20,
  notReady: () => undefined,
  log,
  ringEpoch: () => 7,
});
// As the server hands a body-less request to the hot path: its head, no Request built.
const heads = keys.map((key) => ({
  method: "GET",
  url: `http://127.0.0.1:8081/keys/${key}`,
  headers: { get: () => null },
}));
let i = 0;

Deno.bench("store read and answer", { group: "hot GET", baseline: true }, () => {
  const key = keys[i++ % KEYS];
  readAnswer(key, store.get(key));
});

Deno.bench("the route's schema check alone", { group: "hot GET" }, () => {
  KeyParam.safeParse({ key: keys[i++ % KEYS] });
});

Deno.bench("HotPath.serve(), head to answer", { group: "hot GET" }, () => {
  app.hot.serve(heads[i++ % KEYS]);
});

const large = "v".repeat(1024 * 1024);
store.set("large", large);

Deno.bench("1 MiB value, answered from its text", { group: "large GET", baseline: true }, () => {
  const body = itemJson("large", store.get("large")!);
  encodeWire({ status: 200, contentType: "application/json", body }, false, true);
});

Deno.bench("1 MiB value, answered from its bytes", { group: "large GET" }, () => {
  encodeWire(readAnswer("large", readForAnswer(store, "large")), false, true);
});
