/**
 * Small shared helpers: the piece bitmap, SHA-1 and hex, RC4, the rate throttle, system libraries
 * through FFI.
 *
 * @module
 */
export { Bitfield, isValidBitfield } from "./bitfield.ts";
export { bytesEqual, concatBytes, fromHex, sha1, sha1Backend, sha1Matches, toHex } from "./sha1.ts";
export { Rc4 } from "./rc4.ts";
export {
  MAX_PIECE_LENGTH,
  type PieceGeometry,
  type PieceHashes,
  pieceLengthAt,
  Sha1Pieces,
} from "./pieces.ts";
export {
  FileHashingError,
  type FileSpan,
  hashFiles,
  type HashFilesOptions,
} from "./file_hashing.ts";
export { TokenBucket } from "./throttle.ts";
export { openLinuxLibrary } from "./native.ts";
export { formatIp, formatIPv6, parseIp, parseIPv4, parseIPv6 } from "./ip.ts";
