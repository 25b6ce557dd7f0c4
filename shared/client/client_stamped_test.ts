// A direct client's writes at R=2 against stand-in nodes: to every owner at once, and again through
// the primary, above the version of those copies, when that fails.

import assert from "node:assert/strict";
import { CacheClient } from "./client.ts";
import { MASTER, view } from "./client_test_support.ts";
import { EPOCH_HEADER, VERSION_FLOOR_HEADER } from "@cache/protocol/wire";
import { Ring } from "@cache/ring/ring";

const NODES = ["http://a:1", "http://b:1"];
const [PRIMARY, BACKUP] = new Ring(NODES).owners("k", 2);

/** One call a stand-in node took: where, what, and the version header and items it carried. */
interface Call {
  node: string;
  path: string;
  floor: string | null;
  versions: number[];
}

/**
 * A direct client of a stand-in cluster at R=2 whose nodes answer `/stamped` with `stamped`, and
 * other writes with `other` (204 by default).
 */
async function cluster(
  stamped: (node: string) => Response,
  other: (call: Call) => Response = () => new Response(null, { status: 204 }),
) {
  const calls: Call[] = [];
  const cache = await CacheClient.connect(MASTER, {
    mode: "direct",
    fetch: (input, init) => {
      const url = new URL(input);
      if (url.pathname === "/ring") {
        return Promise.resolve(Response.json({ ...view(4, NODES), replicas: 2 }));
      }
      const headers = new Headers(init.headers);
      const body = JSON.parse(String(init.body ?? "{}"));
      const versions = (body.items ?? []).map((item: { version?: number }) => item.version);
      const call = {
        node: url.origin,
        path: url.pathname,
        floor: headers.get(VERSION_FLOOR_HEADER),
        versions,
      };
      calls.push(call);
      const answer = url.pathname === "/stamped" ? stamped(url.origin) : other(call);
      answer.headers.set(EPOCH_HEADER, "4");
      return Promise.resolve(answer);
    },
  });
  return { cache, calls };
}

Deno.test("CacheClient.set() at R=2 sends one stamped copy to each owner, and is done", async () => {
  const { cache, calls } = await cluster(() => Response.json({ stale: [] }));
  await cache.set("k", "v");
  assert.deepEqual(
    calls.map((c) => `${c.node} ${c.path}`).sort(),
    [
      `${PRIMARY} /stamped`,
      `${BACKUP} /stamped`,
    ].sort(),
  );
  assert.equal(calls[0].versions[0], calls[1].versions[0], "one version on both");
  cache.close();
});

Deno.test("CacheClient.set() writes again through the primary, above its copies, when a try fails", async () => {
  for (
    const [why, answer] of [
      ["stale on the primary", () => Response.json({ stale: [0] })],
      [
        "the primary's lease lost",
        (node: string) =>
          node === PRIMARY
            ? Response.json({ error: "lease" }, { status: 503 })
            : Response.json({ stale: [] }),
      ],
      [
        "a backup refusing",
        (node: string) =>
          node === BACKUP
            ? Response.json({ error: "ahead" }, { status: 409 })
            : Response.json({ stale: [] }),
      ],
    ] as const
  ) {
    const { cache, calls } = await cluster(answer);
    await cache.set("k", "v");
    const copies = calls.filter((c) => c.path === "/stamped");
    const again = calls.filter((c) => c.path !== "/stamped");
    assert.equal(copies.length, 2, why);
    assert.deepEqual(again.map((c) => `${c.node} ${c.path}`), [`${PRIMARY} /keys`], why);
    assert.equal(again[0].floor, String(copies[0].versions[0]), `${why}: above the copies`);
    cache.close();
  }
});

Deno.test("CacheClient.set() with a clock too far ahead of the nodes' writes through the primary", async () => {
  // As nodes do: a version, or a floor, more than 10 s ahead of their clock is refused.
  const ahead = () =>
    Response.json({ error: "Version is ahead of this node's clock" }, { status: 409 });
  const { cache, calls } = await cluster(
    ahead,
    (call) => call.floor === null ? new Response(null, { status: 204 }) : ahead(),
  );
  await cache.set("k", "v");
  const again = calls.filter((c) => c.path !== "/stamped");
  assert.deepEqual(again.map((c) => `${c.node} ${c.path} ${c.floor}`), [`${PRIMARY} /keys null`]);
  cache.close();
});
