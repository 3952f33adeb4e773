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
  payload: Uint8Array;
}

/** The header fields a sender chooses; the rest of a packet is its payload and SACK. */
export type UtpHeader = Omit<UtpPacket, "payload" | "sack">;

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
  while (extension !== 0) {
    if (at + 2 > datagram.length) return undefined;
    const next = datagram[at], length = datagram[at + 1];
    at += 2;
    if (at + length > datagram.length) return undefined;
    if (extension === EXTENSION_SACK) {
      // BEP 29 asks for a multiple of 4 bytes; libtorrent sends 6 or more, any length.
      if (sack || length === 0) return undefined;
      sack = datagram.subarray(at, at + Math.min(length, MAX_SACK_BYTES));
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
    payload,
  };
}

/**
 * Bytes of a packet with `payloadLength` payload bytes and, when given, a selective ACK of
 * `sackLength` bytes.
 */
export function packetSize(payloadLength: number, sackLength = 0): number {
  return HEADER_SIZE + (sackLength > 0 ? 2 + sackLength : 0) + payloadLength;
}

/**
 * Writes a packet: the header, an optional selective ACK (a multiple of 4 bytes) and the
 * payload, into one new buffer.
 */
export function encodePacket(
  header: UtpHeader,
  payload?: Uint8Array,
  sack?: Uint8Array,
): Uint8Array {
  const sackLength = sack?.length ?? 0;
  const bytes = new Uint8Array(packetSize(payload?.length ?? 0, sackLength));
  writeHeader(bytes, header, sackLength > 0);
  let at = HEADER_SIZE;
  if (sack && sackLength > 0) {
    bytes[at] = 0;
    bytes[at + 1] = sackLength;
    bytes.set(sack, at + 2);
    at += 2 + sackLength;
  }
  if (payload) bytes.set(payload, at);
  return bytes;
}

/**
 * Writes the 20-byte header at the start of `into`, leaving what follows alone: a packet kept
 * for resending is stamped again in place instead of being built anew.
 */
export function writeHeader(into: Uint8Array, header: UtpHeader, withSack = false): void {
  const view = new DataView(into.buffer, into.byteOffset, HEADER_SIZE);
  into[0] = (header.type << 4) | UTP_VERSION;
  into[1] = withSack ? EXTENSION_SACK : 0;
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
