/**
 * Making .torrent files: v1 (BEP 3), v2 (BEP 52) or hybrid (both, files aligned by BEP 47 pad
 * files), single- and multi-file, with BEP 12 tiers and BEP 27 private flag; from buffers for
 * tests, or from a file or folder on disk, hashed on worker threads.
 *
 * @module
 */
import { compareBytes, type Encodable, encode, latin1 } from "../bencode/mod.ts";
// util's leaves, not its face: `bittorrent create` loads this module first, and need not wait
// for the rate throttle, the UDP port, the HTTP fetch and the rest before it starts hashing.
import { concatBytes } from "../util/bytes.ts";
import { sha1 } from "../util/digest.ts";
import { FileHashingError, hashFiles } from "../util/file_hashing.ts";
import { type FileMerkle, fileMerkle, MERKLE_BLOCK } from "../util/merkle.ts";
import { fsReason } from "../util/os_error.ts";
import { MAX_PIECE_LENGTH, type MerklePieces } from "../util/pieces.ts";
import { TorrentError } from "./error.ts";
import type { TorrentVersion } from "./torrent.ts";

/** Settings shared by the torrent creators. */
export interface CreateOptions {
  /** Bytes per piece; defaults to {@link defaultPieceLength} of the total size. */
  pieceLength?: number;
  /** Tracker tiers (BEP 12); the first URL also goes into `announce`. */
  announce?: string[][];
  /** BEP 27 private flag: peers only from trackers. Changes the info-hash. */
  private?: boolean;
  comment?: string;
  /** Defaults to `"bittorrent"`. */
  createdBy?: string;
  /** Seconds since the epoch; defaults to now; `null` leaves it out (reproducible output). */
  creationDate?: number | null;
  /** Web seeds (BEP 19). */
  urlList?: string[];
  /** The info dictionary's `source` (private trackers tell their torrents apart by it). */
  source?: string;
  /**
   * `v1` (the default), `v2` (BEP 52 merkle trees) or `hybrid` (both, every file starting on a
   * piece boundary behind BEP 47 pad files). v2 and hybrid need a piece length that is a power
   * of two of at least 16 KiB.
   */
  version?: TorrentVersion;
}

/** One file given in memory to {@link createTorrentFromBuffers}. */
export interface BufferFile {
  /** Components below the torrent's folder, e.g. `["docs", "readme.txt"]`. */
  path: string[];
  data: Uint8Array;
}

const MIN_AUTO_PIECE = 16 * 1024;
const MAX_AUTO_PIECE = 16 * 1024 * 1024;
const TARGET_MAX_PIECES = 2000;

/**
 * Piece length for a payload of `totalLength` bytes: the smallest power of two from 16 KiB
 * to 16 MiB giving at most about 2000 pieces, a balance between .torrent size and how much
 * data one bad piece costs.
 *
 * @example
 * ```ts
 * import { defaultPieceLength } from "./create.ts";
 * console.log(defaultPieceLength(300 * 1024 * 1024)); // 262144
 * ```
 */
export function defaultPieceLength(totalLength: number): number {
  let size = MIN_AUTO_PIECE;
  while (size < MAX_AUTO_PIECE && totalLength / size > TARGET_MAX_PIECES) size *= 2;
  return size;
}

/**
 * Hashes a byte stream into v1 piece hashes, pieces crossing file boundaries. Holds one piece.
 *
 * @example
 * ```ts
 * import { PieceHasher } from "./create.ts";
 * const h = new PieceHasher(4);
 * h.update(new Uint8Array([1, 2, 3]));
 * h.update(new Uint8Array([4, 5]));
 * console.log(h.finish().length); // 40 (two pieces)
 * ```
 */
export class PieceHasher {
  readonly pieceLength: number;
  #buf: Uint8Array;
  #fill = 0;
  #hashes: Uint8Array[] = [];
  /** Bytes fed so far. */
  length = 0;

  constructor(pieceLength: number) {
    checkPieceLength(pieceLength);
    this.pieceLength = pieceLength;
    this.#buf = new Uint8Array(pieceLength);
  }

  /** Feeds bytes (copied into the piece buffer unless a whole piece can be hashed in place). */
  update(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#fill === 0 && chunk.length - at >= this.pieceLength) {
        this.#hashes.push(sha1(chunk.subarray(at, at + this.pieceLength)));
        at += this.pieceLength;
        this.length += this.pieceLength;
        continue;
      }
      const n = Math.min(this.pieceLength - this.#fill, chunk.length - at);
      this.#buf.set(chunk.subarray(at, at + n), this.#fill);
      this.#fill += n;
      this.length += n;
      at += n;
      if (this.#fill === this.pieceLength) {
        this.#hashes.push(sha1(this.#buf));
        this.#fill = 0;
      }
    }
  }

  /** Hashes the last, partial piece and returns all hashes concatenated. */
  finish(): Uint8Array {
    if (this.#fill > 0) {
      this.#hashes.push(sha1(this.#buf.subarray(0, this.#fill)));
      this.#fill = 0;
    }
    const out = new Uint8Array(this.#hashes.length * 20);
    this.#hashes.forEach((h, i) => out.set(h, i * 20));
    return out;
  }
}

function checkPieceLength(n: number): void {
  if (!Number.isSafeInteger(n) || n <= 0 || n > MAX_PIECE_LENGTH) {
    throw new TorrentError(
      `piece length must be a whole number of bytes from 1 to ${MAX_PIECE_LENGTH}`,
    );
  }
}

function checkComponent(c: string): void {
  if (c === "" || c === "." || c === ".." || /[/\\\0]/u.test(c)) {
    throw new TorrentError(`invalid file name for a torrent: ${JSON.stringify(c)}`);
  }
}

/**
 * A file of the torrent being made: its path below the torrent's folder (`[]` for the one file of
 * a single-file torrent), its length, and its bytes when it is made from memory.
 */
interface Entry {
  path: string[];
  length: number;
  /** A BEP 47 pad file: zeros in the v1 pieces, absent from the v2 tree. */
  padding?: boolean;
  data?: Uint8Array;
}

/** The hashes a torrent is made of: v1 pieces, and each entry's v2 merkle hashes. */
interface Hashed {
  pieces?: Uint8Array;
  merkle?: (FileMerkle | undefined)[];
}

function checkVersion(version: TorrentVersion, pieceLength: number): void {
  checkPieceLength(pieceLength);
  if (version !== "v1" && (pieceLength < MERKLE_BLOCK || (pieceLength & (pieceLength - 1)) !== 0)) {
    throw new TorrentError("a v2 piece length must be a power of two of at least 16 KiB");
  }
}

/**
 * The entries the v1 half lists: for a hybrid folder, a BEP 47 pad file wherever a file holding
 * data does not end on a piece boundary, so every file starts on a piece as v2 lays them out and
 * every piece is whole (as libtorrent makes hybrid torrents).
 */
function v1Entries(
  entries: readonly Entry[],
  version: TorrentVersion,
  single: boolean,
  pieceLength: number,
): readonly Entry[] {
  if (version !== "hybrid" || single) return entries;
  const out: Entry[] = [];
  let offset = 0;
  for (const e of entries) {
    out.push(e);
    offset += e.length;
    const gap = (pieceLength - offset % pieceLength) % pieceLength;
    if (e.length > 0 && gap > 0) {
      out.push({ path: [".pad", String(gap)], length: gap, padding: true });
      offset += gap;
    }
  }
  return out;
}

const utf8 = new TextEncoder();

/** A dictionary key for text: the encoder takes keys as latin-1 views of their bytes. */
function textKey(text: string): string {
  return latin1(utf8.encode(text));
}

/** The v2 `file tree` of `entries` and the `piece layers` of those longer than a piece. */
function v2Half(name: string, entries: readonly Entry[], merkle: (FileMerkle | undefined)[]) {
  const tree = new Map<string, Encodable>();
  const layers = new Map<string, Encodable>();
  entries.forEach((e, i) => {
    const path = e.path.length === 0 ? [name] : e.path;
    let folder = tree;
    for (const component of path.slice(0, -1)) {
      const key = textKey(component);
      if (!folder.has(key)) folder.set(key, new Map<string, Encodable>());
      folder = folder.get(key) as Map<string, Encodable>;
    }
    const properties: Record<string, Encodable> = { length: e.length };
    const m = merkle[i];
    if (m !== undefined) {
      properties["pieces root"] = m.root;
      if (m.layer !== undefined) layers.set(latin1(m.root), m.layer);
    }
    folder.set(textKey(path[path.length - 1]), new Map([["", properties]]));
  });
  return { tree, layers: layers.size > 0 ? layers : undefined };
}

/** The .torrent of `entries` (a folder `name`, or the single file `name`), once hashed. */
function buildTorrent(
  name: string,
  single: boolean,
  entries: readonly Entry[],
  pieceLength: number,
  hashed: Hashed,
  opts: CreateOptions,
): Uint8Array {
  const version = opts.version ?? "v1";
  const v2 = hashed.merkle === undefined ? undefined : v2Half(name, entries, hashed.merkle);
  const info: Record<string, Encodable | undefined> = {
    "file tree": v2?.tree,
    "meta version": v2 === undefined ? undefined : 2,
    name,
    "piece length": pieceLength,
    pieces: hashed.pieces,
    private: opts.private ? 1 : undefined,
    source: opts.source,
  };
  if (hashed.pieces !== undefined) {
    const listed = v1Entries(entries, version, single, pieceLength);
    if (single) info.length = listed[0].length;
    else {
      info.files = listed.map((e) => ({
        attr: e.padding ? "p" : undefined,
        length: e.length,
        path: e.path,
      }));
    }
  }

  const tiers = (opts.announce ?? []).map((t) => t.filter((u) => u !== "")).filter((t) =>
    t.length > 0
  );
  const urlCount = tiers.reduce((n, t) => n + t.length, 0);
  const creationDate = opts.creationDate === undefined
    ? Math.floor(Date.now() / 1000)
    : opts.creationDate;
  const top: Record<string, Encodable | undefined> = {
    announce: tiers.length > 0 ? tiers[0][0] : undefined,
    "announce-list": urlCount > 1 ? tiers : undefined,
    comment: opts.comment,
    "created by": opts.createdBy ?? "bittorrent",
    "creation date": creationDate ?? undefined,
    info,
    "piece layers": v2?.layers,
    "url-list": opts.urlList && opts.urlList.length > 0 ? opts.urlList : undefined,
  };
  return encode(top);
}

/** Byte order of paths, component by component, as a v2 file tree orders them. */
function comparePaths(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const order = compareBytes(utf8.encode(a[i]), utf8.encode(b[i]));
    if (order !== 0) return order;
  }
  return a.length - b.length;
}

function checkTotal(total: number): void {
  if (total === 0) throw new TorrentError("nothing to share: all files are empty");
}

/**
 * Makes a .torrent from data in memory (for tests and small payloads). A `Uint8Array` makes a
 * single-file torrent called `name`; a list makes a folder `name` holding those files, in the
 * order given for v1, in byte order of their paths for v2 and hybrid (as a v2 file tree lists
 * them).
 *
 * @example
 * ```ts
 * import { createTorrentFromBuffers } from "./create.ts";
 * const bytes = createTorrentFromBuffers("album", [
 *   { path: ["01.txt"], data: new TextEncoder().encode("one") },
 *   { path: ["cd2", "02.txt"], data: new TextEncoder().encode("two") },
 * ], { pieceLength: 16384, creationDate: null, version: "hybrid" });
 * console.log(bytes.length > 0); // true
 * ```
 */
export function createTorrentFromBuffers(
  name: string,
  files: Uint8Array | readonly BufferFile[],
  opts: CreateOptions = {},
): Uint8Array {
  checkComponent(name);
  const single = files instanceof Uint8Array;
  const list: readonly BufferFile[] = single ? [{ path: [], data: files }] : files;
  if (!single) {
    if (list.length === 0) throw new TorrentError("a torrent needs at least one file");
    for (const f of list) {
      if (f.path.length === 0) throw new TorrentError("a file in a folder torrent needs a path");
      f.path.forEach(checkComponent);
    }
  }
  const entries: Entry[] = list.map((f) => ({
    path: [...f.path],
    length: f.data.length,
    data: f.data,
  }));
  // A v2 file tree lists files in byte order of their paths; a hybrid's v1 half must too.
  if ((opts.version ?? "v1") !== "v1") entries.sort((a, b) => comparePaths(a.path, b.path));
  const total = entries.reduce((n, e) => n + e.length, 0);
  checkTotal(total);
  const version = opts.version ?? "v1";
  const pieceLength = opts.pieceLength ?? defaultPieceLength(total);
  checkVersion(version, pieceLength);
  const hashed: Hashed = {};
  if (version !== "v1") {
    hashed.merkle = entries.map((e) => e.length > 0 ? fileMerkle(e.data!, pieceLength) : undefined);
  }
  if (version !== "v2") {
    const hasher = new PieceHasher(pieceLength);
    for (const e of v1Entries(entries, version, single, pieceLength)) {
      hasher.update(e.data ?? new Uint8Array(e.length));
    }
    hashed.pieces = hasher.finish();
  }
  return buildTorrent(name, single, entries, pieceLength, hashed, opts);
}

interface DiskFile {
  abs: string;
  rel: string[];
  size: number;
}

/**
 * Regular files under `dir`, by name within each folder. Symbolic links (they may point
 * anywhere, even round in a loop), special files and hidden names (`.git`, `.DS_Store`: rarely
 * meant to be shared) are left out. Synchronous: nothing can start before the walk ends, and
 * each asynchronous call would be a round trip through Deno's thread pool (64 files took some
 * 5 ms that way, against 1 ms).
 */
function walk(dir: string, rel: string[], out: DiskFile[]): void {
  // Each name with its UTF-8 bytes, encoded once rather than at each comparison of the sort.
  const entries: { e: Deno.DirEntry; bytes: Uint8Array }[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (!e.isSymlink && !e.name.startsWith(".")) entries.push({ e, bytes: utf8.encode(e.name) });
    }
  } catch (e) {
    throw unreadable(dir, e);
  }
  entries.sort((a, b) => compareBytes(a.bytes, b.bytes));
  for (const { e } of entries) {
    const abs = `${dir}/${e.name}`;
    if (e.isDirectory) walk(abs, [...rel, e.name], out);
    else if (e.isFile) out.push({ abs, rel: [...rel, e.name], size: sizeOf(abs) });
  }
}

function sizeOf(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch (e) {
    throw unreadable(path, e);
  }
}

/**
 * Why `path`, found by the walk, cannot be read. A name that is not valid UTF-8 comes out of
 * the folder's listing with U+FFFD in place of its odd bytes, and then names no file.
 */
function unreadable(path: string, e: unknown): FileHashingError {
  const reason = e instanceof Deno.errors.NotFound && path.includes("\uFFFD")
    ? "its name is not valid UTF-8, as a torrent's names must be; rename it"
    : fsReason(e);
  return new FileHashingError(`cannot read ${path}: ${reason}`, path);
}

function baseName(path: string): string {
  const trimmed = path.replace(/[/\\]+$/u, "");
  const last = trimmed.split(/[/\\]/u).pop() ?? "";
  if (last !== "" && last !== "." && last !== "..") return last;
  const real = Deno.realPathSync(path);
  return real.split(/[/\\]/u).pop() ?? "";
}

/**
 * Makes a .torrent from a file or folder on disk, hashed by `hashFiles` (on worker threads for
 * large payloads). A folder is walked in byte order of the names in each folder (as a v2 file
 * tree orders them), leaving out symlinks and hidden names; the path given is taken as it is.
 * Throws `TorrentError` when there is nothing to share, `FileHashingError` naming a file or
 * folder in it that cannot be read or a file that changes meanwhile, and Deno's errors for a
 * path given that cannot be read.
 *
 * @example
 * ```ts
 * import { createTorrentFromPath, parseTorrent } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "hello");
 * const t = parseTorrent(await createTorrentFromPath(dir, { creationDate: null }));
 * console.log(t.files.length, t.totalLength); // 1 5
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function createTorrentFromPath(
  path: string,
  opts: CreateOptions & {
    name?: string;
    /** Called as pieces are hashed, with the bytes hashed so far and the total. */
    onProgress?: (done: number, total: number) => void;
  } = {},
): Promise<Uint8Array> {
  // Synchronous, as the walk is: each call through Deno's thread pool costs some 1 ms.
  const info = Deno.statSync(path);
  const name = opts.name ?? baseName(path);
  checkComponent(name);
  let files: DiskFile[];
  if (info.isFile) {
    files = [{ abs: path, rel: [], size: info.size }];
  } else if (info.isDirectory) {
    files = [];
    walk(path.replace(/[/\\]+$/u, "") || "/", [], files);
    if (files.length === 0) throw new TorrentError(`nothing to share: ${path} holds no files`);
  } else {
    throw new TorrentError(`not a file or folder: ${path}`);
  }
  const total = files.reduce((n, f) => n + f.size, 0);
  checkTotal(total);
  if (!Number.isSafeInteger(total)) throw new TorrentError("payload is too large");
  const version = opts.version ?? "v1";
  const pieceLength = opts.pieceLength ?? defaultPieceLength(total);
  checkVersion(version, pieceLength);
  const single = info.isFile;
  const hashed = await hashFiles(
    files.map((f) => ({ path: f.abs, length: f.size })),
    pieceLength,
    { version, wholeLastPiece: !single, onProgress: opts.onProgress },
  );
  const entries = files.map((f) => ({ path: f.rel, length: f.size }));
  return buildTorrent(name, single, entries, pieceLength, hashed, opts);
}

/**
 * A .torrent file around an info dictionary fetched from peers (BEP 9), keeping its exact
 * bytes so the info-hash stays the same, with the given tracker tiers and, for a v2 torrent,
 * the piece layers learnt from peers so far (BEP 52's `piece layers`).
 *
 * @example
 * ```ts
 * import { createTorrentFromBuffers, parseTorrent, torrentFileFromInfo } from "./mod.ts";
 * const original = parseTorrent(createTorrentFromBuffers("a.txt", new Uint8Array(3)));
 * const rebuilt = parseTorrent(torrentFileFromInfo(original.infoBytes, [["udp://127.0.0.1:1"]]));
 * console.log(rebuilt.infoHashHex === original.infoHashHex); // true
 * ```
 */
export function torrentFileFromInfo(
  info: Uint8Array,
  announce: string[][],
  v2Pieces?: MerklePieces,
): Uint8Array {
  const tiers = announce.filter((tier) => tier.length > 0);
  // Keys in byte order: announce, announce-list, info, piece layers.
  const head = encode({
    announce: tiers[0]?.[0],
    "announce-list": tiers.length > 1 || (tiers[0]?.length ?? 0) > 1 ? tiers : undefined,
  });
  const layers = new Map<string, Encodable>();
  v2Pieces?.files.forEach((f, i) => {
    const layer = v2Pieces.layer(i);
    if (layer !== undefined) layers.set(latin1(f.root), layer);
  });
  const tail = layers.size === 0 ? new Uint8Array(0) : encode({ "piece layers": layers });
  const parts = [
    head.subarray(0, head.length - 1), // drop the closing "e"
    new TextEncoder().encode("4:info"),
    info,
    tail.subarray(1, Math.max(1, tail.length - 1)), // the key and value, without "d" and "e"
    new Uint8Array([0x65]), // "e"
  ];
  return concatBytes(...parts);
}
