// The dashboard in a real browser: Debian's Chromium driven by playwright-core.

import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { nodesOf, Processes, put, waitFor } from "../support/process.ts";

const CHROMIUM = "/usr/bin/chromium";

/** Writes `key` through `url` to live `ttl` seconds; the status. */
async function putFor(url: string, key: string, value: string, ttl: number): Promise<number> {
  const answer = await fetch(`${url}/keys`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key, value, ttl }),
  });
  await answer.body?.cancel();
  return answer.status;
}

/** Reads `key` through `url`, which must hold it. */
async function read(url: string, key: string): Promise<{ value: string; version: string }> {
  const answer = await fetch(`${url}/keys/${encodeURIComponent(key)}`);
  const body = await answer.json();
  assert.equal(answer.status, 200, `GET ${key}: ${body.error}`);
  return body;
}

Deno.test("the dashboard lists nodes live, follows writes and leaves, and inspects keys: value, version, ttl", async () => {
  // Never pass without a browser: .ci/run installs Chromium.
  assert.ok(await Deno.stat(CHROMIUM).catch(() => undefined), `${CHROMIUM} is not installed`);
  const processes = new Processes();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  try {
    const master = await processes.master();
    const nodes = await Promise.all([1, 2, 3].map(() => processes.node(master.url)));
    // All three, each synced: a node that registered last still moves keys when two are synced.
    await waitFor(async () => {
      const listed = await nodesOf(master.url);
      return listed.length === 3 && listed.every((n) => n.synced);
    }, "3 nodes settled");

    const page = await browser.newPage();
    await page.goto(`${master.url}/dashboard`);
    const rows = page.locator("#nodes tr");
    await waitFor(async () => await rows.count() === 3, "3 nodes listed");
    for (const node of nodes) {
      const status = await page.locator(`#nodes tr[data-address="${node.address}"] .status`)
        .textContent();
      assert.equal(status, "up");
    }
    assert.equal(await page.locator("#ring path").count(), 3, "a slice of the ring per node");
    assert.equal(await page.locator("#leader").textContent(), "this master");

    const shown = async (column: string) => {
      const cells = await page.locator(`#nodes td.${column}`).allTextContents();
      return cells.reduce((sum, text) => sum + (Number(text) || 0), 0);
    };
    assert.equal(await shown("copies"), 0);
    for (let i = 0; i < 20; i++) assert.equal(await put(master.url, `k${i}`, `v${i}`), 204);
    const started = Date.now();
    await waitFor(
      async () => await shown("copies") === 40,
      "copies updated (20 keys x 2 copies)",
      3000,
    );
    console.log(`  page showed the writes after ${Date.now() - started} ms`);
    assert.equal(await shown("primary"), 20, "each key is one node's primary");
    assert.equal(await page.locator("#total-keys").textContent(), "keys 20");
    assert.equal(await page.locator("#total-copies").textContent(), "copies 40");

    await nodes[2].stop("SIGTERM");
    await waitFor(async () => await rows.count() === 2, "the node that left is gone", 5000);

    // The inspector shows the version the key is at: the one a read answers, new after a write.
    const inspect = async (key: string, version: string) => {
      await page.fill("#key", key);
      await page.click("#inspect button");
      await waitFor(
        async () => (await page.locator("#version").textContent()) === version,
        `${key} at version ${version} shown`,
      );
      assert.equal(await page.locator("#item").isVisible(), true);
      return {
        value: await page.locator("#value").textContent(),
        ttl: await page.locator("#ttl").textContent() ?? "",
      };
    };
    const k7 = await read(master.url, "k7");
    assert.deepEqual(await inspect("k7", k7.version), { value: "v7", ttl: "never expires" });
    const owners = await page.locator("#owners li").allTextContents();
    assert.equal(owners.length, 2);
    assert.match(owners[0], /\(primary\)$/);
    assert.match(owners[1], /\(backup\)$/);

    await page.fill("#key", "never-written");
    await page.click("#inspect button");
    await waitFor(() => page.locator("#missing").isVisible(), "a missing key reported");
    assert.match(await page.locator("#missing").textContent() ?? "", /not found/);
    assert.equal(await page.locator("#item").isVisible(), false);
    // A URL path cannot carry "." or "..": said as the key's error, not as a route's.
    for (const dots of [".", ".."]) {
      await page.fill("#key", dots);
      await page.click("#inspect button");
      await waitFor(
        async () =>
          /must not be "\." or "\.\."/.test(await page.locator("#missing").textContent() ?? ""),
        `the key error for ${dots}`,
      );
    }

    assert.equal(await putFor(master.url, "k7", "<b>v7 again</b>", 300), 204);
    const rewritten = await read(master.url, "k7");
    assert.notEqual(rewritten.version, k7.version);
    const shownAgain = await inspect("k7", rewritten.version);
    assert.equal(shownAgain.value, "<b>v7 again</b>", "the value is shown as text");
    const left = shownAgain.ttl.match(/^(\d+\.\d) s left \(expires .+\)$/);
    assert.ok(left, `ttl shown as seconds left: ${shownAgain.ttl}`);
    assert.ok(Number(left[1]) > 250 && Number(left[1]) <= 300, `ttl ${left[1]} s of 300`);

    const shot = `${await Deno.makeTempDir({ prefix: "dashboard-" })}/dashboard.png`;
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`  screenshot: ${shot}`);
  } finally {
    await browser.close();
    await processes.stopAll();
  }
});
