/**
 * Operating-system errors in words a user can act on ("disk full", "permission denied"), so no
 * runtime's wording (Deno's permission text, "os error 28") reaches the screen.
 *
 * @module
 */
/**
 * OS error code (`"ENOENT"`, ...) of an error from `Deno.*` or `node:fs`, if it has one.
 *
 * @example
 * ```ts
 * import { errorCode } from "./os_error.ts";
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
 * import { fsReason } from "./os_error.ts";
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
