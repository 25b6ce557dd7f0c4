// SHA-256 (FIPS 180-4) in JavaScript, for the short strings every request with a token digests:
// node:crypto's createHash() costs a call into the runtime and two objects per digest.

const SMALL_PRIMES = firstPrimes(64);
// The first 32 bits of the fractional parts of the cube roots of the first 64 primes, and of the
// square roots of the first 8: the standard's constants, computed rather than typed in.
const ROUND_CONSTANTS = Int32Array.from(SMALL_PRIMES, (p) => fraction32(Math.cbrt(p)));
const INITIAL_STATE = Int32Array.from(SMALL_PRIMES.slice(0, 8), (p) => fraction32(Math.sqrt(p)));

/**
 * Digests strings with SHA-256, reusing its own scratch space: the padded message (while it fits,
 * and wiped once digested), the message schedule and the state. One instance serves one caller at
 * a time, as JavaScript runs. The compression takes the same time whatever the bytes are (no
 * lookup is indexed by them): its time tells only the length.
 *
 * @example
 * ```ts
 * import { Sha256 } from "./sha256.ts";
 * new Sha256().digest("abc"); // Uint8Array [0xba, 0x78, 0x16, 0xbf, ...]
 * ```
 */
export class Sha256 {
  readonly #scratch: Uint8Array;
  readonly #schedule = new Int32Array(64);
  readonly #state = new Int32Array(8);
  readonly #encoder = new TextEncoder();

  /** `scratch`: where messages that fit are padded; given by tests, to look at once digested. */
  constructor(scratch = new Uint8Array(1024)) {
    this.#scratch = scratch;
  }

  /** The 32-byte digest of `text`'s UTF-8 bytes, as node:crypto's `createHash("sha256")` gives. */
  digest(text: string): Uint8Array {
    // UTF-8 takes at most 3 bytes a UTF-16 unit; then 0x80, the zeros and the 8-byte bit length.
    const room = paddedLength(text.length * 3);
    const bytes = room <= this.#scratch.length ? this.#scratch : new Uint8Array(room);
    const length = this.#encoder.encodeInto(text, bytes).written;
    const padded = paddedLength(length);
    bytes.fill(0, length, padded);
    bytes[length] = 0x80;
    const view = new DataView(bytes.buffer, bytes.byteOffset, padded);
    // The bit length, a 64-bit big-endian number: a string's length fits in 53 bits.
    view.setUint32(padded - 8, Math.floor(length / 0x20000000));
    view.setUint32(padded - 4, (length * 8) >>> 0);
    const state = this.#state;
    state.set(INITIAL_STATE);
    for (let block = 0; block < padded; block += 64) this.#compress(view, block);
    bytes.fill(0, 0, length); // the text, a token maybe, is not kept past its digest
    const digest = new Uint8Array(32);
    const out = new DataView(digest.buffer);
    for (let i = 0; i < 8; i++) out.setInt32(i * 4, state[i]);
    return digest;
  }

  /** Mixes the 64-byte block at `offset` of `view` into the state. */
  #compress(view: DataView, offset: number): void {
    const w = this.#schedule;
    for (let t = 0; t < 16; t++) w[t] = view.getInt32(offset + t * 4);
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15], y = w[t - 2];
      const s0 = rotate(x, 7) ^ rotate(x, 18) ^ (x >>> 3);
      const s1 = rotate(y, 17) ^ rotate(y, 19) ^ (y >>> 10);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
    }
    const state = this.#state;
    let a = state[0], b = state[1], c = state[2], d = state[3];
    let e = state[4], f = state[5], g = state[6], h = state[7];
    for (let t = 0; t < 64; t++) {
      const s1 = rotate(e, 6) ^ rotate(e, 11) ^ rotate(e, 25);
      const choice = (e & f) ^ (~e & g);
      const t1 = (h + s1 + choice + ROUND_CONSTANTS[t] + w[t]) | 0;
      const s0 = rotate(a, 2) ^ rotate(a, 13) ^ rotate(a, 22);
      const majority = (a & b) ^ (a & c) ^ (b & c);
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + s0 + majority) | 0;
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
    state[5] += f;
    state[6] += g;
    state[7] += h;
  }
}

/** The bytes a message of `length` bytes takes once padded: a whole number of 64-byte blocks. */
function paddedLength(length: number): number {
  return Math.ceil((length + 9) / 64) * 64;
}

/** `x` rotated right by `n` bits, as 32 bits. */
function rotate(x: number, n: number): number {
  return (x >>> n) | (x << (32 - n));
}

/** The first 32 bits of the fractional part of `x`. */
function fraction32(x: number): number {
  return Math.floor((x - Math.floor(x)) * 0x100000000) >>> 0;
}

/** The first `count` primes. */
function firstPrimes(count: number): number[] {
  const primes: number[] = [];
  for (let n = 2; primes.length < count; n++) {
    if (primes.every((p) => n % p !== 0)) primes.push(n);
  }
  return primes;
}
