/**
 * The piece hashes of files on disk, on every core: the calling thread and a worker thread per
 * other core each take runs of whole pieces from one queue, read them and hash them, so reading
 * and hashing spread over the cores without one waiting on another. v1 hashes the files laid end
 * to end (SHA-1 a piece); v2 starts each file on a piece and builds its merkle tree (BEP 52);
 * hybrid does both over the same aligned pieces, each piece read once.
 *
 * @module
 */
import { sha1 } from "./digest.ts";
import { fsReason } from "./os_error.ts";
import {
  blocksRoot,
  type FileMerkle,
  layerRoot,
  leafCount,
  MERKLE_BLOCK,
  MERKLE_HASH,
} from "./merkle.ts";

/** One file in the byte stream being hashed. */
export interface FileSpan {
  path: string;
  length: number;
}

/** A part of one file: `length` bytes from `position`. */
export interface Segment {
  path: string;
  position: number;
  length: number;
}

/** A run of whole pieces handed to one worker, and what to make of each piece. */
export interface HashTask {
  id: number;
  pieceLength: number;
  /** The bytes of the pieces, file by file, in order. */
  segments: Segment[];
  /** Index of the run's first piece. */
  firstPiece: number;
  /** The SHA-1 of each piece (v1, hybrid). */
  sha1: boolean;
  /**
   * Zero-fill a short piece to a whole one before its SHA-1, as the pad file after it would
   * (hybrid); the run's very last piece only when `wholeLastPiece` too.
   */
  padPieces: boolean;
  wholeLastPiece: boolean;
  /** Leaves of each piece's merkle subtree (v2, hybrid: the run is of one file); 0 for none. */
  merkleWidth: number;
}

/**
 * A worker's answer: per piece, in order, its SHA-1 (when asked) then its merkle root (when
 * asked); or why the pieces could not be read.
 */
export type HashAnswer =
  | { id: number; hashes: Uint8Array }
  | { id: number; error: string; path?: string };

/** The most bytes in one task: large reads, few messages, progress that moves. */
const TASK_BYTES = 4 * 1024 * 1024;
/** Tasks queued at each worker, so it never waits for the next one. */
const IN_FLIGHT = 2;
/** Most threads hashing, the calling thread among them; each reads and hashes a core's worth. */
const MAX_THREADS = 4;
/** Payloads below this are hashed on the calling thread unless workers are asked for. */
const SMALL_BYTES = 16 * 1024 * 1024;

/** A file that could not be read as hashing needed. */
export class FileHashingError extends Error {
  constructor(message: string, readonly path?: string) {
    super(message);
    this.name = "FileHashingError";
  }
}

/** Bytes of hashes `task` makes a piece. */
function bytesPerPiece(task: HashTask): number {
  return (task.sha1 ? 20 : 0) + (task.merkleWidth > 0 ? MERKLE_HASH : 0);
}

/**
 * Reads the pieces of `task` one at a time into `buffer` (grown to a piece when smaller) and
 * returns the hashes of each: a piece is hashed while it is still in the CPU's cache. Throws
 * `FileHashingError` when a file is shorter than it was (changed under us) or cannot be read.
 */
export function hashTask(task: HashTask, buffer: { bytes: Uint8Array }): Uint8Array {
  const L = task.pieceLength;
  if (buffer.bytes.length < L) buffer.bytes = new Uint8Array(L);
  const piece = buffer.bytes;
  const total = task.segments.reduce((n, s) => n + s.length, 0);
  const pieces = Math.ceil(total / L);
  const each = bytesPerPiece(task);
  const hashes = new Uint8Array(pieces * each);
  let filled = 0, count = 0;
  const hashPiece = () => {
    const at = count * each;
    if (task.merkleWidth > 0) {
      hashes.set(
        blocksRoot(piece.subarray(0, filled), task.merkleWidth),
        at + (task.sha1 ? 20 : 0),
      );
    }
    if (task.sha1) {
      const whole = task.padPieces && (count < pieces - 1 || task.wholeLastPiece);
      if (whole && filled < L) piece.fill(0, filled, L);
      hashes.set(sha1(piece.subarray(0, whole ? L : filled)), at);
    }
    count++;
    filled = 0;
  };
  for (const s of task.segments) {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(s.path, { read: true });
    } catch (e) {
      throw new FileHashingError(`cannot read ${s.path}: ${fsReason(e)}`, s.path);
    }
    try {
      file.seekSync(s.position, Deno.SeekMode.Start);
      for (let left = s.length; left > 0;) {
        const n = file.readSync(piece.subarray(filled, filled + Math.min(left, L - filled)));
        if (n === null) throw new FileHashingError(`${s.path} changed while hashing`, s.path);
        filled += n;
        left -= n;
        if (filled === L) hashPiece();
      }
    } catch (e) {
      if (e instanceof FileHashingError) throw e;
      throw new FileHashingError(`cannot read ${s.path}: ${fsReason(e)}`, s.path);
    } finally {
      file.close();
    }
  }
  if (filled > 0) hashPiece();
  return hashes;
}

/** What every task of one `hashFiles` call makes, as `HashTask` spells it. */
type TaskKind = Pick<HashTask, "sha1" | "padPieces" | "wholeLastPiece">;

/** How many pieces the run starting at a piece takes (the last one may take fewer). */
type RunLength = (firstPiece: number) => number;

/** v1 runs of whole pieces over `files` laid end to end, made as they are asked. */
function* streamTasks(
  files: readonly FileSpan[],
  pieceLength: number,
  kind: TaskKind,
  runLength: RunLength,
): Generator<HashTask> {
  let id = 0, file = 0, position = 0, firstPiece = 0;
  for (;;) {
    const count = runLength(firstPiece);
    const segments: Segment[] = [];
    let want = count * pieceLength;
    while (want > 0 && file < files.length) {
      const left = files[file].length - position;
      if (left === 0) {
        file++;
        position = 0;
        continue;
      }
      const n = Math.min(left, want);
      segments.push({ path: files[file].path, position, length: n });
      position += n;
      want -= n;
    }
    if (segments.length === 0) return;
    yield { id: id++, pieceLength, segments, firstPiece, ...kind, merkleWidth: 0 };
    firstPiece += count;
  }
}

/**
 * Runs of whole pieces of one file each, every file starting on a piece (v2, hybrid): a file
 * longer than a piece has a subtree of a piece's blocks a piece; a smaller file's one piece is
 * its whole tree.
 */
function* alignedTasks(
  files: readonly FileSpan[],
  pieceLength: number,
  kind: TaskKind,
  runLength: RunLength,
): Generator<HashTask> {
  let id = 0, firstPiece = 0;
  const lastWithData = files.findLastIndex((f) => f.length > 0);
  for (let f = 0; f < files.length; f++) {
    const { path, length } = files[f];
    const pieces = Math.ceil(length / pieceLength);
    const merkleWidth = pieces > 1 ? pieceLength / MERKLE_BLOCK : leafCount(length);
    for (let p = 0, count = 0; p < pieces; p += count) {
      count = Math.min(runLength(firstPiece + p), pieces - p);
      const position = p * pieceLength;
      const bytes = Math.min(count * pieceLength, length - position);
      const last = f === lastWithData && p + count >= pieces;
      yield {
        id: id++,
        pieceLength,
        segments: [{ path, position, length: bytes }],
        firstPiece: firstPiece + p,
        ...kind,
        wholeLastPiece: kind.wholeLastPiece || !last,
        merkleWidth,
      };
    }
    firstPiece += pieces;
  }
}

/** The settings of {@link hashFiles}. */
export interface HashFilesOptions {
  /**
   * `v1` (default): a SHA-1 a piece over the files laid end to end. `v2`: each file's merkle
   * tree, files starting on pieces. `hybrid`: both, the SHA-1s over the files aligned by pad
   * files (zeros) as v2 lays them out.
   */
  version?: "v1" | "v2" | "hybrid";
  /**
   * hybrid: the last piece is whole too (a pad file ends the torrent, as in a folder torrent);
   * without it the last piece ends with the last file (a single-file torrent).
   */
  wholeLastPiece?: boolean;
  /** Called after each run of pieces with the bytes hashed so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Worker threads hashing beside this one; default: one per core but this thread's, three at
   * most (none below 16 MiB). 0 hashes on this thread alone.
   */
  workers?: number;
}

/** What `hashFiles` makes. */
export interface FileHashes {
  /** The SHA-1 of each piece, concatenated (v1, hybrid): a v1 torrent's `pieces`. */
  pieces?: Uint8Array;
  /** Each file's merkle root and piece layer (v2, hybrid); `undefined` for an empty file. */
  merkle?: (FileMerkle | undefined)[];
}

/**
 * The piece hashes of `files` (see {@link HashFilesOptions.version}). Rejects with
 * `FileHashingError` when a file cannot be read or changed while hashing.
 *
 * @example
 * ```ts
 * import { hashFiles } from "./file_hashing.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/a`, new Uint8Array(40_000).fill(1));
 * await Deno.writeFile(`${dir}/b`, new Uint8Array(9_000).fill(2));
 * const files = [{ path: `${dir}/a`, length: 40_000 }, { path: `${dir}/b`, length: 9_000 }];
 * console.log((await hashFiles(files, 16384)).pieces?.length); // 60 (three pieces)
 * const hybrid = await hashFiles(files, 16384, { version: "hybrid", wholeLastPiece: true });
 * console.log(hybrid.pieces?.length, hybrid.merkle?.[0]?.layer?.length); // 80 96
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function hashFiles(
  files: readonly FileSpan[],
  pieceLength: number,
  options: HashFilesOptions = {},
): Promise<FileHashes> {
  const version = options.version ?? "v1";
  const total = files.reduce((n, f) => n + f.length, 0);
  const kind: TaskKind = {
    sha1: version !== "v2",
    padPieces: version === "hybrid",
    wholeLastPiece: options.wholeLastPiece ?? false,
  };
  const aligned = version !== "v1";
  const piecesOf = (length: number) => Math.ceil(length / pieceLength);
  const pieceCount = aligned ? files.reduce((n, f) => n + piecesOf(f.length), 0) : piecesOf(total);
  const pieces = kind.sha1 ? new Uint8Array(pieceCount * 20) : undefined;
  const roots = aligned ? new Uint8Array(pieceCount * MERKLE_HASH) : undefined;
  let done = 0;
  const finished = (task: HashTask, hashes: Uint8Array) => {
    const each = bytesPerPiece(task);
    for (let i = 0; i < hashes.length / each; i++) {
      const at = i * each, p = task.firstPiece + i;
      if (pieces) pieces.set(hashes.subarray(at, at + 20), p * 20);
      if (roots) roots.set(hashes.subarray(at + each - MERKLE_HASH, at + each), p * MERKLE_HASH);
    }
    done += task.segments.reduce((n, s) => n + s.length, 0);
    options.onProgress?.(done, total);
  };
  // A worker takes this thread some 15 ms to start: small payloads hash faster here alone.
  const byDefault = total < SMALL_BYTES
    ? 0
    : Math.min(navigator.hardwareConcurrency ?? 1, MAX_THREADS) - 1;
  const wanted = Math.max(
    0,
    Math.min(options.workers ?? byDefault, Math.ceil(total / TASK_BYTES) - 1),
  );
  // Runs of TASK_BYTES; with workers, shorter as the pieces run out (guided self-scheduling), so
  // the threads run out of work together rather than all waiting for one finishing a whole run.
  const most = Math.max(1, Math.floor(TASK_BYTES / pieceLength));
  const runLength = wanted === 0
    ? () => most
    : (first: number) =>
      Math.max(1, Math.min(most, Math.ceil((pieceCount - first) / (2 * (wanted + 1)))));
  const tasks = aligned
    ? alignedTasks(files, pieceLength, kind, runLength)
    : streamTasks(files, pieceLength, kind, runLength);
  // Started first, the workers load their code while this thread hashes.
  const workers = Array.from({ length: wanted }, () => new HashWorker());
  const queue = new TaskQueue(tasks);
  try {
    await Promise.all([hashHere(queue, finished), ...workers.map((w) => w.drain(queue, finished))]);
  } catch (e) {
    queue.close();
    throw e;
  } finally {
    for (const w of workers) w.worker.terminate();
  }
  return { pieces, merkle: roots && fileTrees(files, pieceLength, roots) };
}

/** Each file's merkle hashes from the roots of its pieces (in aligned piece order). */
function fileTrees(
  files: readonly FileSpan[],
  pieceLength: number,
  roots: Uint8Array,
): (FileMerkle | undefined)[] {
  let first = 0;
  return files.map((f) => {
    const count = Math.ceil(f.length / pieceLength);
    const row = roots.subarray(first * MERKLE_HASH, (first + count) * MERKLE_HASH);
    first += count;
    if (count === 0) return undefined;
    if (count === 1) return { root: row.slice() };
    const layer = row.slice();
    return { root: layerRoot(layer, pieceLength), layer };
  });
}

/** The tasks of one `hashFiles` call, taken by every thread hashing until done or closed. */
class TaskQueue implements Iterator<HashTask> {
  readonly #tasks: Iterator<HashTask>;
  #closed = false;

  constructor(tasks: Iterator<HashTask>) {
    this.#tasks = tasks;
  }

  next(): IteratorResult<HashTask> {
    return this.#closed ? { done: true, value: undefined } : this.#tasks.next();
  }

  /** Ends the queue for every thread: one of them failed. */
  close(): void {
    this.#closed = true;
  }
}

/**
 * Hashes tasks from `queue` on this thread, one per turn of the event loop, so the workers'
 * answers are taken (and their next tasks given) in between.
 */
async function hashHere(
  queue: Iterator<HashTask>,
  finished: (task: HashTask, hashes: Uint8Array) => void,
): Promise<void> {
  const buffer = { bytes: new Uint8Array(0) };
  for (let next = queue.next(); !next.done; next = queue.next()) {
    finished(next.value, hashTask(next.value, buffer));
    await nextTurn();
  }
}

/**
 * Resolves on a later turn of the event loop, once the messages already waiting are taken; a
 * message port rather than a timer, which may be held back to 4 ms when timers nest.
 */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });
}

/** One worker thread and the tasks it has been given. */
class HashWorker {
  readonly worker = new Worker(new URL("./hash_worker.ts", import.meta.url), { type: "module" });

  /** Feeds the worker tasks from the shared queue until it is empty, `IN_FLIGHT` at a time. */
  drain(
    tasks: Iterator<HashTask>,
    finished: (task: HashTask, hashes: Uint8Array) => void,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const given = new Map<number, HashTask>();
      let ended = false;
      const give = () => {
        while (!ended && given.size < IN_FLIGHT) {
          const next = tasks.next();
          if (next.done) {
            ended = true;
            break;
          }
          given.set(next.value.id, next.value);
          this.worker.postMessage(next.value);
        }
        if (ended && given.size === 0) resolve();
      };
      this.worker.onmessage = (event: MessageEvent<HashAnswer>) => {
        const answer = event.data;
        const task = given.get(answer.id)!;
        given.delete(answer.id);
        if ("error" in answer) {
          ended = true;
          reject(new FileHashingError(answer.error, answer.path));
          return;
        }
        finished(task, answer.hashes);
        give();
      };
      this.worker.onerror = (event) => {
        event.preventDefault();
        ended = true;
        reject(new FileHashingError(`hashing stopped: ${event.message}`));
      };
      give();
    });
  }
}
