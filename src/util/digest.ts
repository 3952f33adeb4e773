/**
 * SHA-1 (v1 pieces, info-hashes, MSE) and SHA-256 (v2 merkle trees and info-hashes). Where the C
 * library's OpenSSL can be loaded (Linux, with `--allow-ffi`), its low-level `Init`, `Update`
 * and `Final` calls hash in place without allocating; elsewhere `node:crypto` does. Both run at
 * the CPU's speed, but a `node:crypto` hash object costs about 3 µs and several allocations per
 * call: at 16 KiB pieces that was 0.3-0.4 s of the main thread per 100 000 pieces (measured), and
 * a v2 piece takes two hashes per 16 KiB. The one-shot `SHA1`/`SHA256` would be one call instead
 * of three, but in OpenSSL 3 they set up the provider machinery first: 2 MB more resident memory,
 * and slower on 64-byte tree nodes (measured).
 *
 * @module
 */
import { openLinuxLibrary } from "./native.ts";

const LIBCRYPTO = ["libcrypto.so.3", "libcrypto.so"];
const SHA1_SYMBOLS = {
  SHA1_Init: { parameters: ["buffer"], result: "i32" },
  SHA1_Update: { parameters: ["buffer", "buffer", "usize"], result: "i32" },
  SHA1_Final: { parameters: ["buffer", "buffer"], result: "i32" },
} as const;
const SHA256_SYMBOLS = {
  SHA256_Init: { parameters: ["buffer"], result: "i32" },
  SHA256_Update: { parameters: ["buffer", "buffer", "usize"], result: "i32" },
  SHA256_Final: { parameters: ["buffer", "buffer"], result: "i32" },
} as const;

/**
 * One OpenSSL hash's low-level calls. Deno takes a number for a `usize` argument, though its
 * types ask for a bigint, which would be an allocation per call.
 */
interface NativeHash {
  init(context: Uint8Array): number;
  update(context: Uint8Array, data: Uint8Array, length: number): number;
  final(digest: Uint8Array, context: Uint8Array): number;
}

/** An OpenSSL call as `NativeHash` uses it. */
type NativeCall = (...args: (Uint8Array | number)[]) => number;

/** OpenSSL's SHA-1 calls, or `null` where they cannot be had: then none of OpenSSL is used. */
const native = openLinuxLibrary(LIBCRYPTO, SHA1_SYMBOLS) as unknown as
  | Record<keyof typeof SHA1_SYMBOLS, NativeCall>
  | null;
/** `node:crypto`, loaded only where OpenSSL is not (it costs each thread some 10 ms to load). */
const nodeCrypto = native === null ? await import("node:crypto") : null;

/** A hash function with one context and one digest buffer, reused from call to call. */
class Digest {
  /** Room for OpenSSL's `SHA_CTX` (96 bytes) or `SHA256_CTX` (112), with some to spare. */
  readonly #context = new Uint8Array(128);
  /** Where each digest lands; valid until the next call. */
  readonly digest: Uint8Array;
  /** OpenSSL's calls once bound, `null` where `node:crypto` hashes. */
  #calls: NativeHash | null | undefined;

  /** `bind` gives OpenSSL's calls, or `null` where OpenSSL is not used; called at the first hash. */
  constructor(
    readonly name: "sha1" | "sha256",
    size: number,
    private readonly bind: () => NativeHash | null,
  ) {
    this.digest = new Uint8Array(size);
  }

  /** Hashes `data` (one chunk, or several in order) into `digest`, and returns it. */
  run(data: Uint8Array | readonly Uint8Array[]): Uint8Array {
    if (this.#calls === undefined) this.#calls = this.bind();
    const c = this.#calls;
    if (c === null) {
      const hash = nodeCrypto!.createHash(this.name);
      if (data instanceof Uint8Array) hash.update(data);
      else for (const chunk of data) hash.update(chunk);
      this.digest.set(hash.digest());
    } else {
      c.init(this.#context);
      if (data instanceof Uint8Array) c.update(this.#context, data, data.length);
      else for (const chunk of data) c.update(this.#context, chunk, chunk.length);
      c.final(this.digest, this.#context);
    }
    return this.digest;
  }

  /** True when the digest of `data` is the bytes of `table` at `at`. */
  matches(data: Uint8Array, table: Uint8Array, at: number): boolean {
    const size = this.digest.length;
    if (at < 0 || at + size > table.length) return false;
    const digest = this.run(data);
    for (let i = 0; i < size; i++) if (digest[i] !== table[at + i]) return false;
    return true;
  }
}

const SHA1 = new Digest("sha1", 20, () =>
  native && {
    init: native.SHA1_Init,
    update: native.SHA1_Update,
    final: native.SHA1_Final,
  });
/**
 * SHA-256's calls are bound at its first use: binding a call costs a thread some 0.2 ms as it
 * starts, and much of the work (v1 pieces, MSE, the DHT) never asks for SHA-256.
 */
const SHA256 = new Digest("sha256", 32, () => {
  if (native === null) return null;
  const calls = openLinuxLibrary(LIBCRYPTO, SHA256_SYMBOLS) as unknown as
    | Record<keyof typeof SHA256_SYMBOLS, NativeCall>
    | null;
  if (calls === null) throw new Error("this libcrypto has SHA-1 but not SHA-256");
  return { init: calls.SHA256_Init, update: calls.SHA256_Update, final: calls.SHA256_Final };
});

/** Which implementation hashes in this process. */
export function digestBackend(): "openssl" | "node:crypto" {
  return native === null ? "node:crypto" : "openssl";
}

/**
 * SHA-1 digest of `data` (or of several chunks in order).
 *
 * @example
 * ```ts
 * import { sha1 } from "./digest.ts";
 * import { toHex } from "./bytes.ts";
 * console.log(toHex(sha1(new TextEncoder().encode("abc"))));
 * // a9993e364706816aba3e25717850c26c9cd0d89d
 * ```
 */
export function sha1(...data: Uint8Array[]): Uint8Array {
  return SHA1.run(data).slice();
}

/**
 * True when the SHA-1 of `data` is the 20 bytes of `hashes` at `at` (a piece's entry in a
 * torrent's piece list); allocates nothing where OpenSSL hashes.
 *
 * @example
 * ```ts
 * import { sha1, sha1Matches } from "./digest.ts";
 * const piece = new Uint8Array([1, 2, 3]);
 * const hashes = new Uint8Array([...new Uint8Array(20), ...sha1(piece)]);
 * console.log(sha1Matches(piece, hashes, 20), sha1Matches(piece, hashes, 0)); // true false
 * ```
 */
export function sha1Matches(data: Uint8Array, hashes: Uint8Array, at: number): boolean {
  return SHA1.matches(data, hashes, at);
}

/**
 * SHA-256 digest of `data` (or of several chunks in order).
 *
 * @example
 * ```ts
 * import { sha256 } from "./digest.ts";
 * import { toHex } from "./bytes.ts";
 * console.log(toHex(sha256(new TextEncoder().encode("abc"))).slice(0, 16)); // ba7816bf8f01cfea
 * ```
 */
export function sha256(...data: Uint8Array[]): Uint8Array {
  return SHA256.run(data).slice();
}

/**
 * Writes the SHA-256 of `data` into `out` at `at`, allocating nothing where OpenSSL hashes: a
 * merkle tree is built of many small hashes, each stored beside its siblings.
 *
 * @example
 * ```ts
 * import { sha256, sha256Into } from "./digest.ts";
 * const out = new Uint8Array(64);
 * sha256Into(new Uint8Array([1]), out, 32);
 * console.log(out.subarray(32).join() === sha256(new Uint8Array([1])).join()); // true
 * ```
 */
export function sha256Into(data: Uint8Array, out: Uint8Array, at: number): void {
  out.set(SHA256.run(data), at);
}
