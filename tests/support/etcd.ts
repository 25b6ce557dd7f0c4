// Starts a real etcd server for tests on free 127.0.0.1 ports with a temporary data directory.

import { freePort, waitFor } from "./process.ts";

/** A running etcd: its client URL, and how to stop it and remove its data. */
export interface EtcdServer {
  url: string;
  stop(): Promise<void>;
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
  const child = new Deno.Command(path, {
    args: [
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
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const stop = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already ended
    }
    await child.status;
    await stderr;
    await Deno.remove(dataDir, { recursive: true });
  };
  try {
    await waitFor(
      async () => {
        const answer = await fetch(`${client}/health`);
        await answer.body?.cancel();
        return answer.ok;
      },
      "etcd answers",
      15_000,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: client, stop };
}
