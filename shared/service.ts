// Start-up steps both services' main.ts share: settings or exit 2, and the "listening" log line.

import { ConfigError, type Setting, usage } from "./config.ts";
import type { Logger } from "./log.ts";

/**
 * Loads settings with `load`, printing help and exiting 0 on `--help`, or printing the one-line
 * reason and exiting 2 on a bad flag or value.
 */
export function loadOrExit<T>(
  command: string,
  settings: Record<string, Setting>,
  load: (env: Record<string, string | undefined>, args: string[]) => T,
): T {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(usage(command, settings));
    Deno.exit(0);
  }
  try {
    return load(Deno.env.toObject(), Deno.args);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${command}: ${error.message}`);
    Deno.exit(2);
  }
}

/** The URL a bound server answers at; a wildcard host is reached through loopback. */
export function listenUrl(addr: Deno.NetAddr): string {
  const host = addr.hostname === "0.0.0.0"
    ? "127.0.0.1"
    : addr.hostname === "::"
    ? "[::1]"
    : addr.hostname;
  return `http://${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${addr.port}`;
}

/** Runs `stop` once on the first SIGTERM or SIGINT. */
export function onStopSignal(stop: () => Promise<void>, log: Logger): void {
  let stopping = false;
  const handler = () => {
    if (stopping) return;
    stopping = true;
    log.info("shutting down");
    stop().then(() => {
      log.info("stopped");
      Deno.exit(0);
    }, (error) => {
      log.error("shutdown failed", { error: String(error) });
      Deno.exit(1);
    });
  };
  Deno.addSignalListener("SIGTERM", handler);
  Deno.addSignalListener("SIGINT", handler);
}
