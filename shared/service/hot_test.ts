import assert from "node:assert/strict";
import { fastKeyGet } from "./fast_get.ts";
import { HttpError } from "../protocol/errors.ts";
import { silentLogger as log } from "../log/log.ts";
import { Metrics } from "./metrics.ts";
import { observeRequests } from "./observe.ts";

function setup(read: (key: string) => Response | Promise<Response>) {
  const metrics = new Metrics();
  observeRequests(metrics); // the app's middleware, registered first as in createApi
  return { metrics, fast: fastKeyGet({ read, metrics, log }) };
}

Deno.test("fastKeyGet() answers plain keys and counts them where the app counts", async () => {
  const { metrics, fast } = setup((key) => Response.json({ key, value: "v" }));
  const answer = await fast(new Request("http://127.0.0.1:8080/keys/user:42"))!;
  assert.deepEqual(await answer.json(), { key: "user:42", value: "v" });
  const text = metrics.render();
  assert.match(text, /http_requests_total\{method="GET",route="\/keys\/\{key\}",status="200"\} 1/);
  assert.equal(text.match(/# TYPE http_requests_total/g)?.length, 1, "one family, not two");
});

Deno.test("fastKeyGet() leaves every other request to the app", () => {
  const { fast } = setup(() => {
    throw new Error("must not read");
  });
  for (
    const [method, path] of [
      ["POST", "/keys/a"],
      ["GET", "/keys/"],
      ["GET", "/keys/a/b"],
      ["GET", "/keys/caf%C3%A9"], // needs decoding
      ["GET", "/keys/a?x=1"],
      ["GET", "/keysa"],
      ["GET", "/nodes"],
      ["GET", `/keys/${"k".repeat(1025)}`], // over the key limit: the app answers 400
    ]
  ) {
    assert.equal(
      fast(new Request(`http://h:1${path}`, { method })),
      undefined,
      `${method} ${path}`,
    );
  }
});

Deno.test("fastKeyGet() turns a thrown HttpError into the app's error body", async () => {
  const { fast } = setup(() => {
    throw new HttpError(503, "No node is up to own the key");
  });
  const answer = await fast(new Request("http://h:1/keys/k"))!;
  assert.equal(answer.status, 503);
  assert.deepEqual(await answer.json(), { error: "No node is up to own the key" });
});
