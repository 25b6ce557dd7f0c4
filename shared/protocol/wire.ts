// Zod schemas of the messages master, nodes and clients exchange: keys, values, membership, ring.

// Documented with zod's own `.meta()` (`id` names the component), not `.openapi()`: whatever
// loads these schemas, the client included, loads no Hono.
import { z } from "zod";
import { HttpError } from "./errors.ts";
import { parseOrigin } from "./origin.ts";

/** Longest key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

/** Longest TTL accepted: 10 years, in seconds. */
export const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;

/** Default longest value, in UTF-8 bytes (`--max-value-bytes`). */
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;

const encoder = new TextEncoder();
// Where long strings are encoded to be measured, and dropped: reused, so measuring a 100 KB value
// allocates nothing (4.6 us against 52 us for `encode()`, whose copy is garbage at once).
const scratch = new Uint8Array(64 * 1024);

/** Number of UTF-8 bytes in `text`. */
export function utf8Bytes(text: string): number {
  // Counting beats the encoder's call for short strings; the encoder wins on long ones.
  if (text.length < 512) return countUtf8(text);
  let bytes = 0;
  for (let rest = text;;) {
    // Whole characters only: a surrogate pair is never split between two rounds.
    const { read, written } = encoder.encodeInto(rest, scratch);
    bytes += written;
    if (read === rest.length) return bytes;
    rest = rest.slice(read);
  }
}

function countUtf8(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code < 0xdc00 && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low < 0xe000) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** Why a key or prefix with a lone surrogate is refused, after its name: UTF-8 cannot carry it. */
export const NOT_WELL_FORMED =
  "must be valid Unicode: it holds a lone surrogate, which UTF-8 cannot carry";

/**
 * A cache key: 1 to 1024 UTF-8 bytes, any characters, but not "." or "..": URLs resolve those as
 * path steps, so `GET /keys/..` could never read the key back.
 */
export const Key = z.string()
  .min(1, "Key must not be empty")
  .refine((key) => utf8Bytes(key) <= MAX_KEY_BYTES, {
    message: `Key is longer than ${MAX_KEY_BYTES} UTF-8 bytes`,
  })
  .refine((key) => key !== "." && key !== "..", {
    message: 'Key must not be "." or "..": a URL path cannot carry it',
  })
  .refine((key) => key.isWellFormed(), { message: `Key ${NOT_WELL_FORMED}` })
  .meta({
    example: "user:42",
    description: '1 to 1024 UTF-8 bytes of valid Unicode (no lone surrogate), not "." or ".."',
  });

/** A cache value; its size limit is a setting, checked by the service. */
export const Value = z.string().meta({ example: "Ada Lovelace" });

/** Seconds a key lives: a number > 0, fractions allowed. */
export const Ttl = z.number({ error: "ttl must be a number of seconds" })
  .positive("ttl must be > 0 seconds")
  .max(MAX_TTL_SECONDS, `ttl must be at most ${MAX_TTL_SECONDS} seconds`)
  .meta({ example: 60, description: "Seconds to live (write) or left (read)" });

/** A key and its value, as written and read; `ttl` is seconds to live, or left on a read. */
export const KeyValue = z.object({ key: Key, value: Value, ttl: Ttl.optional() }).meta({
  id: "KeyValue",
});

/** A key and its value. */
export type KeyValue = z.infer<typeof KeyValue>;

/** A key's version: an opaque string that changes with every write of the key. */
export const Version = z.string().min(1).max(64).meta({
  example: "7.1733160000000123",
  description: "Opaque; changes with every write of the key. Compare it for equality only",
});

/** A key as read: its value, its ttl left, and the version of the write that stored it. */
export const StoredItem = KeyValue.extend({ version: Version }).meta({ id: "StoredItem" });

/** A key as read. */
export type StoredItem = z.infer<typeof StoredItem>;

/**
 * `POST /keys`: a key and its value, written only if the condition holds: `if` `absent` (add,
 * SET NX), `present` (replace, SET XX), and `ifVersion` (compare-and-set). Another field is
 * refused, not dropped: a misspelled `ifVersion` made a compare-and-set an overwrite.
 */
export const SetRequest = z.strictObject({
  ...KeyValue.shape,
  if: z.enum(["absent", "present"]).optional().meta({
    description: "`absent`: write only if the key is not stored (add, SET NX); `present`: only " +
      "if it is (replace, SET XX)",
  }),
  ifVersion: Version.optional().meta({
    description: "Write only if the key is stored with this version (compare-and-set)",
  }),
}).meta({ id: "SetRequest" });

/** `POST /keys`. */
export type SetRequest = z.infer<typeof SetRequest>;

/** The 412 of a condition that failed: the key's current version, or null for no key. */
export const Conflict = z.object({
  error: z.string(),
  version: Version.nullable(),
}).meta({ id: "Conflict" });

/** `POST /keys/{key}/incr`. */
export const IncrRequest = z.strictObject({
  by: z.number({ error: "by must be a whole number" })
    .int({ // a whole number too large is refused by the same check: one message, the right one
      error: (issue) =>
        issue.code === "invalid_type"
          ? "by must be a whole number"
          : "by must be a safe integer (at most 2^53 - 1 either way)",
    })
    .meta({ example: 1, description: "Added to the value; negative decrements" }),
  ttl: Ttl.optional().meta({
    description: "Seconds the key lives from now; without it, the key keeps the TTL it had",
  }),
  requestId: z.string().min(1).max(100).optional().meta({
    example: "3f1c2a9e-incr-1",
    description: "Makes a retry safe: an increment whose id the key's owners remember (for two " +
      "minutes) is not applied again, and answers what it answered the first time",
  }),
  retry: z.boolean().optional().meta({
    description: "Set when sending an increment again whose outcome is unknown: if its id is " +
      "not remembered while the key's owners remember as many later ids as they keep (64), it " +
      "may have been applied and forgotten, so it is refused with 409 rather than risk applying " +
      "it twice",
  }),
}).refine((body) => !body.retry || body.requestId !== undefined, {
  // Applied as a first attempt, a "retry" with no id to recognise it by counted twice.
  error: "A retry needs the requestId of the increment it sends again",
  path: ["retry"],
}).meta({ id: "IncrRequest" });

/** `POST /keys/{key}/incr`. */
export type IncrRequest = z.infer<typeof IncrRequest>;

/** What an increment answers: the new value, as a number, and its version. */
export const Counter = z.object({
  key: Key,
  value: z.number().int().meta({ example: 42 }),
  version: Version,
}).meta({ id: "Counter" });

/** What an increment answers. */
export type Counter = z.infer<typeof Counter>;

/** `POST /keys/{key}/touch`: the key's new TTL, or null to keep it forever. */
export const TouchRequest = z.strictObject({
  ttl: z.union([Ttl, z.null()], {
    error: "ttl must be a number of seconds, or null to keep the key forever",
  }).meta({ description: "Seconds to live from now; null removes the TTL" }),
}).meta({ id: "TouchRequest" });

/**
 * `schema` for a number a query writes in decimal digits: "0x10", "1e2", " 5" and "" are refused
 * with `schema`'s error, where `Number()` (and `z.coerce`) would take them.
 */
export function decimal<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => typeof v === "string" ? digits(v) ?? v : v, schema);
}

/** The safe whole number `text` writes in decimal digits alone, else undefined. */
function digits(text: string): number | undefined {
  const number = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
  return Number.isSafeInteger(number) ? number : undefined;
}

/** Most keys one scan page holds. */
export const MAX_SCAN_COUNT = 1000;

/** `GET /keys` query: a page of the key space. */
export const ScanQuery = z.object({
  prefix: z.string().max(MAX_KEY_BYTES).refine((prefix) => utf8Bytes(prefix) <= MAX_KEY_BYTES, {
    message: `prefix is longer than ${MAX_KEY_BYTES} UTF-8 bytes: no key starts with it`,
  }).optional().meta({
    param: { name: "prefix", in: "query" },
    description: "Only keys that start with it",
  }),
  cursor: z.string().regex(/^\d{1,7}$/, "cursor must be one a scan answered").optional().meta({
    param: { name: "cursor", in: "query" },
    description: "Where to go on: the `cursor` the last page answered; absent to start",
  }),
  count: decimal(
    z.number({ error: "count must be a whole number" }).int("count must be a whole number")
      .min(1, "count must be at least 1")
      .max(MAX_SCAN_COUNT, `count must be at most ${MAX_SCAN_COUNT}`),
  ).default(100).meta({ param: { name: "count", in: "query" }, description: "Keys per page" }),
});

/** A node's `DELETE /keys`: `through` makes it a cluster's flush (see `Store.flushThrough`). */
export const FlushQuery = z.object({
  through: z.string().regex(/^\d{1,16}$/, "through must be a version a node answered")
    .refine((v) => Number.isSafeInteger(Number(v)), "through must be at most 2^53 - 1").optional()
    .meta({
      param: { name: "through", in: "query" },
      description: "Forget only the states stamped at or below this version, and refuse them " +
        "from now on: the master's second round of a flush, with the newest `version` the " +
        "nodes answered to its first. Absent: forget everything",
    }),
});

/** What a node answers to `DELETE /keys`. */
export const Flushed = z.object({
  version: z.number().int().min(0).meta({
    description: "The newest version this node has given or seen: the master flushes every " +
      "node through the highest of them",
  }),
}).meta({ id: "Flushed" });

/** A page of a scan: keys, and the cursor of the next page, null once the scan is complete. */
export const ScanPage = z.object({
  keys: z.array(z.string()),
  cursor: z.string().nullable().meta({
    description: "Pass it to get the next page; null when the scan is complete",
  }),
}).meta({ id: "ScanPage" });

/** A page of a scan. */
export type ScanPage = z.infer<typeof ScanPage>;

/** Most keys or items in one batch call. */
export const MAX_BATCH = 1000;

/**
 * Bytes of one batch a service gathers itself (`/mget`, `/mset`, and the `/replicate` a primary
 * makes of an `/mset`), counted from above: below any node's body limit (64 KiB plus six values).
 */
export const MAX_BATCH_BYTES = 60 * 1024;

/**
 * The most bytes `key` adds to an `/mget` body: each character escaped as `\u0000`, two quotes and
 * a comma.
 *
 * @example
 * ```ts
 * import { keyBytes } from "./wire.ts";
 * keyBytes("user:42"); // 45
 * ```
 */
export function keyBytes(key: string): number {
  return key.length * 6 + 3;
}

/** `POST /mget`: keys to read. */
export const MGetRequest = z.strictObject({
  keys: z.array(Key).min(1, "keys must hold at least 1 key")
    .max(MAX_BATCH, `keys must hold at most ${MAX_BATCH} keys`),
}).meta({ id: "MGetRequest" });

/** What `POST /mget` finds: items in request order, and the keys not stored. */
export const MGetResponse = z.object({
  items: z.array(StoredItem),
  missing: z.array(z.string()),
}).meta({ id: "MGetResponse" });

/** What `POST /mget` finds. */
export type MGetResponse = z.infer<typeof MGetResponse>;

/**
 * The type a node's `POST /mget` answers in when asked for it (`accept`): one line per key asked,
 * in order, each the body `GET /keys/{key}` would answer with, or `null` for a key not stored. The
 * master passes each line on as it is, with nothing parsed.
 */
export const LINES_TYPE = "application/x-ndjson";

/** The message of a condition given to `/mset`, which writes every item as it is. */
const NO_CONDITION = "/mset takes no condition: write conditional items one by one with POST /keys";

/** A field of `POST /keys` that `/mset` refuses (400) rather than drop. */
// Any value, null included, is refused (`not: {}` in the documents), with this reason.
const Refused = z.unknown().refine(() => false, NO_CONDITION).optional().meta({
  description: `Refused: ${NO_CONDITION}`,
  not: {},
});

/** An `/mset` item: a key and its value. A condition is refused, not dropped. */
export const MSetItem = z.strictObject({ ...KeyValue.shape, if: Refused, ifVersion: Refused })
  .meta({ id: "MSetItem" });

/** `POST /mset`: items to write, all or none. */
export const MSetRequest = z.strictObject({
  items: z.array(MSetItem).min(1, "items must hold at least 1 item")
    .max(MAX_BATCH, `items must hold at most ${MAX_BATCH} items`),
}).meta({ id: "MSetRequest" });

/**
 * A write sent to every owner of its key at once, stamped by its sender. Other fields are dropped:
 * the master passes on a body `POST /keys` took, and a later build's sender may add some.
 */
export const StampedItem = KeyValue.extend({
  version: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).meta({
    description: "Microseconds of the sender's clock, above every version it sent before; with " +
      "the ring epoch the request was routed in (`x-ring-epoch`), the write's stamp",
  }),
});

/** `POST /stamped`'s body: writes stamped by their sender, sent to every owner at once. */
export const StampedRequest = z.strictObject({
  items: z.array(StampedItem).min(1, "items must hold at least 1 item")
    .max(MAX_BATCH, `items must hold at most ${MAX_BATCH} items`),
}).meta({ id: "StampedRequest" });

/** The counters a node and the cluster report alike, besides their key counts. */
const counters = {
  bytes: z.number().int().meta({ description: "Accounted bytes: keys, values, overhead" }),
  maxBytes: z.number().int().meta({ description: "Memory bound; 0 is unbounded" }),
  hits: z.number().int(),
  misses: z.number().int(),
  evictions: z.number().int(),
  expired: z.number().int(),
  uptimeSeconds: z.number(),
};

/** A node's counters: exact, with expired keys never counted. */
export const NodeStats = z.object({
  keys: z.number().int().meta({
    description: "Copies of keys held here, as their primary or as a backup",
  }),
  primaryKeys: z.number().int().meta({
    description: "Of `keys`, those this node is the primary of in the ring it knows (all of them " +
      "for a node with no ring). Each key is one node's primary, so the cluster's distinct keys " +
      "are the sum of this over the nodes",
  }),
  ...counters,
  rebalance: z.object({
    syncedEpoch: z.number().int().meta({
      description: "Last epoch whose keys it finished moving",
    }),
    moving: z.boolean(),
    sent: z.number().int().meta({ description: "Keys sent to other nodes since start" }),
    handedOff: z.number().int().meta({ description: "Keys handed over and dropped here" }),
  }).optional(),
}).meta({ id: "NodeStats" });

/** A node's counters. */
export type NodeStats = z.infer<typeof NodeStats>;

/**
 * The cluster's counters: the sum over up nodes, and each node's own or its error. Its `keys` are
 * distinct keys, not the nodes' `keys` summed (those are `copies`), so it does not reuse
 * NodeStats' key fields.
 */
export const ClusterStats = z.object({
  keys: z.number().int().meta({
    description: "Distinct keys: the nodes' `primaryKeys` summed, each key counted once, on its " +
      "primary. While keys move after a ring change (until the ring is settled) it may be " +
      "briefly off either way, and a primary that does not answer leaves its keys out",
  }),
  copies: z.number().int().meta({
    description: "Copies stored: the nodes' `keys` summed, primaries and backups; once settled, " +
      "`keys` times the ring's replicas (or its nodes, when fewer)",
  }),
  ...counters,
  nodes: z.array(z.union([
    NodeStats.and(z.object({ address: z.string() })),
    z.object({ address: z.string(), error: z.string() }),
  ])),
}).meta({ id: "ClusterStats" });

/** The cluster's counters. */
export type ClusterStats = z.infer<typeof ClusterStats>;

/** The `{key}` path parameter (percent-encoded in the path). */
export const KeyParam = z.object({
  key: Key.meta({ param: { name: "key", in: "path" }, example: "user:42" }),
});

/** A node's base URL, `http(s)://host:port`. */
export const Address = z.string()
  .refine((text) => parseOrigin(text) !== undefined, {
    message: "Address must be an http(s) URL with no path, such as http://10.0.0.5:8081",
  })
  .transform((text) => parseOrigin(text)!)
  .meta({ example: "http://127.0.0.1:8081" });

/** The live ring: the up nodes that own keys in this epoch. */
export const RingView = z.object({
  term: z.number().int().min(0).default(0).meta({
    description: "The term of the master that published the ring: grows with every new leader. " +
      "Rings are ordered by term, then epoch; a ring of an older term is never taken",
  }),
  epoch: z.number().int().min(0).meta({
    description: "Increments on every change of the up set",
  }),
  replicas: z.number().int().min(1).meta({
    description: "Copies of each key: owners(key, replicas) are its primary, then its backups",
  }),
  nodes: z.array(z.string()).meta({ description: "Addresses of the up nodes, sorted" }),
  joined: z.record(z.string(), z.number().int()).meta({
    description: "The epoch in which each node last joined the ring, empty",
  }),
  settled: z.boolean().optional().meta({
    description: "Whether every node has moved its keys for this epoch; until then a miss on a " +
      "key's owners may be a key still on its way",
  }),
  movingRings: z.number().int().min(1).optional().meta({
    description: "While keys move (`settled: false`), the earlier rings they may still be moving " +
      "from. Through two or more, a node's answer written before this ring (its version's epoch) " +
      "may be older than a copy on its way: a direct client then asks the master, whose reads " +
      "compare every ring's owners",
  }),
  movingFrom: z.array(z.array(z.string())).optional().meta({
    description: "Asked for (`GET /ring?movingFrom=true`), while keys move: the nodes of each " +
      "earlier ring they may still be moving from, newest first, as the master's reads ask them. " +
      "Followers take it, so a read through any master asks the same nodes",
  }),
  outside: z.record(z.string(), z.enum(["leaving", "down"])).optional().meta({
    description: "The other nodes the master knows, by status: leaving (handing its keys over) " +
      "or down. Followers take it, so every master lists the same nodes",
  }),
  handoverLeftMs: z.record(z.string(), z.number().int().min(0)).optional().meta({
    description: "The nodes of `outside` leaving, by the milliseconds left of their handover as " +
      "their beats said (none: the field is left out). A master that comes to lead, or restarts " +
      "and learns the ring from its nodes, asks such a node for its keys that long",
  }),
  downWhileLeaving: z.record(z.string(), z.number().int().min(0)).optional().meta({
    description: "The nodes of `outside` marked down while they were leaving, with no flush " +
      "since, by the milliseconds left of their handover: until then they may still hand their " +
      "keys over (heard again leaving, as the same process, they go on), so keys are not settled " +
      "and reads ask them. Followers take it, so a master that comes to lead does the same",
  }),
  version: z.number().int().min(0).optional().meta({
    description: "Counts the changes the master made known; of two answers with the same term " +
      "and epoch, the one with the higher version is the later",
  }),
  flushed: z.number().int().min(0).optional().meta({
    description: "The version the cluster's last flush went through: a node that learns it gives " +
      "versions above it and refuses states at or below it. Nodes report it back, so a master " +
      "that restarts or comes to lead learns it too",
  }),
  writesFrom: z.object({ term: z.number().int().min(0), epoch: z.number().int().min(0) })
    .optional().meta({
      description: "Once a master that learnt no ring from the nodes took one back by a ring it " +
        "never learnt: its term and the first epoch it took writes in. A node back with such a " +
        "ring, of an older term, of this epoch or later rejoins empty (its keys could rank above " +
        "writes taken since). Followers take it, so a master that comes to lead judges such " +
        "rings alike; rings of that term or later are this cluster's since",
    }),
}).meta({ id: "Ring" });

/** The live ring. */
export type RingView = z.infer<typeof RingView>;

/**
 * What a node sends to register and to heartbeat. Fields this master does not know are ignored,
 * not refused: a node of a later build may heartbeat to it while masters and nodes are upgraded.
 */
export const RegisterRequest = z.object({
  address: Address.optional().meta({
    description: "The node's base URL; when the body is absent, the caller's IP with port 8080",
  }),
  instance: z.string().max(100).optional().meta({
    description: "Identifies the node's process; a new one means the node restarted empty",
  }),
  synced: z.number().int().min(0).optional().meta({
    description: "The last ring epoch whose keys the node has finished moving",
  }),
  syncedTerm: z.number().int().min(0).optional().meta({
    description: "The term of that ring; without it, the epoch alone is compared",
  }),
  leaving: z.boolean().optional().meta({
    description: "The node is shutting down: take it off the ring while it hands its keys over " +
      "(one the master does not know stays off it)",
  }),
  empty: z.boolean().optional().meta({
    description: "The node holds nothing: it dropped its keys after being told to rejoin empty",
  }),
  handoverLeftMs: z.number().int().min(0).optional().meta({
    description: "While leaving: the milliseconds left before it stops handing its keys over " +
      "and exits. Marked down meanwhile, it is still asked for its keys until then",
  }),
  // register(), not meta(): on the copy meta() makes, zod-to-openapi loses the reference to Ring
  // and would inline the whole ring here.
  ring: RingView.optional().register(z.globalRegistry, {
    description: "The ring the node follows: a restarted master recovers membership from these",
  }),
}).meta({ id: "RegisterRequest" });

/** What a node sends to register and to heartbeat. */
export type Heartbeat = z.infer<typeof RegisterRequest>;

/**
 * Whether a ring is newer than another: a later term, or a later epoch in the same term. A ring
 * of an older term comes from a deposed leader and is never taken, whatever its epoch.
 */
export function newerRing(
  ring: { term: number; epoch: number },
  than: { term: number; epoch: number },
): boolean {
  return ring.term > than.term || (ring.term === than.term && ring.epoch > than.epoch);
}

/** One node as the master sees it. */
export const NodeStatus = z.object({
  address: z.string(),
  status: z.enum(["up", "leaving", "down"]),
  lastSeen: z.string().meta({ description: "Time of the last heartbeat, ISO 8601" }),
  synced: z.boolean().meta({ description: "Whether it has moved its keys for this epoch" }),
}).meta({ id: "Node" });

/** Every node the master knows, up or down. */
export const NodeList = z.object({
  epoch: z.number().int().min(0),
  nodes: z.array(NodeStatus),
}).meta({ id: "NodeList" });

/** Every node the master knows. */
export type NodeList = z.infer<typeof NodeList>;

/** Header carrying the ring epoch a write was routed with. */
export const EPOCH_HEADER = "x-ring-epoch";

/**
 * Header on the leading master's heartbeat answers: milliseconds, counted from when the node sent
 * the heartbeat, for which the node may act as a primary of the ring it got (its lease).
 */
export const LEASE_HEADER = "x-lease-ms";

/**
 * Header carrying the moment (milliseconds since 1970 on the sender's clock) after which the
 * sender no longer waits for the answer: a write that arrives later is not applied.
 */
export const DEADLINE_HEADER = "x-deadline";

/**
 * Header carrying a version a write must be given one above: the version its sender stamped the
 * copies it sent to every owner at once with (`POST /stamped`), before writing it again through
 * the primary, so the primary's write is newer than any of those copies.
 */
export const VERSION_FLOOR_HEADER = "x-version-above";

/**
 * The version a write's {@link VERSION_FLOOR_HEADER} asks it to be given one above, undefined
 * without the header. Anything but a version is refused: the write would be stamped without it.
 *
 * @example
 * ```ts
 * import { versionFloor } from "./wire.ts";
 * versionFloor("1700000000000000"); // 1700000000000000
 * versionFloor(null); // undefined
 * ```
 */
export function versionFloor(header: string | null): number | undefined {
  if (header === null) return undefined;
  const floor = digits(header);
  if (floor === undefined) {
    throw new HttpError(400, `${VERSION_FLOOR_HEADER} must be a version: a whole number`);
  }
  return floor;
}

/**
 * The whole number header `name` carries (an epoch, a deadline), or undefined for none; throws
 * HttpError 400 for anything else, as bad input: a sender whose deadline went unread would lose
 * its protection without knowing.
 *
 * @example
 * ```ts
 * import { headerNumber } from "./wire.ts";
 * headerNumber("x-deadline", "17"); // 17
 * headerNumber("x-deadline", null); // undefined
 * headerNumber("x-deadline", "1.5"); // throws HttpError 400
 * ```
 */
export function headerNumber(name: string, header: string | null): number | undefined {
  if (header === null) return undefined;
  const number = digits(header);
  if (number === undefined) {
    throw new HttpError(400, `${name} must be a whole number below 2^53`);
  }
  return number;
}
