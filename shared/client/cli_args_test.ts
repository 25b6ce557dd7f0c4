// The command line's grammar: flags anywhere, env under flags, one-line usage errors.

import assert from "node:assert/strict";
import { parseInvocation } from "./cli_args.ts";
import { UsageError } from "./cli_values.ts";

const noEnv = new Map<string, string>();

Deno.test("parseInvocation() reads the command, its arguments and flags in any order", () => {
  const call = parseInvocation(
    ["--json", "set", "--ttl", "1.5", "user:42", "--url", "http://m:1/", "Ada"],
    noEnv,
  );
  assert.equal(call.command, "set");
  assert.deepEqual(call.args, ["user:42", "Ada"]);
  assert.equal(call.ttlSeconds, 1.5);
  assert.deepEqual(call.urls, ["http://m:1"]);
  assert.equal(call.json, true);
  assert.equal(call.proxy, false);
});

Deno.test("parseInvocation() takes the URL and token from flags over CACHE_URL and CACHE_TOKEN", () => {
  const env = new Map([["CACHE_URL", "http://a:1, http://b:2"], ["CACHE_TOKEN", "env"]]);
  const fromEnv = parseInvocation(["stats"], env);
  assert.deepEqual(fromEnv.urls, ["http://a:1", "http://b:2"]);
  assert.equal(fromEnv.token, "env");
  const fromFlags = parseInvocation(["stats", "--url", "https://c:3", "--token", "flag"], env);
  assert.deepEqual(fromFlags.urls, ["https://c:3"]);
  assert.equal(fromFlags.token, "flag");
  // Named by where it came from: a user who never passed --url was told of a bad --url.
  assert.throws(
    () => parseInvocation(["stats"], new Map([["CACHE_URL", "garbage"]])),
    /^UsageError: Invalid CACHE_URL "garbage"/,
  );
  assert.throws(() => parseInvocation(["stats", "--url", "garbage"], env), /Invalid --url/);
  const newline = new Map([["CACHE_TOKEN", "a\nbcdefgh"]]);
  assert.throws(() => parseInvocation(["stats"], newline), /^UsageError: Invalid CACHE_TOKEN: /);
  const defaults = parseInvocation(["stats"], new Map([["CACHE_URL", " "]]));
  assert.deepEqual(defaults.urls, ["http://127.0.0.1:8080"]);
  assert.equal(defaults.token, undefined);
});

Deno.test("parseInvocation() takes a value that starts with a dash after --", () => {
  const call = parseInvocation(["set", "k", "--", "-1"], noEnv);
  assert.deepEqual(call.args, ["k", "-1"]);
  assert.throws(
    () => parseInvocation(["set", "k", "-1"], noEnv),
    /^UsageError: Unknown flag "-1": a value that starts with "-" goes after "--"$/,
  );
  for (const name of ["--constructor", "--toString=1", "--__proto__"]) {
    assert.throws(() => parseInvocation(["get", "k", name], noEnv), /Unknown flag/, name);
  }
});

Deno.test("parseInvocation() reads top's interval and once, and help before anything else", () => {
  const top = parseInvocation(["top", "--interval-ms", "250", "--once"], noEnv);
  assert.deepEqual([top.command, top.intervalMs, top.once], ["top", 250, true]);
  assert.equal(parseInvocation(["top"], noEnv).intervalMs, 1000);
  assert.equal(parseInvocation(["-h"], noEnv).command, "help");
  assert.equal(parseInvocation(["gte", "--help"], noEnv).command, "help");
});

Deno.test("parseInvocation() checks keys but not set's value", () => {
  assert.deepEqual(parseInvocation(["set", "k", ""], noEnv).args, ["k", ""]);
  assert.throws(() => parseInvocation(["set", ".", "v"], noEnv), /Invalid key "\."/);
  assert.throws(() => parseInvocation(["owners", "x".repeat(1025)], noEnv), /longer than 1024/);
  assert.throws(() => parseInvocation(["mget", "a", ""], noEnv), UsageError);
});

Deno.test("parseInvocation() reads set's condition from --nx, --xx or --if-version", () => {
  assert.equal(parseInvocation(["set", "k", "v"], noEnv).condition, undefined);
  assert.deepEqual(parseInvocation(["set", "k", "v", "--nx"], noEnv).condition, { if: "absent" });
  assert.deepEqual(parseInvocation(["set", "k", "v", "--xx"], noEnv).condition, { if: "present" });
  const cas = parseInvocation(["set", "k", "v", "--if-version", "7.17", "--ttl", "9"], noEnv);
  assert.deepEqual([cas.condition, cas.ttlSeconds], [{ ifVersion: "7.17" }, 9]);
});

Deno.test("parseInvocation() reads incr's and decr's amount as the amount to add", () => {
  const one = parseInvocation(["incr", "hits"], noEnv);
  assert.deepEqual([one.by, one.requestId, one.ttlSeconds], [1, undefined, undefined]);
  const by = parseInvocation(["incr", "hits", "5", "--request-id", "r-1", "--ttl", "60"], noEnv);
  assert.deepEqual([by.by, by.requestId, by.ttlSeconds, by.retry], [5, "r-1", 60, undefined]);
  assert.equal(
    parseInvocation(["incr", "hits", "--request-id", "r-1", "--retry"], noEnv).retry,
    true,
  );
  assert.throws(() => parseInvocation(["incr", "hits", "--retry"], noEnv), /--retry needs/);
  assert.equal(parseInvocation(["decr", "hits"], noEnv).by, -1);
  assert.equal(parseInvocation(["decr", "hits", "3"], noEnv).by, -3);
  assert.equal(parseInvocation(["incr", "hits", "--", "-3"], noEnv).by, -3);
  assert.equal(parseInvocation(["decr", "hits", "--", "-3"], noEnv).by, 3);
  assert.equal(parseInvocation(["incr", "hits", "9007199254740991"], noEnv).by, 2 ** 53 - 1);
});

Deno.test("parseInvocation() reads touch's TTL, scan's prefix and count, flush's --yes", () => {
  assert.equal(parseInvocation(["touch", "k", "1.5"], noEnv).touchTtl, 1.5);
  assert.equal(parseInvocation(["touch", "k", "none"], noEnv).touchTtl, null);
  const scan = parseInvocation(["scan", "user:", "--count", "500"], noEnv);
  assert.deepEqual([scan.prefix, scan.count], ["user:", 500]);
  const all = parseInvocation(["scan"], noEnv);
  assert.deepEqual([all.prefix, all.count], [undefined, undefined]);
  assert.equal(parseInvocation(["flush", "--yes"], noEnv).command, "flush");
  assert.throws(() => parseInvocation(["flush"], noEnv), /Missing --yes for flush/);
});
