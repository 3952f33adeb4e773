/**
 * Seeded pseudo-random helpers shared by the tests, so fuzz failures name a reproducible case
 * and test payloads are the same on every run. Never use these for anything secret.
 *
 * @module
 */

/** A source of pseudo-random floats in [0, 1), as returned by {@link mulberry32}. */
export type Random = () => number;

/**
 * Seeded PRNG (mulberry32) returning floats in [0, 1). The same seed always yields the same
 * sequence, which fuzz tests rely on to reproduce a failing case.
 *
 * ```ts
 * import { mulberry32 } from "./random.ts";
 * const r = mulberry32(7);
 * const x = r();
 * if (!(x >= 0 && x < 1)) throw new Error("out of range");
 * ```
 */
export function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A pseudo-random integer in [0, n) drawn from `r` (one call of `r`), for picking indexes.
 *
 * ```ts
 * import { mulberry32, randomInt } from "./random.ts";
 * const i = randomInt(mulberry32(1), 10);
 * if (i < 0 || i >= 10) throw new Error("out of range");
 * ```
 */
export function randomInt(r: Random, n: number): number {
  return Math.floor(r() * n);
}

/**
 * `n` deterministic pseudo-random bytes from `seed` (xorshift32, low byte of each step): a cheap
 * payload generator for torrents whose content must be the same on every run. Seed 0 acts as 1.
 *
 * ```ts
 * import { xorshiftBytes } from "./random.ts";
 * const a = xorshiftBytes(16, 3);
 * if (a.length !== 16 || a[0] !== xorshiftBytes(1, 3)[0]) throw new Error("not deterministic");
 * ```
 */
export function xorshiftBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
