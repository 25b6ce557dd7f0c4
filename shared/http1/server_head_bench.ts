// Reading a 64 KiB request head of 99 Content-Length lines of 300 values each, against a head of
// as many plain headers of about the same size (the group baseline): what a hostile head costs
// more. (A head carries at most 100 fields; a head of 5,400 short ones once cost 50-100 ms.)

import { parseHead } from "./server_head.ts";

const encode = (lines: string[]) =>
  new TextEncoder().encode(["POST /keys HTTP/1.1", "Host: x", ...lines].join("\r\n"));
const values = Array(300).fill(0).join(",");
const lengths = encode(Array.from({ length: 99 }, () => `Content-Length: ${values}`));
const plain = encode(Array.from({ length: 99 }, (_, i) => `X-${i}: ${values.slice(6)}`));

Deno.bench("a head of 99 long plain headers", { group: "64 KiB head", baseline: true }, () => {
  parseHead(plain);
});

Deno.bench("a head of 99 Content-Length lines", { group: "64 KiB head" }, () => {
  parseHead(lengths);
});
