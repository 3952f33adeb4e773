/**
 * A watch folder: `.torrent` files dropped into it are added, as transmission-daemon's
 * `watch-dir` does, then renamed `<name>.added` so they are not added again. The folder is
 * looked at every few seconds (inotify misses what another machine writes to a network
 * share); a file is taken once two looks find it the same size and age, so one still being
 * copied is left until it is whole.
 *
 * @module
 */
import { MAX_TORRENT_FILE_BYTES, parseTorrent, TorrentError } from "../metainfo/mod.ts";
import { fsReason, messageOf, readFileAtMost } from "../util/mod.ts";

/** What a watch folder runs on. */
export interface WatchFolderOptions {
  /** The folder; it may be missing for a while (a share not yet mounted). */
  dir: string;
  /** Adds a torrent file's bytes (already known to parse); a duplicate is no error. */
  add: (bytes: Uint8Array, name: string) => Promise<void>;
  log: { info(message: string): void; warn(message: string): void };
  /** Time between looks; default 3 s. */
  intervalMs?: number;
}

/** The default time between two looks at the folder. */
const INTERVAL_MS = 3000;
/** What a taken file's name gets, as Transmission names it. */
const ADDED_SUFFIX = ".added";

/** A file's size and time of change: it is whole once these stay put between two looks. */
type Mark = string;

/**
 * Watches `dir` until `stop`.
 *
 * @example
 * ```ts
 * import { WatchFolder } from "./watch_folder.ts";
 * const dir = await Deno.makeTempDir();
 * const watch = WatchFolder.start({
 *   dir,
 *   add: async (bytes, name) => console.log(name, bytes.length),
 *   log: { info() {}, warn: console.warn },
 * });
 * watch.stop();
 * await Deno.remove(dir);
 * ```
 */
export class WatchFolder {
  readonly #o: WatchFolderOptions;
  /** Files seen once, by name: the mark they had. */
  readonly #seen = new Map<string, Mark>();
  /** Files that could not be taken, by name, with the mark they had then: not tried again. */
  readonly #refused = new Map<string, Mark>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  /** Why the folder could not be read, said once until it can be again. */
  #unreadable: string | undefined;

  private constructor(options: WatchFolderOptions) {
    this.#o = options;
  }

  /** Looks at the folder now and then every `intervalMs`. */
  static start(options: WatchFolderOptions): WatchFolder {
    const watch = new WatchFolder(options);
    watch.#look();
    return watch;
  }

  /** No look after this one; a file being added is still added. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  async #look(): Promise<void> {
    try {
      await this.#scan();
    } catch (e) {
      // A bug here must not end the watching, nor the process.
      this.#o.log.warn(`watch folder ${this.#o.dir}: ${messageOf(e)}`);
    }
    if (!this.#stopped) {
      this.#timer = setTimeout(() => this.#look(), this.#o.intervalMs ?? INTERVAL_MS);
    }
  }

  async #scan(): Promise<void> {
    const marks = new Map<string, Mark>();
    try {
      for await (const entry of Deno.readDir(this.#o.dir)) {
        if (entry.isDirectory || !entry.name.toLowerCase().endsWith(".torrent")) continue;
        // A link is followed: what counts is the file it names.
        const info = await Deno.stat(`${this.#o.dir}/${entry.name}`).catch(() => undefined);
        if (info?.isFile) marks.set(entry.name, `${info.size}:${info.mtime?.getTime()}`);
      }
      if (this.#unreadable !== undefined) {
        this.#o.log.info(`watch folder ${this.#o.dir} readable again`);
      }
      this.#unreadable = undefined;
    } catch (e) {
      const why = fsReason(e);
      if (why !== this.#unreadable) this.#o.log.warn(`watch folder ${this.#o.dir}: ${why}`);
      this.#unreadable = why;
      return;
    }
    for (const name of [...this.#seen.keys()]) if (!marks.has(name)) this.#seen.delete(name);
    for (const name of [...this.#refused.keys()]) if (!marks.has(name)) this.#refused.delete(name);
    for (const [name, mark] of marks) {
      if (this.#stopped) return;
      if (this.#refused.get(name) === mark) continue;
      this.#refused.delete(name);
      if (this.#seen.get(name) !== mark) {
        this.#seen.set(name, mark); // taken on a later look if it stays so
        continue;
      }
      this.#seen.delete(name);
      if (!await this.#take(name)) this.#refused.set(name, mark);
    }
  }

  /** Adds one file and renames it; false when it is to be left as it is from now on. */
  async #take(name: string): Promise<boolean> {
    const why = await this.#add(name);
    if (why !== undefined) {
      this.#o.log.warn(`watch folder: ${name} not added: ${why}`);
      return false;
    }
    this.#o.log.info(`watch folder: added ${name}`);
    const path = `${this.#o.dir}/${name}`;
    try {
      await Deno.rename(path, await freeName(`${path}${ADDED_SUFFIX}`));
    } catch (e) {
      this.#o.log.warn(`watch folder: ${name} added but not renamed: ${fsReason(e)}`);
      return false;
    }
    return true;
  }

  /** Reads, checks and adds one file; why not, when it could not be. */
  async #add(name: string): Promise<string | undefined> {
    const path = `${this.#o.dir}/${name}`;
    let bytes: Uint8Array | null;
    try {
      bytes = await readFileAtMost(path, MAX_TORRENT_FILE_BYTES);
    } catch (e) {
      return fsReason(e);
    }
    if (bytes === null) return `it is larger than ${MAX_TORRENT_FILE_BYTES >> 20} MiB`;
    try {
      parseTorrent(bytes);
    } catch (e) {
      if (e instanceof TorrentError) return `not a torrent file (${e.message})`;
      throw e;
    }
    try {
      await this.#o.add(bytes, name);
    } catch (e) {
      return messageOf(e);
    }
    return undefined;
  }
}

/** `path`, or `path.1`, `path.2`...: the first name nothing has, so nothing is written over. */
async function freeName(path: string): Promise<string> {
  for (let n = 0;; n++) {
    const candidate = n === 0 ? path : `${path}.${n}`;
    try {
      await Deno.lstat(candidate);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return candidate;
      throw e;
    }
  }
}
