/**
 * uTP (BEP 29): BitTorrent's transport over UDP, with LEDBAT congestion control so a transfer
 * yields to other traffic. A `UtpSocket` lives on a UDP port shared with the DHT; each of its
 * connections is a `ByteStream` the peer wire runs on as it runs on TCP.
 *
 * @example
 * ```ts
 * import { decodePacket, encodePacket, ST_SYN } from "./mod.ts";
 * const syn = encodePacket({
 *   type: ST_SYN, connectionId: 100, timestamp: 0, timestampDifference: 0, windowSize: 0,
 *   seq: 1, ack: 0,
 * });
 * console.log(decodePacket(syn)?.type === ST_SYN); // true
 * ```
 *
 * @module
 */
export { Ledbat, RttEstimator, TARGET_DELAY_US } from "./congestion.ts";
export { UtpConnection, type UtpConnectionOptions, type UtpLink } from "./connection.ts";
export {
  decodePacket,
  encodePacket,
  HEADER_SIZE,
  looksLikeUtp,
  seqDistance,
  ST_DATA,
  ST_FIN,
  ST_RESET,
  ST_STATE,
  ST_SYN,
  type UtpHeader,
  type UtpPacket,
} from "./packet.ts";
export { DEFAULT_PACKET_BYTES, UtpSocket, type UtpSocketOptions } from "./socket.ts";
export { UtpTransport } from "./transport.ts";
