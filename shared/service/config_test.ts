import assert from "node:assert/strict";
import { ConfigError, count, loadSettings, origin, parseBytes, port } from "./config.ts";
import { parseOrigin } from "@cache/protocol/origin";

const settings = {
  port: { flag: "port", env: "PORT", schema: port(8080), help: "" },
  timeoutMs: { flag: "timeout-ms", env: "TIMEOUT_MS", schema: count(3000), help: "" },
  master: { flag: "master", env: "MASTER_URL", schema: origin().optional(), help: "" },
};

Deno.test("loadSettings() takes flags over environment over defaults", () => {
  assert.deepEqual(loadSettings(settings, {}, []), {
    port: 8080,
    timeoutMs: 3000,
    master: undefined,
  });
  assert.deepEqual(
    loadSettings(settings, { PORT: "9000", TIMEOUT_MS: "10", MASTER_URL: "http://m:1/" }, [
      "--port",
      "9001",
    ]),
    { port: 9001, timeoutMs: 10, master: "http://m:1" },
  );
});

Deno.test("loadSettings() treats an empty variable as unset", () => {
  assert.equal(loadSettings(settings, { PORT: "" }, []).port, 8080);
});

Deno.test("loadSettings() names the flag and variable of a bad value", () => {
  assert.throws(
    () => loadSettings(settings, {}, ["--port", "http"]),
    (error: Error) => error instanceof ConfigError && /--port \(PORT\) "http"/.test(error.message),
  );
  assert.throws(() => loadSettings(settings, { TIMEOUT_MS: "0" }, []), /--timeout-ms/);
  assert.throws(() => loadSettings(settings, {}, ["--port", "70000"]), /--port/);
  assert.throws(() => loadSettings(settings, {}, ["--master", "m:1"]), /--master/);
  // Read as a flag after one, node:util refused it in three lines naming no setting.
  assert.throws(
    () => loadSettings(settings, {}, ["--port", "-1"]),
    /: Invalid --port \(PORT\) "-1"/,
  );
  assert.throws(
    () => loadSettings(settings, {}, ["--timeout-ms", "-.5"]),
    /: Invalid --timeout-ms/,
  );
});

Deno.test("loadSettings() refuses an unknown flag", () => {
  assert.throws(() => loadSettings(settings, {}, ["--prot", "1"]), ConfigError);
  assert.throws(() => loadSettings(settings, {}, ["extra"]), ConfigError);
});

Deno.test("parseOrigin() accepts a bare http(s) URL only", () => {
  assert.equal(parseOrigin("http://127.0.0.1:8081/"), "http://127.0.0.1:8081");
  assert.equal(
    parseOrigin("https://node-0.node-headless:8081"),
    "https://node-0.node-headless:8081",
  );
  for (const bad of ["127.0.0.1:8081", "ftp://a", "http://a/path", "http://u:p@a", "http://a?q"]) {
    assert.equal(parseOrigin(bad), undefined, bad);
  }
});

Deno.test("parseBytes() reads sizes the way Redis does", () => {
  assert.equal(parseBytes("64mb"), 64 * 1024 * 1024);
  assert.equal(parseBytes("1GB"), 1024 ** 3);
  assert.equal(parseBytes("1g"), 1e9);
  assert.equal(parseBytes("32k"), 32_000);
  assert.equal(parseBytes("1048576"), 1048576);
  assert.equal(parseBytes("0"), 0);
  for (const bad of ["", "mb", "-1mb", "12 parsecs", "1tb", "0x10"]) {
    assert.equal(parseBytes(bad), undefined, bad);
  }
});
