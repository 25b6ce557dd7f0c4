// /metrics on the master and a node move by exactly the operations done.

import assert from "node:assert/strict";
import { parseMetrics } from "@cache/service/metrics";
import { inProcessCluster } from "../../tests/support/in_process.ts";

const put = (key: string): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ key, value: "v" }),
});

Deno.test("master and node metrics count exactly the requests made", async () => {
  const { master, nodeApps } = inProcessCluster(1);
  const scrape = async (app: typeof master) =>
    parseMetrics(await (await app.request("/metrics")).text());
  for (let i = 0; i < 5; i++) await master.request("/keys", put(`k${i}`));
  for (let i = 0; i < 3; i++) await master.request(`/keys/k${i}`);
  await master.request("/keys/missing");
  await master.request("/nope");

  const m = await scrape(master);
  assert.equal(m.get('http_requests_total{method="POST",route="/keys",status="204"}'), 5);
  assert.equal(m.get('http_requests_total{method="GET",route="/keys/{key}",status="200"}'), 3);
  assert.equal(m.get('http_requests_total{method="GET",route="/keys/{key}",status="404"}'), 1);
  assert.equal(m.get('http_requests_total{method="GET",route="unmatched",status="404"}'), 1);
  assert.equal(m.get('http_request_duration_seconds_count{method="POST",route="/keys"}'), 5);
  assert.equal(m.get('forwarded_request_duration_seconds_count{node="http://node-0:8081"}'), 9);
  assert.equal(m.get('cluster_nodes{status="up"}'), 1);
  assert.equal(m.get('cluster_nodes{status="leaving"}'), 0);
  assert.equal(m.get('cluster_nodes{status="down"}'), 0);
  assert.equal(m.get("ring_epoch"), 1);
  assert.equal(m.get('breaker_state{node="http://node-0:8081"}'), 0);

  const n = await scrape(nodeApps.get("http://node-0:8081")!);
  assert.equal(n.get("cache_keys"), 5);
  assert.equal(n.get("cache_hits_total"), 3);
  assert.equal(n.get("cache_misses_total"), 1);
  assert.equal(n.get("cache_evictions_total"), 0);
  assert.equal(n.get('http_requests_total{method="POST",route="/keys",status="204"}'), 5);
});

Deno.test("master counts failures per node and shows an open breaker", async () => {
  const { master, registry } = inProcessCluster(0, 1024, { breakerFailures: 2 });
  registry.heartbeat("http://vanished:8081");
  for (let i = 0; i < 3; i++) await master.request(`/keys/k${i}`);
  const m = parseMetrics(await (await master.request("/metrics")).text());
  const node = 'node="http://vanished:8081"';
  assert.equal(m.get(`forwarded_request_failures_total{${node},reason="unreachable"}`), 2);
  assert.equal(m.get(`forwarded_request_failures_total{${node},reason="breaker_open"}`), 1);
  assert.equal(m.get(`breaker_state{${node}}`), 1);
  // Forgotten: no series of it is kept, however many nodes come and go.
  registry.deregister("http://vanished:8081");
  const after = await (await master.request("/metrics")).text();
  assert.ok(!after.includes("vanished"), after);
  assert.ok(after.includes("# TYPE forwarded_request_failures_total counter"));
});

Deno.test("master keeps no series of a forgotten node that reads of moving keys still call", async () => {
  const { master, registry, calls } = inProcessCluster(1, 1024, { breakerFailures: 100 });
  registry.heartbeat("http://vanished:8081");
  // Deregistered while up: the ring it left stays unsettled, so reads of its keys still try it.
  registry.deregister("http://vanished:8081");
  assert.ok(!registry.settled);
  calls.length = 0;
  for (let i = 0; i < 20; i++) await master.request(`/keys/k${i}`);
  assert.ok(calls.some((call) => call.includes("vanished")), "the reads called it");
  const after = await (await master.request("/metrics")).text();
  assert.ok(!after.includes('node="http://vanished:8081"'), after);
  assert.ok(after.includes('forwarded_request_duration_seconds_count{node="http://node-0:8081"}'));
});
