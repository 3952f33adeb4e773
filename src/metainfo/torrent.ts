/**
 * .torrent parsing and validation (BEP 3, with BEP 12 tiers, BEP 19 web seeds, BEP 27 private
 * flag and BEP 47 pad files and symlinks). Hybrid v1/v2 torrents are read through their v1
 * half; v2-only torrents are refused with a clear message.
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
} from "../bencode/mod.ts";
import { MAX_PIECE_LENGTH, type PieceHashes, sha1, Sha1Pieces, toHex } from "../util/mod.ts";
import { TorrentError } from "./error.ts";
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

/** What the info dictionary alone says: all a download needs besides peers. */
export interface TorrentInfo {
  /** SHA-1 of the exact bytes of the info dictionary. */
  infoHash: Uint8Array;
  /** `infoHash` as lower-case hex. */
  infoHashHex: string;
  /** The exact bytes of the info dictionary (served to peers through ut_metadata). */
  infoBytes: Uint8Array;
  /** Sanitised display and folder name. */
  name: string;
  pieceLength: number;
  pieceCount: number;
  /** Concatenated SHA-1 hashes, `20 * pieceCount` bytes (the info dictionary's `pieces`). */
  pieceHashes: Uint8Array;
  /** What each piece is checked against, by the engine and by storage alike. */
  hashes: PieceHashes;
  /** Sum of all file lengths, pad files included. */
  totalLength: number;
  files: TorrentFile[];
  /** True when the info dictionary has a `files` list (even of one file). */
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

const lossy = new TextDecoder("utf-8");

function fail(message: string): never {
  throw new TorrentError(message);
}

/** UTF-8 text of `b`, replacing invalid sequences rather than refusing the torrent. */
function textOf(b: Uint8Array): string {
  return decodeText(b) ?? lossy.decode(b);
}

/** Non-negative safe integer under `key`, or a clear error. */
function lengthField(d: BencodeDict, key: string, what: string): number {
  const v = d.get(key);
  if (v === undefined) fail(`missing '${key}' in ${what}`);
  if (typeof v === "bigint") fail(`'${key}' in ${what} is too large`);
  if (typeof v !== "number") fail(`'${key}' in ${what} must be an integer`);
  if (v < 0) fail(`'${key}' in ${what} must not be negative`);
  return v;
}

/** A list of byte strings under `key`, or `undefined` when missing; an error when malformed. */
function stringList(d: BencodeDict, key: string, what: string): Uint8Array[] | undefined {
  const v = d.get(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x): x is Uint8Array => x instanceof Uint8Array)) {
    fail(`'${key}' in ${what} must be a list of strings`);
  }
  return v;
}

/** `key.utf-8` when it is a valid UTF-8 list, for paths written by clients that add it. */
function utf8List(d: BencodeDict, key: string): string[] | undefined {
  const v = d.get(`${key}.utf-8`);
  if (!Array.isArray(v) || v.length === 0) return undefined;
  const out: string[] = [];
  for (const x of v) {
    const s = x instanceof Uint8Array ? decodeText(x) : undefined;
    if (s === undefined) return undefined;
    out.push(s);
  }
  return out;
}

function nameOf(info: BencodeDict): string {
  const utf8 = getBytes(info, "name.utf-8");
  const preferred = utf8 === undefined ? undefined : decodeText(utf8);
  if (preferred !== undefined) return preferred;
  const raw = info.get("name");
  if (raw === undefined) fail("missing 'name' in info dictionary");
  if (!(raw instanceof Uint8Array)) fail("'name' in info dictionary must be a string");
  return textOf(raw);
}

function attrOf(d: BencodeDict): string {
  const a = getBytes(d, "attr");
  return a === undefined ? "" : textOf(a);
}

/** Legacy BitComet pad files carry no attr, only this name prefix. */
const LEGACY_PAD_PREFIX = "_____padding_file_";

interface RawFile {
  path: string[];
  length: number;
  padding: boolean;
  symlink?: string[];
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
      const target = utf8List(entry, "symlink path") ??
        stringList(entry, "symlink path", what)?.map(textOf);
      if (target === undefined) fail(`missing 'symlink path' in ${what}`);
      symlink = [name, ...sanitizePath(target)];
    } else {
      length = lengthField(entry, "length", what);
    }
    let path: string[];
    if (textPath === undefined) {
      path = [name, ".pad", String(length)];
    } else {
      const safe = sanitizePath(textPath);
      path = [name, ...(safe.length > 0 ? safe : ["_"])];
    }
    out.push({ path, length, padding, symlink });
  }
  return out;
}

/** Parses an info dictionary already decoded, given its exact bytes. */
function infoFromDict(info: BencodeDict, infoBytes: Uint8Array): TorrentInfo {
  const infoHash = sha1(infoBytes);
  const infoHashHex = toHex(infoHash);

  const pieceLengthValue = info.get("piece length");
  if (pieceLengthValue === undefined) fail("missing 'piece length' in info dictionary");
  if (typeof pieceLengthValue !== "number" || pieceLengthValue <= 0) {
    fail("'piece length' must be a positive integer");
  }
  if (pieceLengthValue > MAX_PIECE_LENGTH) {
    fail(`'piece length' is larger than ${MAX_PIECE_LENGTH / 1024 / 1024} MiB`);
  }
  const pieceLength = pieceLengthValue;

  const pieces = info.get("pieces");
  if (pieces === undefined) {
    if (info.has("file tree") || info.get("meta version") === 2) {
      fail("v2-only torrents (BEP 52) are not supported");
    }
    fail("missing 'pieces' in info dictionary");
  }
  if (!(pieces instanceof Uint8Array)) fail("'pieces' must be a string of SHA-1 hashes");
  if (pieces.length % 20 !== 0) fail("'pieces' length is not a multiple of 20");

  const sanitisedName = sanitizePathComponent(nameOf(info));
  const name = sanitisedName === "" ? infoHashHex : sanitisedName;

  let raw: RawFile[];
  const multiFile = info.has("files");
  if (multiFile) {
    const list = getList(info, "files");
    if (list === undefined) fail("'files' in info dictionary must be a list");
    raw = readFiles(list, name);
  } else {
    if (!info.has("length")) fail("missing 'length' or 'files' in info dictionary");
    raw = [{
      path: [name],
      length: lengthField(info, "length", "info dictionary"),
      padding: false,
    }];
  }

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

  const pieceCount = pieces.length / 20;
  if (pieceCount !== Math.ceil(totalLength / pieceLength)) {
    fail("piece count does not match total length");
  }

  return {
    infoHash,
    infoHashHex,
    infoBytes: infoBytes.slice(),
    name,
    pieceLength,
    pieceCount,
    pieceHashes: pieces.slice(),
    hashes: new Sha1Pieces(pieces.slice()),
    totalLength,
    files,
    multiFile,
    private: info.get("private") === 1,
  };
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

  const torrent: Torrent = { ...parsed, announce: trackerTiers(top), urlList: webSeeds(top) };
  const comment = optionalText(top, "comment");
  if (comment !== undefined) torrent.comment = comment;
  const createdBy = optionalText(top, "created by");
  if (createdBy !== undefined) torrent.createdBy = createdBy;
  const date = top.get("creation date");
  if (typeof date === "number" && date >= 0) torrent.creationDate = date;
  return torrent;
}
