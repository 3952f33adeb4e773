/**
 * A fixed-size bit set in BitTorrent's wire order (bit 0 is the high bit of byte 0), with a
 * running count so "how many pieces do we have" is O(1).
 *
 * @module
 */

/**
 * Piece bitmap.
 *
 * @example
 * ```ts
 * import { Bitfield } from "./bitfield.ts";
 * const have = new Bitfield(10);
 * have.set(3);
 * console.log(have.has(3), have.count, have.bytes); // true 1 Uint8Array(2) [ 16, 0 ]
 * ```
 */
export class Bitfield {
  /** Number of bits. */
  readonly size: number;
  /** Wire bytes, `ceil(size / 8)` long; spare bits in the last byte stay zero. */
  readonly bytes: Uint8Array;
  #count = 0;

  constructor(size: number, bytes?: Uint8Array) {
    this.size = size;
    this.bytes = new Uint8Array(Math.ceil(size / 8));
    if (bytes) {
      this.bytes.set(bytes.subarray(0, this.bytes.length));
      const spare = this.bytes.length * 8 - size;
      if (spare > 0) this.bytes[this.bytes.length - 1] &= 0xff << spare;
      for (const b of this.bytes) this.#count += popcount(b);
    }
  }

  /** Number of set bits. */
  get count(): number {
    return this.#count;
  }

  /** True when every bit is set. */
  get complete(): boolean {
    return this.#count === this.size;
  }

  has(i: number): boolean {
    return (this.bytes[i >> 3] & (0x80 >> (i & 7))) !== 0;
  }

  set(i: number): void {
    const mask = 0x80 >> (i & 7);
    if ((this.bytes[i >> 3] & mask) === 0) {
      this.bytes[i >> 3] |= mask;
      this.#count++;
    }
  }

  clear(i: number): void {
    const mask = 0x80 >> (i & 7);
    if ((this.bytes[i >> 3] & mask) !== 0) {
      this.bytes[i >> 3] &= ~mask;
      this.#count--;
    }
  }

  /** Sets every bit. */
  fill(): void {
    this.bytes.fill(0xff);
    const spare = this.bytes.length * 8 - this.size;
    if (spare > 0) this.bytes[this.bytes.length - 1] = 0xff << spare & 0xff;
    this.#count = this.size;
  }

  /** Indexes of set bits, ascending. */
  *ones(): IterableIterator<number> {
    for (let byte = 0; byte < this.bytes.length; byte++) {
      const b = this.bytes[byte];
      if (b === 0) continue;
      for (let bit = 0; bit < 8; bit++) if (b & (0x80 >> bit)) yield byte * 8 + bit;
    }
  }
}

function popcount(b: number): number {
  let n = 0;
  for (; b; b &= b - 1) n++;
  return n;
}

/**
 * Checks a peer's BITFIELD payload: exactly `ceil(size/8)` bytes with the spare bits clear.
 *
 * @example
 * ```ts
 * import { isValidBitfield } from "./bitfield.ts";
 * console.log(isValidBitfield(new Uint8Array([0xff, 0x80]), 9)); // true
 * ```
 */
export function isValidBitfield(bytes: Uint8Array, size: number): boolean {
  if (bytes.length !== Math.ceil(size / 8)) return false;
  const spare = bytes.length * 8 - size;
  return spare === 0 || (bytes[bytes.length - 1] & ((1 << spare) - 1)) === 0;
}
