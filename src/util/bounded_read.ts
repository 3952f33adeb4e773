/**
 * Reading a whole file that must be small (a .torrent, a record, a settings file): `stat`
 * alone cannot bound it, as a device or a pipe says 0 bytes and a file may grow while read.
 *
 * @module
 */

/**
 * The whole file at `path`, or `null` once it holds more than `max` bytes. Throws what opening
 * or reading throws (no such file, say).
 *
 * @example
 * ```ts
 * import { readFileAtMost } from "./bounded_read.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "hello");
 * console.log((await readFileAtMost(path, 5))?.length, await readFileAtMost(path, 4)); // 5 null
 * await Deno.remove(path);
 * ```
 */
export async function readFileAtMost(path: string, max: number): Promise<Uint8Array | null> {
  using file = await Deno.open(path, { read: true });
  const { size } = await file.stat();
  if (size > max) return null;
  // One byte past what it holds now, so its end shows in one read; more room if it grows.
  let out = new Uint8Array(size + 1);
  let at = 0;
  for (;;) {
    if (at === out.length) {
      const more = new Uint8Array(Math.min(max + 1, out.length * 2));
      more.set(out);
      out = more;
    }
    const n = await file.read(out.subarray(at));
    if (n === null) return out.subarray(0, at);
    at += n;
    if (at > max) return null;
  }
}
