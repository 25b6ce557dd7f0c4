// The items `cache mset` reads: JSON lines or one JSON array.

import type { Item } from "./client.ts";
import { Key, Ttl } from "@cache/protocol/wire";

/** Input that holds no items, or an item that is not `{key, value, ttl?}`: its one-line reason. */
export class ItemsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ItemsError";
  }
}

const FIELDS = new Set(["key", "value", "ttl"]);

/**
 * The items in `text`: one JSON array of `{"key", "value", "ttl"?}` objects when it starts with
 * `[`, else one such object per line (blank lines skipped). `ttl` is seconds. Throws
 * {@link ItemsError} naming `source`, the line or array index, and the reason.
 *
 * @example
 * ```ts
 * import { parseItems } from "./cli_items.ts";
 * parseItems('{"key":"a","value":"1","ttl":60}\n{"key":"b","value":"2"}\n', "items.jsonl");
 * // [{ key: "a", value: "1", ttlSeconds: 60 }, { key: "b", value: "2" }]
 * ```
 */
export function parseItems(text: string, source: string): Item[] {
  const body = text.replace(/^\uFEFF/, "");
  const items: Item[] = [];
  if (body.trimStart().startsWith("[")) {
    let array: unknown;
    try {
      array = JSON.parse(body);
    } catch (error) {
      throw new ItemsError(`Invalid JSON array in ${source}: ${reason(error)}`);
    }
    if (!Array.isArray(array)) throw new ItemsError(`Invalid JSON array in ${source}`);
    array.forEach((entry, i) =>
      items.push(itemOf(entry, `item ${i + 1} of the array in ${source}`))
    );
  } else {
    body.split(/\r?\n/).forEach((line, i) => {
      if (line.trim() === "") return;
      const where = `line ${i + 1} of ${source}`;
      let entry: unknown;
      try {
        entry = JSON.parse(line);
      } catch (error) {
        throw new ItemsError(`Invalid JSON on ${where}: ${reason(error)}`);
      }
      items.push(itemOf(entry, `item on ${where}`));
    });
  }
  if (items.length === 0) throw new ItemsError(`No items in ${source}`);
  return items;
}

/** `entry` as an item, or an ItemsError saying what is wrong with `what` ("item 2 of …"). */
function itemOf(entry: unknown, what: string): Item {
  const fail = (why: string) => new ItemsError(`Invalid ${what}: ${why}`);
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
    throw fail('expected an object such as {"key":"a","value":"1"}');
  }
  const fields = entry as Record<string, unknown>;
  const unknown = Object.keys(fields).find((name) => !FIELDS.has(name));
  if (unknown !== undefined) throw fail(`unknown field "${unknown}": expected key, value, ttl`);
  if (typeof fields.key !== "string") throw fail("key must be a string");
  const key = Key.safeParse(fields.key);
  if (!key.success) throw fail(key.error.issues[0].message);
  if (typeof fields.value !== "string") throw fail("value must be a string");
  if (fields.ttl === undefined) return { key: key.data, value: fields.value };
  const ttl = Ttl.safeParse(fields.ttl);
  if (!ttl.success) throw fail(ttl.error.issues[0].message);
  return { key: key.data, value: fields.value, ttlSeconds: ttl.data };
}

function reason(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ");
}
