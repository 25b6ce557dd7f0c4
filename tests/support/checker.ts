// The verdict of a read-by-read consistency checker: each read judged against the writes
// acknowledged before it began, and the figures of a fault.

/** One write of the history. */
export interface Write {
  key: string;
  /** Orders a key's writes: one writer owns each key and writes it one request at a time. */
  seq: number;
  /** `key#seq`: unique, so a read names the write it saw. */
  value: string;
  /** When it was sent, on the workload's clock (milliseconds). */
  start: number;
  /** When its answer came; Infinity while in flight. */
  end: number;
  /** Answered with success; false for an error, a timeout or still in flight ("attempted"). */
  acked: boolean;
  /** Why it failed, when it did. */
  error?: string;
  phase: string;
  route: string;
}

/** One read of the history. */
export interface Read {
  key: string;
  /** When it was sent, on the workload's clock (milliseconds). */
  start: number;
  /** When its answer came. */
  end: number;
  /** The value read; undefined for a 404. */
  value?: string;
  /** Why it failed (5xx, network, timeout): unavailability, not a violation. */
  error?: string;
  phase: string;
  route: string;
  /** A read of the final check, after the fault and after the cluster settled. */
  final: boolean;
}

/**
 * What a read proved: `lost` a 404 although a write was acknowledged before it began, `stale` a
 * value older than that write, `phantom` a value no write had sent by the time it was answered.
 */
export type Verdict = "ok" | "lost" | "stale" | "phantom" | "error";

/**
 * Judges `read` against every write of its key. The read is held to the last write acknowledged
 * before it began; any write sent before it was answered may be what it saw, acknowledged or not
 * (an attempted write is newer than the ones before it).
 *
 * @example
 * ```ts
 * import { judge } from "./checker.ts";
 * const write = { key: "k", seq: 0, value: "k#0", start: 0, end: 1, acked: true };
 * const acked = { ...write, phase: "p", route: "master" };
 * judge({ ...acked, start: 2, end: 3, value: undefined, final: false }, [acked]); // "lost"
 * ```
 */
export function judge(read: Read, writes: readonly Write[]): Verdict {
  if (read.error !== undefined) return "error";
  const required = lastAcked(read, writes);
  if (read.value === undefined) return required < 0 ? "ok" : "lost";
  const source = writes.find((write) => write.value === read.value && write.start < read.end);
  if (source === undefined) return "phantom";
  return source.seq < required ? "stale" : "ok";
}

/** The seq of the last write acknowledged before `read` began; -1 when none was. */
function lastAcked(read: Read, writes: readonly Write[]): number {
  let required = -1;
  for (const write of writes) {
    if (write.acked && write.end < read.start && write.seq > required) required = write.seq;
  }
  return required;
}

/** The figures of one fault: traffic, unavailability and violations. */
export interface Figures {
  fault: string;
  reads: number;
  writes: number;
  errors: number;
  /** Seconds from the fault to the last failed request, null when none succeeded after it. */
  recoveredSeconds: number | null;
  lost: number;
  stale: number;
  phantom: number;
  /** Violations among the final check's reads (counted in lost, stale and phantom too). */
  finalViolations: number;
  /** Keys the final check could not read on some route, even when retried. */
  unreadable: number;
  /** Failed requests per route, e.g. `{ master: 12, direct: 3 }`. */
  errorsByRoute: Record<string, number>;
  /** Violations per route. */
  byRoute: Record<string, number>;
  /** The first few violations, described. */
  examples: string[];
}

/** Sums up the history of `fault` (its phase), judging each of its reads. */
export function summarise(
  fault: string,
  faultAt: number,
  writes: ReadonlyMap<string, readonly Write[]>,
  reads: readonly Read[],
): Figures {
  const figures: Figures = {
    fault,
    reads: 0,
    writes: 0,
    errors: 0,
    recoveredSeconds: 0,
    lost: 0,
    stale: 0,
    phantom: 0,
    finalViolations: 0,
    unreadable: 0,
    errorsByRoute: {},
    byRoute: {},
    examples: [],
  };
  const ended: { end: number; failed: boolean }[] = [];
  for (const list of writes.values()) {
    for (const write of list) {
      if (write.phase !== fault) continue;
      figures.writes++;
      ended.push({ end: write.end, failed: !write.acked });
      if (!write.acked) count(figures.errorsByRoute, write.route);
    }
  }
  const finalAnswer = new Map<string, Read>(); // the last final read per key and route
  for (const read of reads) {
    if (read.phase !== fault) continue;
    figures.reads++;
    ended.push({ end: read.end, failed: read.error !== undefined });
    if (read.error !== undefined) count(figures.errorsByRoute, read.route);
    if (read.final) finalAnswer.set(`${read.route} ${read.key}`, read);
    const verdict = judge(read, writes.get(read.key) ?? []);
    if (verdict === "ok" || verdict === "error") continue;
    figures[verdict]++;
    if (read.final) figures.finalViolations++;
    count(figures.byRoute, read.route);
    if (figures.examples.length < 6) {
      figures.examples.push(
        describe(read, verdict, writes.get(read.key) ?? [], faultAt),
      );
    }
  }
  figures.unreadable = [...finalAnswer.values()].filter((read) => read.error).length;
  const failures = ended.filter((op) => op.failed);
  figures.errors = failures.length;
  if (failures.length > 0) {
    const last = failures.reduce((latest, op) => Math.max(latest, op.end), -Infinity);
    const after = ended.some((op) => !op.failed && op.end > last);
    figures.recoveredSeconds = after ? Math.max(0, last - faultAt) / 1000 : null;
  }
  return figures;
}

function count(tally: Record<string, number>, route: string): void {
  tally[route] = (tally[route] ?? 0) + 1;
}

/** A violation in words: what was read, when, by which route, and what the history says. */
function describe(read: Read, verdict: Verdict, writes: readonly Write[], faultAt: number): string {
  const required = lastAcked(read, writes);
  const seconds = (ms: number) => `${((ms - faultAt) / 1000).toFixed(2)} s`;
  const seen = read.value === undefined ? "404" : JSON.stringify(read.value);
  const source = writes.find((write) => write.value === read.value);
  const sent = source === undefined
    ? ""
    : ` (sent at ${seconds(source.start)} via ${source.route}, ` +
      (source.acked ? "acknowledged)" : `failed: ${source.error ?? "in flight"})`);
  return `${verdict}: ${read.key} read ${seen}${sent} via ${read.route} at ${seconds(read.start)}` +
    `, ${required < 0 ? "none" : `#${required}`} acknowledged before` +
    (read.final ? " (final check)" : "");
}

/** One line of figures for the test output. */
export function line(f: Figures): string {
  const recovered = f.recoveredSeconds === null ? "never" : `${f.recoveredSeconds.toFixed(2)} s`;
  return [
    `${f.fault}: ${f.reads} reads`,
    `${f.writes} writes`,
    `${f.errors} errors${via(f.errorsByRoute)}`,
    `recovered after ${recovered}`,
    `${f.lost} lost`,
    `${f.stale} stale`,
    `${f.phantom} never written${via(f.byRoute)}; final check: ${f.finalViolations} wrong`,
    `${f.unreadable} unreadable`,
  ].join(", ");
}

function via(tally: Record<string, number>): string {
  const routes = Object.entries(tally).map(([route, n]) => `${route} ${n}`);
  return routes.length > 0 ? ` (via ${routes.join(", ")})` : "";
}

/** The header of the markdown table {@link tableRow} fills. */
export const TABLE_HEADER = "| fault | reads | writes | errors | recovered after (s) | lost | " +
  "stale | never written |\n|---|---:|---:|---:|---:|---:|---:|---:|";

/** One fault's figures as a markdown table row. */
export function tableRow(f: Figures): string {
  const recovered = f.recoveredSeconds === null ? "never" : f.recoveredSeconds.toFixed(2);
  return `| ${f.fault} | ${f.reads} | ${f.writes} | ${f.errors} | ${recovered} | ${f.lost} | ` +
    `${f.stale} | ${f.phantom} |`;
}
