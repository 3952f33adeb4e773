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
 * const padded = new ActivePiece(1, 40000, undefined, 100); // 100 bytes, then pad files
 * console.log(padded.receivedCount, padded.complete); // 2 false
 * ```
 */
export class ActivePiece {
  readonly blockCount: number;
  readonly buffer: Uint8Array;
  /**
   * How many peers each block is requested from right now. This and `received` are plain
   * arrays: two typed arrays made each piece cost 0.77 µs to create against 0.13 µs (measured),
   * which shows at 16 KiB pieces.
   */
  readonly requested: number[];
  /** 1 for each block received. */
  readonly received: number[];
  /** Address of the peer each received block came from, to blame the right one on a bad hash. */
  readonly senders: string[];
  receivedCount = 0;
  /** Every block before this index is requested or received. */
  #cursor = 0;
  /** Blocks of padding at the end, received from the start. */
  #padBlocks = 0;

  /**
   * `buffer` (default: a new one) must hold exactly `length` bytes; its contents are ignored.
   * Blocks that start at or after `dataLength` are padding: zeros, already received, never
   * asked for (and blamed on nobody).
   */
  constructor(
    readonly index: number,
    readonly length: number,
    buffer?: Uint8Array,
    dataLength = length,
  ) {
    this.blockCount = Math.ceil(length / MAX_BLOCK);
    this.buffer = buffer ?? new Uint8Array(length);
    if (this.buffer.length !== length) throw new RangeError("piece buffer of the wrong size");
    this.requested = new Array(this.blockCount).fill(0);
    this.received = new Array(this.blockCount).fill(0);
    this.senders = new Array(this.blockCount);
    const firstPad = Math.max(1, Math.ceil(dataLength / MAX_BLOCK));
    if (firstPad < this.blockCount) {
      this.buffer.fill(0, firstPad * MAX_BLOCK);
      this.received.fill(1, firstPad);
      this.receivedCount = this.#padBlocks = this.blockCount - firstPad;
    }
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

  /** Forgets received block `b` (its sender turned out to be bad): it is free again. */
  discard(b: number): void {
    if (!this.received[b]) return;
    this.received[b] = 0;
    this.receivedCount--;
    if (this.requested[b] === 0 && b < this.#cursor) this.#cursor = b;
  }

  /** True when no block is requested or received: nothing lost by giving the piece up. */
  get untouched(): boolean {
    if (this.receivedCount > this.#padBlocks) return false;
    for (let b = 0; b < this.blockCount; b++) if (this.requested[b] > 0) return false;
    return true;
  }

  get complete(): boolean {
    return this.receivedCount === this.blockCount;
  }

  /** Marks every block received from `from`: a source filled the whole buffer itself. */
  fillFrom(from: string): void {
    for (let b = 0; b < this.blockCount; b++) {
      if (this.received[b]) continue;
      this.received[b] = 1;
      this.senders[b] = from;
    }
    this.receivedCount = this.blockCount;
  }

  /** Stores block `b`; false when it was already there. */
  store(b: number, data: Uint8Array, from: string): boolean {
    if (this.received[b]) return false;
    copyAligned(this.buffer, data, b * MAX_BLOCK);
    this.received[b] = 1;
    this.senders[b] = from;
    this.receivedCount++;
    return true;
  }
}

/** Where `copyAligned` realigns bytes; one per thread is enough, as a copy never yields. */
const scratch = new Uint8Array(MAX_BLOCK);

/**
 * Copies `data` into `target` at `at`. V8 copies into or out of a `SharedArrayBuffer` word by
 * word only when both sides share their alignment, and byte by byte otherwise: 150 ms per GiB
 * against 30 (measured). A block follows a 13-byte header in the read buffer, so it is mostly
 * misaligned; it goes through an aligned scratch buffer instead, two fast copies (38 ms per GiB).
 */
function copyAligned(target: Uint8Array, data: Uint8Array, at: number): void {
  const aligned = ((target.byteOffset + at - data.byteOffset) & 7) === 0;
  if (aligned || data.length > scratch.length) return target.set(data, at);
  scratch.set(data);
  target.set(data.length === scratch.length ? scratch : scratch.subarray(0, data.length), at);
}

/**
 * Pieces shorter than this are cut several at a time from one `SharedArrayBuffer`, so that a
 * batch of writes to the disk writer names a few buffers rather than one per piece (each costs
 * the message a serialization and the worker a new object).
 */
const SLAB_BYTES = 1 << 20;

/**
 * Piece buffers for reuse. A fresh buffer costs a zero-fill and a page fault per 4 KiB on its
 * first write, then garbage collection; at 256 KiB pieces that was about a tenth of the
 * download loop's time. Callers bound how many buffers are out at once (the session's memory
 * budget), so the pool never holds more than that. The memory is shared (`SharedArrayBuffer`),
 * so the disk writer's worker reads a verified piece where it is, without a copy; memory cut
 * but never handed out is never touched, and costs address space only.
 *
 * @example
 * ```ts
 * import { PiecePool } from "./piece.ts";
 * const pool = new PiecePool(32768);
 * const a = pool.take(32768);
 * pool.give(a);
 * const b = pool.take(1000);
 * console.log(b.buffer === a.buffer && b.byteOffset === a.byteOffset); // true: the same memory
 * ```
 */
export class PiecePool {
  /** Idle buffers, each a whole piece long. */
  readonly #free: Uint8Array[] = [];
  readonly #slabs = new WeakSet<ArrayBufferLike>();

  constructor(readonly pieceLength: number) {}

  /** A buffer of `length` bytes (at most `pieceLength`), with old contents. */
  take(length: number): Uint8Array {
    if (length > this.pieceLength) throw new RangeError("longer than a piece");
    if (this.#free.length === 0) this.#cut();
    const piece = this.#free.pop()!;
    return length === piece.length ? piece : piece.subarray(0, length);
  }

  /** Returns a buffer from `take` once nothing reads it any more. */
  give(buffer: Uint8Array): void {
    if (!this.#slabs.has(buffer.buffer) || buffer.byteOffset % this.pieceLength !== 0) return;
    this.#free.push(
      buffer.length === this.pieceLength
        ? buffer
        : new Uint8Array(buffer.buffer, buffer.byteOffset, this.pieceLength),
    );
  }

  /** Frees every idle buffer (when no more pieces are coming). */
  clear(): void {
    this.#free.length = 0;
  }

  /** Cuts a new slab into idle buffers, the lowest handed out first. */
  #cut(): void {
    const count = Math.max(1, Math.floor(SLAB_BYTES / this.pieceLength));
    const slab = new SharedArrayBuffer(count * this.pieceLength);
    this.#slabs.add(slab);
    for (let i = count - 1; i >= 0; i--) {
      this.#free.push(new Uint8Array(slab, i * this.pieceLength, this.pieceLength));
    }
  }
}
