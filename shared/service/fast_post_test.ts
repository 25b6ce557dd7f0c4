import assert from "node:assert/strict";
import { HttpError } from "../protocol/errors.ts";
import { type Fallback, fastJsonPost } from "./fast_post.ts";
import { silentLogger as log } from "../log/log.ts";
import { Metrics } from "./metrics.ts";
import { observeRequests } from "./observe.ts";
import { MGetRequest } from "../protocol/wire.ts";

const MAX_BODY_BYTES = 100;

type Handle = (body: { keys: string[] }, request: Request) => Response | Promise<Response>;

function setup(handle: Handle = ({ keys }) => Response.json({ items: [], missing: keys })) {
  const metrics = new Metrics();
  observeRequests(metrics); // the app's middleware, registered first as in createApi
  const handled: { keys: string[] }[] = [];
  const fast = fastJsonPost({
    path: "/mget",
    schema: MGetRequest,
    maxBodyBytes: MAX_BODY_BYTES,
    metrics,
    log,
    handle: (body, request) => {
      handled.push(body);
      return handle(body, request);
    },
  });
  return { metrics, fast, handled };
}

/** A POST as a client sends it: a declared length and a JSON content type. */
function post(body: string, headers: Record<string, string> = {}, path = "/mget"): Request {
  return new Request(`http://127.0.0.1:8080${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "content-length": String(new TextEncoder().encode(body).byteLength),
      ...headers,
    },
    body,
  });
}

/** A valid /mget body of exactly `bytes` bytes. */
const ofBytes = (bytes: number) => `{"keys":["${"k".repeat(bytes - '{"keys":[""]}'.length)}"]}`;

const noFallback: Fallback = () => {
  throw new Error("must not fall back");
};

Deno.test("fastJsonPost() answers a valid body with handle and counts it where the app counts", async () => {
  const { metrics, fast, handled } = setup();
  const answer = await fast(post('{"keys":["a","b"]}'), noFallback)!;
  assert.equal(answer.status, 200);
  assert.deepEqual(await answer.json(), { items: [], missing: ["a", "b"] });
  assert.deepEqual(handled, [{ keys: ["a", "b"] }]);
  const charset = await fast(
    post('{"keys":["c"]}', { "content-type": "application/json; charset=utf-8" }),
    noFallback,
  )!;
  assert.deepEqual(await charset.json(), { items: [], missing: ["c"] });
  const text = metrics.render();
  assert.match(text, /http_requests_total\{method="POST",route="\/mget",status="200"\} 2/);
  assert.equal(text.match(/# TYPE http_requests_total/g)?.length, 1, "one family, not two");
});

Deno.test("fastJsonPost() leaves every request it does not take to the app", async () => {
  const { metrics, fast, handled } = setup();
  const body = '{"keys":["a"]}';
  const chunked = new Request("http://h:1/mget", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: new Blob([body]).stream(),
  });
  const requests: [string, Request][] = [
    ["GET", new Request("http://h:1/mget", { headers: post("").headers })],
    ["PUT", new Request("http://h:1/mget", { method: "PUT", headers: post(body).headers, body })],
    ["another path", post(body, {}, "/mset")],
    ["a longer path", post(body, {}, "/mget/x")],
    ["a path that starts the same", post(body, {}, "/mgetx")],
    ["a query string", post(body, {}, "/mget?x=1")],
    ["no content-length", chunked],
    ["content-length over the limit", post(ofBytes(MAX_BODY_BYTES + 1))],
    ["a text body", post(body, { "content-type": "text/plain" })],
    ["a form body", post(body, { "content-type": "application/x-www-form-urlencoded" })],
    // JSON types the app judges by its own rules (it refuses some of these with 415).
    ["a json type with a bare ;", post(body, { "content-type": "application/json;" })],
    ["a json type with a suffix", post(body, { "content-type": "application/json-foo" })],
    ["a json type with a list", post(body, { "content-type": "application/json, text/plain" })],
    ["a +json type", post(body, { "content-type": "application/merge-patch+json" })],
  ];
  for (const [what, request] of requests) {
    assert.equal(fast(request, noFallback), undefined, what);
  }
  const typeless = post(body);
  typeless.headers.delete("content-type");
  assert.equal(fast(typeless, noFallback), undefined, "no content type");
  // A body of exactly the limit is taken: one byte more is what refused above.
  assert.equal((await fast(post(ofBytes(MAX_BODY_BYTES)), noFallback)!).status, 200);
  assert.equal(handled.length, 1);
  assert.doesNotMatch(metrics.render(), /status="(?!200)/);
});

Deno.test("fastJsonPost() hands a body it refuses to the app with the same method, headers and text", async () => {
  const { metrics, fast, handled } = setup();
  for (
    const body of [
      "not json",
      '{"keys":[]}', // the schema's minimum
      '{"keys":["a"],"extra":1}', // a strict object
      '{"keys":["é"]', // cut short, with a multi-byte character
      "null",
    ]
  ) {
    const sent = post(body, { "x-ring-epoch": "7", "x-request-id": "r1" });
    const expected = { url: sent.url, method: sent.method, headers: [...sent.headers] };
    const seen: { url: string; method: string; headers: [string, string][]; text: string }[] = [];
    const fallback: Fallback = async (request) => {
      seen.push({
        url: request.url,
        method: request.method,
        headers: [...request.headers],
        text: await request.text(),
      });
      return Response.json({ error: "from the app" }, { status: 400 });
    };
    const answer = await fast(sent, fallback)!;
    assert.equal(answer.status, 400, body);
    assert.deepEqual(await answer.json(), { error: "from the app" }, body);
    assert.deepEqual(seen, [{ ...expected, text: body }], body);
  }
  assert.deepEqual(handled, []);
  assert.doesNotMatch(metrics.render(), /route="\/mget"/, "the app counts what it answers");
});

Deno.test("fastJsonPost() turns a thrown HttpError into the app's error body and status", async () => {
  for (
    const handle of [
      () => {
        throw new HttpError(503, "No node is up to own the key");
      },
      () => Promise.reject(new HttpError(503, "No node is up to own the key")),
    ]
  ) {
    const { metrics, fast } = setup(handle);
    const answer = await fast(post('{"keys":["a"]}'), noFallback)!;
    assert.equal(answer.status, 503);
    assert.deepEqual(await answer.json(), { error: "No node is up to own the key" });
    assert.match(
      metrics.render(),
      /http_requests_total\{method="POST",route="\/mget",status="503"\} 1/,
    );
  }
});

Deno.test("fastJsonPost() answers any other thrown error with a 500", async () => {
  const { fast } = setup(() => {
    throw new Error("bug");
  });
  const answer = await fast(post('{"keys":["a"]}'), noFallback)!;
  assert.equal(answer.status, 500);
  assert.deepEqual(await answer.json(), { error: "Internal server error" });
});
