/**
 * A small tracker of our own for the demo and tests: HTTP announce/scrape (BEP 3, 23, 7, 48)
 * through `Deno.serve` and UDP announce/scrape (BEP 15) through `node:dgram`, both over one
 * in-memory swarm table keyed by info-hash.
 *
 * @module
 */
import dgram from "node:dgram";
import { type Encodable, encode } from "../bencode/mod.ts";
import { sha1, toHex } from "../util/mod.ts";
import { normalizeHost, UdpAction } from "./response.ts";
import { parseIPv4, parseIPv6 } from "../util/mod.ts";
import { type AnnounceEvent, type PeerAddress, type ScrapeEntry, TrackerError } from "./types.ts";
import { UDP_PROTOCOL_ID } from "./udp.ts";

/** How `startTracker` listens and what interval it hands out. */
export interface TrackerServerOptions {
  /** Address to listen on. Default `127.0.0.1`. */
  hostname?: string;
  /** Port for HTTP (and UDP when free). Default 0: any free port. */
  port?: number;
  /** Announce interval told to clients, in seconds. Default 60. */
  interval?: number;
}

/** A running tracker. */
export interface TrackerServer {
  /** `http://host:port/announce` */
  httpUrl: string;
  /** `udp://host:port` */
  udpUrl: string;
  /** The HTTP port. */
  port: number;
  /** The UDP port (the HTTP one when it was free). */
  udpPort: number;
  /** Current counts of one torrent (hex info-hash), for tests and the demo. */
  swarm(infoHashHex: string): ScrapeEntry & { peers: PeerAddress[] };
  /** Stops both listeners. */
  close(): Promise<void>;
}

/** An announce as the server received it, over either transport. */
export interface AnnounceRequest {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  port: number;
  uploaded: number;
  downloaded: number;
  left: number;
  event: AnnounceEvent;
  /** Peers wanted; `undefined` for the default. */
  numWant?: number;
  /** `compact=0` asked for a dictionary list (HTTP only). */
  compact: boolean;
  noPeerId: boolean;
}

const MAX_TORRENTS = 10_000;
const MAX_PEERS_PER_TORRENT = 5_000;
const DEFAULT_NUMWANT = 50;
const MAX_NUMWANT = 200;
const MAX_QUERY = 8192;

/** Percent-decodes a query component into bytes; `undefined` on a malformed escape. */
export function percentDecodeBytes(s: string): Uint8Array | undefined {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      out.push(parseInt(hex, 16));
      i += 2;
    } else if (c < 0x80) {
      out.push(c);
    } else {
      return undefined;
    }
  }
  return Uint8Array.from(out);
}

function intParam(v: string | undefined, name: string, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined || !/^\d{1,16}$/.test(v)) throw new TrackerError(`invalid ${name}`);
  const n = Number(v);
  if (n > max) throw new TrackerError(`invalid ${name}`);
  return n;
}

/**
 * Parses the raw query string of an HTTP announce (without `?`). Throws `TrackerError` with a
 * message fit to send back as `failure reason`.
 *
 * @example
 * ```ts
 * import { parseAnnounceQuery } from "./server.ts";
 * const id = "%41".repeat(20);
 * const q = parseAnnounceQuery(`info_hash=${id}&peer_id=${id}&port=6881&left=0`);
 * console.log(q.port, q.left, q.event); // 6881 0 undefined
 * ```
 */
export function parseAnnounceQuery(query: string): AnnounceRequest {
  if (query.length > MAX_QUERY) throw new TrackerError("query too long");
  const params = new Map<string, string>();
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const k = eq < 0 ? part : part.slice(0, eq);
    if (!params.has(k)) params.set(k, eq < 0 ? "" : part.slice(eq + 1));
  }
  const bytes20 = (name: string): Uint8Array => {
    const raw = params.get(name);
    const b = raw === undefined ? undefined : percentDecodeBytes(raw);
    if (b === undefined || b.length !== 20) throw new TrackerError(`invalid ${name}`);
    return b;
  };
  const infoHash = bytes20("info_hash");
  const peerId = bytes20("peer_id");
  const port = intParam(params.get("port"), "port", 65535);
  if (port === 0) throw new TrackerError("invalid port");
  const opt = (name: string) => params.has(name) ? intParam(params.get(name), name) : 0;
  const ev = params.get("event");
  let event: AnnounceEvent;
  if (ev === "started" || ev === "completed" || ev === "stopped") event = ev;
  else if (ev === undefined || ev === "" || ev === "empty") event = undefined;
  else throw new TrackerError("invalid event");
  const numWant = params.has("numwant") ? intParam(params.get("numwant"), "numwant") : undefined;
  return {
    infoHash,
    peerId,
    port,
    uploaded: opt("uploaded"),
    downloaded: opt("downloaded"),
    left: opt("left"),
    event,
    numWant,
    compact: params.get("compact") !== "0",
    noPeerId: params.get("no_peer_id") === "1",
  };
}

/** A decoded UDP tracker request (BEP 15), as the server sees it. */
export type UdpRequest =
  | { action: "connect"; transactionId: number }
  | {
    action: "announce";
    transactionId: number;
    connectionId: bigint;
    announce: AnnounceRequest;
  }
  | { action: "scrape"; transactionId: number; connectionId: bigint; infoHashes: Uint8Array[] }
  | { action: "unknown"; transactionId: number; code: number };

/**
 * Decodes a UDP tracker request packet. Throws `TrackerError` for packets too short to answer
 * (they are dropped silently) or a connect without the protocol magic.
 *
 * @example
 * ```ts
 * import { parseUdpRequest } from "./server.ts";
 * const p = new Uint8Array(16);
 * const v = new DataView(p.buffer);
 * v.setBigUint64(0, 0x41727101980n);
 * v.setUint32(12, 99);
 * console.log(parseUdpRequest(p)); // { action: "connect", transactionId: 99 }
 * ```
 */
export function parseUdpRequest(packet: Uint8Array): UdpRequest {
  if (packet.length < 16) throw new TrackerError("UDP request too short");
  const v = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const connectionId = v.getBigUint64(0);
  const action = v.getUint32(8);
  const transactionId = v.getUint32(12);
  if (action === UdpAction.connect) {
    if (connectionId !== UDP_PROTOCOL_ID) throw new TrackerError("UDP connect without magic");
    return { action: "connect", transactionId };
  }
  if (action === UdpAction.announce) {
    if (packet.length < 98) throw new TrackerError("UDP announce too short");
    const code = v.getUint32(80);
    const event: AnnounceEvent = code === 1
      ? "completed"
      : code === 2
      ? "started"
      : code === 3
      ? "stopped"
      : undefined;
    const big = (off: number) => {
      const n = v.getBigUint64(off);
      return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
    };
    const want = v.getInt32(92);
    const port = v.getUint16(96);
    if (port === 0) throw new TrackerError("UDP announce with port 0");
    return {
      action: "announce",
      transactionId,
      connectionId,
      announce: {
        infoHash: packet.slice(16, 36),
        peerId: packet.slice(36, 56),
        downloaded: big(56),
        left: big(64),
        uploaded: big(72),
        event,
        numWant: want < 0 ? undefined : want,
        port,
        compact: true,
        noPeerId: true,
      },
    };
  }
  if (action === UdpAction.scrape) {
    const n = Math.min(74, Math.floor((packet.length - 16) / 20));
    if (n < 1) throw new TrackerError("UDP scrape without info-hash");
    const infoHashes: Uint8Array[] = [];
    for (let i = 0; i < n; i++) infoHashes.push(packet.slice(16 + 20 * i, 36 + 20 * i));
    return { action: "scrape", transactionId, connectionId, infoHashes };
  }
  return { action: "unknown", transactionId, code: action };
}

interface PeerEntry {
  host: string;
  port: number;
  peerId: Uint8Array;
  left: number;
  seenAt: number;
}

interface Torrent {
  peers: Map<string, PeerEntry>;
  downloaded: number;
}

/**
 * Clients announce no more often than they like, whatever interval they are told: libtorrent
 * waits at least 5 minutes (its `min_announce_interval`).
 */
const SLOWEST_CLIENT_INTERVAL_S = 300;

/**
 * How long a peer stays listed after its last announce, for a tracker handing out `interval`
 * seconds: two missed announces at the slower of that interval and the slowest client's own.
 * (At 2 × 60 s, libtorrent seeders fell off the list for three minutes in every five.)
 *
 * @example
 * ```ts
 * import { peerLifetimeMs } from "./server.ts";
 * console.log(peerLifetimeMs(60) / 1000, peerLifetimeMs(1800) / 1000); // 605 3605
 * ```
 */
export function peerLifetimeMs(interval: number): number {
  return (2 * Math.max(interval, SLOWEST_CLIENT_INTERVAL_S) + 5) * 1000;
}

/** The swarm table both transports share. */
class Swarms {
  readonly #torrents = new Map<string, Torrent>();
  readonly #ttlMs: number;
  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  #expire(t: Torrent, now: number): void {
    for (const [id, p] of t.peers) if (now - p.seenAt > this.#ttlMs) t.peers.delete(id);
  }

  counts(hex: string): ScrapeEntry {
    const t = this.#torrents.get(hex);
    if (t === undefined) return { complete: 0, downloaded: 0, incomplete: 0 };
    this.#expire(t, Date.now());
    let complete = 0;
    for (const p of t.peers.values()) if (p.left === 0) complete++;
    return { complete, downloaded: t.downloaded, incomplete: t.peers.size - complete };
  }

  peersOf(hex: string): PeerAddress[] {
    const t = this.#torrents.get(hex);
    return t === undefined
      ? []
      : [...t.peers.values()].map((p) => ({ host: p.host, port: p.port }));
  }

  /** Records an announce; returns up to `numWant` other peers and the swarm counts. */
  announce(req: AnnounceRequest, host: string): { peers: PeerEntry[]; counts: ScrapeEntry } {
    const hex = toHex(req.infoHash);
    const id = toHex(req.peerId);
    const now = Date.now();
    let t = this.#torrents.get(hex);
    if (req.event === "stopped") {
      t?.peers.delete(id);
      if (t !== undefined && t.peers.size === 0) this.#torrents.delete(hex);
      return { peers: [], counts: this.counts(hex) };
    }
    if (t === undefined) {
      if (this.#torrents.size >= MAX_TORRENTS) throw new TrackerError("tracker is full");
      t = { peers: new Map(), downloaded: 0 };
      this.#torrents.set(hex, t);
    }
    this.#expire(t, now);
    const known = t.peers.get(id);
    if (known === undefined && t.peers.size >= MAX_PEERS_PER_TORRENT) {
      throw new TrackerError("swarm is full");
    }
    if (req.event === "completed" && known !== undefined && known.left > 0) t.downloaded++;
    t.peers.set(id, { host, port: req.port, peerId: req.peerId, left: req.left, seenAt: now });
    const want = Math.min(req.numWant ?? DEFAULT_NUMWANT, MAX_NUMWANT);
    const others = [...t.peers.entries()].filter(([k]) => k !== id).map(([, p]) => p);
    for (let i = others.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [others[i], others[j]] = [others[j], others[i]];
    }
    return { peers: others.slice(0, want), counts: this.counts(hex) };
  }
}

function compact(peers: PeerEntry[], family: 4 | 6): Uint8Array {
  const size = family === 4 ? 6 : 18;
  const chosen: { ip: Uint8Array; port: number }[] = [];
  for (const p of peers) {
    const ip = family === 4 ? parseIPv4(p.host) : parseIPv6(p.host);
    if (ip !== undefined) chosen.push({ ip, port: p.port });
  }
  const out = new Uint8Array(chosen.length * size);
  chosen.forEach((c, i) => {
    out.set(c.ip, i * size);
    out[i * size + size - 2] = c.port >> 8;
    out[i * size + size - 1] = c.port & 0xff;
  });
  return out;
}

function bencodeResponse(value: Encodable): Response {
  return new Response(new Uint8Array(encode(value)), { headers: { "content-type": "text/plain" } });
}

function failure(message: string): Response {
  return bencodeResponse({ "failure reason": message });
}

/**
 * Starts a tracker on `hostname` (default 127.0.0.1) serving HTTP announce at `/announce`,
 * scrape at `/scrape`, and UDP on the same port number when it is free.
 *
 * @example
 * ```ts
 * import { startTracker } from "./server.ts";
 * const tracker = await startTracker({ port: 0 });
 * console.log(tracker.httpUrl.startsWith("http://127.0.0.1:")); // true
 * await tracker.close();
 * ```
 */
export async function startTracker(opts: TrackerServerOptions = {}): Promise<TrackerServer> {
  const hostname = opts.hostname ?? "127.0.0.1";
  const interval = Math.max(1, Math.floor(opts.interval ?? 60));
  const swarms = new Swarms(peerLifetimeMs(interval));
  const family: 4 | 6 = hostname.includes(":") ? 6 : 4;
  const secret = crypto.getRandomValues(new Uint8Array(16));

  const http = Deno.serve({ hostname, port: opts.port ?? 0, onListen: () => {} }, (req, info) => {
    const url = new URL(req.url);
    const remote = normalizeHost(info.remoteAddr.hostname) ?? info.remoteAddr.hostname;
    const query = url.search.startsWith("?") ? url.search.slice(1) : url.search;
    if (url.pathname === "/announce") return httpAnnounce(query, remote);
    if (url.pathname === "/scrape") return httpScrape(query);
    return new Response("not found", { status: 404 });
  });
  const port = http.addr.port;

  function httpAnnounce(query: string, remote: string): Response {
    let req: AnnounceRequest;
    let result: { peers: PeerEntry[]; counts: ScrapeEntry };
    try {
      req = parseAnnounceQuery(query);
      result = swarms.announce(req, remote);
    } catch (e) {
      return failure(e instanceof TrackerError ? e.message : "bad request");
    }
    const body: Record<string, Encodable> = {
      interval,
      "min interval": Math.max(1, Math.floor(interval / 2)),
      complete: result.counts.complete,
      incomplete: result.counts.incomplete,
    };
    if (req.compact) {
      body.peers = compact(result.peers, 4);
      const six = compact(result.peers, 6);
      if (six.length > 0) body.peers6 = six;
    } else {
      body.peers = result.peers.map((p) => {
        const d: Record<string, Encodable> = { ip: p.host, port: p.port };
        if (!req.noPeerId) d["peer id"] = p.peerId;
        return d;
      });
    }
    return bencodeResponse(body);
  }

  function httpScrape(query: string): Response {
    if (query.length > MAX_QUERY) return failure("query too long");
    const files = new Map<string, Encodable>();
    for (const part of query.split("&")) {
      if (!part.startsWith("info_hash=")) continue;
      const h = percentDecodeBytes(part.slice(10));
      if (h === undefined || h.length !== 20) return failure("invalid info_hash");
      const c = swarms.counts(toHex(h));
      files.set(String.fromCharCode(...h), { ...c });
    }
    return bencodeResponse({ files });
  }

  function connectionIdFor(address: string, window: number): bigint {
    const w = new Uint8Array(4);
    new DataView(w.buffer).setUint32(0, window);
    const h = sha1(secret, new TextEncoder().encode(address), w);
    return new DataView(h.buffer, h.byteOffset, 8).getBigUint64(0);
  }
  const connectionValid = (id: bigint, address: string) => {
    const window = Math.floor(Date.now() / 60_000);
    return id === connectionIdFor(address, window) || id === connectionIdFor(address, window - 1);
  };

  const udp = dgram.createSocket(family === 6 ? "udp6" : "udp4");
  const bindUdp = (p: number) =>
    new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      udp.once("error", onError);
      udp.bind(p, hostname, () => {
        udp.off("error", onError);
        resolve();
      });
    });
  try {
    await bindUdp(port);
  } catch {
    await bindUdp(0);
  }
  udp.on("error", () => {}); // a bad send must not crash the process
  udp.on("message", (msg: Uint8Array, rinfo: dgram.RemoteInfo) => {
    const packet = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
    const reply = answerUdp(packet, rinfo.address);
    if (reply !== undefined) udp.send(reply, rinfo.port, rinfo.address);
  });
  const udpPort = udp.address().port;

  function udpError(tid: number, message: string): Uint8Array {
    const text = new TextEncoder().encode(message);
    const out = new Uint8Array(8 + text.length);
    const v = new DataView(out.buffer);
    v.setUint32(0, UdpAction.error);
    v.setUint32(4, tid);
    out.set(text, 8);
    return out;
  }

  function answerUdp(packet: Uint8Array, address: string): Uint8Array | undefined {
    let req: UdpRequest;
    try {
      req = parseUdpRequest(packet);
    } catch {
      return undefined;
    }
    const host = normalizeHost(address) ?? address;
    if (req.action === "connect") {
      const out = new Uint8Array(16);
      const v = new DataView(out.buffer);
      v.setUint32(0, UdpAction.connect);
      v.setUint32(4, req.transactionId);
      v.setBigUint64(8, connectionIdFor(host, Math.floor(Date.now() / 60_000)));
      return out;
    }
    if (req.action === "unknown") return udpError(req.transactionId, "unknown action");
    if (!connectionValid(req.connectionId, host)) {
      return udpError(req.transactionId, "connection id mismatch");
    }
    if (req.action === "scrape") {
      const out = new Uint8Array(8 + 12 * req.infoHashes.length);
      const v = new DataView(out.buffer);
      v.setUint32(0, UdpAction.scrape);
      v.setUint32(4, req.transactionId);
      req.infoHashes.forEach((h, i) => {
        const c = swarms.counts(toHex(h));
        v.setUint32(8 + 12 * i, c.complete);
        v.setUint32(12 + 12 * i, c.downloaded);
        v.setUint32(16 + 12 * i, c.incomplete);
      });
      return out;
    }
    let result: { peers: PeerEntry[]; counts: ScrapeEntry };
    try {
      result = swarms.announce(req.announce, host);
    } catch (e) {
      return udpError(req.transactionId, e instanceof TrackerError ? e.message : "bad request");
    }
    const peers = compact(result.peers, family);
    const out = new Uint8Array(20 + peers.length);
    const v = new DataView(out.buffer);
    v.setUint32(0, UdpAction.announce);
    v.setUint32(4, req.transactionId);
    v.setUint32(8, interval);
    v.setUint32(12, result.counts.incomplete);
    v.setUint32(16, result.counts.complete);
    out.set(peers, 20);
    return out;
  }

  const shown = family === 6 ? `[${hostname}]` : hostname;
  let closing: Promise<void> | undefined;
  return {
    httpUrl: `http://${shown}:${port}/announce`,
    udpUrl: `udp://${shown}:${udpPort}`,
    port,
    udpPort,
    swarm: (hex: string) => ({ ...swarms.counts(hex), peers: swarms.peersOf(hex) }),
    close: () => {
      closing ??= Promise.all([
        http.shutdown(),
        new Promise<void>((resolve) => udp.close(() => resolve())),
      ]).then(() => {});
      return closing;
    },
  };
}
