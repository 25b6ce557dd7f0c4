// Tokens and TLS on every hop, with real processes: client → master → node → master.

import assert from "node:assert/strict";
import { Processes, waitFor } from "../support/process.ts";
import { makeCertificates } from "../support/tls.ts";

const TOKENS = "client:client-token-1,node:node-token-1,admin:admin-token-1";

Deno.test("a cluster runs over TLS with tokens; a client without the CA is refused", async () => {
  const certs = await makeCertificates();
  const tls = {
    TLS_CERT: certs.cert,
    TLS_KEY: certs.key,
    TLS_CA: certs.caCert,
    AUTH_TOKENS: TOKENS,
  };
  const masters = new Processes({ ...tls, MASTER_TOKEN: "node-token-1" });
  const nodes = new Processes({ ...tls, NODE_TOKEN: "node-token-1" });
  const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(certs.caCert)] });
  const call = (url: string, token: string, init: RequestInit = {}) =>
    fetch(url, { ...init, client, headers: { ...init.headers, authorization: `Bearer ${token}` } });
  try {
    const master = await masters.master();
    assert.match(master.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const started = await Promise.all([1, 2].map(() => nodes.node(master.url)));
    assert.match(started[0].address, /^https:/);
    await waitFor(async () => {
      const answer = await call(`${master.url}/nodes`, "admin-token-1");
      const { nodes: known } = await answer.json();
      return known.length === 2 && known.every((n: { synced: boolean }) => n.synced);
    }, "nodes registered over TLS with their token");

    const put = await call(`${master.url}/keys`, "client-token-1", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key: "secret", value: "kept" }),
    });
    assert.equal(put.status, 204, await put.text()); // master → primary → backup, all HTTPS
    const read = await call(`${master.url}/keys/secret`, "client-token-1");
    const { version, ...item } = await read.json();
    assert.deepEqual(item, { key: "secret", value: "kept" });
    assert.equal(typeof version, "string");

    const anonymous = await fetch(`${master.url}/keys/secret`, { client });
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
    const wrongRole = await call(`${started[0].url}/replicate`, "client-token-1", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ entries: [{ key: "secret", version: 9e15, value: "forged" }] }),
    });
    assert.equal(wrongRole.status, 403);
    await wrongRole.body?.cancel();

    // Without the CA the certificate is not trusted, and plain HTTP gets no answer.
    await assert.rejects(fetch(`${master.url}/live`));
    await assert.rejects(fetch(master.url.replace("https:", "http:") + "/live"));
  } finally {
    client.close();
    await nodes.stopAll();
    await masters.stopAll();
    await Deno.remove(certs.dir, { recursive: true });
  }
});

Deno.test("a TLS cluster refuses an http:// node, and a node whose certificate it does not trust never joins", async () => {
  const [trusted, other] = await Promise.all([makeCertificates(), makeCertificates()]);
  const serving = (certs: typeof trusted, ca: string) => ({
    TLS_CERT: certs.cert,
    TLS_KEY: certs.key,
    TLS_CA: ca,
    AUTH_TOKENS: TOKENS,
  });
  const masters = new Processes({
    ...serving(trusted, trusted.caCert),
    MASTER_TOKEN: "node-token-1",
  });
  // Certificates of another CA: the master cannot call this node, though the node trusts it.
  const untrusted = new Processes({
    ...serving(other, trusted.caCert),
    NODE_TOKEN: "node-token-1",
  });
  // This node does not trust the master's certificate.
  const distrustful = new Processes({
    ...serving(trusted, other.caCert),
    NODE_TOKEN: "node-token-1",
  });
  const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(trusted.caCert)] });
  const call = (url: string, init: RequestInit = {}) =>
    fetch(url, {
      ...init,
      client,
      headers: { ...init.headers, authorization: "Bearer node-token-1" },
    });
  try {
    const master = await masters.master();
    const plain = await call(`${master.url}/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ address: "http://127.0.0.1:9" }),
    });
    assert.equal(plain.status, 400);
    assert.match((await plain.json()).error, /runs over TLS, so its address must be https/);

    const node = await untrusted.node(master.url);
    const doubter = await distrustful.node(master.url);
    await waitFor(
      () =>
        Promise.resolve(
          master.logs.some((line) =>
            line.msg === "cannot call node" && /certificate/i.test(String(line.reason))
          ) &&
            // The master's server sees the distrustful node's handshake fail, and says how.
            master.logs.some((line) => line.msg === "TLS handshake failed") &&
            doubter.logs.some((line) =>
              line.msg === "master unreachable" && /certificate/i.test(String(line.error))
            ),
        ),
      "both sides name the certificate problem",
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const admin = { authorization: "Bearer admin-token-1" };
    const nodes = await (await fetch(`${master.url}/nodes`, { client, headers: admin })).json();
    assert.deepEqual(nodes.nodes, [], "neither node ever joined");
    const told = node.logs.find((line) => line.msg === "master unreachable");
    assert.match(String(told?.error), /cannot call node .*certificate/i, "the node is told why");
    // Bounded: one line per node per 10 s while it lasts, not one per heartbeat.
    const lines = master.logs.filter((line) => line.msg === "cannot call node");
    assert.ok(lines.length <= 2, `${lines.length} log lines`);
  } finally {
    client.close();
    await untrusted.stopAll();
    await distrustful.stopAll();
    await masters.stopAll();
    await Deno.remove(trusted.dir, { recursive: true });
    await Deno.remove(other.dir, { recursive: true });
  }
});
