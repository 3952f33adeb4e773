/**
 * Test helpers for storage: layouts built from a list of file sizes, deterministic data, a
 * seeded PRNG and temporary folders.
 *
 * @module
 */
import type { StorageLayout } from "../../src/storage/mod.ts";
import { sha1, Sha1Pieces } from "../../src/util/mod.ts";
import { mulberry32 } from "../random.ts";

/** One file of a test layout: a path (ignored for pad files), a length, and whether it pads. */
export interface FileSpec {
  path: string[];
  length: number;
  padding?: boolean;
}

/** Deterministic PRNG (mulberry32, from tests/random.ts) returning floats in [0, 1). */
export const rng = mulberry32;

/** `n` pseudo-random bytes from `seed`; pad-file ranges of a layout can be zeroed separately. */
export function randomBytes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 256) | 0;
  return out;
}

/** Builds a layout over `data` (pad-file ranges of `data` are zeroed in place). */
export function makeLayout(
  specs: FileSpec[],
  pieceLength: number,
  data: Uint8Array,
): StorageLayout {
  let offset = 0;
  const files = specs.map((s) => {
    const f = { path: s.path, length: s.length, offset, padding: s.padding ?? false };
    if (f.padding) data.fill(0, offset, offset + s.length);
    offset += s.length;
    return f;
  });
  if (offset !== data.length) throw new Error("specs do not match data length");
  const pieceCount = Math.ceil(offset / pieceLength);
  const pieceHashes = new Uint8Array(pieceCount * 20);
  for (let i = 0; i < pieceCount; i++) {
    pieceHashes.set(sha1(data.subarray(i * pieceLength, (i + 1) * pieceLength)), i * 20);
  }
  // The info-hash only names the part file here: any value fixed by the data does.
  return {
    pieceLength,
    pieceCount,
    hashes: new Sha1Pieces(pieceHashes),
    infoHash: sha1(pieceHashes),
    totalLength: offset,
    files,
  };
}

/** The bytes of piece `i` of `data`. */
export function pieceOf(layout: StorageLayout, data: Uint8Array, i: number): Uint8Array {
  return data.subarray(i * layout.pieceLength, Math.min((i + 1) * layout.pieceLength, data.length));
}

/** Runs `fn` with a fresh temporary folder, removed afterwards. */
export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "bt-storage-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** True when a path exists (without following a final symlink). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
