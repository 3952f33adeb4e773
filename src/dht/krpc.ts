/**
 * KRPC messages of the BitTorrent DHT (BEP 5, with BEP 32's `nodes6`/`want` and the BEP 42
 * `ip` and BEP 43 `ro` keys): a strict, bounded decoder that turns one UDP datagram into a
 * typed query, response or error, and the matching encoder.
 *
 * Responses do not say which query they answer, so a decoded response carries every key it
 * may hold (`nodes`, `nodes6`, `values`, `token`); the node matches it to its query by the
 * transaction id.
 *
 * @module
 */
import {
  type BencodeDict,
  type BencodeValue,
  decode,
  type Encodable,
  encode,
  getBytes,
  getDict,
  getInt,
  getList,
  isDict,
  latin1,
} from "../bencode/mod.ts";
import {
  decodeCompactNodes,
  decodeCompactPeer,
  encodeCompactNodes,
  encodeCompactPeer,
  type NodeInfo,
  type PeerAddress,
} from "./addr.ts";
import { DhtError } from "./error.ts";
import { ID_LENGTH } from "./id.ts";

/** Largest datagram the decoder accepts; real KRPC packets stay well under 1,500 bytes. */
export const MAX_PACKET = 8192;
/** Longest transaction id accepted (we send 2 bytes; some clients use 4 or 8). */
export const MAX_TRANSACTION_ID = 32;
/** Longest token accepted from a `get_peers` response or an `announce_peer` query. */
export const MAX_TOKEN = 64;
/** Most `values` (peers) accepted in one response. */
export const MAX_VALUES = 512;

/** KRPC error codes of BEP 5. */
export const ErrorCode = {
  generic: 201,
  server: 202,
  protocol: 203,
  methodUnknown: 204,
} as const;

/** Address families a querier may ask for in `want` (BEP 32). */
export type Want = "n4" | "n6";

/** A DHT query (the `a` arguments by method). */
export type KrpcQuery =
  | { method: "ping"; id: Uint8Array }
  | { method: "find_node"; id: Uint8Array; target: Uint8Array; want?: Want[] }
  | { method: "get_peers"; id: Uint8Array; infoHash: Uint8Array; want?: Want[] }
  | {
    method: "announce_peer";
    id: Uint8Array;
    infoHash: Uint8Array;
    /** The peer's TCP port; meaningless (may be 0) when `impliedPort` is set. */
    port: number;
    token: Uint8Array;
    /** Use the UDP source port of the query as the peer port (BEP 5, for peers behind NAT). */
    impliedPort: boolean;
  }
  | {
    /** A method we do not implement; answered with error 204, or as find_node when it names a target. */
    method: "unknown";
    name: string;
    id?: Uint8Array;
    /** The `target` or `info_hash` argument, when it has one (libtorrent's forward compatibility). */
    target?: Uint8Array;
  };

/** The `r` dictionary of a response; which keys appear depends on the query answered. */
export interface KrpcResponse {
  /** The responder's node id. */
  id: Uint8Array;
  /** Compact IPv4 nodes. */
  nodes?: NodeInfo[];
  /** Compact IPv6 nodes (BEP 32). */
  nodes6?: NodeInfo[];
  /** Peers of the info-hash (get_peers). */
  values?: PeerAddress[];
  /** Write token for announce_peer (get_peers). */
  token?: Uint8Array;
}

/** One decoded KRPC message. `t` is the transaction id; `v` the sender's client version. */
export type KrpcMessage =
  | { type: "query"; t: Uint8Array; query: KrpcQuery; readOnly?: boolean; v?: Uint8Array }
  | {
    type: "response";
    t: Uint8Array;
    response: KrpcResponse;
    /** Our address as the responder saw it (BEP 42). */
    ip?: PeerAddress;
    v?: Uint8Array;
  }
  | { type: "error"; t: Uint8Array; code: number; message: string; v?: Uint8Array };

const MAX_METHOD = 64;
const MAX_ERROR_TEXT = 256;
const MAX_VERSION = 16;
const textDecoder = new TextDecoder("utf-8", { fatal: false });

function bad(message: string, transactionId?: Uint8Array): never {
  throw new DhtError(`bad KRPC message: ${message}`, { transactionId });
}

function id20(d: BencodeDict, key: string, what: string, t?: Uint8Array): Uint8Array {
  const b = getBytes(d, key);
  if (!b || b.length !== ID_LENGTH) bad(`${what} must be ${ID_LENGTH} bytes`, t);
  return b.slice();
}

function wantList(a: BencodeDict, t: Uint8Array): Want[] | undefined {
  if (!a.has("want")) return undefined;
  const list = getList(a, "want");
  if (!list || list.length > 8) bad("want must be a short list", t);
  const out: Want[] = [];
  for (const item of list) {
    if (!(item instanceof Uint8Array)) bad("want items must be strings", t);
    const s = latin1(item);
    if ((s === "n4" || s === "n6") && !out.includes(s)) out.push(s);
  }
  return out;
}

function decodeQuery(top: BencodeDict, t: Uint8Array): KrpcQuery {
  const q = getBytes(top, "q");
  if (!q || q.length === 0 || q.length > MAX_METHOD) bad("missing or bad method name", t);
  const a = getDict(top, "a");
  if (!a) bad("query without arguments", t);
  const name = latin1(q);
  switch (name) {
    case "ping":
      return { method: "ping", id: id20(a, "id", "node id", t) };
    case "find_node": {
      const query: KrpcQuery = {
        method: "find_node",
        id: id20(a, "id", "node id", t),
        target: id20(a, "target", "target", t),
      };
      const want = wantList(a, t);
      if (want) query.want = want;
      return query;
    }
    case "get_peers": {
      const query: KrpcQuery = {
        method: "get_peers",
        id: id20(a, "id", "node id", t),
        infoHash: id20(a, "info_hash", "info_hash", t),
      };
      const want = wantList(a, t);
      if (want) query.want = want;
      return query;
    }
    case "announce_peer": {
      const id = id20(a, "id", "node id", t);
      const infoHash = id20(a, "info_hash", "info_hash", t);
      const token = getBytes(a, "token");
      if (!token || token.length === 0 || token.length > MAX_TOKEN) bad("bad token", t);
      let impliedPort = false;
      if (a.has("implied_port")) {
        const ip = getInt(a, "implied_port");
        if (ip === undefined) bad("implied_port must be an integer", t);
        impliedPort = ip !== 0;
      }
      const port = getInt(a, "port");
      const portOk = port !== undefined && port >= 1 && port <= 65535;
      if (!impliedPort && !portOk) bad("port must be 1..65535", t);
      return {
        method: "announce_peer",
        id,
        infoHash,
        port: portOk ? port : 0,
        token: token.slice(),
        impliedPort,
      };
    }
    default: {
      const query: KrpcQuery = { method: "unknown", name };
      const id = getBytes(a, "id");
      if (id && id.length === ID_LENGTH) query.id = id.slice();
      const target = getBytes(a, "target") ?? getBytes(a, "info_hash");
      if (target && target.length === ID_LENGTH) query.target = target.slice();
      return query;
    }
  }
}

function decodeResponse(r: BencodeDict): KrpcResponse {
  const response: KrpcResponse = { id: id20(r, "id", "node id") };
  if (r.has("nodes")) {
    const b = getBytes(r, "nodes");
    if (!b) bad("nodes must be a string");
    response.nodes = decodeCompactNodes(b, 4);
  }
  if (r.has("nodes6")) {
    const b = getBytes(r, "nodes6");
    if (!b) bad("nodes6 must be a string");
    response.nodes6 = decodeCompactNodes(b, 6);
  }
  if (r.has("values")) {
    const list = getList(r, "values");
    if (!list || list.length > MAX_VALUES) bad("values must be a list of peers");
    const values: PeerAddress[] = [];
    for (const item of list) {
      if (!(item instanceof Uint8Array)) bad("values items must be strings");
      const peer = decodeCompactPeer(item);
      if (peer.port !== 0) values.push(peer);
    }
    response.values = values;
  }
  if (r.has("token")) {
    const token = getBytes(r, "token");
    if (!token || token.length === 0 || token.length > MAX_TOKEN) bad("bad token");
    response.token = token.slice();
  }
  return response;
}

function decodeErrorList(e: BencodeValue | undefined): { code: number; message: string } {
  if (!Array.isArray(e) || e.length < 1 || e.length > 4) bad("error must be [code, message]");
  const code = e[0];
  if (typeof code !== "number") bad("error code must be an integer");
  let message = "";
  if (e.length > 1) {
    const text = e[1];
    if (!(text instanceof Uint8Array)) bad("error message must be a string");
    message = textDecoder.decode(text.subarray(0, MAX_ERROR_TEXT))
      // deno-lint-ignore no-control-regex
      .replace(/[\u0000-\u001f\u007f]/g, " ");
  }
  return { code, message };
}

/**
 * Decodes one KRPC datagram. Throws {@link DhtError} for anything that is not a well-formed
 * message (bad bencode, missing or mistyped keys, ids not 20 bytes, compact strings of the wrong
 * length, oversized packets); for a broken query whose transaction id could be read, the error
 * carries it in `transactionId` so the node can answer with error 203.
 *
 * @example
 * ```ts
 * import { decodeMessage, encodeMessage } from "./krpc.ts";
 * const t = new Uint8Array([0, 1]);
 * const bytes = encodeMessage({ type: "query", t, query: { method: "ping", id: new Uint8Array(20) } });
 * const msg = decodeMessage(bytes);
 * console.log(msg.type === "query" && msg.query.method); // ping
 * ```
 */
export function decodeMessage(packet: Uint8Array): KrpcMessage {
  if (packet.length > MAX_PACKET) bad(`packet of ${packet.length} bytes is too large`);
  if (packet.length === 0 || packet[0] !== 0x64) bad("not a dictionary");
  let top: BencodeValue;
  try {
    top = decode(packet, { maxDepth: 6, maxItems: 2048, allowUnsortedKeys: true });
  } catch (e) {
    bad(e instanceof Error ? e.message : "bad bencode");
  }
  if (!isDict(top)) bad("not a dictionary");
  const t = getBytes(top, "t");
  if (!t || t.length > MAX_TRANSACTION_ID) bad("missing or bad transaction id");
  const tid = t.slice();
  const y = getBytes(top, "y");
  const kind = y && y.length === 1 ? String.fromCharCode(y[0]) : "";
  let v: Uint8Array | undefined;
  const version = getBytes(top, "v");
  if (version && version.length <= MAX_VERSION) v = version.slice();
  const withVersion = <T extends KrpcMessage>(m: T): T => {
    if (v) m.v = v;
    return m;
  };
  if (kind === "q") {
    const query = decodeQuery(top, tid);
    const msg: KrpcMessage = { type: "query", t: tid, query };
    if ((getInt(top, "ro") ?? 0) !== 0) msg.readOnly = true;
    return withVersion(msg);
  }
  if (kind === "r") {
    const r = getDict(top, "r");
    if (!r) bad("response without r dictionary");
    const msg: KrpcMessage = { type: "response", t: tid, response: decodeResponse(r) };
    const ip = getBytes(top, "ip");
    if (ip && (ip.length === 6 || ip.length === 18)) msg.ip = decodeCompactPeer(ip);
    return withVersion(msg);
  }
  if (kind === "e") {
    const { code, message } = decodeErrorList(top.get("e"));
    return withVersion({ type: "error", t: tid, code, message });
  }
  bad("message type must be q, r or e");
}

function queryArgs(q: KrpcQuery): { name: string; args: Record<string, Encodable | undefined> } {
  const want = (w: Want[] | undefined) => (w && w.length > 0 ? w : undefined);
  switch (q.method) {
    case "ping":
      return { name: "ping", args: { id: q.id } };
    case "find_node":
      return { name: "find_node", args: { id: q.id, target: q.target, want: want(q.want) } };
    case "get_peers":
      return { name: "get_peers", args: { id: q.id, info_hash: q.infoHash, want: want(q.want) } };
    case "announce_peer":
      return {
        name: "announce_peer",
        args: {
          id: q.id,
          implied_port: q.impliedPort ? 1 : undefined,
          info_hash: q.infoHash,
          port: q.port,
          token: q.token,
        },
      };
    case "unknown":
      return { name: q.name, args: { id: q.id, target: q.target } };
  }
}

/**
 * Encodes a KRPC message (the inverse of {@link decodeMessage}). Throws {@link DhtError} when a
 * node or peer in it has an address that cannot be encoded compactly.
 *
 * @example
 * ```ts
 * import { encodeMessage } from "./krpc.ts";
 * const bytes = encodeMessage({ type: "error", t: new Uint8Array([97, 97]), code: 201, message: "A Generic Error Ocurred" });
 * console.log(new TextDecoder().decode(bytes)); // d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee
 * ```
 */
export function encodeMessage(msg: KrpcMessage): Uint8Array {
  const top: Record<string, Encodable | undefined> = { t: msg.t, v: msg.v };
  if (msg.type === "query") {
    const { name, args } = queryArgs(msg.query);
    top.y = "q";
    top.q = name;
    top.a = args;
    if (msg.readOnly) top.ro = 1;
  } else if (msg.type === "response") {
    const r = msg.response;
    top.y = "r";
    top.r = {
      id: r.id,
      nodes: r.nodes ? encodeCompactNodes(r.nodes, 4) : undefined,
      nodes6: r.nodes6 ? encodeCompactNodes(r.nodes6, 6) : undefined,
      token: r.token,
      values: r.values ? r.values.map(encodeCompactPeer) : undefined,
    };
    if (msg.ip) top.ip = encodeCompactPeer(msg.ip);
  } else {
    top.y = "e";
    top.e = [msg.code, msg.message];
  }
  return encode(top);
}
