// Items of a batch sorted by when their senders stop waiting, so that a call carrying several goes
// by the earliest deadline among them without one short deadline failing the others; and the
// groups so made sent at once, each item's answer in its place.

/**
 * An item whose sender stops waiting sooner than this is sent alone: a call that carries others
 * takes longer, and one refused as past its earliest deadline fails every item in it.
 */
export const SHARED_MIN_LEFT_MS = 50;

/** The indexes of a batch's items, by their senders' deadlines: see {@link byDeadline}. */
export interface DeadlineGroups {
  /** Past their deadline already: not to be sent. */
  late: number[];
  /** Within {@link SHARED_MIN_LEFT_MS} of it: each in a call of its own. */
  alone: number[];
  /** Waiting less than a call's own timeout: together, by the earliest of their deadlines. */
  short: number[];
  /** With no deadline, or waiting at least a call's own timeout: together. */
  patient: number[];
}

/**
 * Sorts `items` by `until(item)`, a `performance.now()` past which its sender stops waiting (none:
 * it waits as long as a call does), against `now` and the `timeoutMs` of a call.
 *
 * @example
 * ```ts
 * import { byDeadline } from "./deadlines.ts";
 * byDeadline([5, 30, 700, undefined], (until) => until, 1000, 10);
 * // { late: [0], alone: [1], short: [2], patient: [3] }
 * ```
 */
export function byDeadline<T>(
  items: T[],
  until: (item: T) => number | undefined,
  timeoutMs: number,
  now: number = performance.now(),
): DeadlineGroups {
  const groups: DeadlineGroups = { late: [], alone: [], short: [], patient: [] };
  for (const [i, item] of items.entries()) {
    const due = until(item);
    if (due !== undefined && due <= now) groups.late.push(i);
    else if (due === undefined || due >= now + timeoutMs) groups.patient.push(i);
    else if (due < now + SHARED_MIN_LEFT_MS) groups.alone.push(i);
    else groups.short.push(i);
  }
  return groups;
}

/** An item's answer: a value, or one still to come (an item sent on again alone, say). */
export type Answered<A> = A | Promise<A>;

/**
 * Sends each group of item indexes with `send`, all at once, and places each answer at its item's
 * index in the array it resolves with (indexes in no group are left empty). A group whose call
 * failed answers each of its items with that failure. Answers still to come are awaited by the
 * caller only once every call is back, so their rejections are marked handled as their call comes
 * back, and the failures are made only then: a rejection no one awaited would end the process.
 *
 * @example
 * ```ts
 * import { sendGroups } from "./deadlines.ts";
 * const answers = await sendGroups([[0, 2], [1]], async (group) => group.map((i) => i * 10));
 * // [0, 10, 20]
 * ```
 */
export async function sendGroups<A>(
  groups: number[][],
  send: (group: number[]) => Promise<Answered<A>[]>,
): Promise<Answered<A>[]> {
  const mark = (answer: Answered<A>) => answer instanceof Promise ? handled(answer) : answer;
  // Marked as each call is back: a group's answers may reject while another's call is out.
  const sent = await Promise.allSettled(groups.map(async (group) => (await send(group)).map(mark)));
  const answers: Answered<A>[] = [];
  sent.forEach((result, g) =>
    groups[g].forEach((i, j) => {
      answers[i] = result.status === "fulfilled"
        ? result.value[j]
        : handled(Promise.reject(result.reason));
    })
  );
  return answers;
}

/** `promise`, its rejection marked handled: it is awaited later, by whoever takes it. */
export function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}
