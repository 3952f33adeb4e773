/**
 * Small shared helpers: the piece bitmap, bytes and hex, SHA-1 and SHA-256, merkle trees, RC4,
 * the rate throttle, a shared UDP port, system libraries through FFI, a capped HTTP GET, files
 * replaced whole and read within a bound, OS errors in words, a file system's free space.
 *
 * @module
 */
export { Bitfield, isValidBitfield } from "./bitfield.ts";
export { bytesEqual, concatBytes, decodeBase64, encodeBase64, fromHex, toHex } from "./bytes.ts";
export { digestBackend, sha1, sha1Matches, sha256, sha256Into } from "./digest.ts";
export { Rc4 } from "./rc4.ts";
export { messageOf, oneLine } from "./text.ts";
export {
  type CappedFetchOptions,
  fetchCapped,
  FetchError,
  type FetchFailure,
  isWebAddress,
} from "./capped_fetch.ts";
export {
  HybridPieces,
  MAX_PIECE_LENGTH,
  type MerkleFile,
  MerklePieces,
  paddedPieces,
  type PieceGeometry,
  type PieceHashes,
  pieceLengthAt,
  type PieceSpan,
  Sha1Pieces,
} from "./pieces.ts";
export {
  blocksRoot,
  type FileMerkle,
  fileMerkle,
  layerRoot,
  leafCount,
  leafHashes,
  MERKLE_BLOCK,
  MERKLE_HASH,
  merkleRoot,
  merkleRows,
  nextPowerOfTwo,
  padHash,
} from "./merkle.ts";
export {
  FileHashingError,
  type FileSpan,
  hashFiles,
  type HashFilesOptions,
} from "./file_hashing.ts";
export { type BandwidthPriority, BothLimits, PerSourceLimiter, TokenBucket } from "./throttle.ts";
export { lazyLinuxLibrary, openLinuxLibrary } from "./native.ts";
export { readFileAtMost } from "./bounded_read.ts";
export { errorCode, fsReason } from "./os_error.ts";
export { mediaType } from "./media_type.ts";
export { type MemoryHooks, MemoryReleaser } from "./free_memory.ts";
export { type DiskSpace, diskSpace } from "./disk_space.ts";
export { type AtomicWriteOptions, writeFileAtomic } from "./atomic_file.ts";
export { type DatagramReceiver, type DatagramSender, UdpPort } from "./udp_port.ts";
export { formatIp, formatIPv6, parseIp, parseIPv4, parseIPv6 } from "./ip.ts";
