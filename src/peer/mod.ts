/**
 * The peer wire protocol (BEP 3, fast extension BEP 6) over a byte stream: handshake, message
 * codec, one connection's read loop and write queue, message stream encryption (MSE), and the
 * network that dials and accepts peers under an encryption policy.
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
  completeIncoming,
  completeOutgoing,
  FrameReader,
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
  encodeHashMessage,
  encodeIndex,
  encodeKeepAlive,
  encodePieceHeader,
  encodePort,
  encodeSimple,
  type HashRequest,
  MAX_BLOCK,
  MAX_SERVED_BLOCK,
  type Message,
  MessageId,
  parseMessage,
  ProtocolError,
} from "./messages.ts";
export { acceptPeer, type EncryptionPolicy, type IncomingRoute, PeerRouter } from "./listener.ts";
export { MseError } from "./mse.ts";
export {
  Blocklist,
  type BlocklistParse,
  fetchBlocklist,
  loadBlocklist,
  parseBlocklistBytes,
} from "./blocklist.ts";
export {
  type BoundTransport,
  type PeerDialler,
  PeerNetwork,
  type PeerNetworkOptions,
} from "./network.ts";
export {
  type AcceptHandlers,
  type ByteStream,
  formatAddress,
  type StreamListener,
  streamPair,
  TcpStream,
  tcpTransport,
  type Transport,
} from "./stream.ts";
