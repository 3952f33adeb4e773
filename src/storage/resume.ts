/**
 * The resume record: a small JSON file per torrent, kept next to the download in
 * `<output>/.bittorrent/<info-hash>.resume`, that says which pieces were verified and written
 * and what every file looked like (size, modification time) when that was true. A clean restart
 * trusts it and skips re-hashing; any change to a file since (a write, a truncation, a kill -9
 * after more writes, a copy) makes it stale, and the caller hashes the data instead.
 *
 * A record is only ever a hint: a missing, stale, corrupt or hostile one is never an error, it
 * just means "check the data by hashing".
 *
 * @module
 */
import { join } from "node:path";
import {
  Bitfield,
  decodeBase64,
  encodeBase64,
  errorCode,
  isValidBitfield,
  readFileAtMost,
  toHex,
  writeFileAtomic,
} from "../util/mod.ts";
import { fsError, StorageError } from "./error.ts";
import { isStored, type StorageLayout } from "./layout.ts";

/** Format version written into every record; a record of another version is stale. */
export const RESUME_VERSION = 1;

/** Name of the folder inside the output folder that holds resume records. */
export const RESUME_DIR = ".bittorrent";

/** How the part file is named in a record. */
const PARTS_NAME = "(part file)";

/** The stamp of a part file that does not exist. */
const EMPTY_PARTS: FileStamp = { path: PARTS_NAME, size: 0, mtimeMs: null };

/** Hard cap on a record file's size, whatever the torrent (bounds the read). */
const MAX_RECORD_BYTES = 256 * 1024 * 1024;

/** Where a record is kept and what it describes: `Storage` fits (its real root and layout). */
export interface ResumeTarget {
  /** Real absolute path of the output folder. */
  readonly root: string;
  /** The torrent's data layout (files below `root`, pieces). */
  readonly layout: StorageLayout;
  /**
   * The part file holding shared pieces of unchosen files, if the storage has one: it is
   * stamped like the data files, since pieces in the record may live partly in it.
   */
  readonly partFilePath?: string;
}

/** One file's fingerprint at the time of a save. */
interface FileStamp {
  /** Path components joined with "/" (identifies the entry; checked on load). */
  path: string;
  /** Size in bytes; 0 for a missing file. */
  size: number;
  /** Modification time in ms since the epoch; null when the file was missing or empty. */
  mtimeMs: number | null;
  /** Inode number where the platform has one (a copied file gets another). */
  ino?: number;
}

/** The JSON document of a record. */
interface ResumeDocument {
  version: number;
  infoHash: string;
  pieceLength: number;
  pieceCount: number;
  totalLength: number;
  /** Verified-piece bitfield (wire bit order), base64. */
  have: string;
  files: FileStamp[];
  /** The part file's stamp (size 0 when there is none). */
  parts?: FileStamp;
  /** When it was written (ISO 8601), for people reading the file. */
  savedAt: string;
}

/**
 * Path of the record of torrent `infoHash` below output folder `root`.
 *
 * @example
 * ```ts
 * import { resumePath } from "./resume.ts";
 * console.log(resumePath("/dl", new Uint8Array(20).fill(0xab)));
 * // /dl/.bittorrent/abababababababababababababababababababab.resume
 * ```
 */
export function resumePath(root: string, infoHash: Uint8Array): string {
  return join(root, RESUME_DIR, `${toHex(infoHash)}.resume`);
}

/**
 * Writes the record for `have` (pieces verified and written) atomically: a temporary file in
 * `<root>/.bittorrent/`, flushed, then renamed over the old record. The data files are flushed
 * first, so a record never claims bytes that are still only in the page cache. Call it only
 * after the writes of every piece in `have` resolved; `have` is copied before the first await,
 * so later changes to it do not leak into this record. Throws `StorageError` when the record
 * cannot be written (the download itself is unaffected).
 *
 * @example
 * ```ts
 * import { loadResume, saveResume } from "./resume.ts";
 * import { Sha1Pieces, Bitfield } from "../util/mod.ts";
 *
 * const root = await Deno.realPath(await Deno.makeTempDir());
 * await Deno.writeFile(`${root}/a.bin`, new Uint8Array(10));
 * const layout = {
 *   pieceLength: 8,
 *   pieceCount: 2,
 *   hashes: new Sha1Pieces(new Uint8Array(40)), infoHash: new Uint8Array(20),
 *   totalLength: 10,
 *   files: [{ path: ["a.bin"], length: 10, offset: 0 }],
 * };
 * const infoHash = new Uint8Array(20);
 * const have = new Bitfield(2);
 * have.set(1);
 * await saveResume({ root, layout }, infoHash, have);
 * console.log((await loadResume({ root, layout }, infoHash))?.has(1)); // true
 * await Deno.writeFile(`${root}/a.bin`, new Uint8Array(12)); // the file changed: stale
 * console.log(await loadResume({ root, layout }, infoHash)); // undefined
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function saveResume(
  target: ResumeTarget,
  infoHash: Uint8Array,
  have: Bitfield,
): Promise<void> {
  const { root, layout } = target;
  if (have.size !== layout.pieceCount) {
    throw new StorageError(
      `resume record: ${have.size} pieces given, the torrent has ${layout.pieceCount}`,
    );
  }
  const bits = encodeBase64(have.bytes); // a snapshot, before anything can change `have`
  const conflict = ownFolderConflict(layout);
  if (conflict) throw new StorageError(`cannot keep a resume record: ${conflict}`);

  // Flush, then stamp: the stamps must describe the files after every write of `have`.
  const files: FileStamp[] = [];
  for (const f of layout.files) {
    if (!isStored(f)) continue;
    const path = join(root, ...f.path);
    await flushFile(path);
    files.push(await stampOf(path, f.path.join("/")));
  }
  let parts: FileStamp | undefined;
  if (target.partFilePath !== undefined) {
    await flushFile(target.partFilePath);
    parts = await stampOf(target.partFilePath, PARTS_NAME);
  }
  const doc: ResumeDocument = {
    version: RESUME_VERSION,
    infoHash: toHex(infoHash),
    pieceLength: layout.pieceLength,
    pieceCount: layout.pieceCount,
    totalLength: layout.totalLength,
    have: bits,
    files,
    ...(parts ? { parts } : {}),
    savedAt: new Date().toISOString(),
  };
  const text = JSON.stringify(doc) + "\n";

  const dir = join(root, RESUME_DIR);
  await ensureOwnFolder(dir);
  const final = resumePath(root, infoHash);
  try {
    await writeFileAtomic(final, text, { sync: true, mode: 0o644 });
  } catch (e) {
    throw fsError(e, "write the resume record", final);
  }
}

/**
 * Reads the record of `infoHash` and returns its verified-piece bitfield when it still
 * describes the data: same torrent, every file with the recorded size and modification time,
 * and no piece claimed that the files are too short to hold. Otherwise returns `undefined`
 * (and tells `onStale` why, for the log): the caller must hash the data. Never throws: a
 * corrupt, oversized or hostile record is simply stale.
 *
 * @example
 * ```ts
 * import { loadResume } from "./resume.ts";
 * import { Sha1Pieces } from "../util/mod.ts";
 * const root = await Deno.makeTempDir();
 * const layout = {
 *   pieceLength: 4, pieceCount: 1, hashes: new Sha1Pieces(new Uint8Array(20)), infoHash: new Uint8Array(20), totalLength: 4,
 *   files: [{ path: ["x"], length: 4, offset: 0 }],
 * };
 * console.log(await loadResume({ root, layout }, new Uint8Array(20), console.log));
 * // no resume record
 * // undefined
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function loadResume(
  target: ResumeTarget,
  infoHash: Uint8Array,
  onStale?: (reason: string) => void,
): Promise<Bitfield | undefined> {
  try {
    const why = await checkRecord(target, infoHash);
    if (typeof why === "string") {
      onStale?.(why);
      return undefined;
    }
    return why;
  } catch (e) {
    // Unexpected (permissions, I/O): still only a hint that could not be used.
    onStale?.(`resume record unusable: ${e instanceof Error ? e.message.split("\n")[0] : e}`);
    return undefined;
  }
}

/**
 * Follows a rename on disk in the record of `infoHash` below `root`: the stamps of files at or
 * under `from` (path components below `root`) name them under `to`, so the next open still
 * trusts the record (a rename keeps a file's size, time and inode). Without a usable record
 * there is nothing to follow; a record that cannot be written only costs a check later.
 *
 * @example
 * ```ts
 * import { loadResume, moveResumePaths, saveResume } from "./resume.ts";
 * import { Bitfield, Sha1Pieces } from "../util/mod.ts";
 * const root = await Deno.realPath(await Deno.makeTempDir());
 * await Deno.writeFile(`${root}/a.bin`, new Uint8Array(4));
 * const layout = (name: string) => ({
 *   pieceLength: 4, pieceCount: 1, hashes: new Sha1Pieces(new Uint8Array(20)),
 *   infoHash: new Uint8Array(20), totalLength: 4, files: [{ path: [name], length: 4, offset: 0 }],
 * });
 * const hash = new Uint8Array(20), have = new Bitfield(1);
 * have.set(0);
 * await saveResume({ root, layout: layout("a.bin") }, hash, have);
 * await Deno.rename(`${root}/a.bin`, `${root}/b.bin`);
 * await moveResumePaths(root, hash, ["a.bin"], ["b.bin"]);
 * console.log((await loadResume({ root, layout: layout("b.bin") }, hash))?.has(0)); // true
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export async function moveResumePaths(
  root: string,
  infoHash: Uint8Array,
  from: readonly string[],
  to: readonly string[],
): Promise<void> {
  const path = resumePath(root, infoHash);
  const info = await lstatOrNull(path);
  if (info === null || !info.isFile || info.size > MAX_RECORD_BYTES) return;
  const bytes = await readFileAtMost(path, info.size);
  let doc: unknown;
  try {
    doc = bytes && JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return; // corrupt: stale whatever its names
  }
  if (!isObject(doc) || !Array.isArray(doc.files)) return;
  const old = from.join("/"), now = to.join("/");
  for (const stamp of doc.files) {
    if (!isObject(stamp) || typeof stamp.path !== "string") continue;
    if (stamp.path === old || stamp.path.startsWith(`${old}/`)) {
      stamp.path = now + stamp.path.slice(old.length);
    }
  }
  // Not written, the record names the files where they were: the next open checks them.
  await writeFileAtomic(path, JSON.stringify(doc) + "\n", { sync: true, mode: 0o644 })
    .catch(() => {});
}

/** The bitfield, or a reason why the record cannot be trusted. */
async function checkRecord(target: ResumeTarget, infoHash: Uint8Array): Promise<Bitfield | string> {
  const { root, layout } = target;
  if (ownFolderConflict(layout)) return "the torrent has its own .bittorrent entry";
  const dirInfo = await lstatOrNull(join(root, RESUME_DIR));
  if (dirInfo === null) return "no resume record";
  if (!dirInfo.isDirectory) return `${RESUME_DIR} is not a plain folder`;
  const path = resumePath(root, infoHash);
  const info = await lstatOrNull(path);
  if (info === null) return "no resume record";
  if (!info.isFile) return "the resume record is not a regular file";
  const limit = recordLimit(layout);
  if (info.size > limit) return "the resume record is too large";
  const bytes = await readFileAtMost(path, info.size);
  if (bytes === null) return "the resume record changed while it was read";

  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return "the resume record is corrupt";
  }
  if (!isObject(doc)) return "the resume record is corrupt";
  if (doc.version !== RESUME_VERSION) return "the resume record has another format version";
  if (
    doc.infoHash !== toHex(infoHash) || doc.pieceLength !== layout.pieceLength ||
    doc.pieceCount !== layout.pieceCount || doc.totalLength !== layout.totalLength
  ) {
    return "the resume record belongs to another torrent";
  }
  const have = decodeHave(doc.have, layout.pieceCount);
  if (have === undefined) return "the resume record's piece list is corrupt";

  const stored = layout.files.filter(isStored);
  const stamps = doc.files;
  if (!Array.isArray(stamps) || stamps.length !== stored.length) {
    return "the resume record lists other files";
  }
  const sizes: number[] = [];
  for (let i = 0; i < stored.length; i++) {
    const want = parseStamp(stamps[i]);
    const name = stored[i].path.join("/");
    if (want === undefined || want.path !== name) return "the resume record lists other files";
    const now = await stampOf(join(root, ...stored[i].path), name);
    if (!sameStamp(want, now)) return `${name} changed since the resume record was saved`;
    sizes.push(now.size);
  }
  let partSize = 0;
  if (target.partFilePath !== undefined) {
    const want = doc.parts === undefined ? EMPTY_PARTS : parseStamp(doc.parts);
    const now = await stampOf(target.partFilePath, PARTS_NAME);
    if (want === undefined || want.path !== PARTS_NAME) return "the resume record is corrupt";
    if (!sameStamp(want, now)) return "the part file changed since the resume record was saved";
    partSize = now.size;
  }
  const short = claimsMissingBytes(layout, have, sizes, partSize);
  if (short !== undefined) return `the resume record claims piece ${short}, which is not on disk`;
  return have;
}

/** Why the layout cannot have a record (it has its own `.bittorrent` entry), if so. */
function ownFolderConflict(layout: StorageLayout): string | undefined {
  for (const f of layout.files) {
    if (isStored(f) && f.path[0].toLowerCase() === RESUME_DIR) {
      return `the torrent itself has a ${RESUME_DIR} entry`;
    }
  }
  return undefined;
}

/** Upper bound of a genuine record's size for this layout (stamps, bitfield, slack). */
function recordLimit(layout: StorageLayout): number {
  let n = 4096 + Math.ceil(Math.ceil(layout.pieceCount / 8) / 3) * 4;
  for (const f of layout.files) {
    if (!isStored(f)) continue;
    // JSON may escape each character of a path as \uXXXX (6 bytes per UTF-16 unit).
    for (const c of f.path) n += 6 * c.length + 1;
    n += 160;
    if (n > MAX_RECORD_BYTES) return MAX_RECORD_BYTES;
  }
  return n;
}

/** A file's current fingerprint; a missing file is size 0 with no time. */
async function stampOf(path: string, name: string): Promise<FileStamp> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (errorCode(e) === "ENOENT" || errorCode(e) === "ENOTDIR") {
      return { path: name, size: 0, mtimeMs: null };
    }
    throw fsError(e, "read", path);
  }
  if (!info.isFile) return { path: name, size: 0, mtimeMs: null };
  const stamp: FileStamp = { path: name, size: info.size, mtimeMs: info.mtime?.getTime() ?? null };
  if (info.ino !== null && info.ino !== undefined) stamp.ino = info.ino;
  return stamp;
}

/**
 * Same contents as far as a stamp can tell. An empty file is empty whatever its time; a
 * non-empty one needs a known, equal modification time (and the same inode where known).
 */
function sameStamp(want: FileStamp, now: FileStamp): boolean {
  if (want.size !== now.size) return false;
  if (now.size === 0) return true;
  if (want.mtimeMs === null || now.mtimeMs === null || want.mtimeMs !== now.mtimeMs) return false;
  return want.ino === undefined || now.ino === undefined || want.ino === now.ino;
}

function parseStamp(v: unknown): FileStamp | undefined {
  if (!isObject(v) || typeof v.path !== "string" || !isSize(v.size)) return undefined;
  const mtime = v.mtimeMs;
  if (mtime !== null && !(typeof mtime === "number" && Number.isFinite(mtime))) return undefined;
  const stamp: FileStamp = { path: v.path, size: v.size, mtimeMs: mtime };
  if (v.ino !== undefined) {
    if (!isSize(v.ino)) return undefined;
    stamp.ino = v.ino;
  }
  return stamp;
}

/**
 * The first piece of `have` that needs bytes beyond a file's size on disk (a record that
 * claims data no file holds is not believed), or undefined when all are covered. A piece two
 * files share may keep an unchosen file's bytes in the part file instead, so while there is a
 * part file such pieces are let through (the part file's own stamp vouches for it).
 */
function claimsMissingBytes(
  layout: StorageLayout,
  have: Bitfield,
  sizes: readonly number[],
  partSize: number,
): number | undefined {
  const L = layout.pieceLength;
  const touching = new Map<number, number>(); // first/last piece of a file -> files touching it
  if (partSize > 0) {
    for (const f of layout.files) {
      if (!isStored(f) || f.length === 0) continue;
      const first = Math.floor(f.offset / L), last = Math.floor((f.offset + f.length - 1) / L);
      touching.set(first, (touching.get(first) ?? 0) + 1);
      if (last !== first) touching.set(last, (touching.get(last) ?? 0) + 1);
    }
  }
  let k = 0;
  for (const f of layout.files) {
    if (!isStored(f)) continue;
    const size = sizes[k++];
    if (size >= f.length) continue;
    const first = Math.floor((f.offset + size) / L);
    const last = Math.floor((f.offset + f.length - 1) / L);
    for (let p = first; p <= last; p++) {
      if (have.has(p) && (touching.get(p) ?? 0) < 2) return p;
    }
  }
  return undefined;
}

function decodeHave(v: unknown, pieceCount: number): Bitfield | undefined {
  const want = Math.ceil(pieceCount / 8);
  if (typeof v !== "string" || v.length !== Math.ceil(want / 3) * 4) return undefined;
  const bytes = decodeBase64(v);
  if (bytes === undefined || !isValidBitfield(bytes, pieceCount)) return undefined;
  return new Bitfield(pieceCount, bytes);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isSize(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

async function lstatOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.lstat(path);
  } catch (e) {
    if (errorCode(e) === "ENOENT" || errorCode(e) === "ENOTDIR") return null;
    throw e;
  }
}

/** Creates `<root>/.bittorrent` if needed; refuses a symbolic link or a file in its place. */
async function ensureOwnFolder(dir: string): Promise<void> {
  let info = await lstatOrNull(dir).catch((e) => {
    throw fsError(e, "create folder", dir);
  });
  if (info === null) {
    try {
      await Deno.mkdir(dir);
    } catch (e) {
      if (errorCode(e) !== "EEXIST") throw fsError(e, "create folder", dir);
    }
    info = await lstatOrNull(dir).catch((e) => {
      throw fsError(e, "create folder", dir);
    });
  }
  if (info === null || !info.isDirectory) {
    throw new StorageError(`cannot keep a resume record: ${dir} is not a plain folder`);
  }
}

/** Flushes a data file to disk where possible (best effort: a record is only a hint). */
async function flushFile(path: string): Promise<void> {
  try {
    using file = await Deno.open(path, { read: true });
    await file.syncData();
  } catch { /* missing, unreadable, or the platform cannot sync a read-only handle */ }
}
