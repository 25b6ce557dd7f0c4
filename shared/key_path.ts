// A key as a URL path segment, percent-encoded only where a segment needs it.

// ":", "@" and the sub-delimiters "$&+,;=" may stand in a path segment as they are (RFC 3986);
// encodeURIComponent escapes them anyway.
const ALLOWED = /%(?:3A|40|24|26|2B|2C|3B|3D)/g;

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
