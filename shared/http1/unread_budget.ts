// The answers the services' own server holds until their clients read them, and the budget they
// are held to: past half of it, a read is refused before its answer is made.

/** Bytes of answers not yet taken by their clients past which reads are refused: 64 MiB. */
export const MAX_UNSENT_BYTES = 64 * 1024 * 1024;

/**
 * While the answers held pass half the budget, a connection whose client has taken none of its
 * answer for this long is closed, its answer dropped: three clients that left 15 MB answers
 * unread made every read of every client fail for a minute, the idle timeout. "None" is no write
 * of the answer finishing: the kernel takes more only once its send buffer (4 MB here) drains by
 * a share, which for a client reading 640 KB/s took over 2 s.
 */
export const UNREAD_STALL_MS = 5000;

/**
 * The bytes of answers being written that their clients have not taken yet, over every connection
 * of one server. A read (whose answer may be large) is made only while they are under half the
 * budget, checked when it arrives and again right before its answer is made, which is counted at
 * once (see {@link ReadBudget}): 40 unread 15 MB `/mget`s made together held a node at 1.3 GB.
 *
 * @example
 * ```ts
 * import { UnreadBudget } from "./unread_budget.ts";
 * const budget = new UnreadBudget(64 * 1024 * 1024);
 * if (budget.pastHalf()) throw new Error("refuse the read");
 * budget.hold(answer.length); // while it is written
 * budget.release(answer.length); // once written, or dropped
 * ```
 */
export class UnreadBudget {
  readonly #max: number;
  #unsent = 0;

  constructor(max = MAX_UNSENT_BYTES) {
    this.#max = max;
  }

  /** Bytes held now. */
  get unsent(): number {
    return this.#unsent;
  }

  /** Whether the answers held pass half the budget: no read's answer is made then. */
  pastHalf(): boolean {
    return this.#unsent > this.#max / 2;
  }

  /**
   * Whether holding an answer of `bytes` would take the answers held past the budget; `own` of
   * them are counted already, as it was made (see {@link ReadBudget.made}). One answer alone
   * always may be held, however large.
   */
  wouldPass(bytes: number, own = 0): boolean {
    const others = this.#unsent - own;
    return others > 0 && others + bytes > this.#max;
  }

  /** Counts `bytes` of an answer being written. */
  hold(bytes: number): void {
    this.#unsent += bytes;
  }

  /** Stops counting `bytes` of an answer written (or dropped). */
  release(bytes: number): void {
    this.#unsent -= bytes;
  }
}

/** Where a request carries its server's {@link ReadBudget}. */
const READ_BUDGET: unique symbol = Symbol("read budget");

/**
 * The unread-answers budget as a handler sees it, right before it makes a read's answer and once
 * it has: a request answered behind a promise (by the app, or while tracing) passed the server's
 * check on arrival with the others that came with it, and 40 such `/mget`s of 15 MB were all made
 * before any was counted.
 */
export interface ReadBudget {
  /** Why this request's answer may not be made now (a read past half the budget), or undefined. */
  full(): string | undefined;
  /** Counts `bytes` of this request's answer, made, until the server holds it to write. */
  made(bytes: number): void;
}

/**
 * The {@link ReadBudget} the services' own server gave `request`; undefined from another server.
 *
 * @example
 * ```ts
 * import { readBudgetOf } from "./unread_budget.ts";
 * const budget = readBudgetOf(request);
 * const full = budget?.full();
 * if (full) return Response.json({ error: full }, { status: 503 });
 * ```
 */
export function readBudgetOf(request: object): ReadBudget | undefined {
  return (request as { [READ_BUDGET]?: ReadBudget })[READ_BUDGET];
}

/**
 * Gives `request` its server's `budget`, for {@link readBudgetOf} to find.
 *
 * @example
 * ```ts
 * import { giveReadBudget, readBudgetOf } from "./unread_budget.ts";
 * giveReadBudget(request, connection); // the services' own server, for each request
 * readBudgetOf(request) === connection; // true
 * ```
 */
export function giveReadBudget(request: object, budget: ReadBudget): void {
  (request as { [READ_BUDGET]?: ReadBudget })[READ_BUDGET] = budget;
}
