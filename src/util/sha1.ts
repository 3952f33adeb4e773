/**
 * SHA-1 helpers. Where the C library's OpenSSL can be loaded (Linux, with `--allow-ffi`), its
 * one-shot `SHA1` hashes in place without allocating; elsewhere `node:crypto` does. Both run at
 * the CPU's speed, but a `node:crypto` hash object costs about 3 µs and several allocations per
 * call: at 16 KiB pieces that was 0.3-0.4 s of the main thread per 100 000 pieces (measured).
 *
 * @module
 */
import { createHash } from "node:crypto";

const LIBCRYPTO_SYMBOLS = {
  SHA1: { parameters: ["buffer", "usize", "buffer"], result: "pointer" },
} as const;

/**
 * `SHA1(data, length, digest)`. Deno takes a number for a `usize` argument, though its types ask
 * for a bigint, which would be an allocation per call.
 */
type NativeSha1 = (data: Uint8Array, length: number, digest: Uint8Array) => unknown;

/** OpenSSL's `SHA1`, or `null` where it cannot be had. Loaded on first use. */
let native: NativeSha1 | null | undefined;

function loadNative(): NativeSha1 | null {
  if (Deno.build.os !== "linux") return null;
  // Asked without a prompt: a run without --allow-ffi hashes with node:crypto.
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
  for (const name of ["libcrypto.so.3", "libcrypto.so"]) {
    try {
      return Deno.dlopen(name, LIBCRYPTO_SYMBOLS).symbols.SHA1 as unknown as NativeSha1;
    } catch {
      // Not installed under this name.
    }
  }
  return null;
}

/** Where `hashInto` leaves each digest before it is compared or copied out. */
const digest = new Uint8Array(20);

/** Hashes `data` into `digest`. */
function hashInto(data: Uint8Array): void {
  const sha1 = native ??= loadNative();
  if (sha1 !== null) sha1(data, data.length, digest);
  else digest.set(createHash("sha1").update(data).digest());
}

/** Which implementation hashes in this process. */
export function sha1Backend(): "openssl" | "node:crypto" {
  return (native ??= loadNative()) === null ? "node:crypto" : "openssl";
}

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
  hashInto(data.length === 1 ? data[0] : concat(data));
  return digest.slice();
}

/**
 * True when the SHA-1 of `data` is the 20 bytes of `hashes` at `at` (a piece's entry in a
 * torrent's piece list); allocates nothing where OpenSSL hashes.
 *
 * @example
 * ```ts
 * import { sha1, sha1Matches } from "./sha1.ts";
 * const piece = new Uint8Array([1, 2, 3]);
 * const hashes = new Uint8Array([...new Uint8Array(20), ...sha1(piece)]);
 * console.log(sha1Matches(piece, hashes, 20), sha1Matches(piece, hashes, 0)); // true false
 * ```
 */
export function sha1Matches(data: Uint8Array, hashes: Uint8Array, at: number): boolean {
  if (at < 0 || at + 20 > hashes.length) return false;
  hashInto(data);
  for (let i = 0; i < 20; i++) if (digest[i] !== hashes[at + i]) return false;
  return true;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
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
