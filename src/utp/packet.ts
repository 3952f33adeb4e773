/**
 * The uTP packet (BEP 29): a 20-byte header, a chain of extensions (selective ACK is the one
 * defined) and the payload. Decoding is strict and never throws: anything malformed is
 * `undefined`, so a hostile datagram is dropped before it touches a connection.
 *
 * @module
 */

/** Packet types. */
export const ST_DATA = 0;
export const ST_FIN = 1;
export const ST_STATE = 2;
export const ST_RESET = 3;
export const ST_SYN = 4;

/** The only protocol version there is. */
export const UTP_VERSION = 1;
/** Bytes of the fixed header. */
export const HEADER_SIZE = 20;
const EXTENSION_SACK = 1;
/**
 * Ours, not BEP 29's: the largest datagram the sender reads, sent in SYN and its answer, so two
 * ends that both read more than the Ethernet MTU can use bigger packets where the path allows
 * (loopback). Other clients skip it, as BEP 29 has them skip unknown extensions.
 */
const EXTENSION_READ_LIMIT = 0x52;
/** Longest selective ACK we send or read: 32 bytes cover 256 packets past a hole. */
export const MAX_SACK_BYTES = 32;

/** One decoded packet; `payload` and `sack` are views into the datagram, not copies. */
export interface UtpPacket {
  type: number;
  connectionId: number;
  /** Sender's clock in microseconds, modulo 2^32. */
  timestamp: number;
  /** Sender's latest one-way delay sample of our packets, microseconds. */
  timestampDifference: number;
  /** Bytes the sender can still take into its receive buffer. */
  windowSize: number;
  seq: number;
  ack: number;
  /** Selective ACK bitmask, at most 32 bytes of it: bit 0 of byte 0 is `ack + 2`. */
  sack?: Uint8Array;
  /** The largest datagram the sender reads (our own extension). */
  readLimit?: number;
  payload: Uint8Array;
}

/** The header fields a sender chooses; the rest of a packet is its payload and extensions. */
export type UtpHeader = Omit<UtpPacket, "payload" | "sack" | "readLimit">;

/** The extensions a packet we send may carry. */
export interface UtpExtensions {
  sack?: Uint8Array;
  readLimit?: number;
}

/**
 * True when the datagram's first byte reads as a uTP version-1 packet of a known type, which
 * is how a UDP port shared with the DHT (whose messages begin with `d`) tells the two apart.
 *
 * @example
 * ```ts
 * import { looksLikeUtp } from "./packet.ts";
 * console.log(looksLikeUtp(new Uint8Array([0x41])), looksLikeUtp(new TextEncoder().encode("d1:")));
 * // true false
 * ```
 */
export function looksLikeUtp(datagram: Uint8Array): boolean {
  if (datagram.length < HEADER_SIZE) return false;
  const first = datagram[0];
  return (first & 0x0f) === UTP_VERSION && first >> 4 <= ST_SYN;
}

/**
 * Reads one datagram; `undefined` when it is not a well-formed uTP packet (short, another
 * version or type, an extension running past the end, an empty or second selective ACK, data
 * or other packets that break the rules of their type).
 *
 * @example
 * ```ts
 * import { decodePacket, encodePacket, ST_DATA } from "./packet.ts";
 * const wire = encodePacket({
 *   type: ST_DATA, connectionId: 7, timestamp: 1, timestampDifference: 0, windowSize: 1000,
 *   seq: 2, ack: 9,
 * }, new Uint8Array([1, 2, 3]));
 * const packet = decodePacket(wire)!;
 * console.log(packet.seq, packet.ack, packet.payload.length); // 2 9 3
 * console.log(decodePacket(wire.subarray(0, 19))); // undefined
 * ```
 */
export function decodePacket(datagram: Uint8Array): UtpPacket | undefined {
  if (!looksLikeUtp(datagram)) return undefined;
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  const type = datagram[0] >> 4;
  let extension = datagram[1];
  let at = HEADER_SIZE;
  let sack: Uint8Array | undefined;
  let readLimit: number | undefined;
  while (extension !== 0) {
    if (at + 2 > datagram.length) return undefined;
    const next = datagram[at], length = datagram[at + 1];
    at += 2;
    if (at + length > datagram.length) return undefined;
    if (extension === EXTENSION_SACK) {
      // BEP 29 asks for a multiple of 4 bytes; libtorrent sends 6 or more, any length.
      if (sack || length === 0) return undefined;
      sack = datagram.subarray(at, at + Math.min(length, MAX_SACK_BYTES));
    } else if (extension === EXTENSION_READ_LIMIT && length === 4) {
      readLimit = view.getUint32(at);
    }
    at += length;
    extension = next;
  }
  const payload = datagram.subarray(at);
  const hasPayload = payload.length > 0;
  // Data always carries bytes; the others never do (a FIN's payload would be lost data).
  if ((type === ST_DATA) !== hasPayload) return undefined;
  return {
    type,
    connectionId: view.getUint16(2),
    timestamp: view.getUint32(4),
    timestampDifference: view.getUint32(8),
    windowSize: view.getUint32(12),
    seq: view.getUint16(16),
    ack: view.getUint16(18),
    sack,
    readLimit,
    payload,
  };
}

/**
 * Writes a packet, the header, its extensions and the payload, into one new buffer.
 *
 * @example
 * ```ts
 * import { decodePacket, encodePacket, ST_SYN } from "./packet.ts";
 * const header = {
 *   type: ST_SYN, connectionId: 9, timestamp: 0, timestampDifference: 0, windowSize: 0, seq: 1,
 *   ack: 0,
 * };
 * console.log(decodePacket(encodePacket(header, undefined, { readLimit: 8192 }))?.readLimit);
 * // 8192
 * ```
 */
export function encodePacket(
  header: UtpHeader,
  payload?: Uint8Array,
  extensions: UtpExtensions = {},
): Uint8Array {
  const chain: [number, Uint8Array][] = [];
  if (extensions.sack && extensions.sack.length > 0) chain.push([EXTENSION_SACK, extensions.sack]);
  if (extensions.readLimit !== undefined) {
    const limit = new Uint8Array(4);
    new DataView(limit.buffer).setUint32(0, extensions.readLimit);
    chain.push([EXTENSION_READ_LIMIT, limit]);
  }
  const chainBytes = chain.reduce((n, [, data]) => n + 2 + data.length, 0);
  const bytes = new Uint8Array(HEADER_SIZE + chainBytes + (payload?.length ?? 0));
  bytes[1] = chain[0]?.[0] ?? 0;
  writeHeader(bytes, header);
  let at = HEADER_SIZE;
  chain.forEach(([, data], i) => {
    bytes[at] = chain[i + 1]?.[0] ?? 0;
    bytes[at + 1] = data.length;
    bytes.set(data, at + 2);
    at += 2 + data.length;
  });
  if (payload) bytes.set(payload, at);
  return bytes;
}

/**
 * Writes the 20-byte header at the start of `into`, all but the first extension's type (byte
 * 1), which belongs to what follows the header: a packet kept for resending is stamped again in
 * place instead of being built anew.
 */
export function writeHeader(into: Uint8Array, header: UtpHeader): void {
  const view = new DataView(into.buffer, into.byteOffset, HEADER_SIZE);
  into[0] = (header.type << 4) | UTP_VERSION;
  view.setUint16(2, header.connectionId);
  view.setUint32(4, header.timestamp >>> 0);
  view.setUint32(8, header.timestampDifference >>> 0);
  view.setUint32(12, header.windowSize >>> 0);
  view.setUint16(16, header.seq & 0xffff);
  view.setUint16(18, header.ack & 0xffff);
}

/**
 * `a - b` for 16-bit sequence numbers that wrap: positive when `a` comes after `b`, within
 * half the number space.
 *
 * @example
 * ```ts
 * import { seqDistance } from "./packet.ts";
 * console.log(seqDistance(2, 65535), seqDistance(65535, 2)); // 3 -3
 * ```
 */
export function seqDistance(a: number, b: number): number {
  return ((a - b + 0x8000) & 0xffff) - 0x8000;
}
