/**
 * The worker behind `DiskWriter`: performs positional writes with blocking `pwrite` calls, one
 * request at a time in arrival order, keeping one descriptor per path until told to forget it.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import * as fs from "node:fs";
import type { WriterReply, WriterRequest } from "./disk_writer.ts";

const NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;
const descriptors = new Map<string, number>();

/** The descriptor of `path`, opened on first use; it must be the inode the caller opened. */
function descriptor(path: string, ino: number, dev: number): number {
  const known = descriptors.get(path);
  if (known !== undefined) return known;
  const fd = fs.openSync(path, fs.constants.O_RDWR | NOFOLLOW);
  const st = fs.fstatSync(fd);
  if (st.ino !== ino || st.dev !== dev) {
    fs.closeSync(fd);
    throw Object.assign(new Error("it is a symbolic link or was replaced while open"), {
      code: "ELOOP",
    });
  }
  descriptors.set(path, fd);
  return fd;
}

function handle(request: WriterRequest): void {
  if (request.op === "forget") {
    const fd = descriptors.get(request.path);
    descriptors.delete(request.path);
    if (fd !== undefined) fs.closeSync(fd);
    return;
  }
  const fd = descriptor(request.path, request.ino, request.dev);
  const { data, position } = request;
  let done = 0;
  while (done < data.length) {
    const n = fs.writeSync(fd, data, done, data.length - done, position + done);
    if (!(n > 0)) throw Object.assign(new Error("no bytes written"), { code: "ENOSPC" });
    done += n;
  }
}

self.onmessage = (event: MessageEvent<WriterRequest>) => {
  const request = event.data;
  let reply: WriterReply;
  try {
    handle(request);
    reply = { id: request.id };
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    reply = {
      id: request.id,
      error: {
        message: e instanceof Error ? e.message : String(e),
        code: typeof code === "string" ? code : undefined,
      },
    };
  }
  self.postMessage(reply);
};
