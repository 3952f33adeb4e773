/**
 * One torrent from start to finish: its storage (checked on open), the engine session, its
 * route in the process's peer hub and the trackers, wired together and torn down in the right
 * order.
 *
 * @module
 */
import {
  type PeerAddress,
  type PeerSource,
  type PieceStore,
  Session,
  type SessionEvents,
  type SessionLog,
  type SessionOptions,
  type SessionStats,
} from "../engine/mod.ts";
import { swarmHashes, type Torrent } from "../metainfo/mod.ts";
import type { PeerHub } from "./peer_hub.ts";
import { describeTracker, logTracker } from "./status.ts";
import { DhtLookups, type DhtNode } from "./dht_lookups.ts";
import { loadResume, saveResume, Storage } from "../storage/mod.ts";
import {
  Announcer,
  type AnnouncerOptions,
  displayUrl,
  type TrackerStatus,
} from "../tracker/mod.ts";
import { Bitfield, BothLimits, type TokenBucket } from "../util/mod.ts";
import { isWebSeedUrl, WebSeed, type WebSeedOptions, type WebSeedState } from "../webseed/mod.ts";

/** What a job needs; everything but the torrent, folder and hub has a sensible default. */
export interface TorrentJobOptions {
  torrent: Torrent;
  /** Folder the torrent's files go under. */
  output: string;
  /**
   * The process's peer hub: its port, listener, peer id, DHT and rate limits serve this job,
   * which leaves it running when it stops, unless it `ownsHub`.
   */
  hub: PeerHub;
  /** The hub is this job's alone (a process with one torrent): `stop()` stops it too. */
  ownsHub?: boolean;
  maxPeers?: number;
  /** Keep serving once complete, until `stop()`. */
  seed?: boolean;
  /**
   * The files to download, one entry per `torrent.files` entry (default: all). Only chosen
   * files are created; pieces they share with unchosen files keep the rest in the part file.
   */
  selected?: readonly boolean[];
  /** Download pieces in index order instead of rarest first. */
  sequential?: boolean;
  /** Reserve the chosen files' full size at open (`--prealloc`); see `StorageOptions`. */
  prealloc?: boolean;
  log?: SessionLog;
  /** What happens, as values: hash failures, bans, tracker answers. */
  events?: JobEvents;
  /** Called while existing data is checked, with pieces checked so far. */
  onCheckProgress?: (checked: number, total: number) => void;
  /** Peers to dial besides those the trackers give (`manual` unless they say where from). */
  peers?: (PeerAddress & { source?: PeerSource })[];
  /** Turn off tracker announces (tests and the demo's own seeders may not need them). */
  trackers?: boolean;
  /** This torrent's own rate limits, kept besides the hub's (the daemon's per-torrent limits). */
  rates?: { download: TokenBucket; upload: TokenBucket };
  /** Engine tunables (tests shorten timeouts). */
  session?: Partial<SessionOptions>;
  /** Tracker tunables (tests shorten back-offs). */
  announcer?: Partial<AnnouncerOptions>;
  /**
   * Keep a resume record in `<output>/.bittorrent/` and trust it on open (skipping the hash
   * check when no file changed since). Default true; false always hashes and never writes one.
   */
  resume?: boolean;
  /** Hash the data on open even when a resume record vouches for it (a verify). */
  recheck?: boolean;
  /** How often the resume record is refreshed while pieces arrive. Default 30 s. */
  resumeIntervalMs?: number;
  /** Fetch from the torrent's web seeds (BEP 19, http and https `url-list` URLs). Default true. */
  webSeeds?: boolean;
  /** Web seed tunables (tests shorten waits). */
  webSeed?: Omit<WebSeedOptions, "log">;
}

/** A tracker of a torrent with its last answer, when it has given one. */
export interface TrackerEntry {
  /** Its tier, from 0. */
  tier: number;
  url: string;
  last?: TrackerStatus & { at: number };
}

/** A web seed's part, for the status line. */
export interface WebSeedStatus {
  url: string;
  state: WebSeedState;
  /** Payload bytes it sent. */
  bytes: number;
  lastError?: string;
}

/** What a job tells its owner as it happens: the session's events and each tracker answer. */
export interface JobEvents extends SessionEvents {
  tracker?(status: TrackerStatus): void;
}

/** The resume-record state a job carries (see `TorrentJobOptions.resume`). */
interface ResumeState {
  enabled: boolean;
  /** Pieces verified and written: what the record may claim (session.have plus late writes). */
  written: Bitfield;
  /** `written.count` at the last save; -1 when the record on disk is out of date. */
  savedCount: number;
  fromRecord: boolean;
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
  /** The peer port (the hub's). */
  readonly port: number;
  readonly #stopServing: () => void;
  readonly #ownHub: PeerHub | undefined;
  /** One announce loop a swarm: a hybrid torrent's v1 and v2 hashes each have their own. */
  readonly #announcers: Announcer[] = [];
  readonly #dht?: DhtNode;
  #lookups: DhtLookups[] = [];
  readonly #webSeeds: WebSeed[];
  readonly #log: SessionLog;
  #tracker?: TrackerStatus;
  /** Each tracker's last answer, by its URL as shown (no query). */
  readonly #trackerAnswers = new Map<string, TrackerStatus & { at: number }>();
  #finishing: Promise<void> = Promise.resolve();
  #stopping?: Promise<void>;
  readonly #resume: ResumeState;
  #resumeSaving: Promise<void> = Promise.resolve();
  #resumeTimer?: ReturnType<typeof setInterval>;
  #resumeWarned = false;
  readonly #resumeIntervalMs: number;
  /** Settles when the download is complete and flushed (never, while seeding) or fails. */
  readonly done: Promise<void>;
  /**
   * Resolves when every wanted piece is verified and the files are flushed, seeding or not
   * (at once when the data was complete at start); rejects if flushing fails.
   */
  readonly completed: Promise<void>;

  private constructor(
    opts: TorrentJobOptions,
    storage: Storage,
    session: Session,
    stopServing: () => void,
    resume: ResumeState,
  ) {
    this.torrent = opts.torrent;
    this.#resume = resume;
    this.#resumeIntervalMs = opts.resumeIntervalMs ?? 30_000;
    this.storage = storage;
    this.session = session;
    this.port = opts.hub.port;
    this.#stopServing = stopServing;
    this.#ownHub = opts.ownsHub ? opts.hub : undefined;
    this.#log = opts.log ?? { debug() {}, info() {}, warn() {} };
    this.#dht = opts.torrent.private ? undefined : opts.hub.dht;
    const urls = opts.webSeeds === false ? [] : opts.torrent.urlList.filter(isWebSeedUrl);
    this.#webSeeds = urls.map((url) =>
      new WebSeed(url, opts.torrent, session, { ...opts.webSeed, log: this.#log })
    );
    const tiers = opts.trackers === false ? [] : opts.torrent.announce;
    for (const infoHash of tiers.length > 0 ? swarmHashes(opts.torrent) : []) {
      this.#announcers.push(
        new Announcer({
          tiers,
          infoHash,
          peerId: opts.hub.peerId,
          port: opts.hub.port,
          stats: () => {
            const s = session.stats();
            return {
              uploaded: s.uploaded,
              downloaded: s.downloaded,
              left: s.left,
            };
          },
          onPeers: (peers) => session.addPeers(peers, "tracker"),
          onStatus: (status) => {
            this.#tracker = status;
            this.#trackerAnswers.set(status.url, { ...status, at: Date.now() });
            opts.events?.tracker?.(status);
            logTracker(this.#log, status);
          },
          ...opts.announcer,
        }),
      );
    }
    // BEP 3: `completed` is sent when a download completes, never for data complete at start
    // (trackers count it as one more finished download).
    // A partial selection is not a finished download of the torrent: no `completed` for it.
    const completeAtStart = session.complete;
    let completed!: { resolve: () => void; reject: (e: unknown) => void };
    this.completed = new Promise((resolve, reject) => completed = { resolve, reject });
    this.completed.catch(() => {});
    session.onComplete(() => {
      clearInterval(this.#resumeTimer);
      this.#finishing = storage.finish().then(() => this.#saveResume(true)).then(() => {
        if (!completeAtStart && session.complete) {
          for (const a of this.#announcers) a.completed();
        }
      });
      this.#finishing.then(completed.resolve, completed.reject);
    });
    this.done = session.done.then(() => this.#finishing);
    this.done.catch(() => {});
  }

  /**
   * Opens (creating if needed) the files under `output`, checks what they already hold, and
   * prepares the session and its route in the hub. Throws `StorageError` when the folder is
   * unusable.
   */
  static async open(opts: TorrentJobOptions): Promise<TorrentJob> {
    try {
      return await TorrentJob.#open(opts);
    } catch (e) {
      if (opts.ownsHub) await opts.hub.stop();
      throw e;
    }
  }

  static async #open(opts: TorrentJobOptions): Promise<TorrentJob> {
    const { torrent } = opts;
    const storage = await Storage.open(torrent, opts.output, {
      selected: opts.selected,
      preallocate: opts.prealloc,
    });
    let stopServing: (() => void) | undefined;
    try {
      // A clean stop left a record no file contradicts: trust it. Otherwise hash the data.
      const enabled = opts.resume !== false;
      const log = opts.log;
      const recorded = enabled && !opts.recheck
        ? await loadResume(storage, torrent.infoHash, (why) => log?.info(`${why}: checking data`))
        : undefined;
      const have = recorded ?? await storage.verify(opts.onCheckProgress);
      if (recorded) {
        log?.info(`resume record: ${have.count}/${have.size} pieces, data check skipped`);
      }
      const resume: ResumeState = {
        enabled,
        written: new Bitfield(have.size, have.bytes),
        savedCount: recorded ? have.count : -1,
        fromRecord: recorded !== undefined,
      };
      // Pieces whose write resolves while the session stops are on disk but never marked
      // have: the record counts them too.
      const store: PieceStore = {
        writePiece: (index, data) =>
          storage.writePiece(index, data).then(() => resume.written.set(index)),
        read: (index, begin, length, into) => storage.read(index, begin, length, into),
      };
      const { hub } = opts;
      // Until the session exists, inbound handshakes find no target and are turned away.
      const target: { session?: Session } = {};
      stopServing = hub.serve(swarmHashes(torrent), () => target.session);
      const dht = torrent.private ? undefined : hub.dht;
      const session = target.session = new Session({
        torrent,
        storage: store,
        have,
        peerId: hub.peerId,
        dial: hub.network.dial,
        maxPeers: opts.maxPeers,
        peerShare: () => hub.peerShare(),
        sharedBuffers: hub.buffers,
        seed: opts.seed,
        log: opts.log,
        events: opts.events,
        downloadLimiter: opts.rates
          ? new BothLimits(opts.rates.download, hub.downloadLimiter)
          : hub.downloadLimiter,
        uploadLimiter: opts.rates
          ? new BothLimits(opts.rates.upload, hub.uploadLimiter)
          : hub.uploadLimiter,
        listenPort: hub.port,
        dhtPort: dht?.port,
        onDhtNode: (host, port) => dht?.addNode(host, port),
        wanted: storage.wantedPieces(),
        sequential: opts.sequential,
        ...opts.session,
      });
      const job = new TorrentJob(opts, storage, session, stopServing, resume);
      if (opts.peers) job.addPeers(opts.peers);
      // Right away when the data was hashed: a run killed before its first write then skips
      // the check next time. Later saves: see start() and stop().
      await job.#saveResume();
      return job;
    } catch (e) {
      stopServing?.();
      await storage.close();
      throw e;
    }
  }

  /** True when open trusted the resume record instead of hashing the data on disk. */
  get resumedFromRecord(): boolean {
    return this.#resume.fromRecord;
  }

  /**
   * Writes the resume record when pieces were written since the last save (always with
   * `force`). Saves run one after another and never reject: a record that cannot be written
   * only costs a hash check on the next start, so it is logged, not fatal.
   */
  #saveResume(force = false): Promise<void> {
    const r = this.#resume;
    if (!r.enabled) return Promise.resolve();
    this.#resumeSaving = this.#resumeSaving.then(async () => {
      const count = r.written.count;
      if (!force && count === r.savedCount) return;
      try {
        await saveResume(this.storage, this.torrent.infoHash, r.written);
        r.savedCount = count;
      } catch (e) {
        const message = `resume record not saved: ${e instanceof Error ? e.message : e}`;
        if (this.#resumeWarned) this.#log.debug(message);
        else this.#log.warn(message);
        this.#resumeWarned = true;
      }
    });
    return this.#resumeSaving;
  }

  /** Starts announcing, dialling and serving. */
  start(): void {
    // Refreshed only while pieces arrive: a complete torrent's record changes no more.
    if (this.#resume.enabled && this.#stopping === undefined && !this.session.finished) {
      clearInterval(this.#resumeTimer);
      this.#resumeTimer = setInterval(() => this.#saveResume(), this.#resumeIntervalMs);
    }
    this.session.start();
    for (const a of this.#announcers) a.start();
    for (const w of this.#webSeeds) w.start();
    const dht = this.#dht;
    if (dht && this.#lookups.length === 0) {
      this.#lookups = swarmHashes(this.torrent).map((infoHash) =>
        new DhtLookups(
          dht,
          infoHash,
          this.port,
          (peers) => this.session.addPeers(peers, "dht"),
        )
      );
    }
  }

  /** Asks every tracker for peers now, not at the next interval. */
  announceNow(): void {
    for (const a of this.#announcers) a.announceNow();
  }

  /** Dials these peers too, counted by the source each names (`manual` when none). */
  addPeers(peers: (PeerAddress & { source?: PeerSource })[]): void {
    for (const peer of peers) this.session.addPeers([peer], peer.source ?? "manual");
  }

  /** Engine numbers for the status line. */
  stats(): SessionStats {
    return this.session.stats();
  }

  /** Each web seed's state and bytes. */
  webSeeds(): WebSeedStatus[] {
    return this.#webSeeds.map((w) => ({
      url: w.url,
      state: w.state,
      bytes: w.bytes,
      ...(w.lastError === undefined ? {} : { lastError: w.lastError }),
    }));
  }

  /** The last tracker outcome, in a few words, for the status line. */
  /** Every tracker, tier by tier, with what it last answered (and when, epoch ms). */
  trackers(): TrackerEntry[] {
    const tiers = this.#announcers[0]?.tiers ?? [];
    return tiers.flatMap((urls, tier) =>
      urls.map((url) => ({ tier, url, last: this.#trackerAnswers.get(displayUrl(url)) }))
    );
  }

  get trackerStatus(): string | undefined {
    return describeTracker(this.#tracker, this.#announcers.length > 0);
  }

  /** Announces `stopped`, closes peers, flushes and closes files (and its own hub). Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      clearInterval(this.#resumeTimer);
      this.#stopServing();
      for (const lookups of this.#lookups) lookups.stop();
      await Promise.allSettled(this.#webSeeds.map((w) => w.stop()));
      await Promise.allSettled([...this.#announcers.map((a) => a.stop()), this.session.stop()]);
      await this.#finishing.catch(() => {});
      await this.storage.close();
      // After the last write (the session waited for its writes, storage for the rest).
      await this.#saveResume();
      await this.#ownHub?.stop();
    })();
    return this.#stopping;
  }
}
