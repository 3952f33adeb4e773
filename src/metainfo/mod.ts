/**
 * Torrent metainfo: parsing and validating .torrent files (info-hash over the exact `info`
 * bytes, sanitised file layout, tracker tiers), safe path handling, and creating torrents.
 *
 * @example
 * ```ts
 * import { createTorrentFromBuffers, joinInside, parseTorrent } from "./mod.ts";
 * const bytes = createTorrentFromBuffers("demo", [
 *   { path: ["a.txt"], data: new TextEncoder().encode("alpha") },
 *   { path: ["sub", "b.txt"], data: new TextEncoder().encode("beta") },
 * ], { pieceLength: 16384, creationDate: null });
 * const t = parseTorrent(bytes);
 * console.log(t.infoHashHex.length, t.totalLength); // 40 9
 * for (const f of t.files) console.log(joinInside("/tmp/out", f.path), f.offset, f.length);
 * // /tmp/out/demo/a.txt 0 5
 * // /tmp/out/demo/sub/b.txt 5 4
 * ```
 *
 * @module
 */
export { TorrentError } from "./error.ts";
export { type Renamed, renamePath } from "./rename.ts";
export {
  dataLength,
  listedFiles,
  MAX_PIECE_COUNT,
  MAX_TORRENT_FILE_BYTES,
  parseInfo,
  parseTorrent,
  requirePieceHashes,
  swarmHashes,
  type Torrent,
  type TorrentFile,
  type TorrentInfo,
  type TorrentVersion,
} from "./torrent.ts";
export {
  joinInside,
  makeUniquePaths,
  MAX_COMPONENT_BYTES,
  type SanitizeOptions,
  sanitizePath,
  sanitizePathComponent,
} from "./paths.ts";
export {
  type BufferFile,
  type CreateOptions,
  createTorrentFromBuffers,
  createTorrentFromPath,
  defaultPieceLength,
  PieceHasher,
  torrentFileFromInfo,
} from "./create.ts";
export { type Magnet, magnetUri, MAX_MAGNET_LENGTH, parseMagnet, torrentMagnet } from "./magnet.ts";
