/**
 * One open file for positional reads and writes that keep the event loop free: reads are
 * `node:fs` `pread`s (which Deno runs off the main thread), writes go to the `DiskWriter` worker.
 * The file is opened with `O_NOFOLLOW` and checked to be the inode at its path, and the worker
 * writes only to that inode, so a symbolic link swapped in later is never written through.
 *
 * @module
 */
import type { FileHandle } from "node:fs/promises";
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
  readonly #fh: FileHandle;
  readonly #ino: number;
  readonly #dev: number;
  /** Set while writable and open. */
  #writer: DiskWriter | null;
  #writing = 0;
  #settled: (() => void)[] = [];
  #unflushed = 0;
  #flushing: Promise<void> | null = null;

  private constructor(
    path: string,
    fh: FileHandle,
    stat: { ino: number; dev: number },
    write: boolean,
  ) {
    this.path = path;
    this.#fh = fh;
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
   * with code `ELOOP` when `path` is a symbolic link. (`O_NOFOLLOW` alone is not enough: Deno's
   * `node:fs` follows links while checking permissions, unless run with `--allow-all`.)
   */
  static async open(
    path: string,
    opts: { write: boolean; create?: boolean },
  ): Promise<DataFile> {
    // Loaded here, not at the top: `node:fs` costs every command's start-up some 18 ms.
    const { constants, promises } = await import("node:fs");
    const flags = (opts.write ? constants.O_RDWR : constants.O_RDONLY) |
      (constants.O_NOFOLLOW ?? 0) | (opts.create ? constants.O_CREAT : 0);
    const fh = await promises.open(path, flags, 0o644);
    try {
      const [link, opened] = await Promise.all([Deno.lstat(path), fh.stat()]);
      if (link.isSymlink || link.ino !== opened.ino || link.dev !== opened.dev) {
        throw replacedFileError();
      }
      return new DataFile(path, fh, opened, opts.write);
    } catch (e) {
      await fh.close();
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
  async read(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.#fh.read(buf, offset + done, length - done, position + done);
      if (!(bytesRead > 0)) break;
      done += bytesRead;
    }
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
    this.#flushing = this.#fh.datasync()
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
    const { size, nlink } = await this.#fh.stat();
    return { size, nlink };
  }

  async truncate(length: number): Promise<void> {
    await this.#flushed();
    await this.#fh.truncate(length);
  }

  /** Flushes the written bytes to the disk, after every write issued so far. */
  async datasync(): Promise<void> {
    await this.#flushed();
    await this.#flushing;
    this.#unflushed = 0;
    await this.#fh.datasync();
  }

  /** Closes the file after the writes in flight. */
  async close(): Promise<void> {
    await this.#flushed();
    await this.#flushing;
    const writer = this.#writer;
    this.#writer = null;
    if (writer) {
      await writer.forget(this.path).catch(() => {});
      writer.release();
    }
    await this.#fh.close();
  }
}
