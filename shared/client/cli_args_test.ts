// The command line's grammar: flags anywhere, env under flags, one-line usage errors.

import assert from "node:assert/strict";
import { checkKey, parseInvocation, quote, UsageError } from "./cli_args.ts";

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

Deno.test("checkKey() and quote() keep a message on one short line", () => {
  assert.throws(() => checkKey("x".repeat(2000)), (error: Error) => error.message.length < 200);
  assert.equal(quote("a\nb"), '"a\\nb"');
  assert.equal(quote("y".repeat(100)), `"${"y".repeat(57)}..."`);
});
