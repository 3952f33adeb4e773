/**
 * File writes on a worker thread. In Deno 2, `node:fs` writes run on the main thread (the whole
 * copy into the page cache happens inside the call: 0.2–3 s per GiB on the machines measured),
 * and `Deno.FsFile.write` copies the buffer on the main thread and has no position, so each
 * write is a seek and a write, two trips to the blocking pool. One worker doing blocking seeks
 * and writes costs the main thread only a message per batch of writes, and none of the
 * bytes when they live in a `SharedArrayBuffer` (as the session's piece buffers do); other
 * buffers are copied once, when the write is asked for.
 *
 * The worker is shared by the whole process, started by the first write and ended when the last
 * user releases it, since an idle worker would keep the process alive.
 *
 * @module
 */

/**
 * One batch of requests, as posted to the worker. Requests are numbers, `OP_FIELDS` each, so a
 * batch costs one typed array to pass however many writes it holds (objects cost about 3 µs per
 * write to serialize and 2 µs to read back, at 16 KiB pieces 0.5 s per 100 000 pieces).
 */
export interface WriterBatch {
  /** Files named here for the first time: their id, path and the inode and device opened. */
  files: { file: number; path: string; ino: number | null; dev: number }[];
  /** The memory the writes read; each write names one by its index here. */
  buffers: (SharedArrayBuffer | ArrayBuffer)[];
  /** Requests in order: `[op, file, buffer, offset, length, position]` each. */
  ops: Float64Array;
}

/** Numbers per request in `WriterBatch.ops`. */
export const OP_FIELDS = 6;
/** Request kinds: write `length` bytes of a buffer, or close the file and drop its id. */
export const OP_WRITE = 0;
export const OP_FORGET = 1;

/** The worker's answer to a batch: the requests that failed, by their place in it. */
export interface WriterAnswer {
  errors: { at: number; message: string; code?: string }[];
}

type Pending = { resolve: () => void; reject: (e: Error) => void };

/**
 * The error for a path that is a symbolic link, or no longer the file that was opened: writes
 * never follow it.
 */
export function replacedFileError(): Error {
  return Object.assign(new Error("it is a symbolic link or was replaced while open"), {
    code: "ELOOP",
  });
}

let shared: DiskWriter | null = null;

/**
 * While the worker is idle, a batch is posted once it carries this many bytes, or
 * `BATCH_DELAY_MS` after its first request; while it is busy, requests wait until it answers
 * and then go as one batch. Each message costs both threads a wake-up (28 µs of the main
 * thread's time per message where that was measured, 100-270 µs on a VM where waking another
 * CPU is dear): a piece per message was a tenth of the download loop's time at 256 KiB pieces.
 */
const BATCH_BYTES = 1 << 20;
const BATCH_DELAY_MS = 3;

/**
 * Positional writes done by a worker thread, in the order they were asked for.
 *
 * @example
 * ```ts
 * import { DiskWriter } from "./disk_writer.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/a`, new Uint8Array(0));
 * const { ino, dev } = await Deno.stat(`${dir}/a`);
 * const writer = DiskWriter.acquire();
 * await writer.write(`${dir}/a`, ino, dev, new Uint8Array([1, 2, 3]), 2);
 * await writer.forget(`${dir}/a`);
 * writer.release();
 * console.log(await Deno.readFile(`${dir}/a`)); // Uint8Array(5) [ 0, 0, 1, 2, 3 ]
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class DiskWriter {
  #worker: Worker | null = null;
  #users = 0;
  /** The id each path's writes go to, from its first write until `forget`. */
  readonly #fileIds = new Map<string, number>();
  #nextFileId = 1;
  /** The batch being gathered, and the callers waiting on its requests, in order. */
  #batch = new BatchBuilder();
  #waiting: Pending[] = [];
  #batchTimer: ReturnType<typeof setTimeout> | undefined;
  /** The callers waiting on the batch the worker has; set from posting it until it answers. */
  #posted: Pending[] | null = null;

  private constructor() {}

  /** The process's writer, with one more user; each `acquire` needs one `release`. */
  static acquire(): DiskWriter {
    shared ??= new DiskWriter();
    shared.#users++;
    return shared;
  }

  /** Drops one user; the last one ends the worker (after answers still owed, which fail). */
  release(): void {
    if (--this.#users > 0) return;
    this.#stop(new Error("disk writer stopped"));
    if (shared === this) shared = null;
  }

  /**
   * Writes all of `data` at `position` of the file at `path`, which must still be inode `ino` of
   * device `dev`. A `data` over a `SharedArrayBuffer` must stay unchanged until this settles.
   * Rejects with an `Error` carrying the OS `code` (`ENOSPC`, ...).
   */
  write(path: string, ino: number | null, dev: number, data: Uint8Array, position: number) {
    if (this.#users === 0) return Promise.reject(new Error("disk writer not acquired"));
    let file = this.#fileIds.get(path);
    if (file === undefined) {
      file = this.#nextFileId++;
      this.#fileIds.set(path, file);
      this.#batch.files.push({ file, path, ino, dev });
    }
    this.#batch.write(file, data, position);
    return this.#queued();
  }

  /** Closes the worker's descriptor of `path`, after the writes asked for before. */
  forget(path: string): Promise<void> {
    const file = this.#fileIds.get(path);
    if (file === undefined) return Promise.resolve();
    this.#fileIds.delete(path);
    this.#batch.forget(file);
    return this.#queued();
  }

  /** The promise of the request just added to the batch; posts the batch when it is due. */
  #queued(): Promise<void> {
    this.#worker ??= this.#start();
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      if (this.#posted !== null) return;
      if (this.#batch.bytes >= BATCH_BYTES) this.#post();
      else this.#batchTimer ??= setTimeout(() => this.#post(), BATCH_DELAY_MS);
    });
  }

  /** Posts the requests waiting as one message. */
  #post(): void {
    clearTimeout(this.#batchTimer);
    this.#batchTimer = undefined;
    if (this.#posted !== null || this.#worker === null || this.#waiting.length === 0) return;
    const { batch, transfer } = this.#batch.finish();
    this.#batch = new BatchBuilder();
    this.#posted = this.#waiting;
    this.#waiting = [];
    this.#worker.postMessage(batch, transfer);
  }

  #start(): Worker {
    const worker = new Worker(new URL("./disk_writer_worker.ts", import.meta.url), {
      type: "module",
    });
    worker.onmessage = (event: MessageEvent<WriterAnswer>) => {
      const answered = this.#posted ?? [];
      this.#posted = null;
      this.#post();
      const failed = new Map(event.data.errors.map((e) => [e.at, e]));
      for (let at = 0; at < answered.length; at++) {
        const error = failed.get(at);
        if (!error) answered[at].resolve();
        else answered[at].reject(Object.assign(new Error(error.message), { code: error.code }));
      }
    };
    worker.onerror = (event) => {
      event.preventDefault();
      this.#stop(new Error(`disk writer failed: ${event.message}`));
    };
    return worker;
  }

  /** Ends the worker; writes not answered yet fail with `reason`. */
  #stop(reason: Error): void {
    this.#worker?.terminate();
    this.#worker = null;
    clearTimeout(this.#batchTimer);
    this.#batchTimer = undefined;
    const owed = [...(this.#posted ?? []), ...this.#waiting];
    this.#posted = null;
    this.#waiting = [];
    this.#batch = new BatchBuilder();
    this.#fileIds.clear();
    for (const p of owed) p.reject(reason);
  }
}

/** Gathers requests into a `WriterBatch`, naming each buffer once. */
class BatchBuilder {
  readonly files: WriterBatch["files"] = [];
  readonly #buffers: (SharedArrayBuffer | ArrayBuffer)[] = [];
  readonly #bufferIndex = new Map<ArrayBufferLike, number>();
  /** Copies of unshared data: handed over to the worker rather than copied again. */
  readonly #transfer: ArrayBuffer[] = [];
  readonly #ops: number[] = [];
  bytes = 0;

  /** Adds a write; shared memory is read where it is, anything else is copied now. */
  write(file: number, data: Uint8Array, position: number): void {
    const shared = data.buffer instanceof SharedArrayBuffer;
    const bytes = shared ? data : data.slice();
    let buffer = this.#bufferIndex.get(bytes.buffer);
    if (buffer === undefined) {
      buffer = this.#buffers.push(bytes.buffer) - 1;
      this.#bufferIndex.set(bytes.buffer, buffer);
      if (!shared) this.#transfer.push(bytes.buffer as ArrayBuffer);
    }
    this.#ops.push(OP_WRITE, file, buffer, bytes.byteOffset, bytes.length, position);
    this.bytes += bytes.length;
  }

  forget(file: number): void {
    this.#ops.push(OP_FORGET, file, 0, 0, 0, 0);
  }

  finish(): { batch: WriterBatch; transfer: Transferable[] } {
    const ops = Float64Array.from(this.#ops);
    const batch = { files: this.files, buffers: this.#buffers, ops };
    return { batch, transfer: [ops.buffer, ...this.#transfer] };
  }
}
