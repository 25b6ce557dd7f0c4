// A key as a URL path segment, percent-encoded only where a segment needs it.

// ":", "@" and the sub-delimiters "$&+,;=" may stand in a path segment as they are (RFC 3986);
// encodeURIComponent escapes them anyway.
const ALLOWED = /%(?:3A|40|24|26|2B|2C|3B|3D)/g;

// What a segment may hold unescaped: unreserved characters, sub-delimiters, ":" and "@".
const PLAIN = /^[A-Za-z0-9\-._~:@!$&'()*+,;=]+$/;

/**
 * Whether `segment` is a key as it is, needing no decoding: what {@link keySegment} leaves alone.
 * Not "." or "..", which a URL resolves as path steps and no service takes as keys.
 *
 * @example
 * ```ts
 * import { isPlainSegment } from "./key_path.ts";
 * isPlainSegment("user:42"); // true
 * isPlainSegment("a%2Fb"); // false
 * ```
 */
export function isPlainSegment(segment: string): boolean {
  return PLAIN.test(segment) && segment !== "." && segment !== "..";
}

/**
 * Encodes `key` as one path segment. Keys such as `user:42` stay as they are, so they reach a
 * service's fast read (`fastKeyGet`), which takes only segments that need no decoding; every
 * other character is escaped as `encodeURIComponent` escapes it.
 *
 * @example
 * ```ts
 * import { keySegment } from "./key_path.ts";
 * keySegment("user:42"); // "user:42"
 * keySegment("a/b c"); // "a%2Fb%20c"
 * ```
 */
export function keySegment(key: string): string {
  return encodeURIComponent(key).replace(ALLOWED, decodeURIComponent);
}
