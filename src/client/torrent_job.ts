/**
 * One torrent from start to finish: its storage (checked on open), the engine session, its
 * route in the process's peer hub and the trackers, wired together and torn down in the right
 * order. With `rest`, a seeding torrent no peer is connected to lets go of its files and
 * session, keeping only its announces and its route, and takes them up again when a peer
 * calls, a tracker or the DHT names peers, or a reader holds it: a daemon's thousand idle
 * torrents then cost what their records cost, not a thousand sessions.
 *
 * @module
 */
import {
  every,
  type HandedPeer,
  type PeerAddress,
  type PeerSource,
  type PeerView,
  type PieceStore,
  Session,
  type SessionEvents,
  type SessionLog,
  type SessionOptions,
  type SessionStats,
  type SourcedAddress,
} from "../engine/mod.ts";
import { swarmHashes, type Torrent } from "../metainfo/mod.ts";
import type { HandshakeOptions, RateLimiter } from "../peer/mod.ts";
import type { IncomingTarget, PeerHub } from "./peer_hub.ts";
import { describeTracker, logTracker } from "./status.ts";
import { DhtLookups, type DhtNode } from "./dht_lookups.ts";
import { loadResume, saveResume, Storage } from "../storage/mod.ts";
import {
  Announcer,
  type AnnouncerOptions,
  displayUrl,
  type TrackerStatus,
} from "../tracker/mod.ts";
import { Bitfield } from "../util/mod.ts";
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
  /** Connections a magnet link's metadata phase hands over, taken before any dial. */
  handed?: HandedPeer[];
  /** Peers to dial besides those the trackers give (`manual` unless they say where from). */
  peers?: (PeerAddress & { source?: PeerSource })[];
  /**
   * The trackers announced to, tier by tier, in place of the torrent's own (a user's edit);
   * `[]` for none (tests and the demo's own seeders need none).
   */
  trackers?: string[][];
  /**
   * The limits this torrent's bytes pass, in place of the hub's alone (the daemon's per-torrent
   * limits and priority, which include the hub's).
   */
  limits?: { download: RateLimiter; upload: RateLimiter };
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
  /**
   * Let go of the files and the session while seeding with no peer connected: at once when
   * the data is complete at start, else after `restAfterMs` (default 60 s) without one.
   */
  rest?: boolean;
  restAfterMs?: number;
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

/** What a job lets go of while it rests: its open files, its session and the web seeds' work. */
interface Engine {
  storage: Storage;
  session: Session;
  webSeeds: WebSeed[];
}

/** A job's storage and session held for a reader (see `TorrentJob.hold`). */
export interface HeldEngine {
  storage: Storage;
  session: Session;
  /** Lets the job rest again; call once. */
  release(): void;
}

/** A promise's two ends. */
interface Settle {
  resolve(): void;
  reject(e: unknown): void;
}

/** How often an awake job that may rest looks whether it can. */
const REST_CHECK_MS = 5_000;
const REST_AFTER_MS = 60_000;
/** Addresses a resting job keeps of those its session knew (a seed's are mostly other seeds). */
const KEPT_AT_REST = 100;

/** Numbers that count on across a job's sessions (the others are of the session running). */
const TOTALS = ["downloaded", "uploaded", "webSeedDownloaded", "wasted", "hashFailures"] as const;

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
  /** The peer port (the hub's). */
  readonly port: number;
  #opts: TorrentJobOptions;
  readonly #stopServing: () => void;
  readonly #ownHub: PeerHub | undefined;
  /** One announce loop a swarm: a hybrid torrent's v1 and v2 hashes each have their own. */
  readonly #announcers: Announcer[] = [];
  readonly #dht?: DhtNode;
  #lookups: DhtLookups[] = [];
  readonly #log: SessionLog;
  #tracker?: TrackerStatus;
  /** Each tracker's last answer, by its URL as shown (no query); made by the first answer. */
  #trackerAnswers: Map<string, TrackerStatus & { at: number }> | undefined;
  #finishing: Promise<void> = Promise.resolve();
  #stopping?: Promise<void>;
  #started = false;
  readonly #resume: ResumeState;
  #resumeSaving: Promise<void> = Promise.resolve();
  #resumeTimer?: ReturnType<typeof setInterval>;
  #resumeWarned = false;
  readonly #resumeIntervalMs: number;
  /** The files and session while awake; undefined while the job rests. */
  #engine: Engine | undefined;
  /** Letting go of the last engine (closing its files, saving the record), while it lasts. */
  #resting: Promise<void> | undefined;
  /** Taking up an engine again, while it lasts. */
  #waking: Promise<Engine> | undefined;
  /** Why the files could not be opened again, once that failed (the job has failed then). */
  #wakeFailure: unknown;
  /** Leaves the hub's connection budget: held while a session runs (not while resting). */
  #unshare: (() => void) | undefined;
  /** The awake engine's look for a chance to rest. */
  #stopRestCheck: (() => void) | undefined;
  /** Last time a peer was connected or a reader held the job (performance.now()). */
  #busyAt = 0;
  #holds = 0;
  /** Some of the addresses the last session knew, for a session that has to download again. */
  #knownAtRest: SourcedAddress[] = [];
  /** The numbers of the sessions let go of: totals count on from them, and rest shows them. */
  #past: SessionStats | undefined;
  /** How inbound peers handshake, kept for the route while no session can say. */
  readonly #handshake: HandshakeOptions;
  /** `completed` was announced, or is not this job's to announce (data complete at start). */
  #completionCounted: boolean;
  /** Settles `completed`; let go of when the download completes (seeds need not keep it). */
  #completed: Settle | undefined;
  readonly #settle: Settle;
  /** Settles when the download is complete and flushed (never, while seeding) or fails. */
  readonly done: Promise<void>;
  /**
   * Resolves when every wanted piece is verified and the files are flushed, seeding or not
   * (at once when the data was complete at start); rejects if flushing fails.
   */
  readonly completed: Promise<void>;

  private constructor(
    opts: TorrentJobOptions,
    engine: Engine,
    stopServing: () => void,
    resume: ResumeState,
  ) {
    this.torrent = opts.torrent;
    // Kept to open the engine again after a rest, which takes neither the first peers nor the
    // handed connections (with all their peers said): those are the first open's alone.
    const { handed: _handed, peers: _peers, ...reopen } = opts;
    this.#opts = reopen;
    this.#resume = resume;
    this.#resumeIntervalMs = opts.resumeIntervalMs ?? 30_000;
    this.port = opts.hub.port;
    this.#stopServing = stopServing;
    this.#ownHub = opts.ownsHub ? opts.hub : undefined;
    this.#log = opts.log ?? quiet;
    this.#dht = opts.torrent.private ? undefined : opts.hub.dht;
    this.#handshake = engine.session.handshakeOptions;
    // The closures below outlive the constructor; none names `opts`, so none keeps it (with
    // its first peers and handed connections) for the job's life.
    const onTracker = opts.events?.tracker;
    const tiers = opts.trackers ?? opts.torrent.announce;
    for (const infoHash of tiers.length > 0 ? swarmHashes(opts.torrent) : []) {
      this.#announcers.push(
        new Announcer({
          tiers,
          infoHash,
          peerId: opts.hub.peerId,
          port: opts.hub.port,
          stats: () => {
            const s = this.stats();
            return { uploaded: s.uploaded, downloaded: s.downloaded, left: s.left };
          },
          onPeers: (peers) => this.addPeers(peers.map((p) => ({ ...p, source: "tracker" }))),
          onStatus: (status) => {
            this.#tracker = status;
            this.#trackerAnswers ??= new Map();
            this.#trackerAnswers.set(status.url, { ...status, at: Date.now() });
            onTracker?.(status);
            logTracker(this.#log, status);
          },
          ...opts.announcer,
        }),
      );
    }
    // BEP 3: `completed` is sent when a download completes, never for data complete at start
    // (trackers count it as one more finished download).
    this.#completionCounted = engine.session.complete;
    [this.completed, this.#completed] = settleable();
    [this.done, this.#settle] = settleable();
    this.#engine = engine;
    this.#wire(engine, true);
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
    // Until the job exists, inbound handshakes find no target and are turned away.
    const target: { job?: TorrentJob } = {};
    const stopServing = opts.hub.serve(swarmHashes(opts.torrent), () => {
      const job = target.job;
      return job && job.#target();
    });
    try {
      const enabled = opts.resume !== false;
      const resume: ResumeState = {
        enabled,
        written: new Bitfield(opts.torrent.pieceCount),
        savedCount: -1,
        fromRecord: false,
      };
      const engine = await openEngine(opts, resume, opts.recheck === true);
      const job = target.job = new TorrentJob(opts, engine, stopServing, resume);
      for (const handed of opts.handed ?? []) engine.session.adoptHanded(handed);
      if (opts.peers) job.addPeers(opts.peers);
      // Right away when the data was hashed: a run killed before its first write then skips
      // the check next time. Later saves: see start() and stop().
      await job.#saveResume(engine.storage);
      return job;
    } catch (e) {
      stopServing();
      throw e;
    }
  }

  /** Sends what happens in `engine` to this job: its completion, its failure, its end. */
  #wire(engine: Engine, first: boolean): void {
    const { session, storage } = engine;
    // An engine taken up again over complete data has nothing to finish.
    if (first || !session.finished) {
      session.onComplete(() => {
        clearInterval(this.#resumeTimer);
        this.#finishing = storage.finish().then(() => this.#saveResume(storage, true)).then(() => {
          if (this.#completionCounted || !session.complete) return;
          this.#completionCounted = true;
          for (const a of this.#announcers) a.completed();
        });
        const completed = this.#completed;
        this.#completed = undefined;
        if (completed) this.#finishing.then(completed.resolve, completed.reject);
      });
    }
    // A session let go of for a rest ends too; only the job's own end or failure counts.
    session.done.then(
      () => {
        if (this.#engine === engine) {
          this.#finishing.then(this.#settle.resolve, this.#settle.reject);
        }
      },
      this.#settle.reject,
    );
  }

  /** Where inbound peers of this torrent go: the session, or a wake-up while resting. */
  #target(): IncomingTarget | undefined {
    if (this.#engine) return this.#engine.session;
    if (this.#stopping) return undefined;
    return {
      handshakeOptions: this.#handshake,
      addIncoming: (peer) =>
        this.#withEngine((e) => e.session.addIncoming(peer), () => peer.close("torrent stopped")),
    };
  }

  /** True when open trusted the resume record instead of hashing the data on disk. */
  get resumedFromRecord(): boolean {
    return this.#resume.fromRecord;
  }

  /** The engine session, while awake (a resting job has none). */
  get session(): Session | undefined {
    return this.#engine?.session;
  }

  /** Pieces verified and written, awake or resting. */
  get have(): Bitfield {
    return this.#engine?.session.have ?? this.#resume.written;
  }

  /** Downloading, then seeding (with `seed`) or done; a resting job is seeding. */
  get phase(): SessionStats["phase"] {
    return this.#engine?.session.phase ?? "seeding";
  }

  /** True while the job has let go of its files and session. */
  get resting(): boolean {
    return this.#engine === undefined && !this.#stopping;
  }

  /** The addresses the session knows (those it knew, while resting): for the next job. */
  knownPeers(): SourcedAddress[] {
    return this.#engine?.session.knownAddresses() ?? this.#knownAtRest;
  }

  /** The connected peers (none while resting). */
  peers(): PeerView[] {
    return this.#engine?.session.peers() ?? [];
  }

  /**
   * Writes the resume record when pieces were written since the last save (always with
   * `force`). Saves run one after another and never reject: a record that cannot be written
   * only costs a hash check on the next start, so it is logged, not fatal.
   */
  #saveResume(storage: Storage, force = false): Promise<void> {
    const r = this.#resume;
    if (!r.enabled) return Promise.resolve();
    this.#resumeSaving = this.#resumeSaving.then(async () => {
      const count = r.written.count;
      if (!force && count === r.savedCount) return;
      try {
        await saveResume(storage, this.torrent.infoHash, r.written);
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
    this.#started = true;
    for (const a of this.#announcers) a.start();
    const dht = this.#dht;
    if (dht && this.#lookups.length === 0) {
      this.#lookups = swarmHashes(this.torrent).map((infoHash) =>
        new DhtLookups(
          dht,
          infoHash,
          this.port,
          (peers) => this.addPeers(peers.map((p) => ({ ...p, source: "dht" }))),
        )
      );
    }
    const engine = this.#engine;
    if (!engine) return;
    this.#run(engine);
    // Complete at start with no one to serve yet: nothing to hold the files open for.
    if (this.#opts.rest && this.#canRest(engine)) this.#rest();
  }

  /** Sets an engine going: its session, web seeds, resume saves and its look for a rest. */
  #run(engine: Engine): void {
    const { session } = engine;
    // Refreshed only while pieces arrive: a complete torrent's record changes no more.
    if (this.#resume.enabled && this.#stopping === undefined && !session.finished) {
      clearInterval(this.#resumeTimer);
      this.#resumeTimer = setInterval(
        () => this.#saveResume(engine.storage),
        this.#resumeIntervalMs,
      );
    }
    this.#unshare ??= this.#opts.hub.share();
    session.start();
    for (const w of engine.webSeeds) w.start();
    if (!this.#opts.rest) return;
    const restAfterMs = this.#opts.restAfterMs ?? REST_AFTER_MS;
    this.#busyAt = performance.now();
    this.#stopRestCheck?.();
    this.#stopRestCheck = every(Math.min(REST_CHECK_MS, restAfterMs), () => {
      if (this.#engine !== engine) return;
      const now = performance.now();
      if (!this.#canRest(engine)) this.#busyAt = now;
      else if (now - this.#busyAt >= restAfterMs) this.#rest();
    });
  }

  /** Seeding, no peer connected, no reader holding it, not stopping. */
  #canRest(engine: Engine): boolean {
    const { session } = engine;
    return session.phase === "seeding" && session.peerCount === 0 && this.#holds === 0 &&
      this.#stopping === undefined && this.#engine === engine;
  }

  /** Lets go of the engine: the session stops, the files close, the record is saved. */
  #rest(): void {
    const engine = this.#engine;
    if (!engine) return;
    this.#engine = undefined;
    this.#stopRestCheck?.();
    this.#stopRestCheck = undefined;
    this.#unshare?.();
    this.#unshare = undefined;
    clearInterval(this.#resumeTimer);
    this.#past = addTotals({ ...engine.session.stats(), ...IDLE }, this.#past);
    this.#knownAtRest = engine.session.knownAddresses().slice(-KEPT_AT_REST);
    this.#log.debug("resting: no peer, files closed");
    this.#resting = (async () => {
      await Promise.allSettled(engine.webSeeds.map((w) => w.stop()));
      await engine.session.stop();
      await engine.storage.close();
      await this.#saveResume(engine.storage);
    })().catch((e) => this.#log.warn(`resting: ${e instanceof Error ? e.message : e}`))
      .finally(() => this.#resting = undefined);
  }

  /**
   * The engine, taken up again first when the job rests (the files opened as before, the
   * resume record trusted when no file changed). Rejects when the job stops first or the
   * files cannot be opened (then the job fails, as on a disk error).
   */
  #awake(): Promise<Engine> {
    if (this.#engine) return Promise.resolve(this.#engine);
    if (this.#stopping) return Promise.reject(new Error("the torrent stopped"));
    // Files that could not be opened are not tried again at every peer that calls.
    if (this.#wakeFailure) return Promise.reject(this.#wakeFailure);
    return this.#waking ??= (async () => {
      try {
        await this.#resting;
        if (this.#stopping) throw new Error("the torrent stopped");
        this.#log.debug("waking: opening the files again");
        const engine = await openEngine(this.#opts, this.#resume, false);
        if (this.#stopping) {
          await engine.session.stop();
          await engine.storage.close();
          throw new Error("the torrent stopped");
        }
        this.#engine = engine;
        this.#wire(engine, false);
        if (this.#started) this.#run(engine);
        // Data changed while resting: the peers known before may have what is missing.
        if (!engine.session.finished) this.addPeers(this.#knownAtRest);
        return engine;
      } catch (e) {
        if (!this.#stopping) {
          this.#wakeFailure = e;
          this.#settle.reject(e);
        }
        throw e;
      } finally {
        this.#waking = undefined;
      }
    })();
  }

  /** Runs `use` with the engine: at once while awake, after waking while resting. */
  #withEngine(use: (engine: Engine) => void, otherwise: () => void = () => {}): void {
    if (this.#engine) return use(this.#engine);
    this.#awake().then(use, otherwise);
  }

  /**
   * The job's files and session, taken up again if it rests, and kept until `release`: what a
   * reader of the data (a stream) needs. Rejects when the job stops first.
   */
  async hold(): Promise<HeldEngine> {
    this.#holds++;
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      this.#holds--;
      this.#busyAt = performance.now();
    };
    try {
      const { storage, session } = await this.#awake();
      return { storage, session, release };
    } catch (e) {
      release();
      throw e;
    }
  }

  /** Changes the most peers this torrent keeps, now and after a rest. */
  setMaxPeers(limit: number): void {
    this.#opts = { ...this.#opts, maxPeers: limit };
    if (this.#engine) this.#engine.session.maxPeers = limit;
  }

  /** Asks every tracker for peers now, not at the next interval. */
  announceNow(): void {
    for (const a of this.#announcers) a.announceNow();
  }

  /**
   * From when one of its trackers takes a manual announce at once (epoch ms), or `undefined`
   * when none would (none running, or each busy or backing off).
   */
  get manualAnnounceAt(): number | undefined {
    let soonest: number | undefined;
    for (const a of this.#announcers) {
      const at = a.manualAnnounceAt;
      if (at !== undefined && (soonest === undefined || at < soonest)) soonest = at;
    }
    return soonest;
  }

  /** Dials these peers too, counted by the source each names (`manual` when none). */
  addPeers(peers: (PeerAddress & { source?: PeerSource })[]): void {
    if (peers.length === 0) return;
    this.#withEngine(({ session }) => {
      const sources = new Set(peers.map((p) => p.source ?? "manual"));
      for (const source of sources) {
        session.addPeers(peers.filter((p) => (p.source ?? "manual") === source), source);
      }
    });
  }

  /**
   * Waits, at most `timeoutMs`, for the blocks handed to peers' sockets to leave (see
   * `Session.drainUploads`).
   */
  async drainUploads(timeoutMs: number): Promise<void> {
    await this.#engine?.session.drainUploads(timeoutMs);
  }

  /**
   * Payload bytes sent, as `stats()` counts them, without building the rest: a daemon asks
   * this of every torrent every few seconds, which for a thousand idle ones made the whole of
   * `stats()` a thousand times over for two numbers.
   */
  get uploaded(): number {
    return (this.#past?.uploaded ?? 0) + (this.#engine?.session.uploaded ?? 0);
  }

  /** Payload bytes received, as `stats()` counts them (see `uploaded`). */
  get downloaded(): number {
    return (this.#past?.downloaded ?? 0) + (this.#engine?.session.downloaded ?? 0);
  }

  /** Engine numbers for the status line: the running session's, counted on from the earlier. */
  stats(): SessionStats {
    const engine = this.#engine;
    if (engine) return addTotals(engine.session.stats(), this.#past);
    return this.#past!;
  }

  /** Each web seed's state and bytes. */
  webSeeds(): WebSeedStatus[] {
    return (this.#engine?.webSeeds ?? []).map((w) => ({
      url: w.url,
      state: w.state,
      bytes: w.bytes,
      ...(w.lastError === undefined ? {} : { lastError: w.lastError }),
    }));
  }

  /** Every tracker, tier by tier, with what it last answered (and when, epoch ms). */
  trackers(): TrackerEntry[] {
    const tiers = this.#announcers[0]?.tiers ?? [];
    return tiers.flatMap((urls, tier) =>
      urls.map((url) => ({ tier, url, last: this.#trackerAnswers?.get(displayUrl(url)) }))
    );
  }

  /** The last tracker outcome, in a few words, for the status line. */
  get trackerStatus(): string | undefined {
    return describeTracker(this.#tracker, this.#announcers.length > 0);
  }

  /** Announces `stopped`, closes peers, flushes and closes files (and its own hub). Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      clearInterval(this.#resumeTimer);
      this.#stopRestCheck?.();
      this.#unshare?.();
      this.#stopServing();
      for (const lookups of this.#lookups) lookups.stop();
      await this.#waking?.catch(() => {});
      const engine = this.#engine;
      await Promise.allSettled((engine?.webSeeds ?? []).map((w) => w.stop()));
      await Promise.allSettled([
        ...this.#announcers.map((a) => a.stop()),
        engine?.session.stop(),
        this.#resting,
      ]);
      await this.#finishing.catch(() => {});
      if (engine) {
        await engine.storage.close();
        // After the last write (the session waited for its writes, storage for the rest).
        await this.#saveResume(engine.storage);
      }
      this.#settle.resolve();
      await this.#ownHub?.stop();
    })();
    return this.#stopping;
  }
}

/** The live numbers of a session that is no more. */
const IDLE = {
  downloadRate: 0,
  uploadRate: 0,
  webSeedRate: 0,
  peersConnected: 0,
  peersKnown: 0,
  peersChokingUs: 0,
  peersInterested: 0,
  peersEncrypted: 0,
  peersUtp: 0,
  peersSendingToUs: 0,
  peersGettingFromUs: 0,
  peersBySource: { tracker: 0, incoming: 0, dht: 0, pex: 0, magnet: 0, manual: 0 },
} satisfies Partial<SessionStats>;

/** `now` with the totals of `past` added. */
function addTotals(now: SessionStats, past: SessionStats | undefined): SessionStats {
  if (!past) return now;
  const sum = { ...now };
  for (const key of TOTALS) sum[key] += past[key];
  return sum;
}

/**
 * Opens the files of `opts.torrent`, learns what they hold (from the resume record when no
 * file changed since it was written, unless `recheck`; else by hashing) into `resume`, and
 * makes the session and web seeds over them.
 */
async function openEngine(
  opts: TorrentJobOptions,
  resume: ResumeState,
  recheck: boolean,
): Promise<Engine> {
  const { torrent, hub } = opts;
  const storage = await Storage.open(torrent, opts.output, {
    selected: opts.selected,
    preallocate: opts.prealloc,
  });
  try {
    // A clean stop left a record no file contradicts: trust it. Otherwise hash the data.
    const log = opts.log;
    const recorded = resume.enabled && !recheck
      ? await loadResume(storage, torrent.infoHash, (why) => log?.info(`${why}: checking data`))
      : undefined;
    const have = recorded ?? await storage.verify(opts.onCheckProgress);
    if (recorded) {
      log?.info(`resume record: ${have.count}/${have.size} pieces, data check skipped`);
    }
    resume.written = new Bitfield(have.size, have.bytes);
    resume.savedCount = recorded ? have.count : -1;
    resume.fromRecord ||= recorded !== undefined;
    // Pieces whose write resolves while the session stops are on disk but never marked
    // have: the record counts them too.
    const written = resume.written;
    const store: PieceStore = {
      writePiece: (index, data) => storage.writePiece(index, data).then(() => written.set(index)),
      read: (index, begin, length, into) => storage.read(index, begin, length, into),
    };
    const dht = torrent.private ? undefined : hub.dht;
    const session = new Session({
      torrent,
      storage: store,
      have,
      peerId: hub.peerId,
      dial: hub.network.dial,
      maxPeers: opts.maxPeers,
      peerShare: () => hub.peerShare(),
      pex: () => hub.pex,
      sharedBuffers: hub.buffers,
      seed: opts.seed,
      log: opts.log,
      events: opts.events,
      downloadLimiter: opts.limits?.download ?? hub.downloadLimiter,
      uploadLimiter: opts.limits?.upload ?? hub.uploadLimiter,
      listenPort: hub.port,
      dhtPort: dht?.port,
      onDhtNode: (host, port) => dht?.addNode(host, port),
      wanted: storage.wantedPieces(),
      sequential: opts.sequential,
      ...opts.session,
    });
    const urls = opts.webSeeds === false ? [] : torrent.urlList.filter(isWebSeedUrl);
    const webSeeds = urls.map((url) =>
      new WebSeed(url, torrent, session, { ...opts.webSeed, log: opts.log ?? quiet })
    );
    return { storage, session, webSeeds };
  } catch (e) {
    await storage.close();
    throw e;
  }
}

const quiet: SessionLog = { debug() {}, info() {}, warn() {} };

/**
 * A promise and its two ends, the promise marked handled (its owner may reject it with no
 * one listening). Made here rather than in a constructor, whose scope the executor would keep.
 */
function settleable(): [Promise<void>, Settle] {
  let settle!: Settle;
  const promise = new Promise<void>((resolve, reject) => settle = { resolve, reject });
  promise.catch(ignore);
  return [promise, settle];
}

function ignore(): void {}
