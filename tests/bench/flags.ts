/**
 * Checking the benchmarks' numeric and list flags: a bad one is a `BenchError` naming the flag.
 *
 * @module
 */
import { BenchError } from "./proc.ts";

/**
 * `v` as a whole number from `min` to `max`; undefined when the flag was not given.
 *
 * @example
 * ```ts
 * import { intFlag } from "./flags.ts";
 * console.log(intFlag("3", "runs", 1, 10), intFlag(undefined, "runs", 1, 10)); // 3 undefined
 * ```
 */
export function intFlag(
  v: string | undefined,
  name: string,
  min: number,
  max: number,
): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new BenchError(`--${name} must be an integer from ${min} to ${max}`);
  }
  return n;
}

/**
 * `v` as a comma-separated choice among `all`, each once; undefined when the flag was not given.
 *
 * @example
 * ```ts
 * import { listFlag } from "./flags.ts";
 * console.log(listFlag("b, a", ["a", "b", "c"], "clients")); // [ "b", "a" ]
 * ```
 */
export function listFlag<T extends string>(
  v: string | undefined,
  all: readonly T[],
  name: string,
): T[] | undefined {
  if (v === undefined) return undefined;
  const items = v.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const item of items) {
    if (!(all as readonly string[]).includes(item)) {
      throw new BenchError(`--${name}: unknown "${item}" (choose from ${all.join(", ")})`);
    }
  }
  if (items.length === 0) throw new BenchError(`--${name} is empty`);
  return [...new Set(items)] as T[];
}
