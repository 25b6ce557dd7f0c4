// Traces across the master → node hop, and circuit breakers against a hung node, on processes.

import assert from "node:assert/strict";
import { parseMetrics } from "@cache/service/metrics";
import { get, nodesOf, Processes, put, ready, waitFor } from "../support/process.ts";

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  service: string;
}

/** A tiny OTLP/HTTP (JSON) receiver on 127.0.0.1 that keeps every span it is sent. */
function otlpReceiver() {
  const spans: Span[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const body = await request.json().catch(() => ({}));
    for (const resource of body.resourceSpans ?? []) {
      const service = resource.resource.attributes
        .find((a: { key: string }) => a.key === "service.name")?.value.stringValue;
      for (const scope of resource.scopeSpans) {
        for (const span of scope.spans) spans.push({ ...span, service });
      }
    }
    return Response.json({});
  });
  return { spans, url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

Deno.test("one GET through the master is one trace across master and node", async () => {
  const receiver = otlpReceiver();
  const otel = {
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_BSP_SCHEDULE_DELAY: "100",
  };
  const master = new Processes({ ...otel, OTEL_SERVICE_NAME: "master" });
  const nodes = new Processes({ ...otel, OTEL_SERVICE_NAME: "node" });
  try {
    const m = await master.master();
    await ready((await nodes.node(m.url)).url);
    await waitFor(async () => (await nodesOf(m.url)).length === 1, "node registered");
    assert.equal(await put(m.url, "traced", "v"), 204);
    assert.equal(await get(m.url, "traced"), "v");

    const named = (service: string) => (s: Span) =>
      s.service === service && s.name === "GET /keys/{key}";
    const [masterSpan, nodeSpan] = await waitFor(() => {
      const server = receiver.spans.find(named("master"));
      const node = server &&
        receiver.spans.find((s) => named("node")(s) && s.traceId === server.traceId);
      return Promise.resolve(node && [server, node]);
    }, "spans of the GET exported by both services");
    // node server span → master's fetch (client) span → master server span, in one trace.
    const hop = receiver.spans.find((s) => s.spanId === nodeSpan.parentSpanId);
    assert.ok(hop, "the node's parent span was exported by the master");
    assert.equal(hop.service, "master");
    assert.equal(hop.traceId, masterSpan.traceId);
    assert.equal(hop.parentSpanId, masterSpan.spanId);
  } finally {
    await master.stopAll();
    await nodes.stopAll();
    await receiver.close();
  }
});

Deno.test("a hung node trips its breaker: timeouts, then fast 503s, then recovery", async () => {
  const processes = new Processes();
  try {
    const master = await processes.master({
      args: [
        "--node-timeout-ms=300",
        "--breaker-failures=3",
        "--breaker-cooldown-ms=1000",
        "--failure-timeout-ms=60000", // the stopped node stays on the ring
      ],
    });
    const node = await processes.node(master.url);
    await waitFor(async () => (await nodesOf(master.url)).length === 1, "node registered");
    await ready(node.url);
    assert.equal(await put(master.url, "k", "v"), 204);

    Deno.kill(node.pid, "SIGSTOP"); // it hangs; its connections stay open
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const answer = await fetch(`${master.url}/keys/k`);
      assert.equal(answer.status, 504, await answer.text());
      const took = performance.now() - started;
      assert.ok(took >= 290 && took < 700, `answered at the 300 ms node timeout, in ${took} ms`);
    }
    const times: number[] = [];
    for (let i = 0; i < 50; i++) {
      const started = performance.now();
      const answer = await fetch(`${master.url}/keys/k`);
      times.push(performance.now() - started);
      assert.equal(answer.status, 503);
      assert.match((await answer.json()).error, /circuit breaker is open/);
    }
    times.sort((a, b) => a - b);
    const p99 = times[Math.ceil(times.length * 0.99) - 1];
    console.log(`  fail-fast p99 while open: ${p99.toFixed(1)} ms`);
    assert.ok(p99 < 50, `p99 ${p99} ms`);

    Deno.kill(node.pid, "SIGCONT");
    const back = await waitFor(
      async () => {
        const answer = await fetch(`${master.url}/keys/k`);
        return answer.status === 200 && await answer.json();
      },
      "traffic back after the cooldown",
      5000,
    );
    assert.deepEqual({ ...back, version: "any" }, { key: "k", value: "v", version: "any" });
    const metrics = parseMetrics(await (await fetch(`${master.url}/metrics`)).text());
    assert.equal(metrics.get(`breaker_state{node="${node.address}"}`), 0);
    for (const event of ["breaker opened", "breaker half-open", "breaker closed"]) {
      assert.ok(master.logs.some((line) => line.msg === event), `logs "${event}"`);
    }
  } finally {
    await processes.stopAll();
  }
});
