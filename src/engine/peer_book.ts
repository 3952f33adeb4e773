/**
 * The address book of one torrent's swarm: every peer address from every source (trackers, DHT,
 * PEX, magnet links, inbound), deduplicated, with back-off after failed dials and bans that stick.
 * It dials on its owner's behalf while the owner has free connection slots.
 *
 * @module
 */
import { formatAddress, type PeerConnection, SelfConnectionError } from "../peer/mod.ts";
import { toHex } from "../util/mod.ts";

/** Where a peer address came from, for the status line. */
export type PeerSource = "tracker" | "incoming" | "dht" | "pex" | "magnet" | "manual";

/** A peer address to dial. */
export interface PeerAddress {
  host: string;
  port: number;
}

/** A peer address and where it came from. */
export interface SourcedAddress extends PeerAddress {
  source: PeerSource;
}

/** One address in the book. */
export interface BookEntry extends PeerAddress {
  source: PeerSource;
  failures: number;
  retryAt: number;
  state: "idle" | "connecting" | "connected" | "banned";
}

/** What the book needs from its owner. */
export interface PeerBookOptions {
  /** Dials and handshakes one address. */
  connect: (host: string, port: number) => Promise<PeerConnection>;
  /** A dial succeeded: the owner takes the connection. */
  onConnected: (conn: PeerConnection, entry: BookEntry) => void;
  /** Connections the owner holds now, and the most it wants (which may change as it runs). */
  connectedCount: () => number;
  maxPeers: () => number;
  /** Dials in progress at once. Default 8. */
  maxHalfOpen?: number;
  onDebug?: (message: string) => void;
}

/** The inverse of `formatAddress`: `host:port` or `[v6]:port` back to its parts. */
export function splitAddressKey(address: string): PeerAddress {
  const colon = address.lastIndexOf(":");
  return {
    host: address.slice(0, colon).replace(/^\[|\]$/g, ""),
    port: Number(address.slice(colon + 1)),
  };
}

/**
 * Known peers and the dialling policy.
 *
 * @example
 * ```ts
 * import { PeerBook } from "./peer_book.ts";
 * const book = new PeerBook({
 *   connect: () => Promise.reject(new Error("offline example")),
 *   onConnected: () => {},
 *   connectedCount: () => 0,
 *   maxPeers: () => 0, // dial nothing
 * });
 * book.add([{ host: "127.0.0.1", port: 6881 }, { host: "127.0.0.1", port: 6881 }], "tracker");
 * console.log(book.size); // 1
 * ```
 */
export class PeerBook {
  #entries = new Map<string, BookEntry>();
  #bannedIds = new Set<string>();
  #connecting = 0;
  #closed = false;

  constructor(readonly options: PeerBookOptions) {}

  /** Number of known addresses (banned ones included). */
  get size(): number {
    return this.#entries.size;
  }

  /** Dials in progress. */
  get connecting(): number {
    return this.#connecting;
  }

  /** Every known address with where it came from, for handing over to another owner. */
  addresses(): SourcedAddress[] {
    return [...this.#entries.values()].filter((e) => e.state !== "banned").map((e) => ({
      host: e.host,
      port: e.port,
      source: e.source,
    }));
  }

  /** Adds addresses (known ones are kept as they are) and dials if slots are free. */
  add(addresses: Iterable<PeerAddress>, source: PeerSource): void {
    for (const { host, port } of addresses) {
      if (!(Number.isInteger(port) && port > 0 && port < 65536) || host === "") continue;
      const key = formatAddress(host, port);
      if (!this.#entries.has(key)) {
        this.#entries.set(key, { host, port, source, failures: 0, retryAt: 0, state: "idle" });
      }
    }
    this.fill();
  }

  /**
   * The entry of an address a connection is open to already (one handed over from another
   * owner), added when new; it is not dialled.
   */
  entryFor(address: PeerAddress, source: PeerSource): BookEntry {
    const key = formatAddress(address.host, address.port);
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = { ...address, source, failures: 0, retryAt: 0, state: "idle" };
      this.#entries.set(key, entry);
    }
    return entry;
  }

  /** Dials idle addresses while the owner has free slots. */
  fill(): void {
    if (this.#closed) return;
    const now = performance.now();
    const maxHalfOpen = this.options.maxHalfOpen ?? 8;
    for (const entry of this.#entries.values()) {
      if (this.options.connectedCount() + this.#connecting >= this.options.maxPeers()) return;
      if (this.#connecting >= maxHalfOpen) return;
      if (entry.state !== "idle" || entry.retryAt > now) continue;
      this.#dial(entry);
    }
  }

  #dial(entry: BookEntry): void {
    entry.state = "connecting";
    this.#connecting++;
    this.options.connect(entry.host, entry.port).then((conn) => {
      this.#connecting--;
      if (this.#closed) return conn.close("stopped");
      entry.failures = 0;
      this.options.onConnected(conn, entry);
    }, (e) => {
      this.#connecting--;
      // Trackers list our own address; once dialled it is never dialled again.
      if (e instanceof SelfConnectionError) entry.state = "banned";
      this.#failed(entry, e instanceof Error ? e.message : String(e));
      this.fill();
    });
  }

  #failed(entry: BookEntry, reason: string): void {
    this.options.onDebug?.(`peer ${entry.host}:${entry.port}: ${reason}`);
    if (entry.state === "banned") return;
    entry.failures++;
    entry.state = "idle";
    entry.retryAt = performance.now() + Math.min(300_000, 5_000 * 2 ** (entry.failures - 1));
  }

  /** True when this peer id was banned. */
  isBanned(peerId: Uint8Array): boolean {
    return this.#bannedIds.has(toHex(peerId));
  }

  /** The owner holds a connection to `entry`. */
  connected(entry: BookEntry): void {
    if (entry.state !== "banned") entry.state = "connected";
  }

  /** A connection to `entry` ended; retry later (later still when it ended soon after starting). */
  disconnected(entry: BookEntry, shortLived: boolean): void {
    if (entry.state !== "connected") return;
    entry.state = "idle";
    entry.retryAt = performance.now() + (shortLived ? 30_000 : 5_000);
  }

  /** A second connection to a peer we already have: never dial this address again. */
  duplicate(entry: BookEntry): void {
    entry.state = "idle";
    entry.retryAt = Infinity;
  }

  /** Bans a peer by address and by id, so it cannot come back from another port either. */
  ban(host: string, port: number, peerId: Uint8Array, source: PeerSource): void {
    this.#bannedIds.add(toHex(peerId));
    const key = formatAddress(host, port);
    const entry = this.#entries.get(key);
    if (entry) entry.state = "banned";
    else {
      this.#entries.set(key, {
        host,
        port,
        source,
        failures: 0,
        retryAt: Infinity,
        state: "banned",
      });
    }
  }

  /** Stops dialling; connections in progress are closed as they complete. */
  close(): void {
    this.#closed = true;
  }
}
