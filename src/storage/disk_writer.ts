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

/** A message to the worker. */
export type WriterRequest =
  | {
    id: number;
    op: "write";
    path: string;
    /** Inode and device the caller opened: the worker refuses to write to any other file. */
    ino: number;
    dev: number;
    data: Uint8Array;
    position: number;
  }
  | { id: number; op: "forget"; path: string };

/** The worker's answer to request `id` (answers travel in arrays, one per batch). */
export interface WriterReply {
  id: number;
  error?: { message: string; code?: string };
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
 * await writer.write(`${dir}/a`, ino!, dev, new Uint8Array([1, 2, 3]), 2);
 * await writer.forget(`${dir}/a`);
 * writer.release();
 * console.log(await Deno.readFile(`${dir}/a`)); // Uint8Array(5) [ 0, 0, 1, 2, 3 ]
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class DiskWriter {
  #worker: Worker | null = null;
  #users = 0;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  /** Requests not posted yet, and the bytes they write: one message carries them all. */
  #batch: WriterRequest[] = [];
  #batchBytes = 0;
  #batchTimer: ReturnType<typeof setTimeout> | undefined;
  /** True from posting a batch until the worker answers it: the next batch waits meanwhile. */
  #busy = false;

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
  write(path: string, ino: number, dev: number, data: Uint8Array, position: number) {
    // Shared memory is read where it is; anything else is copied now, as the caller may reuse it.
    const bytes = data.buffer instanceof SharedArrayBuffer ? data : data.slice();
    return this.#call({ id: 0, op: "write", path, ino, dev, data: bytes, position });
  }

  /** Closes the worker's descriptor of `path`, after the writes asked for before. */
  forget(path: string): Promise<void> {
    if (this.#worker === null) return Promise.resolve();
    return this.#call({ id: 0, op: "forget", path });
  }

  /** Queues `request` (built by the caller for this call; its `id` is set here). */
  #call(request: WriterRequest): Promise<void> {
    if (this.#users === 0) return Promise.reject(new Error("disk writer not acquired"));
    this.#worker ??= this.#start();
    const id = this.#nextId++;
    request.id = id;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#batch.push(request);
      if (request.op === "write") this.#batchBytes += request.data.length;
      if (this.#busy) return;
      if (this.#batchBytes >= BATCH_BYTES) this.#post();
      else this.#batchTimer ??= setTimeout(() => this.#post(), BATCH_DELAY_MS);
    });
  }

  /** Posts the requests waiting as one message. */
  #post(): void {
    if (this.#busy || this.#worker === null || this.#batch.length === 0) return;
    this.#busy = true;
    this.#worker.postMessage(this.#takeBatch());
  }

  #takeBatch(): WriterRequest[] {
    clearTimeout(this.#batchTimer);
    this.#batchTimer = undefined;
    const batch = this.#batch;
    this.#batch = [];
    this.#batchBytes = 0;
    return batch;
  }

  #start(): Worker {
    const worker = new Worker(new URL("./disk_writer_worker.ts", import.meta.url), {
      type: "module",
    });
    worker.onmessage = (event: MessageEvent<WriterReply[]>) => {
      this.#busy = false;
      this.#post();
      for (const { id, error } of event.data) {
        const pending = this.#pending.get(id);
        if (!pending) continue;
        this.#pending.delete(id);
        if (!error) pending.resolve();
        else pending.reject(Object.assign(new Error(error.message), { code: error.code }));
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
    this.#busy = false;
    this.#takeBatch();
    for (const p of this.#pending.values()) p.reject(reason);
    this.#pending.clear();
  }
}
