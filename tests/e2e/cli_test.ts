// The command line against a real master and two nodes: values, exit codes, owners, stats, top,
// and the real program started as a process.

import assert from "node:assert/strict";
import { CacheClient } from "@cache/client";
import { cli } from "../../shared/client/cli_test_support.ts";
import { Processes, settledCluster } from "../support/process.ts";

const ROOT = new URL("../../", import.meta.url);

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = await fetch(url);
  return { status: answer.status, body: await answer.json() };
}

Deno.test("run() against a real master and two nodes", async (t) => {
  const processes = new Processes();
  const started = await settledCluster(processes, 2);
  const master = started.master.url;
  const nodes = started.nodes.map((node) => node.address).sort();
  const env = { CACHE_URL: master };
  try {
    await t.step("set, get, del: values, OK, 1, and exit 1 for a missing key", async () => {
      assert.deepEqual(await cli(["set", "user:1", "Ada Lovelace"], {}, env), {
        code: 0,
        stdout: "OK\n",
        stderr: "",
      });
      assert.deepEqual(await cli(["get", "user:1"], {}, env), {
        code: 0,
        stdout: "Ada Lovelace\n",
        stderr: "",
      });
      const proxied = await cli(["get", "user:1", "--proxy", "--json"], {}, env);
      const { version, ...item } = JSON.parse(proxied.stdout);
      assert.deepEqual(item, { key: "user:1", value: "Ada Lovelace" });
      assert.equal(typeof version, "string");
      assert.deepEqual(await cli(["get", "nobody"], {}, env), { code: 1, stdout: "", stderr: "" });
      const json = await cli(["get", "nobody", "--json"], {}, env);
      assert.deepEqual([json.code, JSON.parse(json.stdout)], [1, {
        key: "nobody",
        value: null,
        version: null,
      }]);
      assert.deepEqual(await cli(["del", "user:1"], {}, env), {
        code: 0,
        stdout: "1\n",
        stderr: "",
      });
      assert.deepEqual(await cli(["del", "user:1"], {}, env), {
        code: 1,
        stdout: "0\n",
        stderr: "",
      });
      assert.equal((await cli(["get", "user:1"], {}, env)).code, 1);
      assert.equal((await cli(["set", "brief", "x", "--ttl", "0.2"], {}, env)).code, 0);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal((await cli(["get", "brief"], {}, env)).code, 1);
    });

    await t.step(
      "mset from JSON lines and a JSON array file; mget, exit 1 if any is missing",
      async () => {
        const lines = Array.from(
          { length: 30 },
          (_, i) => JSON.stringify({ key: `k${i}`, value: `v${i}` }),
        );
        const piped = await cli(["mset"], {
          readStdin: () => Promise.resolve(lines.join("\n")),
        }, env);
        assert.deepEqual(piped, { code: 0, stdout: "OK\n", stderr: "" });
        const file = await Deno.makeTempFile({ suffix: ".json" });
        try {
          await Deno.writeTextFile(
            file,
            '[{"key":"a b","value":"tab\\there"},{"key":"t","value":"1","ttl":60}]',
          );
          const written = await cli(["mset", "--file", file, "--json"], {}, env);
          assert.deepEqual([written.code, JSON.parse(written.stdout)], [0, { ok: true, items: 2 }]);
        } finally {
          await Deno.remove(file);
        }
        assert.deepEqual(await cli(["mget", "k0", "k29", "t"], {}, env), {
          code: 0,
          stdout: "k0\tv0\nk29\tv29\nt\t1\n",
          stderr: "",
        });
        const some = await cli(["mget", "k3", "missing"], {}, env);
        assert.deepEqual(some, { code: 1, stdout: "k3\tv3\nmissing\t(nil)\n", stderr: "" });
        const json = await cli(["mget", "a b", "missing", "--json"], {}, env);
        assert.equal(json.code, 1);
        assert.deepEqual(JSON.parse(json.stdout), {
          items: [{ key: "a b", value: "tab\there" }, { key: "missing", value: null }],
        });
      },
    );

    await t.step("owners agrees with the master's own routing", async () => {
      for (const key of ["k0", "k1", "user:42", "a b", "ключ"]) {
        const { body } = await getJson(`${master}/ring/owners/${encodeURIComponent(key)}`);
        const owners = body.owners as string[];
        assert.equal(owners.length, 2, "two nodes, two replicas");
        assert.deepEqual(await cli(["owners", key], {}, env), {
          code: 0,
          stdout: owners.map((owner) => `${owner}\n`).join(""),
          stderr: "",
        });
        const json = JSON.parse((await cli(["owners", key, "--json"], {}, env)).stdout);
        assert.deepEqual(json, { key, epoch: body.epoch, owners });
      }
    });

    await t.step("stats and nodes name every node, in text and JSON", async () => {
      const stats = await cli(["stats"], {}, env);
      assert.equal(stats.code, 0, stats.stderr);
      for (const node of nodes) assert.match(stats.stdout, new RegExp(`^${node} +\\d+ `, "m"));
      assert.match(stats.stdout, /^keys +\d+$/m);
      const statsJson = JSON.parse((await cli(["stats", "--json"], {}, env)).stdout);
      assert.deepEqual(statsJson.nodes.map((n: { address: string }) => n.address).sort(), nodes);
      const list = await cli(["nodes"], {}, env);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /^Ring epoch \d+: 2 nodes, 2 up$/m);
      for (const node of nodes) assert.match(list.stdout, new RegExp(`^${node} +up +yes `, "m"));
      const listJson = JSON.parse((await cli(["nodes", "--json"], {}, env)).stdout);
      assert.deepEqual(listJson.nodes.map((n: { address: string }) => n.address).sort(), nodes);
    });

    await t.step("top --once counts the reads made while it watched", async () => {
      const cache = await CacheClient.connect(master);
      const end = Date.now() + 1200;
      const reading = (async () => {
        while (Date.now() < end) await cache.get("k1");
      })();
      try {
        const watched = await cli(["top", "--once", "--interval-ms", "800", "--json"], {}, env);
        assert.equal(watched.code, 0, watched.stderr);
        const refresh = JSON.parse(watched.stdout);
        assert.deepEqual(refresh.nodes.map((n: { address: string }) => n.address).sort(), nodes);
        assert.ok(refresh.seconds >= 0.8, `over ${refresh.seconds} s`);
        assert.ok(refresh.total.readsPerSecond > 0, JSON.stringify(refresh.total));
        assert.ok(refresh.total.opsPerSecond > 0, JSON.stringify(refresh.total));
        assert.ok(refresh.total.hitRate > 0.99, "every read found k1");
        for (const node of refresh.nodes) assert.notEqual(node.opsPerSecond, null, node.address);
      } finally {
        await reading;
        cache.close();
      }
      const text = await cli(["top", "--once", "--interval-ms", "100"], {}, env);
      assert.equal(text.code, 0, text.stderr);
      assert.match(
        text.stdout,
        /^cache top {2}http:\/\/127\.0\.0\.1:\d+ {2}\d\d:\d\d:\d\d UTC {2}over /,
      );
      assert.match(text.stdout, /^NODE +OPS\/S +READS\/S +HIT% +KEYS +MEMORY$/m);
      for (const node of nodes) assert.match(text.stdout, new RegExp(`^${node} +[\\d.-]+ `, "m"));
      assert.match(text.stdout, /^TOTAL /m);
      assert.ok(!text.stdout.includes("\x1b"), "no escapes when stdout is not a terminal");
    });

    await t.step(
      "the real program: import.meta.main, CACHE_URL, stdout and the exit code",
      async () => {
        assert.equal((await cli(["set", "a", "1"], {}, env)).code, 0);
        const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--allow-net",
            "--allow-env",
            "--allow-read",
            "shared/client/cli.ts",
            "mget",
            "a",
            "missing",
          ],
          cwd: ROOT,
          stdin: "null",
          env: { CACHE_URL: master, NO_COLOR: "1" },
        }).output();
        assert.equal(new TextDecoder().decode(stderr), "");
        assert.equal(new TextDecoder().decode(stdout), "a\t1\nmissing\t(nil)\n");
        assert.equal(code, 1);
      },
    );
  } finally {
    await processes.stopAll();
  }
});
