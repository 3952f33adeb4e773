/**
 * Storage: maps a torrent's pieces onto files below an output folder. Writes verified pieces
 * with positional I/O, serves reads for uploads, verifies existing data on start, keeps a
 * bounded LRU of open handles, and never writes outside the output folder.
 *
 * @example
 * ```ts
 * import { Storage, StorageError } from "./mod.ts";
 * import { Sha1Pieces, sha1 } from "../util/mod.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const data = new Uint8Array(10).fill(1);
 * const layout = {
 *   pieceLength: 8,
 *   pieceCount: 2,
 *   hashes: new Sha1Pieces(new Uint8Array([...sha1(data.subarray(0, 8)), ...sha1(data.subarray(8))])), infoHash: new Uint8Array(20),
 *   totalLength: 10,
 *   files: [
 *     { path: ["t", "a.bin"], length: 6, offset: 0 },
 *     { path: ["t", "b.bin"], length: 4, offset: 6 },
 *   ],
 * };
 * const storage = await Storage.open(layout, dir);
 * await storage.writePiece(1, data.subarray(8));
 * console.log((await storage.verify()).count); // 1
 * try {
 *   await storage.read(0, 0, 8); // piece 0 was never written
 * } catch (e) {
 *   console.log(e instanceof StorageError); // true
 * }
 * await storage.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */
export { StorageError } from "./error.ts";
export { type Segment, segmentsOf, type StorageFile, type StorageLayout } from "./layout.ts";
export { Storage, type StorageOptions } from "./storage.ts";
export { sharedPieces, verifiedBytesOf, wantedPieces } from "./selection.ts";
export { PartFile, STATE_DIR } from "./parts.ts";
export {
  loadResume,
  moveResumePaths,
  RESUME_DIR,
  RESUME_VERSION,
  resumePath,
  type ResumeTarget,
  saveResume,
} from "./resume.ts";
