/**
 * Pieces <-> files: positional writes of verified pieces, bounds-checked reads for uploads,
 * verification of existing data, and the final trim and sync. With a file selection, only the
 * chosen files are created and written; the unchosen bytes of pieces shared with a chosen file
 * go to the part file (see parts.ts).
 *
 * @module
 */
import { Bitfield, bytesEqual, pieceLengthAt, toHex } from "../util/mod.ts";
import { fsError, StorageError } from "./error.ts";
import { HandleCache } from "./handles.ts";
import {
  isStored,
  type Segment,
  segmentsOf,
  type StorageLayout,
  validateLayout,
} from "./layout.ts";
import { PartFile, STATE_DIR } from "./parts.ts";
import { preallocate } from "./prealloc.ts";
import { prepareFiles, prepareRoot } from "./paths.ts";
import { checkSelection, sharedPieces, wantedPieces } from "./selection.ts";

/** Options for `Storage.open`. */
export interface StorageOptions {
  /** Most file handles kept open at once (least recently used are closed first). Default 64. */
  maxOpenFiles?: number;
  /**
   * The files to download, one entry per `layout.files` entry (pad files and symlink entries
   * are ignored). Unchosen files are never created nor written; they are only read when an
   * earlier run left them on disk. Default: every file.
   */
  selected?: readonly boolean[];
  /**
   * Reserve the chosen files' full size on disk before anything is downloaded (`--prealloc`),
   * so a full disk shows up at once, not hours later. Default false: files grow sparsely as
   * pieces arrive. See `preallocate` in prealloc.ts for what exactly is written.
   */
  preallocate?: boolean;
}

/** What `Storage` knows about the selection and the part file. */
interface Selection {
  /** Per file: chosen for download (all true when there is no selection). */
  chosen: readonly boolean[];
  /** True when every stored file is chosen. */
  all: boolean;
  /** Part-file slot of every piece shared by two or more files, in piece order. */
  slots: Map<number, number>;
  /** Shared pieces that touch a chosen and an unchosen file: written whole to the part file. */
  mixed: Set<number>;
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
 * import { Sha1Pieces, sha1 } from "../util/mod.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const data = new TextEncoder().encode("hello");
 * const layout = {
 *   pieceLength: 16384,
 *   pieceCount: 1,
 *   hashes: new Sha1Pieces(sha1(data)), infoHash: new Uint8Array(20),
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
  readonly #sel: Selection;
  readonly #parts: PartFile;
  /** Mixed pieces whose verified bytes are all in the part file (reads come from there). */
  readonly #inParts = new Set<number>();
  #closed = false;
  #closing: Promise<void> | null = null;
  #inflight = 0;
  #idle: (() => void)[] = [];

  private constructor(
    layout: StorageLayout,
    root: string,
    handles: HandleCache,
    sel: Selection,
    parts: PartFile,
  ) {
    this.layout = layout;
    this.root = root;
    this.#handles = handles;
    this.#sel = sel;
    this.#parts = parts;
  }

  /**
   * Validates `layout`, creates `outDir` and every missing folder and (empty) file below it, pad
   * files and unchosen files excepted, and returns a ready storage. Existing files are kept as
   * they are. When a part file exists, the verified pieces in it are taken up: their bytes of
   * chosen files are copied into those files (a file chosen now that was not chosen before),
   * and when every file is chosen the part file is deleted. With `preallocate`, the chosen
   * files are then grown to full size, or a `StorageError` ("not enough space for ...") is
   * thrown before anything is downloaded.
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
    const sel = selectionOf(layout, opts.selected);
    const name = toHex(layout.infoHash);
    if (sel.mixed.size > 0) checkPartFileFree(layout, name);
    const root = await prepareRoot(outDir);
    const paths = await prepareFiles(root, layout, (i) => sel.chosen[i]);
    const storage = new Storage(
      layout,
      root,
      new HandleCache(paths, maxOpenFiles),
      sel,
      new PartFile(root, name),
    );
    try {
      if (opts.preallocate) {
        await preallocate(
          root,
          layout.files.map((f, i) => sel.chosen[i] && isStored(f) ? paths[i] : null),
          layout.files.map((f) => f.length),
        );
      }
      await storage.#takeUpParts();
    } catch (e) {
      await storage.close();
      throw e;
    }
    return storage;
  }

  /**
   * The pieces the chosen files need (every piece without a selection): what a download
   * should fetch.
   */
  wantedPieces(): Bitfield {
    return wantedPieces(this.layout, this.#sel.all ? undefined : this.#sel.chosen);
  }

  /** True when piece `index` is read from the part file (it mixes chosen and unchosen files). */
  inPartFile(index: number): boolean {
    return this.#inParts.has(index);
  }

  /** Path of this torrent's part file (it exists only once a shared piece was written). */
  get partFilePath(): string {
    return this.#parts.path;
  }

  /** Reads the part file's verified pieces and copies their chosen bytes into the files. */
  async #takeUpParts(): Promise<void> {
    const L = this.layout;
    const size = await this.#parts.size();
    if (size === 0) return;
    const buf = new Uint8Array(L.pieceLength);
    const onDisk = new Uint8Array(L.pieceLength);
    const written = new Set<number>();
    for (const [piece, slot] of this.#sel.slots) {
      const at = slot * L.pieceLength;
      if (at >= size) break;
      const len = pieceLengthAt(L, piece);
      const data = buf.subarray(0, len);
      if (await this.#parts.read(data, at) < len) continue;
      if (!L.hashes.verify(piece, data)) continue;
      for (const seg of segmentsOf(L, piece * L.pieceLength, len)) {
        if (!isStored(L.files[seg.file]) || !this.#sel.chosen[seg.file]) continue;
        const want = data.subarray(seg.bufOffset, seg.bufOffset + seg.length);
        const path = this.#handles.path(seg.file);
        try {
          const there = onDisk.subarray(0, seg.length);
          const got = await this.#handles.use(
            seg.file,
            false,
            (f) => f.read(there, 0, seg.length, seg.fileOffset),
          );
          if (got === seg.length && bytesEqual(there, want)) continue;
          await this.#handles.use(
            seg.file,
            true,
            (f) => f.write(data, seg.bufOffset, seg.length, seg.fileOffset),
          );
          written.add(seg.file);
        } catch (e) {
          throw fsError(e, "write", path);
        }
      }
      if (this.#sel.mixed.has(piece)) this.#inParts.add(piece);
    }
    for (const file of written) {
      try {
        await this.#handles.use(file, true, (f) => f.datasync());
      } catch (e) {
        throw fsError(e, "finish writing", this.#handles.path(file));
      }
    }
    // Every file chosen: the files now hold all the part file could give.
    if (this.#sel.all) await this.#parts.remove();
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
    return pieceLengthAt(this.layout, index);
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

  /** Runs `fn` counted as in flight, so `close` waits for it. */
  #track<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new StorageError("storage is closed"));
    this.#inflight++;
    let work: Promise<T>;
    try {
      work = fn();
    } catch (e) {
      work = Promise.reject(e);
    }
    return work.then(this.#done, this.#failed) as Promise<T>;
  }

  /**
   * End one operation `#track` counted, passing its outcome on: one function each for all, so
   * tracking allocates only the promise (`finally` would add two closures and two promises).
   */
  readonly #done = (value: unknown): unknown => {
    this.#settled();
    return value;
  };
  readonly #failed = (e: unknown): never => {
    this.#settled();
    throw e;
  };

  #settled(): void {
    if (--this.#inflight === 0) { for (const wake of this.#idle.splice(0)) wake(); }
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
    const written = this.write(index, 0, data);
    if (!this.#sel.mixed.has(index)) return written;
    return written.then(() => {
      this.#inParts.add(index);
    });
  }

  /** True for files whose bytes are written: stored and chosen. */
  #writable(file: number): boolean {
    return isStored(this.layout.files[file]) && this.#sel.chosen[file];
  }

  /** Writes `data` at byte `begin` of piece `index`, split across files; bounds-checked. */
  write(index: number, begin: number, data: Uint8Array): Promise<void> {
    try {
      this.#checkRange(index, begin, data.length);
    } catch (e) {
      return Promise.reject(e);
    }
    const slot = this.#sel.mixed.has(index) ? this.#sel.slots.get(index) : undefined;
    const start = index * this.layout.pieceLength + begin;
    const segments = segmentsOf(this.layout, start, data.length);
    const unchosen = (file: number) => isStored(this.layout.files[file]) && !this.#sel.chosen[file];
    if (slot === undefined && segments.some((seg) => unchosen(seg.file))) {
      return Promise.reject(
        new StorageError(`cannot write piece ${index}: it lies in a file not chosen for download`),
      );
    }
    if (slot === undefined) return this.#track(() => this.#writeFiles(segments, data));
    return this.#track(async () => {
      await this.#parts.write(data, slot * this.layout.pieceLength + begin);
      await this.#writeFiles(segments, data);
    });
  }

  /**
   * Writes `data`'s segments to their files, all at once. This is the path of every downloaded
   * piece, so it adds no turn of the event loop of its own (measured with 16 KiB pieces: the
   * awaits it had cost 7 % of the download's CPU time, mostly in garbage collection).
   */
  #writeFiles(segments: Segment[], data: Uint8Array): Promise<void> {
    const write = (seg: Segment) =>
      this.#handles.write(seg.file, data, seg.bufOffset, seg.length, seg.fileOffset);
    if (segments.length === 1 && this.#writable(segments[0].file)) return write(segments[0]);
    return Promise.all(segments.filter((seg) => this.#writable(seg.file)).map(write)).then(
      () => {},
    );
  }

  /**
   * Reads `length` bytes at `begin` of piece `index` (to serve a peer's request), into `into`
   * when given (it must be `length` bytes long). Pad files read as zeros; a file too short to
   * hold the bytes (not downloaded yet) is a `StorageError`.
   */
  read(index: number, begin: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    try {
      this.#checkRange(index, begin, length);
      if (into && into.length !== length) throw new RangeError("read buffer of the wrong size");
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#track(async () => {
      const out = into ?? new Uint8Array(length);
      const slot = this.#inParts.has(index) ? this.#sel.slots.get(index) : undefined;
      if (slot !== undefined) {
        if (await this.#parts.read(out, slot * this.layout.pieceLength + begin) < length) {
          throw new StorageError(
            `cannot read piece ${index}: ${this.#parts.path} is shorter than expected`,
          );
        }
        return out;
      }
      const start = index * this.layout.pieceLength + begin;
      for (const seg of segmentsOf(this.layout, start, length)) {
        if (!isStored(this.layout.files[seg.file])) {
          out.fill(0, seg.bufOffset, seg.bufOffset + seg.length); // `into` may hold old bytes
          continue;
        }
        if (!this.#handles.hasPath(seg.file)) {
          const name = this.layout.files[seg.file].path.join("/");
          throw new StorageError(`cannot read piece ${index}: ${name} is not on disk`);
        }
        const path = this.#handles.path(seg.file);
        let got: number;
        try {
          got = await this.#handles.use(
            seg.file,
            false,
            (f) => f.read(out, seg.bufOffset, seg.length, seg.fileOffset),
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
        if (size === undefined && !this.#handles.hasPath(file)) size = 0;
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
                (f) => f.read(buf, seg.bufOffset, avail, seg.fileOffset),
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
            const i = cur.first + k;
            // Checked when the storage opened, and kept true by writePiece since.
            if (this.#inParts.has(i)) have.set(i);
            if (cur.missing[k] || have.has(i)) continue;
            const from = k * L.pieceLength;
            const piece = buf.subarray(from, Math.min(from + L.pieceLength, cur.len));
            if (L.hashes.verify(i, piece)) have.set(i);
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
   * Call once the download is complete: trims chosen files that are longer than they should be
   * (leftovers of an earlier, different download) and flushes every file, and the part file,
   * to disk. A file deleted while the download ran (its open handle kept taking writes) is a
   * `StorageError`: the data is not where the user will look for it.
   */
  finish(): Promise<void> {
    return this.#track(async () => {
      const files = this.layout.files;
      await this.#parts.sync();
      for (let i = 0; i < files.length; i++) {
        if (!this.#writable(i)) continue;
        const length = files[i].length;
        try {
          await this.#handles.use(i, true, async (f) => {
            const { size, nlink } = await f.stat();
            // Deleted while open: the bytes went to a file no longer in the folder.
            if (nlink === 0) {
              throw new StorageError(
                `cannot finish writing ${
                  this.#handles.path(i)
                }: it was deleted during the download`,
                "ENOENT",
              );
            }
            if (size > length) await f.truncate(length);
            await f.datasync();
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
      await this.#parts.close();
    })();
    return this.#closing;
  }
}

/** The selection as storage uses it; throws `StorageError` for a malformed one. */
function selectionOf(layout: StorageLayout, selected?: readonly boolean[]): Selection {
  if (selected !== undefined) checkSelection(layout, selected);
  const files = layout.files;
  const chosen = files.map((_f, i) => selected === undefined || selected[i] === true);
  const all = files.every((f, i) => !isStored(f) || chosen[i]);
  const slots = new Map<number, number>();
  const mixed = new Set<number>();
  sharedPieces(layout).forEach((piece, slot) => {
    slots.set(piece, slot);
    if (all) return;
    let someChosen = false, someNot = false;
    const len = pieceLengthAt(layout, piece);
    for (const seg of segmentsOf(layout, piece * layout.pieceLength, len)) {
      if (!isStored(files[seg.file])) continue;
      if (chosen[seg.file]) someChosen = true;
      else someNot = true;
    }
    if (someChosen && someNot) mixed.add(piece);
  });
  return { chosen, all, slots, mixed };
}

/** Refuses a torrent whose own files would collide with the part file. */
function checkPartFileFree(layout: StorageLayout, name: string): void {
  const ours = `${STATE_DIR}/${name}.parts`;
  for (const f of layout.files) {
    if (isStored(f) && f.path.join("/").toLowerCase() === ours) {
      throw new StorageError(`cannot keep a part file: the torrent itself has a file ${ours}`);
    }
  }
}
