/**
 * Reading the fields of a .torrent's dictionaries: each helper gives a value or fails with one
 * clear line naming the field, as v1 file lists and v2 file trees both need.
 *
 * @module
 */
import { type BencodeDict, decodeText, getBytes } from "../bencode/mod.ts";
import { TorrentError } from "./error.ts";

/** Throws the `TorrentError` a bad field gets. */
export function fail(message: string): never {
  throw new TorrentError(message);
}

const lossy = new TextDecoder("utf-8");

/** UTF-8 text of `b`, replacing invalid sequences rather than refusing the torrent. */
export function textOf(b: Uint8Array): string {
  return decodeText(b) ?? lossy.decode(b);
}

/** Non-negative safe integer under `key`, or a clear error. */
export function lengthField(d: BencodeDict, key: string, what: string): number {
  const v = d.get(key);
  if (v === undefined) fail(`missing '${key}' in ${what}`);
  if (typeof v === "bigint") fail(`'${key}' in ${what} is too large`);
  if (typeof v !== "number") fail(`'${key}' in ${what} must be an integer`);
  if (v < 0) fail(`'${key}' in ${what} must not be negative`);
  return v;
}

/** A list of byte strings under `key`, or `undefined` when missing; an error when malformed. */
export function stringList(d: BencodeDict, key: string, what: string): Uint8Array[] | undefined {
  const v = d.get(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x): x is Uint8Array => x instanceof Uint8Array)) {
    fail(`'${key}' in ${what} must be a list of strings`);
  }
  return v;
}

/** `key.utf-8` when it is a valid UTF-8 list, for paths written by clients that add it. */
export function utf8List(d: BencodeDict, key: string): string[] | undefined {
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

/** BEP 47 attributes of a file entry (`p` pad, `l` symlink, `x` executable, `h` hidden). */
export function attrOf(d: BencodeDict): string {
  const a = getBytes(d, "attr");
  return a === undefined ? "" : textOf(a);
}

/** A symlink entry's target, as text components (`symlink path`, UTF-8 variant preferred). */
export function symlinkTarget(d: BencodeDict, what: string): string[] {
  const target = utf8List(d, "symlink path") ?? stringList(d, "symlink path", what)?.map(textOf);
  if (target === undefined) fail(`missing 'symlink path' in ${what}`);
  return target;
}
