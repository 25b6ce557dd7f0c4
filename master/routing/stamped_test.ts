// Writes through the master at R=2: to every owner at once, and again through the primary, above
// the version of those copies, when that fails.

import assert from "node:assert/strict";
import type { Fetch } from "@cache/http1/fetch";
import { NODE_TIME_HEADER } from "@cache/protocol/node_clocks";
import { silentLogger as log } from "@cache/log/log";
import { Breakers } from "./breaker.ts";
import { Router } from "./router.ts";
import { ring } from "./test_support.ts";

const [PRIMARY, BACKUP] = ring.owners("k", 2);
const BODY = '{"key":"k","value":"v"}';

/** One call a stand-in node took: where, and the headers and versions it carried. */
interface Call {
  to: string;
  epoch: string | null;
  deadline: number;
  floor: string | null;
  versions: number[];
}

/**
 * A master router at R=2, calling nodes with a timeout of `timeoutMs`, over stand-in nodes that
 * answer `/stamped` with `stamped`.
 */
function router(
  stamped: (node: string) => Response | Promise<Response>,
  timeoutMs = 1000,
  other: (call: Call) => Response = () => new Response(null, { status: 204 }),
  breakers?: Breakers,
) {
  const calls: Call[] = [];
  const fetch: Fetch = (input, init) => {
    const url = new URL(String(input));
    const headers = new Headers(init?.headers);
    const items = JSON.parse(String(init?.body ?? "{}")).items ?? [];
    const call = {
      to: `${url.origin}${url.pathname}`,
      epoch: headers.get("x-ring-epoch"),
      deadline: Number(headers.get("x-deadline")),
      floor: headers.get("x-version-above"),
      versions: items.map((item: { version?: number }) => item.version),
    };
    calls.push(call);
    const answer = url.pathname === "/stamped" ? stamped(url.origin) : other(call);
    return Promise.resolve(answer);
  };
  const placement = { ring, epoch: 7, replicas: 2, unsettledRings: [] };
  return { calls, router: new Router({ placement, fetch, timeoutMs, breakers }) };
}

Deno.test("Router.set() at R=2 sends one stamped copy to each owner, with epoch and deadline", async () => {
  const { calls, router: r } = router(() => Response.json({ stale: [] }));
  assert.equal((await r.set("k", BODY)).status, 204);
  assert.deepEqual(
    calls.map((c) => c.to).sort(),
    [`${PRIMARY}/stamped`, `${BACKUP}/stamped`].sort(),
  );
  assert.ok(calls.every((c) => c.epoch === "7" && c.deadline > Date.now()));
  assert.equal(calls[0].versions[0], calls[1].versions[0], "one version on both");
  assert.ok(calls[0].versions[0] >= (Date.now() - 1000) * 1000, "microseconds of the clock");
});

Deno.test("Router.set() stamps a client's body as it came, whitespace and fields of its own", async () => {
  const { calls, router: r } = router(() => Response.json({ stale: [] }));
  const body = ' { "key": "k", "value": "v", "version": "mine" }\n';
  assert.equal((await r.set("k", body)).status, 204);
  // The stand-in parsed each copy: valid JSON, with the master's version, the last of two.
  assert.equal(calls.length, 2);
  assert.ok(calls.every((c) => typeof c.versions[0] === "number" && c.versions[0] > 0));
});

Deno.test("Router.set() writes again through the primary, above its copies, when a try fails", async () => {
  for (
    const [why, stamped] of [
      ["stale on the primary", () => Response.json({ stale: [0] })],
      [
        "a node refusing",
        (node: string) =>
          node === BACKUP
            ? Response.json({ error: "Routed with ring epoch 7; this node knows 8" }, {
              status: 421,
            })
            : Response.json({ stale: [] }),
      ],
      [
        "a node failing",
        (node: string) =>
          node === PRIMARY
            ? Response.json({ error: "lease" }, { status: 503 })
            : Response.json({ stale: [] }),
      ],
    ] as const
  ) {
    const { calls, router: r } = router(stamped);
    assert.equal((await r.set("k", BODY)).status, 204, why);
    const again = calls.filter((c) => !c.to.endsWith("/stamped"));
    assert.deepEqual(again.map((c) => c.to), [`${PRIMARY}/keys`], why);
    assert.equal(again[0].floor, String(calls[0].versions[0]), `${why}: above the copies`);
  }
});

Deno.test("Router.set() writes again through the primary after an owner's timeout", async () => {
  // A backup may have taken the first try while the primary did not: only a write above its
  // version takes that copy back.
  for (const silent of [PRIMARY, BACKUP]) {
    const { calls, router: r } = router(
      (node) => node === silent ? new Promise<Response>(() => {}) : Response.json({ stale: [] }),
      100,
    );
    assert.equal((await r.set("k", BODY)).status, 204, silent);
    const again = calls.filter((c) => !c.to.endsWith("/stamped"));
    assert.deepEqual(again.map((c) => c.to), [`${PRIMARY}/keys`], silent);
    assert.equal(again[0].floor, String(calls[0].versions[0]), `${silent}: above the copies`);
  }
});

Deno.test("Router.set() with a clock too far ahead of the nodes' writes through the primary", async () => {
  // As nodes do: a version, or a floor, more than 10 s ahead of their clock is refused.
  const ahead = () =>
    Response.json({ error: "Version is ahead of this node's clock" }, { status: 409 });
  const { calls, router: r } = router(
    ahead,
    1000,
    (call) => call.floor === null ? new Response(null, { status: 204 }) : ahead(),
  );
  assert.equal((await r.set("k", BODY)).status, 204);
  const again = calls.filter((c) => !c.to.endsWith("/stamped"));
  assert.deepEqual(again.map((c) => `${c.to} ${c.floor}`), [`${PRIMARY}/keys null`]);
});

Deno.test("Router.set() gives a write's deadline in the node's clock, as its answers told", async () => {
  // Nodes 20 s ahead of the master: a deadline in the master's clock has passed on theirs.
  const { calls, router: r } = router(() => {
    const answer = Response.json({ stale: [] });
    answer.headers.set(NODE_TIME_HEADER, String(Date.now() + 20_000));
    return answer;
  });
  assert.equal((await r.set("k", BODY)).status, 204);
  assert.equal((await r.set("k", BODY)).status, 204);
  const ahead = calls.map((c) => c.deadline - Date.now());
  assert.ok(ahead.slice(0, 2).every((ms) => ms <= 1000), `before any answer: ${ahead}`);
  assert.ok(ahead.slice(2).every((ms) => ms > 20_000), `in the nodes' clock: ${ahead}`);
});

Deno.test("Router.set() sends a client's own second try to the primary at once, above its floor", async () => {
  const { calls, router: r } = router(() => Response.json({ stale: [] }));
  assert.equal((await r.set("k", BODY, 123)).status, 204);
  assert.deepEqual(calls.map((c) => `${c.to} ${c.floor}`), [`${PRIMARY}/keys 123`]);
});

/** {@link router} with `node`'s breaker open, its stand-ins storing every stamped copy. */
function withOpenBreaker(node: string) {
  const breakers = new Breakers({ failures: 1, cooldownMs: 60_000, now: Date.now, log });
  breakers.failed(node);
  return router(() => Response.json({ stale: [] }), 1000, undefined, breakers);
}

/** The status a write answered, or the HttpError it threw. */
async function statusOf(write: Promise<Response>): Promise<number> {
  return await write.then((answer) => answer.status, (error) => error.status);
}

Deno.test("Router.set() sends nothing to every owner at once while an owner's breaker is open", async () => {
  // The others would take a write it refuses: the copies would differ, the primary's older.
  for (const open of [PRIMARY, BACKUP]) {
    const { calls, router: r } = withOpenBreaker(open);
    const status = await statusOf(r.set("k", BODY));
    // Through the primary alone: refused at once if it is the one, else it copies to its backup.
    assert.equal(status, open === PRIMARY ? 503 : 204, open);
    assert.deepEqual(calls.map((c) => c.to), open === PRIMARY ? [] : [`${PRIMARY}/keys`], open);
  }
});

Deno.test("Router.set() writes again through a primary whose breaker opened while its copies waited", async () => {
  // Copies queued behind a call to a paused primary fail unsent when it times out, which opens
  // the breaker; the backup took its copies. Each try again must still reach the primary.
  const breakers = new Breakers({ failures: 5, cooldownMs: 60_000, now: Date.now, log });
  const taken: Record<string, string[]> = { [PRIMARY]: [], [BACKUP]: [] };
  let paused = true;
  setTimeout(() => paused = false, 100);
  const fetch: Fetch = (input, init) => {
    const url = new URL(String(input));
    const body = JSON.parse(String(init?.body));
    if (url.origin === PRIMARY && paused) {
      return new Promise((_, reject) => {
        init?.signal?.addEventListener("abort", () => reject(init.signal!.reason));
      });
    }
    taken[url.origin].push(...(body.items ?? [body]).map((item: { value: string }) => item.value));
    if (url.pathname === "/stamped") return Promise.resolve(Response.json({ stale: [] }));
    return Promise.resolve(new Response(null, { status: 204 }));
  };
  const placement = { ring, epoch: 7, replicas: 2, unsettledRings: [] };
  const r = new Router({ placement, fetch, timeoutMs: 200, breakers });
  const values = ["v1", "v2", "v3", "v4", "v5", "v6"];
  const statuses = await Promise.all(
    values.map((value) => statusOf(r.set("k", JSON.stringify({ key: "k", value })))),
  );
  assert.deepEqual(statuses, values.map(() => 204));
  assert.deepEqual(taken[BACKUP].filter((value) => !taken[PRIMARY].includes(value)), []);
});

Deno.test("Router.set() of a client's own try again fails fast on an open breaker", async () => {
  // Only the master's own tries again go through it: a client's waits for no hung primary.
  const { calls, router: r } = withOpenBreaker(PRIMARY);
  const status = await statusOf(r.set("k", BODY, 123));
  assert.deepEqual([status, calls.length], [503, 0]);
});
