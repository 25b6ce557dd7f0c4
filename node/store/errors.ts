// Why the store refuses a write: the entry can never fit, or the store is full and evicts nothing.

/** A write that can never fit: the entry alone is larger than the whole bound (HTTP 413). */
export class EntryTooLargeError extends RangeError {
  constructor(bytes: number, maxBytes: number) {
    super(`Entry needs ${bytes} bytes, more than the whole memory bound of ${maxBytes} bytes`);
    this.name = "EntryTooLargeError";
  }
}

/** A write refused because the store is full and evicts nothing (HTTP 507). */
export class StoreFullError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreFullError";
  }
}
