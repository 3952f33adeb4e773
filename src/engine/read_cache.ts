/**
 * Whole pieces read once for uploading. Peers ask for a piece block by block, usually all of
 * its blocks in a row, and often several peers for the same pieces: reading each 16 KiB block
 * from disk on its own made our seeder serve libtorrent at half the speed of a libtorrent seeder
 * (one read round trip per block). One read per piece, kept in a small LRU, serves the rest
 * from memory.
 *
 * @module
 */

/** Where pieces are read from (the session's `PieceStore` is one). */
export interface PieceReader {
  read(index: number, begin: number, length: number): Promise<Uint8Array>;
}

/**
 * A bounded cache of whole pieces in front of a {@link PieceReader}. Pieces longer than a
 * quarter of the budget are not cached: their blocks are read one by one.
 *
 * @example
 * ```ts
 * import { ReadCache } from "./read_cache.ts";
 * let reads = 0;
 * const disk = {
 *   read(_index: number, begin: number, length: number) {
 *     reads++;
 *     return Promise.resolve(new Uint8Array(length).fill(begin));
 *   },
 * };
 * const cache = new ReadCache(disk, () => 32768, 1 << 20);
 * await cache.read(0, 0, 16384);
 * const block = await cache.read(0, 16384, 16384);
 * console.log(reads, block.length); // 1 16384
 * ```
 */
export class ReadCache {
  /** Map order is recency: the first entry is evicted first. */
  readonly #pieces = new Map<number, Promise<Uint8Array>>();
  readonly #maxPieces: number;

  constructor(
    readonly source: PieceReader,
    /** Byte length of piece `index`. */
    readonly pieceLength: (index: number) => number,
    maxBytes: number,
  ) {
    this.#maxPieces = Math.floor(maxBytes / Math.max(1, pieceLength(0)));
  }

  /** Bytes `begin..begin+length` of piece `index` (a view into the cached piece). */
  async read(index: number, begin: number, length: number): Promise<Uint8Array> {
    if (this.#maxPieces < 4) return this.source.read(index, begin, length);
    let piece = this.#pieces.get(index);
    if (piece) {
      this.#pieces.delete(index);
    } else {
      piece = this.source.read(index, 0, this.pieceLength(index));
      // A failed read is not remembered: the next request tries the disk again.
      piece.catch(() => {
        if (this.#pieces.get(index) === piece) this.#pieces.delete(index);
      });
      while (this.#pieces.size >= this.#maxPieces) {
        this.#pieces.delete(this.#pieces.keys().next().value!);
      }
    }
    this.#pieces.set(index, piece);
    return (await piece).subarray(begin, begin + length);
  }

  /** Drops every cached piece. */
  clear(): void {
    this.#pieces.clear();
  }
}
