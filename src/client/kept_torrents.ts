/**
 * The torrents of a long-running client (the daemon): each with a record of what its user chose
 * (its folder, its dates, whether it was stopped, the files not wanted), saved whenever it
 * changes, and started in the order added while fewer than `maxActive` download; the others wait
 * their turn. Starting is decided again whenever a torrent's metadata arrives, a job ends or
 * completes, or a user starts, stops or removes one, so no torrent can run twice or be forgotten.
 *
 * @module
 */
import type { SessionLog } from "../engine/mod.ts";
import { listedFiles, renamePath, type Torrent } from "../metainfo/mod.ts";
import { moveResumePaths, STATE_DIR } from "../storage/mod.ts";
import { type BandwidthPriority, BothLimits, messageOf, TokenBucket } from "../util/mod.ts";
import {
  type Client,
  type ClientTorrent,
  DuplicateTorrentError,
  type TorrentSource,
  type Totals,
} from "./client.ts";
import type { TorrentJob } from "./torrent_job.ts";
import {
  dataDir,
  type RateSetting,
  type SavedTorrent,
  type SavedTorrents,
} from "./saved_torrents.ts";
import { type SeedLimits, SeedWatch } from "./seed_limits.ts";
import { priorityRanges } from "./file_priorities.ts";
import { type QueueMove, QueueOrder } from "./queue_order.ts";
import { ActivityClock } from "./activity.ts";
import { DEFAULT_MAX_PEERS } from "./limits.ts";

/** How often seeding limits and file priorities are looked at, while any torrent has some. */
const CHECK_MS = 1000;
/**
 * How often the torrents' times are brought up to date: a pass over a thousand idle torrents
 * every second would cost a daemon's idle CPU more than all else.
 */
const ACTIVITY_MS = 10_000;
/**
 * How often the check runs while no torrent has limits or priorities: the torrents' times want
 * no more, and an idle daemon woken every second for nothing spends more CPU on waking than on
 * anything else.
 */
const QUIET_CHECK_MS = ACTIVITY_MS;
/** How often the byte totals of running torrents are saved. */
const SAVE_TOTALS_MS = 60_000;
/** How long a removed torrent's id is told to those asking what changed (`recentlyRemoved`). */
const REMOVED_KEPT_MS = 60_000;

/** What `KeptTorrents` runs on. */
export interface KeptTorrentsOptions {
  client: Client;
  /** Where records are kept between runs; none: they last as long as the process. */
  saved?: SavedTorrents;
  /** Torrents downloading (or checking) at once. */
  maxActive: number;
  /** Peers of each torrent at most (its share of the process's budget may be smaller). */
  maxPeers?: number;
  log?: SessionLog;
  /** The session's incomplete folder at start (see `KeptTorrents.incompleteDir`). */
  incompleteDir?: string;
  /**
   * Told when a torrent's job completes after downloading some of it (not when a check finds
   * it complete).
   */
  onDownloaded?: (t: ClientTorrent, record: SavedTorrent) => void;
}

/** A user's choices for a torrent being added. */
export interface AddChoices {
  downloadDir: string;
  /** Added stopped. */
  paused: boolean;
  /** Files not to download, by their number among the listed files. */
  unwanted?: number[];
  /** Files fetched first, and files marked low, by their number among the listed files. */
  high?: number[];
  low?: number[];
  /** A magnet link's text as given, kept to add it back on the next run. */
  link?: string;
  labels?: string[];
  /** Its place at the process's rate limits (default: normal). */
  bandwidthPriority?: BandwidthPriority;
}

/**
 * The client's torrents with their records, queued for download slots.
 *
 * @example
 * ```ts ignore
 * const kept = await KeptTorrents.open({ client, saved, maxActive: 5 });
 * const t = await kept.add({ torrent }, { downloadDir: "/srv", paused: false });
 * await kept.stop(t);
 * ```
 */
export class KeptTorrents {
  readonly client: Client;
  readonly #saved: SavedTorrents | undefined;
  readonly #log: SessionLog | undefined;
  readonly #onDownloaded: KeptTorrentsOptions["onDownloaded"];
  #maxPeers: number;
  #maxActive: number;
  readonly #records = new Map<number, SavedTorrent>();
  /**
   * Torrents waiting for a download slot: not stopped by their user, their metadata known, not
   * started since. They start in queue order.
   */
  readonly #waiting = new Set<number>();
  /** Every torrent's place in the download queue. */
  readonly #queue = new QueueOrder();
  /**
   * Torrents holding a slot: started (or starting), their job not yet complete, stopped or gone.
   * A verify or a change of files that sends a torrent back to downloading gives it its slot
   * back at once, even past the limit: it was running, and stopping it would surprise its user.
   */
  readonly #active = new Set<number>();
  /** The jobs whose completion and end are watched, one watch each. */
  readonly #followed = new WeakSet<TorrentJob>();
  /** The session each torrent's file priorities were last applied to, and how to undo them. */
  readonly #prioritized = new Map<number, { session: unknown; release: () => void }>();
  /**
   * Torrents whose files are closed to be opened again (a verify, a change of files, a move):
   * the end of their job keeps their slot, and a waiting one is not started meanwhile.
   */
  readonly #reopening = new Set<number>();
  /** The limits each torrent's bytes pass: its own and, at its priority, the process's. */
  readonly #limits = new Map<number, { download: BothLimits; upload: BothLimits }>();
  /** Seeding torrents with a limit to meet. */
  readonly #watches = new Map<number, SeedWatch>();
  /**
   * Torrents with seeding limits or file priorities of their own, which the check looks at
   * every second even without session limits (on a big seedbox, a few of many).
   */
  readonly #ownRules = new Set<number>();
  /** The ids of torrents removed lately, with when. */
  readonly #removed = new Map<number, number>();
  /** Each torrent's byte totals when this run took it up, to tell what the run moved. */
  readonly #runStart = new Map<number, Totals>();
  /** What this run moved of torrents removed since, and how many it added. */
  readonly #thisRun = { uploaded: 0, downloaded: 0, added: 0 };
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the next check runs (performance.now()). */
  #checkAt = 0;
  #activityAt = performance.now();
  #totalsSavedAt = performance.now();
  #closed = false;
  /** Each torrent's start and activity dates, its time downloading and seeding, its checks. */
  readonly activity = new ActivityClock();
  #seedLimits: { ratio?: number; idleMs?: number } = {};
  /**
   * The session's incomplete folder (Transmission's `incomplete-dir`), when on: a torrent added
   * while it is downloads there and moves to its download folder once complete, unless its
   * data is in the download folder already.
   */
  incompleteDir: string | undefined;

  private constructor(options: KeptTorrentsOptions) {
    this.client = options.client;
    this.#saved = options.saved;
    this.#log = options.log;
    this.#onDownloaded = options.onDownloaded;
    this.incompleteDir = options.incompleteDir;
    this.#maxPeers = options.maxPeers ?? DEFAULT_MAX_PEERS;
    this.#maxActive = checkLimit(options.maxActive);
    this.#scheduleCheck();
  }

  /**
   * The session's seeding limits, for torrents that follow them (`mode: "session"`, the
   * default); none by default. Set, one met stops its torrents within a second.
   */
  get seedLimits(): { ratio?: number; idleMs?: number } {
    return this.#seedLimits;
  }

  set seedLimits(limits: { ratio?: number; idleMs?: number }) {
    this.#seedLimits = limits;
    this.#checkSoon();
  }

  /** Adds back every saved torrent (each queued unless it was stopped) and says what was skipped. */
  static async open(options: KeptTorrentsOptions): Promise<KeptTorrents> {
    const kept = new KeptTorrents(options);
    if (!options.saved) return kept;
    const { loaded, skipped } = await options.saved.loadAll();
    for (const why of skipped) kept.#log?.warn(`saved torrent skipped: ${why}`);
    for (const { record, source } of loaded) {
      try {
        kept.#adopt(source, record);
      } catch (e) {
        kept.#log?.warn(`saved torrent ${record.hash} not added: ${messageOf(e)}`);
      }
    }
    if (loaded.length > 0) kept.#log?.info(`${loaded.length} saved torrents added back`);
    return kept;
  }

  /** The record of `t` (a torrent of this client). */
  record(t: ClientTorrent): SavedTorrent {
    const record = this.#records.get(t.id);
    if (!record) throw new Error(`torrent ${t.id} is not kept here`);
    return record;
  }

  /** Peers each torrent keeps at most (`--max-peers`). */
  get maxPeers(): number {
    return this.#maxPeers;
  }

  /** Changes it for every torrent, the running ones at once. */
  set maxPeers(limit: number) {
    this.#maxPeers = checkLimit(limit, "a torrent's peers");
    for (const t of this.client.list()) t.setMaxPeers(this.peerLimitOf(t));
  }

  /** The peers `t` keeps at most: its own limit (Transmission's `peer-limit`), or everyone's. */
  peerLimitOf(t: ClientTorrent): number {
    return this.#records.get(t.id)?.peerLimit ?? this.#maxPeers;
  }

  /** Sets `t`'s own peer limit (kept in its record), at once for a running torrent. */
  async setPeerLimit(t: ClientTorrent, limit: number): Promise<void> {
    this.record(t).peerLimit = checkLimit(limit, "a torrent's peers");
    t.setMaxPeers(limit);
    await this.#persist(t);
  }

  /** Torrents downloading (or checking) at once. */
  get maxActive(): number {
    return this.#maxActive;
  }

  /** Changes the limit; a raised one starts waiting torrents at once. */
  set maxActive(limit: number) {
    this.#maxActive = checkLimit(limit);
    this.#admit();
  }

  /** Whether `t` waits for a download slot (neither stopped by its user nor running). */
  isWaiting(t: ClientTorrent): boolean {
    return this.#waiting.has(t.id);
  }

  /**
   * Adds a torrent, its record saved first (a torrent the user was told of survives a crash),
   * and queues it unless added stopped. Throws `DuplicateTorrentError` when its swarm is here.
   */
  async add(source: TorrentSource, choices: AddChoices): Promise<ClientTorrent> {
    const named = "torrent" in source ? source.torrent : source.magnet;
    const existing = this.client.byInfoHash(named.infoHashHex);
    if (existing) throw new DuplicateTorrentError(existing);
    const record: SavedTorrent = {
      hash: named.infoHashHex,
      ...(choices.link !== undefined ? { magnet: choices.link } : {}),
      downloadDir: choices.downloadDir,
      addedDate: nowSeconds(),
      doneDate: 0,
      paused: choices.paused,
      ...(choices.unwanted?.length ? { unwanted: choices.unwanted } : {}),
      ...(choices.high?.length ? { highPriority: choices.high } : {}),
      ...(choices.low?.length ? { lowPriority: choices.low } : {}),
      queueRank: this.#queue.nextRank(),
      ...(choices.labels?.length ? { labels: choices.labels } : {}),
      ...(choices.bandwidthPriority ? { bandwidthPriority: choices.bandwidthPriority } : {}),
    };
    if (this.incompleteDir !== undefined && this.incompleteDir !== choices.downloadDir) {
      const name = "torrent" in source ? source.torrent.name : undefined;
      if (name === undefined || !(await exists(`${choices.downloadDir}/${name}`))) {
        record.incompleteDir = this.incompleteDir;
      }
    }
    if (this.#saved) {
      await this.#saved.save(record);
      if ("torrent" in source) await this.#saved.saveTorrent(record.hash, source.torrent);
    }
    this.#thisRun.added++;
    return this.#adopt(source, record);
  }

  /**
   * Queues a torrent its user stopped (or added stopped); with `now`, starts it, or one already
   * waiting, at once, past the queue's limit (Transmission's "start now"). Like every change a
   * user makes, it is saved before the promise settles, so a reply sent after it survives a
   * crash.
   */
  async start(t: ClientTorrent, options: { now?: boolean } = {}): Promise<void> {
    const record = this.record(t);
    if (record.paused) {
      record.paused = false;
      delete record.finished;
      await this.#persist(t);
      // Stopped in its metadata phase: that phase takes no download slot.
      if (!t.torrent) await t.resume();
      else this.#waiting.add(t.id);
    }
    if (options.now && !this.#reopening.has(t.id) && this.#waiting.delete(t.id)) this.#launch(t);
    this.#admit();
  }

  /** Stops a torrent (announcing `stopped`, saving its resume record) until `start`. */
  async stop(t: ClientTorrent): Promise<void> {
    const record = this.record(t);
    if (!record.paused) {
      record.paused = true;
      await this.#persist(t);
    }
    this.#waiting.delete(t.id);
    await t.pause();
    await this.#persist(t); // with the totals of the job just stopped
    this.#admit();
  }

  /** Removes a torrent and its record; with `deleteData`, its files and what we kept of it. */
  async remove(t: ClientTorrent, deleteData: boolean): Promise<void> {
    const record = this.#records.get(t.id);
    const moved = this.#movedThisRun(t);
    this.#thisRun.uploaded += moved.uploaded;
    this.#thisRun.downloaded += moved.downloaded;
    this.#runStart.delete(t.id);
    this.activity.forget(t.id);
    this.#forgetRemovedBefore(Date.now() - REMOVED_KEPT_MS);
    this.#removed.set(t.id, Date.now());
    this.#records.delete(t.id);
    this.#limits.delete(t.id);
    this.#watches.delete(t.id);
    this.#ownRules.delete(t.id);
    this.#prioritized.delete(t.id);
    this.#waiting.delete(t.id);
    this.#queue.remove(t.id);
    await t.remove();
    this.#active.delete(t.id);
    this.#admit();
    if (!record) return;
    await this.#saved?.remove(record.hash);
    if (deleteData && t.torrent) await deleteLocalData(t.torrent, dataDir(record));
  }

  /**
   * Fetches `t`'s pieces in order, or rarest first again (Transmission's `sequentialDownload`);
   * a running torrent reopens with the choice, from its resume record.
   */
  async setSequential(t: ClientTorrent, sequential: boolean): Promise<void> {
    const record = this.record(t);
    if ((record.sequential === true) === sequential) return;
    if (sequential) record.sequential = true;
    else delete record.sequential;
    await this.#persist(t);
    await this.#reopen(t, () => t.reopen({ sequential }));
  }

  /** Sets the files not wanted; a running torrent reopens with the choice, from its resume record. */
  async setUnwanted(t: ClientTorrent, unwanted: number[]): Promise<void> {
    const record = this.record(t);
    record.unwanted = unwanted;
    await this.#persist(t);
    const torrent = t.torrent;
    if (torrent) await this.#reopen(t, () => t.reopen({ selected: selection(torrent, record) }));
  }

  /**
   * Puts `tiers` in place of the torrent's trackers (saved, so they outlive a restart); a
   * running torrent reopens with them, telling the old ones it stopped and the new ones it
   * started.
   */
  async setTrackers(t: ClientTorrent, tiers: string[][]): Promise<void> {
    const record = this.record(t);
    record.trackers = tiers;
    await this.#persist(t);
    if (t.torrent) await this.#reopen(t, () => t.reopen({ trackers: tiers }));
  }

  /** Sets a torrent's labels (none: `[]`). */
  async setLabels(t: ClientTorrent, labels: string[]): Promise<void> {
    this.record(t).labels = labels;
    await this.#persist(t);
  }

  /** The trackers `t` announces to, tier by tier: its user's, or its torrent's. */
  trackersOf(t: ClientTorrent): string[][] {
    return this.record(t).trackers ?? t.torrent?.announce ?? [];
  }

  /**
   * Opens every running torrent anew, one after another (after the peer port moved): each
   * tells its trackers it stopped and started again, at the new port, and announces it on the
   * DHT. A failure is logged.
   */
  async reopenRunning(): Promise<void> {
    for (const t of this.client.list()) {
      if (!t.job) continue;
      await this.#reopen(t, () => t.reopen({})).catch((e) =>
        this.#log?.warn(`torrent ${t.id}: not reopened: ${messageOf(e)}`)
      );
    }
  }

  /** Hashes a torrent's data again (see `ClientTorrent.verify`), keeping its slot meanwhile. */
  async verify(t: ClientTorrent): Promise<void> {
    this.activity.checking(t.id, 0, 1);
    await this.#reopen(t, () => t.verify());
  }

  /**
   * Sets where a torrent's data is: with `move`, its files (and our records of it) move there
   * first, while closed; without, it looks for the data there (checking what it finds). A move
   * that fails changes nothing and throws why.
   */
  async setLocation(t: ClientTorrent, dir: string, move: boolean): Promise<void> {
    const record = this.record(t);
    const from = dataDir(record);
    if (dir === from) return;
    const torrent = t.torrent;
    await this.#reopen(t, async () => {
      await t.reopen(
        { output: dir },
        move && torrent ? () => moveLocalData(torrent, from, dir) : undefined,
      );
      record.downloadDir = dir;
      delete record.incompleteDir; // its data is where its user put it
      await this.#persist(t);
    });
  }

  /**
   * Renames a file or folder of a torrent (see `renamePath`), on disk too when it is there
   * (refusing to overwrite anything), and keeps the rename in its record. Throws why when
   * the rename is refused or the move fails; nothing changes then.
   */
  async renamePath(t: ClientTorrent, path: string, name: string): Promise<void> {
    const torrent = t.torrent;
    if (!torrent) throw new Error("its files are not known before its metadata");
    const { torrent: renamed, from, to } = renamePath(torrent, path, name);
    if (renamed === torrent) return;
    const record = this.record(t);
    const dir = dataDir(record);
    await this.#reopen(t, () =>
      t.rename(renamed, async () => {
        const [source, target] = [from, to].map((p) => `${dir}/${p.join("/")}`);
        if (!(await exists(source))) return;
        if (await exists(target)) throw new Error(`${target} already exists`);
        await Deno.rename(source, target);
        await moveResumePaths(dir, torrent.infoHash, from, to);
      }));
    record.renames = [...record.renames ?? [], { path, name }];
    await this.#persist(t);
  }

  /** Runs `steps`, which close `t`'s files and open them again, then follows its new job. */
  async #reopen(t: ClientTorrent, steps: () => Promise<void>): Promise<void> {
    this.#reopening.add(t.id);
    try {
      await steps();
    } finally {
      this.#reopening.delete(t.id);
      this.#follow(t);
      this.#admit();
    }
  }

  /**
   * The ids of torrents removed in the last minute: a remote that asks only for what changed
   * (`recently-active`) learns of removals another remote made.
   */
  recentlyRemoved(): number[] {
    this.#forgetRemovedBefore(Date.now() - REMOVED_KEPT_MS);
    return [...this.#removed.keys()];
  }

  #forgetRemovedBefore(time: number): void {
    for (const [id, at] of this.#removed) if (at < time) this.#removed.delete(id);
  }

  /** The payload bytes this run moved, of every torrent (removed ones too), and the adds. */
  thisRun(): Totals & { added: number } {
    const run = { ...this.#thisRun };
    for (const t of this.client.list()) {
      const moved = this.#movedThisRun(t);
      run.uploaded += moved.uploaded;
      run.downloaded += moved.downloaded;
    }
    return run;
  }

  #movedThisRun(t: ClientTorrent): Totals {
    const start = this.#runStart.get(t.id);
    if (!start) return { uploaded: 0, downloaded: 0 };
    const now = t.totals();
    return {
      uploaded: now.uploaded - start.uploaded,
      downloaded: now.downloaded - start.downloaded,
    };
  }

  /** Where `t` is in the download queue: 0 first (Transmission's `queuePosition`). */
  queuePosition(t: ClientTorrent): number {
    return this.#queue.position(t.id);
  }

  /** Moves torrents in the download queue (`queue-move-top` and the like). */
  async moveInQueue(torrents: ClientTorrent[], where: QueueMove): Promise<void> {
    await this.#reranked(this.#queue.move(torrents.map((t) => t.id), where));
  }

  /** Moves a torrent to `position` in the download queue (0 first). */
  async setQueuePosition(t: ClientTorrent, position: number): Promise<void> {
    await this.#reranked(this.#queue.moveTo(t.id, position));
  }

  /** Saves the new ranks of the torrents a move changed, and starts torrents in the new order. */
  async #reranked(ranks: Map<number, number>): Promise<void> {
    for (const [id, rank] of ranks) {
      const record = this.#records.get(id), t = this.client.get(id);
      if (!record || !t) continue;
      record.queueRank = rank;
      await this.#persist(t);
    }
    this.#admit();
  }

  /** Sets the files fetched first (high) and those marked low; the others are normal. */
  async setPriorities(t: ClientTorrent, high: number[], low: number[]): Promise<void> {
    const record = this.record(t);
    record.highPriority = high;
    record.lowPriority = low;
    this.#noteOwnRules(t.id, record);
    this.#prioritized.get(t.id)?.release();
    this.#prioritized.delete(t.id);
    this.#applyPriorities(t);
    await this.#persist(t);
  }

  /**
   * Makes the running session fetch the high-priority files' pieces before the others and the
   * low ones' after them (again after a stop, a verify, a move or a rest, each of which ends
   * the session).
   */
  #applyPriorities(t: ClientTorrent): void {
    // Called every second for every torrent: most have no priorities, and leave here at once.
    const record = this.#records.get(t.id);
    if (!record?.highPriority?.length && !record?.lowPriority?.length) return;
    const session = t.job?.session, torrent = t.torrent;
    const high = record.highPriority ?? [], low = record.lowPriority ?? [];
    if (!session || !torrent) return;
    if (this.#prioritized.get(t.id)?.session === session) return;
    const ranges = priorityRanges(torrent, high, low, record.unwanted);
    const releases = [
      ...ranges.first.map((r) => session.prioritize(r.from, r.to)),
      ...ranges.last.map((r) => session.defer(r.from, r.to)),
    ];
    this.#prioritized.set(t.id, { session, release: () => releases.forEach((r) => r()) });
  }

  /** Sets a torrent's own rate limits (the process's still apply), at once. */
  async setRates(
    t: ClientTorrent,
    rates: { downloadRate?: RateSetting; uploadRate?: RateSetting },
  ): Promise<void> {
    const record = this.record(t);
    Object.assign(record, rates);
    const limits = this.#limits.get(t.id)!;
    limits.download.own = ownLimit(record.downloadRate, limits.download.own);
    limits.upload.own = ownLimit(record.uploadRate, limits.upload.own);
    await this.#persist(t);
  }

  /**
   * Sets a torrent's place at the process's rate limits, and whether they apply to it, at
   * once.
   */
  async setBandwidth(
    t: ClientTorrent,
    bandwidth: { priority?: BandwidthPriority; honorsSessionLimits?: boolean },
  ): Promise<void> {
    const record = this.record(t);
    if (bandwidth.priority !== undefined) {
      if (bandwidth.priority === 0) delete record.bandwidthPriority;
      else record.bandwidthPriority = bandwidth.priority;
    }
    if (bandwidth.honorsSessionLimits !== undefined) {
      if (bandwidth.honorsSessionLimits) delete record.ignoresSessionLimits;
      else record.ignoresSessionLimits = true;
    }
    this.#applyBandwidth(t.id, record);
    await this.#persist(t);
  }

  #applyBandwidth(id: number, record: SavedTorrent): void {
    for (const limits of Object.values(this.#limits.get(id)!)) {
      limits.priority = record.bandwidthPriority ?? 0;
      limits.honorsShared = record.ignoresSessionLimits !== true;
    }
  }

  /** Sets a torrent's seeding limits; one already met stops it within a second. */
  async setSeedLimits(
    t: ClientTorrent,
    limits: Pick<SavedTorrent, "seedRatio" | "seedIdle">,
  ): Promise<void> {
    const record = this.record(t);
    Object.assign(record, limits);
    this.#noteOwnRules(t.id, record);
    await this.#persist(t);
  }

  /**
   * How long until `t` meets its idle seeding limit (Transmission's `etaIdle`), or undefined
   * when it is not seeding under one: the second-by-second check watches it from the first
   * second it is.
   */
  idleLeftMs(t: ClientTorrent): number | undefined {
    const watch = this.#watches.get(t.id), limit = this.seedLimitsOf(t).idleMs;
    if (!watch || limit === undefined || t.state !== "seeding") return undefined;
    return Math.max(0, limit - watch.idleMs());
  }

  /**
   * Where `t`'s .torrent file is kept (Transmission's `torrentFile`): "" before its metadata,
   * or when the torrents are not kept on disk.
   */
  torrentFileOf(t: ClientTorrent): string {
    return t.torrent && this.#saved ? this.#saved.torrentPath(this.record(t).hash) : "";
  }

  /** The seeding limits that apply to `t`: its own, the session's, or none, for each. */
  seedLimitsOf(t: ClientTorrent): SeedLimits {
    const { seedRatio, seedIdle } = this.record(t);
    const mode = (own?: { mode: string }) => own?.mode ?? "session";
    return {
      ratio: mode(seedRatio) === "own"
        ? seedRatio!.ratio
        : mode(seedRatio) === "session"
        ? this.seedLimits.ratio
        : undefined,
      idleMs: mode(seedIdle) === "own"
        ? seedIdle!.ms
        : mode(seedIdle) === "session"
        ? this.seedLimits.idleMs
        : undefined,
    };
  }

  /** Stops the seeding-limit checks and saves every record with its totals (torrents go on). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await Promise.all(this.client.list().map((t) => this.#persist(t)));
  }

  #adopt(source: TorrentSource, record: SavedTorrent): ClientTorrent {
    if ("torrent" in source && record.renames) {
      source = { ...source, torrent: this.#renamed(source.torrent, record.renames) };
    }
    const t = this.client.add(source, {
      log: this.#log,
      maxPeers: record.peerLimit ?? this.#maxPeers,
      totals: { uploaded: record.uploaded ?? 0, downloaded: record.downloaded ?? 0 },
    });
    this.#records.set(t.id, record);
    this.#noteOwnRules(t.id, record);
    this.#runStart.set(t.id, {
      uploaded: record.uploaded ?? 0,
      downloaded: record.downloaded ?? 0,
    });
    this.#queue.add(t.id, record.queueRank ?? record.addedDate);
    const hub = this.client.hub;
    this.#limits.set(t.id, {
      download: new BothLimits(ownLimit(record.downloadRate), hub.downloadLimiter),
      upload: new BothLimits(ownLimit(record.uploadRate), hub.uploadLimiter),
    });
    this.#applyBandwidth(t.id, record);
    t.metadata.then(async (fetched) => {
      if (!("torrent" in source)) {
        this.activity.edited(t.id);
        this.#saved?.saveTorrent(record.hash, fetched.torrent).catch((e) =>
          this.#log?.warn(`torrent ${record.hash}: its metadata not saved: ${messageOf(e)}`)
        );
        // Its name known at last: data already in the download folder stays there.
        const name = fetched.torrent.name;
        if (
          record.incompleteDir !== undefined &&
          await exists(`${record.downloadDir}/${name}`) &&
          !(await exists(`${record.incompleteDir}/${name}`))
        ) {
          delete record.incompleteDir;
          await this.#persist(t);
        }
      }
      if (!record.paused && this.#records.has(t.id)) this.#waiting.add(t.id);
      this.#admit();
    }).catch(() => {});
    return t;
  }

  /** `torrent` with its user's renames made again, in order (one that fails is skipped). */
  #renamed(torrent: Torrent, renames: readonly { path: string; name: string }[]): Torrent {
    for (const { path, name } of renames) {
      try {
        torrent = renamePath(torrent, path, name).torrent;
      } catch (e) {
        this.#log?.warn(`torrent ${torrent.infoHashHex}: rename not made again: ${messageOf(e)}`);
      }
    }
    return torrent;
  }

  /**
   * Starts waiting torrents, first in the queue first, while fewer than the limit hold a slot.
   * With every slot taken (most adds, in a burst) it decides at once; each start looks once
   * through the torrents waiting.
   */
  #admit(): void {
    while (this.#active.size < this.#maxActive) {
      let next: number | undefined, first = Infinity;
      for (const id of this.#waiting) {
        if (this.#reopening.has(id)) continue; // waits for its files, in its place
        const position = this.#queue.position(id);
        if (position < first) [next, first] = [id, position];
      }
      if (next === undefined) return;
      this.#waiting.delete(next);
      const t = this.client.get(next);
      if (t) this.#launch(t);
    }
  }

  /** Opens (or resumes) a torrent and starts it; its completion or end frees its slot. */
  async #launch(t: ClientTorrent): Promise<void> {
    const record = this.record(t);
    this.#active.add(t.id);
    this.activity.started(t.id);
    try {
      // Reopens a torrent stopped while it ran; one stopped before that goes back to queued.
      if (t.state === "paused") await t.resume();
      if (!t.job) {
        this.activity.checking(t.id, 0, 1);
        await t.open({
          onCheckProgress: (checked, total) => this.activity.checking(t.id, checked, total),
          output: dataDir(record),
          seed: true,
          // A thousand seeding torrents without peers need no thousand sessions.
          rest: true,
          selected: selection(t.torrent!, record),
          sequential: record.sequential === true,
          trackers: record.trackers,
          limits: this.#limits.get(t.id),
        });
        t.start();
      }
      // Stopped or removed while it was opening.
      if (record.paused || t.state === "removed") await t.pause();
      this.#applyPriorities(t);
    } catch (e) {
      if (t.state !== "removed") this.#log?.warn(`torrent ${t.id}: ${messageOf(e)}`);
    }
    this.#follow(t);
  }

  /**
   * Gives `t`'s job (a new one after a reopen) the torrent's slot until the job completes
   * (the torrent's done date) or ends; with no job, the slot is free.
   */
  #follow(t: ClientTorrent): void {
    const job = t.job;
    if (!job) return this.#leave(t.id);
    if (this.#followed.has(job)) return;
    this.#followed.add(job);
    this.#active.add(t.id);
    const before = t.totals().downloaded;
    job.completed.then(async () => {
      const record = this.#records.get(t.id);
      if (record?.doneDate === 0) {
        record.doneDate = nowSeconds();
        this.#persist(t);
      }
      this.#leave(t.id);
      if (!record) return;
      const downloaded = t.totals().downloaded > before;
      if (record.incompleteDir !== undefined) await this.#moveComplete(t, record);
      if (downloaded) this.#onDownloaded?.(t, record);
    }, () => {});
    const end = () => {
      if (!this.#reopening.has(t.id)) this.#leave(t.id);
    };
    job.done.then(end, end);
  }

  /**
   * Moves a complete torrent's data from the incomplete folder to its download folder; when
   * that fails (a file in the way, a full disk) it seeds on from where it is.
   */
  async #moveComplete(t: ClientTorrent, record: SavedTorrent): Promise<void> {
    const from = record.incompleteDir!, to = record.downloadDir, torrent = t.torrent!;
    try {
      await this.#reopen(t, () => t.reopen({ output: to }, () => moveLocalData(torrent, from, to)));
      delete record.incompleteDir;
      await this.#persist(t);
      this.#log?.info(`torrent ${t.id}: complete, moved from ${from} to ${to}`);
    } catch (e) {
      this.#log?.warn(`torrent ${t.id}: complete, but its data stays in ${from}: ${messageOf(e)}`);
    }
  }

  /** Every torrent with its record. */
  *#withRecords(): Iterable<{ t: ClientTorrent; record: SavedTorrent }> {
    for (const t of this.client.torrents()) {
      const record = this.#records.get(t.id);
      if (record) yield { t, record };
    }
  }

  #leave(id: number): void {
    if (this.#active.delete(id)) this.#admit();
  }

  /** Saves a torrent's record with its byte totals so far (a failure is logged). */
  async #persist(t: ClientTorrent): Promise<void> {
    const record = this.#records.get(t.id);
    if (!record) return;
    Object.assign(record, t.totals());
    await this.#saved?.save(record).catch((e) =>
      this.#log?.warn(`torrent not saved: ${messageOf(e)}`)
    );
  }

  /**
   * Stops seeding torrents that met a limit (Transmission's "finished"), and now and then saves
   * the byte totals of those that moved any.
   */
  #check(): void {
    const now = performance.now();
    if (now - this.#activityAt >= ACTIVITY_MS) {
      this.#activityAt = now;
      this.activity.tick(this.#withRecords());
    }
    if (now - this.#totalsSavedAt >= SAVE_TOTALS_MS) {
      this.#totalsSavedAt = now;
      this.#saveMovedTotals();
    }
    const sessionLimits = this.#sessionLimits();
    if (!sessionLimits) {
      for (const id of this.#watches.keys()) if (!this.#ownRules.has(id)) this.#watches.delete(id);
    }
    // Without session limits, a torrent with no rules of its own has nothing to look at.
    for (const id of sessionLimits ? this.#records.keys() : this.#ownRules) {
      const t = this.client.get(id), record = this.#records.get(id);
      if (t && record) this.#look(t, record);
    }
  }

  /** Runs the check in a second while a torrent has rules to look at, else in ten. */
  #scheduleCheck(): void {
    if (this.#closed) return;
    const ms = this.#sessionLimits() || this.#ownRules.size > 0 ? CHECK_MS : QUIET_CHECK_MS;
    clearTimeout(this.#timer);
    this.#checkAt = performance.now() + ms;
    this.#timer = setTimeout(() => {
      try {
        this.#check();
      } finally {
        this.#scheduleCheck();
      }
    }, ms);
    // A check left to do never keeps the process alive.
    Deno.unrefTimer(this.#timer);
  }

  /** After a change that gives a torrent rules to look at: the next check within a second. */
  #checkSoon(): void {
    if (this.#checkAt - performance.now() > CHECK_MS) this.#scheduleCheck();
  }

  #sessionLimits(): boolean {
    return this.#seedLimits.ratio !== undefined || this.#seedLimits.idleMs !== undefined;
  }

  /** Applies `t`'s file priorities to a new session, and stops it if it met a seeding limit. */
  #look(t: ClientTorrent, record: SavedTorrent): void {
    this.#applyPriorities(t);
    const limits = this.seedLimitsOf(t);
    if ((limits.ratio === undefined && limits.idleMs === undefined) || t.state !== "seeding") {
      this.#watches.delete(t.id);
      return;
    }
    let watch = this.#watches.get(t.id);
    if (!watch) this.#watches.set(t.id, watch = new SeedWatch());
    const totalBytes = t.stats()?.totalBytes ?? 0;
    const met = watch.check({ uploaded: t.totals().uploaded, totalBytes }, limits);
    if (!met) return;
    this.#watches.delete(t.id);
    this.#log?.info(`torrent ${t.id}: seeding limit met (${met.limit}); stopping`);
    record.finished = true;
    this.stop(t).catch((e) => this.#log?.warn(`torrent ${t.id}: ${messageOf(e)}`));
  }

  /** Saves the records of running torrents whose byte totals moved since last saved. */
  #saveMovedTotals(): void {
    for (const { t, record } of this.#withRecords()) {
      if (!t.job) continue;
      const { uploaded, downloaded } = t.totals();
      if (uploaded !== record.uploaded || downloaded !== record.downloaded) this.#persist(t);
    }
  }

  /** Notes whether `id` has rules of its own for the check to look at (see `#ownRules`). */
  #noteOwnRules(id: number, record: SavedTorrent): void {
    const own = record.seedRatio?.mode === "own" || record.seedIdle?.mode === "own" ||
      (record.highPriority?.length ?? 0) > 0 || (record.lowPriority?.length ?? 0) > 0;
    if (own) {
      this.#ownRules.add(id);
      this.#checkSoon();
    } else {
      this.#ownRules.delete(id);
    }
  }
}

/** The `selected` flags of `torrent.files` for the files `record` does not want; all: none. */
function selection(torrent: Torrent, record: SavedTorrent): boolean[] | undefined {
  const unwanted = new Set(record.unwanted ?? []);
  if (unwanted.size === 0) return undefined;
  const selected = torrent.files.map(() => true);
  listedFiles(torrent).forEach((fileIndex, n) => {
    if (unwanted.has(n)) selected[fileIndex] = false;
  });
  return selected;
}

/**
 * A torrent's data under `dir` (its file, or its folder) and what we keep of it there: its
 * resume record, part file and fetched metadata.
 */
function ownedPaths(torrent: Torrent, dir: string): string[] {
  const ours = ["resume", "parts", "torrent"].map((ext) =>
    `${dir}/${STATE_DIR}/${torrent.infoHashHex}.${ext}`
  );
  return [`${dir}/${torrent.name}`, ...ours];
}

/** Deletes a torrent's data and what we kept of it under `dir`. What is already gone is no error. */
async function deleteLocalData(torrent: Torrent, dir: string): Promise<void> {
  for (const path of ownedPaths(torrent, dir)) {
    await Deno.remove(path, { recursive: true }).catch(() => {});
  }
}

/**
 * Moves a torrent's data and what we kept of it from `from` to `to` (a rename, or a copy and a
 * delete across file systems). Refuses to overwrite anything at `to`; what is not at `from`
 * (nothing downloaded yet) is skipped.
 */
async function moveLocalData(torrent: Torrent, from: string, to: string): Promise<void> {
  const sources = ownedPaths(torrent, from), targets = ownedPaths(torrent, to);
  const moves: [string, string][] = [];
  for (let i = 0; i < sources.length; i++) {
    if (!(await exists(sources[i]))) continue;
    if (await exists(targets[i])) throw new Error(`${targets[i]} already exists`);
    moves.push([sources[i], targets[i]]);
  }
  for (const [source, target] of moves) {
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
    try {
      await Deno.rename(source, target);
    } catch {
      // Another file system: copy, and delete the original only once the copy is whole.
      await copyTree(source, target);
      await Deno.remove(source, { recursive: true });
    }
  }
}

async function copyTree(source: string, target: string): Promise<void> {
  const info = await Deno.lstat(source);
  if (!info.isDirectory) return await Deno.copyFile(source, target);
  await Deno.mkdir(target, { recursive: true });
  for await (const entry of Deno.readDir(source)) {
    await copyTree(`${source}/${entry.name}`, `${target}/${entry.name}`);
  }
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** The own limit of every torrent without one: never given a rate, it never holds anyone. */
const UNLIMITED = new TokenBucket(0);

/**
 * A torrent's own limit for `setting`: `now` given the new rate when it is the torrent's own
 * (its waiters re-timed at once), a new bucket, or the shared unlimited one when off, so a
 * thousand torrents without limits hold no thousand buckets.
 */
function ownLimit(setting: RateSetting | undefined, now?: TokenBucket): TokenBucket {
  const rate = setting?.on ? setting.rate : 0;
  const own = now === UNLIMITED ? undefined : now;
  own?.setRate(rate); // lifted: its waiters go
  return rate === 0 ? UNLIMITED : own ?? new TokenBucket(rate);
}

function checkLimit(limit: number, what = "the download queue"): number {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new RangeError(`${what} needs a limit of 1 or more, got ${limit}`);
  }
  return limit;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
