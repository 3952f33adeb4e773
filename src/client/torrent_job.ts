/**
 * One torrent from start to finish: its storage (checked on open), the engine session, the
 * listening socket and the trackers, wired together and torn down in the right order.
 *
 * @module
 */
import {
  type PeerAddress,
  Session,
  type SessionLog,
  type SessionOptions,
  type SessionStats,
} from "../engine/mod.ts";
import type { Torrent } from "../metainfo/mod.ts";
import { makePeerId, type PeerListener } from "../peer/mod.ts";
import { listenForTorrent } from "./listen.ts";
import { describeTracker } from "./status.ts";
import { DhtLookups, type DhtNode } from "./dht_lookups.ts";
import { Storage } from "../storage/mod.ts";
import { Announcer, type AnnouncerOptions, type TrackerStatus } from "../tracker/mod.ts";
import { TokenBucket } from "../util/mod.ts";

/** What a job needs; everything but the torrent and folder has a sensible default. */
export interface TorrentJobOptions {
  torrent: Torrent;
  /** Folder the torrent's files go under. */
  output: string;
  /** Listening port; when taken, the next few are tried, then any free one. Default 6881. */
  port?: number;
  /** Address to listen on. Default all interfaces. */
  hostname?: string;
  maxPeers?: number;
  /** Bytes per second, 0 for no limit. */
  maxDownloadRate?: number;
  maxUploadRate?: number;
  /** Keep serving once complete, until `stop()`. */
  seed?: boolean;
  log?: SessionLog;
  /** Called while existing data is checked, with pieces checked so far. */
  onCheckProgress?: (checked: number, total: number) => void;
  /** Peers to dial besides those the trackers give. */
  peers?: PeerAddress[];
  /** Turn off tracker announces (tests and the demo's own seeders may not need them). */
  trackers?: boolean;
  /** A running DHT node to find peers through (never used for private torrents). */
  dht?: DhtNode;
  /** Engine tunables (tests shorten timeouts). */
  session?: Partial<SessionOptions>;
  /** Tracker tunables (tests shorten back-offs). */
  announcer?: Partial<AnnouncerOptions>;
}

/**
 * A running torrent.
 *
 * @example
 * ```ts ignore
 * import { TorrentJob } from "./torrent_job.ts";
 * const job = await TorrentJob.open({ torrent, output: "./downloads" });
 * job.start();
 * await job.done;
 * await job.stop();
 * ```
 */
export class TorrentJob {
  readonly torrent: Torrent;
  readonly storage: Storage;
  readonly session: Session;
  readonly listener: PeerListener;
  readonly #announcer?: Announcer;
  readonly #dht?: DhtNode;
  #lookups?: DhtLookups;
  readonly #log: SessionLog;
  #tracker?: TrackerStatus;
  #finishing: Promise<void> = Promise.resolve();
  #stopping?: Promise<void>;
  /** Settles when the download is complete and flushed (never, while seeding) or fails. */
  readonly done: Promise<void>;

  private constructor(
    opts: TorrentJobOptions,
    storage: Storage,
    session: Session,
    listener: PeerListener,
    peerId: Uint8Array,
  ) {
    this.torrent = opts.torrent;
    this.storage = storage;
    this.session = session;
    this.listener = listener;
    this.#log = opts.log ?? { debug() {}, info() {}, warn() {} };
    this.#dht = opts.torrent.private ? undefined : opts.dht;
    const tiers = opts.trackers === false ? [] : opts.torrent.announce;
    if (tiers.length > 0) {
      this.#announcer = new Announcer({
        tiers,
        infoHash: opts.torrent.infoHash,
        peerId,
        port: listener.port,
        stats: () => {
          const s = session.stats();
          return {
            uploaded: s.uploaded,
            downloaded: s.downloaded,
            left: s.totalBytes - s.bytesDone,
          };
        },
        onPeers: (peers) => session.addPeers(peers, "tracker"),
        onStatus: (status) => {
          this.#tracker = status;
          const what = status.ok ? `${status.peers ?? 0} peers` : status.message;
          this.#log.info(`tracker ${status.url}: ${what}`);
        },
        ...opts.announcer,
      });
    }
    // BEP 3: `completed` is sent when a download completes, never for data complete at start
    // (trackers count it as one more finished download).
    const completeAtStart = session.complete;
    session.onComplete(() => {
      this.#finishing = storage.finish().then(() => {
        if (!completeAtStart) this.#announcer?.completed();
      });
    });
    this.done = session.done.then(() => this.#finishing);
    this.done.catch(() => {});
  }

  /**
   * Opens (creating if needed) the files under `output`, checks what they already hold, and
   * prepares the session and listening socket. Throws `StorageError` when the folder is unusable.
   */
  static async open(opts: TorrentJobOptions): Promise<TorrentJob> {
    const { torrent } = opts;
    const storage = await Storage.open(torrent, opts.output);
    let listener: PeerListener | undefined;
    try {
      const have = await storage.verify(opts.onCheckProgress);
      const peerId = makePeerId();
      // The listener comes first so the session can tell peers its port; until the session
      // exists, inbound handshakes find no target and are turned away.
      const target: { session?: Session } = {};
      listener = listenForTorrent(opts, torrent.infoHash, () => target.session);
      const session = target.session = new Session({
        torrent,
        storage,
        have,
        peerId,
        maxPeers: opts.maxPeers,
        seed: opts.seed,
        log: opts.log,
        downloadLimiter: limiter(opts.maxDownloadRate),
        uploadLimiter: limiter(opts.maxUploadRate),
        listenPort: listener.port,
        dhtPort: opts.dht?.port,
        onDhtNode: (host, port) => opts.dht?.addNode(host, port),
        ...opts.session,
      });
      const job = new TorrentJob(opts, storage, session, listener, peerId);
      if (opts.peers) job.addPeers(opts.peers);
      return job;
    } catch (e) {
      listener?.close();
      await storage.close();
      throw e;
    }
  }

  /** Starts announcing, dialling and serving. */
  start(): void {
    this.session.start();
    this.#announcer?.start();
    if (this.#dht) {
      this.#lookups = new DhtLookups(
        this.#dht,
        this.torrent.infoHash,
        this.listener.port,
        (peers) => this.session.addPeers(peers, "dht"),
      );
    } else if (this.torrent.announce.length === 0) {
      this.#log.info("the torrent names no tracker and the DHT is off: waiting for peers to call");
    }
  }

  /** Dials these peers too. */
  addPeers(peers: PeerAddress[]): void {
    this.session.addPeers(peers, "manual");
  }

  /** Engine numbers for the status line. */
  stats(): SessionStats {
    return this.session.stats();
  }

  /** The last tracker outcome, in a few words, for the status line. */
  get trackerStatus(): string | undefined {
    return describeTracker(this.#tracker, this.#announcer !== undefined);
  }

  /** Announces `stopped`, closes peers, flushes and closes files. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.listener.close();
      this.#lookups?.stop();
      await Promise.allSettled([this.#announcer?.stop(), this.session.stop()]);
      await this.#finishing.catch(() => {});
      await this.storage.close();
    })();
    return this.#stopping;
  }
}

function limiter(rate: number | undefined): TokenBucket | undefined {
  return rate && rate > 0 ? new TokenBucket(rate) : undefined;
}
