/**
 * Pieces <-> files: positional writes of verified pieces, bounds-checked reads for uploads,
 * verification of existing data, and the final trim and sync.
 *
 * @module
 */
import { Bitfield, bytesEqual, sha1 } from "../util/mod.ts";
import { fsError, StorageError } from "./error.ts";
import { HandleCache, readFully, writeFully } from "./handles.ts";
import { isStored, pieceSizeOf, segmentsOf, type StorageLayout, validateLayout } from "./layout.ts";
import { prepareFiles, prepareRoot } from "./paths.ts";

/** Options for `Storage.open`. */
export interface StorageOptions {
  /** Most file handles kept open at once (least recently used are closed first). Default 64. */
  maxOpenFiles?: number;
}

/** One batch of pieces read by `verify`. */
interface Batch {
  /** First piece index. */
  first: number;
  /** Number of pieces. */
  count: number;
  /** Number of bytes. */
  len: number;
  /** Per piece: 1 when some byte is missing on disk. */
  missing: Uint8Array;
}

/** Largest batch buffer `verify` doubles to overlap reading with hashing. */
const MAX_OVERLAP_BUFFER = 64 * 1024 * 1024;

/** Bytes `verify` reads per batch (rounded to whole pieces, at least one piece). */
const VERIFY_CHUNK = 8 * 1024 * 1024;

/**
 * A torrent's data on disk below one output folder. Every path is checked to stay inside that
 * folder, existing data is never truncated or overwritten except by `writePiece` and `finish`,
 * and every failure is a `StorageError` with a one-line message.
 *
 * @example
 * ```ts
 * import { Storage } from "./storage.ts";
 * import { sha1 } from "../util/mod.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const data = new TextEncoder().encode("hello");
 * const layout = {
 *   pieceLength: 16384,
 *   pieceCount: 1,
 *   pieceHashes: sha1(data),
 *   totalLength: 5,
 *   files: [{ path: ["hello.txt"], length: 5, offset: 0 }],
 * };
 * const storage = await Storage.open(layout, dir);
 * await storage.writePiece(0, data);
 * console.log((await storage.verify()).complete); // true
 * console.log(new TextDecoder().decode(await storage.read(0, 1, 3))); // ell
 * await storage.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class Storage {
  /** The layout this storage was opened with. */
  readonly layout: StorageLayout;
  /** Real absolute path of the output folder. */
  readonly root: string;
  readonly #handles: HandleCache;
  #closed = false;
  #closing: Promise<void> | null = null;
  #inflight = 0;
  #idle: (() => void)[] = [];

  private constructor(layout: StorageLayout, root: string, handles: HandleCache) {
    this.layout = layout;
    this.root = root;
    this.#handles = handles;
  }

  /**
   * Validates `layout`, creates `outDir` and every missing folder and (empty) file below it, pad
   * files excepted, and returns a ready storage. Existing files are kept as they are.
   */
  static async open(
    layout: StorageLayout,
    outDir: string,
    opts: StorageOptions = {},
  ): Promise<Storage> {
    const maxOpenFiles = opts.maxOpenFiles ?? 64;
    if (!Number.isSafeInteger(maxOpenFiles) || maxOpenFiles < 1) {
      throw new StorageError(`maxOpenFiles must be a positive integer, got ${maxOpenFiles}`);
    }
    validateLayout(layout);
    const root = await prepareRoot(outDir);
    const paths = await prepareFiles(root, layout);
    return new Storage(layout, root, new HandleCache(paths, maxOpenFiles));
  }

  /** Number of handles open now (at most `maxOpenFiles` once operations settle). */
  get openFiles(): number {
    return this.#handles.openCount;
  }

  /** Length of piece `index`; throws `StorageError` for an index outside the torrent. */
  pieceSize(index: number): number {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.layout.pieceCount) {
      throw new StorageError(
        `piece ${index} does not exist (the torrent has ${this.layout.pieceCount} pieces)`,
      );
    }
    return pieceSizeOf(this.layout, index);
  }

  #checkRange(index: number, begin: number, length: number): void {
    const size = this.pieceSize(index);
    if (
      !Number.isSafeInteger(begin) || !Number.isSafeInteger(length) || begin < 0 || length < 0 ||
      begin + length > size
    ) {
      throw new StorageError(
        `bytes ${begin}+${length} are outside piece ${index} (${size} bytes long)`,
      );
    }
  }

  async #track<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new StorageError("storage is closed");
    this.#inflight++;
    try {
      return await fn();
    } finally {
      if (--this.#inflight === 0) { for (const wake of this.#idle.splice(0)) wake(); }
    }
  }

  /**
   * Writes a whole (already verified) piece. Resolves only once every byte reached its file, so
   * the caller may mark the piece had; rejects with `StorageError` otherwise (disk full,
   * read-only file system, ...).
   */
  writePiece(index: number, data: Uint8Array): Promise<void> {
    try {
      const size = this.pieceSize(index);
      if (data.length !== size) {
        throw new StorageError(`piece ${index} is ${size} bytes long, got ${data.length}`);
      }
    } catch (e) {
      return Promise.reject(e);
    }
    return this.write(index, 0, data);
  }

  /** Writes `data` at byte `begin` of piece `index`, split across files; bounds-checked. */
  write(index: number, begin: number, data: Uint8Array): Promise<void> {
    try {
      this.#checkRange(index, begin, data.length);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#track(async () => {
      const start = index * this.layout.pieceLength + begin;
      for (const seg of segmentsOf(this.layout, start, data.length)) {
        if (!isStored(this.layout.files[seg.file])) continue;
        try {
          await this.#handles.use(
            seg.file,
            true,
            (fh) => writeFully(fh, data, seg.bufOffset, seg.length, seg.fileOffset),
          );
        } catch (e) {
          throw fsError(e, "write", this.#handles.path(seg.file));
        }
      }
    });
  }

  /**
   * Reads `length` bytes at `begin` of piece `index` (to serve a peer's request). Pad files read
   * as zeros; a file too short to hold the bytes (not downloaded yet) is a `StorageError`.
   */
  read(index: number, begin: number, length: number): Promise<Uint8Array> {
    try {
      this.#checkRange(index, begin, length);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#track(async () => {
      const out = new Uint8Array(length);
      const start = index * this.layout.pieceLength + begin;
      for (const seg of segmentsOf(this.layout, start, length)) {
        if (!isStored(this.layout.files[seg.file])) continue;
        const path = this.#handles.path(seg.file);
        let got: number;
        try {
          got = await this.#handles.use(
            seg.file,
            false,
            (fh) => readFully(fh, out, seg.bufOffset, seg.length, seg.fileOffset),
          );
        } catch (e) {
          throw fsError(e, "read", path);
        }
        if (got < seg.length) {
          throw new StorageError(`cannot read piece ${index}: ${path} is shorter than expected`);
        }
      }
      return out;
    });
  }

  /**
   * Hashes the data already on disk and returns which pieces are complete and correct. Missing
   * or short files make their pieces missing, not errors. Reads run sequentially in large
   * batches, the next batch being read while the current one is hashed. `onProgress` is called
   * after each batch with the number of pieces checked so far.
   */
  verify(onProgress?: (checked: number, total: number) => void): Promise<Bitfield> {
    return this.#track(async () => {
      const L = this.layout;
      const have = new Bitfield(L.pieceCount);
      if (L.pieceCount === 0) {
        onProgress?.(0, 0);
        return have;
      }
      const perBatch = Math.max(1, Math.floor(VERIFY_CHUNK / L.pieceLength));
      const batches = Math.ceil(L.pieceCount / perBatch);
      const bufLen = Math.min(perBatch * L.pieceLength, L.totalLength);
      // Double-buffer (read the next batch while hashing this one) unless pieces are so large
      // that a second buffer would cost too much memory.
      const overlap = batches > 1 && bufLen <= MAX_OVERLAP_BUFFER;
      const bufs = [new Uint8Array(bufLen)];
      if (overlap) bufs.push(new Uint8Array(bufLen));
      const sizes = new Map<number, number>();

      const sizeOf = async (file: number): Promise<number> => {
        let size = sizes.get(file);
        if (size === undefined) {
          const path = this.#handles.path(file);
          try {
            const info = await Deno.stat(path);
            size = info.isFile ? info.size : 0;
          } catch (e) {
            if (!(e instanceof Deno.errors.NotFound)) throw fsError(e, "read", path);
            size = 0;
          }
          sizes.set(file, size);
        }
        return size;
      };

      const readBatch = async (b: number, buf: Uint8Array): Promise<Batch> => {
        const first = b * perBatch;
        const count = Math.min(perBatch, L.pieceCount - first);
        const start = first * L.pieceLength;
        const len = Math.min(count * L.pieceLength, L.totalLength - start);
        const missing = new Uint8Array(count);
        for (const seg of segmentsOf(L, start, len)) {
          if (!isStored(L.files[seg.file])) {
            buf.fill(0, seg.bufOffset, seg.bufOffset + seg.length);
            continue;
          }
          const firstPiece = Math.floor(seg.bufOffset / L.pieceLength);
          const lastPiece = Math.floor((seg.bufOffset + seg.length - 1) / L.pieceLength);
          const size = await sizeOf(seg.file);
          const avail = Math.max(0, Math.min(seg.length, size - seg.fileOffset));
          let got = 0;
          // Skip reading when every piece this segment touches is already known missing.
          let useful = false;
          for (let k = firstPiece; k <= lastPiece && !useful; k++) useful = missing[k] === 0;
          if (avail > 0 && useful) {
            try {
              got = await this.#handles.use(
                seg.file,
                false,
                (fh) => readFully(fh, buf, seg.bufOffset, avail, seg.fileOffset),
              );
            } catch (e) {
              throw fsError(e, "read", this.#handles.path(seg.file));
            }
          }
          if (got < seg.length) {
            const from = Math.floor((seg.bufOffset + got) / L.pieceLength);
            for (let k = from; k <= lastPiece; k++) missing[k] = 1;
          }
        }
        return { first, count, len, missing };
      };

      let pending: Promise<Batch> | null = readBatch(0, bufs[0]);
      try {
        for (let b = 0; pending; b++) {
          const cur: Batch = await pending;
          const buf = bufs[b % bufs.length];
          const more = b + 1 < batches;
          pending = overlap && more ? readBatch(b + 1, bufs[(b + 1) % 2]) : null;
          for (let k = 0; k < cur.count; k++) {
            if (cur.missing[k]) continue;
            const from = k * L.pieceLength;
            const piece = buf.subarray(from, Math.min(from + L.pieceLength, cur.len));
            const i = cur.first + k;
            if (bytesEqual(sha1(piece), L.pieceHashes.subarray(i * 20, i * 20 + 20))) have.set(i);
          }
          if (!overlap && more) pending = readBatch(b + 1, buf);
          onProgress?.(cur.first + cur.count, L.pieceCount);
        }
      } catch (e) {
        pending?.catch(() => {});
        throw e;
      }
      return have;
    });
  }

  /**
   * Call once the download is complete: trims files that are longer than they should be
   * (leftovers of an earlier, different download) and flushes every file to disk.
   */
  finish(): Promise<void> {
    return this.#track(async () => {
      const files = this.layout.files;
      for (let i = 0; i < files.length; i++) {
        if (!isStored(files[i])) continue;
        const length = files[i].length;
        try {
          await this.#handles.use(i, true, async (fh) => {
            const { size } = await fh.stat();
            if (size > length) await fh.truncate(length);
            await fh.datasync();
          });
        } catch (e) {
          throw fsError(e, "finish writing", this.#handles.path(i));
        }
      }
    });
  }

  /** Waits for operations in flight, then closes every file. Safe to call more than once. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#closing = (async () => {
      if (this.#inflight > 0) await new Promise<void>((wake) => this.#idle.push(wake));
      await this.#handles.closeAll();
    })();
    return this.#closing;
  }
}
