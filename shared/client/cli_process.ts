// The process the command line runs on, under Deno or under Node: its streams, environment,
// Ctrl-C and exit, which cli.ts's main() hands to run().

import { readFile } from "node:fs/promises";
import process from "node:process";
import type { CliIo } from "./cli_commands.ts";
import { EXIT } from "./cli_exit.ts";

/** This process, as the program sees it. */
export interface CliProcess {
  /** Its streams, environment and files, for run(). */
  io: Omit<CliIo, "fetch" | "signal">;
  /** Calls `listener` on each Ctrl-C (SIGINT) until the function it returns is called. */
  onInterrupt(listener: () => void): () => void;
  /** Ends the process at once with `code`. */
  exit(code: number): never;
  /** Resolves once all that was written has been taken by the streams. */
  flushed(): Promise<void>;
}

/**
 * This process: Deno's own streams where `Deno` is, `node:process` elsewhere.
 *
 * @example
 * ```ts
 * import { runtimeProcess } from "./cli_process.ts";
 * const host = runtimeProcess();
 * host.io.stdout(`CACHE_URL is ${host.io.env.get("CACHE_URL") ?? "not set"}\n`);
 * await host.flushed();
 * ```
 */
export function runtimeProcess(): CliProcess {
  return "Deno" in globalThis ? denoProcess() : nodeProcess();
}

/** This process through Deno's API: writes are synchronous. */
function denoProcess(): CliProcess {
  return {
    io: {
      stdout: denoWriter(Deno.stdout),
      stderr: denoWriter(Deno.stderr),
      env: Deno.env,
      stdoutIsTerminal: Deno.stdout.isTerminal(),
      readStdin: Deno.stdin.isTerminal()
        ? undefined
        : () => new Response(Deno.stdin.readable).text(),
      readFile: (path) => Deno.readTextFile(path),
    },
    onInterrupt(listener) {
      Deno.addSignalListener("SIGINT", listener);
      return () => Deno.removeSignalListener("SIGINT", listener);
    },
    exit: (code) => Deno.exit(code),
    flushed: () => Promise.resolve(),
  };
}

/** Writes all of `text` to `file`; a reader that went away (`| head`) ends the program quietly. */
function denoWriter(file: { writeSync(data: Uint8Array): number }): (text: string) => void {
  const encoder = new TextEncoder();
  return (text) => {
    let data = encoder.encode(text);
    try {
      while (data.length > 0) data = data.subarray(file.writeSync(data));
    } catch (error) {
      if (error instanceof Deno.errors.BrokenPipe) Deno.exit(EXIT.ok);
      throw error;
    }
  };
}

/** This process through `node:process`: Node, or another runtime that has it. */
function nodeProcess(): CliProcess {
  const stdout = nodeWriter(process.stdout);
  const stderr = nodeWriter(process.stderr);
  return {
    io: {
      stdout: stdout.write,
      stderr: stderr.write,
      env: { get: (name) => process.env[name] },
      stdoutIsTerminal: process.stdout.isTTY === true,
      readStdin: process.stdin.isTTY ? undefined : async () => {
        let text = "";
        for await (const chunk of process.stdin.setEncoding("utf8")) text += chunk;
        return text;
      },
      readFile: (path) => readFile(path, "utf8"),
    },
    onInterrupt(listener) {
      process.on("SIGINT", listener);
      return () => process.off("SIGINT", listener);
    },
    exit: (code) => process.exit(code),
    flushed: async () => {
      await Promise.all([stdout.flushed(), stderr.flushed()]);
    },
  };
}

/**
 * Writes to `stream` in order. What a pipe cannot take yet waits in the stream's buffer (the
 * program writes little), and {@link CliProcess.flushed} waits for it, since process.exit() would
 * drop it; a reader that went away (`| head`, EPIPE) ends the program quietly, as under Deno.
 */
function nodeWriter(stream: typeof process.stdout | typeof process.stderr) {
  let written = Promise.resolve();
  stream.on("error", (error: Error & { code?: string }) => {
    if (error.code === "EPIPE") process.exit(EXIT.ok);
    throw error;
  });
  return {
    write: (text: string) => {
      written = new Promise((resolve) => stream.write(text, () => resolve()));
    },
    flushed: () => written,
  };
}
