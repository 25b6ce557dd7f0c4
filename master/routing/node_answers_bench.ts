// A 6-key `/mget` answer turned into the reads' own answers: from the node's JSON (parsed, each
// item written again) against from its lines (cut, passed on as they are).

import type { RawAnswer } from "@cache/http1/messages";
import { LINES_TYPE } from "@cache/protocol/wire";
import { foundItems, foundLines } from "./node_answers.ts";

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

async function respond(found: Map<string, string>): Promise<void> {
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
