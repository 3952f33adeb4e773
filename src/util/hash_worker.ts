/**
 * The worker of `file_hashing.ts`: reads each run of pieces it is given and answers with their
 * SHA-1 hashes. One read buffer, reused; the hashes travel back without a copy.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { FileHashingError, type HashAnswer, type HashTask, hashTask } from "./file_hashing.ts";

const buffer = { bytes: new Uint8Array(0) };

self.onmessage = (event: MessageEvent<HashTask>) => {
  const task = event.data;
  let answer: HashAnswer;
  try {
    answer = { id: task.id, hashes: hashTask(task, buffer) };
  } catch (e) {
    answer = e instanceof FileHashingError
      ? { id: task.id, error: e.message, path: e.path }
      : { id: task.id, error: e instanceof Error ? e.message : String(e) };
  }
  if ("hashes" in answer) self.postMessage(answer, [answer.hashes.buffer as ArrayBuffer]);
  else self.postMessage(answer);
};
