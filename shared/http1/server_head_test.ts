// A request's head as the services' server reads it: its Content-Length values, however many.

import assert from "node:assert/strict";
import { BadHead, parseHead } from "./server_head.ts";

const head = (lines: string[]) =>
  new TextEncoder().encode(["POST /keys HTTP/1.1", "Host: x", ...lines].join("\r\n"));

Deno.test("parseHead() takes Content-Length values that all agree, in one line or many", () => {
  assert.deepEqual(parseHead(head(["Content-Length: 5"])).body, { kind: "length", length: 5 });
  assert.deepEqual(parseHead(head(["Content-Length: 5, 5", "content-length:5"])).body, {
    kind: "length",
    length: 5,
  });
  // The most a head holds: 100 fields, Host and 99 lines of 16 values each.
  const many = Array.from({ length: 99 }, () => `Content-Length: ${Array(16).fill(0).join(",")}`);
  assert.deepEqual(parseHead(head(many)).body, { kind: "none" });
});

Deno.test("parseHead() refuses a head of more than 100 header fields with 431", () => {
  // 5,400 short fields fit in 64 KiB: each request took 50-100 ms to build and read.
  const fields = (count: number) => Array.from({ length: count }, (_, i) => `x-h${i}: v`);
  assert.equal(parseHead(head(fields(99))).headers.length, 100);
  assert.throws(() => parseHead(head(fields(100))), (error) => {
    assert.ok(error instanceof BadHead, String(error));
    assert.equal(error.status, 431);
    assert.match(error.message, /at most 100 header fields/);
    return true;
  });
});

Deno.test("parseHead() refuses Content-Length values that differ or are not whole numbers", () => {
  const many = Array.from({ length: 98 }, () => "Content-Length: 7, 7");
  for (
    const lines of [
      ["Content-Length: 5, 6"],
      ["Content-Length: 5", "Content-Length: 6"],
      [...many, "Content-Length: 7, 8"],
      ["Content-Length: +5"],
      ["Content-Length: 5,"],
      ["Content-Length: "],
      ["Content-Length: 5", "Transfer-Encoding: chunked"],
      ["Content-Length: 99999999999999999999"],
    ]
  ) {
    assert.throws(() => parseHead(head(lines)), (error) => {
      assert.ok(error instanceof BadHead, String(error));
      assert.equal(error.status, 400, lines.join(" | "));
      return true;
    });
  }
});

Deno.test("parseHead() refuses a Host no URL takes, and takes those one does", () => {
  // The hot path answers without building a URL: it served hosts the app refused.
  const withHost = (host: string) =>
    new TextEncoder().encode(`GET /keys/a HTTP/1.1\r\nHost: ${host}`);
  for (const host of ["", "[1:2]", "999.1.1.1", "1.2.3.4.5", "x:65536"]) {
    assert.throws(() => parseHead(withHost(host)), BadHead, host);
  }
  for (const host of ["[::1]:8080", "127.0.0.1", "node-0.cache.svc:8081", "localhost"]) {
    assert.equal(parseHead(withHost(host)).headers[0][1], host);
  }
});

Deno.test("parseHead() refuses OPTIONS * with 501, whatever the Host", () => {
  // Let on, it was answered 400 "not a URL" with a port in Host, else 404 for OPTIONS /.
  for (const host of ["127.0.0.1:8081", "x"]) {
    const bytes = new TextEncoder().encode(`OPTIONS * HTTP/1.1\r\nHost: ${host}`);
    assert.throws(() => parseHead(bytes), (error) => {
      assert.ok(error instanceof BadHead, String(error));
      assert.equal(error.status, 501, host);
      assert.match(error.message, /^OPTIONS \* is not implemented/);
      return true;
    });
  }
});
