/**
 * Typed, non-throwing accessors for decoded bencode: each returns `undefined` when the key is
 * missing or holds another type, so callers raise their own domain error with a clear message.
 *
 * @module
 */
import type { BencodeDict, BencodeValue } from "./decode.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** True when `v` is a bencode dictionary. */
export function isDict(v: BencodeValue | undefined): v is BencodeDict {
  return v instanceof Map;
}

/**
 * The dictionary under `key`, if that is what it holds.
 *
 * @example
 * ```ts
 * import { decode, getDict } from "./mod.ts";
 * const d = decode(new TextEncoder().encode("d1:ad1:bi1eee"));
 * console.log(getDict(d, "a")?.get("b")); // 1
 * ```
 */
export function getDict(d: BencodeValue | undefined, key: string): BencodeDict | undefined {
  const v = isDict(d) ? d.get(key) : undefined;
  return isDict(v) ? v : undefined;
}

/** The list under `key`, if that is what it holds. */
export function getList(d: BencodeValue | undefined, key: string): BencodeValue[] | undefined {
  const v = isDict(d) ? d.get(key) : undefined;
  return Array.isArray(v) ? v : undefined;
}

/** The byte string under `key`, if that is what it holds. */
export function getBytes(d: BencodeValue | undefined, key: string): Uint8Array | undefined {
  const v = isDict(d) ? d.get(key) : undefined;
  return v instanceof Uint8Array ? v : undefined;
}

/** The integer under `key` as a number, if it is one and fits in a safe integer. */
export function getInt(d: BencodeValue | undefined, key: string): number | undefined {
  const v = isDict(d) ? d.get(key) : undefined;
  return typeof v === "number" ? v : undefined;
}

/** The UTF-8 text under `key`; `undefined` when missing, not a string, or not valid UTF-8. */
export function getText(d: BencodeValue | undefined, key: string): string | undefined {
  const b = getBytes(d, key);
  return b === undefined ? undefined : decodeText(b);
}

/** Decodes UTF-8 bytes, or `undefined` when they are not valid UTF-8. */
export function decodeText(b: Uint8Array): string | undefined {
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
}
