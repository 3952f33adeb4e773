/**
 * The storage domain's error type: what failed, on which path, in words a user can act on.
 *
 * @module
 */
import { errorCode, fsReason } from "../util/mod.ts";

/**
 * Raised when the output folder or a file in it cannot be created, read or written, when a path
 * would leave the output folder, and when a read or write is out of bounds. The message is one
 * line meant for the end user; `code` keeps the OS error code (e.g. `"ENOSPC"`) when there was
 * one, so callers can tell a full disk from a bad request.
 *
 * @example
 * ```ts
 * import { StorageError } from "./error.ts";
 * const e = new StorageError("cannot write /x/a.bin: disk full", "ENOSPC");
 * console.log(e.message, e.code); // cannot write /x/a.bin: disk full ENOSPC
 * ```
 */
export class StorageError extends Error {
  /** OS error code behind this error, if any (`"ENOSPC"`, `"EROFS"`, `"EACCES"`, ...). */
  readonly code?: string;
  constructor(message: string, code?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StorageError";
    if (code !== undefined) this.code = code;
  }
}

/**
 * Turns an OS error into a `StorageError` saying what failed on which path. `action` is a verb
 * phrase such as "write" or "create folder".
 *
 * @example
 * ```ts
 * import { fsError } from "./error.ts";
 * const e = fsError(Object.assign(new Error("ENOSPC"), { code: "ENOSPC" }), "write", "/x/a.bin");
 * console.log(e.message); // cannot write /x/a.bin: disk full
 * ```
 */
export function fsError(e: unknown, action: string, path: string): StorageError {
  if (e instanceof StorageError) return e;
  return new StorageError(`cannot ${action} ${path}: ${fsReason(e)}`, errorCode(e), { cause: e });
}
