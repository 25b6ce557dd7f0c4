import assert from "node:assert/strict";
import { parseResponseHead, Reader } from "./reader.ts";

/** A reader over a connection that sends `chunks`, then ends. */
function readerOf(...chunks: number[][]) {
  return new Reader({
    read(buffer: Uint8Array) {
      const chunk = chunks.shift();
      if (!chunk) return Promise.resolve(null);
      buffer.set(chunk);
      return Promise.resolve(chunk.length);
    },
  });
}

const closedEarly = () => new Error("closed early");

Deno.test("parseResponseHead() says a peer that answered with a TLS record speaks TLS", async () => {
  const alert = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32];
  await assert.rejects(parseResponseHead(readerOf(alert), closedEarly), /answered in TLS/);
});

Deno.test("parseResponseHead() takes no byte left from an earlier answer for a TLS record's", async () => {
  // One byte came, then the end; the buffer's next byte was an earlier read's.
  const reader = readerOf([0x15]);
  reader.buffer.set([0x00, 0x03]);
  await assert.rejects(
    parseResponseHead(reader, closedEarly),
    (error: Error) => error.message === "The connection closed inside an answer",
  );
});
