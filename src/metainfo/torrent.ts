/**
 * .torrent parsing and validation: BEP 3 (v1), BEP 52 (v2, and hybrid torrents that carry both
 * halves, which must agree), with BEP 12 tiers, BEP 19 web seeds, BEP 27 private flag and BEP 47
 * pad files and symlinks.
 *
 * @module
 */
import {
  type BencodeDict,
  BencodeError,
  type BencodeValue,
  decodeText,
  decodeWithSpans,
  getBytes,
  getList,
  isDict,
  latin1,
} from "../bencode/mod.ts";
import {
  bytesEqual,
  HybridPieces,
  MAX_PIECE_LENGTH,
  MERKLE_BLOCK,
  type MerkleFile,
  MerklePieces,
  type PieceHashes,
  sha1,
  Sha1Pieces,
  sha256,
  toHex,
} from "../util/mod.ts";
import {
  attrOf,
  fail,
  lengthField,
  stringList,
  symlinkTarget,
  textOf,
  utf8List,
} from "./fields.ts";
import { readFileTree, type TreeFile } from "./file_tree.ts";
import { makeUniquePaths, sanitizePath, sanitizePathComponent } from "./paths.ts";

/** One file of the torrent's layout. */
export interface TorrentFile {
  /**
   * Sanitised path relative to the output folder: `[name]` for a single-file torrent,
   * `[name, ...path]` for a multi-file one. Unique (ignoring case) among non-pad files.
   */
  path: string[];
  /** Bytes the file occupies in the torrent's data (0 for symlinks). */
  length: number;
  /** Byte offset of the file in the torrent's concatenated data. */
  offset: number;
  /** BEP 47 pad file: its bytes (zeros) are part of the pieces, but it is never created. */
  padding: boolean;
  /**
   * BEP 47 symlink: sanitised target relative to the output folder, in the same form as
   * `path`. Such an entry holds no data; storage must not create it as a regular file.
   */
  symlink?: string[];
}

/** Which halves a torrent has: BEP 3's SHA-1 pieces, BEP 52's merkle trees, or both. */
export type TorrentVersion = "v1" | "v2" | "hybrid";

/** What the info dictionary alone says: all a download needs besides peers. */
export interface TorrentInfo {
  /**
   * The 20 bytes peers, trackers and the DHT know the torrent by: the SHA-1 of the exact bytes of
   * the info dictionary (v1 and hybrid), or the first 20 bytes of their SHA-256 (v2 only).
   */
  infoHash: Uint8Array;
  /** `infoHash` as lower-case hex. */
  infoHashHex: string;
  /** SHA-256 of the info dictionary's bytes, for v2 and hybrid torrents. */
  infoHashV2?: Uint8Array;
  version: TorrentVersion;
  /** The exact bytes of the info dictionary (served to peers through ut_metadata). */
  infoBytes: Uint8Array;
  /** Sanitised display and folder name. */
  name: string;
  pieceLength: number;
  pieceCount: number;
  /** What each piece is checked against, by the engine and by storage alike. */
  hashes: PieceHashes;
  /** The v1 half: a SHA-1 a piece (v1 and hybrid). */
  v1Pieces?: Sha1Pieces;
  /**
   * The v2 half: each file's merkle tree (v2 and hybrid), with the piece layers the .torrent
   * gave; `parseInfo` alone knows none.
   */
  v2Pieces?: MerklePieces;
  /** Sum of all file lengths, pad files included. */
  totalLength: number;
  files: TorrentFile[];
  /** True for a folder of files (a v1 `files` list, even of one file; a v2 tree of more). */
  multiFile: boolean;
  /** BEP 27: peers only from the torrent's trackers (no DHT, no PEX). */
  private: boolean;
}

/** A parsed .torrent file. */
export interface Torrent extends TorrentInfo {
  /** Tracker tiers (BEP 12): `announce-list` when usable, else `[[announce]]`, else `[]`. */
  announce: string[][];
  comment?: string;
  createdBy?: string;
  /** Seconds since the Unix epoch. */
  creationDate?: number;
  /** Web seeds (BEP 19). */
  urlList: string[];
}

/**
 * Most pieces a torrent may have: a bit each in every peer's bitfield, and for v2 the piece
 * layers' 32 bytes each. A v1 torrent this large would need a 1.3 GB `pieces` string.
 */
export const MAX_PIECE_COUNT = 2 ** 26;

function nameOf(info: BencodeDict): string {
  const utf8 = getBytes(info, "name.utf-8");
  const preferred = utf8 === undefined ? undefined : decodeText(utf8);
  if (preferred !== undefined) return preferred;
  const raw = info.get("name");
  if (raw === undefined) fail("missing 'name' in info dictionary");
  if (!(raw instanceof Uint8Array)) fail("'name' in info dictionary must be a string");
  return textOf(raw);
}

/** Legacy BitComet pad files carry no attr, only this name prefix. */
const LEGACY_PAD_PREFIX = "_____padding_file_";

/** A file entry with its sanitised path, before offsets are given and names made unique. */
interface RawFile {
  path: string[];
  length: number;
  padding: boolean;
  symlink?: string[];
}

/** The files of a half of the info dictionary, and whether they make a folder. */
interface FileList {
  raw: RawFile[];
  multiFile: boolean;
}

/** The path below the output folder of a file at `components` below the torrent's root. */
function filePath(name: string, components: string[]): string[] {
  const safe = sanitizePath(components);
  return [name, ...(safe.length > 0 ? safe : ["_"])];
}

function readFiles(list: BencodeValue[], name: string): RawFile[] {
  if (list.length === 0) fail("'files' list is empty");
  const out: RawFile[] = [];
  for (let i = 0; i < list.length; i++) {
    const entry = list[i];
    const what = `file entry ${i + 1}`;
    if (!isDict(entry)) fail(`${what} is not a dictionary`);
    const attr = attrOf(entry);
    const isSymlink = attr.includes("l");
    const rawPath = stringList(entry, "path", what);
    const textPath = utf8List(entry, "path") ?? rawPath?.map(textOf);
    let padding = attr.includes("p") ||
      (textPath !== undefined && textPath.length > 0 &&
        textPath[textPath.length - 1].startsWith(LEGACY_PAD_PREFIX));
    if (isSymlink) padding = false;
    if (textPath === undefined && !padding) fail(`missing 'path' in ${what}`);
    let length: number;
    let symlink: string[] | undefined;
    if (isSymlink) {
      // A symlink holds no data; its length (if any) takes no room in the pieces.
      if (entry.has("length")) lengthField(entry, "length", what);
      length = 0;
      symlink = [name, ...sanitizePath(symlinkTarget(entry, what))];
    } else {
      length = lengthField(entry, "length", what);
    }
    const path = textPath === undefined ? padPath(name, length) : filePath(name, textPath);
    out.push({ path, length, padding, symlink });
  }
  return out;
}

function padPath(name: string, length: number): string[] {
  return [name, ".pad", String(length)];
}

/** The v1 half's files: a `files` list, or one file of `length` bytes named after the torrent. */
function v1Files(info: BencodeDict, name: string): FileList {
  if (info.has("files")) {
    const list = getList(info, "files");
    if (list === undefined) fail("'files' in info dictionary must be a list");
    return { raw: readFiles(list, name), multiFile: true };
  }
  if (!info.has("length")) fail("missing 'length' or 'files' in info dictionary");
  const length = lengthField(info, "length", "info dictionary");
  return { raw: [{ path: [name], length, padding: false }], multiFile: false };
}

/**
 * The v2 half's files laid out in the piece space: each non-empty file starts on a piece
 * boundary, the gaps (and the last piece's tail, so every piece is whole, as other v2 clients
 * count them) filled by pad entries that are never created. A tree of one top-level file is a
 * single-file torrent, its file named after the torrent as in v1, unless `multiFile` (the v1
 * half's say) holds otherwise.
 */
function v2Files(
  tree: TreeFile[],
  name: string,
  pieceLength: number,
  multiFile = tree.length > 1 || tree[0].path.length > 1,
): FileList & { merkle: MerkleFile[] } {
  const raw: RawFile[] = [];
  const merkle: MerkleFile[] = [];
  let offset = 0;
  const pad = () => {
    const gap = (pieceLength - offset % pieceLength) % pieceLength;
    if (gap > 0) raw.push({ path: padPath(name, gap), length: gap, padding: true });
    offset += gap;
  };
  for (const f of tree) {
    const path = multiFile ? filePath(name, f.path) : [name];
    if (f.symlink !== undefined) {
      raw.push({ path, length: 0, padding: false, symlink: [name, ...sanitizePath(f.symlink)] });
      continue;
    }
    if (f.length > 0) {
      pad();
      merkle.push({ firstPiece: offset / pieceLength, length: f.length, root: f.root! });
    }
    raw.push({ path, length: f.length, padding: false });
    offset += f.length;
    if (!Number.isSafeInteger(offset)) fail("total length of the torrent is too large");
  }
  pad();
  return { raw, multiFile, merkle };
}

/**
 * Throws unless the v1 half of a hybrid torrent describes the files of its v2 half: the same
 * paths, lengths and symlinks in the same order, each non-empty file at the same offset (so the
 * v1 pad files align them as v2 does). The v1 half may stop at the last file's end, without the
 * tail pad.
 */
function checkHalvesAgree(v1: FileList, v2: FileList): void {
  const mismatch = (why: string) => fail(`hybrid torrent's v1 and v2 halves disagree: ${why}`);
  const placed = (list: RawFile[]) => {
    let offset = 0;
    return list.flatMap((f) => {
      const at = offset;
      offset += f.length;
      return f.padding ? [] : [{ ...f, offset: at }];
    });
  };
  const a = placed(v1.raw), b = placed(v2.raw);
  if (a.length !== b.length) mismatch(`${a.length} files against ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    const where = `file ${i + 1}`;
    if (a[i].path.join("/") !== b[i].path.join("/")) mismatch(`${where}'s path`);
    if (a[i].length !== b[i].length) mismatch(`${where}'s length`);
    if ((a[i].symlink === undefined) !== (b[i].symlink === undefined)) mismatch(`${where}'s type`);
    if (a[i].length > 0 && a[i].offset !== b[i].offset) mismatch(`${where} is not piece-aligned`);
  }
}

/** The info dictionary's `meta version`: 1 when absent, 2, or an error for anything newer. */
function metaVersionOf(info: BencodeDict): 1 | 2 {
  const v = info.get("meta version");
  if (v === undefined) return 1;
  if (v === 2) return 2;
  if ((typeof v === "number" || typeof v === "bigint") && v > 2) {
    fail(`torrent is of meta version ${v}, newer than this client reads (2)`);
  }
  fail("'meta version' in info dictionary must be 2");
}

function pieceLengthOf(info: BencodeDict, v2: boolean): number {
  const v = info.get("piece length");
  if (v === undefined) fail("missing 'piece length' in info dictionary");
  if (typeof v !== "number" || v <= 0) fail("'piece length' must be a positive integer");
  if (v > MAX_PIECE_LENGTH) fail(`'piece length' is larger than ${MAX_PIECE_LENGTH / 2 ** 20} MiB`);
  if (v2 && (v < MERKLE_BLOCK || (v & (v - 1)) !== 0)) {
    fail("'piece length' of a v2 torrent must be a power of two of at least 16 KiB");
  }
  return v;
}

/** Parses an info dictionary already decoded, given its exact bytes. */
function infoFromDict(info: BencodeDict, infoBytes: Uint8Array): TorrentInfo {
  const metaVersion = metaVersionOf(info);
  const pieces = info.get("pieces");
  if (pieces === undefined && metaVersion === 1) fail("missing 'pieces' in info dictionary");
  if (pieces !== undefined && !(pieces instanceof Uint8Array)) {
    fail("'pieces' must be a string of SHA-1 hashes");
  }
  if (pieces !== undefined && pieces.length % 20 !== 0) {
    fail("'pieces' length is not a multiple of 20");
  }
  const pieceLength = pieceLengthOf(info, metaVersion === 2);

  const infoHashV2 = metaVersion === 2 ? sha256(infoBytes) : undefined;
  const infoHash = pieces !== undefined ? sha1(infoBytes) : infoHashV2!.slice(0, 20);
  const infoHashHex = toHex(infoHash);
  const sanitisedName = sanitizePathComponent(nameOf(info));
  const name = sanitisedName === "" ? infoHashHex : sanitisedName;

  const v1 = pieces === undefined ? undefined : v1Files(info, name);
  let v2: ReturnType<typeof v2Files> | undefined;
  if (metaVersion === 2) {
    const tree = readFileTree(info.get("file tree"));
    v2 = v2Files(tree, name, pieceLength, v1?.multiFile);
    if (v1 !== undefined) checkHalvesAgree(v1, v2);
    if (v1?.multiFile === false && sanitizePathComponent(tree[0].path[0]) !== name) {
      fail("hybrid torrent's v1 and v2 halves disagree: the file's name");
    }
  }
  const { raw, multiFile } = (v1 ?? v2)!;

  // Pad files are never created, so only real entries need distinct names.
  const real = raw.filter((f) => !f.padding);
  const unique = makeUniquePaths(real.map((f) => f.path));
  real.forEach((f, i) => f.path = unique[i]);

  const files: TorrentFile[] = [];
  let offset = 0;
  for (const f of raw) {
    const file: TorrentFile = { path: f.path, length: f.length, offset, padding: f.padding };
    if (f.symlink !== undefined) file.symlink = f.symlink;
    files.push(file);
    offset += f.length;
    if (!Number.isSafeInteger(offset)) fail("total length of the torrent is too large");
  }
  const totalLength = offset;
  if (totalLength === 0) fail("torrent contains no data (total length is 0)");
  const pieceCount = Math.ceil(totalLength / pieceLength);
  if (pieceCount > MAX_PIECE_COUNT) fail(`torrent has more than ${MAX_PIECE_COUNT} pieces`);
  if (pieces !== undefined && pieces.length / 20 !== pieceCount) {
    fail("piece count does not match total length");
  }

  // The torrent's own copy of its info dictionary, not a view keeping the whole file it came
  // in. `pieces` lies inside it (the decoder hands out views of its input): the hashes are a
  // view of the copy rather than a second copy, which is most of a large torrent's metadata.
  const ownInfoBytes = infoBytes.slice();
  const piecesAt = pieces === undefined ? 0 : pieces.byteOffset - infoBytes.byteOffset;
  const v1Pieces = pieces === undefined
    ? undefined
    : new Sha1Pieces(ownInfoBytes.subarray(piecesAt, piecesAt + pieces.length));
  const v2Pieces = v2 === undefined ? undefined : new MerklePieces(pieceLength, v2.merkle);
  const hashes = v1Pieces && v2Pieces
    ? new HybridPieces(v1Pieces, v2Pieces)
    : (v1Pieces ?? v2Pieces)!;
  const parsed: TorrentInfo = {
    infoHash,
    infoHashHex,
    version: v1Pieces && v2Pieces ? "hybrid" : v1Pieces ? "v1" : "v2",
    infoBytes: ownInfoBytes,
    name,
    pieceLength,
    pieceCount,
    hashes,
    totalLength,
    files,
    multiFile,
    private: info.get("private") === 1,
  };
  if (infoHashV2 !== undefined) parsed.infoHashV2 = infoHashV2;
  if (v1Pieces !== undefined) parsed.v1Pieces = v1Pieces;
  if (v2Pieces !== undefined) parsed.v2Pieces = v2Pieces;
  return parsed;
}

/**
 * Gives `hashes` the piece layers of a .torrent's top-level `piece layers`: each entry must be
 * the layer of a file that needs one (longer than a piece) and lead to that file's root. A file
 * whose layer is absent is left to learn it from peers.
 */
function readPieceLayers(top: BencodeDict, hashes: MerklePieces): void {
  const layers = top.get("piece layers");
  if (layers === undefined) return;
  if (!isDict(layers)) fail("'piece layers' must be a dictionary");
  const filesByRoot = new Map<string, number[]>();
  hashes.files.forEach((f, i) => {
    if (!hashes.needsLayer(i)) return;
    const key = latin1(f.root);
    filesByRoot.set(key, [...filesByRoot.get(key) ?? [], i]);
  });
  for (const [root, layer] of layers) {
    const files = filesByRoot.get(root);
    if (files === undefined) fail("'piece layers' has an entry for no file longer than a piece");
    if (!(layer instanceof Uint8Array) || layer.length % 32 !== 0) {
      fail("a piece layer in 'piece layers' is not a string of 32-byte hashes");
    }
    for (const f of files) {
      if (!hashes.setLayer(f, layer.slice())) {
        fail("a piece layer in 'piece layers' does not lead to its file's 'pieces root'");
      }
    }
  }
}

/**
 * The 20-byte info-hashes the torrent's swarms go by, the one peers are dialled with first: a
 * hybrid torrent is in two swarms, its v1 hash's and its v2 hash's (cut to 20 bytes), which it
 * joins as one download (trackers, the DHT and incoming handshakes).
 *
 * @example
 * ```ts
 * import { createTorrentFromBuffers, parseTorrent, swarmHashes } from "./mod.ts";
 * const t = parseTorrent(createTorrentFromBuffers("a", new Uint8Array(9), { version: "hybrid" }));
 * console.log(swarmHashes(t).length, swarmHashes(t)[0] === t.infoHash); // 2 true
 * ```
 */
export function swarmHashes(info: Pick<TorrentInfo, "infoHash" | "infoHashV2">): Uint8Array[] {
  const v2 = info.infoHashV2?.subarray(0, 20);
  return v2 === undefined || bytesEqual(v2, info.infoHash) ? [info.infoHash] : [info.infoHash, v2];
}

/**
 * Throws unless every piece of `info` can be checked with the hashes it holds: a v2-only torrent
 * needs the piece layer of each file longer than a piece (a hybrid one falls back on SHA-1).
 *
 * @example
 * ```ts
 * import { createTorrentFromBuffers, parseInfo, parseTorrent, requirePieceHashes } from "./mod.ts";
 * const file = createTorrentFromBuffers("a", new Uint8Array(40000), { version: "v2" });
 * try {
 *   requirePieceHashes(parseInfo(parseTorrent(file).infoBytes));
 * } catch (e) {
 *   console.log((e as Error).message);
 *   // a: the piece layers of 1 file is missing from the .torrent, so its pieces can be checked only once peers send them
 * }
 * ```
 */
export function requirePieceHashes(info: TorrentInfo): void {
  const missing = info.version === "v2" ? info.v2Pieces!.missingLayers().length : 0;
  if (missing === 0) return;
  fail(
    `${info.name}: the piece layers of ${missing} file${missing === 1 ? " is" : "s are"} ` +
      "missing from the .torrent, so its pieces can be checked only once peers send them",
  );
}

/**
 * Parses an info dictionary on its own, e.g. the metadata a magnet link fetches from peers
 * (BEP 9); the caller checks its hash against the magnet's info-hash.
 *
 * @example
 * ```ts
 * import { createTorrentFromBuffers, parseInfo, parseTorrent } from "./mod.ts";
 * const file = createTorrentFromBuffers("a.txt", new Uint8Array(5), { pieceLength: 16384 });
 * const info = parseInfo(parseTorrent(file).infoBytes);
 * console.log(info.name, info.totalLength); // a.txt 5
 * ```
 */
export function parseInfo(infoBytes: Uint8Array): TorrentInfo {
  let info: BencodeValue;
  try {
    info = decodeWithSpans(infoBytes, { allowUnsortedKeys: true }).value;
  } catch (e) {
    if (e instanceof BencodeError) fail(`info dictionary is not valid bencode: ${e.message}`);
    throw e;
  }
  if (!isDict(info)) fail("info is not a dictionary");
  return infoFromDict(info, infoBytes);
}

/** Trimmed UTF-8 URL, or undefined when empty, not a string, or not text. */
function urlOf(v: BencodeValue | undefined): string | undefined {
  if (!(v instanceof Uint8Array)) return undefined;
  const s = decodeText(v)?.trim();
  return s ? s : undefined;
}

function trackerTiers(top: BencodeDict): string[][] {
  const seen = new Set<string>();
  const tiers: string[][] = [];
  const list = getList(top, "announce-list");
  if (list !== undefined) {
    for (const tier of list) {
      // A flat list of URLs (a common mistake) is read as one URL per tier.
      const items = Array.isArray(tier) ? tier : [tier];
      const urls: string[] = [];
      for (const item of items) {
        const url = urlOf(item);
        if (url !== undefined && !seen.has(url)) {
          seen.add(url);
          urls.push(url);
        }
      }
      if (urls.length > 0) tiers.push(urls);
    }
  }
  if (tiers.length > 0) return tiers;
  const announce = urlOf(top.get("announce"));
  return announce === undefined ? [] : [[announce]];
}

function webSeeds(top: BencodeDict): string[] {
  const v = top.get("url-list");
  const items = Array.isArray(v) ? v : [v];
  const out: string[] = [];
  for (const item of items) {
    const url = urlOf(item);
    if (url !== undefined && !out.includes(url)) out.push(url);
  }
  return out;
}

function optionalText(top: BencodeDict, key: string): string | undefined {
  const utf8 = getBytes(top, `${key}.utf-8`);
  const preferred = utf8 === undefined ? undefined : decodeText(utf8);
  if (preferred !== undefined) return preferred;
  const raw = getBytes(top, key);
  return raw === undefined ? undefined : textOf(raw);
}

/** Bytes a text editor or a transfer may have appended after the final `e`. */
function isTrailingSpace(b: number): boolean {
  return b === 0x0a || b === 0x0d || b === 0x20 || b === 0x09;
}

/** The largest .torrent file read from anywhere (real ones are well under a few MiB). */
export const MAX_TORRENT_FILE_BYTES = 64 << 20;

/**
 * Parses and validates a .torrent file. Names and paths are sanitised so every file stays
 * inside the output folder; the info-hash is taken over the exact bytes of `info`.
 *
 * @example
 * ```ts
 * import { createTorrentFromBuffers, parseTorrent } from "./mod.ts";
 * const bytes = createTorrentFromBuffers("hello.txt", new TextEncoder().encode("hi there"), {
 *   pieceLength: 16384,
 *   announce: [["http://127.0.0.1:6969/announce"]],
 * });
 * const t = parseTorrent(bytes);
 * console.log(t.name, t.totalLength, t.pieceCount); // hello.txt 8 1
 * ```
 */
export function parseTorrent(bytes: Uint8Array): Torrent {
  let end = bytes.length;
  while (end > 0 && isTrailingSpace(bytes[end - 1])) end--;
  const input = bytes.subarray(0, end);
  let top: BencodeValue;
  let spans;
  try {
    ({ value: top, spans } = decodeWithSpans(input, { allowUnsortedKeys: true }));
  } catch (e) {
    if (e instanceof BencodeError) fail(`not a torrent file: bencode error: ${e.message}`);
    throw e;
  }
  if (!isDict(top)) fail("not a torrent file: top level is not a dictionary");
  const info = top.get("info");
  if (info === undefined) fail("missing 'info' dictionary");
  if (!isDict(info)) fail("'info' is not a dictionary");
  const span = spans.get("info")!;
  const parsed = infoFromDict(info, input.subarray(span.start, span.end));
  if (parsed.v2Pieces !== undefined) readPieceLayers(top, parsed.v2Pieces);

  const torrent: Torrent = { ...parsed, announce: trackerTiers(top), urlList: webSeeds(top) };
  const comment = optionalText(top, "comment");
  if (comment !== undefined) torrent.comment = comment;
  const createdBy = optionalText(top, "created by");
  if (createdBy !== undefined) torrent.createdBy = createdBy;
  const date = top.get("creation date");
  if (typeof date === "number" && date >= 0) torrent.creationDate = date;
  return torrent;
}

/**
 * Indexes into `torrent.files` of the files a user sees (and numbers, from 0 or 1): pad files
 * and symlink entries hold no data of their own and are left out.
 *
 * @example
 * ```ts
 * import { createTorrentFromBuffers, listedFiles, parseTorrent } from "./mod.ts";
 * const files = [{ path: ["a"], data: new Uint8Array(5) }, { path: ["b"], data: new Uint8Array(7) }];
 * const torrent = parseTorrent(createTorrentFromBuffers("set", files, { version: "hybrid" }));
 * console.log(torrent.files.length, listedFiles(torrent)); // 3 [ 0, 2 ]
 * ```
 */
export function listedFiles(torrent: Torrent): number[] {
  const out: number[] = [];
  torrent.files.forEach((f, i) => {
    if (!f.padding && f.symlink === undefined) out.push(i);
  });
  return out;
}

/**
 * The bytes of the torrent's files, its pad files left out: what a user's data weighs. A v2 or
 * hybrid torrent of files smaller than a piece pads each to a whole piece, so `totalLength`
 * (the pieces' bytes, which progress and checks count) can be many times as much.
 *
 * @example
 * ```ts
 * import { createTorrentFromBuffers, dataLength, parseTorrent } from "./mod.ts";
 * const files = [{ path: ["a"], data: new Uint8Array(5) }, { path: ["b"], data: new Uint8Array(7) }];
 * const torrent = parseTorrent(createTorrentFromBuffers("set", files, { version: "hybrid" }));
 * console.log(dataLength(torrent), torrent.totalLength); // 12 32768
 * ```
 */
export function dataLength(torrent: Torrent): number {
  return torrent.files.reduce((n, f) => f.padding ? n : n + f.length, 0);
}
