import assert from "node:assert/strict";
import { Auth, AuthConfigError, parseTokens, sameDigest } from "./auth.ts";

Deno.test("parseTokens() reads role:token lines, commas and both JSON shapes", () => {
  assert.deepEqual(parseTokens("# tokens\nadmin:admin-secret\n\nclient: client-secret\n"), [
    ["admin", "admin-secret"],
    ["client", "client-secret"],
  ]);
  assert.deepEqual(parseTokens("node:node-secret,client:client-secret"), [
    ["node", "node-secret"],
    ["client", "client-secret"],
  ]);
  assert.deepEqual(
    parseTokens('{"client": ["client-one", "client-two"], "admin": "admin-secret"}'),
    [
      ["client", "client-one"],
      ["client", "client-two"],
      ["admin", "admin-secret"],
    ],
  );
  assert.deepEqual(parseTokens('[{"role": "node", "token": "node-secret"}]'), [[
    "node",
    "node-secret",
  ]]);
  assert.deepEqual(parseTokens("  "), []);
});

Deno.test("parseTokens() refuses unknown roles, short tokens and broken lines", () => {
  assert.throws(() => parseTokens("root:long-enough-token"), AuthConfigError);
  assert.throws(() => parseTokens("admin:short"), /shorter than 8/);
  assert.throws(() => parseTokens("just-a-token"), /not role:token/);
  assert.throws(() => parseTokens("{broken"), /not valid JSON/);
});

Deno.test("parseTokens() names no part of a token in its refusals", () => {
  // They are printed at start, to logs a token must not reach.
  const secret = "TOPSECRET-admin-token";
  const broken = [
    `admin:x,${secret}`, // a line with no role
    `${secret}:admin`, // role and token swapped
    `{"admin": ["${secret}"],}`, // JSON with a trailing comma
    `[{"role": "${secret}", "token": "long-enough-token"}]`,
  ];
  for (const text of broken) {
    const error = (() => {
      try {
        parseTokens(text);
      } catch (error) {
        return error as Error;
      }
    })();
    assert.ok(error instanceof AuthConfigError, text);
    assert.ok(!error.message.includes("TOPSECRET"), error.message);
  }
});

Deno.test("parseTokens() refuses a JSON entry with a field left out or not a string", () => {
  // A misspelt "token" once became the token "undefined", long enough to pass.
  const misspelt = '[{"role":"admin","tokne":"long-enough-token"}]';
  assert.throws(() => parseTokens(misspelt), /entry 0's "token" is missing/);
  assert.throws(
    () => parseTokens('[{"token":"long-enough-token"}]'),
    /entry 0's "role" is missing/,
  );
  assert.throws(() => parseTokens('{"admin":[12345678901]}'), /"admin" token is not a string/);
  assert.throws(() => parseTokens('{"admin":null}'), /"admin" token is not a string/);
  assert.throws(
    () => parseTokens('[{"role":"node","token":"long-enough-token","address":8081}]'),
    /entry 0's "address" is not a string/,
  );
});

Deno.test("parseTokens() takes a node token's address as an origin, and refuses one that is not", () => {
  const tokens = (address: string) =>
    parseTokens(JSON.stringify([{ role: "node", token: "node-secret", address }]));
  assert.deepEqual(tokens("http://Node-0:80/"), [["node", "node-secret", "http://node-0"]]);
  assert.deepEqual(tokens("https://127.0.0.1:8081"), [
    ["node", "node-secret", "https://127.0.0.1:8081"],
  ]);
  for (const bad of ["not a url at all", "http://node-0:8081/path", "ftp://node-0"]) {
    assert.throws(() => tokens(bad), /not an http\(s\) URL with no path/, bad);
  }
});

Deno.test("Auth knows each token's role, and keeps only digests", async () => {
  const auth = await Auth.from([["admin", "admin-secret"], ["client", "client-secret"]]);
  assert.equal(await auth.role("Bearer admin-secret"), "admin");
  assert.equal(await auth.role("bearer client-secret"), "client");
  assert.equal(await auth.role("Bearer wrong-secret"), undefined);
  assert.equal(await auth.role("Basic YWRtaW4="), undefined);
  assert.equal(await auth.role(undefined), undefined);
  assert.doesNotMatch(Deno.inspect(auth, { depth: 10 }), /secret/);
});

Deno.test("Auth takes blanks around a token, and none from two Authorization headers joined", async () => {
  // As docs/security.md says: `Deno.serve` (--http-server deno) joins two headers with ", ".
  const auth = await Auth.from([["admin", "admin-secret"]]);
  assert.equal(await auth.role("BEARER \tadmin-secret  "), "admin");
  const two = new Headers([["authorization", "Bearer admin-secret"]]);
  two.append("authorization", "Bearer admin-secret");
  assert.equal(await auth.role(two.get("authorization") ?? undefined), undefined);
});

Deno.test("Auth with no tokens lets everything through", async () => {
  const open = await Auth.from([]);
  assert.equal(open.enabled, false);
  assert.equal(await open.role(undefined), "admin");
});

Deno.test("sameDigest() is true only for the same bytes, wherever they differ", () => {
  const digest = new Uint8Array(32).map((_, i) => i);
  assert.equal(sameDigest(digest, digest.slice()), true);
  for (const at of [0, 15, 31]) {
    const other = digest.slice();
    other[at] ^= 0x80;
    assert.equal(sameDigest(digest, other), false, `differs at byte ${at}`);
  }
  assert.equal(sameDigest(digest, digest.subarray(0, 31)), false);
  assert.equal(sameDigest(digest.subarray(0, 31), digest), false);
});
