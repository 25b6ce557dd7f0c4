// Writes through the master: to a key's primary, gathered into one /mset while it is busy.

import { Coalescer } from "@cache/async/coalesce";
import { byDeadline, handled, sendGroups } from "@cache/async/deadlines";
import { StampedWrites, Unstamped } from "@cache/client/stamped_writes";
import { madeOf, NO_CONTENT } from "@cache/http1/answer";
import { peerResponse } from "@cache/http1/peer";
import { HttpError } from "@cache/protocol/errors";
import { keySegment } from "@cache/protocol/key_path";
import {
  DEADLINE_HEADER,
  EPOCH_HEADER,
  type KeyValue,
  VERSION_FLOOR_HEADER,
} from "@cache/protocol/wire";
import { combined } from "./fan_out.ts";
import { ok, parsed, refusedLate, unreplicatedKeys } from "./node_answers.ts";
import { byOwner, ownerOf, type Placement } from "./placement.ts";
import type { Transport } from "./transport.ts";

const JSON_TYPE = { "content-type": "application/json" };

/** Tries of a write refused with 421 while the master's ring keeps moving on: see below. */
const MISDIRECTED_TRIES = 4;

/** The answer to a write every owner has: the server writes its parts, not the Response. */
const stored = () => madeOf(new Response(null, { status: 204 }), NO_CONTENT);

/** Calls at most for one batch a node refuses as past its earliest deadline: see `#together`. */
const LATE_ROUNDS = 3;

/** When a sender that waits `leftMs` more stops waiting, as a `performance.now()`. */
const untilOf = (leftMs?: number) => leftMs === undefined ? undefined : performance.now() + leftMs;

/**
 * `answer`, a 504 to the try again of a write first sent to every owner at once, saying that copies
 * of that first try may be on some owners: not `late` (nothing applied) any more. Its own text
 * ("not sent to" the primary, say) is about the try again, so it goes after what the write is.
 */
async function copiesMayRemain(answer: Response): Promise<Response> {
  const body = await answer.json().catch(() => ({})) as { error?: string; late?: boolean };
  const { late: _, error = "No answer in time", ...rest } = body;
  return Response.json({
    ...rest,
    error: "The write's first try, sent to every owner at once, failed, and its try again " +
      `through the primary did not land in time (${error}): a copy of the first try may be on ` +
      "some owners until the key's next write",
  }, { status: 504 });
}

/** The answer to a write that waited in the master past its sender's deadline, unsent. */
const waitedTooLong = (node: string) =>
  Response.json(
    { error: `The write waited in the master past its sender's deadline: not sent to ${node}` },
    { status: 504 },
  );

/**
 * A write waiting to go to its primary: its key, body as the client sent it, ring epoch, and the
 * version it must be given one above, if any.
 */
interface PendingWrite {
  key: string;
  body: string;
  epoch: number;
  floor?: number;
  /**
   * The master's own try again of a write it sent to every owner at once: sent even through an
   * open breaker, since only it takes back a copy some owner took.
   */
  again?: true;
  /** A `performance.now()` past which it is not sent or applied: its sender stopped waiting. */
  until?: number;
}

/** Where writes go, how they are sent, and how to catch up with a ring a node knows first. */
export interface WritesOptions {
  /** Read on every write, so ring changes apply at once. */
  placement: Placement;
  transport: Transport;
  /**
   * Resolves once the placement has caught up with a newer ring, or gave up waiting. With it, a
   * write a node refuses with 421 (routed with an older ring) is sent once more after it.
   */
  catchUp?: () => Promise<void>;
}

/**
 * Sends writes to their owners, stamped with the ring epoch they were routed in and the moment the
 * master stops waiting: a plain set of a key with backups to every owner at once first, else (or
 * when that fails) to its primary, which answers for its backups. Writes to a primary are not
 * retried, except one a node refused with 421 when {@link WritesOptions.catchUp} brought a newer
 * ring.
 */
export class Writes {
  readonly #options: WritesOptions;
  readonly #writes: Coalescer<PendingWrite, Response>;
  // Writes of keys with backups go to every owner at once first (see set()).
  readonly #stamped: StampedWrites;

  constructor(options: WritesOptions) {
    this.#options = options;
    const { transport } = options;
    this.#stamped = new StampedWrites({
      callNode: async (node, path, init, epoch, until) =>
        parsed(
          node,
          await transport.exchange(node, path, {
            ...init,
            headers: {
              ...init.headers,
              ...this.#routing(node, epoch, undefined, until),
            },
          }),
        ),
      failsWaiting: transport.batchLimits(() => 0).failsWaiting,
      timeoutMs: transport.timeoutMs,
    });
    this.#writes = new Coalescer<PendingWrite, Response>(
      (node, writes) => this.#writeBatch(node, writes),
      // A UTF-16 unit is at most 3 UTF-8 bytes; a backup's copy adds a version (and ttlMs).
      options.transport.batchLimits((write) => write.body.length * 3 + 64),
    );
  }

  /**
   * Deletes `key` on its primary; see {@link Transport.send} for the errors it throws. With
   * `leftMs`, how long whoever asked still waits: not applied later (every write takes it).
   */
  async delete(key: string, leftMs?: number): Promise<Response> {
    const { placement, transport } = this.#options;
    const until = untilOf(leftMs);
    return await this.#resendingMisdirected(() => {
      const node = ownerOf(placement, key);
      return transport.send(node, `/keys/${keySegment(key)}`, {
        method: "DELETE",
        headers: this.#routing(node, placement.epoch, undefined, until),
      });
    });
  }

  /**
   * Stores `key` with `body`, a valid `KeyValue` as JSON, sent on as it is. A key with backups is
   * first written to every owner at once, stamped with a version of the master's clock (`POST
   * /stamped`, see `StampedWrites`): done once every owner stored it.
   * Otherwise, or when that fails in any way, a timeout included, it goes to its primary, with a
   * version above that try's. Writes to a node already busy with earlier ones wait and go together,
   * as one `POST /stamped` or `POST /mset`; each gets the answer its own `POST /keys` would have
   * had (see {@link #writeBatch}). With `floor` (a client's own try), it goes to its primary at
   * once, which gives it a version above `floor` (see `VERSION_FLOOR_HEADER`). A write still
   * waiting in the master `leftMs` from now is answered 504, unsent.
   */
  async set(key: string, body: string, floor?: number, leftMs?: number): Promise<Response> {
    const { placement } = this.#options;
    const until = untilOf(leftMs);
    const owners = floor === undefined ? placement.ring.owners(key, placement.replicas) : [];
    // Not while an owner's breaker is open: the others would take a write it refuses, and the
    // try again through the primary fails fast for one, leaving the copies to differ.
    if (owners.length > 1 && owners.every((owner) => this.#options.transport.closed(owner))) {
      // One round trip to every owner (see docs/replication.md); a write that lost to a newer
      // state on its primary, or that failed anywhere, goes again through the primary below, with
      // a version above the copies of this try.
      floor = this.#stamped.version();
      try {
        if (await this.#stamped.write(owners, body, placement.epoch, floor, until)) {
          return stored();
        }
      } catch (error) {
        // Written again through the primary, whose answer is the write's: after a timeout too,
        // since a backup may have taken this try while the primary did not.
        // No copy anywhere (every owner refused it, the master's clock too far ahead of theirs,
        // say): a write like any other, which a version above this try's would have refused too.
        if (error instanceof Unstamped) floor = undefined;
      }
    }
    // A floor of its own (a client's came with no owners asked): the master's try again.
    const again = owners.length > 0 && floor !== undefined;
    const answer = await this.#resendingMisdirected(() => {
      const { epoch } = this.#options.placement;
      const write: PendingWrite = { key, body, epoch, ...(floor === undefined ? {} : { floor }) };
      if (again) write.again = true;
      if (until !== undefined) write.until = until;
      return this.#writes.submit(ownerOf(this.#options.placement, key), write);
    });
    // Past the sender's deadline, the try again is refused like any write: the first try's copies
    // on some owners stay (until the key's next write), so the answer may not say nothing was.
    return again && answer.status === 504 ? await copiesMayRemain(answer) : answer;
  }

  /**
   * POSTs `body` to `path` on `key`'s primary, alone, never gathered with other writes: a
   * conditional set, an increment, a touch. A write the primary refused with 421 (it knows a newer
   * ring) changed nothing, so it is sent again once the master caught up.
   */
  async alone(key: string, path: string, body: string, leftMs?: number): Promise<Response> {
    const { placement, transport } = this.#options;
    const until = untilOf(leftMs);
    return await this.#resendingMisdirected(() => {
      const node = ownerOf(placement, key);
      return transport.send(node, path, {
        method: "POST",
        headers: { ...JSON_TYPE, ...this.#routing(node, placement.epoch, undefined, until) },
        body,
      });
    });
  }

  /**
   * Stores `items` split by owner, one `POST /mset` per node, in parallel, each stamped with the
   * ring epoch and the master's deadline as a single write is. When a node fails, its error is
   * the answer, saying how many items were stored: each node's part is stored whole or not at
   * all, the batch is not. A part a node refused with 421 (it knows a newer ring: it stored
   * nothing) is split again by owner and sent once more once the master caught up, whether or not
   * other parts failed, and again while the ring moved on since it was routed, as a single write.
   */
  async mset(items: KeyValue[], leftMs?: number): Promise<void> {
    const { catchUp } = this.#options;
    const until = untilOf(leftMs);
    const failures: unknown[] = [];
    const unreplicated: string[] = [];
    let stored = 0;
    let unanswered = 0;
    let part = items;
    for (let tries = 1; part.length > 0; tries++) {
      try {
        if (tries === 2) await catchUp!();
        const sent = await this.#msetParts(part, (routed) => this.#resends(tries, routed), until);
        failures.push(...sent.failures);
        unreplicated.push(...sent.unreplicated);
        stored += sent.stored;
        unanswered += sent.unanswered;
        part = sent.misdirected;
      } catch (error) {
        failures.push(error);
        break;
      }
    }
    if (failures.length > 0) {
      const onPrimary = unreplicated.length > 0
        ? `, and ${unreplicated.length} more on their primary only (unreplicated)`
        : "";
      const maybe = unanswered > 0
        ? `, and ${unanswered} more may have been (their node did not answer)`
        : "";
      throw combined(
        failures,
        `; ${stored} of ${items.length} items were stored on every owner${onPrimary}${maybe}`,
        unreplicated.length > 0 ? { unreplicated } : {},
      );
    }
  }

  /**
   * One `POST /mset` per owner of `items`: what failed, how many items were stored, and the items
   * of the parts refused with 421 where `resend(the epoch they were routed in)` says so (else
   * such a refusal is a failure).
   */
  async #msetParts(items: KeyValue[], resend: (routed: number) => boolean, until?: number) {
    const { placement, transport } = this.#options;
    const groups = byOwner(placement, items, (item) => item.key);
    const epoch = placement.epoch;
    const failures: unknown[] = [];
    const misdirected: KeyValue[] = [];
    const unreplicated: string[] = []; // stored on their primary, not on every backup
    let stored = 0;
    let unanswered = 0; // items of parts whose node did not answer in time
    await Promise.all([...groups].map(async ([node, group]) => {
      try {
        const answer = await transport.exchange(node, "/mset", {
          method: "POST",
          headers: { ...JSON_TYPE, ...this.#routing(node, epoch, undefined, until) },
          body: JSON.stringify({ items: group }),
        }).catch((error) => {
          // Sent, unanswered in time: the node may have stored the part, or not yet.
          if (error instanceof HttpError && error.status === 504) unanswered += group.length;
          throw error;
        });
        if (answer.status === 421 && resend(epoch)) return void misdirected.push(...group);
        if (!ok(answer)) {
          // The primary stored the part, but a backup did not take the keys it names.
          const missed = unreplicatedKeys(answer);
          if (missed) {
            stored += group.filter((item) => !missed.has(item.key)).length;
            unreplicated.push(...group.map((item) => item.key).filter((key) => missed.has(key)));
          }
        }
        parsed(node, answer); // throws the node's error
        stored += group.length;
      } catch (error) {
        failures.push(error);
      }
    }));
    return { failures, stored, misdirected, unreplicated, unanswered };
  }

  /**
   * Sends a write again after a 421 (it stored nothing) once the master caught up, and again while
   * the ring it routes by moved on since the refused try was routed: a ring can change twice
   * while a try is out (a node restarted, then another change), {@link MISDIRECTED_TRIES} in all.
   */
  async #resendingMisdirected(attempt: () => Promise<Response>): Promise<Response> {
    const { catchUp, placement } = this.#options;
    let routed = placement.epoch;
    let answer = await attempt();
    for (let tries = 1; answer.status === 421 && this.#resends(tries, routed); tries++) {
      // A follower behind the leader's ring: a 421 refused the write, so resend it once caught up.
      if (tries === 1) await catchUp!();
      await answer.body?.cancel();
      routed = placement.epoch;
      answer = await attempt();
    }
    return answer;
  }

  /**
   * Whether a write (or an mset's part) refused with 421 at try `tries`, routed in ring epoch
   * `routed`, goes again: the first refusal once the master can catch up, later ones while its
   * ring moved on since (refused with the ring unchanged, the newest, that answer stands), up to
   * {@link MISDIRECTED_TRIES} tries in all.
   */
  #resends(tries: number, routed: number): boolean {
    const { catchUp, placement } = this.#options;
    return catchUp !== undefined && tries < MISDIRECTED_TRIES &&
      (tries === 1 || placement.epoch !== routed);
  }

  /**
   * The headers of a write to `node` routed now: the ring epoch, when the master stops waiting (in
   * the node's clock; by `until` at the latest), and the version to write above, if any.
   */
  #routing(node: string, epoch: number, floor?: number, until?: number): Record<string, string> {
    const deadline = this.#options.transport.deadline(node, until);
    const headers = { [EPOCH_HEADER]: String(epoch), [DEADLINE_HEADER]: String(deadline) };
    return floor === undefined ? headers : { ...headers, [VERSION_FLOOR_HEADER]: String(floor) };
  }

  /**
   * Sends `writes` to their primary `node`. Those whose senders stopped waiting while they queued
   * here are answered 504, unsent; those whose senders stop waiting within `SHARED_MIN_LEFT_MS` go
   * each alone (see `byDeadline`). The others go together ({@link #together}), in two calls:
   * those whose senders wait longer than the master does for a node, and those that wait less. A
   * node refuses a call as late by its earliest deadline, so a sender with a short one can only
   * ever hold back the calls of others with short ones, and then not for long.
   */
  async #writeBatch(
    node: string,
    writes: PendingWrite[],
  ): Promise<(Response | Promise<Response>)[]> {
    const { late, alone, short, patient } = byDeadline(
      writes,
      (write) => write.until,
      this.#options.transport.timeoutMs,
    );
    if (patient.length === writes.length) return await this.#together(node, writes);
    const groups = [short, patient].filter((group) => group.length > 0);
    const alones = alone.map((i) => handled(this.#alone(node, writes[i])));
    const answers = await sendGroups(
      groups,
      (group) => this.#together(node, group.map((i) => writes[i])),
    );
    for (const i of late) answers[i] = waitedTooLong(node);
    alone.forEach((i, j) => answers[i] = alones[j]);
    return answers;
  }

  /** Sends `write` to its primary `node` as `POST /keys`, with its own deadline. */
  #alone(node: string, write: PendingWrite): Promise<Response> {
    // The master's own tries again go even through an open breaker (see `PendingWrite.again`);
    // a client's, with its own floor, fail fast there like any write.
    return this.#options.transport.send(node, "/keys", {
      method: "POST",
      headers: { ...JSON_TYPE, ...this.#routing(node, write.epoch, write.floor, write.until) },
      body: write.body,
    }, write.again);
  }

  /**
   * Sends `writes` to their primary `node`: alone as `POST /keys`, together as one `POST /mset`,
   * applied by the earliest of their senders' deadlines. A batch the node refuses wrote nothing
   * (a 4xx, or 507 for a full store), so each write is sent again alone for its own answer; one it
   * refused as past that deadline goes again without the writes whose deadline it was, or that
   * passed since, for {@link LATE_ROUNDS} calls at most (`round`): a sender that stops waiting soon
   * fails no other's write. Any other error came after the primary stored the batch: the writes of
   * the keys it names as `unreplicated` (a backup did not take them) get that answer, the others
   * 204, as each alone would have had; without that list, every write gets the answer.
   */
  async #together(
    node: string,
    writes: PendingWrite[],
    round = 1,
  ): Promise<(Response | Promise<Response>)[]> {
    const alone = (write: PendingWrite) => this.#alone(node, write);
    if (writes.length === 1) return [await alone(writes[0])];
    const { epoch } = writes[0];
    // A ring change while they waited: one epoch per call, so these go alone.
    if (writes.some((write) => write.epoch !== epoch)) return writes.map(alone);
    // Versions above the highest floor of the batch are above each write's own.
    const floors = writes.flatMap((write) => write.floor === undefined ? [] : [write.floor]);
    const floor = floors.length === 0 ? undefined : Math.max(...floors);
    let until = Infinity;
    for (const write of writes) if (write.until !== undefined) until = Math.min(until, write.until);
    const answer = await this.#options.transport.exchange(node, "/mset", {
      method: "POST",
      headers: {
        ...JSON_TYPE,
        ...this.#routing(node, epoch, floor, until === Infinity ? undefined : until),
      },
      body: `{"items":[${writes.map((write) => write.body).join(",")}]}`,
    }, writes.some((write) => write.again));
    if (ok(answer)) return writes.map(stored);
    if (round < LATE_ROUNDS && refusedLate(answer)) {
      // Nothing applied: the writes whose senders still wait go again, without the earliest.
      const now = performance.now();
      const gone = (write: PendingWrite) =>
        write.until !== undefined && (write.until === until || write.until <= now);
      const waiting = writes.filter((write) => !gone(write));
      const sent = waiting.length > 0 ? await this.#together(node, waiting, round + 1) : [];
      let i = 0; // waiting keeps the writes' order
      return writes.map((write) => gone(write) ? peerResponse(answer) : sent[i++]);
    }
    if (answer.status < 500 || answer.status === 507) return writes.map(alone);
    const failed = (): Response => peerResponse(answer);
    // The node names the keys some backup did not take; the others are on all their owners.
    const unreplicated = unreplicatedKeys(answer);
    if (!unreplicated) return writes.map(failed);
    return writes.map((write) => unreplicated.has(write.key) ? failed() : stored());
  }
}
