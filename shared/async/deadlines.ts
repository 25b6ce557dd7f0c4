// Items of a batch sorted by when their senders stop waiting, so that a call carrying several goes
// by the earliest deadline among them without one short deadline failing the others.

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
