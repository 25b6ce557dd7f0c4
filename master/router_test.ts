import assert from "node:assert/strict";
import { HttpError } from "../shared/errors.ts";
import type { Fetch } from "../shared/fetch.ts";
import { Ring } from "../shared/ring.ts";
import { Router } from "./router.ts";

const ring = new Ring(["http://a:1", "http://b:1"]);

Deno.test("Router.forward() sends the request to the key's owner and relays its answer", async () => {
  const calls: string[] = [];
  const fetch: Fetch = (input, init) => {
    calls.push(`${init?.method ?? "GET"} ${input}`);
    return Promise.resolve(Response.json({ key: "k", value: "v" }, { status: 200 }));
  };
  const router = new Router({ ring: () => ring, fetch, timeoutMs: 100 });
  const answer = await router.forward("k", "/keys/k");
  assert.equal(answer.status, 200);
  assert.deepEqual(await answer.json(), { key: "k", value: "v" });
  assert.deepEqual(calls, [`GET ${ring.owner("k")}/keys/k`]);
});

async function failure(router: Router): Promise<HttpError> {
  const error = await router.forward("k", "/keys/k").catch((e) => e);
  assert.ok(error instanceof HttpError, String(error));
  return error;
}

Deno.test("Router.forward() answers 503 when no node is up", async () => {
  const router = new Router({ ring: () => new Ring(), fetch, timeoutMs: 100 });
  assert.equal((await failure(router)).status, 503);
});

Deno.test("Router.forward() answers 502 when the owner refuses the connection", async () => {
  const fetch: Fetch = () => Promise.reject(new TypeError("Connection refused"));
  const error = await failure(new Router({ ring: () => ring, fetch, timeoutMs: 100 }));
  assert.equal(error.status, 502);
  assert.match(error.message, /unreachable: Connection refused/);
});

Deno.test("Router.forward() answers 504 when the owner does not answer in time", async () => {
  const hang: Fetch = (_input, init) =>
    new Promise((_resolve, reject) =>
      init?.signal?.addEventListener("abort", () => reject(init.signal!.reason))
    );
  const error = await failure(new Router({ ring: () => ring, fetch: hang, timeoutMs: 20 }));
  assert.equal(error.status, 504);
  assert.match(error.message, /did not answer within 20 ms/);
});
