import assert from "node:assert/strict";
import { createLogger } from "./log.ts";

Deno.test("createLogger() writes one JSON line per event at or above its level", () => {
  const lines: string[] = [];
  const log = createLogger("node", {
    level: "info",
    write: (line) => lines.push(line),
    now: () => new Date(0),
  });
  log.debug("hidden");
  log.warn("master unreachable", { master: "http://m:8080" });
  assert.equal(lines.length, 1);
  assert.deepEqual(JSON.parse(lines[0]), {
    time: "1970-01-01T00:00:00.000Z",
    level: "warn",
    msg: "master unreachable",
    service: "node",
    master: "http://m:8080",
  });
});
