// A node's or master's base URL, normalized to its origin: the one form addresses are compared in.

/**
 * Returns the origin of an http(s) URL with no path, query or credentials, or `undefined`.
 *
 * @example
 * ```ts
 * import { parseOrigin } from "./origin.ts";
 * parseOrigin("http://127.0.0.1:8081/"); // "http://127.0.0.1:8081"
 * parseOrigin("127.0.0.1:8081"); // undefined
 * ```
 */
export function parseOrigin(text: string): string | undefined {
  if (!URL.canParse(text)) return undefined;
  const url = new URL(text);
  const plain = url.pathname === "/" && !url.search && !url.hash && !url.username && !url.password;
  if (!plain || (url.protocol !== "http:" && url.protocol !== "https:")) return undefined;
  return url.origin;
}
