/**
 * The worker behind `DiskWriter`: performs writes with blocking calls in arrival order (requests
 * come and are answered in batches; writes that continue each other go in one call), keeping one
 * handle per file until told to forget it. It uses the `Deno` API only: loading `node:fs` here
 * cost 8 MB more of resident memory than the worker's other 16 MB. For the same reason it reads
 * `util/os_error.ts` alone rather than util's face, which would cost 5 MB more.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import {
  OP_FIELDS,
  OP_FORGET,
  replacedFileError,
  type WriterAnswer,
  type WriterBatch,
} from "./disk_writer.ts";
import { errorCode } from "../util/os_error.ts";

/** A file the main thread named, opened on its first write. */
interface Target {
  path: string;
  ino: number | null;
  dev: number;
  file?: Deno.FsFile;
  /** Where the file's offset stands (-1: unknown, after a failed write). */
  offset: number;
}

const targets = new Map<number, Target>();

/**
 * Bytes per write call. Recent Linux kernels give ext4 page-cache folios sized by each write; on
 * a VM whose free memory goes back to its host (free page reporting), large folios from such
 * memory must be faulted in again by the host: 1 GiB written in 256 KiB calls cost 0.9-2.4 s of
 * kernel time, in 16 KiB calls 0.25-0.37 s (Firecracker, kernel 6.18). Since the flushes drop
 * written pages from the cache (`page_cache.ts`), writes land in memory just freed, and larger
 * calls cost less: the kernel time of a 1 GiB download was 0.54-0.76 s in 256 KiB calls and
 * 0.85-1.18 s in 16 KiB calls (8 runs each, same VM).
 */
const WRITE_CHUNK = 256 * 1024;

/** The open handle of `target`, opened on first use; it must be the inode the caller opened. */
function fileOf(target: Target): Deno.FsFile {
  if (target.file !== undefined) return target.file;
  const file = Deno.openSync(target.path, { read: true, write: true });
  const st = file.statSync();
  if (st.ino !== target.ino || st.dev !== target.dev) {
    file.close();
    throw replacedFileError();
  }
  return target.file = file;
}

function write(target: Target, data: Uint8Array, position: number): void {
  const file = fileOf(target);
  // Pieces mostly arrive in runs (see PiecePicker.pick): a write that continues the last one
  // needs no seek, which saves a system call per piece.
  if (target.offset !== position) file.seekSync(position, Deno.SeekMode.Start);
  target.offset = -1;
  let done = 0;
  while (done < data.length) {
    const n = file.writeSync(data.subarray(done, done + WRITE_CHUNK));
    if (!(n > 0)) throw Object.assign(new Error("no bytes written"), { code: "ENOSPC" });
    done += n;
  }
  target.offset = position + done;
}

/**
 * Where a run of small writes that continue each other in one file is gathered, so that it costs
 * one call: at 16 KiB pieces, which mostly arrive in runs, a call per piece was most of this
 * worker's time.
 */
const staging = new Uint8Array(WRITE_CHUNK);

/** Where the run of requests from `i` that one call can do ends: writes continuing each other. */
function runEnd(ops: Float64Array, i: number): number {
  let end = i + OP_FIELDS;
  if (ops[i] === OP_FORGET) return end;
  let length = ops[i + 4];
  while (
    end < ops.length && ops[end] !== OP_FORGET && ops[end + 1] === ops[i + 1] &&
    ops[end + 5] === ops[i + 5] + length && length + ops[end + 4] <= staging.length
  ) {
    length += ops[end + 4];
    end += OP_FIELDS;
  }
  return end;
}

function run({ files, buffers, ops }: WriterBatch): WriterAnswer {
  for (const { file, path, ino, dev } of files) targets.set(file, { path, ino, dev, offset: 0 });
  const errors: WriterAnswer["errors"] = [];
  const dataOf = (i: number) => new Uint8Array(buffers[ops[i + 2]], ops[i + 3], ops[i + 4]);
  for (let i = 0, end = 0; i < ops.length; i = end) {
    end = runEnd(ops, i);
    const target = targets.get(ops[i + 1])!;
    try {
      if (ops[i] === OP_FORGET) {
        target.file?.close();
        targets.delete(ops[i + 1]);
      } else if (end === i + OP_FIELDS) {
        write(target, dataOf(i), ops[i + 5]);
      } else {
        let at = 0;
        for (let j = i; j < end; j += OP_FIELDS) {
          staging.set(dataOf(j), at);
          at += ops[j + 4];
        }
        write(target, staging.subarray(0, at), ops[i + 5]);
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      for (let j = i; j < end; j += OP_FIELDS) {
        errors.push({ at: j / OP_FIELDS, message, code: errorCode(e) });
      }
    }
  }
  return { errors };
}

self.onmessage = (event: MessageEvent<WriterBatch>) => {
  self.postMessage(run(event.data));
};
