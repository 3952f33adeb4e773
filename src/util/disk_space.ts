/**
 * How much room a file system has. `statvfs` from the C library where FFI can call it: the
 * `Deno` namespace has no such call, and `node:fs`'s `statfs`, the way without FFI, loads
 * Deno's Node file-system layer, which a long-running daemon would keep resident (some 4 MB)
 * after the first UI asked.
 *
 * @module
 */
import { lazyLinuxLibrary } from "./native.ts";

/** Bytes of one file system. */
export interface DiskSpace {
  /** Free to this user (what is reserved for root left out). */
  available: number;
  total: number;
}

/** glibc's `struct statvfs` on 64-bit Linux is 112 bytes; room to spare. */
const STATVFS_BYTES = 128;

const libc = lazyLinuxLibrary(["libc.so.6"], {
  // Off the main thread: a network file system may take its time to answer.
  statvfs: { parameters: ["buffer", "buffer"], result: "i32", nonblocking: true },
});

/**
 * The space of the file system holding `path`. Rejects with the OS error (`fsReason` puts it in
 * words) when `path` cannot be looked at.
 *
 * @example
 * ```ts
 * import { diskSpace } from "./disk_space.ts";
 * const space = await diskSpace(Deno.cwd());
 * console.log(space.total > 0 && space.available <= space.total); // true
 * ```
 */
export async function diskSpace(path: string): Promise<DiskSpace> {
  // A failure is left to `node:fs`, which words the error as Deno does.
  const space = await statvfsSpace(path);
  if (space) return space;
  const s = await (await import("node:fs/promises")).statfs(path);
  return { available: s.bavail * s.bsize, total: s.blocks * s.bsize };
}

/**
 * `diskSpace` through the C library's `statvfs`; undefined where FFI cannot call it, or when the
 * call fails.
 *
 * @example
 * ```ts
 * import { statvfsSpace } from "./disk_space.ts";
 * const space = await statvfsSpace("/no/such/folder");
 * console.log(space); // undefined
 * ```
 */
export async function statvfsSpace(path: string): Promise<DiskSpace | undefined> {
  const c = libc();
  // A NUL would end the C string early, naming another path.
  if (!c || path.includes("\0")) return undefined;
  const out = new BigUint64Array(STATVFS_BYTES / 8);
  if (await c.statvfs(new TextEncoder().encode(`${path}\0`), out) !== 0) return undefined;
  // f_frsize, f_blocks, f_bfree, f_bavail: the counts are in fragments.
  const fragment = out[1];
  return { available: Number(out[4] * fragment), total: Number(out[2] * fragment) };
}
