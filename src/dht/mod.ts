/**
 * The BitTorrent DHT (BEP 5, IPv6 per BEP 32): find peers of an info-hash without a tracker,
 * announce ourselves, and answer other nodes. {@link Dht} is the node the client runs; the
 * codec, routing table, token, store and lookup pieces are exported for tests and tools.
 *
 * @example
 * ```ts
 * import { Dht } from "./mod.ts";
 * const dht = new Dht({ hostname: "127.0.0.1", port: 0, bootstrap: [] });
 * await dht.start();
 * const summary = await dht.lookup(new Uint8Array(20), (peers) => console.log(peers));
 * console.log(summary.peers); // 0: nobody else in this DHT
 * await dht.stop();
 * ```
 *
 * @module
 */
export { DhtError } from "./error.ts";
export {
  DEFAULT_BOOTSTRAP,
  DEFAULT_DHT_PORT,
  Dht,
  type DhtLog,
  type DhtLookupOptions,
  type DhtLookupSummary,
  type DhtOptions,
  parseState,
} from "./node.ts";
export {
  COMPACT_NODE4,
  COMPACT_NODE6,
  COMPACT_PEER4,
  COMPACT_PEER6,
  decodeCompactNodes,
  decodeCompactPeer,
  encodeCompactNodes,
  encodeCompactPeer,
  type Family,
  type NodeInfo,
  normalizeIp,
  type PeerAddress,
} from "./addr.ts";
export { commonPrefixBits, compareDistance, ID_LENGTH, randomNodeId, xorDistance } from "./id.ts";
export {
  decodeMessage,
  encodeMessage,
  ErrorCode,
  type KrpcMessage,
  type KrpcQuery,
  type KrpcResponse,
  MAX_PACKET,
  type Want,
} from "./krpc.ts";
export {
  type HeardKind,
  type HeardResult,
  K,
  type NodeState,
  type RoutingNode,
  RoutingTable,
} from "./routing.ts";
export { TokenManager } from "./tokens.ts";
export { PeerStore } from "./store.ts";
export {
  iterativeLookup,
  type LookupContact,
  type LookupOptions,
  type LookupReply,
  type LookupResult,
} from "./lookup.ts";
