import assert from "node:assert/strict";
import { Metrics, parseMetrics } from "./metrics.ts";

Deno.test("Metrics.render() writes counters, gauges and histograms in the text format", () => {
  const metrics = new Metrics();
  const requests = metrics.counter("requests_total", "Requests served");
  requests.inc({ route: "/keys", status: "204" });
  requests.inc({ route: "/keys", status: "204" }, 2);
  metrics.gauge("keys", "Keys stored", () => [[{}, 7]]);
  const duration = metrics.histogram("duration_seconds", "Time taken", [0.1, 1]);
  duration.observe({ route: "/keys" }, 0.05);
  duration.observe({ route: "/keys" }, 0.5);
  duration.observe({ route: "/keys" }, 3);
  assert.equal(
    metrics.render(),
    [
      "# HELP requests_total Requests served",
      "# TYPE requests_total counter",
      'requests_total{route="/keys",status="204"} 3',
      "# HELP keys Keys stored",
      "# TYPE keys gauge",
      "keys 7",
      "# HELP duration_seconds Time taken",
      "# TYPE duration_seconds histogram",
      'duration_seconds_bucket{route="/keys",le="0.1"} 1',
      'duration_seconds_bucket{route="/keys",le="1"} 2',
      'duration_seconds_bucket{route="/keys",le="+Inf"} 3',
      'duration_seconds_sum{route="/keys"} 3.55',
      'duration_seconds_count{route="/keys"} 3',
      "",
    ].join("\n"),
  );
});

Deno.test("Metrics escapes label values, and parseMetrics() reads them back", () => {
  const metrics = new Metrics();
  metrics.gauge("odd", "Odd labels").set({ key: 'a"b\\c\nd' }, 1);
  const text = metrics.render();
  assert.ok(text.includes('odd{key="a\\"b\\\\c\\nd"} 1'));
  assert.deepEqual([...parseMetrics(text)], [['odd{key="a\\"b\\\\c\\nd"}', 1]]);
  assert.throws(() => parseMetrics("not a sample"), SyntaxError);
});

Deno.test("Counter.forget() and Histogram.forget() drop the series with the labels given", () => {
  const metrics = new Metrics();
  const calls = metrics.counter("calls_total", "Calls");
  const durations = metrics.histogram("call_seconds", "Durations", [1]);
  for (const node of ["a", "b"]) {
    calls.inc({ node, reason: "timeout" });
    calls.inc({ node, reason: "unreachable" });
    durations.observe({ node }, 0.5);
  }
  calls.forget({ node: "a" });
  durations.forget({ node: "a" });
  const samples = [...parseMetrics(metrics.render()).keys()];
  assert.deepEqual(samples, [
    'calls_total{node="b",reason="timeout"}',
    'calls_total{node="b",reason="unreachable"}',
    'call_seconds_bucket{node="b",le="1"}',
    'call_seconds_bucket{node="b",le="+Inf"}',
    'call_seconds_sum{node="b"}',
    'call_seconds_count{node="b"}',
  ]);
});
