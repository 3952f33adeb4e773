/**
 * What a process shares among its torrents when it meets peers: one peer port (TCP and UDP on
 * the same number), one listener routing every inbound handshake by info-hash, uTP and the DHT
 * on the port's UDP sockets, one peer id, and the global rate limits. Torrents come and go; the
 * hub stays until the process stops.
 *
 * @module
 */
import { Dht, type DhtLog } from "../dht/mod.ts";
import {
  type Blocklist,
  type EncryptionPolicy,
  type HandshakeOptions,
  makePeerId,
  type PeerConnection,
  PeerNetwork,
  PeerRouter,
  type StreamListener,
  type Transport,
} from "../peer/mod.ts";
import { BufferPool } from "../engine/mod.ts";
import { TokenBucket } from "../util/mod.ts";
import { UtpTransport } from "../utp/mod.ts";
import { combineDhtNodes, type DhtNode } from "./dht_lookups.ts";
import { isTaken, openPeerPorts, type PeerPorts } from "./ports.ts";

/** Who takes the inbound peers of a torrent right now (its metadata phase, then its session). */
export interface IncomingTarget {
  readonly handshakeOptions: HandshakeOptions;
  addIncoming(peer: PeerConnection): void;
}

/** What a hub is built from; everything has a default. */
export interface PeerHubOptions {
  /** The peer port; when taken, the next of the nine after it, then any free one. 6881. */
  port?: number;
  /** The one address to listen on; default every address, IPv4 and IPv6. */
  hostname?: string;
  /** Default `prefer`. */
  encryption?: EncryptionPolicy;
  /** Addresses never connected with, either way; default none. */
  blocklist?: Blocklist;
  /** uTP beside TCP, both ways; default true. */
  utp?: boolean;
  /** Peer lists traded with peers (BEP 11); default true. */
  pex?: boolean;
  /** The stream transport under TCP's place; default TCP (tests: in memory, with no uTP). */
  transport?: Transport;
  /**
   * How to run a DHT node on each UDP socket of the port (BEP 5, BEP 32); none when absent.
   * With `dhtOff`, kept to switch it on later (`setNetwork`).
   */
  dht?: {
    bootstrap: string[];
    /** Where a node keeps its id and good nodes between runs. */
    statePath?: (family: 4 | 6) => string;
    log?: (family: 4 | 6) => DhtLog;
    /** How long one query waits for its answer (tests shorten it); default the DHT's. */
    queryTimeoutMs?: number;
  };
  /** The DHT configured but not started. */
  dhtOff?: boolean;
  /** Bytes per second for every torrent together; 0 or absent for no limit. */
  maxDownloadRate?: number;
  maxUploadRate?: number;
  /**
   * Peer connections for every torrent together, shared evenly among the torrents served (each
   * keeps its own `maxPeers` when that is lower); absent for no process-wide limit.
   */
  maxConnections?: number;
  /** Bytes of pieces in flight of every torrent together; default 128 MiB. */
  maxBufferedBytes?: number;
  /** Where inbound connections that fail their handshake are told. */
  onIncomingError?: (message: string) => void;
}

/**
 * Bytes of pieces in flight of every torrent together unless `maxBufferedBytes`: a session
 * holds up to 64 MiB alone, so two at full speed fit, and more share.
 */
const DEFAULT_SHARED_BUFFERS = 128 << 20;

/** The fewest connections a torrent's share ever comes to, however many torrents run. */
const MIN_PEER_SHARE = 2;

/** Tries, and the wait between them, to bind a port again that this process just let go. */
const REBIND_TRIES = 10;
const REBIND_WAIT_MS = 20;

/** How many times a port whose TCP side was taken between the check and the listen is left. */
const LISTEN_TRIES = 3;

/**
 * The process's meeting point with peers.
 *
 * @example
 * ```ts
 * import { PeerHub } from "./peer_hub.ts";
 * const hub = await PeerHub.open({ port: 0, hostname: "127.0.0.1" });
 * const stopServing = hub.serve([new Uint8Array(20)], () => undefined);
 * console.log(hub.port > 0, hub.peerId.length); // true 20
 * stopServing();
 * await hub.stop();
 * ```
 */
export class PeerHub {
  readonly peerId: Uint8Array = makePeerId();
  readonly network: PeerNetwork;
  readonly router: PeerRouter;
  /** Every torrent's downloads together; unlimited (rate 0) unless set, and settable later. */
  readonly downloadLimiter: TokenBucket;
  readonly uploadLimiter: TokenBucket;
  /** Every torrent's pieces in flight together. */
  readonly buffers: BufferPool;
  #options: PeerHubOptions;
  #bound: BoundPort;
  #stopping: Promise<void> | undefined;
  /**
   * Peer connections of every torrent together (`Infinity`: no bound), settable: a lower one
   * is met as each torrent's tick closes its peers past its share.
   */
  maxConnections: number;
  /** Torrents sharing the connection budget now (see `share`). */
  #sharing = 0;
  /** Whether torrents trade peer lists with peers (BEP 11), settable: each asks it as it goes. */
  pex: boolean;

  private constructor(
    network: PeerNetwork,
    router: PeerRouter,
    bound: BoundPort,
    options: PeerHubOptions,
  ) {
    this.network = network;
    this.router = router;
    this.#bound = bound;
    this.#options = options;
    this.maxConnections = options.maxConnections ?? Infinity;
    this.pex = options.pex ?? true;
    this.buffers = new BufferPool(options.maxBufferedBytes ?? DEFAULT_SHARED_BUFFERS);
    this.downloadLimiter = new TokenBucket(options.maxDownloadRate ?? 0);
    this.uploadLimiter = new TokenBucket(options.maxUploadRate ?? 0);
  }

  /** Whether uTP runs beside TCP. */
  get utpEnabled(): boolean {
    return this.#bound.utp !== undefined;
  }

  /** Whether the DHT is on (`dht` is unset when it is on but no node started). */
  get dhtEnabled(): boolean {
    return dhtWanted(this.#options);
  }

  /** The DHT nodes as one, when asked for and one started. */
  get dht(): DhtNode | undefined {
    return this.#bound.dht;
  }

  /** Why no DHT node runs, when one was asked for and none started. */
  get dhtError(): string | undefined {
    return this.#bound.dhtError;
  }

  /**
   * A torrent's share of `maxConnections`: an even part for each torrent sharing (see
   * `share`), never below two; unlimited without `maxConnections`.
   *
   * @example
   * ```ts
   * import { PeerHub } from "./peer_hub.ts";
   * const hub = await PeerHub.open({ port: 0, hostname: "127.0.0.1", utp: false, maxConnections: 10 });
   * const one = hub.share();
   * const two = hub.share();
   * console.log(hub.peerShare()); // 5
   * two();
   * console.log(hub.peerShare()); // 10
   * one();
   * await hub.stop();
   * ```
   */
  peerShare(): number {
    if (this.maxConnections === Infinity) return Infinity;
    return Math.max(MIN_PEER_SHARE, Math.floor(this.maxConnections / Math.max(1, this.#sharing)));
  }

  /**
   * Counts one more torrent among those `maxConnections` is shared by, until the function
   * returned is called: a running session or a metadata phase, not a seed at rest (it holds no
   * connection, and a thousand of them must not starve the one downloading).
   */
  share(): () => void {
    this.#sharing++;
    let sharing = true;
    return () => {
      if (sharing) this.#sharing--;
      sharing = false;
    };
  }

  /**
   * Binds the peer port (UDP first when uTP or the DHT wants it, on a number free for TCP too),
   * starts the DHT nodes and listens. Throws when no port can be had; a DHT that cannot start
   * only leaves `dht` unset, with `dhtError` saying why.
   */
  static async open(options: PeerHubOptions = {}): Promise<PeerHub> {
    const network = new PeerNetwork({
      encryption: options.encryption,
      blocklist: options.blocklist,
      transport: options.transport,
    });
    const router = new PeerRouter();
    const bound = await bindPort(network, router, options, options.port ?? DEFAULT_PEER_PORT);
    return new PeerHub(network, router, bound, options);
  }

  /**
   * Moves to `port` (that one, not the next free): TCP, and UDP for uTP and the DHT as before,
   * are bound there before the old port is let go, so when it cannot be had nothing changes
   * and this throws (`Deno.errors.AddrInUse` when it is taken). Connections made go on; what
   * torrents told trackers and the DHT they tell again when they open anew.
   */
  async setPort(port: number): Promise<void> {
    if (port === this.port) return;
    const old = this.#bound;
    this.#bound = await bindPort(this.network, this.router, this.#options, port, true);
    await releasePort(old);
  }

  /**
   * Switches uTP or the DHT on or off: the port is bound again with the new choice (the old
   * binding let go first, as one port cannot be bound twice; connections over TCP go on, those
   * over uTP end). When the new choice cannot be bound, the old one is bound back and this
   * throws. The DHT can be switched on only when the hub was given its settings.
   */
  async setNetwork(change: { utp?: boolean; dht?: boolean }): Promise<void> {
    const next: PeerHubOptions = {
      ...this.#options,
      ...(change.utp === undefined ? {} : { utp: change.utp }),
      ...(change.dht === undefined ? {} : { dhtOff: !change.dht }),
    };
    if (change.dht && !this.#options.dht) throw new Error("no DHT was set up for this process");
    const now = this.#options;
    if (utpWanted(next) === utpWanted(now) && dhtWanted(next) === dhtWanted(now)) return;
    const port = this.port;
    await releasePort(this.#bound);
    try {
      this.#bound = await this.#rebind(next, port);
      this.#options = next;
    } catch (e) {
      this.#bound = await this.#rebind(this.#options, port);
      throw e;
    }
  }

  /** Binds `port` again, once what held it is let go: a closed listener takes a turn or two. */
  async #rebind(options: PeerHubOptions, port: number): Promise<BoundPort> {
    for (let tries = 1;; tries++) {
      try {
        return await bindPort(this.network, this.router, options, port, true);
      } catch (e) {
        if (!isTaken(e) || tries >= REBIND_TRIES) throw e;
        await new Promise((wake) => setTimeout(wake, REBIND_WAIT_MS));
      }
    }
  }

  /** The port peers reach us at, TCP and UDP. */
  get port(): number {
    return this.#bound.listener.port;
  }

  /**
   * Routes inbound peers that name any of `infoHashes` (a hybrid torrent's v1 and v2 swarms) to
   * `target()`, refusing them while it returns undefined; the returned function stops that.
   */
  serve(infoHashes: readonly Uint8Array[], target: () => IncomingTarget | undefined): () => void {
    for (const infoHash of infoHashes) {
      this.router.add(infoHash, () => {
        const t = target();
        return t && {
          options: { ...t.handshakeOptions, infoHash },
          adopt: (peer: PeerConnection) => t.addIncoming(peer),
        };
      });
    }
    return () => {
      for (const infoHash of infoHashes) this.router.delete(infoHash);
    };
  }

  /** Stops listening, the DHT (saving its state) and uTP, and lets go of the port. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= releasePort(this.#bound);
    return this.#stopping;
  }
}

/** What is bound on the peer port: a move to another port replaces it whole. */
interface BoundPort {
  listener: StreamListener;
  /** The UDP sockets on the same number, when uTP or the DHT wants them. */
  ports?: PeerPorts;
  utp?: UtpTransport;
  dhtNodes: Dht[];
  dht?: DhtNode;
  dhtError?: string;
}

/**
 * Binds `port` (or, unless `exactly`, the next free of the nine after it, or any free one): UDP
 * first when uTP or the DHT wants it, TCP on the same number, the DHT's nodes on the UDP
 * sockets; `network` dials over the new uTP from then on. All or nothing.
 */
async function bindPort(
  network: PeerNetwork,
  router: PeerRouter,
  options: PeerHubOptions,
  port: number,
  exactly = false,
): Promise<BoundPort> {
  const useUtp = utpWanted(options);
  const wantsUdp = useUtp || dhtWanted(options);
  const before = network.utp;
  for (let attempt = 1;; attempt++) {
    const ports = wantsUdp ? await openPeerPorts(port, options.hostname, exactly) : undefined;
    const utp = useUtp && ports ? new UtpTransport(ports.udp) : undefined;
    network.utp = utp;
    const listen = (port: number) =>
      network.listen({
        hostname: options.hostname,
        port,
        router,
        onError: options.onIncomingError,
      });
    let listener: StreamListener | undefined;
    try {
      listener = ports || exactly ? listen(ports?.port ?? port) : firstFreePort(port, listen);
      const { nodes, error } = ports && options.dht && !options.dhtOff
        ? await startDht(ports, options.dht)
        : { nodes: [], error: undefined };
      return {
        listener,
        ports,
        utp,
        dhtNodes: nodes,
        dht: nodes.length > 0 ? combineDhtNodes(nodes) : undefined,
        dhtError: error,
      };
    } catch (e) {
      listener?.close();
      utp?.close();
      await ports?.close();
      network.utp = before;
      // Taken between the UDP check and the listen: another try, with other numbers.
      if (!(e instanceof Deno.errors.AddrInUse) || exactly || attempt >= LISTEN_TRIES) throw e;
    }
  }
}

/** uTP runs beside TCP unless switched off or TCP's place is taken (tests in memory). */
function utpWanted(options: PeerHubOptions): boolean {
  return options.utp !== false && options.transport === undefined;
}

/** The DHT runs when the hub has its settings and it is not switched off. */
function dhtWanted(options: PeerHubOptions): boolean {
  return options.dht !== undefined && options.dhtOff !== true;
}

/** Stops listening, the DHT (saving its state) and uTP, and lets go of the port. */
async function releasePort(bound: BoundPort): Promise<void> {
  bound.listener.close();
  await Promise.allSettled(bound.dhtNodes.map((n) => n.stop()));
  bound.utp?.close();
  await bound.ports?.close();
}

/** The conventional BitTorrent port, where a hub listens unless told otherwise. */
export const DEFAULT_PEER_PORT = 6881;

/** Listens on `first`, or the next free of the nine after it, or any free port. */
function firstFreePort(first: number, listen: (port: number) => StreamListener): StreamListener {
  const ports = first === 0 ? [] : Array.from({ length: 10 }, (_, i) => first + i);
  for (const port of ports.filter((p) => p <= 65535)) {
    try {
      return listen(port);
    } catch (e) {
      if (!(e instanceof Deno.errors.AddrInUse)) throw e;
    }
  }
  return listen(0);
}

/** A DHT node on each UDP socket of the port; why none started, when none did. */
async function startDht(
  ports: PeerPorts,
  options: NonNullable<PeerHubOptions["dht"]>,
): Promise<{ nodes: Dht[]; error?: string }> {
  const nodes: Dht[] = [];
  let error: string | undefined;
  for (const socket of ports.udp) {
    const dht = new Dht({
      socket,
      bootstrap: options.bootstrap,
      statePath: options.statePath?.(socket.family),
      log: options.log?.(socket.family),
      queryTimeoutMs: options.queryTimeoutMs,
    });
    try {
      await dht.start();
      nodes.push(dht);
    } catch (e) {
      await dht.stop().catch(() => {});
      error ??= e instanceof Error ? e.message : String(e);
    }
  }
  return nodes.length > 0 ? { nodes } : { nodes, error };
}
