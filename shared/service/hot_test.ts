// The hot path against the app it serves ahead of: same answers, access checks, headers, metrics.

import assert from "node:assert/strict";
import { NO_CONTENT, toResponse } from "@cache/http1/answer";
import { silentLogger as log } from "@cache/log/log";
import { HttpError } from "@cache/protocol/errors";
import { keySegment } from "@cache/protocol/key_path";
import { keyRoutes } from "@cache/protocol/key_routes";
import { createApi } from "./api.ts";
import { type AccessRules, Auth, protect, roleOf } from "./auth.ts";
import { HotPath } from "./hot.ts";
import { Metrics } from "./metrics.ts";

const RULES: AccessRules = [[["/keys/*"], ["client"]]];

/** An app with the key routes, hot, over a map; `auth` as given. */
async function setup(options: { tokens?: boolean; read?: (key: string) => never } = {}) {
  const metrics = new Metrics();
  const auth = await Auth.from(
    options.tokens ? [["client", "client-token"], ["node", "node-token"]] : [],
  );
  const headers = () => ({ "x-ring-epoch": "7" });
  const app = createApi({
    title: "t",
    description: "",
    maxBodyBytes: 1024,
    log,
    metrics,
    headers,
    guard: (app) => protect(app, auth, RULES),
  });
  const hot = new HotPath(app, {
    metrics,
    log,
    auth,
    rules: RULES,
    maxBodyBytes: 1024,
    headers,
  });
  const values = new Map<string, string>();
  const roles: (string | undefined)[] = [];
  hot.get(keyRoutes.get, ({ key }) => {
    if (options.read) options.read(key);
    const value = values.get(key);
    return value === undefined
      ? Response.json({ error: "missing" }, { status: 404 })
      : { status: 200, contentType: "application/json", body: JSON.stringify({ key, value }) };
  });
  hot.post(keyRoutes.set, (write, request) => {
    roles.push(roleOf(request));
    values.set(write.key, write.value);
    return NO_CONTENT;
  });
  /** The hot path's answer, which it must give. */
  const served = async (request: Request) => {
    const answer = hot.serve(request);
    assert.ok(answer, `${request.method} ${request.url} is taken`);
    return toResponse(await answer);
  };
  return { app, hot, metrics, values, roles, served };
}

/** What a client sees of an answer. */
async function seen(response: Response) {
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    epoch: response.headers.get("x-ring-epoch"),
    challenge: response.headers.get("www-authenticate"),
    body: await response.text(),
  };
}

function post(path: string, body: unknown, token?: string): Request {
  const text = JSON.stringify(body);
  return new Request(`http://h:1${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "content-length": String(new TextEncoder().encode(text).byteLength),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: text,
  });
}

Deno.test("HotPath answers as the app does, with its headers, and counts where the app counts", async () => {
  const { app, values, metrics, served } = await setup();
  values.set("user:42", "Ada");
  for (const path of ["/keys/user:42", "/keys/missing"]) {
    const byApp = await seen(await app.request(path));
    const byHot = await seen(await served(new Request(`http://h:1${path}`)));
    assert.deepEqual(byHot, byApp, path);
    assert.equal(byHot.epoch, "7");
  }
  const text = metrics.render();
  assert.match(text, /http_requests_total\{method="GET",route="\/keys\/\{key\}",status="200"\} 2/);
  assert.equal(text.match(/# TYPE http_requests_total/g)?.length, 1, "one family, not two");
});

Deno.test("HotPath leaves every request it cannot answer exactly to the app", async () => {
  const { hot } = await setup({ read: () => assert.fail("must not read") as never });
  for (
    const [method, path] of [
      ["PUT", "/keys/a"],
      ["DELETE", "/keys/a"],
      ["GET", "/keys/"],
      ["GET", "/keys/a/b"],
      ["GET", "/keys/caf%C3%A9"], // needs decoding
      ["GET", "/keys/a?x=1"],
      ["GET", "/keysa"],
      ["GET", "/nodes"],
      ["GET", `/keys/${"k".repeat(1025)}`], // over the key limit: the app answers 400
      ["POST", "/keys?x=1"],
      ["POST", "/mget"],
    ]
  ) {
    assert.equal(hot.serve(new Request(`http://h:1${path}`, { method })), undefined, path);
  }
  const chunked = new Request("http://h:1/keys", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: '{"key":"a","value":"1"}',
  });
  assert.equal(hot.serve(chunked), undefined, "no declared length: the app's body limit");
});

Deno.test("HotPath takes every key keySegment() leaves as it is", async () => {
  const { served } = await setup();
  for (const key of ["user:42", "a@b", "k=v;w", "x$y&z", "1+1,2", "~._-!*'()"]) {
    assert.equal((await served(new Request(`http://h:1/keys/${keySegment(key)}`))).status, 404);
  }
});

Deno.test("HotPath hands a body the schema refuses to the app, for its exact 400", async () => {
  const { app, values, served } = await setup();
  for (const body of [{ key: "a" }, { key: "", value: "1" }, "not an object"]) {
    const byApp = await seen(await app.request(post("/keys", body)));
    const byHot = await seen(await served(post("/keys", body)));
    assert.deepEqual(byHot, byApp, JSON.stringify(body));
    assert.equal(byHot.status, 400);
  }
  assert.equal(values.size, 0);
  assert.equal((await served(post("/keys", { key: "a", value: "1" }))).status, 204);
  assert.equal(values.get("a"), "1");
});

Deno.test("HotPath turns a thrown HttpError into its body, and a bug into a 500", async () => {
  const failing = (error: Error) =>
    setup({
      read: () =>
        (() => {
          throw error;
        })() as never,
    });
  const busy = await failing(new HttpError(503, "No node is up to own the key"));
  const answer = await busy.served(new Request("http://h:1/keys/k"));
  assert.equal(answer.status, 503);
  assert.deepEqual(await answer.json(), { error: "No node is up to own the key" });
  const bug = await failing(new TypeError("oops"));
  const crashed = await bug.served(new Request("http://h:1/keys/k"));
  assert.equal(crashed.status, 500);
  assert.deepEqual(await crashed.json(), { error: "Internal server error" });
});

Deno.test("HotPath checks tokens as the app does: 401 without one, 403 for the wrong role", async () => {
  const { app, values, roles, served } = await setup({ tokens: true });
  values.set("a", "1");
  const read = (token?: string) =>
    new Request("http://h:1/keys/a", {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  for (const token of [undefined, "wrong-token", "node-token", "client-token"]) {
    const byApp = await seen(await app.request(read(token)));
    const byHot = await seen(await served(read(token)));
    assert.deepEqual(byHot, byApp, String(token));
  }
  assert.equal((await served(read())).status, 401);
  assert.equal((await served(read("node-token"))).status, 403);
  assert.equal((await served(read("client-token"))).status, 200);

  assert.equal((await served(post("/keys", { key: "b", value: "2" }, "node-token"))).status, 403);
  assert.equal(values.has("b"), false, "a refused write changes nothing");
  assert.equal((await served(post("/keys", { key: "b", value: "2" }, "client-token"))).status, 204);
  assert.deepEqual(roles, ["client"], "the handler sees the role the token was let in with");
});

Deno.test("HotPath reads a body-less request from its head alone, token included", async () => {
  const { hot, values } = await setup({ tokens: true });
  values.set("a", "1");
  const head = (authorization?: string) => ({
    method: "GET",
    url: "http://h:1/keys/a",
    headers: { get: (name: string) => name === "authorization" ? authorization ?? null : null },
  });
  assert.equal((await hot.serve(head()))?.status, 401);
  assert.equal((await hot.serve(head("Bearer client-token")))?.status, 200);
});

Deno.test("HotPath takes a write given as its head and whole body, and leaves one it cannot take", async () => {
  const { hot, values, roles } = await setup({ tokens: true });
  const lite = (body: string, token = "client-token") => {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "content-length": String(body.length),
      authorization: `Bearer ${token}`,
    };
    return {
      method: "POST",
      url: "http://h:1/keys",
      headers: { get: (name: string) => headers[name] ?? null },
      wholeBody: new TextEncoder().encode(body),
    };
  };
  const answer = hot.serve(lite('{"key":"a","value":"1"}'));
  // Its parts, for the server to write as they are, with the app's headers added; at once, as the
  // handler gave it, for the server to count before it makes the next request's answer.
  assert.deepEqual(answer, { status: 204, body: "", headers: { "x-ring-epoch": "7" } });
  assert.equal(values.get("a"), "1");
  assert.deepEqual(roles, ["client"], "the handler sees the role the token was let in with");
  assert.equal((await hot.serve(lite('{"key":"b","value":"2"}', "node-token")))?.status, 403);
  assert.equal(values.has("b"), false);
  // At once, not later: the server then builds the Request whose refusal the app writes.
  assert.equal(hot.serve(lite('{"key":"b"}')), undefined);
  assert.equal(hot.serve(lite("{")), undefined);
});

Deno.test("HotPath reads a body with a route's bytes reader first, and leaves the rest to JSON", async () => {
  const metrics = new Metrics();
  const app = createApi({ title: "t", description: "", maxBodyBytes: 1024, log, metrics });
  const hot = new HotPath(app, { metrics, log, maxBodyBytes: 1024 });
  const seen: string[] = [];
  // Reads only bodies that start with "{" and a quote; the reader's result carries no value.
  const read = (bytes: Uint8Array) => bytes[1] === 0x22 ? { key: "from bytes" } : undefined;
  hot.post(keyRoutes.set, (write, _request, text) => {
    seen.push(`${write.key} ${"value" in write ? write.value : "-"} ${text()}`);
    return new Response(null, { status: 204 });
  }, read);
  const serve = async (body: string) => {
    const length = String(new TextEncoder().encode(body).byteLength);
    const headers = { "content-type": "application/json", "content-length": length };
    const answer = hot.serve(new Request("http://h:1/keys", { method: "POST", headers, body }));
    return answer && toResponse(await answer).status;
  };
  assert.equal(await serve('{"key":"k","value":"v"}'), 204);
  assert.equal(await serve(' {"key":"j","value":"w"}'), 204); // the reader's undefined: JSON's
  assert.equal(await serve(' {"key":"j"}'), 400); // and the app's refusal
  assert.deepEqual(seen, [
    'from bytes - {"key":"k","value":"v"}',
    'j w  {"key":"j","value":"w"}',
  ]);
});
