/**
 * BitTorrent v2's merkle trees (BEP 52): SHA-256 over 16 KiB blocks, two children to a parent,
 * the leaves beyond a file's end taken as 32 zero bytes. A file's tree has a power of two of
 * leaves; its `pieces root` is the top, and its piece layer is the row where one hash covers one
 * piece, so a piece checks on its own against its entry there.
 *
 * @module
 */
import { sha256Into } from "./digest.ts";

/** Bytes under one leaf of a v2 merkle tree. */
export const MERKLE_BLOCK = 16384;
/** Bytes of one node (a SHA-256 digest). */
export const MERKLE_HASH = 32;

/** `padHashes[h]`: the root of a tree of height `h` whose leaves are all zero. */
const padHashes: Uint8Array[] = [new Uint8Array(MERKLE_HASH)];

/**
 * The root of a subtree `height` levels tall over leaves that are all beyond the file's end:
 * what stands in for a missing sibling at that height.
 *
 * @example
 * ```ts
 * import { padHash } from "./merkle.ts";
 * console.log(padHash(0).every((b) => b === 0), padHash(1).length); // true 32
 * ```
 */
export function padHash(height: number): Uint8Array {
  while (padHashes.length <= height) {
    const below = padHashes[padHashes.length - 1];
    const pair = new Uint8Array(2 * MERKLE_HASH);
    pair.set(below, 0);
    pair.set(below, MERKLE_HASH);
    const node = new Uint8Array(MERKLE_HASH);
    sha256Into(pair, node, 0);
    padHashes.push(node);
  }
  return padHashes[height];
}

/** The least power of two at or above `n` (1 for 0 or 1). */
export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * Leaves of the tree of a file of `length` bytes: its 16 KiB blocks, rounded up to a power of
 * two (the `width` of a file of one piece or less).
 *
 * @example
 * ```ts
 * import { leafCount } from "./merkle.ts";
 * console.log(leafCount(16384), leafCount(40000)); // 1 4
 * ```
 */
export function leafCount(length: number): number {
  return nextPowerOfTwo(Math.ceil(length / MERKLE_BLOCK));
}

/** Where `merkleRoot` reduces rows of hashes; grown as needed and reused, as a root never yields. */
let work = new Uint8Array(0);

/**
 * The root of a tree whose bottom row is `width` nodes: the 32-byte hashes concatenated in
 * `row`, then as many `padHash(height)` as make up `width` (a power of two at least the row's
 * count). `height` is how far above the leaves the row stands: 0 for block hashes, log2 of blocks
 * per piece for a piece layer.
 *
 * @example
 * ```ts
 * import { merkleRoot, padHash } from "./merkle.ts";
 * import { sha256 } from "./digest.ts";
 * const a = sha256(new Uint8Array([1]));
 * const root = merkleRoot(a, 2);
 * console.log(root.join() === sha256(a, padHash(0)).join()); // true
 * ```
 */
export function merkleRoot(row: Uint8Array, width: number, height = 0): Uint8Array {
  let count = row.length / MERKLE_HASH;
  if (!Number.isInteger(count) || count === 0 || count > width || width !== nextPowerOfTwo(width)) {
    throw new RangeError("a merkle row needs 1..width hashes, width a power of two");
  }
  if (work.length < row.length + MERKLE_HASH) work = new Uint8Array(row.length + MERKLE_HASH);
  work.set(row);
  for (; width > 1; width /= 2, height++) {
    if (count % 2 === 1) work.set(padHash(height), count++ * MERKLE_HASH);
    for (let i = 0; i < count / 2; i++) {
      const pair = work.subarray(2 * i * MERKLE_HASH, (2 * i + 2) * MERKLE_HASH);
      sha256Into(pair, work, i * MERKLE_HASH);
    }
    count /= 2;
  }
  return work.slice(0, MERKLE_HASH);
}

/** Where `blocksRoot` keeps leaf hashes; grown as needed and reused. */
let leaves = new Uint8Array(0);

/** Writes the SHA-256 of each 16 KiB block of `data` into `into`, one after another. */
function hashLeaves(data: Uint8Array, into: Uint8Array): void {
  for (let b = 0; b * MERKLE_BLOCK < data.length; b++) {
    sha256Into(data.subarray(b * MERKLE_BLOCK, (b + 1) * MERKLE_BLOCK), into, b * MERKLE_HASH);
  }
}

/**
 * The root of the tree over `data`'s 16 KiB blocks (the last may be short), `width` leaves wide
 * (a power of two, at least the block count): a piece's entry in its file's piece layer when
 * `width` is the blocks per piece, or the `pieces root` of a file of one piece at most when it is
 * `nextPowerOfTwo` of the file's blocks.
 *
 * @example
 * ```ts
 * import { blocksRoot, merkleRoot } from "./merkle.ts";
 * import { concatBytes } from "./bytes.ts";
 * import { sha256 } from "./digest.ts";
 * const data = new Uint8Array(20000).fill(9);
 * const byHand = merkleRoot(concatBytes(sha256(data.subarray(0, 16384)), sha256(data.subarray(16384))), 4);
 * console.log(blocksRoot(data, 4).join() === byHand.join()); // true
 * ```
 */
export function blocksRoot(data: Uint8Array, width: number): Uint8Array {
  const count = Math.ceil(data.length / MERKLE_BLOCK);
  if (leaves.length < count * MERKLE_HASH) leaves = new Uint8Array(count * MERKLE_HASH);
  hashLeaves(data, leaves);
  return merkleRoot(leaves.subarray(0, count * MERKLE_HASH), width);
}

/** A file's v2 hashes: its `pieces root`, and its piece layer when it spans more than a piece. */
export interface FileMerkle {
  root: Uint8Array;
  /** 32 bytes a piece; absent for a file of one piece or less, which needs none. */
  layer?: Uint8Array;
}

/**
 * The v2 hashes of a non-empty file held in memory, for `pieceLength` (a power of two of at
 * least 16 KiB): each piece's root makes the piece layer, and the layer (padded to a power of two
 * with the roots of all-zero pieces) leads to the file's root.
 *
 * @example
 * ```ts
 * import { fileMerkle } from "./merkle.ts";
 * const m = fileMerkle(new Uint8Array(40000), 16384);
 * console.log(m.root.length, m.layer?.length); // 32 96
 * ```
 */
export function fileMerkle(data: Uint8Array, pieceLength: number): FileMerkle {
  const pieces = Math.ceil(data.length / pieceLength);
  if (pieces <= 1) return { root: blocksRoot(data, leafCount(data.length)) };
  const layer = new Uint8Array(pieces * MERKLE_HASH);
  for (let p = 0; p < pieces; p++) {
    const piece = data.subarray(p * pieceLength, (p + 1) * pieceLength);
    layer.set(blocksRoot(piece, pieceLength / MERKLE_BLOCK), p * MERKLE_HASH);
  }
  return { root: layerRoot(layer, pieceLength), layer };
}

/**
 * The `pieces root` a file's piece layer leads to: its hashes (one a piece of `pieceLength`
 * bytes) padded to a power of two with the roots of all-zero pieces.
 *
 * @example
 * ```ts
 * import { fileMerkle, layerRoot } from "./merkle.ts";
 * const m = fileMerkle(new Uint8Array(40000).fill(3), 16384);
 * console.log(layerRoot(m.layer!, 16384).join() === m.root.join()); // true
 * ```
 */
export function layerRoot(layer: Uint8Array, pieceLength: number): Uint8Array {
  const width = nextPowerOfTwo(layer.length / MERKLE_HASH);
  return merkleRoot(layer, width, Math.log2(pieceLength / MERKLE_BLOCK));
}

/**
 * The SHA-256 of each 16 KiB block of `data` (the last may be short), concatenated: a tree's
 * leaves.
 *
 * @example
 * ```ts
 * import { leafHashes } from "./merkle.ts";
 * console.log(leafHashes(new Uint8Array(20000)).length); // 64
 * ```
 */
export function leafHashes(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.length / MERKLE_BLOCK) * MERKLE_HASH);
  hashLeaves(data, out);
  return out;
}

/**
 * Every row of the tree whose row at layer `height` is `row` padded to `width` (a power of two)
 * with pad hashes, from that row up: `rows[0]` is the padded row, `rows[k]` layer `height + k`,
 * and the last holds the root alone. What answering hash requests reads uncle hashes from.
 *
 * @example
 * ```ts
 * import { merkleRoot, merkleRows } from "./merkle.ts";
 * const row = new Uint8Array(96).fill(1);
 * const rows = merkleRows(row, 4);
 * console.log(rows.length, rows[2].join() === merkleRoot(row, 4).join()); // 3 true
 * ```
 */
export function merkleRows(row: Uint8Array, width: number, height = 0): Uint8Array[] {
  const count = row.length / MERKLE_HASH;
  if (!Number.isInteger(count) || count > width || width !== nextPowerOfTwo(width)) {
    throw new RangeError("a merkle row needs at most width hashes, width a power of two");
  }
  let current = new Uint8Array(width * MERKLE_HASH);
  current.set(row);
  for (let i = count; i < width; i++) current.set(padHash(height), i * MERKLE_HASH);
  const rows = [current];
  for (; width > 1; width /= 2) {
    const next = new Uint8Array((width / 2) * MERKLE_HASH);
    for (let i = 0; i < width / 2; i++) {
      sha256Into(
        current.subarray(2 * i * MERKLE_HASH, (2 * i + 2) * MERKLE_HASH),
        next,
        i * MERKLE_HASH,
      );
    }
    rows.push(current = next);
  }
  return rows;
}
