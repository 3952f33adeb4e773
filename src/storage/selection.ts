/**
 * File selection seen from the pieces: which pieces a choice of files needs, which pieces are
 * shared by two or more files (the only ones that can hold bytes of a chosen and of an
 * unchosen file at once, and so the only ones the part file ever stores), and how much of a
 * file the pieces held cover.
 *
 * @module
 */
import { Bitfield } from "../util/mod.ts";
import { StorageError } from "./error.ts";
import { isStored, type StorageLayout } from "./layout.ts";

/**
 * Pieces touched by at least one chosen file that holds data: what a download of that choice
 * must fetch. `selected[i]` is the choice for `layout.files[i]` (pad files and symlink entries
 * are ignored); `undefined` chooses every file. Throws `StorageError` when `selected` does not
 * have one entry per file.
 *
 * @example
 * ```ts
 * import { wantedPieces } from "./selection.ts";
 * import { Sha1Pieces } from "../util/mod.ts";
 * const files = [
 *   { path: ["a"], length: 6, offset: 0 },
 *   { path: ["b"], length: 6, offset: 6 },
 * ];
 * const layout = { pieceLength: 4, pieceCount: 3, hashes: new Sha1Pieces(new Uint8Array(60)), infoHash: new Uint8Array(20), totalLength: 12, files };
 * console.log([...wantedPieces(layout, [false, true]).ones()]); // [ 1, 2 ]
 * ```
 */
export function wantedPieces(
  layout: StorageLayout,
  selected?: readonly boolean[],
): Bitfield {
  const wanted = new Bitfield(layout.pieceCount);
  if (selected === undefined) {
    wanted.fill();
    return wanted;
  }
  checkSelection(layout, selected);
  const files = layout.files;
  for (let i = 0; i < files.length; i++) {
    const f = files[i];
    if (!selected[i] || !isStored(f) || f.length === 0) continue;
    const first = Math.floor(f.offset / layout.pieceLength);
    const last = Math.floor((f.offset + f.length - 1) / layout.pieceLength);
    for (let p = first; p <= last; p++) wanted.set(p);
  }
  return wanted;
}

/**
 * The bytes of a file (at `offset` in the torrent, `length` long) that lie in pieces `have`
 * holds: how much of it is verified.
 *
 * @example
 * ```ts
 * import { verifiedBytesOf } from "./selection.ts";
 * import { Bitfield } from "../util/mod.ts";
 * const have = new Bitfield(3);
 * have.set(1);
 * console.log(verifiedBytesOf({ offset: 2, length: 8 }, 4, have)); // 4
 * ```
 */
export function verifiedBytesOf(
  file: { offset: number; length: number },
  pieceLength: number,
  have: Bitfield,
): number {
  if (file.length === 0) return 0;
  const end = file.offset + file.length;
  let bytes = 0;
  for (let p = Math.floor(file.offset / pieceLength); p * pieceLength < end; p++) {
    if (have.has(p)) {
      bytes += Math.min(end, (p + 1) * pieceLength) - Math.max(file.offset, p * pieceLength);
    }
  }
  return bytes;
}

/** Throws `StorageError` unless `selected` has exactly one boolean per file of `layout`. */
export function checkSelection(layout: StorageLayout, selected: readonly boolean[]): void {
  if (!Array.isArray(selected) || selected.length !== layout.files.length) {
    throw new StorageError(
      `file selection has ${selected?.length} entries, the torrent has ${layout.files.length} files`,
    );
  }
}

/**
 * Pieces touched by two or more files that hold data, ascending. A piece inside one file
 * belongs to that file alone, so only these can mix chosen and unchosen bytes; there are fewer
 * of them than files, whatever the torrent's size.
 *
 * @example
 * ```ts
 * import { sharedPieces } from "./selection.ts";
 * import { Sha1Pieces } from "../util/mod.ts";
 * const files = [
 *   { path: ["a"], length: 6, offset: 0 },
 *   { path: ["b"], length: 1, offset: 6 },
 *   { path: ["c"], length: 9, offset: 7 },
 * ];
 * const layout = { pieceLength: 4, pieceCount: 4, hashes: new Sha1Pieces(new Uint8Array(80)), infoHash: new Uint8Array(20), totalLength: 16, files };
 * console.log(sharedPieces(layout)); // [ 1 ]
 * ```
 */
export function sharedPieces(layout: StorageLayout): number[] {
  // Only a file's first and last piece can be shared: the pieces between lie inside it.
  const touched = new Map<number, number>();
  for (const f of layout.files) {
    if (!isStored(f) || f.length === 0) continue;
    const first = Math.floor(f.offset / layout.pieceLength);
    const last = Math.floor((f.offset + f.length - 1) / layout.pieceLength);
    touched.set(first, (touched.get(first) ?? 0) + 1);
    if (last !== first) touched.set(last, (touched.get(last) ?? 0) + 1);
  }
  const out: number[] = [];
  for (const [piece, n] of touched) if (n > 1) out.push(piece);
  return out.sort((a, b) => a - b);
}
