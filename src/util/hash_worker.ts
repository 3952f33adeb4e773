/**
 * The worker of `file_hashing.ts`: takes runs of pieces from the job it is given until none is
 * left, hashing them into the job's shared memory, then says whether it stopped on an error.
 * One read buffer, reused.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { FileHashingError, type HashJob, hashNext, type WorkerOutcome } from "./file_hashing.ts";

self.onmessage = (event: MessageEvent<HashJob>) => {
  const buffer = { bytes: new Uint8Array(0) };
  let outcome: WorkerOutcome = {};
  try {
    while (hashNext(event.data, buffer));
  } catch (e) {
    outcome = e instanceof FileHashingError
      ? { error: e.message, path: e.path }
      : { error: e instanceof Error ? e.message : String(e) };
  }
  self.postMessage(outcome);
};
