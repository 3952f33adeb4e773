/**
 * Text made fit for a log line: a remote party's (a tracker's message, a server's error), and
 * what an error says.
 *
 * @module
 */

/**
 * Text from a remote party made safe for one terminal line: no control chars, bounded length.
 *
 * @example
 * ```ts
 * import { oneLine } from "./text.ts";
 * console.log(oneLine("bad\n\x1b[31mnews", 8)); // "bad [31…"
 * ```
 */
export function oneLine(text: string, max = 300): string {
  // deno-lint-ignore no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, " ").trim();
  return clean.length > max ? clean.slice(0, max - 1) + "…" : clean;
}

/**
 * What a thrown value says: an `Error`'s message, anything else as text.
 *
 * @example
 * ```ts
 * import { messageOf } from "./text.ts";
 * console.log(messageOf(new Error("disk full")), messageOf("gone")); // disk full gone
 * ```
 */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
