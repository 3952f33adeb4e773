/**
 * The peers other nodes announced to us (`announce_peer`, BEP 5), kept per info-hash with
 * hard caps so a flood of announces costs bounded memory: at most `maxPeersPerHash` peers per
 * info-hash (the least recently announced one makes room), at most `maxHashes` info-hashes
 * (new ones are refused when full), and every entry expires `ttlMs` after its last announce.
 *
 * @module
 */
import { addressKey, type PeerAddress } from "./addr.ts";
import { checkId } from "./id.ts";
import { toHex } from "../util/mod.ts";

/** Default cap of peers per info-hash. */
export const MAX_PEERS_PER_HASH = 100;
/** Default cap of info-hashes. */
export const MAX_HASHES = 5000;
/** Default lifetime of an announce (30 minutes, as mainline clients re-announce every 15). */
export const PEER_TTL_MS = 30 * 60_000;

/** Options of a {@link PeerStore}. */
export interface PeerStoreOptions {
  maxPeersPerHash?: number;
  maxHashes?: number;
  ttlMs?: number;
  /** Clock in milliseconds; default `Date.now`. */
  now?: () => number;
}

interface Entry {
  host: string;
  port: number;
  expires: number;
}

/**
 * Announced peers by info-hash.
 *
 * @example
 * ```ts
 * import { PeerStore } from "./store.ts";
 * const store = new PeerStore();
 * const hash = new Uint8Array(20).fill(1);
 * store.add(hash, { host: "127.0.0.1", port: 6881 });
 * console.log(store.get(hash)); // [ { host: "127.0.0.1", port: 6881 } ]
 * ```
 */
export class PeerStore {
  readonly #maxPeers: number;
  readonly #maxHashes: number;
  readonly #ttl: number;
  readonly #now: () => number;
  /** Per hash, entries in order of their last announce (Map order), oldest first. */
  readonly #swarms = new Map<string, Map<string, Entry>>();

  /** An empty store with the given caps. */
  constructor(opts: PeerStoreOptions = {}) {
    this.#maxPeers = opts.maxPeersPerHash ?? MAX_PEERS_PER_HASH;
    this.#maxHashes = opts.maxHashes ?? MAX_HASHES;
    this.#ttl = opts.ttlMs ?? PEER_TTL_MS;
    this.#now = opts.now ?? Date.now;
  }

  /** Info-hashes with at least one peer (expired ones may linger until the next purge). */
  get hashCount(): number {
    return this.#swarms.size;
  }

  /**
   * Records (or refreshes) a peer of `infoHash`. Returns false when the store is full of other
   * info-hashes.
   */
  add(infoHash: Uint8Array, peer: PeerAddress): boolean {
    const key = toHex(checkId(infoHash, "info-hash"));
    let swarm = this.#swarms.get(key);
    if (!swarm) {
      if (this.#swarms.size >= this.#maxHashes) this.purge();
      if (this.#swarms.size >= this.#maxHashes) return false;
      swarm = new Map();
      this.#swarms.set(key, swarm);
    }
    const pk = addressKey(peer);
    swarm.delete(pk);
    swarm.set(pk, { host: peer.host, port: peer.port, expires: this.#now() + this.#ttl });
    while (swarm.size > this.#maxPeers) {
      const oldest = swarm.keys().next().value;
      if (oldest === undefined) break;
      swarm.delete(oldest);
    }
    return true;
  }

  /** Up to `max` live peers of `infoHash`, a random pick when there are more. */
  get(infoHash: Uint8Array, max = 50): PeerAddress[] {
    const key = toHex(checkId(infoHash, "info-hash"));
    const swarm = this.#swarms.get(key);
    if (!swarm) return [];
    const now = this.#now();
    const live: PeerAddress[] = [];
    for (const [pk, e] of swarm) {
      if (e.expires <= now) swarm.delete(pk);
      else live.push({ host: e.host, port: e.port });
    }
    if (swarm.size === 0) this.#swarms.delete(key);
    for (let i = 0; i < Math.min(max, live.length); i++) {
      const j = i + Math.floor(Math.random() * (live.length - i));
      [live[i], live[j]] = [live[j], live[i]];
    }
    return live.slice(0, Math.max(0, max));
  }

  /** Live peer count of one info-hash. */
  peerCount(infoHash: Uint8Array): number {
    return this.get(infoHash, Number.MAX_SAFE_INTEGER).length;
  }

  /** Drops expired entries and empty info-hashes. */
  purge(): void {
    const now = this.#now();
    for (const [key, swarm] of this.#swarms) {
      for (const [pk, e] of swarm) if (e.expires <= now) swarm.delete(pk);
      if (swarm.size === 0) this.#swarms.delete(key);
    }
  }
}
