// An answer's body built of text and byte runs: large values go in as the bytes they are stored
// as, and the body is encoded once, at the end.

const encoder = new TextEncoder();

/**
 * Text and bytes appended in order, made into one body: a string when every part was text (the
 * common answer, encoded once with its head by the server), else one buffer of them all.
 *
 * @example
 * ```ts
 * import { BodyParts } from "./body_parts.ts";
 * const parts = new BodyParts();
 * parts.add('{"value":"');
 * parts.add(new TextEncoder().encode("a large value"));
 * parts.add('"}');
 * parts.body(); // the bytes of {"value":"a large value"}
 * ```
 */
export class BodyParts {
  #text = ""; // the text since the last bytes
  readonly #parts: (string | Uint8Array)[] = [];

  /** Appends `part`: text, or bytes taken as they are (not copied until {@link body}). */
  add(part: string | Uint8Array): void {
    if (typeof part === "string") {
      this.#text += part;
      return;
    }
    if (this.#text !== "") this.#parts.push(this.#text);
    this.#text = "";
    this.#parts.push(part);
  }

  /** The body: the text, or the bytes of every part in order. */
  body(): string | Uint8Array {
    if (this.#parts.length === 0) return this.#text;
    const parts = this.#text === "" ? this.#parts : [...this.#parts, this.#text];
    return concat(parts.map((part) => typeof part === "string" ? encoder.encode(part) : part));
  }
}

/**
 * `chunks` joined into one buffer; one chunk alone is returned as it is.
 *
 * @example
 * ```ts
 * import { concat } from "./body_parts.ts";
 * concat([new Uint8Array([1]), new Uint8Array([2, 3])]); // Uint8Array [1, 2, 3]
 * ```
 */
export function concat<T extends ArrayBufferLike>(
  chunks: Uint8Array<T>[],
): Uint8Array<T | ArrayBuffer> {
  if (chunks.length === 1) return chunks[0];
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const all = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}
