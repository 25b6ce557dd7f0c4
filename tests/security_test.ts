// Tokens and TLS on every hop, with real processes: client → master → node → master.

import assert from "node:assert/strict";
import { Processes, waitFor } from "./process.ts";
import { makeCertificates } from "./tls.ts";

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
    assert.deepEqual(await read.json(), { key: "secret", value: "kept" });

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
