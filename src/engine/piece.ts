/**
 * A piece being downloaded: its buffer and the state of each 16 KiB block in it.
 *
 * @module
 */
import { MAX_BLOCK } from "../peer/mod.ts";

/**
 * Block bookkeeping of one piece in progress. A block is free (nobody asked for it), requested
 * (by `requested[b]` peers at once; more than one only in endgame) or received.
 *
 * @example
 * ```ts
 * import { ActivePiece } from "./piece.ts";
 * const piece = new ActivePiece(0, 40000);
 * console.log(piece.blockCount, piece.nextFreeBlock()); // 3 0
 * ```
 */
export class ActivePiece {
  readonly blockCount: number;
  readonly buffer: Uint8Array;
  /** How many peers each block is requested from right now. */
  readonly requested: Uint8Array;
  readonly received: Uint8Array;
  /** Address of the peer each received block came from, to blame the right one on a bad hash. */
  readonly senders: string[];
  receivedCount = 0;
  /** Every block before this index is requested or received. */
  #cursor = 0;

  constructor(readonly index: number, readonly length: number) {
    this.blockCount = Math.ceil(length / MAX_BLOCK);
    this.buffer = new Uint8Array(length);
    this.requested = new Uint8Array(this.blockCount);
    this.received = new Uint8Array(this.blockCount);
    this.senders = new Array(this.blockCount);
  }

  /** Byte length of block `b` (the last one may be short). */
  blockLength(b: number): number {
    return Math.min(MAX_BLOCK, this.length - b * MAX_BLOCK);
  }

  /** The first block nobody has asked for, or -1. */
  nextFreeBlock(): number {
    while (this.#cursor < this.blockCount) {
      const b = this.#cursor;
      if (this.requested[b] === 0 && this.received[b] === 0) return b;
      this.#cursor++;
    }
    return -1;
  }

  /** A request for block `b` was dropped (timeout, choke, reject, disconnect). */
  release(b: number): void {
    if (this.requested[b] > 0) this.requested[b]--;
    if (this.requested[b] === 0 && this.received[b] === 0 && b < this.#cursor) this.#cursor = b;
  }

  /** True when no block is requested or received: nothing lost by giving the piece up. */
  get untouched(): boolean {
    if (this.receivedCount > 0) return false;
    for (let b = 0; b < this.blockCount; b++) if (this.requested[b] > 0) return false;
    return true;
  }

  get complete(): boolean {
    return this.receivedCount === this.blockCount;
  }

  /** Stores block `b`; false when it was already there. */
  store(b: number, data: Uint8Array, from: string): boolean {
    if (this.received[b]) return false;
    this.buffer.set(data, b * MAX_BLOCK);
    this.received[b] = 1;
    this.senders[b] = from;
    this.receivedCount++;
    return true;
  }
}
