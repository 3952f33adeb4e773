/**
 * Minimal assertions for the test suite (the `@std/assert` package cannot be fetched here).
 *
 * @module
 */

/** Thrown when an assertion fails. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

/** Fails unless `condition` is truthy. */
export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new AssertionError(message);
}

function show(v: unknown): string {
  if (v instanceof Uint8Array) {
    const head = Array.from(v.subarray(0, 32)).join(",");
    return `Uint8Array(${v.length})[${head}${v.length > 32 ? ",..." : ""}]`;
  }
  try {
    return Deno.inspect(v, { depth: 6, colors: false });
  } catch {
    return String(v);
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    if (x.length !== y.length || a.constructor !== b.constructor) return false;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  }
  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !deepEqual(v, b.get(k))) return false;
    return true;
  }
  if (a instanceof Set && b instanceof Set) {
    if (a.size !== b.size) return false;
    for (const v of a) if (!b.has(v)) return false;
    return true;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  const ka = Object.keys(a as object), kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) {
      return false;
    }
  }
  return true;
}

/** Fails unless `actual` deep-equals `expected` (typed arrays, Maps, Sets compared by content). */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  if (!deepEqual(actual, expected)) {
    throw new AssertionError(
      `${message ? message + ": " : ""}expected ${show(expected)}, got ${show(actual)}`,
    );
  }
}

// deno-lint-ignore no-explicit-any
type ErrorClass = new (...args: any[]) => Error;

function checkError(e: unknown, ErrorType?: ErrorClass, includes?: string): Error {
  if (!(e instanceof Error)) throw new AssertionError(`expected an Error, got ${show(e)}`);
  const error: Error = e;
  const got = `${error.name}: ${error.message}`;
  if (ErrorType && !(error instanceof ErrorType)) {
    throw new AssertionError(`expected ${ErrorType.name}, got ${got}`);
  }
  if (includes !== undefined && !error.message.includes(includes)) {
    throw new AssertionError(`expected message to include "${includes}", got "${error.message}"`);
  }
  return error;
}

/** Fails unless `fn` throws (an instance of `ErrorType`, whose message includes `includes`). */
export function assertThrows(fn: () => unknown, ErrorType?: ErrorClass, includes?: string): Error {
  try {
    fn();
  } catch (e) {
    return checkError(e, ErrorType, includes);
  }
  throw new AssertionError("expected function to throw");
}

/** Async twin of `assertThrows`. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  ErrorType?: ErrorClass,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return checkError(e, ErrorType, includes);
  }
  throw new AssertionError("expected promise to reject");
}
