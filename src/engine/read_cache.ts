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
  /** Reads into `into` when it is given (exactly `length` bytes long), else into new memory. */
  read(index: number, begin: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
}

/** A piece in the cache: its read, the memory it reads into, and who is using it. */
interface Cached {
  data: Promise<Uint8Array>;
  /** What `data` resolved to, once it has. */
  bytes?: Uint8Array;
  memory: Uint8Array | undefined;
  /** Blocks being served from it right now: its memory is reused only when this is 0. */
  pins: number;
  evicted: boolean;
}

/**
 * A bounded cache of whole pieces in front of a {@link PieceReader}, whose memory is reused
 * from piece to piece: a new buffer per piece cost our seeder a third of its time in zero-fills
 * and garbage collection. Pieces longer than a quarter of the budget are not cached: their
 * blocks are read one by one.
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
 * await cache.serve(0, 0, 16384, () => {});
 * await cache.serve(0, 16384, 16384, (block) => console.log(reads, block.length)); // 1 16384
 * ```
 */
export class ReadCache {
  /** Map order is recency: the first entry is evicted first. */
  readonly #pieces = new Map<number, Cached>();
  readonly #maxPieces: number;
  readonly #memoryLength: number;
  /** Memory of evicted pieces, for the next ones. */
  #free: Uint8Array[] = [];

  constructor(
    readonly source: PieceReader,
    /** Byte length of piece `index`. */
    readonly pieceLength: (index: number) => number,
    maxBytes: number,
  ) {
    this.#memoryLength = Math.max(1, pieceLength(0));
    this.#maxPieces = Math.floor(maxBytes / this.#memoryLength);
  }

  /**
   * Hands bytes `begin..begin+length` of piece `index` to `use`, which must be done with them
   * when it returns (the memory is reused afterwards).
   */
  async serve(
    index: number,
    begin: number,
    length: number,
    use: (block: Uint8Array) => void,
  ): Promise<void> {
    if (this.#maxPieces < 4) return use(await this.source.read(index, begin, length));
    const piece = this.#load(index);
    piece.pins++;
    try {
      use((await piece.data).subarray(begin, begin + length));
    } finally {
      piece.pins--;
      this.#recycle(piece);
    }
  }

  /**
   * Bytes `begin..begin+length` of piece `index` if the whole piece is in memory already (it
   * becomes the most recent), else `undefined`. The view must be used before the caller next
   * yields, as `serve`'s is: an evicted piece's memory is handed on from a promise callback,
   * never while the caller runs. An uploader serves a run of cached blocks without one
   * `await`, so they leave in one socket write, not one each.
   */
  peek(index: number, begin: number, length: number): Uint8Array | undefined {
    const piece = this.#pieces.get(index);
    if (piece?.bytes === undefined) return undefined;
    this.#pieces.delete(index);
    this.#pieces.set(index, piece);
    return piece.bytes.subarray(begin, begin + length);
  }

  /**
   * Starts reading piece `index` if it is not cached, so it is in memory when its blocks are
   * asked for (an uploader calls this for the piece after the one it serves).
   */
  prefetch(index: number): void {
    if (this.#maxPieces >= 4 && !this.#pieces.has(index)) this.#load(index);
  }

  /** Drops every cached piece. */
  clear(): void {
    for (const piece of this.#pieces.values()) piece.memory = undefined;
    this.#pieces.clear();
    this.#free = [];
  }

  /** The cache entry of piece `index`, read from disk if needed; it becomes the most recent. */
  #load(index: number): Cached {
    const known = this.#pieces.get(index);
    if (known) {
      this.#pieces.delete(index);
      this.#pieces.set(index, known);
      return known;
    }
    const length = this.pieceLength(index);
    const memory = this.#free.pop() ?? new Uint8Array(this.#memoryLength);
    const piece: Cached = {
      data: this.source.read(index, 0, length, memory.subarray(0, length)),
      memory,
      pins: 0,
      evicted: false,
    };
    // A failed read is not remembered: the next request tries the disk again.
    piece.data.then((bytes) => piece.bytes = bytes, () => {
      piece.memory = undefined;
      if (this.#pieces.get(index) === piece) this.#pieces.delete(index);
    });
    while (this.#pieces.size >= this.#maxPieces) {
      const [oldest, evicted] = this.#pieces.entries().next().value!;
      this.#pieces.delete(oldest);
      evicted.evicted = true;
      this.#recycle(evicted);
    }
    this.#pieces.set(index, piece);
    return piece;
  }

  /** Frees an evicted piece's memory once nobody serves from it and its read is over. */
  #recycle(piece: Cached): void {
    if (!piece.evicted || piece.pins > 0) return;
    piece.data.then(() => {
      if (piece.memory) this.#free.push(piece.memory);
      piece.memory = undefined;
    }, () => {});
  }
}
