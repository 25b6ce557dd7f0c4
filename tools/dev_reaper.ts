// Stops a `deno task dev` cluster whose script was killed outright (SIGKILL), which no handler sees.

// tools/dev.ts starts this in a session of its own, its stdin a pipe, and writes a line per process
// it starts (`node <pid>` or `master <pid>`), then `done` once it stopped them itself. A pipe that
// closes before `done` means the script died: this stops the processes as the script would have,
// nodes first (they hand their keys over and deregister), then the master.

/** How long a process has to stop after SIGTERM before it gets SIGKILL. */
const GRACE_MS = 15_000;

const pids: Record<"node" | "master", number[]> = { node: [], master: [] };
let buffered = "";
for await (const text of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  buffered += text;
  const lines = buffered.split("\n");
  buffered = lines.pop()!;
  for (const line of lines) {
    if (line === "done") Deno.exit(0);
    const [role, pid] = line.split(" ");
    if ((role === "node" || role === "master") && Number(pid) > 0) pids[role].push(Number(pid));
  }
}
await Promise.all(pids.node.map(stop));
await Promise.all(pids.master.map(stop));

/** Sends `pid` SIGTERM, and SIGKILL if it still runs after {@link GRACE_MS}. */
async function stop(pid: number): Promise<void> {
  if (!signal(pid, "SIGTERM")) return;
  const end = Date.now() + GRACE_MS;
  while (await running(pid)) {
    if (Date.now() > end) {
      signal(pid, "SIGKILL");
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Sends `name` to `pid`; false when no such process is left. */
function signal(pid: number, name: Deno.Signal): boolean {
  try {
    Deno.kill(pid, name);
    return true;
  } catch {
    return false;
  }
}

/** Whether `pid` is still running: `kill -0`, which every Unix has, sends nothing. */
async function running(pid: number): Promise<boolean> {
  const { success } = await new Deno.Command("kill", {
    args: ["-0", String(pid)],
    stderr: "null",
  }).output();
  return success;
}
