import assert from "node:assert/strict";
import { masterList } from "./masters.ts";

Deno.test("masterList() keeps addresses and localhost as given", async () => {
  const masters = masterList({
    urls: ["http://127.0.0.1:8080", "http://localhost:8090", "https://masters.example:8443"],
    resolve: () => Promise.reject(new Error("must not resolve")),
  });
  assert.deepEqual(await masters(), [
    "http://127.0.0.1:8080",
    "http://localhost:8090",
    "https://masters.example:8443",
  ]);
});

Deno.test("masterList() expands a name to one URL per address, and caches the answer", async () => {
  let now = 0;
  let answer = ["10.0.0.8", "10.0.0.7"];
  let lookups = 0;
  const masters = masterList({
    urls: ["http://cache-masters:8080"],
    resolve: (name) => {
      lookups++;
      assert.equal(name, "cache-masters");
      return Promise.resolve(answer);
    },
    cacheMs: 1000,
    now: () => now,
  });
  assert.deepEqual(await masters(), ["http://10.0.0.7:8080", "http://10.0.0.8:8080"]);
  answer = ["10.0.0.9"];
  now = 999;
  assert.equal((await masters()).length, 2, "cached");
  now = 1000;
  assert.deepEqual(await masters(), ["http://10.0.0.9:8080"]);
  assert.equal(lookups, 2);
});

Deno.test("masterList() keeps a name that does not resolve", async () => {
  const masters = masterList({
    urls: ["http://cache-masters:8080"],
    resolve: () => Promise.reject(new Deno.errors.NotFound("no such host")),
  });
  assert.deepEqual(await masters(), ["http://cache-masters:8080"]);
});
