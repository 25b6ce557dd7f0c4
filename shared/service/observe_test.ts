import assert from "node:assert/strict";
import { Metrics } from "./metrics.ts";
import { requestRecorder } from "./observe.ts";

Deno.test("requestRecorder() counts made-up methods as one `other` series, not one each", () => {
  const metrics = new Metrics();
  const record = requestRecorder(metrics);
  for (let i = 0; i < 1000; i++) record(`M${i}`, "unmatched", 404, performance.now());
  record("GET", "/keys/{key}", 200, performance.now());
  const lines = metrics.render().split("\n").filter((line) =>
    line.startsWith("http_requests_total")
  );
  assert.deepEqual(lines, [
    'http_requests_total{method="other",route="unmatched",status="404"} 1000',
    'http_requests_total{method="GET",route="/keys/{key}",status="200"} 1',
  ]);
});
