/**
 * One open file for positional reads and writes that keep the event loop free.
 *
 * Deno 2's `node:fs` reads (`pread`) run on a worker thread, but its writes run on the main
 * thread: writing 1 GiB there cost the download loop 0.2–3 s of blocked time, measured. Only
 * `Deno.FsFile.write` hands the copy into the page cache to a worker thread, and it has no
 * position argument, so writes go through a few `FsFile` handles per file, each write a seek then
 * a write on a handle nobody else uses meanwhile. The file is opened through `node:fs` first,
 * with `O_NOFOLLOW`, and every write handle must be the same inode, so a symbolic link swapped in
 * later is never written through.
 *
 * @module
 */
import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";

const NOFOLLOW = constants.O_NOFOLLOW ?? 0;
/**
 * Write handles per file, so writes to one file run this many at a time: filling fresh page-cache
 * pages is the slow part of a write, and it spreads over cores (1 GiB took 3.1 s with one
 * handle, 2.3 s with two, on 2 cores).
 */
const WRITERS = Math.max(2, Math.min(4, navigator.hardwareConcurrency ?? 2));

function replaced(): Error {
  return Object.assign(new Error("it is a symbolic link or was replaced while open"), {
    code: "ELOOP",
  });
}

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
  readonly writable: boolean;
  readonly #fh: FileHandle;
  /** Write handles not in use; at most `WRITERS` exist, opened on demand. */
  readonly #idle: Deno.FsFile[] = [];
  readonly #queue: ((file: Deno.FsFile) => void)[] = [];
  #writers = 0;
  #writing = 0;
  #settled: (() => void)[] = [];

  private constructor(path: string, fh: FileHandle, writable: boolean) {
    this.path = path;
    this.#fh = fh;
    this.writable = writable;
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
    const flags = (opts.write ? constants.O_RDWR : constants.O_RDONLY) | NOFOLLOW |
      (opts.create ? constants.O_CREAT : 0);
    const fh = await open(path, flags, 0o644);
    try {
      const [link, opened] = await Promise.all([Deno.lstat(path), fh.stat()]);
      if (link.isSymlink || link.ino !== opened.ino || link.dev !== opened.dev) throw replaced();
    } catch (e) {
      await fh.close();
      throw e;
    }
    return new DataFile(path, fh, opts.write);
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
   * Writes all `length` bytes of `data[offset..]` at `position`. `data` must stay unchanged
   * until the promise settles.
   */
  async write(data: Uint8Array, offset: number, length: number, position: number): Promise<void> {
    if (!this.writable) throw new Error(`${this.path} is open read-only`);
    this.#writing++;
    let file: Deno.FsFile | undefined;
    try {
      file = await this.#takeWriter();
      await file.seek(position, Deno.SeekMode.Start);
      let done = 0;
      while (done < length) {
        const n = await file.write(data.subarray(offset + done, offset + length));
        if (!(n > 0)) throw Object.assign(new Error("no bytes written"), { code: "ENOSPC" });
        done += n;
      }
    } finally {
      if (file) this.#giveBack(file);
      if (--this.#writing === 0) { for (const wake of this.#settled.splice(0)) wake(); }
    }
  }

  /** An idle write handle, a new one while fewer than `WRITERS` exist, or the next one freed. */
  async #takeWriter(): Promise<Deno.FsFile> {
    const idle = this.#idle.pop();
    if (idle) return idle;
    if (this.#writers >= WRITERS) return new Promise((take) => this.#queue.push(take));
    this.#writers++;
    try {
      const file = await Deno.open(this.path, { read: true, write: true });
      const [mine, theirs] = await Promise.all([this.#fh.stat(), file.stat()]);
      if (mine.ino !== theirs.ino || mine.dev !== theirs.dev) {
        file.close();
        throw replaced();
      }
      return file;
    } catch (e) {
      this.#writers--;
      throw e;
    }
  }

  #giveBack(file: Deno.FsFile): void {
    const next = this.#queue.shift();
    if (next) next(file);
    else this.#idle.push(file);
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
    await this.#fh.datasync();
  }

  /** Closes both handles after the writes in flight. */
  async close(): Promise<void> {
    await this.#flushed();
    for (const file of this.#idle.splice(0)) {
      try {
        file.close();
      } catch { /* already closed */ }
    }
    await this.#fh.close();
  }
}
