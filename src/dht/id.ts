/**
 * 160-bit node ids and the Kademlia XOR metric (BEP 5): ids and info-hashes share one space,
 * and the distance between two of them is their XOR read as an unsigned integer.
 *
 * @module
 */
import { DhtError } from "./error.ts";

/** Length in bytes of a node id or info-hash. */
export const ID_LENGTH = 20;
/** Length in bits of a node id. */
export const ID_BITS = 160;

/**
 * A fresh random node id (from the platform's cryptographic random source, so ids are spread
 * evenly over the space as Kademlia assumes).
 *
 * @example
 * ```ts
 * import { randomNodeId } from "./id.ts";
 * console.log(randomNodeId().length); // 20
 * ```
 */
export function randomNodeId(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(ID_LENGTH));
}

/** Throws a {@link DhtError} unless `id` is exactly 20 bytes; `what` names it in the message. */
export function checkId(id: Uint8Array, what = "node id"): Uint8Array {
  if (!(id instanceof Uint8Array) || id.length !== ID_LENGTH) {
    throw new DhtError(`${what} must be ${ID_LENGTH} bytes`);
  }
  return id;
}

/**
 * Compares the distances of `a` and `b` to `target` without allocating: negative when `a` is
 * closer, positive when `b` is, 0 when they are equal (then `a` and `b` are the same id).
 *
 * @example
 * ```ts
 * import { compareDistance } from "./id.ts";
 * const t = new Uint8Array(20), a = new Uint8Array(20), b = new Uint8Array(20);
 * a[19] = 1;
 * b[0] = 1;
 * console.log(compareDistance(t, a, b) < 0); // true
 * ```
 */
export function compareDistance(target: Uint8Array, a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < ID_LENGTH; i++) {
    const da = a[i] ^ target[i], db = b[i] ^ target[i];
    if (da !== db) return da - db;
  }
  return 0;
}

/** The XOR distance of two ids as 20 bytes (big-endian unsigned integer). */
export function xorDistance(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(ID_LENGTH);
  for (let i = 0; i < ID_LENGTH; i++) out[i] = a[i] ^ b[i];
  return out;
}

/**
 * How many leading bits two ids share (0..160). A routing table puts a node in the bucket of
 * this number, counted against its own id.
 *
 * @example
 * ```ts
 * import { commonPrefixBits } from "./id.ts";
 * const a = new Uint8Array(20), b = new Uint8Array(20);
 * b[1] = 0x20; // bit 10 differs
 * console.log(commonPrefixBits(a, b)); // 10
 * ```
 */
export function commonPrefixBits(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < ID_LENGTH; i++) {
    const x = a[i] ^ b[i];
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return ID_BITS;
}

/**
 * A random id that shares exactly `bits` leading bits with `id` (then differs in the next bit),
 * or, with `atLeast`, at least `bits` leading bits. Used to pick lookup targets that refresh
 * one bucket of a routing table.
 */
export function randomIdWithPrefix(id: Uint8Array, bits: number, atLeast = false): Uint8Array {
  if (!Number.isInteger(bits) || bits < 0 || bits > ID_BITS) {
    throw new DhtError(`prefix length must be 0..${ID_BITS}`);
  }
  const out = randomNodeId();
  const whole = bits >>> 3, rest = bits & 7;
  out.set(id.subarray(0, whole));
  if (whole < ID_LENGTH) {
    if (rest > 0) {
      const mask = (0xff << (8 - rest)) & 0xff;
      out[whole] = (id[whole] & mask) | (out[whole] & ~mask & 0xff);
    }
    if (!atLeast) {
      const flip = 0x80 >>> rest;
      out[whole] = (out[whole] & ~flip & 0xff) | (~id[whole] & flip);
    }
  }
  return out;
}
