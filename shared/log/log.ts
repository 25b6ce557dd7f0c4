// Structured logs: one JSON object per line with time, level, msg, service and fields.

/** Log levels, least severe first. */
export const LEVELS = ["debug", "info", "warn", "error"] as const;

/** A log level. */
export type Level = typeof LEVELS[number];

/** Writes one event per call; fields are merged into the line. */
export type Logger = Record<Level, (msg: string, fields?: Record<string, unknown>) => void>;

/** Where and how a logger writes. */
export interface LoggerOptions {
  /** Least severe level written. Default "info". */
  level?: Level;
  /** Receives each line. Default `console.log`. */
  write?: (line: string) => void;
  /** Clock for the `time` field. */
  now?: () => Date;
}

/**
 * Creates a logger that writes one JSON line per event.
 *
 * @example
 * ```ts
 * import { createLogger } from "./log.ts";
 * const log = createLogger("master");
 * log.info("node down", { address: "http://127.0.0.1:8081" });
 * // {"time":"…","level":"info","msg":"node down","service":"master",
 * //  "address":"http://127.0.0.1:8081"} (one line)
 * ```
 */
export function createLogger(service: string, options: LoggerOptions = {}): Logger {
  const { level = "info", write = console.log, now = () => new Date() } = options;
  const least = LEVELS.indexOf(level);
  const entry = (at: Level) => (msg: string, fields: Record<string, unknown> = {}) => {
    if (LEVELS.indexOf(at) < least) return;
    write(JSON.stringify({ time: now().toISOString(), level: at, msg, service, ...fields }));
  };
  return { debug: entry("debug"), info: entry("info"), warn: entry("warn"), error: entry("error") };
}

/** A logger that writes nothing, for tests. */
export const silentLogger: Logger = createLogger("silent", { write: () => {} });
