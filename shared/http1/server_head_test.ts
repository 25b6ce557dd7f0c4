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
  // The most a 64 KiB head holds: 1,300 lines of 16 values each.
  const many = Array.from({ length: 1300 }, () => `Content-Length: ${Array(16).fill(0).join(",")}`);
  assert.deepEqual(parseHead(head(many)).body, { kind: "none" });
});

Deno.test("parseHead() refuses Content-Length values that differ or are not whole numbers", () => {
  const many = Array.from({ length: 1300 }, () => "Content-Length: 7, 7");
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
