/**
 * Pure parsers for tracker answers: HTTP announce and scrape bodies (BEP 3, 23, 7, 48), compact
 * peer lists, and UDP tracker packets (BEP 15). Every input is hostile until checked: they
 * return validated values or throw `TrackerError`, nothing else.
 *
 * @module
 */
import {
  type BencodeDict,
  type BencodeValue,
  decodePrefix,
  decodeText,
  getBytes,
  getInt,
  isDict,
  latin1,
} from "../bencode/mod.ts";
import { formatIPv6, oneLine, parseIPv4, parseIPv6, toHex } from "../util/mod.ts";
import {
  type AnnounceResult,
  type IntervalLimits,
  type PeerAddress,
  type ScrapeEntry,
  TrackerError,
} from "./types.ts";

/** Interval used when a tracker names none (seconds). */
export const DEFAULT_INTERVAL = 1800;
/** Default clamp bounds for announce intervals: 30 s to 2 h. */
export const DEFAULT_INTERVAL_LIMITS: IntervalLimits = Object.freeze({ min: 30, max: 7200 });
/** Most peers taken from one answer; the rest is ignored. */
export const MAX_PEERS = 10_000;

const BENCODE_LIMITS = { maxDepth: 16, maxItems: 200_000 };

/**
 * Reads a compact peer list (BEP 23: 4-byte IPv4 + 2-byte port; BEP 7: 16-byte IPv6 + port),
 * ignoring a trailing partial entry, port-0 entries, unusable addresses and duplicates.
 *
 * @example
 * ```ts
 * import { parseCompactPeers } from "./response.ts";
 * const peers = parseCompactPeers(new Uint8Array([127, 0, 0, 1, 0x1a, 0xe1]), 4);
 * console.log(peers); // [{ host: "127.0.0.1", port: 6881 }]
 * ```
 */
export function parseCompactPeers(
  bytes: Uint8Array,
  family: 4 | 6,
  max: number = MAX_PEERS,
): PeerAddress[] {
  const size = family === 4 ? 6 : 18;
  const out: PeerAddress[] = [];
  const seen = new Set<string>();
  for (let off = 0; off + size <= bytes.length && out.length < max; off += size) {
    const port = (bytes[off + size - 2] << 8) | bytes[off + size - 1];
    const ip = bytes.subarray(off, off + size - 2);
    const host = family === 4 ? ipv4FromBytes(ip) : ipv6FromBytes(ip);
    if (host === undefined) continue;
    addPeer(out, seen, host, port);
  }
  return out;
}

function addPeer(out: PeerAddress[], seen: Set<string>, host: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return;
  const id = `${host}|${port}`;
  if (seen.has(id)) return;
  seen.add(id);
  out.push({ host, port });
}

/** Dotted IPv4 of 4 bytes, or `undefined` for addresses no peer can have (0/8, multicast, ...). */
function ipv4FromBytes(b: Uint8Array): string | undefined {
  if (b[0] === 0 || b[0] >= 224) return undefined;
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** RFC 5952 text of 16 bytes; IPv4-mapped addresses become dotted IPv4. */
function ipv6FromBytes(b: Uint8Array): string | undefined {
  let mapped = true;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) mapped = false;
  if (mapped && b[10] === 0xff && b[11] === 0xff) return ipv4FromBytes(b.subarray(12, 16));
  if (b[0] === 0xff) return undefined; // multicast
  if (b.every((x) => x === 0)) return undefined; // unspecified
  return formatIPv6(b);
}

/**
 * A peer host from a tracker's dictionary peer list made canonical: IPv4, IPv6 (RFC 5952, no
 * brackets) or a DNS name; `undefined` when it is none of these or is unusable.
 *
 * @example
 * ```ts
 * import { normalizeHost } from "./response.ts";
 * console.log(normalizeHost("[2001:DB8::0:1]")); // 2001:db8::1
 * ```
 */
export function normalizeHost(raw: string): string | undefined {
  let s = raw.trim();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const v4 = parseIPv4(s);
  if (v4 !== undefined) return ipv4FromBytes(v4);
  if (s.includes(":")) {
    const v6 = parseIPv6(s);
    return v6 === undefined ? undefined : ipv6FromBytes(v6);
  }
  if (s.length === 0 || s.length > 253 || /^[\d.]+$/.test(s)) return undefined;
  const labels = s.replace(/\.$/, "").split(".");
  const label = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
  return labels.every((l) => label.test(l)) ? s.toLowerCase().replace(/\.$/, "") : undefined;
}

/** Text of a tracker-supplied byte string (UTF-8, else latin-1), made safe for one line. */
function remoteText(b: Uint8Array, max = 300): string {
  const head = b.subarray(0, max * 4);
  return oneLine(decodeText(head) ?? latin1(head), max);
}

function decodeBody(body: Uint8Array): BencodeDict {
  let value: BencodeValue;
  try {
    const { value: v, end } = decodePrefix(body, BENCODE_LIMITS);
    // Some trackers end the body with a newline; anything else after the value is garbage.
    for (let i = end; i < body.length; i++) {
      const c = body[i];
      if (c !== 0x0a && c !== 0x0d && c !== 0x20 && c !== 0x09) throw new Error("trailing");
    }
    value = v;
  } catch {
    throw new TrackerError("answered with invalid bencode", "protocol");
  }
  if (!isDict(value)) throw new TrackerError("answered with something other than a dictionary");
  return value;
}

function clampInt(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.floor(v)));
}

function clampIntervals(
  interval: number | undefined,
  minInterval: number | undefined,
  limits: IntervalLimits,
): { interval: number; minInterval?: number } {
  const lo = Math.max(0, limits.min), hi = Math.max(lo, limits.max);
  const iv = clampInt(interval !== undefined && interval > 0 ? interval : DEFAULT_INTERVAL, lo, hi);
  if (minInterval === undefined || minInterval < 0) return { interval: iv };
  return { interval: iv, minInterval: clampInt(minInterval, lo, iv) };
}

function nonNegative(v: number | undefined): number | undefined {
  return v !== undefined && v >= 0 ? v : undefined;
}

function parseDictPeers(list: BencodeValue[], out: PeerAddress[], seen: Set<string>): void {
  for (const item of list) {
    if (out.length >= MAX_PEERS) return;
    if (!isDict(item)) continue;
    const ip = getBytes(item, "ip");
    const port = getInt(item, "port");
    if (ip === undefined || port === undefined || ip.length > 253) continue;
    const text = decodeText(ip);
    const host = text === undefined ? undefined : normalizeHost(text);
    if (host !== undefined) addPeer(out, seen, host, port);
  }
}

/**
 * Parses an HTTP tracker's announce answer (BEP 3): throws `TrackerError` for a `failure reason`
 * or a malformed body; otherwise returns peers from compact `peers` (BEP 23), dictionary
 * `peers` and `peers6` (BEP 7), with intervals clamped to `limits`.
 *
 * @example
 * ```ts
 * import { parseHttpAnnounce } from "./response.ts";
 * const text = "d8:intervali900e5:peers6:\x7f\x00\x00\x01\x1a\xe1e";
 * const body = Uint8Array.from(text, (c) => c.charCodeAt(0));
 * console.log(parseHttpAnnounce(body).peers); // [{ host: "127.0.0.1", port: 6881 }]
 * ```
 */
export function parseHttpAnnounce(
  body: Uint8Array,
  limits: IntervalLimits = DEFAULT_INTERVAL_LIMITS,
): AnnounceResult {
  const d = decodeBody(body);
  const failure = getBytes(d, "failure reason");
  if (failure !== undefined) {
    throw new TrackerError(`failure reason: ${remoteText(failure) || "(empty)"}`, "failure");
  }
  const peers: PeerAddress[] = [];
  const seen = new Set<string>();
  const rawPeers = d.get("peers");
  if (rawPeers instanceof Uint8Array) {
    for (const p of parseCompactPeers(rawPeers, 4)) addPeer(peers, seen, p.host, p.port);
  } else if (Array.isArray(rawPeers)) {
    parseDictPeers(rawPeers, peers, seen);
  }
  const peers6 = getBytes(d, "peers6");
  if (peers6 !== undefined) {
    const room = MAX_PEERS - peers.length;
    for (const p of parseCompactPeers(peers6, 6, room)) addPeer(peers, seen, p.host, p.port);
  }
  const result: AnnounceResult = {
    ...clampIntervals(getInt(d, "interval"), getInt(d, "min interval"), limits),
    peers,
  };
  const complete = nonNegative(getInt(d, "complete"));
  const incomplete = nonNegative(getInt(d, "incomplete"));
  if (complete !== undefined) result.complete = complete;
  if (incomplete !== undefined) result.incomplete = incomplete;
  const warning = getBytes(d, "warning message");
  if (warning !== undefined) result.warning = remoteText(warning);
  const trackerId = getBytes(d, "tracker id");
  if (trackerId !== undefined && trackerId.length > 0 && trackerId.length <= 256) {
    result.trackerId = latin1(trackerId);
  }
  return result;
}

/**
 * Parses an HTTP scrape answer (BEP 48) into counts keyed by lower-case hex info-hash. Entries
 * that are not 20-byte hashes with integer counts are skipped.
 *
 * @example
 * ```ts
 * import { parseHttpScrape } from "./response.ts";
 * const hash = "\x01".repeat(20);
 * const body = `d5:filesd20:${hash}d8:completei1e10:downloadedi2e10:incompletei3eeee`;
 * const bytes = Uint8Array.from(body, (c) => c.charCodeAt(0));
 * console.log(parseHttpScrape(bytes).get("01".repeat(20))); // { complete: 1, downloaded: 2, incomplete: 3 }
 * ```
 */
export function parseHttpScrape(body: Uint8Array): Map<string, ScrapeEntry> {
  const d = decodeBody(body);
  const failure = getBytes(d, "failure reason");
  if (failure !== undefined) {
    throw new TrackerError(`failure reason: ${remoteText(failure) || "(empty)"}`, "failure");
  }
  const files = d.get("files");
  if (!isDict(files)) throw new TrackerError("answered a scrape without files");
  const out = new Map<string, ScrapeEntry>();
  for (const [key, value] of files) {
    if (key.length !== 20 || !isDict(value)) continue;
    const complete = nonNegative(getInt(value, "complete")) ?? 0;
    const downloaded = nonNegative(getInt(value, "downloaded")) ?? 0;
    const incomplete = nonNegative(getInt(value, "incomplete")) ?? 0;
    const hash = Uint8Array.from(key, (c) => c.charCodeAt(0) & 0xff);
    out.set(toHex(hash), { complete, downloaded, incomplete });
  }
  return out;
}

/** UDP tracker actions (BEP 15). */
export const UdpAction = Object.freeze({ connect: 0, announce: 1, scrape: 2, error: 3 });

/** A decoded UDP tracker answer (BEP 15). */
export type UdpResponse =
  | { action: "connect"; transactionId: number; connectionId: bigint }
  | { action: "announce"; transactionId: number; result: AnnounceResult }
  | { action: "scrape"; transactionId: number; entries: ScrapeEntry[] }
  | { action: "error"; transactionId: number; message: string };

/**
 * Decodes one UDP tracker packet (BEP 15). `family` says how announce peers are packed: IPv4
 * for a request sent over IPv4, IPv6 for one sent over IPv6. Extra trailing bytes in connect
 * answers are allowed (the BEP warns packets may grow); short packets throw `TrackerError`.
 *
 * @example
 * ```ts
 * import { parseUdpResponse } from "./response.ts";
 * const p = new Uint8Array(16);
 * new DataView(p.buffer).setUint32(4, 7);
 * new DataView(p.buffer).setBigUint64(8, 42n);
 * console.log(parseUdpResponse(p, 4)); // { action: "connect", transactionId: 7, connectionId: 42n }
 * ```
 */
export function parseUdpResponse(
  packet: Uint8Array,
  family: 4 | 6,
  limits: IntervalLimits = DEFAULT_INTERVAL_LIMITS,
): UdpResponse {
  if (packet.length < 8) throw new TrackerError("answered with a UDP packet too short");
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const action = view.getUint32(0);
  const transactionId = view.getUint32(4);
  switch (action) {
    case UdpAction.connect:
      if (packet.length < 16) throw new TrackerError("answered with a UDP packet too short");
      return { action: "connect", transactionId, connectionId: view.getBigUint64(8) };
    case UdpAction.announce: {
      if (packet.length < 20) throw new TrackerError("answered with a UDP packet too short");
      const result: AnnounceResult = {
        ...clampIntervals(view.getUint32(8), undefined, limits),
        incomplete: view.getUint32(12),
        complete: view.getUint32(16),
        peers: parseCompactPeers(packet.subarray(20), family),
      };
      return { action: "announce", transactionId, result };
    }
    case UdpAction.scrape: {
      const entries: ScrapeEntry[] = [];
      for (let off = 8; off + 12 <= packet.length && entries.length < 1000; off += 12) {
        entries.push({
          complete: view.getUint32(off),
          downloaded: view.getUint32(off + 4),
          incomplete: view.getUint32(off + 8),
        });
      }
      return { action: "scrape", transactionId, entries };
    }
    case UdpAction.error:
      return { action: "error", transactionId, message: remoteText(packet.subarray(8)) };
    default:
      throw new TrackerError(`answered with unknown UDP action ${action}`);
  }
}

/**
 * Decodes a UDP announce answer; any other packet kind throws `TrackerError` (an error packet
 * as a `failure`).
 *
 * @example
 * ```ts
 * import { parseUdpAnnounce } from "./response.ts";
 * const p = new Uint8Array(26);
 * const v = new DataView(p.buffer);
 * v.setUint32(0, 1); // announce
 * v.setUint32(8, 1800); // interval
 * p.set([127, 0, 0, 1, 0x1a, 0xe1], 20);
 * console.log(parseUdpAnnounce(p, 4).result.peers); // [{ host: "127.0.0.1", port: 6881 }]
 * ```
 */
export function parseUdpAnnounce(
  packet: Uint8Array,
  family: 4 | 6,
  limits: IntervalLimits = DEFAULT_INTERVAL_LIMITS,
): { transactionId: number; result: AnnounceResult } {
  const r = parseUdpResponse(packet, family, limits);
  if (r.action === "error") {
    throw new TrackerError(`failure reason: ${r.message || "(empty)"}`, "failure");
  }
  if (r.action !== "announce") {
    throw new TrackerError(`answered with UDP ${r.action}, not announce`);
  }
  return { transactionId: r.transactionId, result: r.result };
}
