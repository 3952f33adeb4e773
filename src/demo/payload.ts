/**
 * The demo's payload: a plan of a few files of random bytes in nested folders (plus one empty
 * file), writing that plan to disk, and comparing two copies of it byte for byte.
 *
 * @module
 */

/** One file of the demo payload, relative to the payload folder. */
export interface PayloadFile {
  /** Path components below the payload folder, e.g. `["video", "extras", "trailer.bin"]`. */
  path: string[];
  /** Size in bytes (0 for the empty file). */
  length: number;
}

/** A file whose two copies differ, and how. */
export interface FileMismatch {
  /** The file's path below the payload folder, joined with `/`. */
  path: string;
  /** One short phrase: "missing", "size 10 instead of 12", "content differs at byte 4096". */
  reason: string;
}

/**
 * Share of the payload each file gets; the last non-empty file takes what is left. The odd byte
 * counts subtracted in {@link planPayload} keep file boundaries off piece boundaries, so pieces
 * that span two files get exercised.
 */
const SHAPE: readonly { path: readonly string[]; share: number }[] = [
  { path: ["video", "feature.bin"], share: 0.45 },
  { path: ["video", "extras", "trailer.bin"], share: 0.2 },
  { path: ["music", "album", "01-opening.bin"], share: 0.15 },
  { path: ["music", "album", "02-closing.bin"], share: 0.12 },
  { path: ["docs", "notes", "manual.bin"], share: 0 },
  { path: ["empty.txt"], share: 0 },
];
const REMAINDER_INDEX = 4;
const EMPTY_INDEX = 5;

/** Chunk size for writing and comparing: bounds memory whatever the payload size. */
const CHUNK = 1024 * 1024;
/** `crypto.getRandomValues` fills at most this many bytes per call. */
const RANDOM_LIMIT = 65536;

/**
 * Splits `totalBytes` over the demo's files: five files of random data in nested folders and one
 * empty file. The sizes always add up to `totalBytes`.
 *
 * @example
 * ```ts
 * import { planPayload } from "./payload.ts";
 * const plan = planPayload(1024 * 1024);
 * console.log(plan.length, plan.reduce((n, f) => n + f.length, 0)); // 6 1048576
 * ```
 */
export function planPayload(totalBytes: number): PayloadFile[] {
  if (!Number.isSafeInteger(totalBytes) || totalBytes <= 0) {
    throw new RangeError(`payload size must be a positive whole number, got ${totalBytes}`);
  }
  const plan = SHAPE.map((s) => ({ path: [...s.path], length: 0 }));
  let used = 0;
  SHAPE.forEach((s, i) => {
    if (i === REMAINDER_INDEX || i === EMPTY_INDEX) return;
    const skew = (i * 7919) % 4099; // an odd-looking offset per file, 0 for the first
    const length = Math.max(0, Math.floor(totalBytes * s.share) - skew);
    plan[i].length = length;
    used += length;
  });
  plan[REMAINDER_INDEX].length = totalBytes - used;
  return plan;
}

/**
 * Writes the planned files of random bytes under `dir` (creating folders as needed), one chunk
 * at a time so memory stays small. Stops with the signal's reason when `signal` is aborted.
 *
 * @example
 * ```ts
 * import { planPayload, writePayload } from "./payload.ts";
 * const dir = await Deno.makeTempDir();
 * await writePayload(dir, planPayload(100_000));
 * console.log((await Deno.stat(`${dir}/empty.txt`)).size); // 0
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writePayload(
  dir: string,
  plan: readonly PayloadFile[],
  signal?: AbortSignal,
): Promise<void> {
  const buffer = new Uint8Array(CHUNK);
  for (const file of plan) {
    signal?.throwIfAborted();
    const path = `${dir}/${file.path.join("/")}`;
    if (file.path.length > 1) {
      await Deno.mkdir(`${dir}/${file.path.slice(0, -1).join("/")}`, { recursive: true });
    }
    using handle = await Deno.open(path, { write: true, create: true, truncate: true });
    let left = file.length;
    while (left > 0) {
      signal?.throwIfAborted();
      const n = Math.min(left, CHUNK);
      const chunk = buffer.subarray(0, n);
      for (let at = 0; at < n; at += RANDOM_LIMIT) {
        crypto.getRandomValues(chunk.subarray(at, Math.min(n, at + RANDOM_LIMIT)));
      }
      let written = 0;
      while (written < n) written += await handle.write(chunk.subarray(written));
      left -= n;
    }
  }
}

/**
 * Compares every planned file under `expectedDir` with its copy under `actualDir`, byte for
 * byte, reading both in chunks. Returns the files that differ (empty when all match).
 *
 * @example
 * ```ts
 * import { comparePayload, planPayload, writePayload } from "./payload.ts";
 * const dir = await Deno.makeTempDir();
 * const plan = planPayload(50_000);
 * await writePayload(dir, plan);
 * console.log(await comparePayload(dir, dir, plan)); // []
 * console.log((await comparePayload(dir, `${dir}/nowhere`, plan)).length); // 6
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function comparePayload(
  expectedDir: string,
  actualDir: string,
  plan: readonly PayloadFile[],
): Promise<FileMismatch[]> {
  const mismatches: FileMismatch[] = [];
  const a = new Uint8Array(CHUNK);
  const b = new Uint8Array(CHUNK);
  for (const file of plan) {
    const rel = file.path.join("/");
    const reason = await compareFile(`${expectedDir}/${rel}`, `${actualDir}/${rel}`, a, b);
    if (reason !== undefined) mismatches.push({ path: rel, reason });
  }
  return mismatches;
}

async function compareFile(
  expected: string,
  actual: string,
  a: Uint8Array,
  b: Uint8Array,
): Promise<string | undefined> {
  let actualInfo: Deno.FileInfo;
  try {
    actualInfo = await Deno.stat(actual);
  } catch {
    return "missing";
  }
  if (!actualInfo.isFile) return "not a regular file";
  const expectedSize = (await Deno.stat(expected)).size;
  if (actualInfo.size !== expectedSize) {
    return `size ${actualInfo.size} instead of ${expectedSize}`;
  }
  using x = await Deno.open(expected, { read: true });
  using y = await Deno.open(actual, { read: true });
  let offset = 0;
  while (offset < expectedSize) {
    const n = Math.min(CHUNK, expectedSize - offset);
    if (!(await readFull(x, a.subarray(0, n))) || !(await readFull(y, b.subarray(0, n)))) {
      return `file changed while comparing (shorter than ${expectedSize} bytes)`;
    }
    for (let i = 0; i < n; i++) {
      if (a[i] !== b[i]) return `content differs at byte ${offset + i}`;
    }
    offset += n;
  }
  return undefined;
}

/** Fills `buf` from `file`; false when the file ends first. */
async function readFull(file: Deno.FsFile, buf: Uint8Array): Promise<boolean> {
  let at = 0;
  while (at < buf.length) {
    const n = await file.read(buf.subarray(at));
    if (n === null) return false;
    at += n;
  }
  return true;
}
