// What a token check costs a request: the digest and the digest comparison against node:crypto's
// (each group's baseline), and a whole check against three tokens, as the load benchmark
// configures them.

import { createHash, timingSafeEqual } from "node:crypto";
import { Auth, sameDigest } from "./auth.ts";
import { Sha256 } from "./sha256.ts";

const sha = new Sha256();
Deno.bench("createHash (node:crypto)", { group: "digest", baseline: true }, () => {
  createHash("sha256").update("client-token-1").digest();
});
Deno.bench("Sha256", { group: "digest" }, () => {
  sha.digest("client-token-1");
});

const digest = (byte: number) => new Uint8Array(32).fill(byte);
const [a, b] = [digest(1), digest(2)];

Deno.bench("timingSafeEqual (node:crypto)", { group: "compare", baseline: true }, () => {
  timingSafeEqual(a, b);
});
Deno.bench("sameDigest", { group: "compare" }, () => {
  sameDigest(a, b);
});

const auth = await Auth.from([
  ["client", "client-token-1"],
  ["node", "node-token-1"],
  ["admin", "admin-token-1"],
]);
const request = { method: "GET", headers: new Headers({ authorization: "Bearer client-token-1" }) };
Deno.bench("admit: a client token among three", () => {
  auth.admit(request, ["client"], "/keys/{key}");
});
