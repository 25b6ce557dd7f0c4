// The dev cluster's reaper: it stops what dev.ts started and has not seen end, and nothing else.

import assert from "node:assert/strict";

/** The reaper, started as tools/dev.ts starts it, its stdin ours to write. */
function reaper(): { write(lines: string): Promise<void>; status: Promise<Deno.CommandStatus> } {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-run", "tools/dev_reaper.ts"],
    cwd: new URL("../", import.meta.url),
    stdin: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  return {
    write: async (lines) => {
      await writer.write(new TextEncoder().encode(lines));
      await writer.close(); // as when dev.ts is killed outright
    },
    status: child.status,
  };
}

/** Whether `pid` still runs, not merely waits to be reaped (Linux: read in /proc). */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

Deno.test("the reaper stops what dev.ts started, except a process it saw end", async () => {
  const service = new Deno.Command("sleep", { args: ["30"] }).spawn();
  // Its pid could be another process's by then: this one stands for it.
  const other = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    const { write, status } = reaper();
    await write(`node ${service.pid}\nnode ${other.pid}\nexited ${other.pid}\n`);
    assert.equal((await status).code, 0);
    assert.equal((await service.status).signal, "SIGTERM");
    const ended = await Promise.race([
      other.status.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 200)),
    ]);
    assert.equal(ended, false, "not signalled");
  } finally {
    for (const child of [service, other]) {
      try {
        child.kill("SIGKILL");
      } catch {
        // ended
      }
      await child.status;
    }
  }
});

Deno.test("the reaper stops a service at once when it is left unreaped", async () => {
  if (Deno.build.os !== "linux") return; // the zombie is made and seen through /proc
  // `sleep 0` ends at once, and its parent, now `sleep 30`, never waits for it: a zombie, as a
  // stopped service is in a container whose first process reaps nothing.
  const parent = new Deno.Command("sh", {
    args: ["-c", "sleep 0 & echo $!; exec sleep 30"],
    stdout: "piped",
  }).spawn();
  try {
    const { value } = await parent.stdout.pipeThrough(new TextDecoderStream()).getReader().read();
    const zombie = Number(value!.trim());
    while (await alive(zombie)) await new Promise((resolve) => setTimeout(resolve, 20));
    const { write, status } = reaper();
    await write(`node ${zombie}\n`);
    const waited = await Promise.race([
      status.then(() => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 10_000)),
    ]);
    assert.equal(waited, false, "the reaper waited out its grace for a process that had ended");
    await status;
  } finally {
    parent.kill("SIGKILL");
    await parent.status;
  }
});
