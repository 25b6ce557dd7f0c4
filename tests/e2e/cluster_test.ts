// The end-to-end scenarios against real master and node processes on 127.0.0.1, and the checks
// that only make sense for processes.

import assert from "node:assert/strict";
import { freePort, Processes, put, ready, settledCluster, waitFor } from "../support/process.ts";
import { scenarios } from "../support/scenarios.ts";
import { makeCertificates } from "../support/tls.ts";

for (const scenario of scenarios) {
  Deno.test(scenario.name, async () => {
    const processes = new Processes();
    try {
      await scenario.run(processes);
    } finally {
      await processes.stopAll();
    }
  });
}

Deno.test("flags reach the services: value limit, advertised address", async () => {
  const processes = new Processes();
  try {
    const master = await processes.master({ args: ["--max-value-bytes", "16"] });
    const port = freePort();
    const advertise = `http://localhost:${port}`;
    await processes.node(master.url, ["--port", String(port), "--advertise", advertise]);
    const ring = await waitFor(async () => {
      const view = await (await fetch(`${master.url}/ring`)).json();
      return view.nodes.length === 1 && view;
    }, "node registered");
    assert.deepEqual(ring.nodes, [advertise]);
    assert.equal(await put(master.url, "k", "x".repeat(17)), 413);
  } finally {
    await processes.stopAll();
  }
});

/** Runs `service` with `args` until it exits: its exit code and the lines of its stderr. */
Deno.test("a HEAD is answered as its GET without the body, its length said, on both services", async () => {
  // Answered by the app, a HEAD had its body dropped and no length.
  const processes = new Processes();
  try {
    const { master, nodes: [node] } = await settledCluster(processes, 1);
    assert.equal(await put(master.url, "k", "héllo"), 204);
    for (const url of [master.url, node.url]) {
      for (const path of ["/keys/k", "/keys/nope", "/live", "/ready", "/ring"]) {
        const got = await fetch(url + path);
        const length = (await got.bytes()).length;
        const head = await fetch(url + path, { method: "HEAD" });
        assert.equal(head.status, got.status, path);
        assert.equal(head.headers.get("content-length"), String(length), `${url}${path}`);
        assert.equal((await head.bytes()).length, 0);
      }
    }
  } finally {
    await processes.stopAll();
  }
});

async function exitOf(service: string, args: string[]) {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${service}/main.ts`, ...args],
    cwd: new URL("../../", import.meta.url),
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code, lines: new TextDecoder().decode(stderr).trim().split("\n") };
}

for (const service of ["master", "node"]) {
  Deno.test(`${service} exits 2 with one line naming a bad flag`, async () => {
    const { code, lines } = await exitOf(service, ["--port", "not-a-port"]);
    assert.equal(code, 2);
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0], /--port \(PORT\) "not-a-port"/);
  });

  Deno.test(`${service} exits 2 for an auth file with no token, rather than run open`, async () => {
    const file = await Deno.makeTempFile();
    try {
      for (const text of ["", "[]", '{"admin":[]}', "# only a comment\n"]) {
        await Deno.writeTextFile(file, text);
        const { code, lines } = await exitOf(service, ["--port", "0", "--auth-file", file]);
        assert.equal(code, 2, JSON.stringify(text));
        assert.match(lines[0], /--auth-file: .* holds no token/);
      }
    } finally {
      await Deno.remove(file);
    }
  });

  Deno.test(`${service} exits 2 with one line for a host it cannot listen on`, async () => {
    // 192.0.2.1 is kept for documentation: no interface of this machine has it.
    const { code, lines } = await exitOf(service, ["--host", "192.0.2.1", "--port", "0"]);
    assert.equal(code, 2);
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0], new RegExp(`^${service}: Cannot listen on 192\\.0\\.2\\.1:0: `));
  });

  Deno.test(`${service} exits 2 with one line naming a TLS file that is not what its flag takes`, async () => {
    const certificates = await makeCertificates();
    const { cert, key } = certificates;
    const text = await Deno.makeTempFile();
    await Deno.writeTextFile(text, "not a PEM file\n");
    try {
      const cases = [
        { args: ["--tls-cert", text, "--tls-key", key], flag: "tls-cert", holds: "certificate" },
        { args: ["--tls-cert", cert, "--tls-key", cert], flag: "tls-key", holds: "private key" },
        { args: ["--tls-ca", text], flag: "tls-ca", holds: "certificate" },
      ];
      for (const { args, flag, holds } of cases) {
        const { code, lines } = await exitOf(service, ["--port", "0", ...args]);
        assert.equal(code, 2, args.join(" "));
        assert.equal(lines.length, 1, lines.join("\n"));
        assert.match(
          lines[0],
          new RegExp(`^${service}: Invalid --${flag}: .* holds no PEM ${holds}`),
        );
      }
    } finally {
      await Deno.remove(text);
      await Deno.remove(certificates.dir, { recursive: true });
    }
  });

  Deno.test(`${service} exits 2 with one line when its port is taken`, async () => {
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const port = String((taken.addr as Deno.NetAddr).port);
      const { code, lines } = await exitOf(service, ["--host", "127.0.0.1", "--port", port]);
      assert.equal(code, 2);
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.match(lines[0], new RegExp(`^${service}: Cannot listen on 127\\.0\\.0\\.1:${port}: `));
    } finally {
      taken.close();
    }
  });
}

const TOKENS = "client:client-token-1,node:node-token-1,admin:admin-token-1";

for (const tokens of [false, true]) {
  const name = `the hot path answers exactly as the app's routes do, on master and node${
    tokens ? ", with tokens" : ""
  }`;
  Deno.test(name, async () => {
    const env: Record<string, string> = tokens
      ? { AUTH_TOKENS: TOKENS, MASTER_TOKEN: "node-token-1", NODE_TOKEN: "node-token-1" }
      : {};
    const processes = new Processes(env);
    const as = (token?: string): HeadersInit => token ? { authorization: `Bearer ${token}` } : {};
    try {
      const master = await processes.master();
      const node = await processes.node(master.url);
      await waitFor(async () => (await fetch(`${master.url}/ready`)).ok, "a node is up");
      await ready(node.url);
      const wrote = await fetch(`${master.url}/keys`, {
        method: "POST",
        headers: { "content-type": "application/json", ...as(tokens ? "client-token-1" : "") },
        body: JSON.stringify({ key: "plain", value: "v1" }),
      });
      assert.equal(wrote.status, 204, await wrote.text());
      const read = async (url: string, token?: string) => {
        const answer = await fetch(url, { headers: as(token) });
        return {
          status: answer.status,
          type: answer.headers.get("content-type"),
          epoch: answer.headers.get("x-ring-epoch"),
          challenge: answer.headers.get("www-authenticate"),
          body: await answer.json(),
        };
      };
      const callers = tokens ? [undefined, "client-token-1", "node-token-1", "nope-token"] : [""];
      const statuses = new Set<number>();
      for (const base of [master.url, node.url]) {
        for (const key of ["plain", "absent"]) {
          for (const token of callers) {
            // "pl%61in" is "plain" spelled so that only the app's route serves it.
            const spelled = key.replace("a", "%61");
            const byHot = await read(`${base}/keys/${key}`, token);
            assert.deepEqual(
              byHot,
              await read(`${base}/keys/${spelled}`, token),
              `${key} ${token}`,
            );
            statuses.add(byHot.status);
          }
        }
      }
      assert.deepEqual([...statuses].sort(), tokens ? [200, 401, 403, 404] : [200, 404]);
      const scraped = await fetch(`${node.url}/metrics`, {
        headers: as(tokens ? "admin-token-1" : ""),
      });
      assert.match(
        await scraped.text(),
        /http_requests_total\{method="GET",route="\/keys\/\{key\}",status="200"\} \d/,
      );
    } finally {
      await processes.stopAll();
    }
  });
}

Deno.test("concurrent reads and writes reach busy nodes in batches, each with its own answer", async () => {
  const processes = new Processes();
  try {
    const master = await processes.master();
    const nodes = await Promise.all([1, 2].map(() => processes.node(master.url)));
    await waitFor(
      async () => (await (await fetch(`${master.url}/nodes`)).json()).nodes.length === 2,
      "2 nodes",
    );
    const keys = Array.from({ length: 300 }, (_, i) => `batch:${i}`);
    const wrote = await Promise.all(keys.map(async (key, i) => {
      const answer = await fetch(`${master.url}/keys`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ key, value: `v${i}`, ...(i % 3 === 0 ? { ttl: 600 } : {}) }),
      });
      await answer.body?.cancel();
      return answer.status;
    }));
    assert.deepEqual(new Set(wrote), new Set([204]));
    const absent = keys.map((key) => `${key}:absent`).slice(0, 100);
    const read = await Promise.all([...keys, ...absent].map(async (key) => {
      const answer = await fetch(`${master.url}/keys/${key}`);
      return { key, status: answer.status, body: await answer.json() };
    }));
    for (const { key, status, body } of read) {
      if (key.endsWith(":absent")) {
        assert.deepEqual([status, body], [404, { error: `Key "${key}" not found` }]);
      } else {
        const i = Number(key.slice("batch:".length));
        assert.equal(status, 200, key);
        assert.equal(body.value, `v${i}`);
        assert.equal(body.ttl !== undefined, i % 3 === 0, `${key}: ttl only where one was set`);
      }
    }
    // Both nodes hold every key (two copies), and the master sent reads in batches, and writes in
    // batches to every owner at once (R=2).
    const calls = { "/mget": 0, "/stamped": 0 };
    for (const node of nodes) {
      const metrics = await (await fetch(`${node.url}/metrics`)).text();
      assert.match(metrics, /cache_keys 300\b/);
      for (const match of metrics.matchAll(/route="(\/mget|\/stamped)",status="2\d\d"\} (\d+)/g)) {
        calls[match[1] as keyof typeof calls] += Number(match[2]);
      }
    }
    assert.ok(calls["/mget"] > 0, "no /mget reached a node");
    assert.ok(calls["/stamped"] > 0, "no /stamped reached a node");
    assert.ok(calls["/stamped"] < 2 * keys.length, `${calls["/stamped"]} /stamped calls`);
  } finally {
    await processes.stopAll();
  }
});
