/**
 * The storage domain's error type, and the translation of operating-system errors into words a
 * user can act on, so no runtime's wording (Deno's permission text, "os error 28") reaches the
 * screen.
 *
 * @module
 */
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
 * OS error code (`"ENOENT"`, ...) of an error from `Deno.*` or `node:fs`, if it has one.
 *
 * @example
 * ```ts
 * import { errorCode } from "./error.ts";
 * console.log(errorCode(new Deno.errors.NotFound("gone"))); // ENOENT
 * ```
 */
export function errorCode(e: unknown): string | undefined {
  if (typeof e !== "object" || e === null) return undefined;
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string") return code;
  if (e instanceof Deno.errors.NotFound) return "ENOENT";
  if (e instanceof Deno.errors.PermissionDenied) return "EACCES";
  // Deno's own refusal (its sandbox keeps /proc, /sys and /dev for --allow-all).
  if (e instanceof Deno.errors.NotCapable) return "EPERM";
  if (e instanceof Deno.errors.AlreadyExists) return "EEXIST";
  if (e instanceof Deno.errors.NotADirectory) return "ENOTDIR";
  if (e instanceof Deno.errors.IsADirectory) return "EISDIR";
  return undefined;
}

/**
 * A few words for what an OS error means, e.g. "disk full" or "permission denied"; the first
 * line of the message for errors it does not know.
 *
 * @example
 * ```ts
 * import { fsReason } from "./error.ts";
 * console.log(fsReason(new Deno.errors.NotFound("No such file (os error 2)"))); // no such file or folder
 * ```
 */
export function fsReason(e: unknown): string {
  switch (errorCode(e)) {
    case "ENOSPC":
      return "disk full";
    case "EDQUOT":
      return "disk quota exceeded";
    case "EROFS":
      return "read-only file system";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ENOENT":
      return "no such file or folder";
    case "ENOTDIR":
      return "a part of the path is a file, not a folder";
    case "EISDIR":
      return "it is a folder, not a file";
    case "EEXIST":
      return "something else already exists there";
    case "ELOOP":
      return "too many symbolic links, or a symbolic link where a file was expected";
    case "ENAMETOOLONG":
      return "file name too long";
    case "EFBIG":
      return "file too large for this file system";
    case "EMFILE":
    case "ENFILE":
      return "too many open files";
    case "EIO":
      return "input/output error (failing disk?)";
    default:
      return e instanceof Error ? e.message.split("\n")[0] : String(e);
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
