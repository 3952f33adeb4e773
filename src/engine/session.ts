/**
 * One torrent's session: the peer set, the piece picker, the request scheduler and the choker.
 *
 * The session is the single owner of all mutable download state. Connections deliver
 * messages to it; it answers with decisions (requests, haves, chokes). Because Deno runs this on
 * one event loop, nothing here needs a lock. STATE.md beside this file describes the states.
 *
 * @module
 */
import {
  encodeBitfield,
  encodeBlockAddress,
  encodeExtended,
  encodeHashMessage,
  encodeIndex,
  encodeKeepAlive,
  encodePieceHeader,
  encodePort,
  encodeSimple,
  type HandshakeOptions,
  MAX_BLOCK,
  MAX_SERVED_BLOCK,
  type Message,
  MessageId,
  PeerConnection,
  type PeerDialler,
  type RateLimiter,
} from "../peer/mod.ts";
import {
  type BookEntry,
  type PeerAddress,
  PeerBook,
  type PeerSource,
  type SourcedAddress,
  splitAddressKey,
} from "./peer_book.ts";
import {
  encodeExtendedHandshake,
  encodeMetadataMessage,
  encodePex,
  type ExtendedHandshake,
  ExtensionError,
  LOCAL_EXTENSION_IDS,
  metadataBlock,
  type MetadataMessage,
  parseExtendedHandshake,
  parseMetadataMessage,
  parsePex,
  PEX_FLAGS,
  type PexPeer,
  PexState,
} from "../ext/mod.ts";
import {
  Bitfield,
  bytesEqual,
  isValidBitfield,
  MERKLE_HASH,
  type MerklePieces,
  paddedPieces,
  type PieceHashes,
  pieceLengthAt,
  type PieceSpan,
  sha256,
} from "../util/mod.ts";
import { compareBytes } from "../bencode/mod.ts";
import { ActivePiece, PiecePool } from "./piece.ts";
import { HashExchange } from "./hash_exchange.ts";
import { type PieceReader, ReadCache } from "./read_cache.ts";
import { allowedFastSet } from "./allowed_fast.ts";
import { PiecePicker, type PieceRange } from "./picker.ts";
import type { BufferPool } from "./buffer_pool.ts";
import { every } from "./ticker.ts";
import type { HandedPeer } from "./handed_peer.ts";
import { RateMeter } from "./rate.ts";
import { choose } from "./choker.ts";

/** What the session needs to know about the torrent's layout. */
export interface SessionTorrent {
  infoHash: Uint8Array;
  pieceLength: number;
  pieceCount: number;
  /** What each piece is checked against. */
  hashes: PieceHashes;
  totalLength: number;
  /** The info dictionary's bytes, served to peers that fetch metadata (BEP 9). */
  infoBytes?: Uint8Array;
  /** Private torrents (BEP 27) take peers from trackers only: no PEX, no DHT. */
  private?: boolean;
  /** The file entries, when known: their pad files are not fetched from peers. */
  files?: readonly PieceSpan[];
  /** A v2 or hybrid torrent's merkle trees: hash messages are served, missing layers fetched. */
  v2Pieces?: MerklePieces;
  /** The v2 info-hash (32 bytes): connections made on it speak v2's hash messages. */
  infoHashV2?: Uint8Array;
}

/** Where verified pieces go and uploads come from. */
export interface PieceStore extends PieceReader {
  writePiece(index: number, data: Uint8Array): Promise<void>;
}

/** Where the session writes what it does. */
export interface SessionLog {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
}

/** What the session tells its owner as it happens (for `--json` events; the log has words). */
export interface SessionEvents {
  /** A piece failed its hash check; `peers` sent its blocks. */
  pieceFailed?(index: number, peers: readonly string[]): void;
  /** A peer was banned and will not be dialled or accepted again. */
  peerBanned?(address: string, reason: string): void;
}

/** A connected peer as a user is shown it. */
export interface PeerView {
  host: string;
  port: number;
  /** Its client's name and version from its extension handshake; "" when it sent none. */
  client: string;
  /** The share of the torrent it has, 0 to 1. */
  progress: number;
  /** Bytes a second from it and to it. */
  downloadRate: number;
  uploadRate: number;
  encrypted: boolean;
  transport: "tcp" | "utp";
  /** It connected to us. */
  incoming: boolean;
  source: PeerSource;
  amChoking: boolean;
  amInterested: boolean;
  peerChoking: boolean;
  peerInterested: boolean;
}

/** Tunables; the defaults suit real swarms, tests shorten the timeouts. */
export interface SessionOptions {
  torrent: SessionTorrent;
  storage: PieceStore;
  /** Pieces already verified on disk. */
  have: Bitfield;
  peerId: Uint8Array;
  /** Opens connections to peers (the process's network, or memory in tests). */
  dial: PeerDialler;
  maxPeers?: number;
  /** The process's bound on bytes in flight across torrents, besides `maxBufferedBytes`. */
  sharedBuffers?: BufferPool;
  /**
   * This torrent's share of the process's connections (torrents that run together share one
   * budget); `maxPeers` holds unless the share is smaller.
   */
  peerShare?: () => number;
  downloadLimiter?: RateLimiter;
  uploadLimiter?: RateLimiter;
  log?: SessionLog;
  events?: SessionEvents;
  /** Keep serving after completion until `stop()`. */
  seed?: boolean;
  connectTimeoutMs?: number;
  /** A peer with requests outstanding that sends nothing for this long is snubbed. */
  requestTimeoutMs?: number;
  /** A peer that sends nothing at all for this long is dropped. */
  idleTimeoutMs?: number;
  tickMs?: number;
  /** Regular upload slots (one more is the optimistic unchoke). */
  uploadSlots?: number;
  /**
   * Cap on bytes of pieces in progress and waiting for disk (bounds memory); two pieces are
   * always allowed, however long. Default: 512 KiB per connected peer, from 8 to 64 MiB.
   */
  maxBufferedBytes?: number;
  /** Hash failures a peer may take part in before it is banned. */
  maxStrikes?: number;
  /** Our TCP listening port, told to peers in the extension handshake. */
  listenPort?: number;
  /** Our DHT node's UDP port, told to peers with a PORT message (BEP 5). */
  dhtPort?: number;
  /** A peer told us its DHT port. */
  onDhtNode?: (host: string, port: number) => void;
  /** Least time between two PEX messages to one peer (BEP 11 says a minute). */
  pexIntervalMs?: number;
  /**
   * Whether peer lists are traded with peers now (BEP 11), asked each time; default yes. Never
   * for a private torrent (BEP 27).
   */
  pex?: () => boolean;
  /**
   * Pieces to download (default: all). Others are never requested; the download is finished
   * when every wanted piece is had, and without all pieces the session never claims to be a
   * seed. A file selection makes this the pieces its chosen files touch.
   */
  wanted?: Bitfield;
  /** Start pieces in index order (for media watched while it arrives) instead of rarest first. */
  sequential?: boolean;
}

/** Defaults of the tunable options (a client passes its own `maxPeers`, the user's). */
const DEFAULTS = {
  maxPeers: 20,
  seed: false,
  connectTimeoutMs: 10_000,
  requestTimeoutMs: 20_000,
  idleTimeoutMs: 180_000,
  tickMs: 1000,
  uploadSlots: 8,
  maxStrikes: 3,
} satisfies Partial<SessionOptions>;

/**
 * Numbers for the status line and summary: a plain value, safe to keep. Piece and byte counts
 * cover the wanted pieces (every piece unless a file selection leaves some out).
 */
export interface SessionStats {
  phase: "downloading" | "seeding" | "done";
  /** Wanted pieces. */
  pieceCount: number;
  /** Wanted pieces verified and written. */
  piecesDone: number;
  /** Bytes of the wanted pieces verified and written. */
  bytesDone: number;
  /** Bytes of the wanted pieces. */
  totalBytes: number;
  /** Bytes of the whole torrent not had yet (the `left` trackers are told). */
  left: number;
  downloadRate: number;
  uploadRate: number;
  downloaded: number;
  uploaded: number;
  /** Of `downloaded` and `downloadRate`, what came from web seeds (BEP 19). */
  webSeedDownloaded: number;
  webSeedRate: number;
  wasted: number;
  hashFailures: number;
  peersConnected: number;
  peersKnown: number;
  peersChokingUs: number;
  peersInterested: number;
  /** Connected peers whose payload is encrypted (MSE with RC4). */
  peersEncrypted: number;
  /** Connected peers reached over uTP (the others over TCP). */
  peersUtp: number;
  /** Connected peers that sent us payload in the last few seconds. */
  peersSendingToUs: number;
  /** Connected peers we sent payload to in the last few seconds. */
  peersGettingFromUs: number;
  peersBySource: Record<PeerSource, number>;
}

interface Upload {
  index: number;
  begin: number;
  length: number;
}

/** Our name and version in extension handshakes. */
const CLIENT_VERSION = "bittorrent-deno 0.1.0";
/** Pieces in the allowed-fast set we grant each fast-extension peer (BEP 6 suggests 10). */
const ALLOWED_FAST_COUNT = 10;
/** Upload requests we queue per peer (told to peers as `reqq`). */
const MAX_QUEUED_UPLOADS = 512;
/**
 * The default piece-buffer budget: memory grows with the peers that fill pieces, within bounds.
 * The floor is one peer's deepest pipeline (500 requests of 16 KiB); with one fast peer it
 * downloads as fast as 64 MiB does (the disk writer keeps up), and with 4 MiB pieces it holds two
 * of them, where 12 MiB held three and cost 9 MB more peak memory for no speed.
 */
const BUFFER_PER_PEER = 512 * 1024;
const MIN_BUFFER_BUDGET = 8 * 1024 * 1024;
const MAX_BUFFER_BUDGET = 64 * 1024 * 1024;
/**
 * In endgame, a peer asks for blocks others are fetching only while it has fewer requests than
 * this out: a copy queued behind others of its own would seldom come first.
 */
const ENDGAME_DEPTH = 2;
/**
 * Peers that call us are taken up to this many past the limit (a new one may be better than
 * one we have); only past that are the least useful closed.
 */
const INCOMING_SLACK = 5;
/** Whole pieces kept in memory for uploading (see `ReadCache`). */
const READ_CACHE_BYTES = 16 * 1024 * 1024;

/** A connected peer and everything we track about it. */
class Peer {
  amChoking = true;
  amInterested = false;
  peerChoking = true;
  peerInterested = false;
  /** Peer has every piece (full bitfield or HAVE ALL): counted apart in the picker. */
  seed = false;
  gotBitfield = false;
  /** Pieces this peer has that we lack; interesting while above zero. */
  missing = 0;
  /** Outstanding requests: global block id to time sent. */
  readonly requests = new Map<number, number>();
  maxRequests = 16;
  /** Pieces this peer is working on, newest last. */
  pieces: ActivePiece[] = [];
  /** The piece after the one last started for this peer: the picker's choice on a tie. */
  runNext = -1;
  readonly down = new RateMeter();
  readonly up = new RateMeter();
  readonly uploads: Upload[] = [];
  serving = false;
  lastBlockAt = performance.now();
  snubbed = false;
  strikes = 0;
  optimistic = false;
  readonly connectedAt = performance.now();
  /** The peer's extension handshake (BEP 10), once received. */
  ext?: ExtendedHandshake;
  /** What we last told this peer through PEX. */
  pex?: PexState;
  /** Pieces this peer lets us request while it chokes us (BEP 6). */
  readonly allowedFast = new Set<number>();
  /** Pieces we let this peer request while we choke it (BEP 6). */
  grantedFast: ReadonlySet<number> = new Set();

  constructor(
    readonly conn: PeerConnection,
    readonly bits: Bitfield,
    /** The address-book entry when we know where the peer listens (we dialled it). */
    public known: BookEntry | undefined,
    readonly source: PeerSource,
  ) {}

  get address(): string {
    return this.conn.address;
  }

  /** Where this peer accepts connections: the dialled address, or its host with the port it
   * gave in its extension handshake. */
  get listenAddress(): PeerAddress | undefined {
    if (this.known) return { host: this.known.host, port: this.known.port };
    const port = this.ext?.port;
    return port ? { host: splitAddressKey(this.address).host, port } : undefined;
  }
}

/**
 * Downloads and serves one torrent over the peers it is given.
 *
 * @example
 * ```ts ignore
 * const session = new Session({ torrent, storage, have, peerId, dial: new PeerNetwork().dial });
 * session.addPeers([{ host: "127.0.0.1", port: 6881 }], "manual");
 * session.start();
 * await session.done;
 * await session.stop();
 * ```
 */
export class Session {
  readonly torrent: SessionTorrent;
  readonly have: Bitfield;
  #o: SessionOptions & typeof DEFAULTS;
  #log: SessionLog;
  #picker: PiecePicker;
  #blocksPerPiece: number;
  /** Pieces that end in pad files: index -> bytes before the padding. */
  readonly #padded: Map<number, number>;
  /** BEP 52 hash messages, for a torrent with v2 hashes. */
  readonly #hashExchange?: HashExchange<Peer>;
  /** Some piece layer is still unknown: pieces that cannot be checked yet are not started. */
  #awaitingLayers = false;
  #active = new Map<number, ActivePiece>();
  /** Active pieces that may still have a block nobody asked for (checked lazily). */
  #open = new Set<ActivePiece>();
  #peers = new Set<Peer>();
  #book: PeerBook;
  #bufferedBytes = 0;
  readonly #buffers: PiecePool;
  /** Where each REQUEST is built: `send` copies it at once, so one buffer serves them all. */
  readonly #requestMessage = new Uint8Array(17);
  readonly #reads: ReadCache;
  /** A peer went without a new piece because the buffers were full: top everyone up on release. */
  #bufferStarved = false;
  /** Bytes this session holds in `sharedBuffers` (none once it stopped and gave them back). */
  #pooled = 0;
  readonly #wakeFromPool = () => {
    if (this.#stopped) return;
    this.#bufferStarved = false;
    for (const p of this.#peers) this.#request(p);
  };
  #pendingWrites = new Set<Promise<void>>();
  #down = new RateMeter();
  /** What web seeds sent (counted in `#down` too). */
  #webDown = new RateMeter();
  #up = new RateMeter();
  #wasted = 0;
  #hashFailures = 0;
  /** Stops the periodic work, while it runs. */
  #stopTicking?: () => void;
  #ticks = 0;
  #stopped = false;
  #resolveDone!: () => void;
  #rejectDone!: (e: Error) => void;
  #completeListeners: (() => void)[] = [];
  /** Who waits for which piece (`whenHave`). */
  #pieceWaiters = new Map<number, { resolve: () => void; reject: (e: Error) => void }[]>();
  /** The ranges streams want next, oldest first (`prioritize`). */
  #focus: PieceRange[] = [];
  /** The ranges fetched last (`defer`). */
  #late: PieceRange[] = [];
  /** The wanted pieces; undefined when every piece is wanted. */
  #wanted?: Bitfield;
  /** Wanted pieces not had yet: the download is finished at 0. */
  #wantedMissing = 0;
  #wantedCount = 0;
  #wantedBytes = 0;
  #wantedBytesDone = 0;
  #finished = false;
  /** Settles when the download is complete (and we are not seeding) or fails for good. */
  readonly done: Promise<void>;

  constructor(options: SessionOptions) {
    // Options given as `undefined` keep their defaults.
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.#o = { ...DEFAULTS, ...given } as SessionOptions & typeof DEFAULTS;
    this.torrent = options.torrent;
    this.#buffers = new PiecePool(this.torrent.pieceLength);
    this.#reads = new ReadCache(options.storage, (i) => this.#pieceLength(i), READ_CACHE_BYTES);
    this.have = options.have;
    this.#log = options.log ?? { debug() {}, info() {}, warn() {} };
    this.#blocksPerPiece = Math.ceil(this.torrent.pieceLength / MAX_BLOCK);
    this.#padded = paddedPieces(this.torrent, this.torrent.files ?? []);
    const v2 = this.torrent.v2Pieces;
    if (v2 !== undefined) {
      this.#hashExchange = new HashExchange<Peer>(
        v2,
        {
          send: (peer, message) => peer.conn.send(message),
          has: (peer, index) => peer.seed || peer.bits.has(index),
        },
        (index) => this.#readOwnPiece(index),
        () => this.#onLayer(),
      );
      this.#awaitingLayers = v2.missingLayers().length > 0;
      if (this.#awaitingLayers && this.torrent.hashes === v2) {
        this.#log.info(`${v2.missingLayers().length} piece layer(s) to fetch from peers`);
      }
    }
    const { pieceCount } = this.torrent;
    const wanted = options.wanted;
    if (wanted !== undefined && wanted.size !== pieceCount) {
      throw new RangeError(`wanted has ${wanted.size} pieces, the torrent ${pieceCount}`);
    }
    this.#wanted = wanted?.complete ? undefined : wanted;
    const only = this.#wanted;
    this.#picker = new PiecePicker(pieceCount, {
      order: options.sequential ? "sequential" : "rarest",
      wanted: only && ((i) => only.has(i)),
    });
    for (let i = 0; i < pieceCount; i++) {
      if (!this.wants(i)) continue;
      const length = this.#pieceLength(i);
      this.#wantedCount++;
      this.#wantedBytes += length;
      if (this.have.has(i)) this.#wantedBytesDone += length;
      else this.#wantedMissing++;
    }
    this.#book = new PeerBook({
      connect: (host, port) => this.#o.dial(host, port, this.handshakeOptions),
      onConnected: (conn, entry) => this.#adopt(conn, entry, entry.source),
      connectedCount: () => this.#peers.size,
      maxPeers: () => this.#maxPeers(),
      onDebug: (message) => this.#log.debug(message),
    });
    for (const i of this.have.ones()) this.#picker.drop(i);
    this.done = new Promise((resolve, reject) => {
      this.#resolveDone = resolve;
      this.#rejectDone = reject;
    });
    this.done.catch(() => {}); // the owner awaits it; never an unhandled rejection
  }

  /** How this torrent's connections handshake, for dialling and for the listener. */
  get handshakeOptions(): HandshakeOptions {
    return {
      infoHash: this.torrent.infoHash,
      peerId: this.#o.peerId,
      timeoutMs: this.#o.connectTimeoutMs,
      maxMessageLength: Math.max(
        MAX_SERVED_BLOCK + 13,
        Math.ceil(this.torrent.pieceCount / 8) + 1,
        1 << 20,
      ),
      downloadLimiter: this.#o.downloadLimiter,
      extensions: true,
      dht: this.#o.dhtPort !== undefined && !this.torrent.private,
      v2: this.torrent.v2Pieces !== undefined,
    };
  }

  /** The most peers this torrent keeps (its share of the process's may be fewer). */
  get maxPeers(): number {
    return this.#o.maxPeers;
  }

  /** Changes it: more are dialled at once; those past it are closed at the next tick. */
  set maxPeers(limit: number) {
    this.#o.maxPeers = limit;
    this.#book.fill();
  }

  /** Peers connected now. */
  get peerCount(): number {
    return this.#peers.size;
  }

  /** True once every piece is verified and written: we are a seed. */
  get complete(): boolean {
    return this.have.complete;
  }

  /**
   * True once every wanted piece is verified and written: the download is done. The same as
   * `complete` unless a selection leaves pieces out.
   */
  get finished(): boolean {
    return this.#wantedMissing === 0;
  }

  /** The most peers this torrent connects to now: its own limit, or its share if smaller. */
  #maxPeers(): number {
    return Math.min(this.#o.maxPeers, this.#o.peerShare?.() ?? Infinity);
  }

  /** Where the session is: downloading, then seeding (with `seed`) or done. */
  get phase(): SessionStats["phase"] {
    return this.finished ? (this.#o.seed ? "seeding" : "done") : "downloading";
  }

  /** Whether piece `index` is to be downloaded (every piece, unless a selection leaves it out). */
  wants(index: number): boolean {
    return this.#wanted === undefined || this.#wanted.has(index);
  }

  /**
   * Calls `listener` once when the last wanted piece is written (at once if already
   * finished).
   */
  onComplete(listener: () => void): void {
    if (this.finished) queueMicrotask(listener);
    else this.#completeListeners.push(listener);
  }

  /**
   * Resolves once piece `index` is verified and written (at once if it is); rejects when the
   * session stops first. What a stream waits on before reading the piece from storage.
   */
  whenHave(index: number): Promise<void> {
    if (this.have.has(index)) return Promise.resolve();
    if (this.#stopped) return Promise.reject(new Error("the torrent stopped"));
    return new Promise((resolve, reject) => {
      const waiters = this.#pieceWaiters.get(index);
      if (waiters) waiters.push({ resolve, reject });
      else this.#pieceWaiters.set(index, [{ resolve, reject }]);
    });
  }

  /**
   * Starts pieces `[from, to)` before any other, lowest first, until the function returned is
   * called: a stream moving the download to what its reader needs next. Ranges of several
   * streams are served in the order they were asked for.
   */
  prioritize(from: number, to: number): () => void {
    const release = this.#addRange(this.#focus, from, to);
    this.#picker.focus(this.#focus);
    for (const p of this.#peers) this.#request(p);
    return release;
  }

  /**
   * Starts pieces `[from, to)` only when a peer has nothing else to give, until the function
   * returned is called: the files a user marked low.
   */
  defer(from: number, to: number): () => void {
    const release = this.#addRange(this.#late, from, to);
    this.#picker.defer(this.#late);
    return release;
  }

  /** Adds `[from, to)` (within the torrent) to `ranges`; the function returned takes it out. */
  #addRange(ranges: PieceRange[], from: number, to: number): () => void {
    const range: PieceRange = {
      from: Math.max(0, from),
      to: Math.min(to, this.torrent.pieceCount),
    };
    ranges.push(range);
    return () => {
      const i = ranges.indexOf(range);
      if (i >= 0) ranges.splice(i, 1);
    };
  }

  /** Starts dialling and the periodic work. */
  start(): void {
    this.#stopTicking?.();
    this.#stopTicking = every(this.#o.tickMs, () => this.#onTick());
    if (this.finished) this.#finish();
    this.#book.fill();
  }

  /** Adds addresses to dial; known and banned ones are skipped. */
  addPeers(addresses: PeerAddress[], source: PeerSource): void {
    if (!this.#stopped) this.#book.add(addresses, source);
  }

  /** Adopts a connection a peer opened to us (already handshaken for this torrent). */
  addIncoming(conn: PeerConnection): void {
    if (this.#stopped || this.#peers.size >= this.#maxPeers() + INCOMING_SLACK) {
      conn.close("too many peers");
      return;
    }
    this.#adopt(conn, undefined, "incoming");
  }

  /**
   * Takes over a connection a magnet link's metadata phase opened, what the peer said on it
   * replayed; the greeting leaves out what the phase sent already (see `HandedPeer`).
   */
  adoptHanded(handed: HandedPeer): void {
    if (!handed.available) return;
    if (this.#stopped || this.#peers.size >= this.#maxPeers() + INCOMING_SLACK) {
      handed.conn.close(this.#stopped ? "session stopped" : "too many peers");
      return;
    }
    const at = handed.dialled;
    const known = at && this.#book.entryFor(at, at.source);
    this.#adopt(handed.conn, known, at?.source ?? "incoming", handed);
  }

  /** Every address known (but banned ones), with where it came from: for the next session. */
  knownAddresses(): SourcedAddress[] {
    return this.#book.addresses();
  }

  /** The connected peers, as a user is shown them (Transmission's `peers`). */
  peers(): PeerView[] {
    const now = performance.now();
    const pieces = this.torrent.pieceCount;
    return [...this.#peers].map((p) => {
      const { host, port } = splitAddressKey(p.address);
      return {
        host,
        port,
        client: p.ext?.version ?? "",
        progress: p.seed ? 1 : pieces > 0 ? p.bits.count / pieces : 0,
        downloadRate: p.down.rate(now),
        uploadRate: p.up.rate(now),
        encrypted: p.conn.encrypted,
        transport: p.conn.transport,
        incoming: p.source === "incoming",
        source: p.source,
        amChoking: p.amChoking,
        amInterested: p.amInterested,
        peerChoking: p.peerChoking,
        peerInterested: p.peerInterested,
      };
    });
  }

  /**
   * Bytes of the wanted pieces not had yet that a connected peer has (Transmission's
   * `desiredAvailable`): all of them while a seed is connected. One pass over the pieces, so
   * asked for when shown, not with every status line.
   */
  availableBytes(): number {
    let seed = false;
    for (const peer of this.#peers) seed ||= peer.seed;
    let bytes = 0;
    for (let i = 0; i < this.have.size; i++) {
      if (this.have.has(i) || !this.wants(i)) continue;
      if (seed || this.#picker.availability(i) > 0) bytes += this.#pieceLength(i);
    }
    return bytes;
  }

  /**
   * For each piece, how many connected peers have it, or -1 for a piece we have (Transmission's
   * `availability`). Seeds are counted apart from the picker's tallies, as they have everything.
   */
  pieceAvailability(): number[] {
    let seeds = 0;
    for (const peer of this.#peers) if (peer.seed) seeds++;
    return Array.from(
      { length: this.have.size },
      (_, i) => this.have.has(i) ? -1 : seeds + this.#picker.availability(i),
    );
  }

  /** Payload bytes received so far, as `stats()` counts them, without building the rest. */
  get downloaded(): number {
    return this.#down.total;
  }

  /** Payload bytes sent so far, as `stats()` counts them, without building the rest. */
  get uploaded(): number {
    return this.#up.total;
  }

  /** The numbers for the status line. */
  stats(): SessionStats {
    let chokingUs = 0, interested = 0, encrypted = 0, utp = 0, sending = 0, getting = 0;
    const now = performance.now();
    const bySource: Record<PeerSource, number> = {
      tracker: 0,
      incoming: 0,
      dht: 0,
      pex: 0,
      magnet: 0,
      manual: 0,
    };
    for (const p of this.#peers) {
      if (p.peerChoking) chokingUs++;
      if (p.peerInterested) interested++;
      if (p.conn.encrypted) encrypted++;
      if (p.conn.transport === "utp") utp++;
      if (p.down.rate(now) > 0) sending++;
      if (p.up.rate(now) > 0) getting++;
      bySource[p.source]++;
    }
    const last = this.torrent.pieceCount - 1;
    const lastLength = this.#pieceLength(last);
    const haveBytes = this.have.count * this.torrent.pieceLength -
      (this.have.has(last) ? this.torrent.pieceLength - lastLength : 0);
    return {
      phase: this.phase,
      pieceCount: this.#wantedCount,
      piecesDone: this.#wantedCount - this.#wantedMissing,
      bytesDone: this.#wantedBytesDone,
      totalBytes: this.#wantedBytes,
      left: this.torrent.totalLength - haveBytes,
      downloadRate: this.#down.rate(),
      uploadRate: this.#up.rate(),
      downloaded: this.#down.total,
      uploaded: this.#up.total,
      webSeedDownloaded: this.#webDown.total,
      webSeedRate: this.#webDown.rate(),
      wasted: this.#wasted,
      hashFailures: this.#hashFailures,
      peersConnected: this.#peers.size,
      peersKnown: this.#book.size,
      peersChokingUs: chokingUs,
      peersInterested: interested,
      peersEncrypted: encrypted,
      peersUtp: utp,
      peersSendingToUs: sending,
      peersGettingFromUs: getting,
      peersBySource: bySource,
    };
  }

  /**
   * Waits, at most `timeoutMs`, until the blocks already handed to peers' sockets have left, so
   * that a stop right after (a seeding limit reached) does not cut off data counted as uploaded.
   */
  async drainUploads(timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs));
    try {
      await Promise.race([Promise.all([...this.#peers].map((p) => p.conn.drained())), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes every peer, waits for pending disk writes, stops timers. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#hashExchange?.close();
    this.#book.close();
    this.#stopTicking?.();
    for (const p of [...this.#peers]) p.conn.close("session stopped");
    await Promise.allSettled([...this.#pendingWrites]);
    this.#reads.clear();
    // Pieces left half done are dropped with the session: their bytes go back to the pool.
    if (this.#pooled > 0) this.#o.sharedBuffers!.give(this.#pooled);
    this.#pooled = 0;
    const stopped = new Error("the torrent stopped");
    for (const waiters of this.#pieceWaiters.values()) for (const w of waiters) w.reject(stopped);
    this.#pieceWaiters.clear();
    this.#resolveDone();
  }

  // ---- connections -------------------------------------------------------------------------

  #adopt(
    conn: PeerConnection,
    known: BookEntry | undefined,
    source: PeerSource,
    handed?: HandedPeer,
  ): void {
    if (this.#book.isBanned(conn.remote.peerId)) {
      conn.close("banned peer");
      if (known) known.state = "banned";
      return;
    }
    for (const other of this.#peers) {
      if (!bytesEqual(other.conn.remote.peerId, conn.remote.peerId)) continue;
      // Both sides dialled at once. Both keep the connection opened by the side with the
      // smaller peer id, so exactly one survives; the address entry follows the survivor.
      const newIsOurs = known !== undefined, otherIsOurs = other.known !== undefined;
      const keepOurs = compareBytes(this.#o.peerId, conn.remote.peerId) < 0;
      const keepNew = newIsOurs !== otherIsOurs && newIsOurs === keepOurs;
      const entry = known ?? other.known;
      if (!keepNew) {
        conn.close("already connected to this peer");
        if (entry && other.known === undefined) {
          other.known = entry;
          this.#book.connected(entry);
        } else if (known && known !== other.known) this.#book.disconnected(known, true);
        return;
      }
      other.known = undefined;
      other.conn.close("replaced by the connection the peer keeps");
      known = entry;
      break;
    }
    if (known) this.#book.connected(known);
    const peer = new Peer(conn, new Bitfield(this.torrent.pieceCount), known, source);
    this.#peers.add(peer);
    this.#log.info(
      `peer ${peer.address} connected (${source}${conn.encrypted ? ", encrypted" : ""}` +
        `${conn.transport === "utp" ? ", uTP" : ""})`,
    );
    const events = {
      onMessage: (m: Message) => this.#onMessage(peer, m),
      onClose: (reason: string) => this.#onClose(peer, reason),
    };
    const said = handed ? handed.take(events, this.handshakeOptions) : [];
    if (!handed) conn.start(events);
    const fast = conn.remote.fast;
    // A handed connection had HAVE NONE or nothing first: pieces found since go as HAVEs.
    if (handed) { for (const i of this.have.ones()) conn.send(encodeIndex(MessageId.have, i)); }
    else if (fast && this.have.count === 0) conn.send(encodeSimple(MessageId.haveNone));
    else if (fast && this.complete) conn.send(encodeSimple(MessageId.haveAll));
    else if (this.have.count > 0) conn.send(encodeBitfield(this.have.bytes));
    if (fast) this.#grantAllowedFast(peer);
    if (conn.remote.extensions) {
      conn.send(encodeExtended(
        0,
        encodeExtendedHandshake({
          version: CLIENT_VERSION,
          port: this.#o.listenPort,
          reqq: MAX_QUEUED_UPLOADS,
          metadataSize: this.torrent.infoBytes?.length,
        }),
      ));
    }
    if (conn.remote.dht && this.#o.dhtPort !== undefined && !this.torrent.private) {
      conn.send(encodePort(this.#o.dhtPort));
    }
    for (const m of said) {
      if (conn.closed) break;
      this.#onMessage(peer, m);
    }
  }

  #onClose(peer: Peer, reason: string): void {
    if (!this.#peers.delete(peer)) return;
    this.#log.info(`peer ${peer.address} closed: ${reason}`);
    this.#releaseAll(peer);
    this.#hashExchange?.dropped(peer);
    // Seeds are not counted per piece, so only a partial peer's pieces lose availability.
    if (!peer.seed) { for (const i of peer.bits.ones()) this.#picker.peerLost(i); }
    if (peer.known) {
      this.#book.disconnected(peer.known, performance.now() - peer.connectedAt < 30_000);
    }
    if (this.#stopped) return;
    for (const p of this.#peers) this.#request(p);
    this.#book.fill();
  }

  #ban(peer: Peer, reason: string): void {
    this.#log.warn(`banning peer ${peer.address}: ${reason}`);
    this.#o.events?.peerBanned?.(peer.address, reason);
    const at = peer.known ?? splitAddressKey(peer.address);
    this.#book.ban(at.host, at.port, peer.conn.remote.peerId, peer.source);
    peer.conn.close(`banned: ${reason}`);
    // What it sent to pieces still filling is suspect too: fetch those blocks from others, or
    // a good peer completing such a piece would share the blame for its bad hash.
    let discarded = false;
    for (const piece of [...this.#active.values()]) {
      const before = piece.receivedCount;
      for (let b = 0; b < piece.blockCount; b++) {
        if (!piece.received[b] || piece.senders[b] !== peer.address) continue;
        piece.discard(b);
        this.#wasted += piece.blockLength(b);
      }
      if (piece.receivedCount === before) continue;
      discarded = true;
      this.#reopen(piece);
    }
    if (discarded) { for (const p of this.#peers) this.#request(p); }
  }

  // ---- whole-piece sources (web seeds) ------------------------------------------------------

  /**
   * Claims up to `maxPieces` consecutive wanted pieces nobody works on, the lowest first, for a
   * source that fetches pieces whole (a web seed), each with a buffer counted in the memory
   * budget: none when it is spent, and fewer near the end, so the last pieces are not all held
   * by one slow source. The source fills each buffer and hands it to `deliver`, or gives it back
   * with `release`.
   */
  claimRun(maxPieces: number): ActivePiece[] {
    if (this.#stopped || this.finished) return [];
    const L = this.torrent.pieceLength;
    const budget = Math.max(this.#bufferBudget(), 2 * L);
    let fits = Math.floor((budget - this.#bufferedBytes) / L);
    const pool = this.#o.sharedBuffers;
    if (pool) {
      const guaranteed = Math.floor((2 * L - this.#bufferedBytes) / L);
      fits = Math.min(fits, Math.max(guaranteed, Math.floor((pool.limit - pool.used) / L)));
    }
    const count = Math.min(maxPieces, fits, Math.max(1, Math.ceil(this.#picker.remaining / 4)));
    if (count <= 0) return [];
    return this.#picker.pickRun(count, (i) => this.#checkable(i)).map((index) => {
      const length = this.#pieceLength(index);
      const buffer = this.#buffers.take(length);
      this.#holdBuffer(length);
      return new ActivePiece(index, length, buffer, this.#padded.get(index));
    });
  }

  /**
   * A claimed piece, filled by `source` (a web seed's URL): checked and written as a peer's would
   * be. False when it fails its hash; it then goes back to the pool.
   */
  deliver(piece: ActivePiece, source: string): boolean {
    if (this.#stopped) {
      this.#releaseBuffer(piece);
      return true;
    }
    piece.fillFrom(source);
    return this.#verify(piece);
  }

  /** A claimed piece its source could not fill goes back to the pool. */
  release(piece: ActivePiece): void {
    this.#picker.restore(piece.index);
    this.#releaseBuffer(piece);
  }

  /** Counts `bytes` that arrived from a web seed, in the totals and rates. */
  countWebSeedBytes(bytes: number): void {
    const now = performance.now();
    this.#down.add(bytes, now);
    this.#webDown.add(bytes, now);
  }

  // ---- messages ----------------------------------------------------------------------------

  #onMessage(peer: Peer, m: Message): void {
    switch (m.type) {
      case "keepalive":
        return;
      case "choke":
        peer.peerChoking = true;
        this.#releaseAll(peer);
        return;
      case "unchoke":
        peer.peerChoking = false;
        this.#request(peer);
        return;
      case "interested":
        peer.peerInterested = true;
        this.#unchokeIfSlotFree(peer);
        return;
      case "notInterested":
        peer.peerInterested = false;
        return;
      case "have":
        return this.#onHave(peer, m.index);
      case "bitfield":
        return this.#onBitfield(peer, m.bits);
      case "haveAll":
        return this.#onHaveAll(peer);
      case "haveNone":
        return this.#onBitfield(peer, undefined);
      case "request":
        return this.#onRequest(peer, m);
      case "cancel":
        return this.#onCancel(peer, m);
      case "piece":
        return this.#onBlock(peer, m.index, m.begin, m.block);
      case "reject":
        return this.#onReject(peer, m.index, m.begin);
      case "extended":
        return this.#onExtended(peer, m.id, m.payload);
      case "port":
        if (!this.torrent.private && m.port > 0) {
          this.#o.onDhtNode?.(splitAddressKey(peer.address).host, m.port);
        }
        return;
      case "allowedFast":
        if (m.index < this.torrent.pieceCount && peer.allowedFast.size < ALLOWED_FAST_COUNT * 4) {
          peer.allowedFast.add(m.index);
          if (peer.peerChoking) this.#request(peer);
        }
        return;
      case "hashRequest":
        if (this.#hashExchange) this.#hashExchange.serve(peer, m.request);
        else peer.conn.send(encodeHashMessage(MessageId.hashReject, m.request));
        return;
      case "hashes":
        if (!this.#hashExchange?.accept(peer, m.request, m.hashes)) {
          this.#log.warn(`peer ${peer.address} sent hashes that do not prove out`);
          if (++peer.strikes >= this.#o.maxStrikes) this.#ban(peer, "sent false hashes");
        }
        return;
      case "hashReject":
        this.#log.debug(`peer ${peer.address} rejected a hash request`);
        this.#hashExchange?.rejected(peer, m.request);
        return;
      case "suggest":
      case "unknown":
        return;
    }
  }

  // ---- v2 hashes (BEP 52) -------------------------------------------------------------------

  /** Piece `index` as we hold it, for hashes a peer asks of its blocks; undefined if we lack it. */
  #readOwnPiece(index: number): Promise<Uint8Array | undefined> {
    if (!this.have.has(index)) return Promise.resolve(undefined);
    return this.#o.storage.read(index, 0, this.#pieceLength(index));
  }

  /** True when piece `i` can be checked now (not while its v2 piece layer is unknown). */
  #checkable(i: number): boolean {
    return !this.#awaitingLayers || this.torrent.hashes.knows(i);
  }

  /**
   * True when `peer`'s connection is a v2 one, made on the v2 info-hash: only there do hash
   * messages go (libtorrent refuses them on a hybrid torrent's v1 connections, v2 bit or not).
   */
  #onV2Connection(peer: Peer): boolean {
    const v2 = this.torrent.infoHashV2?.subarray(0, 20);
    return v2 !== undefined && bytesEqual(peer.conn.remote.infoHash, v2);
  }

  /** Asks `peer` for the piece layers still unknown, if it has their pieces. */
  #askForLayers(peer: Peer): void {
    if (this.#awaitingLayers && this.#onV2Connection(peer)) this.#hashExchange?.offer(peer);
  }

  /** A piece layer proved out: its pieces can be checked, so they may be fetched now. */
  #onLayer(): void {
    const missing = this.torrent.v2Pieces!.missingLayers().length;
    this.#log.info(`piece layer received; ${missing} still to fetch`);
    this.#awaitingLayers = missing > 0;
    for (const p of this.#peers) this.#request(p);
  }

  /** Tells a fast-extension peer which pieces it may fetch from us while choked (BEP 6). */
  #grantAllowedFast(peer: Peer): void {
    const { host } = splitAddressKey(peer.address);
    const set = allowedFastSet(
      host,
      this.torrent.infoHash,
      this.torrent.pieceCount,
      ALLOWED_FAST_COUNT,
    );
    peer.grantedFast = new Set(set);
    for (const index of set) peer.conn.send(encodeIndex(MessageId.allowedFast, index));
  }

  #onExtended(peer: Peer, id: number, payload: Uint8Array): void {
    try {
      if (id === 0) {
        peer.ext = parseExtendedHandshake(payload);
      } else if (id === LOCAL_EXTENSION_IDS.ut_metadata) {
        this.#onMetadataMessage(peer, parseMetadataMessage(payload));
      } else if (id === LOCAL_EXTENSION_IDS.ut_pex && this.#pexOn()) {
        this.addPeers(parsePex(payload).added, "pex");
      }
    } catch (e) {
      if (!(e instanceof ExtensionError)) throw e;
      this.#protocolError(peer, e.message);
    }
  }

  /** Serves our info dictionary to peers fetching it (BEP 9). */
  #onMetadataMessage(peer: Peer, m: MetadataMessage): void {
    const remoteId = peer.ext?.m.get("ut_metadata");
    if (m.type !== "request" || !remoteId) return;
    const info = this.torrent.infoBytes;
    const data = info && metadataBlock(info, m.piece);
    peer.conn.send(encodeExtended(
      remoteId,
      encodeMetadataMessage(
        data
          ? { type: "data", piece: m.piece, totalSize: info!.length, data }
          : { type: "reject", piece: m.piece },
      ),
    ));
  }

  /** Tells each PEX-capable peer which peers joined and left since we last told it (BEP 11). */
  #sendPex(now: number): void {
    if (!this.#pexOn()) return;
    const everyone: { peer: Peer; entry: PexPeer }[] = [];
    for (const p of this.#peers) {
      const at = p.listenAddress;
      if (!at) continue;
      const flags = (p.seed ? PEX_FLAGS.seed : 0) | (p.known ? PEX_FLAGS.outgoing : 0) |
        (p.conn.encrypted ? PEX_FLAGS.encryption : 0) |
        (p.conn.transport === "utp" ? PEX_FLAGS.utp : 0);
      everyone.push({ peer: p, entry: { ...at, flags } });
    }
    for (const peer of this.#peers) {
      const remoteId = peer.ext?.m.get("ut_pex");
      if (!remoteId) continue;
      peer.pex ??= new PexState({ intervalMs: this.#o.pexIntervalMs });
      const others = everyone.filter((e) => e.peer !== peer).map((e) => e.entry);
      const message = peer.pex.next(others, now);
      if (message) peer.conn.send(encodeExtended(remoteId, encodePex(message)));
    }
  }

  #pexOn(): boolean {
    return !this.torrent.private && (this.#o.pex?.() ?? true);
  }

  #protocolError(peer: Peer, reason: string): void {
    this.#log.debug(`peer ${peer.address}: ${reason}`);
    peer.conn.close(`protocol error: ${reason}`);
  }

  #onHave(peer: Peer, index: number): void {
    if (index >= this.torrent.pieceCount) return this.#protocolError(peer, "have out of range");
    if (peer.seed || peer.bits.has(index)) return;
    peer.bits.set(index);
    if (peer.bits.complete) {
      // Became a seed: move its count from per-piece to the seed counter.
      for (const i of peer.bits.ones()) if (i !== index) this.#picker.peerLost(i);
      peer.seed = true;
    } else this.#picker.peerHas(index);
    if (!this.have.has(index) && this.wants(index)) {
      peer.missing++;
      this.#updateInterest(peer);
    }
    if (peer.seed && this.finished) peer.conn.close("nothing to exchange with a seed");
  }

  #onBitfield(peer: Peer, bits: Uint8Array | undefined): void {
    if (bits === undefined) {
      if (peer.gotBitfield) return this.#protocolError(peer, "have-none after the bitfield");
      peer.gotBitfield = true;
      return;
    }
    if (!isValidBitfield(bits, this.torrent.pieceCount)) {
      return this.#protocolError(peer, "bitfield of the wrong size");
    }
    const got = new Bitfield(this.torrent.pieceCount, bits);
    if (peer.gotBitfield) {
      // aria2 sends a later BITFIELD instead of many HAVEs: take it as HAVEs, never clearing.
      for (const i of got.ones()) this.#onHave(peer, i);
      return;
    }
    peer.gotBitfield = true;
    if (got.complete) return this.#onHaveAll(peer);
    for (const i of got.ones()) {
      peer.bits.set(i);
      this.#picker.peerHas(i);
      if (!this.have.has(i) && this.wants(i)) peer.missing++;
    }
    this.#askForLayers(peer);
    this.#updateInterest(peer);
  }

  #onHaveAll(peer: Peer): void {
    peer.gotBitfield = true;
    if (peer.seed) return;
    for (const i of peer.bits.ones()) this.#picker.peerLost(i);
    peer.bits.fill();
    peer.seed = true;
    peer.missing = this.#wantedMissing;
    if (this.finished) return peer.conn.close("nothing to exchange with a seed");
    this.#askForLayers(peer);
    this.#updateInterest(peer);
  }

  #updateInterest(peer: Peer): void {
    const want = peer.missing > 0 && !this.finished;
    if (want === peer.amInterested) {
      if (want) this.#request(peer);
      return;
    }
    peer.amInterested = want;
    peer.conn.send(encodeSimple(want ? MessageId.interested : MessageId.notInterested));
    if (want) this.#request(peer);
  }

  // ---- requesting --------------------------------------------------------------------------

  #pieceLength(index: number): number {
    return pieceLengthAt(this.torrent, index);
  }

  /** Tops up `peer`'s request pipeline. */
  #request(peer: Peer): void {
    if (this.#stopped || !peer.amInterested || peer.conn.closed) return;
    if (peer.peerChoking && peer.allowedFast.size === 0) return;
    const limit = peer.snubbed ? 1 : peer.maxRequests;
    // The request timeout counts from the first request of a burst, not from an idle past.
    if (peer.requests.size === 0) peer.lastBlockAt = performance.now();
    while (peer.requests.size < limit) {
      const id = this.#nextBlock(peer);
      if (id === -1) return;
      const piece = this.#active.get(Math.floor(id / this.#blocksPerPiece))!;
      const b = id % this.#blocksPerPiece;
      piece.requested[b]++;
      peer.requests.set(id, performance.now());
      const at = b * MAX_BLOCK;
      const length = piece.blockLength(b);
      peer.conn.send(
        encodeBlockAddress(MessageId.request, piece.index, at, length, this.#requestMessage),
      );
    }
  }

  /** True when `peer` may be asked for piece `i`: it has it, and allows it while choking. */
  #mayAsk(peer: Peer, i: number): boolean {
    return peer.bits.has(i) && (!peer.peerChoking || peer.allowedFast.has(i));
  }

  /**
   * The next block to ask `peer` for, as a request id (piece index × blocks per piece + block;
   * -1 for none): its own pieces, then others' started ones, then a new one. Called once per
   * request, so it allocates nothing until it starts a piece.
   */
  #nextBlock(peer: Peer): number {
    // 1. Pieces this peer already works on. One with every block asked for leaves the list (a
    // block given back later puts it in `#open`), so the list stays short even when small
    // pieces make the pipeline hundreds of pieces long.
    for (let i = peer.pieces.length - 1; i >= 0; i--) {
      const piece = peer.pieces[i];
      const b = this.#active.get(piece.index) === piece ? piece.nextFreeBlock() : -1;
      if (b === -1) {
        peer.pieces.splice(i, 1);
        continue;
      }
      if (this.#mayAsk(peer, piece.index)) return piece.index * this.#blocksPerPiece + b;
    }
    // 2. Finish pieces others started.
    for (const piece of this.#open) {
      if (!this.#mayAsk(peer, piece.index)) continue;
      const b = piece.nextFreeBlock();
      if (b === -1) {
        this.#open.delete(piece);
        continue;
      }
      peer.pieces.push(piece);
      return piece.index * this.#blocksPerPiece + b;
    }
    // 3. Start a new piece, if memory allows. In sequential mode, not a random allowed-fast
    // one while choked: that would put pieces far ahead before the first ones.
    const inOrderWait = peer.peerChoking && this.#o.sequential === true;
    const room = this.#roomForPiece();
    if (!inOrderWait && room) {
      const index = this.#picker.pick(
        (i) => this.#mayAsk(peer, i) && this.#checkable(i),
        peer.runNext,
      );
      if (index !== -1) {
        peer.runNext = index + 1;
        const length = this.#pieceLength(index);
        const buffer = this.#buffers.take(length);
        const piece = new ActivePiece(index, length, buffer, this.#padded.get(index));
        this.#active.set(index, piece);
        this.#holdBuffer(piece.length);
        // A piece of one block has nothing more to ask for once this request goes out, so it
        // joins neither list (giving the request back abandons it): at 16 KiB pieces the lists'
        // churn was about 5 % of the bytes allocated (heap sampling).
        if (piece.blockCount > 1) {
          this.#open.add(piece);
          peer.pieces.push(piece);
        }
        return index * this.#blocksPerPiece;
      }
    }
    // 4. Endgame: nothing left to start, so race others for the blocks still outstanding.
    if (this.#picker.remaining === 0 && !peer.peerChoking) return this.#endgameBlock(peer);
    return -1;
  }

  /**
   * A block others are fetching, for a peer whose pipeline is nearly empty: the one asked of the
   * fewest peers, and of those the last asked for, which waits at the back of some queue. A peer
   * with a longer queue takes none: its copy would come too late and spend the sender's upload.
   */
  #endgameBlock(peer: Peer): number {
    if (peer.requests.size >= ENDGAME_DEPTH) return -1;
    let best = -1;
    let fewest = Infinity;
    for (const piece of this.#active.values()) {
      if (!peer.bits.has(piece.index) || piece.complete) continue;
      const base = piece.index * this.#blocksPerPiece;
      for (let b = 0; b < piece.blockCount; b++) {
        const asked = piece.requested[b];
        if (piece.received[b] || asked > fewest || peer.requests.has(base + b)) continue;
        fewest = asked;
        best = base + b;
      }
    }
    return best;
  }

  /** Gives back one outstanding request of `peer`. */
  #release(peer: Peer, id: number): void {
    if (!peer.requests.delete(id)) return;
    const piece = this.#active.get(Math.floor(id / this.#blocksPerPiece));
    if (!piece) return;
    piece.release(id % this.#blocksPerPiece);
    this.#reopen(piece);
  }

  /** A piece given blocks back: to the picker when none of it is left, else to the open set. */
  #reopen(piece: ActivePiece): void {
    if (piece.untouched) this.#abandon(piece);
    else this.#open.add(piece);
  }

  /** Gives back every outstanding request of `peer`, so other peers can take them over. */
  #releaseAll(peer: Peer): void {
    for (const id of [...peer.requests.keys()]) this.#release(peer, id);
    peer.pieces = [];
  }

  /** Returns a piece nobody works on to the picker, freeing its buffer. */
  #abandon(piece: ActivePiece): void {
    this.#active.delete(piece.index);
    this.#open.delete(piece);
    this.#picker.restore(piece.index);
    this.#releaseBuffer(piece);
  }

  #onReject(peer: Peer, index: number, begin: number): void {
    this.#release(peer, index * this.#blocksPerPiece + Math.floor(begin / MAX_BLOCK));
    this.#request(peer);
  }

  #onBlock(peer: Peer, index: number, begin: number, data: Uint8Array): void {
    if (index >= this.torrent.pieceCount || begin % MAX_BLOCK !== 0) {
      return this.#protocolError(peer, "piece message for a block we never ask for");
    }
    const b = begin / MAX_BLOCK;
    const id = index * this.#blocksPerPiece + b;
    if (!peer.requests.delete(id)) {
      // A late reply to a cancelled or dropped request, or a block nobody asked for: never
      // let it into a piece, or a sprayer could poison pieces others are filling.
      this.#wasted += data.length;
      return;
    }
    const piece = this.#active.get(index);
    if (!piece || b >= piece.blockCount || data.length !== piece.blockLength(b)) {
      this.#wasted += data.length;
      return this.#protocolError(peer, "block of the wrong size");
    }
    piece.requested[b]--;
    const now = performance.now();
    peer.lastBlockAt = now;
    peer.snubbed = false;
    peer.down.add(data.length, now);
    this.#down.add(data.length, now);
    this.#adaptDepth(peer, now);
    if (!piece.store(b, data, peer.address)) {
      this.#wasted += data.length;
    } else if (piece.requested[b] > 0) {
      // Endgame: others were asked for this block too; call them off, and give them new work.
      const freed: Peer[] = [];
      for (const other of this.#peers) {
        if (other !== peer && other.requests.delete(id)) {
          piece.requested[b]--;
          other.conn.send(
            encodeBlockAddress(MessageId.cancel, index, begin, data.length),
          );
          freed.push(other);
        }
      }
      for (const other of freed) this.#request(other);
    }
    if (piece.complete) this.#verify(piece);
    this.#request(peer);
  }

  /** Who sent the blocks of `piece` (pad blocks have no sender: the array has holes there). */
  #senders(piece: ActivePiece): string[] {
    return [...new Set(piece.senders.filter((s) => s !== undefined))];
  }

  /** A failed piece given up whole: fetched again, every sender blamed. */
  #dropFailed(piece: ActivePiece, culprits: string[]): void {
    this.#wasted += piece.length;
    this.#picker.restore(piece.index);
    this.#releaseBuffer(piece);
    for (const p of [...this.#peers]) {
      if (!culprits.includes(p.address)) continue;
      p.strikes += culprits.length === 1 ? this.#o.maxStrikes : 1;
      if (p.strikes >= this.#o.maxStrikes) this.#ban(p, "sent data that failed hash checks");
    }
  }

  /**
   * Peers on a v2 connection that have piece `index`, to ask for its block hashes: those that
   * sent none of it first. None for v1 pieces.
   */
  #blockHashPeers(index: number, senders: string[]): Peer[] {
    if (!this.torrent.v2Pieces?.knows(index)) return [];
    const piece = [...this.#peers].filter((p) =>
      this.#onV2Connection(p) && (p.seed || p.bits.has(index))
    );
    const sent = (p: Peer) => senders.includes(p.address) ? 1 : 0;
    return piece.sort((a, b) => sent(a) - sent(b));
  }

  /**
   * Asks up to three peers in turn for the block hashes of a failed piece (one that sent bad
   * blocks may lie about their hashes too; a lie does not prove out); without an answer the
   * piece is given up whole.
   */
  async #askBlockHashes(piece: ActivePiece, culprits: string[], helpers: Peer[]): Promise<void> {
    for (const helper of helpers.slice(0, 3)) {
      const leaves = await this.#hashExchange!.blockHashes(helper, piece.index);
      if (this.#stopped) return this.#releaseBuffer(piece);
      if (leaves !== undefined) return this.#pinBadBlocks(piece, leaves, culprits);
    }
    this.#dropFailed(piece, culprits);
  }

  /**
   * Checks each block of a failed piece against its proven hash: bad blocks are dropped and
   * their senders banned, good ones kept, and the piece goes on with only the bad blocks to
   * fetch again. When every block matches (the v1 half disagreed), the piece is given up whole.
   */
  #pinBadBlocks(piece: ActivePiece, leaves: Uint8Array, culprits: string[]): void {
    const bad = new Set<string>();
    const dataLength = this.#padded.get(piece.index) ?? piece.length;
    for (let b = 0; b * MAX_BLOCK < dataLength; b++) {
      const block = piece.buffer.subarray(b * MAX_BLOCK, Math.min((b + 1) * MAX_BLOCK, dataLength));
      if (bytesEqual(sha256(block), leaves.subarray(b * MERKLE_HASH, (b + 1) * MERKLE_HASH))) {
        continue;
      }
      bad.add(piece.senders[b]);
      piece.discard(b);
      this.#wasted += block.length;
    }
    if (bad.size === 0) return this.#dropFailed(piece, culprits);
    this.#log.warn(`piece ${piece.index}: bad blocks pinned on ${[...bad].join(", ")}`);
    for (const p of [...this.#peers]) {
      if (bad.has(p.address)) this.#ban(p, "sent blocks that failed their v2 hashes");
    }
    this.#active.set(piece.index, piece);
    this.#reopen(piece);
    for (const p of this.#peers) this.#request(p);
  }

  /** Keeps about two seconds of this peer's measured rate in flight (16..500 blocks). */
  #adaptDepth(peer: Peer, now: number): void {
    const wanted = Math.ceil((peer.down.rate(now) * 2) / MAX_BLOCK);
    peer.maxRequests = Math.max(16, Math.min(500, wanted));
  }

  /** Checks a complete piece; a good one is written, a bad one handled. True when good. */
  #verify(piece: ActivePiece): boolean {
    this.#active.delete(piece.index);
    this.#open.delete(piece);
    const index = piece.index;
    if (!this.torrent.hashes.verify(index, piece.buffer)) {
      const culprits = this.#senders(piece);
      this.#hashFailures++;
      this.#log.warn(`piece ${index} failed its hash check (from ${culprits.join(", ")})`);
      this.#o.events?.pieceFailed?.(index, culprits);
      const helpers = culprits.length > 1 ? this.#blockHashPeers(index, culprits) : [];
      // v2: the piece's block hashes tell which blocks are bad; the rest are kept.
      if (helpers.length > 0) this.#askBlockHashes(piece, culprits, helpers);
      else this.#dropFailed(piece, culprits);
      return false;
    }
    const write: Promise<void> = this.#o.storage.writePiece(index, piece.buffer).then(() => {
      this.#pendingWrites.delete(write);
      this.#onPieceWritten(index);
      this.#releaseBuffer(piece);
    }, (e) => {
      this.#pendingWrites.delete(write);
      this.#releaseBuffer(piece);
      this.#fail(e instanceof Error ? e : new Error(String(e)));
    });
    this.#pendingWrites.add(write);
    return true;
  }

  #bufferBudget(): number {
    const perPeer = this.#peers.size * BUFFER_PER_PEER;
    return this.#o.maxBufferedBytes ??
      Math.min(MAX_BUFFER_BUDGET, Math.max(MIN_BUFFER_BUDGET, perPeer));
  }

  /**
   * Whether a new piece may start: within this session's budget and the process's pool. Two
   * pieces fit whatever either says: one filling while the other is hashed and written. When
   * there is no room, the session is woken once some is freed (its own, or the pool's).
   */
  #roomForPiece(): boolean {
    const L = this.torrent.pieceLength;
    const guaranteed = this.#bufferedBytes + L <= 2 * L;
    const own = guaranteed || this.#bufferedBytes + L <= this.#bufferBudget();
    const pool = this.#o.sharedBuffers;
    const shared = guaranteed || !pool || pool.fits(L);
    if (own && shared) return true;
    this.#bufferStarved = true;
    if (own) pool!.onRoom(this.#wakeFromPool);
    return false;
  }

  #holdBuffer(bytes: number): void {
    this.#bufferedBytes += bytes;
    if (!this.#o.sharedBuffers || this.#stopped) return;
    this.#o.sharedBuffers.take(bytes);
    this.#pooled += bytes;
  }

  /** Gives back a piece's buffer and its share of the budget, waking peers that waited. */
  #releaseBuffer(piece: ActivePiece): void {
    this.#bufferedBytes -= piece.length;
    const back = Math.min(piece.length, this.#pooled);
    if (back > 0) {
      this.#pooled -= back;
      this.#o.sharedBuffers!.give(back);
    }
    if (this.finished) this.#buffers.clear();
    else this.#buffers.give(piece.buffer);
    if (!this.#bufferStarved) return;
    this.#bufferStarved = false;
    for (const p of this.#peers) this.#request(p);
  }

  #onPieceWritten(index: number): void {
    if (this.#stopped) return;
    if (this.have.has(index)) return;
    this.have.set(index);
    const waiters = this.#pieceWaiters.get(index);
    if (waiters) {
      this.#pieceWaiters.delete(index);
      for (const w of waiters) w.resolve();
    }
    const wanted = this.wants(index);
    if (wanted) {
      this.#wantedMissing--;
      this.#wantedBytesDone += this.#pieceLength(index);
    }
    let have: Uint8Array | undefined;
    for (const p of this.#peers) {
      // A seed has every piece: a HAVE would cost both sides a write and a read for nothing
      // (one per piece, a third of our writes when downloading from one seed).
      if (!p.seed) p.conn.send(have ??= encodeIndex(MessageId.have, index));
      if (wanted && p.bits.has(index)) {
        p.missing--;
        if (p.missing === 0) this.#updateInterest(p);
      }
    }
    if (this.finished) this.#finish();
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#log.info(
      this.complete
        ? "download complete: every piece verified"
        : `download complete: the ${this.#wantedCount} pieces of the chosen files verified`,
    );
    for (const listener of this.#completeListeners.splice(0)) listener();
    for (const p of [...this.#peers]) {
      if (p.seed) p.conn.close("both seeds");
      else this.#updateInterest(p);
    }
    if (!this.#o.seed) this.#resolveDone();
  }

  #fail(error: Error): void {
    if (this.#stopped) return;
    this.#log.warn(`stopping: ${error.message}`);
    this.#rejectDone(error);
  }

  // ---- uploading ---------------------------------------------------------------------------

  #onRequest(peer: Peer, r: Upload): void {
    const valid = r.index < this.torrent.pieceCount && r.length > 0 &&
      r.length <= MAX_SERVED_BLOCK && r.begin + r.length <= this.#pieceLength(r.index);
    if (!valid) return this.#protocolError(peer, "invalid request");
    const allowed = !peer.amChoking || peer.grantedFast.has(r.index);
    if (!allowed || !this.have.has(r.index) || peer.uploads.length >= MAX_QUEUED_UPLOADS) {
      if (peer.conn.remote.fast) {
        peer.conn.send(encodeBlockAddress(MessageId.reject, r.index, r.begin, r.length));
      }
      return;
    }
    peer.uploads.push(r);
    if (!peer.serving) this.#serve(peer);
  }

  #onCancel(peer: Peer, r: Upload): void {
    const i = peer.uploads.findIndex((u) =>
      u.index === r.index && u.begin === r.begin && u.length === r.length
    );
    if (i !== -1) peer.uploads.splice(i, 1);
  }

  /**
   * Sends queued blocks to `peer`, paced by the upload limiter and the socket. It awaits only
   * when it must (a limit, a full socket, a piece not in memory): the connection writes once
   * the loop yields, so every block sent before that leaves in the same write. An `await` per
   * block sent each in its own write, 64 000 a GiB, and the receiver was woken for each one.
   */
  async #serve(peer: Peer): Promise<void> {
    peer.serving = true;
    const limiter = this.#o.uploadLimiter;
    const send = (r: Upload, block: Uint8Array) => {
      peer.conn.send(encodePieceHeader(r.index, r.begin, r.length));
      peer.conn.send(block);
    };
    try {
      while (peer.uploads.length > 0 && !peer.conn.closed) {
        // Refill at 128 KiB left rather than none, so the socket never waits for a disk read.
        if (peer.conn.queuedBytes > 512 * 1024) await peer.conn.drained(128 * 1024);
        const r = peer.uploads.shift()!;
        if (limiter && !limiter.tryTake(r.length)) await limiter.take(r.length, peer.conn.signal);
        if (peer.conn.closed) return;
        if (r.begin === 0) {
          // Starting a piece: read the next one the peer asked for while this one is sent.
          const next = peer.uploads.find((u) => u.index !== r.index);
          if (next) this.#reads.prefetch(next.index);
        }
        const cached = this.#reads.peek(r.index, r.begin, r.length);
        if (cached) send(r, cached);
        else await this.#reads.serve(r.index, r.begin, r.length, (block) => send(r, block));
        const now = performance.now();
        peer.up.add(r.length, now);
        this.#up.add(r.length, now);
      }
    } catch (e) {
      if (!peer.conn.closed) {
        this.#log.warn(`cannot serve ${peer.address}: ${e instanceof Error ? e.message : e}`);
        peer.conn.close("upload failed");
      }
    } finally {
      peer.serving = false;
    }
  }

  #unchokeIfSlotFree(peer: Peer): void {
    if (!peer.amChoking) return;
    let unchoked = 0;
    for (const p of this.#peers) if (!p.amChoking) unchoked++;
    if (unchoked < this.#o.uploadSlots + 1) this.#setChoke(peer, false);
  }

  #setChoke(peer: Peer, choke: boolean): void {
    if (peer.amChoking === choke) return;
    peer.amChoking = choke;
    peer.conn.send(encodeSimple(choke ? MessageId.choke : MessageId.unchoke));
    if (choke) {
      const kept = peer.uploads.filter((r) => peer.grantedFast.has(r.index));
      if (peer.conn.remote.fast) {
        for (const r of peer.uploads) {
          if (peer.grantedFast.has(r.index)) continue;
          peer.conn.send(encodeBlockAddress(MessageId.reject, r.index, r.begin, r.length));
        }
      }
      peer.uploads.splice(0, peer.uploads.length, ...kept);
    }
  }

  #rechoke(): void {
    const now = performance.now();
    const peers = [...this.#peers];
    const decision = choose(
      peers.map((p) => ({
        interested: p.peerInterested,
        rate: this.finished ? p.up.rate(now) : p.down.rate(now),
        optimistic: p.optimistic,
        connectedAt: p.connectedAt,
      })),
      {
        slots: this.#o.uploadSlots,
        rotateOptimistic: this.#ticks % 30 === 0,
        random: Math.random,
      },
    );
    peers.forEach((p, i) => {
      p.optimistic = decision[i] === "optimistic";
      this.#setChoke(p, decision[i] === "choke");
    });
  }

  // ---- periodic work -----------------------------------------------------------------------

  /**
   * Closes peers past the limit (its share shrank: more torrents run in the process), the
   * least useful first: those with nothing to exchange, then the slowest to send to us.
   */
  #shedExcessPeers(now: number): void {
    const excess = this.#peers.size - this.#maxPeers() - INCOMING_SLACK;
    if (excess <= 0) return;
    const useless = (p: Peer) => (p.amInterested || p.peerInterested ? 0 : 1);
    const worst = [...this.#peers].sort((a, b) =>
      useless(b) - useless(a) || a.down.rate(now) - b.down.rate(now)
    );
    for (const p of worst.slice(0, excess)) p.conn.close("over this torrent's share of peers");
  }

  #onTick(): void {
    if (this.#stopped) return;
    this.#ticks++;
    // No peer and no address to dial: nothing to do (most of a seedbox's torrents, most of
    // the time).
    if (this.#peers.size === 0 && this.#book.size === 0) return;
    const now = performance.now();
    for (const peer of [...this.#peers]) {
      if (now - peer.conn.lastReceivedAt > this.#o.idleTimeoutMs) {
        peer.conn.close("peer went silent");
        continue;
      }
      if (now - peer.conn.lastSentAt > 60_000) peer.conn.send(encodeKeepAlive());
      if (peer.requests.size > 0 && now - peer.lastBlockAt > this.#o.requestTimeoutMs) {
        this.#log.debug(`peer ${peer.address} snubbed us: requests time out`);
        peer.snubbed = true;
        peer.lastBlockAt = now;
        for (const id of [...peer.requests.keys()]) {
          const index = Math.floor(id / this.#blocksPerPiece);
          const begin = (id % this.#blocksPerPiece) * MAX_BLOCK;
          const length = Math.min(MAX_BLOCK, this.#pieceLength(index) - begin);
          peer.conn.send(encodeBlockAddress(MessageId.cancel, index, begin, length));
          this.#release(peer, id);
        }
        for (const p of this.#peers) if (p !== peer) this.#request(p);
      }
    }
    if (this.#ticks % 10 === 1) this.#rechoke();
    this.#shedExcessPeers(now);
    // Layers asked of a peer that failed go to the next one that can give them.
    if (this.#awaitingLayers && this.#hashExchange?.wanting) {
      for (const peer of this.#peers) this.#askForLayers(peer);
    }
    this.#sendPex(now);
    this.#book.fill();
  }
}
