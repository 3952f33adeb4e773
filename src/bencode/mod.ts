/**
 * Bencode (BEP 3): a strict decoder that reports the byte span of top-level values (so the
 * info-hash is taken over the exact bytes of `info`), an encoder, and typed accessors.
 *
 * @example
 * ```ts
 * import { decode, encode, getInt } from "./mod.ts";
 * const bytes = encode({ interval: 1800 });
 * console.log(getInt(decode(bytes), "interval")); // 1800
 * ```
 *
 * @module
 */
export {
  type BencodeDict,
  BencodeError,
  type BencodeValue,
  compareBytes,
  decode,
  type DecodeLimits,
  decodePrefix,
  type DecodeResult,
  decodeWithSpans,
  latin1,
  type Span,
} from "./decode.ts";
export { type Encodable, encode } from "./encode.ts";
export { decodeText, getBytes, getDict, getInt, getList, getText, isDict } from "./access.ts";
