// Which methods a path has routes for: a request with another method is answered 405 with them.

/** A route as Hono lists it: a method and a path pattern of `:name`, `:name{regex}` and `*`. */
export interface RouteEntry {
  method: string;
  path: string;
}

/**
 * Builds a lookup of the methods `routes` answer at a path, in the order first declared, HEAD
 * after GET (Hono answers it with the GET route); middleware (`ALL`) is left out.
 *
 * @example
 * ```ts
 * const allowed = allowedMethods([{ method: "GET", path: "/keys/:key" }]);
 * allowed("/keys/a"); // ["GET", "HEAD"]
 * allowed("/nodes"); // []
 * ```
 */
export function allowedMethods(routes: readonly RouteEntry[]): (path: string) => string[] {
  const byPattern = new Map<string, { pattern: RegExp; methods: Set<string> }>();
  for (const { method, path } of routes) {
    if (method === "ALL") continue;
    let entry = byPattern.get(path);
    if (!entry) {
      entry = { pattern: patternOf(path), methods: new Set() };
      byPattern.set(path, entry);
    }
    entry.methods.add(method);
    if (method === "GET") entry.methods.add("HEAD");
  }
  const entries = [...byPattern.values()];
  return (path) => {
    const methods = new Set<string>();
    for (const { pattern, methods: declared } of entries) {
      if (!pattern.test(path)) continue;
      for (const method of declared) methods.add(method);
    }
    return [...methods];
  };
}

/** A Hono path pattern as a regular expression over the whole path. */
function patternOf(path: string): RegExp {
  const segments = path.split("/").map((segment) => {
    if (segment === "*") return ".*";
    if (!segment.startsWith(":")) return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const custom = segment.match(/^:[^{]+\{(.+)\}$/);
    return custom ? `(?:${custom[1]})` : "[^/]+";
  });
  return new RegExp(`^${segments.join("/")}$`);
}
