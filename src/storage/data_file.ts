/**
 * One open file for positional reads and writes that keep the event loop free: reads are a seek
 * and a read, one at a time per file, which Deno runs off the main thread; writes go to the
 * `DiskWriter` worker. The file is never opened through a symbolic link (made with `O_EXCL`, or
 * checked to be the inode at its path), and the worker writes only to that inode, so a link
 * swapped in later is never written through.
 *
 * The `Deno` API alone, not `node:fs` (whose `pread` would save the seek): loading `node:fs`
 * costs a process some 4 MB of resident memory and 20 ms.
 *
 * @module
 */
import { errorCode } from "../util/mod.ts";
import { DiskWriter, replacedFileError } from "./disk_writer.ts";
import { fsError } from "./error.ts";
import { dropCachedPages } from "./page_cache.ts";

/**
 * Bytes written to a file between background flushes. Starting the disk's work early bounds
 * the dirty pages and leaves little for the final `datasync` the resume record waits for
 * (measured: 0.41 s at the end of a 1 GiB download without it). Each flush then drops the
 * file's flushed pages from the OS cache (see `page_cache.ts`): a 1 GiB download from one
 * libtorrent seeder on a Firecracker VM took 2.29-3.10 s with that and 3.36-3.79 s without.
 */
const FLUSH_EVERY = 64 * 1024 * 1024;

/**
 * A file opened read-write or read-only, never through a final symbolic link.
 *
 * @example
 * ```ts
 * import { DataFile } from "./data_file.ts";
 * const dir = await Deno.makeTempDir();
 * const file = await DataFile.open(`${dir}/a`, { write: true, create: true });
 * await file.write(new Uint8Array([1, 2, 3]), 0, 3, 5);
 * const buf = new Uint8Array(8);
 * console.log(await file.read(buf, 0, 8, 0)); // 8
 * await file.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class DataFile {
  readonly path: string;
  readonly #file: Deno.FsFile;
  readonly #ino: number | null;
  readonly #dev: number;
  /** The last read: a read may seek first, so reads of one file take turns. */
  #reading: Promise<unknown> = Promise.resolve();
  /** Where the handle's offset is (the end of the last read), -1 when not known. */
  #offset = 0;
  /** Set while writable and open. */
  #writer: DiskWriter | null;
  #writing = 0;
  #settled: (() => void)[] = [];
  #unflushed = 0;
  #flushing: Promise<void> | null = null;

  private constructor(
    path: string,
    file: Deno.FsFile,
    stat: { ino: number | null; dev: number },
    write: boolean,
  ) {
    this.path = path;
    this.#file = file;
    this.#ino = stat.ino;
    this.#dev = stat.dev;
    this.#writer = write ? DiskWriter.acquire() : null;
  }

  /** True when opened read-write (and not closed). */
  get writable(): boolean {
    return this.#writer !== null;
  }

  /**
   * Opens `path` (read-write when `write`, created when `create`); rejects with the OS error, or
   * with code `ELOOP` when `path` is a symbolic link. A file made here is made with `O_EXCL`,
   * which no link passes; one already there is looked at first and must still be that inode
   * once open (a link swapped in between is refused after the open, with nothing read or
   * written through it).
   */
  static async open(
    path: string,
    opts: { write: boolean; create?: boolean },
  ): Promise<DataFile> {
    if (opts.write && opts.create) {
      try {
        const file = await Deno.open(path, {
          read: true,
          write: true,
          createNew: true,
          mode: 0o644,
        });
        return await DataFile.#checked(path, file, undefined, true);
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      }
    }
    const link = await Deno.lstat(path);
    if (link.isSymlink) {
      throw Object.assign(new Error(`${path} is a symbolic link`), { code: "ELOOP" });
    }
    const file = await Deno.open(path, { read: true, write: opts.write });
    return await DataFile.#checked(path, file, link, opts.write);
  }

  /** `file` as a DataFile once it is the inode at `path` (and `seen`, when looked at before). */
  static async #checked(
    path: string,
    file: Deno.FsFile,
    seen: Deno.FileInfo | undefined,
    write: boolean,
  ): Promise<DataFile> {
    try {
      const [link, opened] = await Promise.all([Deno.lstat(path), file.stat()]);
      const same = (a: Deno.FileInfo) => a.ino === opened.ino && a.dev === opened.dev;
      if (link.isSymlink || !same(link) || (seen !== undefined && !same(seen))) {
        throw replacedFileError();
      }
      return new DataFile(path, file, opened, write);
    } catch (e) {
      file.close();
      throw e;
    }
  }

  /**
   * Opens `path` read-write, or read-only when the file system refuses writing (read-only file
   * system, permissions) and `mustWrite` is false. Rejects with the OS error of the attempt that
   * mattered.
   */
  static async openForWriteIfAllowed(
    path: string,
    opts: { mustWrite: boolean; create?: boolean },
  ): Promise<DataFile> {
    try {
      return await DataFile.open(path, { write: true, create: opts.create });
    } catch (e) {
      const code = errorCode(e);
      if (opts.mustWrite || (code !== "EROFS" && code !== "EACCES" && code !== "EPERM")) throw e;
    }
    return await DataFile.open(path, { write: false });
  }

  /**
   * Reads up to `length` bytes at `position` into `buf[offset..]`; returns the count (short at
   * end of file).
   */
  read(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    const read = this.#reading.then(() =>
      this.#readAt(buf.subarray(offset, offset + length), position)
    );
    this.#reading = read.catch(() => {});
    return read;
  }

  /** Reads at `position`, seeking only when the last read did not end there (a check does not). */
  async #readAt(into: Uint8Array, position: number): Promise<number> {
    const at = this.#offset;
    this.#offset = -1;
    if (at !== position) await this.#file.seek(position, Deno.SeekMode.Start);
    let done = 0;
    while (done < into.length) {
      const n = await this.#file.read(into.subarray(done));
      if (n === null || n === 0) break;
      done += n;
    }
    this.#offset = position + done;
    return done;
  }

  /**
   * Writes all `length` bytes of `data[offset..]` at `position`; rejects with a `StorageError`
   * naming the file. When `data` lives in a `SharedArrayBuffer` it must stay unchanged until the
   * promise settles; other buffers are copied at once.
   */
  write(data: Uint8Array, offset: number, length: number, position: number): Promise<void> {
    if (this.#writer === null) {
      return Promise.reject(new Error(`${this.path} is not open for writing`));
    }
    this.#writing++;
    this.#unflushed += length;
    const part = data.subarray(offset, offset + length);
    return this.#writer.write(this.path, this.#ino, this.#dev, part, position)
      .then(this.#onWritten, this.#onWriteFailed);
  }

  /** The end of every write, in one function each, so a write allocates no closures. */
  readonly #onWritten = (): void => {
    if (this.#unflushed >= FLUSH_EVERY && this.#flushing === null) this.#flushInBackground();
    this.#wrote();
  };
  readonly #onWriteFailed = (e: unknown): never => {
    this.#wrote();
    throw fsError(e, "write", this.path);
  };

  /** One write settled: wakes those waiting for none to be in flight. */
  #wrote(): void {
    if (--this.#writing === 0) { for (const wake of this.#settled.splice(0)) wake(); }
  }

  /**
   * Starts writing the dirty pages out, then drops them from the cache; failures surface in the
   * final `datasync`.
   */
  #flushInBackground(): void {
    this.#unflushed = 0;
    this.#flushing = this.#file.syncData()
      .then(() => dropCachedPages(this.path))
      .catch(() => {})
      .finally(() => this.#flushing = null);
  }

  /** Resolves once no write is in flight. */
  #flushed(): Promise<void> {
    if (this.#writing === 0) return Promise.resolve();
    return new Promise((wake) => this.#settled.push(wake));
  }

  /** Size and link count (0 once the file was deleted while open). */
  async stat(): Promise<{ size: number; nlink: number }> {
    const { size, nlink } = await this.#file.stat();
    return { size, nlink: nlink ?? 1 };
  }

  async truncate(length: number): Promise<void> {
    await this.#flushed();
    await this.#file.truncate(length);
  }

  /** Flushes the written bytes to the disk, after every write issued so far. */
  async datasync(): Promise<void> {
    await this.#flushed();
    await this.#flushing;
    this.#unflushed = 0;
    await this.#file.syncData();
  }

  /** Closes the file after the reads and writes in flight. */
  async close(): Promise<void> {
    await this.#flushed();
    await this.#flushing;
    await this.#reading;
    const writer = this.#writer;
    this.#writer = null;
    if (writer) {
      await writer.forget(this.path).catch(() => {});
      writer.release();
    }
    this.#file.close();
  }
}
