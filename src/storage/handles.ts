/**
 * A bounded, least-recently-used cache of open files, so a torrent with thousands of files never
 * holds more than a few dozen descriptors, and the torrents of a process together never more
 * than a few hundred (a daemon seeding a thousand torrents would otherwise hold one file of each
 * open, or thousands, past a NAS's limit of 1,024). I/O is positional (see `DataFile`), so
 * concurrent operations on one file never race on a shared cursor.
 *
 * @module
 */
import { DataFile } from "./data_file.ts";
import { fsError } from "./error.ts";

interface Entry {
  ready: Promise<DataFile>;
  opened: DataFile | null;
  refs: number;
}

/** Opens read-write, or read-only when the file system refuses writing and `write` is false. */
async function openFile(path: string, write: boolean): Promise<DataFile> {
  try {
    return await DataFile.openForWriteIfAllowed(path, { mustWrite: write });
  } catch (e) {
    throw fsError(e, write ? "write" : "open", path);
  }
}

/** Handles open or opening in every cache of the process together, past which idle ones close. */
export const PROCESS_MAX_OPEN_FILES = 256;
/** Every cache holding a handle, least recently used first. */
const caches = new Set<HandleCache>();
/** The cache last used: using it again needs no reordering of `caches`. */
let newestCache: HandleCache | undefined;
let openInProcess = 0;

/**
 * LRU cache of open handles keyed by file index; at most `max` idle handles stay open (more only
 * while that many operations are running at once).
 *
 * @example
 * ```ts
 * import { HandleCache } from "./handles.ts";
 * const tmp = await Deno.makeTempDir();
 * await Deno.writeFile(`${tmp}/a`, new Uint8Array(0));
 * const cache = new HandleCache([`${tmp}/a`], 1);
 * await cache.use(0, true, (f) => f.write(new Uint8Array([1, 2, 3]), 0, 3, 5));
 * const buf = new Uint8Array(8);
 * console.log(await cache.use(0, false, (f) => f.read(buf, 0, 8, 0))); // 8
 * await cache.closeAll();
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export class HandleCache {
  readonly #paths: readonly (string | null)[];
  readonly #max: number;
  /** Map order is recency order: first = least recently used. */
  readonly #entries = new Map<number, Entry>();
  /** The file last in `#entries`, or -1: using it again needs no reordering. */
  #newest = -1;
  readonly #closing = new Set<Promise<void>>();

  constructor(paths: readonly (string | null)[], max: number) {
    this.#paths = paths;
    this.#max = max;
  }

  /** Number of handles open or opening now (for tests and diagnostics). */
  get openCount(): number {
    return this.#entries.size;
  }

  /** True when file `file` has a path to open (not a pad file, nor an absent unchosen file). */
  hasPath(file: number): boolean {
    const p = this.#paths[file];
    return p !== null && p !== undefined;
  }

  /** Path of file `file` (throws for pad files, which have none). */
  path(file: number): string {
    const p = this.#paths[file];
    if (p === null || p === undefined) throw new RangeError(`file ${file} has no path`);
    return p;
  }

  /** Runs `fn` with an open handle of file `file`; `write` demands a writable handle. */
  async use<T>(file: number, write: boolean, fn: (file: DataFile) => Promise<T>): Promise<T> {
    const path = this.path(file);
    this.#touchCache();
    let entry = this.#entries.get(file);
    if (entry) {
      this.#touch(file, entry);
    } else {
      const ready = openFile(path, write);
      const created: Entry = { ready, opened: null, refs: 0 };
      ready.then(
        (opened) => {
          created.opened = opened;
        },
        () => {
          if (this.#entries.get(file) === created) this.#forget(file);
        },
      );
      entry = created;
      this.#entries.set(file, entry);
      this.#newest = file;
      openInProcess++;
      this.#evictAcrossProcess();
    }
    entry.refs++;
    try {
      const file = await entry.ready;
      if (write && !file.writable) {
        // Opened read-only earlier (read-only file system or permissions): try once more so
        // the caller gets the real reason, or a handle if the situation changed.
        const rw = await openFile(path, true);
        try {
          return await fn(rw);
        } finally {
          await rw.close().catch(() => {});
        }
      }
      return await fn(file);
    } finally {
      entry.refs--;
      this.#evict();
    }
  }

  /**
   * Writes `length` bytes of `data[offset..]` at `position` of file `file` (see
   * `DataFile.write`). A handle already open for writing takes the write at once, with no turn
   * of the event loop: the path of every downloaded piece.
   */
  write(
    file: number,
    data: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<void> {
    const entry = this.#entries.get(file);
    if (!entry?.opened?.writable) {
      return this.use(file, true, (f) => f.write(data, offset, length, position));
    }
    // Most recently used goes last. No reference is held: closing a handle waits for the
    // writes it has taken (`DataFile.close`), and an evicted handle is never handed out again.
    this.#touch(file, entry);
    this.#touchCache();
    return entry.opened.write(data, offset, length, position);
  }

  /**
   * Makes `file` the most recently used. A Map keeps its order by insertion, so that is a delete
   * and a set, skipped when `file` is last already: for a single file that was every write, and
   * the churn made garbage.
   */
  #touch(file: number, entry: Entry): void {
    if (file === this.#newest) return;
    this.#entries.delete(file);
    this.#entries.set(file, entry);
    this.#newest = file;
  }

  #forget(file: number): void {
    if (!this.#entries.delete(file)) return;
    openInProcess--;
    if (file === this.#newest) this.#newest = -1;
    if (this.#entries.size === 0) this.#dropCache();
  }

  /** Makes this cache the process's most recently used. */
  #touchCache(): void {
    if (newestCache === this) return;
    caches.delete(this);
    caches.add(this);
    newestCache = this;
  }

  #dropCache(): void {
    caches.delete(this);
    if (newestCache === this) newestCache = undefined;
  }

  /**
   * Past the process's bound, closes the idle handles of the caches used least recently (a
   * torrent nobody asked for lately), this one's last.
   */
  #evictAcrossProcess(): void {
    if (openInProcess <= PROCESS_MAX_OPEN_FILES) return;
    for (const cache of [...caches]) {
      if (openInProcess <= PROCESS_MAX_OPEN_FILES) return;
      if (cache !== this) cache.#closeIdle();
    }
  }

  /** Closes every handle no operation holds. */
  #closeIdle(): void {
    for (const [file, entry] of [...this.#entries]) {
      if (entry.refs > 0 || entry.opened === null) continue;
      this.#forget(file);
      this.#closeLater(entry.opened);
    }
  }

  #evict(): void {
    if (this.#entries.size <= this.#max) return;
    for (const [file, entry] of this.#entries) {
      if (this.#entries.size <= this.#max) break;
      if (entry.refs > 0 || entry.opened === null) continue;
      this.#forget(file);
      this.#closeLater(entry.opened);
    }
  }

  #closeLater(file: DataFile): void {
    const p: Promise<void> = file.close().catch(() => {}).finally(() => this.#closing.delete(p));
    this.#closing.add(p);
  }

  /** Closes every handle; callers must have no operation in flight. */
  async closeAll(): Promise<void> {
    const entries = [...this.#entries.values()];
    openInProcess -= entries.length;
    this.#entries.clear();
    this.#newest = -1;
    this.#dropCache();
    for (const entry of entries) {
      const opened = await entry.ready.catch(() => null);
      if (opened) this.#closeLater(opened);
    }
    await Promise.all([...this.#closing]);
  }
}
