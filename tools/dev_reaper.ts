// Stops a `deno task dev` cluster whose script was killed outright (SIGKILL), which no handler
// sees.

// tools/dev.ts starts this in a session of its own, its stdin a pipe, and writes a line per process
// it starts (`node <pid>` or `master <pid>`), one per process that ended (`exited <pid>`: its pid
// may soon be another's), then `done` once it stopped them itself. A pipe that closes before `done`
// means the script died: this stops the processes as the script would have, nodes first (they hand
// their keys over and deregister), then the master.

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
    const [role, text] = line.split(" ");
    const pid = Number(text);
    if ((role === "node" || role === "master") && pid > 0) pids[role].push(pid);
    if (role === "exited") {
      pids.node = pids.node.filter((other) => other !== pid);
      pids.master = pids.master.filter((other) => other !== pid);
    }
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

/**
 * Whether `pid` is still running: `kill -0`, which every Unix has, sends nothing. It counts a
 * process that ended but is not yet reaped (a zombie, as in a container whose first process reaps
 * nothing), so where /proc tells the state, a zombie is not running.
 */
async function running(pid: number): Promise<boolean> {
  if (!(await run("kill", "-0", String(pid))).success) return false;
  // Read by `cat`: Deno asks for every permission to read /proc itself.
  const { success, stdout } = await run("cat", `/proc/${pid}/stat`);
  if (!success) return true;
  // The state follows the name, which is in parentheses and may hold anything.
  const stat = new TextDecoder().decode(stdout);
  return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}

function run(command: string, ...args: string[]): Promise<Deno.CommandOutput> {
  return new Deno.Command(command, { args, stdout: "piped", stderr: "null" }).output();
}
