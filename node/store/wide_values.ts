// Values stored as UTF-16 code units: a string with a lone surrogate, which UTF-8 cannot carry.

/**
 * Whether `value` is stored as UTF-16 code units rather than UTF-8: it holds a lone surrogate,
 * which encoding would turn into U+FFFD, so the store would not give back what it was given.
 *
 * @example
 * ```ts
 * import { isWide } from "./wide_values.ts";
 * isWide("é😀"); // false
 * isWide("\ud800"); // true
 * ```
 */
export function isWide(value: string): boolean {
  return !value.isWellFormed();
}

/** Writes `value`'s UTF-16 code units, little-endian, at `start`. */
export function writeUnits(value: string, bytes: Uint8Array, start: number): void {
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    bytes[start + 2 * i] = unit & 0xff;
    bytes[start + 2 * i + 1] = unit >> 8;
  }
}

/** `value`'s UTF-16 code units as little-endian bytes. */
export function unitBytes(value: string): Uint8Array {
  const bytes = new Uint8Array(2 * value.length);
  writeUnits(value, bytes, 0);
  return bytes;
}

/**
 * The string of the little-endian UTF-16 code units from `start` to `end`, surrogates as they are.
 */
export function readUnits(bytes: Uint8Array, start: number, end: number): string {
  let text = "";
  const units: number[] = [];
  for (let at = start; at < end; at += 2) {
    units.push(bytes[at] | (bytes[at + 1] << 8));
    if (units.length === 4096 || at + 2 >= end) {
      text += String.fromCharCode(...units);
      units.length = 0;
    }
  }
  return text;
}
