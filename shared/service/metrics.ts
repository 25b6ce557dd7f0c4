// A small Prometheus text-format writer: counters, gauges and histograms with labels.

type Labels = Record<string, string>;

/** Bounds of a request-duration histogram, in seconds. */
export const DURATION_BUCKETS = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
];

interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  lines(): string[];
}

/** A monotonically increasing count per label set. */
export interface Counter {
  inc(labels?: Labels, by?: number): void;
  /** The series of `labels`, for a caller that counts into it often: no label text per call. */
  with(labels: Labels): { inc(by?: number): void };
  /** Drops every series whose labels include all of `labels` (a node that left, say). */
  forget(labels: Labels): void;
}

/** A value per label set, set directly or read at each scrape. */
export interface Gauge {
  set(labels: Labels, value: number): void;
}

/** Observations counted into cumulative buckets, with their sum and count. */
export interface Histogram {
  observe(labels: Labels, value: number): void;
  /** The series of `labels`, for a caller that observes into it often. */
  with(labels: Labels): { observe(value: number): void };
  /** Drops every series whose labels include all of `labels`. */
  forget(labels: Labels): void;
}

/**
 * A set of metrics rendered in the Prometheus text exposition format (version 0.0.4). Each service
 * creates its own: nothing is registered globally.
 *
 * @example
 * ```ts
 * import { Metrics } from "./metrics.ts";
 * const metrics = new Metrics();
 * const requests = metrics.counter("http_requests_total", "Requests served");
 * requests.inc({ route: "/keys", status: "204" });
 * metrics.render(); // "# HELP http_requests_total Requests served\n# TYPE …"
 * ```
 */
export class Metrics {
  readonly #families: Family[] = [];

  /** A counter; `collect`, if given, supplies the values at each scrape instead. */
  counter(name: string, help: string, collect?: () => [Labels, number][]): Counter {
    const values = new Map<string, [Labels, number]>();
    this.#add(name, help, "counter", () => collect?.() ?? [...values.values()]);
    const series = (labels: Labels) => {
      const key = labelText(labels);
      let entry = values.get(key);
      if (!entry) {
        entry = [labels, 0];
        values.set(key, entry);
      }
      return entry;
    };
    return {
      inc(labels = {}, by = 1) {
        series(labels)[1] += by;
      },
      with(labels) {
        const entry = series(labels);
        return { inc: (by = 1) => void (entry[1] += by) };
      },
      forget(labels) {
        for (const [key, [own]] of values) if (includes(own, labels)) values.delete(key);
      },
    };
  }

  /** A gauge; `collect`, if given, supplies the values at each scrape instead. */
  gauge(name: string, help: string, collect?: () => [Labels, number][]): Gauge {
    const values = new Map<string, [Labels, number]>();
    this.#add(name, help, "gauge", () => collect?.() ?? [...values.values()]);
    return { set: (labels, value) => void values.set(labelText(labels), [labels, value]) };
  }

  /** A histogram over `buckets` (upper bounds, ascending). */
  histogram(name: string, help: string, buckets = DURATION_BUCKETS): Histogram {
    const series = new Map<
      string,
      { labels: Labels; counts: number[]; sum: number; count: number }
    >();
    this.#families.push({
      name,
      help,
      type: "histogram",
      lines: () =>
        [...series.values()].flatMap(({ labels, counts, sum, count }) => [
          ...buckets.map((le, i) =>
            `${name}_bucket${labelText({ ...labels, le: String(le) })} ${counts[i]}`
          ),
          `${name}_bucket${labelText({ ...labels, le: "+Inf" })} ${count}`,
          `${name}_sum${labelText(labels)} ${sum}`,
          `${name}_count${labelText(labels)} ${count}`,
        ]),
    });
    const entryOf = (labels: Labels) => {
      const key = labelText(labels);
      let entry = series.get(key);
      if (!entry) {
        entry = { labels, counts: buckets.map(() => 0), sum: 0, count: 0 };
        series.set(key, entry);
      }
      return entry;
    };
    const add = (entry: ReturnType<typeof entryOf>, value: number) => {
      for (let i = 0; i < buckets.length; i++) if (value <= buckets[i]) entry.counts[i]++;
      entry.sum += value;
      entry.count++;
    };
    return {
      observe(labels, value) {
        add(entryOf(labels), value);
      },
      with(labels) {
        const entry = entryOf(labels);
        return { observe: (value) => add(entry, value) };
      },
      forget(labels) {
        for (const [key, entry] of series) if (includes(entry.labels, labels)) series.delete(key);
      },
    };
  }

  /** Every metric in the text exposition format. */
  render(): string {
    return this.#families.map((family) =>
      [`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`]
        .concat(family.lines()).join("\n")
    ).join("\n") + "\n";
  }

  #add(name: string, help: string, type: "counter" | "gauge", values: () => [Labels, number][]) {
    this.#families.push({
      name,
      help,
      type,
      lines: () => values().map(([labels, value]) => `${name}${labelText(labels)} ${value}`),
    });
  }
}

/** The content type of the text exposition format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Whether `labels` has every label of `some`, with the same value. */
function includes(labels: Labels, some: Labels): boolean {
  return Object.entries(some).every(([name, value]) => labels[name] === value);
}

function labelText(labels: Labels): string {
  const pairs = Object.entries(labels);
  if (pairs.length === 0) return "";
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function escapeHelp(help: string): string {
  return help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

/**
 * Parses the text exposition format into `name{labels}` → value, for tests and tools.
 *
 * @example
 * ```ts
 * import { parseMetrics } from "./metrics.ts";
 * parseMetrics('a_total{x="1"} 3\n').get('a_total{x="1"}'); // 3
 * ```
 */
export function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?) (\S+)$/.exec(
      line,
    );
    if (!match) throw new SyntaxError(`Not a metric sample: ${line}`);
    samples.set(match[1], Number(match[2]));
  }
  return samples;
}
