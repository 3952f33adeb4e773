/**
 * Replacing a file whole. A state file (a resume record, a torrent's record, the settings)
 * written in place is half old and half new if the process dies mid-write; written beside it
 * and renamed over it, any reader, and any restart after a crash or `kill -9`, sees one or the
 * other, whole.
 *
 * @module
 */

/** How `writeFileAtomic` writes. */
export interface AtomicWriteOptions {
  /**
   * Flush the data to the disk before the rename, so a power cut cannot leave an empty file
   * under the name (what the disk cache held is lost then). Costs a disk round trip.
   */
  sync?: boolean;
  /** The new file's permissions (before the umask); 0o666 by default. */
  mode?: number;
}

/**
 * Writes `data` to `path` through a temporary file in the same folder (which must exist),
 * renamed over `path` once written. On failure the temporary file is removed, `path` is as it
 * was, and the error is thrown.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic_file.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/state.json`, '{"a":1}\n', { sync: true });
 * console.log(await Deno.readTextFile(`${dir}/state.json`)); // {"a":1}
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const temporary = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    const file = await Deno.open(temporary, {
      write: true,
      createNew: true,
      mode: options.mode ?? 0o666,
    });
    try {
      let at = 0;
      while (at < bytes.length) at += await file.write(bytes.subarray(at));
      if (options.sync) await file.syncData();
    } finally {
      file.close();
    }
    await Deno.rename(temporary, path);
  } catch (e) {
    await Deno.remove(temporary).catch(() => {});
    throw e;
  }
}
