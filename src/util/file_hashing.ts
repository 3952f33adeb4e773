/**
 * SHA-1 piece hashes of files on disk, laid end to end as a torrent lays them, on worker
 * threads: each worker reads a run of whole pieces itself and hashes them, so reading and
 * hashing spread over every core and the main thread only hands out runs and collects hashes.
 *
 * @module
 */
import { sha1 } from "./digest.ts";

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

/** A run of whole pieces handed to one worker. */
export interface HashTask {
  id: number;
  pieceLength: number;
  /** The bytes of the pieces, file by file, in order. */
  segments: Segment[];
}

/** A worker's answer: the pieces' hashes in order, or why they could not be read. */
export type HashAnswer =
  | { id: number; hashes: Uint8Array }
  | { id: number; error: string; path?: string };

/** About this many bytes make one task: large reads, few messages, progress that moves. */
const TASK_BYTES = 4 * 1024 * 1024;
/** Tasks queued at each worker, so it never waits for the next one. */
const IN_FLIGHT = 2;
/** Most workers started; a worker reads and hashes a core's worth. */
const MAX_WORKERS = 4;
/** Payloads below this are hashed on the calling thread unless workers are asked for. */
const SMALL_BYTES = 16 * 1024 * 1024;

/** A file that could not be read as hashing needed. */
export class FileHashingError extends Error {
  constructor(message: string, readonly path?: string) {
    super(message);
    this.name = "FileHashingError";
  }
}

/**
 * Reads the pieces of `task` one at a time into `buffer` (grown to a piece when smaller) and
 * returns the SHA-1 of each: a piece is hashed while it is still in the CPU's cache. Throws
 * `FileHashingError` when a file is shorter than it was (changed under us) or cannot be read.
 */
export function hashTask(task: HashTask, buffer: { bytes: Uint8Array }): Uint8Array {
  const L = task.pieceLength;
  if (buffer.bytes.length < L) buffer.bytes = new Uint8Array(L);
  const piece = buffer.bytes;
  const total = task.segments.reduce((n, s) => n + s.length, 0);
  const hashes = new Uint8Array(Math.ceil(total / L) * 20);
  let filled = 0, count = 0;
  const hashPiece = () => {
    hashes.set(sha1(piece.subarray(0, filled)), count++ * 20);
    filled = 0;
  };
  for (const s of task.segments) {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(s.path, { read: true });
    } catch (e) {
      throw new FileHashingError(`cannot read ${s.path}: ${reason(e)}`, s.path);
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
      throw new FileHashingError(`cannot read ${s.path}: ${reason(e)}`, s.path);
    } finally {
      file.close();
    }
  }
  if (filled > 0) hashPiece();
  return hashes;
}

function reason(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "no such file";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.IsADirectory) return "it is a folder";
  return e instanceof Error ? e.message : String(e);
}

/** Runs of whole pieces over `files`, `TASK_BYTES` or one piece each, made as they are asked. */
function* tasksOf(files: readonly FileSpan[], pieceLength: number): Generator<HashTask> {
  const perTask = Math.max(1, Math.floor(TASK_BYTES / pieceLength)) * pieceLength;
  let id = 0, file = 0, position = 0;
  for (;;) {
    const segments: Segment[] = [];
    let want = perTask;
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
    yield { id: id++, pieceLength, segments };
  }
}

/** The settings of {@link hashFiles}. */
export interface HashFilesOptions {
  /** Called after each run of pieces with the bytes hashed so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Worker threads; default: one per core, at most 4 (none below 16 MiB). 0 hashes on this
   * thread.
   */
  workers?: number;
}

/**
 * The SHA-1 of every `pieceLength` bytes of `files` laid end to end (the last piece may be
 * shorter), concatenated: a v1 torrent's `pieces`. Rejects with `FileHashingError` when a file
 * cannot be read or changed while hashing.
 *
 * @example
 * ```ts
 * import { hashFiles } from "./file_hashing.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/a`, new Uint8Array(40_000).fill(1));
 * await Deno.writeFile(`${dir}/b`, new Uint8Array(9_000).fill(2));
 * const files = [{ path: `${dir}/a`, length: 40_000 }, { path: `${dir}/b`, length: 9_000 }];
 * console.log((await hashFiles(files, 16384)).length); // 60 (three pieces)
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function hashFiles(
  files: readonly FileSpan[],
  pieceLength: number,
  options: HashFilesOptions = {},
): Promise<Uint8Array> {
  const total = files.reduce((n, f) => n + f.length, 0);
  const pieceCount = Math.ceil(total / pieceLength);
  const out = new Uint8Array(pieceCount * 20);
  const tasks = tasksOf(files, pieceLength);
  const perTask = Math.max(1, Math.floor(TASK_BYTES / pieceLength));
  let done = 0;
  const finished = (task: HashTask, hashes: Uint8Array) => {
    out.set(hashes, task.id * perTask * 20);
    done += task.segments.reduce((n, s) => n + s.length, 0);
    options.onProgress?.(done, total);
  };
  // A worker costs some 30 ms to start: small payloads hash faster on this thread.
  const byDefault = total < SMALL_BYTES
    ? 0
    : Math.min(navigator.hardwareConcurrency ?? 1, MAX_WORKERS);
  const wanted = Math.min(options.workers ?? byDefault, Math.ceil(total / TASK_BYTES));
  const workers = Array.from({ length: Math.max(0, wanted) }, () => new HashWorker());
  if (workers.length === 0) {
    const buffer = { bytes: new Uint8Array(0) };
    for (const task of tasks) finished(task, hashTask(task, buffer));
    return out;
  }
  try {
    await Promise.all(workers.map((w) => w.drain(tasks, finished)));
  } finally {
    for (const w of workers) w.worker.terminate();
  }
  return out;
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
