/**
 * Giving back the memory a burst of work left behind, in a long-running process.
 *
 * Two kinds stay resident after a burst (a thousand torrents added and checked, a UI's polls, a
 * finished download). The JavaScript heap's garbage: V8 collects it as allocation goes on, and
 * its memory reducer collects a few rounds once the process first goes quiet, but not again for
 * a smaller burst, so an idle daemon kept the garbage of its last polls (some 8 MB after ten
 * `torrent-get`s of 1,000 torrents). And what the C allocator holds free: glibc keeps freed
 * memory (the heap's external buffers among it) in its arenas, resident until reused, and only
 * `malloc_trim` hands those pages back.
 *
 * @module
 */
import { lazyLinuxLibrary } from "./native.ts";

/** Heap grown since the last collection that is worth collecting once the process is quiet. */
const GROWN_BYTES = 2 * 1024 * 1024;
/**
 * A heap that moved less than this between two looks (10 s apart in the daemon) belongs to a
 * quiet process: a thousand idle torrents' timers allocate some 50 KB a second, work MBs.
 */
const QUIET_BYTES = 1024 * 1024;

const libc = lazyLinuxLibrary(["libc.so.6"], {
  malloc_trim: { parameters: ["usize"], result: "i32" },
});

/** Returns the C allocator's free pages to the system where that can be done (glibc, FFI). */
function trimAllocator(): void {
  libc()?.malloc_trim(0n);
}

/** What a `MemoryReleaser` looks at and calls; the process's own by default. */
export interface MemoryHooks {
  /** Bytes the JavaScript heap holds (garbage included) and the memory it has taken for that. */
  heap(): { used: number; committed: number };
  /** A full collection, or undefined where V8 does not offer one (`--expose-gc` unset). */
  collect?: () => void;
  /** Hands the C allocator's free pages back. */
  trim(): void;
}

/** V8's `gc` with `--expose-gc`; the options object picks the kind of collection. */
type ExposedGc = (options?: { type: "major"; execution: "sync"; flavor: "last-resort" }) => void;

function processHooks(): MemoryHooks {
  const gc = (globalThis as { gc?: ExposedGc }).gc;
  return {
    heap: () => {
      const { heapUsed, heapTotal } = Deno.memoryUsage();
      return { used: heapUsed, committed: heapTotal };
    },
    // The last-resort kind also hands back the pages it emptied, which a plain one keeps pooled.
    collect: gc && (() => gc({ type: "major", execution: "sync", flavor: "last-resort" })),
    trim: trimAllocator,
  };
}

/**
 * Gives memory back when `release` is called now and then (the daemon: every 10 s): once the
 * heap has about stopped moving between two calls but has taken `GROWN_BYTES` more than after
 * the last collection, it collects (a pause of some 40 ms, taken when little else is going on);
 * then it trims the C allocator. While work goes on the heap moves, and V8 collects as it
 * allocates.
 *
 * @example
 * ```ts
 * import { MemoryReleaser } from "./free_memory.ts";
 * let used = 10e6, collections = 0;
 * const releaser = new MemoryReleaser({
 *   heap: () => ({ used, committed: used + 1e6 }),
 *   collect: () => { collections++; used = 10e6; },
 *   trim: () => {},
 * });
 * used = 15e6; // a burst
 * releaser.release(); // the heap moved since the last look: busy
 * releaser.release(); // quiet now, 5 MB above the last collection
 * console.log(collections, used); // 1 10000000
 * ```
 */
export class MemoryReleaser {
  readonly #hooks: MemoryHooks;
  /** The heap's use at the last look. */
  #lastUsed: number;
  /** What the heap had taken after the last collection. */
  #mark: number;

  constructor(hooks: MemoryHooks = processHooks()) {
    this.#hooks = hooks;
    const { used, committed } = hooks.heap();
    this.#lastUsed = used;
    this.#mark = committed;
  }

  /** Looks once: collects the heap's garbage if it is time (see the class), then trims. */
  release(): void {
    let heap = this.#hooks.heap();
    const quiet = Math.abs(heap.used - this.#lastUsed) < QUIET_BYTES;
    if (quiet && heap.committed - this.#mark >= GROWN_BYTES && this.#hooks.collect) {
      this.#hooks.collect();
      heap = this.#hooks.heap();
      this.#mark = heap.committed;
    }
    this.#lastUsed = heap.used;
    // A heap that gave memory back meanwhile (V8's own doing) counts from there.
    this.#mark = Math.min(this.#mark, heap.committed);
    this.#hooks.trim();
  }
}
