/**
 * Giving memory the C allocator holds free back to the system. glibc keeps what a burst freed
 * (a thousand torrents' files read at their check, a finished download's buffers) in its
 * arenas, where it still counts as the process's resident memory until reused; only
 * `malloc_trim` hands those pages back. A long-running process calls this now and then.
 *
 * @module
 */
import { openLinuxLibrary } from "./native.ts";

let libc: { malloc_trim(pad: number | bigint): number } | null | undefined;

/**
 * Returns the allocator's free pages to the system; false where that cannot be done here (not
 * Linux with glibc, or no FFI permission), which only leaves them as they are.
 *
 * @example
 * ```ts
 * import { releaseFreeMemory } from "./free_memory.ts";
 * console.log(typeof releaseFreeMemory()); // boolean
 * ```
 */
export function releaseFreeMemory(): boolean {
  libc ??= openLinuxLibrary(["libc.so.6"], {
    malloc_trim: { parameters: ["usize"], result: "i32" },
  });
  if (libc === null) return false;
  libc.malloc_trim(0);
  return true;
}
