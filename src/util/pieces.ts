/**
 * Pieces, once for every layer that deals in them: how a torrent's bytes divide into pieces (its
 * geometry), and what a piece is checked against (its hashes). Metainfo makes both from a
 * torrent; the engine checks what peers send and storage checks what is on disk through the same
 * `PieceHashes`, whether the torrent is v1 (a SHA-1 a piece) or v2 (merkle trees).
 *
 * @module
 */
import { sha1Matches } from "./sha1.ts";

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

/** What pieces are checked against. */
export interface PieceHashes {
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
 * import { sha1 } from "./sha1.ts";
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

  verify(index: number, data: Uint8Array): boolean {
    return sha1Matches(data, this.table, index * 20);
  }
}
