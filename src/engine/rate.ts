/**
 * A moving average of a byte rate over the last few seconds.
 *
 * @module
 */

/**
 * Counts bytes into one-second slots and reports their average over a short window.
 *
 * @example
 * ```ts
 * import { RateMeter } from "./rate.ts";
 * const meter = new RateMeter(5);
 * meter.add(1000, 0);
 * console.log(meter.rate(500)); // 2000: 1000 bytes in the first half second
 * ```
 */
export class RateMeter {
  #slots: Float64Array;
  #slotStart = -1;
  #total = 0;

  constructor(readonly windowSeconds = 5) {
    this.#slots = new Float64Array(windowSeconds);
  }

  /** Total bytes ever added. */
  get total(): number {
    return this.#total;
  }

  #advance(now: number): number {
    const second = Math.floor(now / 1000);
    if (this.#slotStart === -1) this.#slotStart = second;
    const lastSecond = this.#slotStart + this.#slots.length - 1;
    if (second > lastSecond) {
      const shift = Math.min(second - lastSecond, this.#slots.length);
      this.#slots.copyWithin(0, shift);
      this.#slots.fill(0, this.#slots.length - shift);
      this.#slotStart = second - this.#slots.length + 1;
    }
    return second - this.#slotStart;
  }

  /** Records `bytes` at time `now` (ms). */
  add(bytes: number, now = performance.now()): void {
    this.#slots[this.#advance(now)] += bytes;
    this.#total += bytes;
  }

  /** Bytes per second over the window (or since the first byte, when that is more recent). */
  rate(now = performance.now()): number {
    if (this.#slotStart === -1) return 0;
    this.#advance(now);
    let sum = 0;
    // Indexed, not for-of: this runs once per block received, and the iterator was garbage.
    for (let i = 0; i < this.#slots.length; i++) sum += this.#slots[i];
    const elapsed = Math.min(this.#slots.length, now / 1000 - this.#slotStart);
    return elapsed > 0 ? sum / Math.max(elapsed, 0.5) : 0;
  }
}
