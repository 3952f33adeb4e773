/**
 * ut_pex (BEP 11): peers tell each other which peers they are connected to. The codec for the
 * compact `added`/`dropped` lists (IPv4 and IPv6) and {@link PexState}, the per-connection
 * memory that makes each message carry only the changes since the last one.
 *
 * @module
 */
import { type BencodeValue, decode, encode, isDict } from "../bencode/mod.ts";
import { ExtensionError } from "./error.ts";
import { formatIp, parseIp } from "../util/mod.ts";

/** Bits of the `added.f` flags byte of each added peer (BEP 11). */
export const PEX_FLAGS = {
  /** The peer prefers encrypted connections. */
  encryption: 0x01,
  /** The peer is a seed (or only uploads). */
  seed: 0x02,
  /** The peer supports uTP. */
  utp: 0x04,
  /** The peer supports the ut_holepunch extension. */
  holepunch: 0x08,
  /** The connection to the peer was made outwards, so its address is reachable. */
  outgoing: 0x10,
} as const;

/** A peer address in a PEX message; `host` is a literal IPv4 or IPv6 address. */
export interface PexPeer {
  host: string;
  port: number;
  /** `PEX_FLAGS` bits; only for added peers, and only when the sender gave them. */
  flags?: number;
}

/** One PEX message: peers the sender connected to, and peers it dropped, since the last one. */
export interface PexMessage {
  added: PexPeer[];
  dropped: PexPeer[];
}

/** The most entries read from each list of a received message; the rest are ignored. */
export const MAX_PEX_ENTRIES = 200;

/** The largest PEX payload we decode. */
export const MAX_PEX_SIZE = 64 * 1024;

interface Compact {
  ip: Uint8Array;
  port: number;
  flags: number;
}

/** The compact form of a peer, or `undefined` when its host is not a literal IP or port is bad. */
function compact(p: PexPeer): Compact | undefined {
  if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) return undefined;
  const ip = parseIp(p.host);
  return ip ? { ip, port: p.port, flags: (p.flags ?? 0) & 0xff } : undefined;
}

function writeList(list: Compact[], width: number): { addrs: Uint8Array; flags: Uint8Array } {
  const addrs = new Uint8Array(list.length * (width + 2));
  const flags = new Uint8Array(list.length);
  list.forEach((c, i) => {
    const at = i * (width + 2);
    addrs.set(c.ip, at);
    addrs[at + width] = c.port >> 8;
    addrs[at + width + 1] = c.port & 0xff;
    flags[i] = c.flags;
  });
  return { addrs, flags };
}

/**
 * Bencoded payload of a PEX message, for `encodeExtended(remoteId, payload)`: IPv4 peers go to
 * `added`/`added.f`/`dropped`, IPv6 peers to `added6`/`added6.f`/`dropped6`. Peers whose host is
 * not a literal IP address or whose port is not in 1..65535 are left out. It does not limit the
 * count: {@link PexState} keeps each message within BEP 11's 50 + 50.
 *
 * @example
 * ```ts
 * import { encodePex, parsePex, PEX_FLAGS } from "./pex.ts";
 * const payload = encodePex({
 *   added: [{ host: "127.0.0.1", port: 6881, flags: PEX_FLAGS.seed }, { host: "::1", port: 7000 }],
 *   dropped: [{ host: "127.0.0.2", port: 6882 }],
 * });
 * console.log(parsePex(payload).added.length); // 2
 * ```
 */
export function encodePex(m: PexMessage): Uint8Array {
  const split = (peers: PexPeer[]) => {
    const v4: Compact[] = [], v6: Compact[] = [];
    for (const p of peers) {
      const c = compact(p);
      if (c) (c.ip.length === 4 ? v4 : v6).push(c);
    }
    return { v4: writeList(v4, 4), v6: writeList(v6, 16) };
  };
  const added = split(m.added), dropped = split(m.dropped);
  return encode({
    added: added.v4.addrs,
    "added.f": added.v4.flags,
    added6: added.v6.addrs,
    "added6.f": added.v6.flags,
    dropped: dropped.v4.addrs,
    dropped6: dropped.v6.addrs,
  });
}

function readList(
  value: BencodeValue | undefined,
  flags: BencodeValue | undefined,
  width: number,
  key: string,
): PexPeer[] {
  if (!(value instanceof Uint8Array)) return [];
  const step = width + 2;
  if (value.length % step !== 0) {
    throw new ExtensionError(
      `PEX list "${key}" has ${value.length} bytes, not a multiple of ${step}`,
    );
  }
  const f = flags instanceof Uint8Array ? flags : undefined;
  const count = Math.min(value.length / step, MAX_PEX_ENTRIES);
  const out: PexPeer[] = [];
  for (let i = 0; i < count; i++) {
    const at = i * step;
    const port = (value[at + width] << 8) | value[at + width + 1];
    if (port === 0) continue;
    const ip = value.subarray(at, at + width);
    if (ip.every((b) => b === 0)) continue; // the unspecified address cannot be dialled
    const peer: PexPeer = { host: formatIp(ip)!, port };
    if (f && i < f.length) peer.flags = f[i];
    out.push(peer);
  }
  return out;
}

/**
 * Reads a PEX payload. Throws {@link ExtensionError} when it is not a bencoded dictionary, is
 * larger than {@link MAX_PEX_SIZE}, or holds a compact list whose length is not a whole number of
 * entries. Lists of the wrong type are ignored, as are entries beyond {@link MAX_PEX_ENTRIES} per
 * list, entries with port 0 or the unspecified address. Flags come from `added.f`/`added6.f`
 * when present.
 *
 * @example
 * ```ts
 * import { parsePex } from "./pex.ts";
 * const raw = new Uint8Array([...new TextEncoder().encode("d5:added6:"), 127, 0, 0, 1, 0x1a, 0xe1, 0x65]);
 * console.log(parsePex(raw).added); // [ { host: "127.0.0.1", port: 6881 } ]
 * ```
 */
export function parsePex(payload: Uint8Array): PexMessage {
  if (payload.length > MAX_PEX_SIZE) {
    throw new ExtensionError(`PEX message is too large (${payload.length} bytes)`);
  }
  let value: BencodeValue;
  try {
    value = decode(payload, { maxDepth: 8, maxItems: 10_000, allowUnsortedKeys: true });
  } catch (e) {
    throw new ExtensionError(`PEX message is not valid bencode: ${(e as Error).message}`);
  }
  if (!isDict(value)) throw new ExtensionError("PEX message is not a dictionary");
  return {
    added: [
      ...readList(value.get("added"), value.get("added.f"), 4, "added"),
      ...readList(value.get("added6"), value.get("added6.f"), 16, "added6"),
    ],
    dropped: [
      ...readList(value.get("dropped"), undefined, 4, "dropped"),
      ...readList(value.get("dropped6"), undefined, 16, "dropped6"),
    ],
  };
}

/** Options of a {@link PexState}. */
export interface PexStateOptions {
  /** Least time between two messages to one peer (ms); BEP 11 asks for one minute. */
  intervalMs?: number;
  /** Most added (and, separately, most dropped) peers in one message; BEP 11 says 50. */
  maxPerMessage?: number;
}

/** A peer's identity for PEX: canonical address text and port. */
function keyOf(c: Compact): string {
  return `${formatIp(c.ip)}|${c.port}`;
}

/**
 * Per-connection PEX state (BEP 11): what we last told this peer, so each message carries only
 * changes. Peers beyond the per-message cap are left for later messages. Times are milliseconds
 * on one clock (default `Date.now()`).
 *
 * @example
 * ```ts
 * import { PexState } from "./pex.ts";
 * const state = new PexState({ intervalMs: 60_000 });
 * const a = { host: "127.0.0.1", port: 6881 }, b = { host: "127.0.0.1", port: 6882 };
 * console.log(state.next([a], 0)?.added.length); // 1 (first message goes at once)
 * console.log(state.next([b], 1_000)); // undefined (too soon)
 * const m = state.next([b], 61_000);
 * console.log(m?.added.length, m?.dropped.length); // 1 1
 * ```
 */
export class PexState {
  readonly #intervalMs: number;
  readonly #max: number;
  /** Peers the recipient has been told about and not told were dropped, by key. */
  #told = new Map<string, PexPeer>();
  #lastSent: number | undefined;

  constructor(opts: PexStateOptions = {}) {
    this.#intervalMs = Math.max(0, opts.intervalMs ?? 60_000);
    this.#max = Math.max(1, Math.floor(opts.maxPerMessage ?? 50));
  }

  /**
   * Given the peers connected now (excluding the recipient itself), returns the next message if
   * one is due (first call: at once if non-empty; after that at most once per interval) and
   * remembers it. Nothing changed means no message, and the interval is not restarted.
   */
  next(current: PexPeer[], now: number = Date.now()): PexMessage | undefined {
    if (this.#lastSent !== undefined && now - this.#lastSent < this.#intervalMs) return undefined;
    const seen = new Set<string>();
    const added: PexPeer[] = [];
    for (const p of current) {
      const c = compact(p);
      if (!c) continue;
      const key = keyOf(c);
      seen.add(key);
      if (added.length < this.#max && !this.#told.has(key)) {
        const peer: PexPeer = { host: formatIp(c.ip)!, port: c.port };
        if (p.flags !== undefined) peer.flags = c.flags;
        added.push(peer);
        this.#told.set(key, peer);
      }
    }
    const dropped: PexPeer[] = [];
    for (const [key, peer] of this.#told) {
      if (dropped.length >= this.#max) break;
      if (!seen.has(key)) {
        dropped.push({ host: peer.host, port: peer.port });
        this.#told.delete(key);
      }
    }
    if (added.length === 0 && dropped.length === 0) return undefined;
    this.#lastSent = now;
    return { added, dropped };
  }
}
