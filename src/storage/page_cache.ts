/**
 * Dropping a file's clean pages from the operating system's page cache, so that a download
 * keeps a bounded footprint there instead of one page per byte it ever wrote.
 *
 * Why: the pages a download writes stay cached after they reach the disk, and the next writes
 * take fresh memory. On a VM that hands free memory back to its host (free page reporting, as
 * Firecracker guests do), fresh memory costs a fault in the host on first touch: writing 1 GiB
 * into such memory took 2.8 s of kernel time, into memory freed a moment before 0.2 s. Pages
 * dropped right after their flush are free and warm when the next writes want memory, and on
 * any machine a large download stops pushing everything else out of the cache.
 *
 * Linux only (`posix_fadvise(POSIX_FADV_DONTNEED)` through FFI, which needs `--allow-ffi`);
 * elsewhere, or without that permission, dropping does nothing.
 *
 * @module
 */
import { lazyLinuxLibrary } from "../util/mod.ts";

const POSIX_FADV_DONTNEED = 4;
/**
 * Linux's open flags on the two architectures Deno runs on (arm64 numbers `O_NOFOLLOW` apart),
 * written here rather than read from `node:fs`, which would cost the process some 4 MB.
 */
const O_NONBLOCK = 0o4000;
const O_NOFOLLOW = Deno.build.arch === "aarch64" ? 0o100000 : 0o400000;

/** The C library's calls (glibc, then musl), opened by the first use; `null` where none opens. */
const libc = lazyLinuxLibrary(["libc.so.6", "libc.so"], {
  open: { parameters: ["buffer", "i32"], result: "i32", nonblocking: true },
  posix_fadvise: { parameters: ["i32", "i64", "i64", "i32"], result: "i32", nonblocking: true },
  close: { parameters: ["i32"], result: "i32" },
});

/** True when `dropCachedPages` can do its work in this process. */
export function canDropCachedPages(): boolean {
  return libc() !== null;
}

/**
 * Asks the OS to drop the cached pages of the file at `path` that are already on disk (dirty
 * ones stay, and start their way there). Resolves when done; never rejects, as a page kept in
 * the cache costs memory, not correctness.
 *
 * @example
 * ```ts
 * import { dropCachedPages } from "./page_cache.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/a`, new Uint8Array(1 << 20));
 * using file = await Deno.open(`${dir}/a`);
 * await file.syncData();
 * await dropCachedPages(`${dir}/a`); // the 1 MiB now lives on disk only
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function dropCachedPages(path: string): Promise<void> {
  const c = libc();
  if (c === null) return;
  // Read-only, and never blocking or following a link swapped in for the file.
  const fd = await c.open(new TextEncoder().encode(`${path}\0`), O_NONBLOCK | O_NOFOLLOW);
  if (fd < 0) return;
  try {
    await c.posix_fadvise(fd, 0n, 0n, POSIX_FADV_DONTNEED);
  } finally {
    c.close(fd);
  }
}
