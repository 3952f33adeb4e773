/**
 * The first phase of a magnet download: find peers, ask those that support ut_metadata (BEP 9)
 * for the info dictionary in 16 KiB blocks, several peers at once, and keep it only when its
 * SHA-1 is the info-hash. Peers that send data failing the check are banned.
 *
 * @module
 */
import {
  encodeExtendedHandshake,
  encodeMetadataMessage,
  ExtensionError,
  LOCAL_EXTENSION_IDS,
  MetadataAssembler,
  parseExtendedHandshake,
  parseMetadataMessage,
  parsePex,
} from "../ext/mod.ts";
import {
  encodeExtended,
  encodeSimple,
  type HandshakeOptions,
  type Message,
  MessageId,
  type PeerConnection,
  type PeerDialler,
} from "../peer/mod.ts";
import {
  type BookEntry,
  type PeerAddress,
  PeerBook,
  type PeerSource,
  type SourcedAddress,
  splitAddressKey,
} from "./peer_book.ts";
import type { SessionLog } from "./session.ts";
import { HandedPeer } from "./handed_peer.ts";

/** What the fetcher needs. */
export interface MetadataFetcherOptions {
  infoHash: Uint8Array;
  /** The v2 info-hash the dictionary must also have (a magnet link's `urn:btmh`). */
  infoHashV2?: Uint8Array;
  peerId: Uint8Array;
  /** Opens connections to peers. */
  dial: PeerDialler;
  maxPeers?: number;
  /** Our TCP listening port, for the extension handshake. */
  listenPort?: number;
  connectTimeoutMs?: number;
  /** Blocks asked of one peer at a time. Default 4. */
  requestsPerPeer?: number;
  tickMs?: number;
  /** No PEX for private torrents; a magnet does not say, so default false. */
  private?: boolean;
  /** Whether peer lists from peers are taken now (BEP 11), asked each time; default yes. */
  pex?: () => boolean;
  log?: SessionLog;
}

/** Progress of the metadata phase, for the status line. */
export interface MetadataStats {
  peersConnected: number;
  peersKnown: number;
  /** Peers that can serve metadata. */
  peersWithMetadata: number;
  /** 0..1 of the info dictionary received. */
  progress: number;
}

interface FetchPeer {
  conn: PeerConnection;
  entry?: BookEntry;
  /** The id the peer wants for ut_metadata messages, once known. */
  remoteId?: number;
  metadataSize?: number;
  outstanding: number;
  /** What it said that the download will need (see `HandedPeer.said`); undefined: too much. */
  said?: Message[];
}

/** Most messages kept of one peer for the download; a peer saying more is not handed over. */
const MAX_SAID = 4096;

/**
 * Fetches the info dictionary named by an info-hash from the swarm.
 *
 * @example
 * ```ts ignore
 * const fetcher = new MetadataFetcher({ infoHash, peerId, dial: new PeerNetwork().dial });
 * fetcher.start();
 * fetcher.addPeers([{ host: "127.0.0.1", port: 6881 }], "magnet");
 * const info = await fetcher.done; // verified bytes of the info dictionary
 * await fetcher.stop();
 * ```
 */
export class MetadataFetcher {
  readonly #o: MetadataFetcherOptions;
  readonly #log: SessionLog;
  readonly #book: PeerBook;
  readonly #peers = new Set<FetchPeer>();
  #assembler?: MetadataAssembler;
  #tick?: ReturnType<typeof setInterval>;
  #stopped = false;
  #resolve!: (info: Uint8Array) => void;
  /** Resolves with the verified info dictionary. */
  readonly done: Promise<Uint8Array>;

  constructor(options: MetadataFetcherOptions) {
    this.#o = options;
    this.#log = options.log ?? { debug() {}, info() {}, warn() {} };
    this.done = new Promise((resolve) => this.#resolve = resolve);
    this.#book = new PeerBook({
      connect: (host, port) => options.dial(host, port, this.handshakeOptions),
      onConnected: (conn, entry) => this.#adopt(conn, entry),
      connectedCount: () => this.#peers.size,
      maxPeers: () => options.maxPeers ?? 20,
      onDebug: (message) => this.#log.debug(message),
    });
  }

  /** How this phase's connections handshake, for dialling and for the listener. */
  get handshakeOptions(): HandshakeOptions {
    return {
      infoHash: this.#o.infoHash,
      peerId: this.#o.peerId,
      timeoutMs: this.#o.connectTimeoutMs ?? 10_000,
      maxMessageLength: 1 << 20,
      extensions: true,
      v2: this.#o.infoHashV2 !== undefined,
    };
  }

  /** Starts the periodic re-requests and dialling. */
  start(): void {
    this.#tick = setInterval(() => this.#onTick(), this.#o.tickMs ?? 1000);
  }

  /** Adds addresses to dial. */
  addPeers(addresses: PeerAddress[], source: PeerSource): void {
    if (!this.#stopped) this.#book.add(addresses, source);
  }

  /** Adopts a connection a peer opened to us. */
  addIncoming(conn: PeerConnection): void {
    if (this.#stopped) return conn.close("metadata phase over");
    this.#adopt(conn, undefined);
  }

  /** Every address known, to hand to the download phase. */
  knownAddresses(): SourcedAddress[] {
    return this.#book.addresses();
  }

  stats(): MetadataStats {
    let withMetadata = 0;
    for (const p of this.#peers) if (p.remoteId && p.metadataSize) withMetadata++;
    return {
      peersConnected: this.#peers.size,
      peersKnown: this.#book.size,
      peersWithMetadata: withMetadata,
      progress: this.#assembler?.progress ?? 0,
    };
  }

  /**
   * Ends the phase (no more dialling or requests) but keeps the connections of the peers not
   * too chatty: they go to the download (`Session.adoptHanded`), what they say meanwhile kept
   * too. Whoever holds them closes those it does not hand on.
   */
  handOff(): HandedPeer[] {
    this.#stopped = true;
    clearInterval(this.#tick);
    this.#book.close();
    const handed: HandedPeer[] = [];
    for (const p of [...this.#peers]) {
      if (p.said === undefined || p.conn.closed) continue;
      this.#peers.delete(p);
      const e = p.entry;
      const h = new HandedPeer(
        p.conn,
        e && { host: e.host, port: e.port, source: e.source },
        p.said,
      );
      const park = (m: Message) => {
        record(p, m);
        if (p.said === undefined) p.conn.close("said too much before the download took it");
      };
      p.conn.handTo({ onMessage: park, onClose() {} }, p.conn.options);
      handed.push(h);
    }
    return handed;
  }

  /** Closes every connection and stops dialling. */
  stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#tick);
    this.#book.close();
    for (const p of [...this.#peers]) p.conn.close("metadata phase over");
    return Promise.resolve();
  }

  #adopt(conn: PeerConnection, entry: BookEntry | undefined): void {
    if (this.#book.isBanned(conn.remote.peerId) || !conn.remote.extensions) {
      conn.close(conn.remote.extensions ? "banned peer" : "no extension protocol");
      return;
    }
    const peer: FetchPeer = { conn, entry, outstanding: 0, said: [] };
    this.#peers.add(peer);
    if (entry) this.#book.connected(entry);
    conn.start({
      onMessage: (m) => this.#onMessage(peer, m),
      onClose: () => this.#onClose(peer),
    });
    // We have no piece yet. Said first, as BEP 6 asks, so the download need not say it later.
    if (conn.remote.fast) conn.send(encodeSimple(MessageId.haveNone));
    conn.send(encodeExtended(
      0,
      encodeExtendedHandshake({
        version: "bittorrent-deno 0.1.0",
        port: this.#o.listenPort,
        reqq: 64,
      }),
    ));
  }

  #onClose(peer: FetchPeer): void {
    if (!this.#peers.delete(peer)) return;
    this.#assembler?.release(peer.conn.address);
    if (peer.entry) this.#book.disconnected(peer.entry, false);
    if (!this.#stopped) this.#book.fill();
  }

  #onMessage(peer: FetchPeer, m: Message): void {
    if (this.#stopped) return;
    if (m.type !== "extended" || m.id === 0) record(peer, m);
    if (m.type !== "extended") return;
    try {
      if (m.id === 0) {
        const h = parseExtendedHandshake(m.payload);
        peer.remoteId = h.m.get("ut_metadata");
        peer.metadataSize = h.metadataSize;
        this.#request(peer);
      } else if (m.id === LOCAL_EXTENSION_IDS.ut_metadata) {
        this.#onMetadata(peer, m.payload);
      } else if (
        m.id === LOCAL_EXTENSION_IDS.ut_pex && !this.#o.private && (this.#o.pex?.() ?? true)
      ) {
        this.addPeers(parsePex(m.payload).added, "pex");
      }
    } catch (e) {
      if (!(e instanceof ExtensionError)) throw e;
      peer.conn.close(`protocol error: ${e.message}`);
    }
  }

  #onMetadata(peer: FetchPeer, payload: Uint8Array): void {
    const m = parseMetadataMessage(payload);
    const assembler = this.#assembler;
    if (m.type === "request") {
      // We have nothing to serve yet.
      if (peer.remoteId) {
        peer.conn.send(
          encodeExtended(peer.remoteId, encodeMetadataMessage({ type: "reject", piece: m.piece })),
        );
      }
      return;
    }
    peer.outstanding = Math.max(0, peer.outstanding - 1);
    if (!assembler) return;
    const key = peer.conn.address;
    if (m.type === "reject") {
      assembler.onReject(key, m.piece);
      return;
    }
    if (m.totalSize !== assembler.size) {
      peer.conn.close("metadata size differs from the first peer's");
      return;
    }
    const outcome = assembler.onData(key, m.piece, m.data);
    if (outcome === "invalid") peer.conn.close("invalid metadata block");
    else if (outcome === "complete") this.#complete(assembler.info!);
    else if (outcome === "mismatch") this.#mismatch(assembler.lastCulprits);
    else this.#request(peer);
  }

  #complete(info: Uint8Array): void {
    this.#log.info(`metadata received and verified (${info.length} bytes)`);
    this.#resolve(info);
  }

  /** The assembled dictionary failed its hash: ban who sent it and start over. */
  #mismatch(culprits: string[]): void {
    this.#log.warn(`metadata failed its hash check (from ${culprits.join(", ")})`);
    this.#assembler = undefined;
    for (const p of [...this.#peers]) {
      if (!culprits.includes(p.conn.address)) continue;
      const at = p.entry ?? splitAddressKey(p.conn.address);
      this.#book.ban(at.host, at.port, p.conn.remote.peerId, p.entry?.source ?? "incoming");
      p.conn.close("sent metadata that failed its hash check");
    }
    for (const p of this.#peers) this.#request(p);
  }

  /** Asks `peer` for metadata blocks until it has `requestsPerPeer` outstanding. */
  #request(peer: FetchPeer): void {
    if (!peer.remoteId || !peer.metadataSize) return;
    if (!this.#assembler) {
      try {
        this.#assembler = new MetadataAssembler(this.#o.infoHash, peer.metadataSize, {
          infoHashV2: this.#o.infoHashV2,
        });
      } catch (e) {
        if (!(e instanceof ExtensionError)) throw e;
        peer.conn.close(`unusable metadata size: ${e.message}`);
        return;
      }
    }
    if (peer.metadataSize !== this.#assembler.size) return;
    const limit = this.#o.requestsPerPeer ?? 4;
    while (peer.outstanding < limit) {
      const piece = this.#assembler.nextRequest(peer.conn.address);
      if (piece === undefined) return;
      peer.outstanding++;
      peer.conn.send(
        encodeExtended(peer.remoteId, encodeMetadataMessage({ type: "request", piece })),
      );
    }
  }

  #onTick(): void {
    for (const p of this.#peers) {
      // Blocks whose requests timed out become free again inside the assembler.
      if (p.outstanding > 0 && performance.now() - p.conn.lastReceivedAt > 5_000) p.outstanding = 0;
      this.#request(p);
    }
    this.#book.fill();
  }
}

/**
 * Keeps a copy of `m` for the download (its bytes are the reader's, reused after this call),
 * but for keep-alives and blocks nobody asked for; too many and the peer is not handed over.
 */
function record(peer: FetchPeer, m: Message): void {
  if (m.type === "keepalive" || m.type === "piece" || peer.said === undefined) return;
  if (peer.said.length >= MAX_SAID) {
    peer.said = undefined;
    return;
  }
  const copy: Record<string, unknown> = { ...m };
  for (const [key, value] of Object.entries(copy)) {
    if (value instanceof Uint8Array) copy[key] = value.slice();
  }
  if (m.type === "hashRequest" || m.type === "hashes" || m.type === "hashReject") {
    copy.request = { ...m.request, root: m.request.root.slice() };
  }
  peer.said.push(copy as Message);
}
