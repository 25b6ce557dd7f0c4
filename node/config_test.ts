import assert from "node:assert/strict";
import { ConfigError } from "@cache/service/config";
import { loadConfig } from "./config.ts";

Deno.test("loadConfig() takes --max-memory as bytes, or as a share of --memory-limit", () => {
  assert.equal(loadConfig({}, []).maxMemoryBytes, 0);
  assert.equal(loadConfig({ MAX_MEMORY: "64mb" }, []).maxMemoryBytes, 64 * 1024 ** 2);
  const gib = String(1024 ** 3); // as Kubernetes gives limits.memory: a plain byte count
  assert.equal(
    loadConfig({ MAX_MEMORY: "70%", MEMORY_LIMIT: gib }, []).maxMemoryBytes,
    Math.floor(0.7 * 1024 ** 3),
  );
  assert.equal(
    loadConfig({}, ["--max-memory", "50%", "--memory-limit", "1gb"]).maxMemoryBytes,
    512 * 1024 ** 2,
  );
});

Deno.test("loadConfig() refuses a share with no --memory-limit, or out of range, naming the flag", () => {
  assert.throws(
    () => loadConfig({ MAX_MEMORY: "70%" }, []),
    new ConfigError(
      'Invalid --max-memory (MAX_MEMORY) "70%": a share needs --memory-limit (MEMORY_LIMIT)',
    ),
  );
  for (const bad of ["0%", "101%", "lots"]) {
    assert.throws(
      () => loadConfig({ MAX_MEMORY: bad, MEMORY_LIMIT: "1gb" }, []),
      (error: Error) => error instanceof ConfigError && error.message.includes("--max-memory"),
      bad,
    );
  }
});

Deno.test("loadConfig() takes --master none as a node on its own: no master", () => {
  assert.deepEqual(loadConfig({}, []).masters, ["http://127.0.0.1:8080"]);
  assert.deepEqual(loadConfig({}, ["--master", "none"]).masters, []);
  assert.deepEqual(loadConfig({ MASTER_URL: "none" }, []).masters, []);
  assert.throws(() => loadConfig({}, ["--master", "nowhere"]), ConfigError);
});
