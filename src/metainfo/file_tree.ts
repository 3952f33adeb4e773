/**
 * A v2 info dictionary's `file tree` (BEP 52), read into its files in tree order: nested
 * dictionaries of path components, where a component whose dictionary holds the empty key is a
 * file and that key's dictionary its properties.
 *
 * @module
 */
import { type BencodeDict, type BencodeValue, getBytes, isDict } from "../bencode/mod.ts";
import { attrOf, fail, lengthField, symlinkTarget, textOf } from "./fields.ts";

/** One file (or symlink) of a v2 file tree. */
export interface TreeFile {
  /** Path components below the torrent's root, as text, not yet sanitised. */
  path: string[];
  /** Bytes in the file (0 for a symlink). */
  length: number;
  /** The `pieces root` of a non-empty file: 32 bytes, not all zero. */
  root?: Uint8Array;
  /** A symlink's target components, as text, not yet sanitised. */
  symlink?: string[];
}

/**
 * The files of `tree` in tree order, or a `TorrentError` naming what is wrong: keys out of order
 * (the order gives the files their places in the piece space, so it must be exact), an entry
 * that is both a file and a folder, a pad attribute (v2 aligns files itself), a missing or zero
 * root.
 *
 * @example
 * ```ts
 * import { readFileTree } from "./file_tree.ts";
 * const tree = new Map([["a.txt", new Map([["", new Map([["length", 0]])]])]]);
 * console.log(readFileTree(tree)); // [ { path: [ "a.txt" ], length: 0 } ]
 * ```
 */
export function readFileTree(tree: BencodeValue | undefined): TreeFile[] {
  if (!isDict(tree)) fail("'file tree' in info dictionary must be a dictionary");
  if (tree.has("")) fail("'file tree' must be a folder, not a file");
  const files: TreeFile[] = [];
  walk(tree, [], files);
  if (files.length === 0) fail("'file tree' holds no files");
  return files;
}

function walk(folder: BencodeDict, path: string[], out: TreeFile[]): void {
  let previous: string | undefined;
  for (const [key, child] of folder) {
    // Keys are latin-1 views of the bytes, so string order is byte order.
    if (previous !== undefined && key <= previous) fail("'file tree' keys are not in sorted order");
    previous = key;
    const where = [...path, textOf(Uint8Array.from(key, (c) => c.charCodeAt(0)))];
    const what = `file tree entry '${where.join("/")}'`;
    if (!isDict(child)) fail(`${what} is not a dictionary`);
    const properties = child.get("");
    if (properties === undefined) {
      walk(child, where, out);
      continue;
    }
    if (child.size !== 1) fail(`${what} is both a file and a folder`);
    if (!isDict(properties)) fail(`${what} has properties that are not a dictionary`);
    out.push(fileOf(properties, where, what));
  }
}

function fileOf(properties: BencodeDict, path: string[], what: string): TreeFile {
  const attr = attrOf(properties);
  if (attr.includes("p")) fail(`${what} is marked as a pad file, which a v2 file tree must not be`);
  if (attr.includes("l")) return { path, length: 0, symlink: symlinkTarget(properties, what) };
  const length = lengthField(properties, "length", what);
  if (length === 0) return { path, length };
  const root = getBytes(properties, "pieces root");
  if (root === undefined) fail(`${what} has no 'pieces root'`);
  if (root.length !== 32) fail(`'pieces root' of ${what} is not 32 bytes`);
  if (root.every((b) => b === 0)) fail(`'pieces root' of ${what} is all zeros`);
  return { path, length, root: root.slice() };
}
