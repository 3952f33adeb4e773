/**
 * The generator of larger payloads the tests and the benchmark share: files of deterministic
 * pseudo-random bytes, written fast enough for hundreds of MiB (about a second).
 *
 * @module
 */

/** One file of a generated payload: a relative path (with `/`) and a size in bytes. */
export interface PayloadFile {
  path: string;
  size: number;
}

function safeRelative(path: string): string {
  const parts = path.split("/");
  if (
    path.length === 0 || path.startsWith("/") ||
    parts.some((p) => p === "" || p === "." || p === "..")
  ) {
    throw new RangeError(`payload path must be relative without . or ..: ${path}`);
  }
  return path;
}

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await file.write(data.subarray(off));
}

const CHUNK = 1 << 20;

/**
 * Writes files of deterministic pseudo-random bytes under `dir` (xorshift128 over a reused
 * 1 MiB buffer: hundreds of MiB take about a second). Same `seed` and spec give the same bytes;
 * each file gets its own stream, so no two files are equal.
 *
 * @example
 * ```ts
 * import { makePayload } from "./payload.ts";
 * const dir = await Deno.makeTempDir();
 * await makePayload(dir, { files: [{ path: "a/b.bin", size: 1000 }], seed: 7 });
 * console.log((await Deno.stat(`${dir}/a/b.bin`)).size); // 1000
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function makePayload(
  dir: string,
  spec: { files: PayloadFile[]; seed?: number },
): Promise<void> {
  const words = new Uint32Array(CHUNK / 4);
  const bytes = new Uint8Array(words.buffer);
  for (let index = 0; index < spec.files.length; index++) {
    const { path, size } = spec.files[index];
    safeRelative(path);
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new RangeError(`bad payload size for ${path}: ${size}`);
    }
    const full = `${dir}/${path}`;
    const slash = full.lastIndexOf("/");
    await Deno.mkdir(full.slice(0, slash), { recursive: true });
    // xorshift128 state, never all zero.
    let x = ((spec.seed ?? 1) * 0x9e3779b1 + index * 0x85ebca6b) >>> 0 || 1;
    let y = 362436069, z = 521288629, w = (88675123 ^ index) >>> 0;
    const file = await Deno.open(full, { write: true, create: true, truncate: true });
    try {
      let left = size;
      while (left > 0) {
        const n = Math.min(left, CHUNK);
        const nWords = (n + 3) >>> 2;
        for (let i = 0; i < nWords; i++) {
          const t = x ^ (x << 11);
          x = y;
          y = z;
          z = w;
          w = (w ^ (w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
          words[i] = w;
        }
        await writeAll(file, bytes.subarray(0, n));
        left -= n;
      }
    } finally {
      file.close();
    }
  }
}
