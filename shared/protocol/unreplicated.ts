// The keys a primary stored but some backup did not take, as its error answer to a write names
// them.

/**
 * The `unreplicated` keys an error body names: a primary that stored a batch of writes and then
 * failed to copy some to a backup answers 502 or 504 with `{"error": …, "unreplicated": [keys]}`.
 * The writes of the other keys are on all their owners. Undefined when the body names none, or is
 * not such an object: then no write of the batch can be told apart.
 *
 * @example
 * ```ts
 * import { unreplicatedKeys } from "./unreplicated.ts";
 * unreplicatedKeys({ error: "1 of 2 backups did not take it", unreplicated: ["b"] }); // Set {"b"}
 * unreplicatedKeys({ error: "Lease lost" }); // undefined
 * ```
 */
export function unreplicatedKeys(body: unknown): Set<string> | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const keys = (body as { unreplicated?: unknown }).unreplicated;
  if (!Array.isArray(keys) || !keys.every((key) => typeof key === "string")) return undefined;
  return new Set(keys);
}
