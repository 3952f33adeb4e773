/**
 * The peer wire protocol (BEP 3, fast extension BEP 6): handshake, message codec, and one
 * connection's read loop and write queue.
 *
 * @example
 * ```ts
 * import { encodeBlockAddress, MessageId, parseMessage } from "./mod.ts";
 * const wire = encodeBlockAddress(MessageId.cancel, 0, 0, 16384);
 * console.log(parseMessage(wire.subarray(4)).type); // "cancel"
 * ```
 *
 * @module
 */
export {
  acceptPeer,
  connectPeer,
  type HandshakeOptions,
  PeerConnection,
  type PeerConnectionOptions,
  type PeerEvents,
  type RateLimiter,
  SelfConnectionError,
} from "./connection.ts";
export { encodeHandshake, type Handshake, makePeerId, parseHandshake } from "./handshake.ts";
export {
  encodeBitfield,
  encodeBlockAddress,
  encodeExtended,
  encodeIndex,
  encodeKeepAlive,
  encodePieceHeader,
  encodePort,
  encodeSimple,
  MAX_BLOCK,
  MAX_SERVED_BLOCK,
  type Message,
  MessageId,
  parseMessage,
  ProtocolError,
} from "./messages.ts";
export { type IncomingRoute, listenForPeers, type PeerListener } from "./listener.ts";
