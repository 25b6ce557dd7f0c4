// Starts a real etcd server for tests on free 127.0.0.1 ports with a temporary data directory.

import { freePort, waitFor } from "./process.ts";

/** A running etcd: its client URL, and how to stop it and remove its data. */
export interface EtcdServer {
  url: string;
  stop(): Promise<void>;
  /** Kills the process, keeping its data: `start()` brings it back at the same address. */
  kill(): Promise<void>;
  /** Starts it again after `kill()`, and waits until it answers. */
  start(): Promise<void>;
}

/** The etcd binary, or undefined with the reason it cannot run (the test is then skipped). */
export async function findEtcd(): Promise<{ path?: string; reason?: string }> {
  for (const path of ["/usr/bin/etcd", "/usr/local/bin/etcd"]) {
    try {
      await Deno.stat(path);
      return { path };
    } catch {
      // not here
    }
  }
  return { reason: "etcd is not installed (Debian: apt-get install etcd-server)" };
}

/** Starts `path` as a one-member etcd cluster and waits until it answers. */
export async function startEtcd(path: string): Promise<EtcdServer> {
  const dataDir = await Deno.makeTempDir({ prefix: "cache-etcd-" });
  const client = `http://127.0.0.1:${freePort()}`;
  const peer = `http://127.0.0.1:${freePort()}`;
  const args = [
    "--name",
    "test",
    "--data-dir",
    dataDir,
    "--listen-client-urls",
    client,
    "--advertise-client-urls",
    client,
    "--listen-peer-urls",
    peer,
    "--initial-advertise-peer-urls",
    peer,
    "--initial-cluster",
    `test=${peer}`,
  ];
  let running: { child: Deno.ChildProcess; stderr: Promise<string> } | undefined;
  const kill = async () => {
    const now = running;
    running = undefined;
    if (!now) return;
    try {
      now.child.kill("SIGKILL");
    } catch {
      // already ended
    }
    await now.child.status;
    await now.stderr;
  };
  const start = async () => {
    const child = new Deno.Command(path, { args, stdin: "null", stdout: "null", stderr: "piped" })
      .spawn();
    running = { child, stderr: new Response(child.stderr).text() };
    await waitFor(
      async () => {
        const answer = await fetch(`${client}/health`);
        await answer.body?.cancel();
        return answer.ok;
      },
      "etcd answers",
      15_000,
    );
  };
  const stop = async () => {
    await kill();
    await Deno.remove(dataDir, { recursive: true });
  };
  try {
    await start();
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: client, stop, kill, start };
}
