/**
 * The part file: where the bytes of unchosen files go when a piece is shared between a chosen
 * and an unchosen file, so the piece can still be verified and served without the unchosen
 * file ever appearing on disk.
 *
 * It lives at `<output>/.bittorrent/<info-hash>.parts`. Every piece touched by two or more
 * files (see `sharedPieces`) owns one slot of `pieceLength` bytes, numbered in piece order, and
 * a shared piece is written whole into its slot. The slot numbering depends on the torrent
 * only, never on the selection, so a later run with another selection finds the same bytes in
 * the same place; slots never written stay holes of a sparse file.
 *
 * @module
 */
import { join } from "node:path";
import { errorCode } from "../util/mod.ts";
import { DataFile } from "./data_file.ts";
import { fsError, StorageError } from "./error.ts";

/** Folder inside the output folder that holds the client's own files (part file, records). */
export const STATE_DIR = ".bittorrent";

/**
 * One torrent's part file, opened lazily: reading a part file that does not exist reads
 * nothing, and the folder and file are created by the first write.
 *
 * @example
 * ```ts
 * import { PartFile } from "./parts.ts";
 * const root = await Deno.realPath(await Deno.makeTempDir());
 * const parts = new PartFile(root, "00".repeat(20));
 * await parts.write(new Uint8Array([1, 2, 3]), 100);
 * const buf = new Uint8Array(3);
 * console.log(await parts.read(buf, 100), buf); // 3 Uint8Array(3) [ 1, 2, 3 ]
 * await parts.remove();
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export class PartFile {
  /** Absolute path of the part file. */
  readonly path: string;
  readonly #dir: string;
  #handle: Promise<DataFile | null> | null = null;

  /** `root` is the real path of the output folder; `name` the info-hash in hex. */
  constructor(root: string, name: string) {
    if (!/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(name)) {
      throw new StorageError(`part file name ${JSON.stringify(name)} is not an info-hash`);
    }
    this.#dir = join(root, STATE_DIR);
    this.path = join(this.#dir, `${name}.parts`);
  }

  /** Size of the part file in bytes; 0 when there is none. */
  async size(): Promise<number> {
    try {
      const info = await Deno.lstat(this.path);
      return info.isFile ? info.size : 0;
    } catch (e) {
      if (errorCode(e) === "ENOENT" || errorCode(e) === "ENOTDIR") return 0;
      throw fsError(e, "read", this.path);
    }
  }

  /**
   * The shared handle, read-write when the file system allows; null while there is no part
   * file and `create` is false. A failed or empty open is not remembered: the next call retries.
   */
  #open(create: boolean): Promise<DataFile | null> {
    if (this.#handle) return this.#handle;
    const opening = (async () => {
      if (create) await this.#ensureDir();
      try {
        return await DataFile.openForWriteIfAllowed(this.path, { mustWrite: create, create });
      } catch (e) {
        const code = errorCode(e);
        if (!create && (code === "ENOENT" || code === "ENOTDIR")) return null;
        throw fsError(e, create ? "write" : "read", this.path);
      }
    })();
    this.#handle = opening;
    opening.then((file) => {
      if (file === null && this.#handle === opening) this.#handle = null;
    }, () => {
      if (this.#handle === opening) this.#handle = null;
    });
    return opening;
  }

  async #ensureDir(): Promise<void> {
    let info: Deno.FileInfo | null = null;
    try {
      info = await Deno.lstat(this.#dir);
    } catch (e) {
      if (errorCode(e) !== "ENOENT") throw fsError(e, "create folder", this.#dir);
    }
    if (info === null) {
      try {
        await Deno.mkdir(this.#dir);
      } catch (e) {
        if (errorCode(e) !== "EEXIST") throw fsError(e, "create folder", this.#dir);
      }
      info = await Deno.lstat(this.#dir).catch((e) => {
        throw fsError(e, "create folder", this.#dir);
      });
    }
    if (!info.isDirectory) {
      throw new StorageError(`cannot keep a part file: ${this.#dir} is not a plain folder`);
    }
  }

  /** Reads up to `buf.length` bytes at `position`; returns the count (0 when absent). */
  async read(buf: Uint8Array, position: number): Promise<number> {
    const file = await this.#open(false);
    if (file === null) return 0;
    try {
      return await file.read(buf, 0, buf.length, position);
    } catch (e) {
      throw fsError(e, "read", this.path);
    }
  }

  /** Writes all of `data` at `position`, creating the part file when needed. */
  async write(data: Uint8Array, position: number): Promise<void> {
    let file = await this.#open(true);
    let own: DataFile | null = null;
    try {
      if (file === null || !file.writable) {
        // Opened read-only earlier: one more try gives the real reason, or a handle.
        await this.#ensureDir();
        own = await DataFile.open(this.path, { write: true, create: true });
        file = own;
      }
      await file.write(data, 0, data.length, position);
    } catch (e) {
      throw fsError(e, "write", this.path);
    } finally {
      await own?.close().catch(() => {});
    }
  }

  /** Flushes written bytes to disk (nothing to do when never written). */
  async sync(): Promise<void> {
    if (this.#handle === null) return;
    const file = await this.#handle.catch(() => null);
    if (file === null || !file.writable) return;
    try {
      await file.datasync();
    } catch (e) {
      throw fsError(e, "finish writing", this.path);
    }
  }

  /** Closes the file if open. */
  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = null;
    const file = await handle?.catch(() => null);
    if (file) await file.close().catch(() => {});
  }

  /** Closes and deletes the part file, and its folder when that is left empty. */
  async remove(): Promise<void> {
    await this.close();
    try {
      await Deno.remove(this.path);
    } catch (e) {
      if (errorCode(e) !== "ENOENT") throw fsError(e, "remove", this.path);
    }
    // Other state (a resume record) may share the folder: only an empty one goes.
    await Deno.remove(this.#dir).catch(() => {});
  }
}
