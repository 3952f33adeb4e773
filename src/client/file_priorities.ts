/**
 * Where a torrent's file priorities move its pieces: a high file's pieces are fetched first, a
 * low file's last, except the pieces it shares with a wanted file that is not low (that file
 * needs them at its own pace).
 *
 * @module
 */
import type { PieceRange } from "../engine/mod.ts";
import { listedFiles, type Torrent } from "../metainfo/mod.ts";

/** The piece ranges to fetch first and last. */
export interface PriorityRanges {
  first: PieceRange[];
  last: PieceRange[];
}

/**
 * The pieces of the files numbered `high` (first) and `low` (last), files numbered as listed
 * (see `listedFiles`); numbers past the list are ignored.
 *
 * @example
 * ```ts
 * import { priorityRanges } from "./file_priorities.ts";
 * import { createTorrentFromBuffers, parseTorrent } from "../metainfo/mod.ts";
 * const files = [5000, 40000, 3000].map((n, i) => ({ path: [`f${i}`], data: new Uint8Array(n) }));
 * const torrent = parseTorrent(createTorrentFromBuffers("set", files, { pieceLength: 16384 }));
 * // f1 covers pieces 0-2; piece 0 is f0's too and piece 2 is f2's too.
 * console.log(priorityRanges(torrent, [0], [1])); // { first: [ { from: 0, to: 1 } ], last: [ { from: 1, to: 2 } ] }
 * console.log(priorityRanges(torrent, [], [1], [2]).last); // [ { from: 1, to: 3 } ]
 * ```
 */
export function priorityRanges(
  torrent: Torrent,
  high: readonly number[],
  low: readonly number[],
  unwanted: readonly number[] = [],
): PriorityRanges {
  const listed = listedFiles(torrent), L = torrent.pieceLength;
  const span = (n: number): PieceRange | undefined => {
    const f = torrent.files[listed[n]];
    if (!f || f.length === 0) return undefined;
    return { from: Math.floor(f.offset / L), to: Math.ceil((f.offset + f.length) / L) };
  };
  const first = high.map(span).filter((r) => r !== undefined);
  const lowSet = new Set(low), notWanted = new Set(unwanted);
  // Pieces a wanted file of normal or high priority needs.
  const needed = new Uint8Array(low.length > 0 ? torrent.pieceCount : 0);
  for (let n = 0; n < listed.length && low.length > 0; n++) {
    const r = lowSet.has(n) || notWanted.has(n) ? undefined : span(n);
    if (r) needed.fill(1, r.from, r.to);
  }
  const last: PieceRange[] = [];
  for (const n of lowSet) {
    const r = span(n);
    if (!r) continue;
    let from = r.from;
    for (let p = r.from; p <= r.to; p++) {
      if (p < r.to && needed[p] === 0) continue;
      if (p > from) last.push({ from, to: p });
      from = p + 1;
    }
  }
  return { first, last };
}
