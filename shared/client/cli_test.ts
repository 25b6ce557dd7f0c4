// The whole program, run(), on usage errors and refusing clusters; tests/e2e/cli_test.ts runs it
// against a real master and nodes.

import assert from "node:assert/strict";
import { COMMANDS } from "./cli_args.ts";
import { cli } from "./cli_test_support.ts";

/** A stand-in fetch that fails the test if anything is called. */
const noCalls = () => Promise.reject(new Error("No call was expected"));

Deno.test("run() turns each usage error into one line on stderr and exit 2, calling no one", async () => {
  const cases: [string[], RegExp][] = [
    [
      [],
      /^cache: Missing command: expected get, set, del, incr, decr, touch, mget, mset, scan, flush, stats, nodes, owners or top$/,
    ],
    [["gte", "k"], /^cache: Unknown command "gte": expected get, set, .* or top$/],
    [["get"], /^cache: Missing argument for get: cache get <key>$/],
    [["get", "a", "b"], /^cache: Too many arguments for get: cache get <key>$/],
    [["set", "k"], /^cache: Missing argument for set: cache set <key> <value>/],
    [["owners"], /^cache: Missing argument for owners/],
    [["stats", "x"], /^cache: Too many arguments for stats/],
    [["get", "k", "--ttl", "5"], /^cache: Flag --ttl applies only to set, incr and decr$/],
    [["get", "k", "--nx"], /^cache: Flag --nx applies only to set$/],
    [["set", "k", "v", "--request-id", "r"], /^cache: Flag --request-id applies only to incr and/],
    [
      ["set", "k", "v", "--nx", "--xx"],
      /^cache: Flags --nx and --xx do not go together: give one$/,
    ],
    [
      ["set", "k", "v", "--nx", "--xx", "--if-version", "1.2"],
      /^cache: Flags --nx, --xx and --if-version do not go together/,
    ],
    [["set", "k", "v", "--if-version", ""], /^cache: Invalid --if-version "": expected a version/],
    [["incr"], /^cache: Missing argument for incr: cache incr <key> \[<by>\]/],
    [["incr", "k", "1", "2"], /^cache: Too many arguments for incr/],
    [["incr", "k", "1.5"], /^cache: Invalid amount "1.5": expected a whole number/],
    [["decr", "k", "9007199254740992"], /^cache: Invalid amount "9007199254740992"/],
    [["incr", "k", "-5"], /^cache: Unknown flag "-5": a value that starts with "-" goes after/],
    [["incr", "k", "--request-id", ""], /^cache: Invalid --request-id "": expected 1 to 100/],
    [["incr", "..", "1"], /^cache: Invalid key "\.\.": /],
    [["touch", "k"], /^cache: Missing argument for touch: cache touch <key> <seconds\|none>$/],
    [["touch", "k", "never"], /^cache: Invalid TTL "never": write seconds .*, or none to keep/],
    [["touch", "k", "0"], /^cache: Invalid TTL "0": ttl must be > 0 seconds$/],
    [["scan", "a", "b"], /^cache: Too many arguments for scan/],
    [
      ["scan", "--count", "0"],
      /^cache: Invalid --count "0": expected a whole number from 1 to 1000$/,
    ],
    [
      ["scan", "x".repeat(1025)],
      /^cache: Invalid prefix "x+\.\.\.": longer than 1024 UTF-8 bytes$/,
    ],
    [["flush"], /^cache: Missing --yes for flush: it deletes every key of the cluster$/],
    [["flush", "--yes", "x"], /^cache: Too many arguments for flush: cache flush --yes$/],
    [["stats", "--yes"], /^cache: Flag --yes applies only to flush$/],
    [["top", "--file", "x"], /^cache: Flag --file applies only to mset$/],
    [["get", "k", "--nope"], /^cache: Unknown flag "--nope": see cache --help$/],
    [["get", "k", "-x"], /^cache: Unknown flag "-x"/],
    [["get", "k", "--url"], /^cache: Flag --url needs a value$/],
    [["get", "k", "--json=yes"], /^cache: Flag --json takes no value$/],
    [["get", ""], /^cache: Invalid key "": Key must not be empty$/],
    [["mget", "a", ".."], /^cache: Invalid key "\.\.": /],
    [["set", "k", "v", "--ttl", "1e3"], /^cache: Invalid --ttl "1e3": write seconds in decimal/],
    [["set", "k", "v", "--ttl", "-1"], /^cache: Invalid --ttl "-1": ttl must be > 0 seconds$/],
    [
      ["top", "--interval-ms", "5"],
      /^cache: Invalid --interval-ms "5": .*at least 100 and at most 3600000$/,
    ],
    [["get", "k", "--url", "ftp://m:1"], /^cache: Invalid --url "ftp:\/\/m:1": expected http/],
    [["get", "k", "--url", "http://m:1/cache"], /^cache: Invalid --url "http:\/\/m:1\/cache": /],
    [["get", "k", "--url", "http://m:1?x=1"], /^cache: Invalid --url "http:\/\/m:1\?x=1": /],
    // Credentials in a refused URL are not echoed into terminals and CI logs.
    [
      ["get", "k", "--url", "http://u:p@ss@m:1/x"],
      /^cache: Invalid --url "http:\/\/\*\*\*@m:1\/x": /,
    ],
    [["get", "k", "--url", "https://TOKEN@m"], /^cache: Invalid --url "https:\/\/\*\*\*@m": /],
    [
      ["set", "k", "v", "--token", "--json"],
      /^cache: Flag --token needs a value, not the flag "--json": write --token=--json for a /,
    ],
    [
      ["mset", "--file", "/no\nsuch\x1b[2J"],
      /^cache: Cannot read --file "\/no\\nsuch\\u001b\[2J": /,
    ],
    [["mset"], /^cache: Missing items for mset: give --file <path>, or pipe them in$/],
    [["mset", "--file", "/nonexistent/items.jsonl"], /^cache: Cannot read --file "\/none/],
  ];
  for (const [args, expected] of cases) {
    const { code, stdout, stderr } = await cli(args, { fetch: noCalls });
    assert.equal(code, 2, `cache ${args.join(" ")}: ${stderr}`);
    assert.equal(stdout, "", `cache ${args.join(" ")}`);
    assert.match(stderr, /^[^\n]*\n$/, `one line for cache ${args.join(" ")}`);
    assert.match(stderr.trimEnd(), expected);
  }
});

Deno.test("run() refuses mset input that is not items, naming the line, before any call", async () => {
  const readStdin = () => Promise.resolve('{"key":"a","value":"1"}\n{"key":"b","value":2}\n');
  const bad = await cli(["mset"], { fetch: noCalls, readStdin });
  assert.equal(bad.code, 2);
  assert.equal(
    bad.stderr,
    "cache: Invalid item on line 2 of standard input: value must be a string\n",
  );
  const empty = await cli(["mset"], { fetch: noCalls, readStdin: () => Promise.resolve("\n") });
  assert.deepEqual([empty.code, empty.stderr], [2, "cache: No items in standard input\n"]);
});

Deno.test("run() ends mset at Ctrl-C while standard input is still open, with 130", async () => {
  // It read on until standard input closed; and input cut short read as no items (exit 2).
  const interrupt = new AbortController();
  const open = () => new Promise<string>(() => {}); // a pipe whose writer never closes it
  setTimeout(() => interrupt.abort(new Error("Interrupted")), 10);
  const waiting = await cli(["mset"], {
    fetch: noCalls,
    readStdin: open,
    signal: interrupt.signal,
  });
  assert.deepEqual([waiting.code, waiting.stderr], [130, ""]);
  // The interrupt ends the read, which gives what it had: nothing, "No items" (a usage error).
  const stop = new AbortController();
  const cut = () => {
    stop.abort(new Error("Interrupted"));
    return Promise.resolve("");
  };
  const short = await cli(["mset"], { fetch: noCalls, readStdin: cut, signal: stop.signal });
  assert.deepEqual([short.code, short.stderr], [130, ""]);
});

Deno.test("run() --help prints every command and the exit codes on stdout", async () => {
  const { code, stdout, stderr } = await cli(["get", "--help"], { fetch: noCalls });
  assert.equal(code, 0);
  assert.equal(stderr, "");
  for (const command of COMMANDS) {
    assert.match(stdout, new RegExp(`^  ${command}\\b`, "m"), command);
  }
  assert.match(stdout, /JSON lines/);
  for (const flag of ["--nx", "--xx", "--if-version", "--request-id", "--count", "--yes"]) {
    assert.match(stdout, new RegExp(`^  ${flag}\\b`, "m"), flag);
  }
  assert.match(stdout, /Exit codes: 0 done, 1 a key was not found or a condition did not hold, 2/);
});

Deno.test("run() exits 3 naming the master and its answer when it refuses the token or fails", async () => {
  const calls: string[] = [];
  const fetch = (input: string, init: RequestInit) => {
    calls.push(`${new Headers(init.headers).get("authorization")} ${input}`);
    if (input.endsWith("/stats")) {
      return Promise.resolve(Response.json({ error: "Token is not valid" }, { status: 401 }));
    }
    return Promise.resolve(Response.json({ error: "No node is up" }, { status: 503 }));
  };
  const env = { CACHE_URL: "http://m:1", CACHE_TOKEN: "from-env" };
  const refused = await cli(["stats", "--token", "t0k"], { fetch }, env);
  assert.equal(refused.code, 3);
  assert.equal(
    refused.stderr,
    "cache: The cluster at http://m:1 answered 401: Token is not valid\n",
  );
  assert.deepEqual(calls, ["Bearer t0k http://m:1/stats"]);
  const failing = await cli(["nodes"], { fetch }, env);
  assert.equal(failing.code, 3);
  assert.equal(failing.stderr, "cache: The cluster at http://m:1 answered 503: No node is up\n");
  assert.equal(calls[1], "Bearer from-env http://m:1/nodes");
});

Deno.test("run() writes what a master says as one line, its terminal escapes shown, not acted on", async () => {
  const said = 'Key "evil\u001b[2J\u001b[31m" is not a counter\nsecond line \u202e';
  const fetch = () => Promise.resolve(Response.json({ error: said }, { status: 409 }));
  const { code, stderr } = await cli(["incr", "evil\u001b[2J\u001b[31m"], { fetch }, {
    CACHE_URL: "http://m:1",
  });
  assert.equal(code, 3);
  assert.equal(
    stderr,
    'cache: The cluster at http://m:1 answered 409: Key "evil\\x1b[2J\\x1b[31m" is not a counter ' +
      "second line \\u202e\n",
  );
});

Deno.test("run() says an answer it cannot read came from the cluster, not a status it sent", async () => {
  // It read "answered 502: … answered 200 with a body that is not JSON", a status no one sent.
  const fetch = () =>
    Promise.resolve(new Response("<html>", { headers: { "content-type": "text/html" } }));
  const { code, stderr } = await cli(["stats"], { fetch }, { CACHE_URL: "http://m:1" });
  assert.equal(code, 3);
  assert.equal(
    stderr,
    "cache: The cluster at http://m:1 gave an answer this client cannot read: http://m:1 " +
      "answered 200 with a body that is not JSON\n",
  );
});

Deno.test("run() says a cluster that did not answer in time did not, not that it cannot be reached", async () => {
  const url = "http://127.0.0.1:9";
  const silent = () => new Promise<Response>(() => {}); // reached, never answers
  const { code, stderr } = await cli(["stats", "--url", url], { fetch: silent, timeoutMs: 30 });
  assert.deepEqual([code, stderr], [
    3,
    `cache: The cluster at ${url} did not answer within 30 ms\n`,
  ]);
  // A write asks the master's clock first: not sent then, but not "cannot reach" either.
  const unsent = await cli(["del", "k", "--url", url, "--proxy"], { fetch: silent, timeoutMs: 30 });
  assert.deepEqual([unsent.code, unsent.stderr], [
    3,
    `cache: The cluster at ${url} did not answer in time: ${url} did not tell its clock, so the ` +
    `write was not sent: ${url} did not answer within 30 ms\n`,
  ]);
  const clock = { "x-node-time": String(Date.now()) };
  const told = (input: string) =>
    input.endsWith("/live")
      ? Promise.resolve(Response.json({ ok: true }, { headers: clock }))
      : silent();
  const write = await cli(["del", "k", "--url", url, "--proxy"], { fetch: told, timeoutMs: 30 });
  assert.deepEqual([write.code, write.stderr], [
    3,
    `cache: The cluster at ${url} did not answer within 30 ms: the write may or may not have been ` +
    `applied\n`,
  ]);
});

Deno.test("run() exits 3 naming the URL when nothing listens there", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  listener.close();
  for (const args of [["get", "k"], ["stats"], ["top", "--once"]]) {
    const { code, stdout, stderr } = await cli([...args, "--url", url]);
    assert.equal(code, 3, stderr);
    assert.equal(stdout, "");
    assert.match(stderr, new RegExp(`^cache: Cannot reach the cluster at ${url}: \\S[^\\n]*\\n$`));
  }
});
