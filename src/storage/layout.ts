/**
 * The shape of a torrent's data as storage needs it, its validation, and the mapping from a
 * byte range of the concatenated data to (file, offset, length) segments.
 *
 * @module
 */
import { MAX_PIECE_LENGTH, type PieceGeometry, type PieceHashes } from "../util/mod.ts";
import { StorageError } from "./error.ts";

/** One file of a torrent, in the order of the concatenated data. */
export interface StorageFile {
  /** Path components relative to the output folder, already sanitised by metainfo. */
  readonly path: readonly string[];
  /** Length in bytes. */
  readonly length: number;
  /** Byte offset of the file in the torrent's concatenated data. */
  readonly offset: number;
  /** BEP 47 pad file: occupies bytes, is never created on disk, reads as zeros. */
  readonly padding?: boolean;
  /**
   * BEP 47 symlink entry (its target, as metainfo gives it): holds no data (length 0) and is not
   * created by storage, neither as a file nor as a link.
   */
  readonly symlink?: readonly string[];
}

/** True for files storage keeps on disk: neither pad files nor symlink entries. */
export function isStored(f: StorageFile): boolean {
  return !f.padding && f.symlink === undefined;
}

/**
 * What storage needs to know about a torrent. metainfo's `Torrent` matches it structurally, so
 * storage does not depend on metainfo and tests can build layouts by hand.
 */
export interface StorageLayout extends PieceGeometry {
  /** What each piece is checked against. */
  readonly hashes: PieceHashes;
  /** Files in data order; offsets are contiguous. */
  readonly files: readonly StorageFile[];
  /** The torrent's info-hash (20 bytes, or 32 for v2), which names its part file. */
  readonly infoHash: Uint8Array;
}

/** A stretch of one file that a byte range of the torrent covers. */
export interface Segment {
  /** Index into `layout.files`. */
  file: number;
  /** Byte offset inside the file. */
  fileOffset: number;
  /** Byte offset inside the caller's buffer. */
  bufOffset: number;
  /** Number of bytes. */
  length: number;
}

function isSize(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

const BAD_COMPONENT = /[/\\\0]/;

/**
 * Throws `StorageError` unless `layout` is self-consistent and every path is a safe relative one.
 *
 * @example
 * ```ts
 * import { validateLayout } from "./layout.ts";
 * import { Sha1Pieces } from "../util/mod.ts";
 * const files = [{ path: ["..", "evil"], length: 1, offset: 0 }];
 * try {
 *   validateLayout({ pieceLength: 1, pieceCount: 1, hashes: new Sha1Pieces(new Uint8Array(20)), infoHash: new Uint8Array(20), totalLength: 1, files });
 * } catch (e) {
 *   console.log((e as Error).message); // invalid torrent layout: file 0 has an unsafe path component ".."
 * }
 * ```
 */
export function validateLayout(layout: StorageLayout): void {
  const bad = (why: string) => new StorageError(`invalid torrent layout: ${why}`);
  if (typeof layout !== "object" || layout === null) throw bad("not an object");
  const { pieceLength, pieceCount, hashes, totalLength, files } = layout;
  if (!isSize(pieceLength) || pieceLength === 0 || pieceLength > MAX_PIECE_LENGTH) {
    throw bad(`piece length ${pieceLength} out of range`);
  }
  if (!isSize(totalLength)) throw bad(`total length ${totalLength} out of range`);
  if (!isSize(pieceCount) || pieceCount !== Math.ceil(totalLength / pieceLength)) {
    throw bad(`piece count ${pieceCount} does not match total length ${totalLength}`);
  }
  if (typeof hashes?.verify !== "function") throw bad("no piece hashes");
  if (!Array.isArray(files)) throw bad("no file list");
  const { infoHash } = layout;
  if (!(infoHash instanceof Uint8Array && (infoHash.length === 20 || infoHash.length === 32))) {
    throw bad("the info-hash is not 20 or 32 bytes");
  }
  let offset = 0;
  const seen = new Set<string>();
  for (let i = 0; i < files.length; i++) {
    const f: StorageFile | null = files[i];
    if (typeof f !== "object" || f === null) throw bad(`file ${i} is not a file entry`);
    if (!isSize(f.length) || f.offset !== offset) throw bad(`file ${i} has a bad length or offset`);
    offset += f.length;
    if (!Number.isSafeInteger(offset)) throw bad("files too large");
    if (f.symlink !== undefined && f.length !== 0) throw bad(`symlink entry ${i} holds data`);
    if (!isStored(f)) continue;
    if (!Array.isArray(f.path) || f.path.length === 0) throw bad(`file ${i} has no path`);
    for (const c of f.path) {
      if (typeof c !== "string" || c === "" || c === "." || c === ".." || BAD_COMPONENT.test(c)) {
        throw bad(`file ${i} has an unsafe path component ${JSON.stringify(c)}`);
      }
    }
    const key = f.path.join("/");
    if (seen.has(key)) throw bad(`file ${key} is listed twice`);
    seen.add(key);
  }
  if (offset !== totalLength) throw bad("file lengths do not add up to the total length");
}

/**
 * Segments covering torrent bytes `[start, start + length)`, in order, skipping zero-length
 * files. Assumes the range is inside the torrent.
 *
 * @example
 * ```ts
 * import { segmentsOf } from "./layout.ts";
 * import { Sha1Pieces } from "../util/mod.ts";
 * const files = [{ path: ["a"], length: 3, offset: 0 }, { path: ["b"], length: 5, offset: 3 }];
 * const layout = { pieceLength: 4, pieceCount: 2, hashes: new Sha1Pieces(new Uint8Array(40)), infoHash: new Uint8Array(20), totalLength: 8, files };
 * console.log(segmentsOf(layout, 0, 4).map((s) => [s.file, s.fileOffset, s.length])); // [[0, 0, 3], [1, 0, 1]]
 * ```
 */
export function segmentsOf(
  layout: { readonly files: readonly StorageFile[] },
  start: number,
  length: number,
): Segment[] {
  const files = layout.files;
  // First file whose end lies beyond `start`: ends are non-decreasing, so binary search.
  let lo = 0, hi = files.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (files[mid].offset + files[mid].length > start) hi = mid;
    else lo = mid + 1;
  }
  const out: Segment[] = [];
  let pos = start;
  const end = start + length;
  for (let i = lo; i < files.length && pos < end; i++) {
    const f = files[i];
    if (f.length === 0) continue;
    const fileOffset = pos - f.offset;
    const n = Math.min(f.length - fileOffset, end - pos);
    out.push({ file: i, fileOffset, bufOffset: pos - start, length: n });
    pos += n;
  }
  return out;
}
