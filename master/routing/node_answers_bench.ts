// A 6-key `/mget` answer turned into the reads' own answers: from the node's JSON (parsed, each
// item written again) against from its lines (cut, passed on as they are); and a long line.

import type { RawAnswer } from "@cache/http1/messages";
import { LINES_TYPE } from "@cache/protocol/wire";
import { type FoundBodies, foundItems, foundLines } from "./node_answers.ts";
import { encodeWire } from "../../shared/http1/server_answer.ts";

const keys = Array.from({ length: 6 }, (_, i) => `key:${String(i * 7919).padStart(11, "0")}`);
const items = keys.map((key) => ({ key, value: "v".repeat(100) }));
const answer = (body: string, type: string): RawAnswer => ({
  status: 200,
  headers: [["content-type", type]],
  body: new TextEncoder().encode(body),
});
const json = answer(JSON.stringify({ items, missing: [] }), "application/json");
const lines = answer(items.map((item) => JSON.stringify(item) + "\n").join(""), LINES_TYPE);
const headers = { "content-type": "application/json" };

async function respond(found: FoundBodies): Promise<void> {
  for (const key of keys) await new Response(found.get(key), { headers }).arrayBuffer();
}

Deno.bench("6-key /mget answer as JSON: parsed, items written again", {
  group: "mget answer",
  baseline: true,
}, async () => {
  await respond(foundItems("http://a:1", json));
});
Deno.bench("6-key /mget answer as lines: cut and passed on", { group: "mget answer" }, async () => {
  await respond(foundLines("http://a:1", lines, keys));
});

// One read of a 1 MiB value, as its answer goes on the wire: the node's line passed on as its
// bytes, against decoded to text and encoded again.
const long = answer(JSON.stringify({ ...items[0], value: "v".repeat(1 << 20) }) + "\n", LINES_TYPE);
const decoder = new TextDecoder();

Deno.bench("1 MiB line, decoded and encoded again", { group: "long line", baseline: true }, () => {
  const text = decoder.decode(long.body).split("\n")[0];
  encodeWire({ status: 200, contentType: "application/json", body: text }, false, true);
});
Deno.bench("1 MiB line, passed on as bytes", { group: "long line" }, () => {
  const body = foundLines("http://a:1", long, [keys[0]]).get(keys[0])!;
  encodeWire({ status: 200, contentType: "application/json", body }, false, true);
});
