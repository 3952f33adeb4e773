/**
 * SHA-1 helpers. Where the C library's OpenSSL can be loaded (Linux, with `--allow-ffi`), its
 * `SHA1_Init`, `SHA1_Update` and `SHA1_Final` hash in place without allocating; elsewhere
 * `node:crypto` does. Both run at the CPU's speed, but a `node:crypto` hash object costs about
 * 3 µs and several allocations per call: at 16 KiB pieces that was 0.3-0.4 s of the main thread
 * per 100 000 pieces (measured). The one-shot `SHA1` would be one call instead of three, but in
 * OpenSSL 3 it sets up the provider machinery first, 2 MB more resident memory for no speed.
 *
 * @module
 */
import { openLinuxLibrary } from "./native.ts";

const LIBCRYPTO_SYMBOLS = {
  SHA1_Init: { parameters: ["buffer"], result: "i32" },
  SHA1_Update: { parameters: ["buffer", "buffer", "usize"], result: "i32" },
  SHA1_Final: { parameters: ["buffer", "buffer"], result: "i32" },
} as const;

/**
 * OpenSSL's low-level SHA-1 calls. Deno takes a number for a `usize` argument, though its types
 * ask for a bigint, which would be an allocation per call.
 */
interface NativeSha1 {
  SHA1_Init(context: Uint8Array): number;
  SHA1_Update(context: Uint8Array, data: Uint8Array, length: number): number;
  SHA1_Final(digest: Uint8Array, context: Uint8Array): number;
}

/** OpenSSL's SHA-1, or `null` where it cannot be had. */
const native = openLinuxLibrary(
  ["libcrypto.so.3", "libcrypto.so"],
  LIBCRYPTO_SYMBOLS,
) as unknown as NativeSha1 | null;
/** `node:crypto`, loaded only where OpenSSL is not (it costs each thread some 10 ms to load). */
const nodeCrypto = native === null ? await import("node:crypto") : null;

/** OpenSSL's `SHA_CTX` (96 bytes on 64-bit systems), with room to spare. */
const context = new Uint8Array(128);
/** Where `hashInto` leaves each digest before it is compared or copied out. */
const digest = new Uint8Array(20);

/** Hashes `data` (one chunk, or several in order) into `digest`. */
function hashInto(data: Uint8Array | readonly Uint8Array[]): void {
  const c = native;
  if (c === null) {
    const hash = nodeCrypto!.createHash("sha1");
    if (data instanceof Uint8Array) hash.update(data);
    else for (const chunk of data) hash.update(chunk);
    digest.set(hash.digest());
    return;
  }
  c.SHA1_Init(context);
  if (data instanceof Uint8Array) c.SHA1_Update(context, data, data.length);
  else for (const chunk of data) c.SHA1_Update(context, chunk, chunk.length);
  c.SHA1_Final(digest, context);
}

/** Which implementation hashes in this process. */
export function sha1Backend(): "openssl" | "node:crypto" {
  return native === null ? "node:crypto" : "openssl";
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
  hashInto(data);
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
 * import { concatBytes } from "./sha1.ts";
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
