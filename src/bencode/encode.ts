/**
 * Bencode encoder: the inverse of the decoder, with dictionary keys sorted as raw bytes.
 *
 * @module
 */
import { BencodeError, type BencodeValue, compareBytes } from "./decode.ts";

/** Values the encoder accepts: decoded values plus plain strings and objects for convenience. */
export type Encodable =
  | number
  | bigint
  | string
  | Uint8Array
  | Encodable[]
  | Map<string, Encodable>
  | { [key: string]: Encodable | undefined }
  | BencodeValue;

const encoder = new TextEncoder();

/** Growable byte sink. */
class Sink {
  buf = new Uint8Array(256);
  len = 0;
  reserve(n: number) {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  bytes(b: Uint8Array) {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  ascii(s: string) {
    this.reserve(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.len++] = s.charCodeAt(i);
  }
}

/** Dictionary keys are latin-1 strings (one char per byte), matching the decoder. */
function keyBytes(key: string): Uint8Array {
  const out = new Uint8Array(key.length);
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c > 0xff) return encoder.encode(key); // a plain JS key with non-latin-1 text: use UTF-8
    out[i] = c;
  }
  return out;
}

function write(sink: Sink, value: Encodable, depth: number): void {
  if (depth > 256) throw new BencodeError("nesting too deep to encode", sink.len);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new BencodeError(`not an integer: ${value}`, sink.len);
    sink.ascii(`i${value}e`);
  } else if (typeof value === "bigint") {
    sink.ascii(`i${value}e`);
  } else if (typeof value === "string") {
    const b = encoder.encode(value);
    sink.ascii(`${b.length}:`);
    sink.bytes(b);
  } else if (value instanceof Uint8Array) {
    sink.ascii(`${value.length}:`);
    sink.bytes(value);
  } else if (Array.isArray(value)) {
    sink.ascii("l");
    for (const item of value) write(sink, item, depth + 1);
    sink.ascii("e");
  } else {
    const entries: [Uint8Array, Encodable][] = [];
    const source = value instanceof Map ? value.entries() : Object.entries(value);
    for (const [k, v] of source) if (v !== undefined) entries.push([keyBytes(k), v]);
    entries.sort((a, b) => compareBytes(a[0], b[0]));
    sink.ascii("d");
    for (const [k, v] of entries) {
      sink.ascii(`${k.length}:`);
      sink.bytes(k);
      write(sink, v, depth + 1);
    }
    sink.ascii("e");
  }
}

/**
 * Encodes a value as bencode. Strings are written as UTF-8; object keys are sorted as bytes;
 * `undefined` object members are skipped.
 *
 * @example
 * ```ts
 * import { encode } from "./encode.ts";
 * const bytes = encode({ spam: ["a", 1] });
 * console.log(new TextDecoder().decode(bytes)); // d4:spaml1:ai1eee
 * ```
 */
export function encode(value: Encodable): Uint8Array {
  const sink = new Sink();
  write(sink, value, 0);
  return sink.buf.slice(0, sink.len);
}
