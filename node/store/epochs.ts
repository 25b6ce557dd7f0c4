// The ring epochs records were written in, each stored once: a record keeps a 32-bit id of its
// epoch.

/**
 * Ring epochs by small ids, counted by the records that use them: an epoch can be a clock reading
 * in ms (a new leader's ring jumps to its clock), too large for the 32 bits a record header keeps,
 * while a node holds records of only a few epochs at once. Epoch 0 is id 0 and is not counted.
 *
 * @example
 * ```ts
 * import { Epochs } from "./epochs.ts";
 * const epochs = new Epochs();
 * const id = epochs.hold(1_700_000_000_000);
 * epochs.epochOf(id); // 1700000000000
 * epochs.release(id); // no record of that epoch is left: the id is free again
 * ```
 */
export class Epochs {
  readonly #ids = new Map<number, number>();
  #epochs: number[] = [0]; // by id
  #holders: number[] = [0]; // records using each id
  #freeIds: number[] = [];
  #lastEpoch = 0; // the last epoch held and its id: writes come in runs of one epoch
  #lastId = 0;

  /** The id of `epoch`, counting one more record that uses it. */
  hold(epoch: number): number {
    if (epoch === 0) return 0;
    let id = epoch === this.#lastEpoch ? this.#lastId : this.#ids.get(epoch);
    if (id === undefined) {
      id = this.#freeIds.pop() ?? this.#epochs.length;
      this.#ids.set(epoch, id);
      this.#epochs[id] = epoch;
      this.#holders[id] = 0;
    }
    this.#holders[id]++;
    this.#lastEpoch = epoch;
    this.#lastId = id;
    return id;
  }

  /** Counts one record fewer using the epoch of `id`; an id no record uses is freed. */
  release(id: number): void {
    if (id === 0 || --this.#holders[id] > 0) return;
    this.#ids.delete(this.#epochs[id]);
    this.#freeIds.push(id);
    if (this.#lastId === id) this.#lastEpoch = this.#lastId = 0;
  }

  /** The epoch of `id`. */
  epochOf(id: number): number {
    return this.#epochs[id];
  }

  /** Epochs held by at least one record. */
  get size(): number {
    return this.#ids.size;
  }

  /** Forgets every epoch. */
  clear(): void {
    this.#ids.clear();
    this.#epochs = [0];
    this.#holders = [0];
    this.#freeIds = [];
    this.#lastEpoch = this.#lastId = 0;
  }
}
