// Groups items by a computed key, as batch calls are split by the node that owns each key.

/**
 * Groups `items` by `groupOf(item)`, keeping their order within each group; groups come in the
 * order their first item came.
 *
 * @example
 * ```ts
 * import { groupBy } from "./group.ts";
 * groupBy(["a1", "b1", "a2"], (s) => s[0]); // Map { "a" => ["a1", "a2"], "b" => ["b1"] }
 * ```
 */
export function groupBy<T, G>(items: readonly T[], groupOf: (item: T) => G): Map<G, T[]> {
  const groups = new Map<G, T[]>();
  for (const item of items) {
    const group = groupOf(item);
    const members = groups.get(group);
    if (members) members.push(item);
    else groups.set(group, [item]);
  }
  return groups;
}
