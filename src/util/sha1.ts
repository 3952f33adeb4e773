/**
 * SHA-1 helpers. `node:crypto` hashes synchronously at well over 1 GB/s, which beats the
 * promise round-trip of `crypto.subtle` for 16 KiB–16 MiB pieces.
 *
 * @module
 */
import { createHash } from "node:crypto";

/**
 * SHA-1 digest of `data` (or of several chunks in order).
 *
 * @example
 * ```ts
 * import { sha1, toHex } from "./sha1.ts";
 * console.log(toHex(sha1(new TextEncoder().encode("abc"))));
 * // a9993e364706816aba3e25717850c26c9cd0d89d
 * ```
 */
export function sha1(...data: Uint8Array[]): Uint8Array {
  const h = createHash("sha1");
  for (const d of data) h.update(d);
  return new Uint8Array(h.digest());
}

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Bytes of a hex string; throws `RangeError` on odd length or non-hex characters. */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new RangeError("not hex");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** True when two byte arrays hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
