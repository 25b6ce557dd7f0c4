// What the command line's tests share: the whole program run in this process, its output captured.

import { type CliIo, run } from "./cli.ts";

/** Runs the CLI in this process; its exit code and what it wrote. */
export async function cli(
  args: string[],
  io: Partial<CliIo> = {},
  env: Record<string, string> = {},
) {
  let stdout = "";
  let stderr = "";
  const code = await run(args, {
    stdout: (text) => stdout += text,
    stderr: (text) => stderr += text,
    env: new Map(Object.entries(env)),
    ...io,
  });
  return { code, stdout, stderr };
}
