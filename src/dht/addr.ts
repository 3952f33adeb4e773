/**
 * IP address text <-> bytes, and the compact encodings of BEP 5 and BEP 32: a peer is 6 bytes
 * (IPv4 + port) or 18 bytes (IPv6 + port), a node is its 20-byte id followed by a peer entry
 * (26 or 38 bytes). Every decoder here is strict and bounded and throws {@link DhtError}.
 *
 * @module
 */
import { formatIPv6, parseIPv4, parseIPv6 } from "../util/mod.ts";
import { DhtError } from "./error.ts";
import { ID_LENGTH } from "./id.ts";

export { formatIPv6, parseIPv4, parseIPv6 };

/** A peer's (or node's) address: an IP literal and a port. */
export interface PeerAddress {
  /** IP literal in canonical form (dotted quad, or RFC 5952 IPv6). */
  host: string;
  /** Port, 1..65535. */
  port: number;
}

/** A DHT node: its 160-bit id and where it listens (UDP). */
export interface NodeInfo extends PeerAddress {
  /** 20-byte node id. */
  id: Uint8Array;
}

/** Address family of a DHT: BEP 5 runs over IPv4, BEP 32 adds a separate IPv6 DHT. */
export type Family = 4 | 6;

/** Bytes of a compact IPv4 peer. */
export const COMPACT_PEER4 = 6;
/** Bytes of a compact IPv6 peer. */
export const COMPACT_PEER6 = 18;
/** Bytes of a compact IPv4 node. */
export const COMPACT_NODE4 = 26;
/** Bytes of a compact IPv6 node. */
export const COMPACT_NODE6 = 38;

/** Text of 4 IPv4 bytes. */
export function formatIPv4(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** The address family of an IP literal, or `undefined` when `host` is not one. */
export function ipFamily(host: string): Family | undefined {
  if (parseIPv4(host)) return 4;
  if (parseIPv6(host)) return 6;
  return undefined;
}

/** The canonical text of an IP literal (so one address has one spelling), or `undefined`. */
export function normalizeIp(host: string): string | undefined {
  const v4 = parseIPv4(host);
  if (v4) return formatIPv4(v4);
  const v6 = parseIPv6(host);
  return v6 ? formatIPv6(v6) : undefined;
}

/** A stable map key for an address. */
export function addressKey(a: PeerAddress): string {
  return `${a.host}|${a.port}`;
}

function ipBytes(host: string): Uint8Array {
  const b = parseIPv4(host) ?? parseIPv6(host);
  if (!b) throw new DhtError(`not an IP address: ${host.slice(0, 64)}`);
  return b;
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new DhtError(`port must be 1..65535, got ${port}`);
  }
}

/**
 * The compact form of a peer address: 6 bytes for IPv4, 18 for IPv6 (address then port,
 * big-endian).
 *
 * @example
 * ```ts
 * import { encodeCompactPeer } from "./addr.ts";
 * console.log(encodeCompactPeer({ host: "127.0.0.1", port: 6881 })); // 127, 0, 0, 1, 26, 225
 * ```
 */
export function encodeCompactPeer(peer: PeerAddress): Uint8Array {
  checkPort(peer.port);
  const ip = ipBytes(peer.host);
  const out = new Uint8Array(ip.length + 2);
  out.set(ip);
  out[ip.length] = peer.port >>> 8;
  out[ip.length + 1] = peer.port & 0xff;
  return out;
}

/**
 * Decodes one compact peer (6 or 18 bytes). Port 0 is returned as is; callers drop it.
 *
 * @example
 * ```ts
 * import { decodeCompactPeer } from "./addr.ts";
 * console.log(decodeCompactPeer(new Uint8Array([10, 0, 0, 2, 0, 80]))); // { host: "10.0.0.2", port: 80 }
 * ```
 */
export function decodeCompactPeer(b: Uint8Array): PeerAddress {
  if (b.length !== COMPACT_PEER4 && b.length !== COMPACT_PEER6) {
    throw new DhtError(`compact peer must be 6 or 18 bytes, got ${b.length}`);
  }
  const n = b.length - 2;
  const host = n === 4 ? formatIPv4(b) : formatIPv6(b.subarray(0, 16));
  return { host, port: (b[n] << 8) | b[n + 1] };
}

/**
 * Concatenated compact nodes of one family (26 bytes each for IPv4, 38 for IPv6); throws when
 * a node is of the other family or malformed.
 *
 * @example
 * ```ts
 * import { encodeCompactNodes } from "./addr.ts";
 * const bytes = encodeCompactNodes([{ id: new Uint8Array(20), host: "127.0.0.1", port: 1 }], 4);
 * console.log(bytes.length); // 26
 * ```
 */
export function encodeCompactNodes(nodes: NodeInfo[], family: Family): Uint8Array {
  const size = family === 4 ? COMPACT_NODE4 : COMPACT_NODE6;
  const out = new Uint8Array(nodes.length * size);
  nodes.forEach((node, i) => {
    if (!(node.id instanceof Uint8Array) || node.id.length !== ID_LENGTH) {
      throw new DhtError("node id must be 20 bytes");
    }
    const peer = encodeCompactPeer(node);
    if (peer.length + ID_LENGTH !== size) {
      throw new DhtError(`node ${node.host} is not an IPv${family} address`);
    }
    out.set(node.id, i * size);
    out.set(peer, i * size + ID_LENGTH);
  });
  return out;
}

/**
 * Splits a compact node string of one family into nodes. The length must be a whole number of
 * entries; entries with port 0 are skipped (nobody can be reached there).
 *
 * @example
 * ```ts
 * import { decodeCompactNodes, encodeCompactNodes } from "./addr.ts";
 * const node = { id: new Uint8Array(20).fill(7), host: "::1", port: 6881 };
 * console.log(decodeCompactNodes(encodeCompactNodes([node], 6), 6)[0].host); // ::1
 * ```
 */
export function decodeCompactNodes(b: Uint8Array, family: Family): NodeInfo[] {
  const size = family === 4 ? COMPACT_NODE4 : COMPACT_NODE6;
  if (b.length % size !== 0) {
    throw new DhtError(`compact IPv${family} nodes must be a multiple of ${size} bytes`);
  }
  const out: NodeInfo[] = [];
  for (let at = 0; at < b.length; at += size) {
    const peer = decodeCompactPeer(b.subarray(at + ID_LENGTH, at + size));
    if (peer.port === 0) continue;
    out.push({ id: b.slice(at, at + ID_LENGTH), host: peer.host, port: peer.port });
  }
  return out;
}
