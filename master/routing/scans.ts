// Scans and flushes through the master: every node asked, its pages merged by slot, each key once.

import { SLOTS } from "@cache/ring/rendezvous";
import { slotOf } from "@cache/ring/ring";
import { HttpError } from "@cache/protocol/errors";
import { SENDER_RING_HEADER, senderRing } from "@cache/protocol/sender_ring";
import { EPOCH_HEADER, Flushed, type ScanPage } from "@cache/protocol/wire";
import { sleep } from "@cache/async/sleep";
import { settleAll } from "./fan_out.ts";
import { noOwner, type Placement } from "./placement.ts";
import type { Transport } from "./transport.ts";

/** A scan's page as asked: keys starting with `prefix`, from `cursor`, about `count` of them. */
export interface ScanRequest {
  prefix?: string;
  cursor?: string;
  count: number;
}

/** Where the keys are and how nodes are asked. */
export interface ScansOptions {
  placement: Placement;
  transport: Transport;
  /** Resolves once the placement has caught up with a newer ring: see `WritesOptions.catchUp`. */
  catchUp?: () => Promise<void>;
}

/** Most rounds of asking every node for one page while the ring keeps changing. */
const MAX_ROUNDS = 4;

/**
 * Waits before asking a node of the ring again after it answered 503, one per try: a node that
 * just joined answers so until its registration's answer, the ring, has reached it.
 */
const UNREADY_WAITS_MS = [20, 50, 100, 200];

/**
 * Scan pages a master asks the nodes for at once; later ones wait their turn. A page makes every
 * node walk all its keys, so clients scanning in a loop would otherwise take the nodes' time from
 * reads and writes.
 */
export const MAX_PAGES_IN_FLIGHT = 2;

/** How a failed flush says what it did. */
const emptied = (failed: number, total: number) =>
  `; ${total - failed} of ${total} nodes were emptied`;

/** A node's page: its keys from the cursor's slot on, and the first slot it did not cover. */
interface NodePage {
  keys: string[];
  /** SLOTS when the node covered every slot. */
  next: number;
}

/**
 * Scans go through the key space by ring slot: a cursor is a slot, and a page holds the keys of
 * the slots from it on, on whichever nodes hold them. Every node holding keys is asked (the ring's
 * and, while keys move, the earlier rings' nodes), and each answers every key it holds, backup
 * copies too, so a key on its way between nodes is on one of them; the master keeps each key once.
 * A key that moves while a node is asked could be missed by both its old and new node, so while
 * keys move, or when the ring changed during a round, every node is asked again: a key handed over
 * is dropped by its old node only once its new node has it, so the second round finds it there.
 */
export class Scans {
  readonly #options: ScansOptions;
  #inFlight = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(options: ScansOptions) {
    this.#options = options;
  }

  /**
   * One page: at most `count` keys (more only when one slot holds more), in slot order, and the
   * cursor of the next page, null once every slot is covered. Throws the error of a node that
   * does not answer: a page without it could miss keys. At most {@link MAX_PAGES_IN_FLIGHT} pages
   * are asked at once; the others wait their turn, in order.
   */
  async page(request: ScanRequest): Promise<ScanPage> {
    const from = request.cursor === undefined ? 0 : Number(request.cursor);
    if (!(from >= 0 && from < SLOTS)) throw new HttpError(400, "cursor is not one a scan answered");
    if (this.#inFlight >= MAX_PAGES_IN_FLIGHT) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else this.#inFlight++;
    try {
      return await this.#page(from, request.prefix ?? "", request.count);
    } finally {
      const next = this.#waiting.shift();
      if (next) next(); // the slot passes to the next page as it is
      else this.#inFlight--;
    }
  }

  async #page(from: number, prefix: string, count: number): Promise<ScanPage> {
    const { placement } = this.#options;
    const found = new Map<string, number>(); // key -> slot
    let covered = SLOTS; // every slot below it is covered by every answer
    for (let round = 1; round <= MAX_ROUNDS; round++) {
      const epoch = placement.epoch;
      const moving = placement.unsettledRings.length > 0;
      const pages = await this.#askAll(`/keys?${query(prefix, from, count)}`);
      for (const page of pages) covered = Math.min(covered, page.next);
      for (const page of pages) for (const key of page.keys) found.set(key, slotOf(key));
      // Settled throughout: one round. While keys move, a second round; more only while the ring
      // keeps changing under the rounds.
      const changed = placement.epoch !== epoch;
      if (!changed && (round >= 2 || (!moving && placement.unsettledRings.length === 0))) break;
    }
    const keys = [...found].filter(([, slot]) => slot < covered).sort((a, b) => a[1] - b[1]);
    let end = Math.min(count, keys.length);
    while (end < keys.length && keys[end][1] === keys[end - 1][1]) end++; // whole slots
    const next = end < keys.length ? keys[end][1] : covered;
    return {
      keys: keys.slice(0, end).map(([key]) => key),
      cursor: next >= SLOTS ? null : String(next),
    };
  }

  /**
   * Empties every node that may hold keys, in two rounds: each empties and answers its newest
   * version; then each forgets what is stamped at or below the highest of them and refuses it
   * from then on (`Store.flushThrough`). A write that raced the first round is then kept or
   * dropped alike by all its owners, whichever it reached first. Throws, after asking all, when
   * a node did not take a round. A node that knows a newer ring refuses either round (421): this
   * master may not know every node, so it catches up and flushes once more.
   */
  async flush(): Promise<void> {
    const { catchUp } = this.#options;
    const misdirected = { seen: false };
    try {
      await this.#flushAll(misdirected);
    } catch (error) {
      if (!misdirected.seen || !catchUp) throw error;
      await catchUp();
      await this.#flushAll({ seen: false });
    }
  }

  async #flushAll(misdirected: { seen: boolean }): Promise<void> {
    const nodes = this.#nodes(true);
    const { placement } = this.#options;
    placement.flushBegins?.();
    const first = await Promise.allSettled(
      nodes.map((node) => this.#flush(node, "", misdirected)),
    );
    const versions = first.flatMap((round) => round.status === "fulfilled" ? [round.value] : []);
    const through = versions.length > 0 ? Math.max(0, ...versions) : undefined;
    // Nodes that join from now on learn it with the ring, before they take a write.
    placement.flushFirstRoundDone?.(through);
    if (through === undefined) {
      // No node took the first round: no version to send through.
      return await settleAll(
        first.map((round) =>
          round.status === "rejected" ? Promise.reject(round.reason) : Promise.resolve()
        ),
        emptied,
      );
    }
    // The second round goes to the nodes that joined meanwhile too: keys handed to them before
    // their old owners emptied are older than `through`.
    const joined = this.#holders(true).filter((node) => !nodes.includes(node));
    const ring = new Set(placement.ring.nodes);
    const second = [...nodes, ...joined].map(async (node, i) => {
      const round = first[i];
      try {
        await this.#flush(node, `?through=${through}`, misdirected);
      } catch (error) {
        // Leaving, it emptied in the first round and took nothing since (it is no owner): gone
        // now, its handover done, it has nothing to forget. A flush failed on it for nothing.
        const gone = error instanceof HttpError && error.details.sent === false;
        if (!(gone && !ring.has(node) && round?.status === "fulfilled")) throw error;
      }
      if (round?.status === "rejected") throw round.reason;
    });
    await settleAll(second, emptied);
  }

  /** One round of a flush on `node`; resolves with the newest version it answered. */
  async #flush(node: string, query: string, misdirected: { seen: boolean }): Promise<number> {
    const { placement, transport } = this.#options;
    const { epoch, term } = placement;
    const headers: Record<string, string> = { [EPOCH_HEADER]: String(epoch) };
    if (term !== undefined) headers[SENDER_RING_HEADER] = senderRing({ term, epoch });
    const answer = await transport.send(node, "/keys" + query, { method: "DELETE", headers });
    if (answer.status === 421) misdirected.seen = true;
    await succeeded(answer);
    // A node built before two-round flushes empties and answers 204, without a version.
    if (answer.status === 204) return 0;
    return Flushed.parse(await answer.json()).version;
  }

  async #askAll(path: string): Promise<NodePage[]> {
    const { placement } = this.#options;
    const current = new Set(placement.ring.nodes);
    const pages: NodePage[] = [];
    const ask = async (node: string) => {
      const page = await this.#read(node, path) as ScanPage;
      pages.push({ keys: page.keys, next: page.cursor === null ? SLOTS : Number(page.cursor) });
    };
    // A node of an earlier ring only (gone, or leaving) that does not answer has handed its keys
    // over or lost them with it: the ring's own nodes must answer, and one marked down while
    // leaving that may still hand over.
    const must = (node: string) => current.has(node) || (placement.mayHandOver?.(node) ?? false);
    await settleAll(
      this.#nodes().map((node) => must(node) ? ask(node) : ask(node).catch(() => {})),
    );
    return pages;
  }

  /** Reads `path` on `node`, asking again a few times while it answers 503 (see above). */
  async #read(node: string, path: string): Promise<unknown> {
    for (const ms of UNREADY_WAITS_MS) {
      try {
        return await this.#options.transport.read(node, path);
      } catch (error) {
        if (!(error instanceof HttpError) || error.status !== 503) throw error;
        await sleep(ms);
      }
    }
    return await this.#options.transport.read(node, path);
  }

  /**
   * The nodes that may hold keys: the ring's, and while keys move, the earlier rings'. Throws 503
   * with no ring (the master learning it, or no node up): "no key" would be a lie.
   */
  #nodes(flush = false): string[] {
    const { placement } = this.#options;
    if (placement.recovering || placement.ring.size === 0) throw noOwner(placement, "any key");
    return this.#holders(flush);
  }

  /**
   * The nodes of the ring and, while keys move, of the earlier rings: those a scan asks, or a
   * `flush` empties.
   */
  #holders(flush = false): string[] {
    const { placement } = this.#options;
    const skip = (node: string) =>
      (placement.notAsked?.(node) || (flush && placement.mayHandOver?.(node))) ?? false;
    const nodes = new Set(placement.ring.nodes);
    for (const ring of placement.unsettledRings) {
      for (const node of ring.nodes) if (!skip(node)) nodes.add(node);
    }
    return [...nodes];
  }
}

function query(prefix: string, from: number, count: number): string {
  const params = new URLSearchParams({ cursor: String(from), count: String(count) });
  if (prefix) params.set("prefix", prefix);
  return params.toString();
}

async function succeeded(answer: Response): Promise<void> {
  if (answer.ok) return;
  const body = await answer.json().catch(() => undefined) as { error?: string } | undefined;
  throw new HttpError(502, body?.error ?? `answered ${answer.status}`);
}
