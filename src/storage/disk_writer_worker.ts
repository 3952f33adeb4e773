/**
 * The worker behind `DiskWriter`: performs writes with blocking calls, one request at a time in
 * arrival order (requests come and are answered in batches), keeping one handle per path until
 * told to forget it. It uses the `Deno` API only: loading `node:fs` here cost 8 MB more of
 * resident memory than the worker's other 16 MB.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { replacedFileError, type WriterReply, type WriterRequest } from "./disk_writer.ts";
import { errorCode } from "./error.ts";

/** An open file and where its offset stands (-1: unknown, after a failed write). */
interface Open {
  file: Deno.FsFile;
  offset: number;
}

const files = new Map<string, Open>();

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

/** The handle of `path`, opened on first use; it must be the inode the caller opened. */
function fileOf(path: string, ino: number, dev: number): Open {
  const known = files.get(path);
  if (known !== undefined) return known;
  const file = Deno.openSync(path, { read: true, write: true });
  const st = file.statSync();
  if (st.ino !== ino || st.dev !== dev) {
    file.close();
    throw replacedFileError();
  }
  const open = { file, offset: 0 };
  files.set(path, open);
  return open;
}

function handle(request: WriterRequest): void {
  if (request.op === "forget") {
    files.get(request.path)?.file.close();
    files.delete(request.path);
    return;
  }
  const open = fileOf(request.path, request.ino, request.dev);
  const { data, position } = request;
  // Pieces mostly arrive in runs (see PiecePicker.pick): a write that continues the last one
  // needs no seek, which saves a system call per piece.
  if (open.offset !== position) open.file.seekSync(position, Deno.SeekMode.Start);
  open.offset = -1;
  let done = 0;
  while (done < data.length) {
    const n = open.file.writeSync(data.subarray(done, done + WRITE_CHUNK));
    if (!(n > 0)) throw Object.assign(new Error("no bytes written"), { code: "ENOSPC" });
    done += n;
  }
  open.offset = position + done;
}

function answer(request: WriterRequest): WriterReply {
  try {
    handle(request);
    return { id: request.id };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return { id: request.id, error: { message, code: errorCode(e) } };
  }
}

self.onmessage = (event: MessageEvent<WriterRequest[]>) => {
  self.postMessage(event.data.map(answer));
};
