/**
 * Periodic DHT lookups for one torrent: find peers for its info-hash and announce that we are
 * one of them, at once and then every few minutes, until stopped.
 *
 * @module
 */
import type { PeerAddress } from "../engine/mod.ts";

/** The part of a DHT node a torrent uses. */
export interface DhtNode {
  /** Our node's UDP port, told to peers with PORT messages. */
  readonly port: number;
  /** Finds peers for `infoHash`, calling `onPeers` as they arrive; announces `announcePort`. */
  lookup(
    infoHash: Uint8Array,
    onPeers: (peers: PeerAddress[]) => void,
    opts?: { announcePort?: number },
  ): Promise<unknown>;
  /** A node learnt from a peer's PORT message. */
  addNode(host: string, port: number): void;
}

/**
 * Several DHT nodes used as one, e.g. an IPv4 and an IPv6 node (BEP 32): lookups run on all at
 * once and a node address goes to each (a node ignores the other family's addresses).
 *
 * @example
 * ```ts
 * import { combineDhtNodes } from "./dht_lookups.ts";
 * const node = (port: number) => ({ port, addNode() {}, lookup: () => Promise.resolve() });
 * console.log(combineDhtNodes([node(6881), node(6882)]).port); // 6881
 * ```
 */
export function combineDhtNodes(nodes: DhtNode[]): DhtNode {
  return {
    port: nodes[0].port,
    lookup: (infoHash, onPeers, opts) =>
      Promise.all(nodes.map((node) => node.lookup(infoHash, onPeers, opts))),
    addNode: (host, port) => {
      for (const node of nodes) node.addNode(host, port);
    },
  };
}

/**
 * Runs a lookup now and every `intervalMs` (default 5 minutes; ten times as often, within
 * 2 to 30 s, while lookups find nobody), never two at once.
 *
 * @example
 * ```ts
 * import { DhtLookups } from "./dht_lookups.ts";
 * const fake = { port: 1, addNode() {}, lookup: (_h: Uint8Array, on: (p: { host: string; port: number }[]) => void) => {
 *   on([{ host: "127.0.0.1", port: 6881 }]);
 *   return Promise.resolve();
 * } };
 * const lookups = new DhtLookups(fake, new Uint8Array(20), 6881, (peers) => console.log(peers.length));
 * lookups.stop();
 * ```
 */
export class DhtLookups {
  #timer?: ReturnType<typeof setTimeout>;
  #stopped = false;

  constructor(
    readonly dht: DhtNode,
    readonly infoHash: Uint8Array,
    readonly announcePort: number,
    readonly onPeers: (peers: PeerAddress[]) => void,
    readonly intervalMs = 300_000,
  ) {
    this.#run();
  }

  async #run(): Promise<void> {
    if (this.#stopped) return;
    let found = 0;
    try {
      await this.dht.lookup(this.infoHash, (peers) => {
        found += peers.length;
        if (!this.#stopped) this.onPeers(peers);
      }, { announcePort: this.announcePort });
    } catch { /* the DHT logs its own trouble; try again next round */ }
    if (this.#stopped) return;
    const retryMs = Math.min(30_000, Math.max(2_000, this.intervalMs / 10));
    this.#timer = setTimeout(() => this.#run(), found > 0 ? this.intervalMs : retryMs);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
