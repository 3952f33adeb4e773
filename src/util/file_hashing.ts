/**
 * The piece hashes of files on disk, on every core: the calling thread and a worker thread per
 * other core share one list of runs of whole pieces, each taking the next run no thread has
 * taken (a counter in shared memory), reading it, hashing it and writing its hashes into shared
 * memory. No message passes per run, so no thread waits on another. v1 hashes the files laid end
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

/** A run of whole pieces, and what to make of each piece. */
export interface HashTask {
  pieceLength: number;
  /** The bytes of the pieces, file by file, in order. */
  segments: Segment[];
  /** Index of the run's first piece. */
  firstPiece: number;
  /**
   * Zero-fill a short piece to a whole one before its SHA-1, as the pad file after it would
   * (hybrid); the run's very last piece only when `wholeLastPiece` too.
   */
  padPieces: boolean;
  wholeLastPiece: boolean;
  /** Leaves of each piece's merkle subtree (v2, hybrid: the run is of one file); 0 for none. */
  merkleWidth: number;
}

/** What the threads of one `hashFiles` call share; every buffer is a `SharedArrayBuffer`. */
export interface HashJob {
  /** Every run of pieces, in order. */
  tasks: HashTask[];
  /**
   * At `NEXT` the index of the next task to take; at `STOP` 1 once a thread has failed; at
   * `FINISHED` how many threads have found no task left.
   */
  control: Int32Array;
  /** Bytes hashed so far, for progress. */
  hashed: BigInt64Array;
  /** Where each piece's SHA-1 goes (v1, hybrid). */
  pieces?: Uint8Array;
  /** Where the merkle root of each piece's blocks goes (v2, hybrid; in aligned piece order). */
  roots?: Uint8Array;
}

/** A worker's last word: nothing when no task was left, or why it stopped. */
export interface WorkerOutcome {
  error?: string;
  path?: string;
}

/** `HashJob.control`: the index of the next task to take. */
const NEXT = 0;
/** `HashJob.control`: set to 1 once a thread fails, so the others take no more tasks. */
const STOP = 1;
/**
 * `HashJob.control`: threads that have found no task left, their hashes all written: once every
 * thread has, the calling thread need not wait for the workers' last messages (an event loop
 * turn, some 0.7 ms).
 */
const FINISHED = 2;
/**
 * The most bytes in one task: large reads, and few of what each task costs (opening, seeking,
 * closing, counting progress; a 1 GiB create took 3.8 ms longer in tasks of 4 MiB).
 */
const TASK_BYTES = 16 * 1024 * 1024;
/** Most threads hashing, the calling thread among them; each reads and hashes a core's worth. */
const MAX_THREADS = 4;
/**
 * By default a worker is started for each this much of the payload: Deno holds the calling
 * thread some 10 ms while it builds a worker, which then takes some 5 ms to load its code, and
 * below this the calling thread alone is done sooner (a create of 32 MiB took 49.5 ms alone and
 * 54.4 ms with a worker; of 64 MiB, 71.5 ms alone and 65.0 ms with one).
 */
const BYTES_PER_WORKER = 48 * 1024 * 1024;
/** The calling thread lets its event loop run (timers, signals, a worker's news) this often. */
const YIELD_MS = 50;

/** A file that could not be read as hashing needed. */
export class FileHashingError extends Error {
  constructor(message: string, readonly path?: string) {
    super(message);
    this.name = "FileHashingError";
  }
}

/**
 * Reads the pieces of `task` one at a time into `buffer` (grown to a piece when smaller) and
 * writes the hashes of each into `job`: a piece is hashed while it is still in the CPU's cache.
 * Returns the bytes read. Throws `FileHashingError` when a file is shorter than it was (changed
 * under us) or cannot be read.
 */
function hashTask(task: HashTask, job: HashJob, buffer: { bytes: Uint8Array }): number {
  const L = task.pieceLength;
  if (buffer.bytes.length < L) buffer.bytes = new Uint8Array(L);
  const piece = buffer.bytes;
  const bytes = task.segments.reduce((n, s) => n + s.length, 0);
  const pieces = Math.ceil(bytes / L);
  let filled = 0, count = 0;
  const hashPiece = () => {
    const p = task.firstPiece + count;
    if (job.roots) {
      job.roots.set(blocksRoot(piece.subarray(0, filled), task.merkleWidth), p * MERKLE_HASH);
    }
    if (job.pieces) {
      const whole = task.padPieces && (count < pieces - 1 || task.wholeLastPiece);
      if (whole && filled < L) piece.fill(0, filled, L);
      job.pieces.set(sha1(piece.subarray(0, whole ? L : filled)), p * 20);
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
  return bytes;
}

/**
 * Takes the next task of `job` that no thread has taken, hashes it into the job and counts its
 * bytes; false when none is left or a thread has failed. Its own failure (`FileHashingError`)
 * stops the other threads too.
 */
export function hashNext(job: HashJob, buffer: { bytes: Uint8Array }): boolean {
  if (Atomics.load(job.control, STOP) !== 0) return false;
  const task = job.tasks[Atomics.add(job.control, NEXT, 1)];
  if (task === undefined) {
    Atomics.add(job.control, FINISHED, 1);
    return false;
  }
  let bytes: number;
  try {
    bytes = hashTask(task, job, buffer);
  } catch (e) {
    Atomics.store(job.control, STOP, 1);
    throw e;
  }
  Atomics.add(job.hashed, 0, BigInt(bytes));
  return true;
}

/** What every task of one `hashFiles` call makes, as `HashTask` spells it. */
type TaskKind = Pick<HashTask, "padPieces" | "wholeLastPiece">;

/** How many pieces the run starting at a piece takes (the last one may take fewer). */
type RunLength = (firstPiece: number) => number;

/** v1 runs of whole pieces over `files` laid end to end. */
function* streamTasks(
  files: readonly FileSpan[],
  pieceLength: number,
  kind: TaskKind,
  runLength: RunLength,
): Generator<HashTask> {
  let file = 0, position = 0, firstPiece = 0;
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
    yield { pieceLength, segments, firstPiece, ...kind, merkleWidth: 0 };
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
  let firstPiece = 0;
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
  /**
   * Called as pieces are hashed (after each run this thread hashes, and at the end) with the
   * bytes hashed so far and the total.
   */
  onProgress?: (done: number, total: number) => void;
  /**
   * Worker threads hashing beside this one; default: one for each 48 MiB of the payload, and
   * one per core but this thread's, three at most. 0 hashes on this thread alone.
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
    padPieces: version === "hybrid",
    wholeLastPiece: options.wholeLastPiece ?? false,
  };
  const aligned = version !== "v1";
  const piecesOf = (length: number) => Math.ceil(length / pieceLength);
  const pieceCount = aligned ? files.reduce((n, f) => n + piecesOf(f.length), 0) : piecesOf(total);
  const byDefault = Math.min(
    navigator.hardwareConcurrency ?? 1,
    MAX_THREADS,
    1 + Math.floor(total / BYTES_PER_WORKER),
  ) - 1;
  // Each thread needs a piece to hash.
  const wanted = Math.max(0, Math.min(options.workers ?? byDefault, pieceCount - 1));
  // Runs of TASK_BYTES; with workers, shorter as the pieces run out (guided self-scheduling), so
  // the threads run out of work together rather than all waiting for one finishing a whole run.
  const most = Math.max(1, Math.floor(TASK_BYTES / pieceLength));
  const runLength = wanted === 0
    ? () => most
    : (first: number) =>
      Math.max(1, Math.min(most, Math.ceil((pieceCount - first) / (2 * (wanted + 1)))));
  // Started first: Deno holds this thread some 10 ms while it builds a worker's runtime, and the
  // worker then loads its code while this thread lays out the runs and starts hashing.
  const workers = Array.from({ length: wanted }, () => new HashWorker());
  try {
    const shared = (bytes: number) => new SharedArrayBuffer(bytes);
    const job: HashJob = {
      tasks: [
        ...(aligned
          ? alignedTasks(files, pieceLength, kind, runLength)
          : streamTasks(files, pieceLength, kind, runLength)),
      ],
      control: new Int32Array(shared(12)),
      hashed: new BigInt64Array(shared(8)),
      pieces: version !== "v2" ? new Uint8Array(shared(pieceCount * 20)) : undefined,
      roots: aligned ? new Uint8Array(shared(pieceCount * MERKLE_HASH)) : undefined,
    };
    let reported = -1;
    const report = () => {
      const done = Number(Atomics.load(job.hashed, 0));
      if (done !== reported) options.onProgress?.(reported = done, total);
    };
    // A thread failing in hashNext stops the others through STOP; a worker failing otherwise
    // (its code not loading) stops them here.
    const workersDone = Promise.all(workers.map((w) => w.run(job)));
    workersDone.catch(() => Atomics.store(job.control, STOP, 1));
    await hashHere(job, report);
    if (Atomics.load(job.control, FINISHED) <= wanted) await workersDone;
    report();
    // Copies out of shared memory: the hashes go on to places that take no shared buffer.
    return {
      pieces: job.pieces?.slice(),
      merkle: job.roots && fileTrees(files, pieceLength, job.roots),
    };
  } finally {
    for (const w of workers) w.worker.terminate();
  }
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

/**
 * Hashes tasks of `job` on this thread until none is left, calling `hashed` after each; it lets
 * the event loop run every `YIELD_MS`, so that timers fire and a failed worker's news is heard.
 */
async function hashHere(job: HashJob, hashed: () => void): Promise<void> {
  const buffer = { bytes: new Uint8Array(0) };
  let yielded = performance.now();
  while (hashNext(job, buffer)) {
    hashed();
    if (performance.now() - yielded >= YIELD_MS) {
      await nextTurn();
      yielded = performance.now();
    }
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

/** One worker thread hashing beside this one. */
class HashWorker {
  readonly worker = new Worker(new URL("./hash_worker.ts", import.meta.url), { type: "module" });

  /**
   * Gives the worker `job`; resolves once it finds no task left, rejects when it fails (and
   * `hashFiles` then stops the other threads).
   */
  run(job: HashJob): Promise<void> {
    return new Promise((resolve, reject) => {
      this.worker.onmessage = (event: MessageEvent<WorkerOutcome>) => {
        const { error, path } = event.data;
        if (error === undefined) resolve();
        else reject(new FileHashingError(error, path));
      };
      this.worker.onerror = (event) => {
        event.preventDefault();
        reject(new FileHashingError(`hashing stopped: ${event.message}`));
      };
      this.worker.postMessage(job);
    });
  }
}
