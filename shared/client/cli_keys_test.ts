// The key commands against a stand-in master and node: what each sends, prints and exits with.

import assert from "node:assert/strict";
import { cli } from "./cli_test_support.ts";

const MASTER = "http://m:1";
const NODE = "http://a:1";
const env = { CACHE_URL: MASTER };
const ring = { term: 0, epoch: 1, replicas: 1, nodes: [NODE], joined: {}, settled: true };

type Answer = (method: string, url: URL, body: string) => Response;

/**
 * A stand-in fetch: the master's ring and liveness, and `answer` for every other call, which
 * `calls` lists as "METHOD url body". The master's answers name its clock, as a master's do.
 */
function cluster(answer: Answer) {
  const calls: string[] = [];
  const fetch = (input: string, init: RequestInit) => {
    const url = new URL(input);
    const clock = (response: Response) => {
      if (url.origin === MASTER) response.headers.set("x-node-time", String(Date.now()));
      return Promise.resolve(response);
    };
    if (url.pathname === "/ring") return clock(Response.json(ring));
    if (url.pathname === "/live") return clock(Response.json({ status: "live" }));
    const method = init.method ?? "GET";
    const body = String(init.body ?? "");
    calls.push(`${method} ${url.origin}${url.pathname}${url.search} ${body}`.trimEnd());
    return clock(answer(method, url, body));
  };
  return { fetch, calls };
}

const json = (body: unknown, status = 200) => Response.json(body, { status });
const noContent = () => new Response(null, { status: 204 });

Deno.test("cache get --json prints the version and the seconds left, null for a missing key", async () => {
  const { fetch } = cluster((_method, url) =>
    url.pathname === "/keys/k"
      ? json({ key: "k", value: "v", ttl: 12.5, version: "1.7" })
      : json({ error: 'Key "nobody" not found' }, 404)
  );
  const found = await cli(["get", "k", "--json"], { fetch }, env);
  assert.deepEqual(found, {
    code: 0,
    stdout: '{"key":"k","value":"v","version":"1.7","ttl":12.5}\n',
    stderr: "",
  });
  const missing = await cli(["get", "nobody", "--json"], { fetch }, env);
  assert.equal(missing.code, 1);
  assert.deepEqual(JSON.parse(missing.stdout), { key: "nobody", value: null, version: null });
  assert.deepEqual(await cli(["get", "k"], { fetch }, env), { code: 0, stdout: "v\n", stderr: "" });
});

Deno.test("cache set --nx, --xx and --if-version send their condition; NOT SET exits 1", async () => {
  const { fetch, calls } = cluster((_method, _url, body) => {
    const write = JSON.parse(body);
    if (write.if === "absent") return json({ error: "taken", version: "1.9" }, 412);
    if (write.if === "present") return json({ error: "not stored", version: null }, 412);
    return noContent();
  });
  assert.deepEqual(await cli(["set", "k", "v", "--nx", "--ttl", "5"], { fetch }, env), {
    code: 1,
    stdout: "NOT SET (at version 1.9)\n",
    stderr: "",
  });
  const replaced = await cli(["set", "k", "v", "--xx", "--json"], { fetch }, env);
  assert.deepEqual([replaced.code, JSON.parse(replaced.stdout)], [1, { ok: false, version: null }]);
  assert.equal(
    (await cli(["set", "k", "v", "--xx"], { fetch }, env)).stdout,
    "NOT SET (not stored)\n",
  );
  assert.deepEqual(await cli(["set", "k", "v", "--if-version", "1.9"], { fetch }, env), {
    code: 0,
    stdout: "OK\n",
    stderr: "",
  });
  assert.deepEqual(calls.map((call) => call.slice(call.indexOf("{"))), [
    '{"key":"k","value":"v","ttl":5,"if":"absent"}',
    '{"key":"k","value":"v","if":"present"}',
    '{"key":"k","value":"v","if":"present"}',
    '{"key":"k","value":"v","ifVersion":"1.9"}',
  ]);
});

Deno.test("cache incr and decr print the new value, sending the amount, TTL and request id", async () => {
  let value = 0;
  const { fetch, calls } = cluster((_method, url, body) => {
    if (url.pathname === "/keys/name/incr") {
      return json({ error: 'Key "name" does not hold a decimal integer: cannot add to it' }, 409);
    }
    value += JSON.parse(body).by;
    return json({ key: "hits", value, version: `1.${value}` });
  });
  assert.deepEqual(await cli(["incr", "hits"], { fetch }, env), {
    code: 0,
    stdout: "1\n",
    stderr: "",
  });
  const by = await cli(
    ["incr", "hits", "41", "--ttl", "60", "--request-id", "r-1"],
    { fetch },
    env,
  );
  assert.equal(by.stdout, "42\n");
  const down = await cli(["decr", "hits", "2", "--json", "--proxy"], { fetch }, env);
  assert.deepEqual(JSON.parse(down.stdout), { key: "hits", value: 40, version: "1.40" });
  assert.equal((await cli(["decr", "hits", "--", "-5"], { fetch }, env)).stdout, "45\n");
  const [first, second, third, fourth] = calls.map((call) => call.split(" "));
  assert.deepEqual(first.slice(0, 2), ["POST", "http://a:1/keys/hits/incr"]);
  assert.match(JSON.parse(first[2]).requestId, /^[0-9a-f-]{36}$/, "a new id when none is given");
  assert.deepEqual(JSON.parse(second[2]), { by: 41, ttl: 60, requestId: "r-1" });
  assert.equal(third[1], "http://m:1/keys/hits/incr", "--proxy: through the master");
  assert.equal(JSON.parse(third[2]).by, -2);
  assert.equal(JSON.parse(fourth[2]).by, 5);
  const refused = await cli(["incr", "name"], { fetch }, env);
  assert.deepEqual(refused, {
    code: 3,
    stdout: "",
    stderr: 'cache: The cluster at http://m:1 answered 409: Key "name" does not hold a decimal ' +
      "integer: cannot add to it\n",
  });
});

Deno.test("cache touch prints 1, or 0 and exits 1 for a key not stored; none sends null", async () => {
  const { fetch, calls } = cluster((_method, url) =>
    url.pathname === "/keys/gone/touch" ? json({ error: 'Key "gone" not found' }, 404) : noContent()
  );
  assert.deepEqual(await cli(["touch", "k", "30"], { fetch }, env), {
    code: 0,
    stdout: "1\n",
    stderr: "",
  });
  const gone = await cli(["touch", "gone", "none", "--json"], { fetch }, env);
  assert.deepEqual([gone.code, JSON.parse(gone.stdout)], [1, { key: "gone", touched: false }]);
  assert.deepEqual(calls, [
    'POST http://a:1/keys/k/touch {"ttl":30}',
    'POST http://a:1/keys/gone/touch {"ttl":null}',
  ]);
});

Deno.test("cache scan prints every key, following the cursors through the master", async () => {
  const pages: Record<string, unknown> = {
    "": { keys: ["user:1", "user:2"], cursor: "5" },
    "5": { keys: [], cursor: "9" },
    "9": { keys: ["user:3"], cursor: null },
  };
  const { fetch, calls } = cluster((_method, url) =>
    json(pages[url.searchParams.get("cursor") ?? ""])
  );
  assert.deepEqual(await cli(["scan", "user:", "--count", "2"], { fetch }, env), {
    code: 0,
    stdout: "user:1\nuser:2\nuser:3\n",
    stderr: "",
  });
  assert.deepEqual(calls, [
    "GET http://m:1/keys?prefix=user%3A&count=2",
    "GET http://m:1/keys?prefix=user%3A&count=2&cursor=5",
    "GET http://m:1/keys?prefix=user%3A&count=2&cursor=9",
  ]);
  const all = await cli(["scan", "--json"], { fetch }, env);
  assert.deepEqual(JSON.parse(all.stdout), { keys: ["user:1", "user:2", "user:3"] });
  assert.equal(calls[3], "GET http://m:1/keys");
});

Deno.test("cache scan and mget print a key or value that would split its line quoted", async () => {
  // A key holding a newline printed as two lines, read back as two keys.
  const { fetch } = cluster((_method, url) =>
    url.pathname === "/mget"
      ? json({
        items: [
          { key: "a\tb", value: "(nil)", version: "1.1" },
          { key: "c", value: "1\n2", version: "1.2" },
        ],
        missing: ["d"],
      })
      : json({ keys: ["a\nb", '"q', "plain"], cursor: null })
  );
  const scan = await cli(["scan"], { fetch }, env);
  assert.equal(scan.stdout, '"a\\nb"\n"\\"q"\nplain\n');
  const mget = await cli(["mget", "a\tb", "c", "d"], { fetch }, env);
  assert.equal(mget.stderr, "");
  assert.equal(mget.stdout, '"a\\tb"\t"(nil)"\nc\t"1\\n2"\nd\t(nil)\n');
});

Deno.test("cache flush --yes deletes every key through the master, or says why it may not", async () => {
  const { fetch, calls } = cluster(() => noContent());
  assert.deepEqual(await cli(["flush", "--yes"], { fetch }, env), {
    code: 0,
    stdout: "OK\n",
    stderr: "",
  });
  assert.deepEqual(calls, ["DELETE http://m:1/keys"]);
  const refused = cluster(() => json({ error: "Only an admin token may flush the cluster" }, 403));
  assert.deepEqual(await cli(["flush", "--yes"], { fetch: refused.fetch }, env), {
    code: 3,
    stdout: "",
    stderr: "cache: The cluster at http://m:1 answered 403: Only an admin token may flush the " +
      "cluster\n",
  });
});
