/**
 * Pieces, once for every layer that deals in them: how a torrent's bytes divide into pieces (its
 * geometry), and what a piece is checked against (its hashes). Metainfo makes both from a
 * torrent; the engine checks what peers send and storage checks what is on disk through the same
 * `PieceHashes`, whether the torrent is v1 (a SHA-1 a piece) or v2 (merkle trees).
 *
 * @module
 */
import { bytesEqual } from "./bytes.ts";
import { sha1Matches } from "./digest.ts";
import {
  blocksRoot,
  layerRoot,
  leafCount,
  MERKLE_BLOCK,
  MERKLE_HASH,
  nextPowerOfTwo,
} from "./merkle.ts";

/** Largest accepted piece length (512 MiB): pieces are held in memory whole. */
export const MAX_PIECE_LENGTH = 512 * 1024 * 1024;

/** How a torrent's bytes divide into pieces. */
export interface PieceGeometry {
  /** Bytes per piece; the last piece may be shorter. */
  readonly pieceLength: number;
  /** `ceil(totalLength / pieceLength)`. */
  readonly pieceCount: number;
  /** Every byte the pieces cover, pad files included. */
  readonly totalLength: number;
}

/**
 * Length of piece `index` of `g`: `pieceLength`, but the last piece holds the remainder. Assumes
 * a valid index.
 *
 * @example
 * ```ts
 * import { pieceLengthAt } from "./pieces.ts";
 * const g = { pieceLength: 16384, pieceCount: 2, totalLength: 20000 };
 * console.log(pieceLengthAt(g, 0), pieceLengthAt(g, 1)); // 16384 3616
 * ```
 */
export function pieceLengthAt(g: PieceGeometry, index: number): number {
  if (index < g.pieceCount - 1) return g.pieceLength;
  return g.totalLength - g.pieceLength * (g.pieceCount - 1);
}

/** A stretch of a torrent's bytes that belongs to one file entry. */
export interface PieceSpan {
  readonly offset: number;
  readonly length: number;
  /** BEP 47 pad file: zeros that are in the pieces but in no file. */
  readonly padding?: boolean;
}

/**
 * Pieces whose last bytes are pad files, with the bytes before the padding: peers need not send
 * the rest, which is known to be zeros. v2 torrents pad every file out to a piece, so a piece of
 * a small file may be mostly padding. Pieces that hold no data at all are left out (they are
 * still fetched whole, as peers serve pad bytes as zeros).
 *
 * @example
 * ```ts
 * import { paddedPieces } from "./pieces.ts";
 * const g = { pieceLength: 16384, pieceCount: 2, totalLength: 32768 };
 * const files = [
 *   { offset: 0, length: 100 },
 *   { offset: 100, length: 16284, padding: true },
 *   { offset: 16384, length: 16384 },
 * ];
 * console.log(paddedPieces(g, files)); // Map(1) { 0 => 100 }
 * ```
 */
export function paddedPieces(
  g: PieceGeometry,
  files: readonly PieceSpan[],
): Map<number, number> {
  const L = g.pieceLength;
  const dataEnds = new Map<number, number>();
  for (const f of files) {
    if (f.padding || f.length === 0) continue;
    const end = f.offset + f.length;
    const first = Math.floor(f.offset / L), last = Math.floor((end - 1) / L);
    // Only the first piece can hold an earlier file's end; this file runs past it.
    if (first < last) dataEnds.delete(first);
    dataEnds.set(last, end - last * L);
  }
  for (const [p, dataLength] of dataEnds) {
    if (dataLength >= pieceLengthAt(g, p)) dataEnds.delete(p);
  }
  return dataEnds;
}

/** What pieces are checked against. */
export interface PieceHashes {
  /**
   * True when piece `index` can be checked now: always for v1, and for v2 once the piece layer
   * of its file is known (a torrent from a magnet link learns them from peers).
   */
  knows(index: number): boolean;
  /** True when `data`, the whole of piece `index`, is what the torrent says it is. */
  verify(index: number, data: Uint8Array): boolean;
}

/**
 * A v1 torrent's pieces: one SHA-1 a piece, 20 bytes each, concatenated (`pieces` of the info
 * dictionary).
 *
 * @example
 * ```ts
 * import { Sha1Pieces } from "./pieces.ts";
 * import { sha1 } from "./digest.ts";
 * const piece = new Uint8Array([1, 2, 3]);
 * const hashes = new Sha1Pieces(sha1(piece));
 * console.log(hashes.verify(0, piece), hashes.verify(0, new Uint8Array(3))); // true false
 * ```
 */
export class Sha1Pieces implements PieceHashes {
  constructor(readonly table: Uint8Array) {
    if (table.length % 20 !== 0) throw new RangeError("SHA-1 piece hashes are 20 bytes each");
  }

  /** Pieces the table holds hashes for. */
  get count(): number {
    return this.table.length / 20;
  }

  knows(index: number): boolean {
    return index >= 0 && index < this.count;
  }

  verify(index: number, data: Uint8Array): boolean {
    return sha1Matches(data, this.table, index * 20);
  }
}

/** One non-empty file of a v2 torrent, as its pieces see it. */
export interface MerkleFile {
  /** The file's first piece: every file starts on a piece boundary. */
  readonly firstPiece: number;
  /** Bytes in the file (more than 0). */
  readonly length: number;
  /** The file's `pieces root`: the top of the merkle tree over its 16 KiB blocks. */
  readonly root: Uint8Array;
}

/**
 * A v2 torrent's pieces: each file's merkle tree. A piece of a file longer than one piece checks
 * against its entry in the file's piece layer (which must be known: the .torrent's `piece
 * layers`, or hashes from peers); the one piece of a smaller file checks against the file's root.
 * Bytes after a file's end in its last piece (alignment padding) are not hashed.
 *
 * @example
 * ```ts
 * import { MerklePieces } from "./pieces.ts";
 * import { blocksRoot } from "./merkle.ts";
 * const file = new Uint8Array(20000).fill(1);
 * const hashes = new MerklePieces(32768, [{ firstPiece: 0, length: 20000, root: blocksRoot(file, 2) }]);
 * console.log(hashes.verify(0, file), hashes.verify(0, new Uint8Array(20000))); // true false
 * ```
 */
export class MerklePieces implements PieceHashes {
  readonly #layers: (Uint8Array | undefined)[];
  readonly #blocksPerPiece: number;

  /** `files` in piece order; `pieceLength` a power of two of at least 16 KiB. */
  constructor(readonly pieceLength: number, readonly files: readonly MerkleFile[]) {
    if (pieceLength < MERKLE_BLOCK || nextPowerOfTwo(pieceLength) !== pieceLength) {
      throw new RangeError("v2 piece length must be a power of two of at least 16 KiB");
    }
    this.#blocksPerPiece = pieceLength / MERKLE_BLOCK;
    this.#layers = files.map(() => undefined);
  }

  /** Pieces file `f` spans. */
  piecesOf(f: number): number {
    return Math.ceil(this.files[f].length / this.pieceLength);
  }

  /** Layers of file `f`'s tree above its leaves: log2 of its leaf count, padding included. */
  heightOf(f: number): number {
    return Math.log2(leafCount(this.files[f].length));
  }

  /** The first file whose `pieces root` is `root`, or -1. */
  fileOf(root: Uint8Array): number {
    return this.files.findIndex((file) => bytesEqual(file.root, root));
  }

  /** True when file `f` spans more than one piece, so its pieces need its piece layer. */
  needsLayer(f: number): boolean {
    return this.piecesOf(f) > 1;
  }

  /** File `f`'s piece layer: `32 * piecesOf(f)` bytes, once known. */
  layer(f: number): Uint8Array | undefined {
    return this.#layers[f];
  }

  /** Takes `layer` as file `f`'s piece layer if it has the right size and leads to its root. */
  setLayer(f: number, layer: Uint8Array): boolean {
    if (!this.needsLayer(f) || layer.length !== this.piecesOf(f) * MERKLE_HASH) return false;
    if (!bytesEqual(layerRoot(layer, this.pieceLength), this.files[f].root)) return false;
    this.#layers[f] = layer;
    return true;
  }

  /** Files whose piece layer is needed but not known. */
  missingLayers(): number[] {
    return this.files.flatMap((_, f) => this.needsLayer(f) && !this.#layers[f] ? [f] : []);
  }

  /** The file piece `index` belongs to, or -1 (an index past the last file). */
  fileAt(index: number): number {
    let lo = 0, hi = this.files.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.files[mid].firstPiece <= index) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found === -1 || index - this.files[found].firstPiece >= this.piecesOf(found)) return -1;
    return found;
  }

  /** True when piece `index` can be checked now (its file's layer, if it needs one, is known). */
  knows(index: number): boolean {
    const f = this.fileAt(index);
    return f !== -1 && (!this.needsLayer(f) || this.#layers[f] !== undefined);
  }

  verify(index: number, data: Uint8Array): boolean {
    const f = this.fileAt(index);
    if (f === -1) return false;
    const file = this.files[f];
    const k = index - file.firstPiece;
    const length = Math.min(this.pieceLength, file.length - k * this.pieceLength);
    if (data.length < length) return false;
    const content = data.subarray(0, length);
    if (!this.needsLayer(f)) return bytesEqual(blocksRoot(content, leafCount(length)), file.root);
    const layer = this.#layers[f];
    if (layer === undefined) return false;
    const root = blocksRoot(content, this.#blocksPerPiece);
    for (let i = 0; i < MERKLE_HASH; i++) if (root[i] !== layer[k * MERKLE_HASH + i]) return false;
    return true;
  }
}

/**
 * A hybrid torrent's pieces: a piece must match its SHA-1 and, where its merkle hashes are known,
 * its v2 hashes too; the two halves describe the same bytes, and data that satisfies only one
 * would be refused by the other swarm.
 */
export class HybridPieces implements PieceHashes {
  constructor(readonly v1: Sha1Pieces, readonly v2: MerklePieces) {}

  knows(index: number): boolean {
    return this.v1.knows(index);
  }

  verify(index: number, data: Uint8Array): boolean {
    return this.v1.verify(index, data) && (!this.v2.knows(index) || this.v2.verify(index, data));
  }
}
