// Reading a 64 KiB request head of 1,300 Content-Length lines of 16 values each, against a head of
// about the same size made of other headers (the group baseline): what a hostile head costs more.

import { parseHead } from "./server_head.ts";

const encode = (lines: string[]) =>
  new TextEncoder().encode(["POST /keys HTTP/1.1", "Host: x", ...lines].join("\r\n"));
const values = Array(16).fill(0).join(",");
const lengths = encode(Array.from({ length: 1300 }, () => `Content-Length: ${values}`));
const plain = encode(Array.from({ length: 1300 }, (_, i) => `X-${i}: ${values.slice(6)}`));

Deno.bench("a head of 1,300 plain headers", { group: "64 KiB head", baseline: true }, () => {
  parseHead(plain);
});

Deno.bench("a head of 1,300 Content-Length lines", { group: "64 KiB head" }, () => {
  parseHead(lengths);
});
