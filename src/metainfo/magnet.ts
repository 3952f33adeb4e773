/**
 * Magnet links (BEP 9): `magnet:?xt=urn:btih:<info-hash>&dn=<name>&tr=<tracker>&x.pe=<peer>`,
 * with BEP 52's `xt=urn:btmh:1220<sha-256>` for v2 torrents, alone or beside `urn:btih`. They
 * carry only the info-hash and hints; the info dictionary is then fetched from peers.
 *
 * @module
 */
import { fromHex, toHex } from "../util/mod.ts";
import { TorrentError } from "./error.ts";
import type { Torrent } from "./torrent.ts";

/** The longest magnet link we read (characters). */
export const MAX_MAGNET_LENGTH = 64 * 1024;

/** What a magnet link says about a torrent. */
export interface Magnet {
  /**
   * The 20 bytes peers know the torrent by: the v1 info-hash, or for a v2-only link the first
   * 20 bytes of the v2 one.
   */
  infoHash: Uint8Array;
  /** `infoHash` as 40 lower-case hex characters. */
  infoHashHex: string;
  /** The v2 info-hash (SHA-256 of the info dictionary, 32 bytes), from `urn:btmh`. */
  infoHashV2?: Uint8Array;
  /** Display name (`dn`), a hint until the info dictionary arrives. */
  name?: string;
  /** Tracker URLs (`tr`), in order, without duplicates. */
  trackers: string[];
  /** Peer addresses (`x.pe`); IPv6 hosts without brackets. */
  peers: { host: string; port: number }[];
  /** Web seed URLs (`ws`), in order, without duplicates. */
  webSeeds: string[];
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function base32ToBytes(s: string): Uint8Array | undefined {
  const out = new Uint8Array(Math.floor((s.length * 5) / 8));
  let bits = 0, acc = 0, n = 0;
  for (const ch of s.toUpperCase()) {
    const v = BASE32.indexOf(ch);
    if (v < 0) return undefined;
    acc = ((acc << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

function shorten(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function parseInfoHash(value: string): Uint8Array {
  if (value.length === 40 && /^[0-9a-fA-F]{40}$/.test(value)) return fromHex(value);
  if (value.length === 32) {
    const b = base32ToBytes(value);
    if (b) return b;
  }
  throw new TorrentError(
    `magnet link has an invalid info-hash "${
      shorten(value)
    }" (want 40 hex or 32 base32 characters)`,
  );
}

/** Percent-decodes, or `undefined` for a malformed escape or invalid UTF-8. */
function unescape(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function isIPv6(s: string): boolean {
  if (!/^[0-9A-Fa-f:.]{2,45}$/.test(s)) return false;
  try {
    return new URL(`http://[${s}]/`).hostname.startsWith("[");
  } catch {
    return false;
  }
}

/** `host:port`, `ipv4:port` or `[ipv6]:port` as BEP 9's `x.pe` gives it; `undefined` if bad. */
function parsePeer(s: string): { host: string; port: number } | undefined {
  const m = /^(\[([^\]]*)\]|[^:\[\]]+):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  if (m[2] !== undefined) return isIPv6(m[2]) ? { host: m[2], port } : undefined;
  const host = m[1];
  if (IPV4.test(host)) return { host, port };
  // A dotted all-numeric name is a malformed IPv4 address, not a host name.
  if (/^[\d.]+$/.test(host) || !HOSTNAME.test(host)) return undefined;
  return { host, port };
}

function isUrl(s: string): boolean {
  try {
    new URL(s);
    return true;
  } catch {
    return false;
  }
}

/** The BEP 52 multihash prefix of a SHA-256 info-hash: hash function 0x12, 0x20 bytes long. */
const SHA256_MULTIHASH = "1220";

function parseInfoHashV2(value: string): Uint8Array {
  const hex = value.toLowerCase();
  if (hex.length === 68 && hex.startsWith(SHA256_MULTIHASH) && /^[0-9a-f]+$/.test(hex)) {
    return fromHex(hex.slice(4));
  }
  throw new TorrentError(
    `magnet link has an invalid v2 info-hash "${shorten(value)}" (want 1220 and 64 hex characters)`,
  );
}

/**
 * Reads a magnet link. The info-hash comes from an `xt=urn:btih:` parameter (40 hex or 32 base32
 * characters, any case) and/or an `xt=urn:btmh:` one (a SHA-256 multihash, `1220` then 64 hex). `dn` is
 * percent-decoded with `+` as space; every `tr` and `ws` is kept once (invalid URLs skipped);
 * `x.pe` peers that are not `host:port` or `[ipv6]:port` are skipped. Numbered keys (`tr.1`)
 * count as their base key. Throws {@link TorrentError} with a one-line message.
 *
 * @example
 * ```ts
 * import { parseMagnet } from "./magnet.ts";
 * const m = parseMagnet(
 *   "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=My+File" +
 *     "&tr=udp%3A%2F%2F127.0.0.1%3A6969&x.pe=127.0.0.1:6881",
 * );
 * console.log(m.name, m.trackers, m.peers); // My File [ "udp://127.0.0.1:6969" ] [ { host: "127.0.0.1", port: 6881 } ]
 * ```
 */
export function parseMagnet(uri: string): Magnet {
  if (uri.length > MAX_MAGNET_LENGTH) {
    throw new TorrentError(
      `magnet link is too long (${uri.length} characters, limit ${MAX_MAGNET_LENGTH})`,
    );
  }
  const text = uri.trim();
  if (!/^magnet:\?/i.test(text)) {
    throw new TorrentError('not a magnet link (it must start with "magnet:?")');
  }
  let query = text.slice("magnet:?".length);
  const hash = query.indexOf("#");
  if (hash >= 0) query = query.slice(0, hash);
  let infoHash: Uint8Array | undefined;
  let infoHashV2: Uint8Array | undefined;
  let name: string | undefined;
  const trackers: string[] = [], webSeeds: string[] = [];
  const peers: { host: string; port: number }[] = [];
  const seenPeers = new Set<string>();
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const key = part.slice(0, eq).toLowerCase().replace(/\.\d+$/, "");
    const raw = part.slice(eq + 1);
    switch (key) {
      case "xt": {
        const v = unescape(raw) ?? raw;
        const lower = v.toLowerCase();
        if (lower.startsWith("urn:btih:")) {
          infoHash ??= parseInfoHash(v.slice("urn:btih:".length));
        } else if (lower.startsWith("urn:btmh:")) {
          infoHashV2 ??= parseInfoHashV2(v.slice("urn:btmh:".length));
        }
        break;
      }
      case "dn": {
        if (name !== undefined) break;
        const v = unescape(raw.replaceAll("+", " ")) ?? raw.replaceAll("+", " ");
        // deno-lint-ignore no-control-regex
        const clean = v.replace(/[\u0000-\u001f\u007f]/g, "").trim();
        if (clean !== "") name = clean;
        break;
      }
      case "tr":
      case "ws": {
        const v = unescape(raw);
        if (v === undefined || !isUrl(v)) break;
        const list = key === "tr" ? trackers : webSeeds;
        if (!list.includes(v)) list.push(v);
        break;
      }
      case "x.pe": {
        const v = unescape(raw);
        const peer = v === undefined ? undefined : parsePeer(v);
        if (!peer) break;
        const id = `${peer.host}|${peer.port}`;
        if (!seenPeers.has(id)) {
          seenPeers.add(id);
          peers.push(peer);
        }
        break;
      }
    }
  }
  infoHash ??= infoHashV2?.slice(0, 20);
  if (!infoHash) {
    throw new TorrentError("magnet link has no info-hash (xt=urn:btih:... or xt=urn:btmh:...)");
  }
  const out: Magnet = { infoHash, infoHashHex: toHex(infoHash), trackers, peers, webSeeds };
  if (infoHashV2 !== undefined) out.infoHashV2 = infoHashV2;
  if (name !== undefined) out.name = name;
  return out;
}

/**
 * Builds a magnet link (for tests, demos and `info` output): the btih info-hash and the btmh one
 * (`1220` and the SHA-256, BEP 52) for what the torrent has, then `dn`, each `tr`, `x.pe` and
 * `ws`, percent-encoded. Throws {@link TorrentError} when neither hash is given or one is not 40
 * (v1) or 64 (v2) hex characters.
 *
 * @example
 * ```ts
 * import { magnetUri, parseMagnet } from "./magnet.ts";
 * const uri = magnetUri({
 *   infoHashHex: "0123456789abcdef0123456789abcdef01234567",
 *   name: "a b",
 *   trackers: ["http://127.0.0.1:8000/announce"],
 * });
 * console.log(parseMagnet(uri).name); // "a b"
 * ```
 */
export function magnetUri(m: {
  infoHashHex?: string;
  infoHashV2Hex?: string;
  name?: string;
  trackers?: string[];
  peers?: { host: string; port: number }[];
  webSeeds?: string[];
}): string {
  const hashes: string[] = [];
  for (
    const [hex, digits, urn] of [[m.infoHashHex, 40, "btih:"], [
      m.infoHashV2Hex,
      64,
      "btmh:1220",
    ]] as const
  ) {
    if (hex === undefined) continue;
    if (hex.length !== digits || !/^[0-9a-fA-F]*$/.test(hex)) {
      throw new TorrentError(`invalid info-hash "${shorten(hex)}" (want ${digits} hex characters)`);
    }
    hashes.push(`xt=urn:${urn}${hex.toLowerCase()}`);
  }
  if (hashes.length === 0) throw new TorrentError("a magnet link needs an info-hash");
  let uri = `magnet:?${hashes.join("&")}`;
  if (m.name !== undefined) uri += `&dn=${encodeURIComponent(m.name)}`;
  for (const t of m.trackers ?? []) uri += `&tr=${encodeURIComponent(t)}`;
  for (const p of m.peers ?? []) {
    const host = p.host.includes(":") ? `[${p.host}]` : p.host;
    uri += `&x.pe=${encodeURIComponent(`${host}:${p.port}`)}`;
  }
  for (const w of m.webSeeds ?? []) uri += `&ws=${encodeURIComponent(w)}`;
  return uri;
}

/**
 * A torrent's magnet link: its info-hashes (v1, v2 or both), name, trackers (its own unless
 * `trackers` are given) and web seeds.
 *
 * @example
 * ```ts
 * import { torrentMagnet } from "./magnet.ts";
 * import { createTorrentFromBuffers, parseTorrent } from "./mod.ts";
 * const t = parseTorrent(createTorrentFromBuffers("a", new Uint8Array(5), { version: "v1" }));
 * console.log(torrentMagnet(t) === `magnet:?xt=urn:btih:${t.infoHashHex}&dn=a`); // true
 * ```
 */
export function torrentMagnet(
  torrent: Pick<
    Torrent,
    "version" | "infoHashHex" | "infoHashV2" | "name" | "announce" | "urlList"
  >,
  trackers: string[] = torrent.announce.flat(),
): string {
  return magnetUri({
    infoHashHex: torrent.version === "v2" ? undefined : torrent.infoHashHex,
    infoHashV2Hex: torrent.infoHashV2 === undefined ? undefined : toHex(torrent.infoHashV2),
    name: torrent.name,
    trackers,
    webSeeds: torrent.urlList,
  });
}
