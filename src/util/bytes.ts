/**
 * Byte-array helpers: hex both ways, concatenation, equality.
 *
 * @module
 */

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

/**
 * The bytes of all parts, in order, in one new array.
 *
 * @example
 * ```ts
 * import { concatBytes } from "./bytes.ts";
 * console.log(concatBytes(new Uint8Array([1]), new Uint8Array([2, 3]))); // Uint8Array(3) [ 1, 2, 3 ]
 * ```
 */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** True when two byte arrays hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Standard base64 (with padding) of `bytes`, a slice at a time so large inputs do not overflow
 * the call stack.
 *
 * @example
 * ```ts
 * import { decodeBase64, encodeBase64 } from "./bytes.ts";
 * console.log(encodeBase64(new Uint8Array([1, 2, 3])), decodeBase64("AQID")); // AQID Uint8Array(3) [ 1, 2, 3 ]
 * console.log(decodeBase64("not base64!")); // undefined
 * ```
 */
export function encodeBase64(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 0x6000) {
    out += btoa(String.fromCharCode(...bytes.subarray(i, i + 0x6000)));
  }
  return out;
}

/** The bytes of standard base64 `text`; `undefined` when it is not that. */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (!BASE64.test(text)) return undefined;
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
