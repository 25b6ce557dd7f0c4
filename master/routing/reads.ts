// Reads through the master: from a key's owners in turn, gathered into one /mget while one is busy.

import { Coalescer } from "@cache/async/coalesce";
import { madeOf } from "@cache/http1/answer";
import { headerOf } from "@cache/http1/messages";
import type { RawAnswer } from "@cache/http1/messages";
import { peerResponse } from "@cache/http1/peer";
import { HttpError } from "@cache/protocol/errors";
import { keySegment } from "@cache/protocol/key_path";
import type { Replica } from "@cache/protocol/replica";
import { keyNotFound } from "@cache/protocol/key_routes";
import { keyBytes, LINES_TYPE } from "@cache/protocol/wire";
import { versionOf } from "@cache/protocol/versions";
import { settleAll } from "./fan_out.ts";
import {
  type FoundBatch,
  type FoundBodies,
  foundItems,
  foundLines,
  ok,
  parsed,
  versionEpochOf,
} from "./node_answers.ts";
import { byOwner, noOwner, type Placement } from "./placement.ts";
import { type MovingRead, readMoving, repair } from "./moving_reads.ts";
import type { Ring } from "@cache/ring/ring";
import type { PlacedBy, Transport } from "./transport.ts";

const JSON_TYPE = { "content-type": "application/json" };

/** Rings a read through the master may start over by when one changes while it waits. */
const READ_RINGS = 3;

// A batch of reads asks for the node's lines, passed on with nothing parsed; an older node's JSON
// answer is read too.
const MGET_HEADERS = { ...JSON_TYPE, accept: `${LINES_TYPE}, application/json` };

/** Where reads go and how they are sent. */
export interface ReadsOptions {
  /** Read on every read, so ring changes apply at once. */
  placement: Placement;
  transport: Transport;
  /** Resolves once the placement caught up with a newer ring, or gave up: see `Writes`. */
  catchUp?: () => Promise<void>;
}

/** Reads keys from their owners: the primary first, a backup when it fails. */
export class Reads {
  readonly #options: ReadsOptions;
  readonly #reads: Coalescer<string, Response>;

  constructor(options: ReadsOptions) {
    this.#options = options;
    this.#reads = new Coalescer<string, Response>(
      (node, keys) => this.#readBatch(node, keys),
      options.transport.batchLimits(keyBytes),
    );
  }

  /**
   * Reads `key` from its primary; when the primary cannot answer for it (unreachable, slow, its
   * breaker open, or its own 5xx), from its backups in turn. Once keys have settled, an owner's
   * miss is final: every owner holds every key it owns. While keys move, a miss is only a key
   * maybe on its way: see {@link readMoving}. `failed`, a node that just failed to answer for the
   * key, is not asked. A miss is never answered for an owner that could not be asked: that is the
   * owner's error (502, 503 or 504). Nor by a ring that changed while the read waited: the key may
   * have moved on meanwhile, so the read starts again by the new one (`rings` times at most).
   */
  async get(key: string, failed?: string, rings = READ_RINGS): Promise<Response> {
    const { placement, transport } = this.#options;
    const epoch = placement.epoch;
    const changed = () => placement.epoch !== epoch && rings > 1;
    const owners = placement.ring.owners(key, placement.replicas);
    const placedBy = { epoch, term: placement.term };
    if (owners.length === 0) throw noOwner(placement);
    const moving = placement.unsettledRings;
    let failure: unknown;
    const missing: string[] = []; // owners that answered 404
    for (const node of owners) {
      if (node === failed) continue;
      let answer: Response;
      try {
        answer = await this.#reads.submit(node, key);
      } catch (error) {
        failure = error;
        continue;
      }
      if (answer.status >= 500) {
        failure = new HttpError(answer.status as 502, await errorOf(node, answer));
        continue;
      }
      if (answer.status !== 404) {
        if (!answer.ok) return answer;
        for (const owner of missing) repair(transport, key, node, owner, placedBy);
        return await this.#newestOf(key, answer, owners, placedBy, failed);
      }
      if (changed()) return await this.get(key, failed, rings - 1);
      // Settled: this owner would hold the key.
      if (moving.length === 0) return await this.#miss(key, answer, failed, rings);
      missing.push(node);
    }
    if (missing.length > 0 && changed()) return await this.get(key, failed, rings - 1);
    if (moving.length > 0 && missing.length > 0) {
      const read = this.#movingRead(key, owners, moving, failed, placedBy);
      const found = stateAnswer(key, await readMoving(transport, read));
      return found.status === 404 ? await this.#miss(key, found, failed, rings) : found;
    }
    throw failure ?? new HttpError(502, `No node but ${failed} owns the key`);
  }

  /**
   * `miss`, the owners' 404 for `key` by this master's ring, unless a node showed a newer ring
   * since the placement last changed: the key may have moved by it. The read then waits for the
   * placement to catch up and starts again by the new ring, or, with none to be had (a follower cut
   * off from its leader), is 503: a 404 for an acknowledged key would say it is gone.
   */
  async #miss(
    key: string,
    miss: Response,
    failed: string | undefined,
    rings: number,
  ): Promise<Response> {
    const { placement, transport, catchUp } = this.#options;
    if (!transport.behind) return miss;
    const epoch = placement.epoch;
    await catchUp?.();
    if (placement.epoch !== epoch && rings > 1) return await this.get(key, failed, rings - 1);
    throw new HttpError(
      503,
      "This master's ring is behind the nodes': the key may have moved by theirs; try again shortly",
    );
  }

  /**
   * `hit`, an owner's answer for `key`, or the newest state of the key across the rings while keys
   * move through two ring changes or more, if that is newer. An owner whose handover for one change
   * was cut short by the next keeps its copy, and may own the key again after: a write made in
   * between, on another owner, is then newer. (Through one change only, an owner holds a key
   * from an earlier ring only if no one wrote it since: writes in this ring go to its owners.)
   */
  async #newestOf(
    key: string,
    hit: Response,
    owners: string[],
    placedBy: PlacedBy,
    failed?: string,
  ): Promise<Response> {
    const { placement, transport } = this.#options;
    if (placement.unsettledRings.length < 2) return hit;
    if (versionEpochOf(await hit.clone().text()) >= placement.epoch) return hit;
    const read = this.#movingRead(key, owners, placement.unsettledRings, failed, placedBy);
    // When the rings cannot all be asked, their error: the hit may be older than a copy there.
    const newest = await readMoving(transport, read);
    return newest ? stateAnswer(key, newest) : hit;
  }

  /** A read of `key` through `moving`, the rings its keys may still be moving from. */
  #movingRead(
    key: string,
    owners: string[],
    moving: readonly Ring[],
    failed: string | undefined,
    placedBy: PlacedBy,
  ): MovingRead {
    const { placement } = this.#options;
    return {
      key,
      owners,
      moving,
      replicas: placement.replicas,
      failed,
      placedBy,
      notAsked: (node: string) => placement.notAsked?.(node) ?? false,
      flushed: placement.flushed,
    };
  }

  /**
   * Reads `keys` split by owner, one `POST /mget` per node, in parallel; the items found are in
   * the order asked, repeats included. A read of an owner that fails goes to its keys' backups, as
   * a single {@link get} would; only when they cannot make up for it is the owner's failure the
   * answer. While keys move, a key its owner misses is read as {@link get} reads it.
   */
  async mget(keys: string[]): Promise<FoundBatch> {
    const { placement } = this.#options;
    const { epoch } = placement;
    const moving = placement.unsettledRings.length > 0;
    const groups = byOwner(placement, [...new Set(keys)], (key) => key);
    const found: FoundBodies = new Map();
    const missed: string[] = []; // keys their owner answered it does not hold
    await settleAll([...groups].map(async ([node, group]) => {
      try {
        for (const [key, body] of await this.#found(node, group)) found.set(key, body);
        missed.push(...group.filter((key) => !found.has(key)));
      } catch (error) {
        if (!nodeTrouble(error)) throw error;
        // The owner failed: each of its keys is read as a single GET is, from its backups (and,
        // while keys move, earlier owners); if they cannot make up for it, the owner's failure
        // is the answer.
        const bodies = await Promise.all(group.map((key) => this.#readAlone(key, node)))
          .catch(() => Promise.reject(error));
        group.forEach((key, i) => bodies[i] !== undefined && found.set(key, bodies[i]));
      }
    }));
    // While keys move, once the ring changed meanwhile, or while a node knows a newer ring, a key
    // its owner misses may be elsewhere: read it as a single GET does, by the current ring and
    // through the earlier ones. An owner that cannot be asked fails the mget with its error, as
    // it fails a GET: no miss for it. Through two ring changes or more, a hit written before
    // this ring may be older than a copy elsewhere: it is read as a GET reads it too.
    const stale = placement.unsettledRings.length > 0 || placement.epoch !== epoch;
    const older = placement.unsettledRings.length < 2
      ? []
      : [...found].filter(([, body]) => versionEpochOf(body) < placement.epoch);
    if (moving || stale || this.#options.transport.behind) {
      await Promise.all([
        ...missed.map(async (key) => {
          const answer = await this.get(key);
          if (answer.ok) found.set(key, await answer.text());
        }),
        // A hit that cannot be compared (a node not answering) fails the mget, as a GET fails.
        ...older.map(async ([key]) => {
          const answer = await this.get(key);
          if (answer.ok) found.set(key, await answer.text());
          else if (answer.status === 404) found.delete(key);
        }),
      ]);
    }
    const result: FoundBatch = { items: [], missing: [] };
    for (const key of keys) {
      const body = found.get(key);
      if (body) result.items.push({ key, body });
      else result.missing.push(key);
    }
    return result;
  }

  /**
   * `key`'s body as a single GET reads it, not asking `failed`; undefined for a miss. Throws when
   * no owner answered; the caller answers with `failed`'s own error then, so this one says little.
   */
  async #readAlone(key: string, failed: string): Promise<string | undefined> {
    const answer = await this.get(key, failed);
    if (answer.status === 404) return undefined;
    if (!answer.ok) throw new HttpError(502, `No owner of key "${key}" answered: ${answer.status}`);
    return await answer.text();
  }

  /**
   * Reads `keys` on `node`: alone as `GET /keys/{key}`, together as one `POST /mget` whose lines
   * (or, from a node that answers JSON, items) become the answers the single reads would have had.
   * A batch the node refuses (4xx) is read again key by key; a 5xx is every read's answer.
   */
  async #readBatch(node: string, keys: string[]): Promise<(Response | Promise<Response>)[]> {
    const { transport } = this.#options;
    if (keys.length === 1) return [await transport.send(node, keyPath(keys[0]))];
    const asked = [...new Set(keys)];
    const answer = await this.#mgetOn(node, asked);
    // The node's own trouble: each read gets it, as it would alone.
    if (answer.status >= 500) return keys.map(() => peerResponse(answer));
    // Refused: alone, each read gets its own answer (a key no path can carry throws, alone).
    if (!ok(answer)) return keys.map(async (key) => await transport.send(node, keyPath(key)));
    const found = foundIn(node, answer, asked);
    return keys.map((key) => {
      const body = found.get(key);
      if (!body) return notFound(key);
      const answer = { status: 200, contentType: "application/json", body };
      return madeOf(new Response(body, { headers: JSON_TYPE }), answer);
    });
  }

  /**
   * The body each of `keys` (no two alike) would have had alone on `node`, none for a miss;
   * throws HttpError with the node's own status and reason when it does not answer 2xx.
   */
  async #found(node: string, keys: string[]): Promise<FoundBodies> {
    const answer = await this.#mgetOn(node, keys);
    if (!ok(answer)) parsed(node, answer); // throws the node's error, as any call's would
    return foundIn(node, answer, keys);
  }

  /** `keys`, no two alike, asked of `node` in one `POST /mget`: the one way a batch is read. */
  async #mgetOn(node: string, keys: string[]): Promise<RawAnswer> {
    const init = { method: "POST", headers: MGET_HEADERS, body: JSON.stringify({ keys }) };
    return await this.#options.transport.exchange(node, "/mget", init);
  }
}

/** A node that could not be reached, did not answer in time, or answered 502-504 itself. */
const nodeTrouble = (error: unknown) =>
  error instanceof HttpError && error.status >= 502 && error.status <= 504;

const keyPath = (key: string) => `/keys/${keySegment(key)}`;

/** The body each of `asked` would have had alone, from a node's 2xx `/mget`: lines or JSON. */
function foundIn(node: string, answer: RawAnswer, asked: string[]): FoundBodies {
  return headerOf(answer, "content-type") === LINES_TYPE
    ? foundLines(node, answer, asked)
    : foundItems(node, answer);
}

/** The answer a node's `GET /keys/{key}` gives for a key it does not hold. */
function notFound(key: string): Response {
  const body = JSON.stringify(keyNotFound(key));
  const answer = { status: 404, contentType: "application/json", body };
  return madeOf(new Response(body, { status: 404, headers: JSON_TYPE }), answer);
}

/** The answer a single read gives for `key`'s newest versioned state: a deletion is a miss. */
function stateAnswer(key: string, newest: Replica | undefined): Response {
  if (!newest || newest.deleted || newest.value === undefined) return notFound(key);
  const { value, ttlMs } = newest;
  const version = versionOf(newest);
  return Response.json(
    ttlMs === undefined ? { key, value, version } : { key, value, ttl: ttlMs / 1000, version },
  );
}

/** A node's error answer as a message naming the node. */
async function errorOf(node: string, answer: Response): Promise<string> {
  const body = await answer.json().catch(() => undefined) as { error?: string } | undefined;
  return `Node ${node}: ${body?.error ?? `answered ${answer.status}`}`;
}
