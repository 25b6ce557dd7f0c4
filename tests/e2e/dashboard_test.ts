// The dashboard in a real browser: Debian's Chromium driven by playwright-core.

import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { nodesOf, Processes, put, waitFor } from "../support/process.ts";

const CHROMIUM = "/usr/bin/chromium";

Deno.test("the dashboard lists nodes live, follows writes and leaves, and inspects keys", async () => {
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
    await waitFor(async () => (await nodesOf(master.url)).every((n) => n.synced), "settled");

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

    await page.fill("#key", "k7");
    await page.click("#inspect button");
    await waitFor(async () => (await page.locator("#owners li").count()) === 2, "owners shown");
    const owners = await page.locator("#owners li").allTextContents();
    assert.match(owners[0], /\(primary\)$/);
    assert.match(owners[1], /\(backup\)$/);
    assert.match(await page.locator("#value").textContent() ?? "", /value: v7/);

    const shot = `${await Deno.makeTempDir({ prefix: "dashboard-" })}/dashboard.png`;
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`  screenshot: ${shot}`);
  } finally {
    await browser.close();
    await processes.stopAll();
  }
});
