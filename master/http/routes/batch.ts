// The master's batch routes: each batch is split by owner, one request per node, in parallel.

import type { OpenAPIHono } from "@hono/zod-openapi";
import { batchRoutes } from "../../../shared/protocol/batch_routes.ts";
import { HttpError } from "../../../shared/protocol/errors.ts";
import { checkValueSize, forwarded } from "../../../shared/protocol/key_routes.ts";
import { KeyValue, MGetResponse } from "../../../shared/protocol/wire.ts";
import type { Router } from "../../routing/router.ts";

const routes = { mget: forwarded(batchRoutes.mget), mset: forwarded(batchRoutes.mset) };

/**
 * Serves `/mget` and `/mset` by splitting each batch among the owners of its keys. A read of an
 * owner that fails goes to its keys' backups, as a single GET would.
 */
export function addBatchRoutes(app: OpenAPIHono, router: Router, maxValueBytes: number): void {
  app.openapi(routes.mget, async (c) => {
    const { keys } = c.req.valid("json");
    const groups = router.group([...new Set(keys)], (key) => key);
    const found = new Map<string, KeyValue>();
    const missed: string[] = []; // keys their owner answered it does not hold
    await settleAll([...groups].map(async ([node, group]) => {
      try {
        const answer = MGetResponse.parse(await router.call(node, "/mget", { keys: group }));
        for (const item of answer.items) found.set(item.key, item);
        missed.push(...group.filter((key) => !found.has(key)));
      } catch (error) {
        if (!nodeTrouble(error)) throw error;
        // The owner failed: each of its keys is read as a single GET is, from its backups (and,
        // while keys move, earlier owners); if they cannot make up for it, the owner's failure
        // is the answer.
        const items = await Promise.all(group.map((key) => readAlone(router, key, node)))
          .catch(() => Promise.reject(error));
        for (const item of items) if (item) found.set(item.key, item);
      }
    }));
    // While keys move, a key its owner misses may still be where it was: read it as a single
    // GET does, through the earlier rings.
    if (router.moving) {
      await Promise.all(missed.map(async (key) => {
        const answer = await router.get(key).catch(() => undefined);
        if (answer?.ok) found.set(key, KeyValue.parse(await answer.json()));
      }));
    }
    const result: MGetResponse = { items: [], missing: [] };
    for (const key of keys) {
      const item = found.get(key);
      if (item) result.items.push(item);
      else result.missing.push(key);
    }
    return c.json(result, 200);
  });

  app.openapi(routes.mset, async (c) => {
    const { items } = c.req.valid("json");
    for (const { value } of items) checkValueSize(value, maxValueBytes);
    const groups = router.group(items, (item) => item.key);
    await settleAll(
      [...groups].map(([node, group]) => router.call(node, "/mset", { items: group })),
      (failed, total) => `; items for ${total - failed} of ${total} nodes were stored`,
    );
    return c.body(null, 204);
  });
}

/** A node that could not be reached, did not answer in time, or answered 502-504 itself. */
const nodeTrouble = (error: unknown) =>
  error instanceof HttpError && error.status >= 502 && error.status <= 504;

/**
 * `key`'s item as a single GET reads it, not asking `failed`; undefined for a miss. Throws when no
 * owner answered; the caller answers with `failed`'s own error then, so this one says little.
 */
async function readAlone(
  router: Router,
  key: string,
  failed: string,
): Promise<KeyValue | undefined> {
  const answer = await router.get(key, failed);
  if (answer.status === 404) return undefined;
  if (!answer.ok) throw new HttpError(502, `No owner of key "${key}" answered: ${answer.status}`);
  return KeyValue.parse(await answer.json());
}

/**
 * Waits for every call; if any failed, throws the first failure's HttpError, its message
 * completed by `outcome(failed, total)` so a partial write is never silent.
 */
async function settleAll(
  calls: Promise<unknown>[],
  outcome?: (failed: number, total: number) => string,
): Promise<void> {
  const results = await Promise.allSettled(calls);
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failures.length === 0) return;
  const first = failures[0].reason;
  const error = first instanceof HttpError ? first : new HttpError(502, String(first));
  const more = failures.length > 1 ? ` (and ${failures.length - 1} more failed)` : "";
  throw new HttpError(
    error.status,
    error.message + more + (outcome?.(failures.length, calls.length) ?? ""),
  );
}
