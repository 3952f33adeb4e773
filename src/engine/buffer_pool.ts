/**
 * The bytes of pieces in flight (received, not yet written) of every torrent of a process,
 * bounded together: each session has its own budget too, but many downloading at once would
 * otherwise hold many times one's memory. Two pieces per session are always allowed, so no
 * torrent is starved by the others; a session left without room is woken when some is freed.
 *
 * @module
 */

/**
 * A shared limit on bytes held.
 *
 * @example
 * ```ts
 * import { BufferPool } from "./buffer_pool.ts";
 * const pool = new BufferPool(100);
 * pool.take(80);
 * console.log(pool.fits(30)); // false
 * pool.onRoom(() => console.log("room again"));
 * pool.give(80); // room again
 * console.log(pool.used); // 0
 * ```
 */
export class BufferPool {
  #used = 0;
  #waiting = new Set<() => void>();

  constructor(readonly limit: number) {}

  /** Bytes held now. */
  get used(): number {
    return this.#used;
  }

  /** Whether `bytes` more fit under the limit. */
  fits(bytes: number): boolean {
    return this.#used + bytes <= this.limit;
  }

  take(bytes: number): void {
    this.#used += bytes;
  }

  /** Gives bytes back and wakes every session that waited for room. */
  give(bytes: number): void {
    this.#used -= bytes;
    if (this.#waiting.size === 0) return;
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const wake of waiting) wake();
  }

  /** Calls `wake` once, the next time bytes are given back. */
  onRoom(wake: () => void): void {
    this.#waiting.add(wake);
  }
}
