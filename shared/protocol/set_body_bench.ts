// The bytes readers against JSON.parse and the route's schema (each group's baseline), the costs
// docs/performance.md ("Memory") cites: one set body, and lists of 20 writes.

import { z } from "zod";
import { readReplicaBody } from "./replica_body.ts";
import { Replica } from "./replica.ts";
import { readMsetBody, readSetBody } from "./set_body.ts";
import { MSetRequest, SetRequest } from "./wire.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const ReplicateRequest = z.strictObject({ entries: z.array(Replica) });

for (const size of [100, 100 * 1024]) {
  const body = encoder.encode(JSON.stringify({ key: "key:12345678", value: "v".repeat(size) }));
  const group = `set ${size} B`;
  Deno.bench("JSON.parse + schema", { group, baseline: true }, () => {
    SetRequest.parse(JSON.parse(decoder.decode(body)));
  });
  Deno.bench("readSetBody", { group }, () => {
    readSetBody(body);
  });
}

for (const size of [100, 1024]) {
  const writes = Array.from(
    { length: 20 },
    (_, i) => ({ key: `key:${i}`, value: "v".repeat(size) }),
  );
  const mset = encoder.encode(JSON.stringify({ items: writes }));
  const entries = writes.map((w, i) => ({ ...w, version: 1796249380798000 + i, epoch: 12 }));
  const replicate = encoder.encode(JSON.stringify({ entries }));
  const group = `20 writes of ${size} B`;
  Deno.bench("/mset: JSON.parse + schema", { group, baseline: true }, () => {
    MSetRequest.parse(JSON.parse(decoder.decode(mset)));
  });
  Deno.bench("/mset: readMsetBody (no floor)", { group }, () => {
    readMsetBody(mset, 0);
  });
  Deno.bench("/replicate: JSON.parse + schema", { group }, () => {
    ReplicateRequest.parse(JSON.parse(decoder.decode(replicate)));
  });
  Deno.bench("/replicate: readReplicaBody (no floor)", { group }, () => {
    readReplicaBody(replicate, 0);
  });
}
