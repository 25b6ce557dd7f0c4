import assert from "node:assert/strict";
import { ConnReader } from "./server_reader.ts";

/** A reader over a connection that hands out `pieces` one read each, then ends. */
function readerOf(...pieces: string[]): ConnReader {
  const queue = pieces.map((piece) => new TextEncoder().encode(piece));
  const conn = {
    read(into: Uint8Array): Promise<number | null> {
      const next = queue.shift();
      if (next === undefined) return Promise.resolve(null);
      into.set(next);
      return Promise.resolve(next.length);
    },
  };
  return new ConnReader(conn as unknown as Deno.Conn);
}

Deno.test("ConnReader.line() takes a line of max bytes and refuses a longer one, however it arrives", async () => {
  const line = "a".repeat(16);
  for (const pieces of [[`${line}\r\n`], [`${line}\r`, "\n"], [line, "\r\n"]]) {
    assert.equal(await readerOf(...pieces).line(16), line, JSON.stringify(pieces));
  }
  const long = `${line}a`;
  for (const pieces of [[`${long}\r\n`], [`${long}\r`, "\n"], [long, "\r\n"]]) {
    await assert.rejects(readerOf(...pieces).line(16), /too long/, JSON.stringify(pieces));
  }
});

Deno.test("ConnReader.line() refuses a line ended by a bare LF, and takes CR and LF apart", async () => {
  await assert.rejects(readerOf("3\n").line(16), /bare LF/);
  await assert.rejects(readerOf("\n").line(16), /bare LF/);
  assert.equal(await readerOf("3", "\r", "\n", "x").line(16), "3");
  assert.equal(await readerOf("\r\n").line(16), "");
});
