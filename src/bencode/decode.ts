/**
 * Strict bencode decoder (BEP 3).
 *
 * Strings decode to `Uint8Array` (bencode strings are bytes, not text), integers to `number`
 * when they fit in a safe integer and to `bigint` otherwise, lists to arrays and dictionaries
 * to `Map`s keyed by the latin-1 view of the key bytes (a lossless, reversible mapping).
 *
 * @module
 */

/** A decoded bencode value. */
export type BencodeValue =
  | number
  | bigint
  | Uint8Array
  | BencodeValue[]
  | BencodeDict;

/** A bencode dictionary: keys are the raw key bytes as a latin-1 string. */
export type BencodeDict = Map<string, BencodeValue>;

/** Raised for any input that is not valid bencode or breaks a limit. */
export class BencodeError extends Error {
  /** Byte offset where decoding failed. */
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} at byte ${offset}`);
    this.name = "BencodeError";
    this.offset = offset;
  }
}

/** Limits that keep hostile input from costing unbounded stack or memory. */
export interface DecodeLimits {
  /** Deepest nesting of lists and dictionaries. Default 64. */
  maxDepth?: number;
  /** Most items (values) in the whole document. Default 1,000,000. */
  maxItems?: number;
  /**
   * Accept dictionaries whose keys are out of order (duplicates are still refused). Some
   * real .torrent files have them; their info-hash is taken over the raw bytes either way.
   * Default false.
   */
  allowUnsortedKeys?: boolean;
}

/** Byte range `[start, end)` of a value inside the decoded buffer. */
export interface Span {
  start: number;
  end: number;
}

/** A decode result that also records where chosen top-level dictionary values lie. */
export interface DecodeResult {
  value: BencodeValue;
  /** Spans of the top-level dictionary's values, by key (only when the top level is a dict). */
  spans: Map<string, Span>;
}

const D = 0x64, E = 0x65, I = 0x69, L = 0x6c, COLON = 0x3a, MINUS = 0x2d, ZERO = 0x30, NINE = 0x39;

class Decoder {
  pos = 0;
  items = 0;
  readonly spans = new Map<string, Span>();
  constructor(
    readonly buf: Uint8Array,
    readonly maxDepth: number,
    readonly maxItems: number,
    readonly allowUnsorted = false,
  ) {}

  fail(message: string, at = this.pos): never {
    throw new BencodeError(message, at);
  }

  value(depth: number): BencodeValue {
    if (++this.items > this.maxItems) this.fail("too many items");
    const c = this.buf[this.pos];
    if (c === undefined) this.fail("unexpected end of input");
    if (c === I) return this.integer();
    if (c >= ZERO && c <= NINE) return this.bytes();
    if (c === L || c === D) {
      if (depth >= this.maxDepth) this.fail("nesting too deep");
      return c === L ? this.list(depth + 1) : this.dict(depth + 1);
    }
    this.fail(`unexpected byte 0x${c.toString(16).padStart(2, "0")}`);
  }

  /** Reads decimal digits up to `terminator`, rejecting leading zeros. */
  digits(terminator: number, allowNegative: boolean): { negative: boolean; text: string } {
    const { buf } = this;
    const start = this.pos;
    let negative = false;
    if (allowNegative && buf[this.pos] === MINUS) {
      negative = true;
      this.pos++;
    }
    const first = this.pos;
    while (this.pos < buf.length && buf[this.pos] >= ZERO && buf[this.pos] <= NINE) this.pos++;
    const count = this.pos - first;
    if (this.pos >= buf.length) this.fail("unexpected end of input");
    if (buf[this.pos] !== terminator) this.fail("malformed number");
    if (count === 0) this.fail("empty number", start);
    if (count > 1 && buf[first] === ZERO) this.fail("leading zero", start);
    if (negative && count === 1 && buf[first] === ZERO) this.fail("negative zero", start);
    let text = "";
    for (let i = first; i < this.pos; i++) text += String.fromCharCode(buf[i]);
    this.pos++; // terminator
    return { negative, text };
  }

  integer(): number | bigint {
    this.pos++; // 'i'
    if (this.buf.length - this.pos > 0 && this.countDigits() > 64) this.fail("integer too long");
    const { negative, text } = this.digits(E, true);
    const n = Number(text);
    if (Number.isSafeInteger(n)) return negative ? -n : n;
    const big = BigInt(text);
    return negative ? -big : big;
  }

  countDigits(): number {
    let i = this.pos;
    if (this.buf[i] === MINUS) i++;
    const start = i;
    while (i < this.buf.length && this.buf[i] >= ZERO && this.buf[i] <= NINE) i++;
    return i - start;
  }

  bytes(): Uint8Array {
    const at = this.pos;
    if (this.countDigits() > 15) this.fail("string length too long");
    const length = Number(this.digits(COLON, false).text);
    if (length > this.buf.length - this.pos) this.fail("string runs past end of input", at);
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  list(depth: number): BencodeValue[] {
    this.pos++; // 'l'
    const out: BencodeValue[] = [];
    while (true) {
      if (this.pos >= this.buf.length) this.fail("unterminated list");
      if (this.buf[this.pos] === E) break;
      out.push(this.value(depth));
    }
    this.pos++;
    return out;
  }

  dict(depth: number): BencodeDict {
    const top = depth === 1;
    this.pos++; // 'd'
    const out: BencodeDict = new Map();
    let previous: Uint8Array | undefined;
    while (true) {
      if (this.pos >= this.buf.length) this.fail("unterminated dictionary");
      if (this.buf[this.pos] === E) break;
      const keyAt = this.pos;
      const c = this.buf[this.pos];
      if (!(c >= ZERO && c <= NINE)) this.fail("dictionary key is not a string");
      const keyBytes = this.bytes();
      const key = latin1(keyBytes);
      if (this.allowUnsorted) {
        if (out.has(key)) this.fail("duplicate dictionary key", keyAt);
      } else if (previous && compareBytes(previous, keyBytes) >= 0) {
        this.fail("dictionary keys not sorted or duplicated", keyAt);
      }
      previous = keyBytes;
      const start = this.pos;
      const value = this.value(depth);
      if (top) this.spans.set(key, { start, end: this.pos });
      out.set(key, value);
    }
    this.pos++;
    return out;
  }
}

/** Compares byte strings as raw bytes, the order bencode dictionaries use. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Latin-1 view of bytes: one char per byte, reversible. */
export function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
}

/**
 * Decodes one bencoded value that must fill `input` exactly, and reports the byte spans of
 * the top-level dictionary's values (used to hash the exact bytes of `info`).
 *
 * @example
 * ```ts
 * import { decodeWithSpans } from "./decode.ts";
 * const bytes = new TextEncoder().encode("d4:infod1:ai1eee");
 * const { spans } = decodeWithSpans(bytes);
 * console.log(spans.get("info")); // { start: 7, end: 15 }
 * ```
 */
export function decodeWithSpans(input: Uint8Array, limits: DecodeLimits = {}): DecodeResult {
  const decoder = new Decoder(
    input,
    limits.maxDepth ?? 64,
    limits.maxItems ?? 1_000_000,
    limits.allowUnsortedKeys,
  );
  const value = decoder.value(0);
  if (decoder.pos !== input.length) decoder.fail("trailing bytes after value");
  return { value, spans: decoder.spans };
}

/**
 * Decodes one bencoded value that must fill `input` exactly.
 *
 * @example
 * ```ts
 * import { decode } from "./decode.ts";
 * const value = decode(new TextEncoder().encode("li42e4:spame"));
 * console.log(value); // [42, Uint8Array(4)]
 * ```
 */
export function decode(input: Uint8Array, limits: DecodeLimits = {}): BencodeValue {
  return decodeWithSpans(input, limits).value;
}

/**
 * Decodes one value at the start of `input` and says where it ended, for messages that carry
 * bencode followed by raw bytes (ut_metadata data messages).
 *
 * @example
 * ```ts
 * import { decodePrefix } from "./decode.ts";
 * const { value, end } = decodePrefix(new TextEncoder().encode("i1eXYZ"));
 * console.log(value, end); // 1 3
 * ```
 */
export function decodePrefix(
  input: Uint8Array,
  limits: DecodeLimits = {},
): { value: BencodeValue; end: number } {
  const decoder = new Decoder(
    input,
    limits.maxDepth ?? 64,
    limits.maxItems ?? 1_000_000,
    limits.allowUnsortedKeys,
  );
  const value = decoder.value(0);
  return { value, end: decoder.pos };
}
