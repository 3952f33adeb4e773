/**
 * The process's client: one peer hub and the torrents it runs, by id and by info-hash. The
 * `download` command is a client with one torrent; a long-running process holds many. Each
 * torrent is a small state machine (see STATE.md): a magnet link's metadata phase, then the
 * check of its files, then downloading and seeding.
 *
 * @module
 */
import type {
  HandedPeer,
  PeerAddress,
  PeerSource,
  SessionLog,
  SessionStats,
  SourcedAddress,
} from "../engine/mod.ts";
import { type Magnet, swarmHashes, type Torrent } from "../metainfo/mod.ts";
import type { AnnouncerOptions, TrackerStatus } from "../tracker/mod.ts";
import { toHex } from "../util/mod.ts";
import { type FetchedTorrent, MetadataJob } from "./metadata_job.ts";
import { PeerHub, type PeerHubOptions } from "./peer_hub.ts";
import { type JobEvents, TorrentJob, type TorrentJobOptions } from "./torrent_job.ts";

/** Where a torrent is in its life (STATE.md draws the moves). */
export type TorrentState =
  | "metadata"
  | "queued"
  | "checking"
  | "downloading"
  | "seeding"
  | "complete"
  | "paused"
  | "removed"
  | "error";

/** A torrent, once known, and the peers its metadata phase met. */
export type Metadata = Pick<FetchedTorrent, "torrent" | "peers">;

/** A torrent to add: a parsed .torrent, or a magnet link whose metadata is fetched first. */
export type TorrentSource = { torrent: Torrent } | { magnet: Magnet };

/** What a torrent is added with. */
export interface AddOptions {
  /** Peers to dial besides those trackers, the DHT and PEX find (`--peer`). */
  peers?: PeerAddress[];
  maxPeers?: number;
  log?: SessionLog;
  /** Each tracker answer, in either phase. */
  onTracker?: (status: TrackerStatus) => void;
  /** Tracker tunables (tests shorten back-offs). */
  announcer?: Partial<AnnouncerOptions>;
  /** Bytes moved in earlier runs, which `totals` goes on from. */
  totals?: Totals;
}

/** Payload bytes a torrent moved over its life. */
export interface Totals {
  uploaded: number;
  downloaded: number;
}

/** What opening a torrent's files takes (see `TorrentJobOptions`). */
export type OpenOptions =
  & Pick<TorrentJobOptions, "output">
  & Partial<
    Pick<
      TorrentJobOptions,
      | "seed"
      | "selected"
      | "sequential"
      | "prealloc"
      | "limits"
      | "webSeeds"
      | "trackers"
      | "onCheckProgress"
      | "session"
      | "resume"
      | "recheck"
      | "webSeed"
      | "rest"
      | "restAfterMs"
    >
  >
  & { events?: Omit<JobEvents, "tracker"> };

/**
 * How long a magnet link's connections wait for its download to start (open, check, a slot in
 * the queue) before they are closed; the download dials its peers again after that.
 */
const HANDED_WAIT_MS = 30_000;

/** Adding a torrent the client already runs. */
export class DuplicateTorrentError extends Error {
  constructor(readonly existing: ClientTorrent) {
    super(`torrent ${existing.id} is already added`);
    this.name = "DuplicateTorrentError";
  }
}

/**
 * The torrents of one process on one peer hub.
 *
 * @example
 * ```ts ignore
 * import { Client } from "./client.ts";
 * const client = await Client.open({ port: 6881 });
 * const t = client.add({ magnet: parseMagnet(link) });
 * await t.metadata;
 * await t.open({ output: "./downloads" });
 * t.start();
 * await t.completed;
 * await client.stop();
 * ```
 */
export class Client {
  readonly hub: PeerHub;
  readonly #byId = new Map<number, ClientTorrent>();
  readonly #byHash = new Map<string, ClientTorrent>();
  #nextId = 1;
  #stopping: Promise<void> | undefined;
  /** Takes a removed torrent out: one function for every torrent, rather than a closure each. */
  readonly #forget = (torrent: ClientTorrent): void => {
    this.#byId.delete(torrent.id);
    for (const [hash, t] of this.#byHash) if (t === torrent) this.#byHash.delete(hash);
  };

  private constructor(hub: PeerHub) {
    this.hub = hub;
  }

  /** Opens the peer hub (see `PeerHub.open`); torrents are added after. */
  static async open(options: PeerHubOptions = {}): Promise<Client> {
    return new Client(await PeerHub.open(options));
  }

  /**
   * Adds a torrent: a magnet link starts fetching its metadata at once; a .torrent waits for
   * `open`. Throws `DuplicateTorrentError` when a swarm of it is already here.
   */
  add(source: TorrentSource, options: AddOptions = {}): ClientTorrent {
    if (this.#stopping) throw new Error("the client is stopping");
    const hashes = swarmHashes("torrent" in source ? source.torrent : source.magnet).map(toHex);
    for (const hash of hashes) {
      const existing = this.#byHash.get(hash);
      if (existing) throw new DuplicateTorrentError(existing);
    }
    const torrent = new ClientTorrent(this.#nextId++, this.hub, source, options, this.#forget);
    this.#byId.set(torrent.id, torrent);
    for (const hash of hashes) this.#byHash.set(hash, torrent);
    return torrent;
  }

  /** The torrent with this id, if added and not removed. */
  get(id: number): ClientTorrent | undefined {
    return this.#byId.get(id);
  }

  /** The torrent in the swarm of this info-hash (v1, or v2 whole or cut to 20 bytes), if any. */
  byInfoHash(hex: string): ClientTorrent | undefined {
    return this.#byHash.get(hex.slice(0, 40).toLowerCase());
  }

  /** Every torrent, in the order added. */
  list(): ClientTorrent[] {
    return [...this.#byId.values()];
  }

  /**
   * Every torrent, in the order added, without copying them into a list: for loops that run
   * every second over a thousand torrents (a torrent removed meanwhile is skipped).
   */
  torrents(): MapIterator<ClientTorrent> {
    return this.#byId.values();
  }

  /** Stops every torrent, then the hub. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await Promise.allSettled(this.list().map((t) => t.remove()));
      await this.hub.stop();
    })();
    return this.#stopping;
  }
}

/** One torrent of a client; see `Client.add`. */
export class ClientTorrent {
  readonly id: number;
  readonly #hub: PeerHub;
  #options: AddOptions;
  readonly #forget: (torrent: ClientTorrent) => void;
  #fetch: MetadataJob | undefined;
  /** The addresses the last job knew, given to the next. */
  #knownPeers: SourcedAddress[] = [];
  /** The metadata phase's connections, kept for the download (see `#holdHanded`). */
  #handed: HandedPeer[] = [];
  #handedTimer: ReturnType<typeof setTimeout> | undefined;
  #job: TorrentJob | undefined;
  #torrent: Torrent | undefined;
  #opening = false;
  /** A verify or a change of files is closing and opening the files again. */
  #reopening = false;
  #started = false;
  #paused = false;
  #removed = false;
  /** How the files were opened, to open them again on `resume` and `verify`. */
  #opened: OpenOptions | undefined;
  /** The numbers when the job last stopped, shown while paused. */
  #lastStats: SessionStats | undefined;
  /** Bytes moved by the jobs before the current one, and by earlier runs. */
  #earlier: Totals;
  /** The job `pause` is stopping: blocks still arrive while it stops, and count. */
  #stopping: TorrentJob | undefined;
  #error: string | undefined;
  /** A magnet link's metadata phase's outcome (see `metadata`). */
  readonly #metadata: Promise<Metadata> | undefined;
  /** A magnet link's, until its metadata arrives. */
  #magnet: Magnet | undefined;
  #fetched: { resolve(m: Metadata): void; reject(e: unknown): void } | undefined;

  constructor(
    id: number,
    hub: PeerHub,
    source: TorrentSource,
    options: AddOptions,
    forget: (torrent: ClientTorrent) => void,
  ) {
    this.id = id;
    this.#hub = hub;
    this.#options = options;
    this.#forget = forget;
    this.#earlier = { ...(options.totals ?? { uploaded: 0, downloaded: 0 }) };
    if ("torrent" in source) {
      this.#torrent = source.torrent;
      return;
    }
    this.#magnet = source.magnet;
    this.#metadata = new Promise((resolve, reject) => this.#fetched = { resolve, reject });
    this.#metadata.catch(() => {});
    this.#fetchMetadata();
  }

  /**
   * Settles with the torrent and the peers met so far (at once for a .torrent, whose promise is
   * made when asked for rather than kept by each of a thousand torrents). The live connections
   * of the metadata phase are the torrent's to hand to its first open, not here.
   */
  get metadata(): Promise<Metadata> {
    return this.#metadata ?? Promise.resolve({ torrent: this.#torrent!, peers: [] });
  }

  /** Starts (or starts again, after a pause) the metadata phase of a magnet link. */
  #fetchMetadata(): void {
    const fetch = this.#fetch = MetadataJob.start({
      magnet: this.#magnet!,
      hub: this.#hub,
      peers: this.#options.peers,
      maxPeers: this.#options.maxPeers,
      log: this.#options.log,
      onTracker: this.#options.onTracker,
      announcer: this.#options.announcer,
    });
    fetch.done.then(
      async (fetched) => {
        this.#holdHanded(fetched.handed);
        await fetch.stop();
        if (this.#fetch === fetch) this.#fetch = undefined;
        this.#torrent = fetched.torrent;
        this.#fetched!.resolve({ torrent: fetched.torrent, peers: fetched.peers });
      },
      (e) => {
        if (!this.#removed) this.#fail(e);
        this.#fetched!.reject(e);
      },
    );
  }

  /**
   * Keeps the metadata phase's connections for the download's first open, at most
   * `HANDED_WAIT_MS` (a torrent waiting in the queue would hold them for nothing).
   */
  #holdHanded(handed: HandedPeer[]): void {
    this.#handed = handed;
    clearTimeout(this.#handedTimer);
    if (handed.length > 0) {
      this.#handedTimer = setTimeout(
        () => this.#dropHanded("not taken up in time"),
        HANDED_WAIT_MS,
      );
    }
  }

  /** The connections kept for the download, for it to take; none the next time. */
  #takeHanded(): HandedPeer[] {
    clearTimeout(this.#handedTimer);
    const handed = this.#handed.filter((h) => h.available);
    this.#handed = [];
    return handed;
  }

  #dropHanded(reason: string): void {
    for (const h of this.#takeHanded()) h.conn.close(reason);
  }

  /** The info-hash the torrent is known by (the v1 one, or the v2 one cut to 20 bytes), hex. */
  get infoHashHex(): string {
    return (this.#torrent ?? this.#magnet!).infoHashHex;
  }

  /** The torrent's name; before a magnet link's metadata, the name the link suggests. */
  get name(): string | undefined {
    return this.#torrent?.name ?? this.#magnet?.name;
  }

  /** Where the torrent is in its life. */
  get state(): TorrentState {
    if (this.#removed) return "removed";
    if (this.#error !== undefined) return "error";
    if (this.#fetch) return "metadata";
    if (this.#opening || this.#reopening) return "checking";
    if (this.#paused) return "paused";
    if (!this.#job || !this.#started) return "queued";
    const phase = this.#job.phase;
    return phase === "downloading" || phase === "seeding" ? phase : "complete";
  }

  /** Why the torrent stopped by itself, when it did. */
  get error(): string | undefined {
    return this.#error;
  }

  /** The torrent, once known (at once for a .torrent, after the metadata for a magnet). */
  get torrent(): Torrent | undefined {
    return this.#torrent;
  }

  /** The running job, once the files are open. */
  get job(): TorrentJob | undefined {
    return this.#job;
  }

  /** The metadata phase's progress, while it runs. */
  metadataStats(): ReturnType<MetadataJob["stats"]> | undefined {
    return this.#fetch?.stats();
  }

  /** The last tracker outcome in a few words, whichever phase is running. */
  get trackerStatus(): string | undefined {
    return this.#job?.trackerStatus ?? this.#fetch?.trackerStatus;
  }

  /** Payload bytes moved over the torrent's life: every job's, and earlier runs' (`totals`). */
  totals(): Totals {
    const now = this.#job, stopping = this.#stopping;
    return {
      uploaded: this.#earlier.uploaded + (now?.uploaded ?? 0) + (stopping?.uploaded ?? 0),
      downloaded: this.#earlier.downloaded + (now?.downloaded ?? 0) + (stopping?.downloaded ?? 0),
    };
  }

  /** Engine numbers, once the files are open (the last ones while paused). */
  stats(): SessionStats | undefined {
    return this.#job?.stats() ?? this.#lastStats;
  }

  /**
   * Opens the torrent's files under `output` and checks what they hold (state `checking`, then
   * `queued` until `start`); the peers met while fetching the metadata and the `peers` added
   * with it are dialled once it starts. Throws (state `error`) when the files cannot be opened.
   */
  async open(options: OpenOptions): Promise<TorrentJob> {
    if (this.#job || this.#opening) throw new Error(`torrent ${this.id} is already open`);
    this.#opening = true;
    this.#opened = options;
    try {
      const fetched = await this.metadata;
      if (this.#removed) throw new Error(`torrent ${this.id} was removed`);
      this.#job = await TorrentJob.open({
        ...options,
        // Its files where a rename put them, if one did.
        torrent: this.#torrent ?? fetched.torrent,
        hub: this.#hub,
        maxPeers: this.#options.maxPeers,
        log: this.#options.log,
        announcer: this.#options.announcer,
        events: { ...options.events, tracker: this.#options.onTracker },
        peers: [...fetched.peers, ...this.#sourced(this.#options.peers), ...this.#knownPeers],
        handed: this.#takeHanded(),
      });
    } catch (e) {
      if (!this.#removed) this.#fail(e);
      throw e;
    } finally {
      this.#opening = false;
    }
    // A job that fails later (a disk error) leaves the torrent in error.
    this.#job.done.catch((e) => {
      if (!this.#removed) this.#fail(e);
    });
    if (this.#removed) await this.#job.stop();
    return this.#job;
  }

  /** Starts announcing, dialling and serving (after `open`). */
  start(): void {
    if (!this.#job) throw new Error(`torrent ${this.id} is not open`);
    this.#started = true;
    this.#job.start();
  }

  /**
   * Stops the running job (announcing `stopped`, flushing, saving the resume record) or the
   * metadata phase, but keeps the torrent: state `paused` until `resume`, which starts the
   * metadata phase again or opens the files again. Nothing to do between the two.
   */
  async pause(): Promise<void> {
    const fetch = this.#fetch;
    if (fetch && !this.#removed) {
      this.#fetch = undefined;
      this.#paused = true;
      return await fetch.stop();
    }
    this.#dropHanded("torrent paused");
    const job = this.#job;
    if (!job || this.#removed) return;
    this.#paused = true;
    this.#job = undefined;
    this.#stopping = job;
    this.#started = false;
    // A reopened torrent (a verify, a change of files) dials again the peers this one knew.
    this.#knownPeers = job.knownPeers();
    try {
      await job.stop();
    } finally {
      // Its bytes join the earlier ones only now: a block that came in while it stopped is
      // on disk, so the next job will not fetch (and count) it again.
      this.#earlier = {
        uploaded: this.#earlier.uploaded + job.uploaded,
        downloaded: this.#earlier.downloaded + job.downloaded,
      };
      this.#stopping = undefined;
    }
    const idle = { downloadRate: 0, uploadRate: 0, peersSendingToUs: 0, peersGettingFromUs: 0 };
    this.#lastStats = { ...job.stats(), ...idle, peersConnected: 0 };
  }

  /**
   * Opens the files again as they were opened (the resume record spares a check) and starts; a
   * magnet link paused in its metadata phase asks for the metadata again.
   */
  async resume(): Promise<void> {
    if (!this.#paused || this.#removed) return;
    this.#paused = false;
    this.#error = undefined;
    if (!this.#torrent) return this.#fetchMetadata();
    // Paused before its files were first opened: back to queued, for `open`.
    if (!this.#opened) return;
    await this.open(this.#opened);
    this.start();
  }

  /** Stops, hashes every piece on disk again (the resume record is not trusted), and starts. */
  async verify(): Promise<void> {
    if (!this.#opened || this.#removed) return;
    const opened = this.#opened;
    const wasRunning = this.#job !== undefined && !this.#paused;
    await this.#reopen(async () => {
      await this.pause();
      this.#paused = false;
      this.#error = undefined;
      await this.open({ ...opened, recheck: true });
      this.#opened = opened;
      // A paused torrent is checked, then paused again: its files closed, `resume` free to open.
      if (wasRunning) this.start();
      else await this.pause();
    });
  }

  /**
   * Changes how the files are opened (which files are wanted, where they are): a running
   * torrent is paused and resumed with the change, a paused one keeps it for its `resume`.
   * `whileClosed` runs while no file is open (moving them, say); when it throws, nothing
   * changes and a running torrent runs on as it was.
   */
  async reopen(
    changes: Partial<OpenOptions>,
    whileClosed?: () => Promise<void>,
  ): Promise<void> {
    const opened = this.#opened;
    if (this.#removed) return;
    if (!opened) return await whileClosed?.();
    const running = this.#job !== undefined && !this.#paused;
    await this.#reopen(async () => {
      await this.pause();
      try {
        await whileClosed?.();
        this.#opened = { ...opened, ...changes };
      } finally {
        if (running) await this.resume();
      }
    });
  }

  /**
   * Lays the torrent's files out as `renamed` has them (the same torrent, a file or folder
   * renamed): a running torrent is paused, `whileClosed` moves the files, and it resumes. When
   * `whileClosed` throws, nothing changes.
   */
  async rename(renamed: Torrent, whileClosed: () => Promise<void>): Promise<void> {
    if (renamed.infoHashHex !== this.#torrent?.infoHashHex) {
      throw new Error(`torrent ${this.id}: a rename is of the same torrent`);
    }
    await this.reopen({}, async () => {
      await whileClosed();
      this.#torrent = renamed;
    });
  }

  /** Runs `steps` (a pause, then an open) as one `checking` state, never seen as `paused`. */
  async #reopen(steps: () => Promise<void>): Promise<void> {
    this.#reopening = true;
    try {
      await steps();
    } finally {
      this.#reopening = false;
    }
  }

  /** Changes the most peers this torrent keeps, the running job's at once. */
  setMaxPeers(limit: number): void {
    this.#options = { ...this.#options, maxPeers: limit };
    this.#job?.setMaxPeers(limit);
  }

  /** Asks the trackers for peers now. */
  reannounce(): void {
    this.#job?.announceNow();
  }

  /**
   * Stops every phase (announcing `stopped`, flushing the files, saving the resume record)
   * and removes the torrent from the client. Idempotent.
   */
  async remove(): Promise<void> {
    this.#removed = true;
    this.#forget(this);
    this.#dropHanded("torrent removed");
    await this.#fetch?.stop();
    await this.#job?.stop();
  }

  #sourced(peers: PeerAddress[] | undefined): (PeerAddress & { source: PeerSource })[] {
    return (peers ?? []).map((p) => ({ ...p, source: "manual" }));
  }

  #fail(e: unknown): void {
    this.#error ??= e instanceof Error ? e.message : String(e);
  }
}
