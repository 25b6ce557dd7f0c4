import assert from "node:assert/strict";
import { HttpError } from "@cache/protocol/errors";
import type { Fetch, PeerFetch } from "./fetch.ts";
import { headerOf, type PeerRequest, type RawAnswer, SentThenRefused } from "./messages.ts";
import { callPeer, peerResponse } from "./peer.ts";
import { http1Fetch } from "./client.ts";

const failure = async (fetch: Fetch, timeoutMs = 100) => {
  const error = await callPeer(fetch, "http://n:1", "/x", {}, timeoutMs).catch((e) => e);
  assert.ok(error instanceof HttpError, String(error));
  return error;
};

Deno.test("callPeer() returns any status with the whole body read", async () => {
  const fetch: Fetch = (input) =>
    Promise.resolve(Response.json({ at: String(input) }, { status: 409 }));
  const answer = await callPeer(fetch, "http://n:1", "/x", {}, 100);
  assert.equal(answer.status, 409);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(answer.body)), { at: "http://n:1/x" });
});

Deno.test("callPeer() answers 502 for a peer it cannot reach", async () => {
  const error = await failure(() => Promise.reject(new TypeError("Connection refused")));
  assert.equal(error.status, 502);
  assert.equal(error.message, "Node http://n:1 is unreachable: Connection refused");
});

Deno.test("callPeer() says a call refused before it was sent was not sent", async () => {
  // A real refusal: nothing listens on a port just freed.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const node = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  listener.close();
  const refused = await callPeer(http1Fetch(), node, "/x", {}, 1000).catch((e) => e);
  assert.equal(refused.status, 502);
  assert.deepEqual(refused.details, { sent: false });
  // Sent on a kept-alive connection that closed, then refused anew: it may have been taken.
  const taken = await failure(() => Promise.reject(new SentThenRefused(new Error("refused"))));
  assert.deepEqual(taken.details, {});
});

Deno.test("callPeer() answers 504 when the answer's body stalls past the deadline", async () => {
  const stalled: Fetch = (_input, init) => {
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("{"));
        init?.signal?.addEventListener("abort", () => controller.error(init.signal!.reason));
      },
    });
    return Promise.resolve(new Response(body));
  };
  const error = await failure(stalled, 20);
  assert.equal(error.status, 504);
  assert.equal(error.message, "Node http://n:1 did not answer within 20 ms");
});

Deno.test("callPeer() answers 504 on time from a fetch that ignores its abort signal", async () => {
  const deaf: Fetch = () => new Promise(() => {});
  const error = await failure(deaf, 20);
  assert.equal(error.status, 504);
  const body = new ReadableStream({ start: (c) => c.enqueue(new Uint8Array([123])) });
  const deafBody: Fetch = () => Promise.resolve(new Response(body));
  assert.equal((await failure(deafBody, 20)).status, 504);
});

Deno.test("callPeer() calls a PeerFetch's exchange, not its fetch, under the same deadline", async () => {
  const seen: unknown[] = [];
  const refuse: Fetch = () => Promise.reject(new Error("fetch was called"));
  const fetch: PeerFetch = Object.assign(refuse, {
    exchange: (origin: string, request: PeerRequest): Promise<RawAnswer> => {
      seen.push({ origin, ...request, signal: request.signal instanceof AbortSignal });
      return Promise.resolve({ status: 200, headers: [["x-epoch", "4"]], body: new Uint8Array() });
    },
  });
  const init = { method: "POST", headers: { "content-type": "text/plain" }, body: "b" };
  const answer = await callPeer(fetch, "http://n:1", "/x", init, 100);
  assert.equal(headerOf(answer, "x-epoch"), "4");
  assert.equal(headerOf(answer, "content-type"), null);
  assert.deepEqual(seen, [{ origin: "http://n:1", path: "/x", ...init, signal: true }]);

  const stalled = Object.assign(fetch, {
    exchange: (_origin: string, request: PeerRequest) =>
      new Promise<never>((_, reject) =>
        request.signal!.addEventListener("abort", () => reject(request.signal!.reason))
      ),
  });
  const error = await failure(stalled, 20);
  assert.equal(error.status, 504);
});

Deno.test("peerResponse() passes on JSON as it came, and anything else labelled JSON", async () => {
  const answer = (type: string): RawAnswer => ({
    status: 200,
    headers: [["content-type", type]],
    body: new TextEncoder().encode("<html>hello</html>"),
  });
  const type = (given: string) => peerResponse(answer(given)).headers.get("content-type");
  assert.equal(type("application/json; charset=UTF-8"), "application/json; charset=UTF-8");
  // A host registered as a node that is not one must not serve a page from this origin.
  assert.equal(type("text/html"), "application/json");
  assert.equal(type("application/jsonx"), "application/json");
  const odd = peerResponse(answer("text/\u20ac")); // past one byte: Headers would throw
  assert.equal(odd.headers.get("content-type"), "application/json");
  assert.equal(await odd.text(), "<html>hello</html>");
});
