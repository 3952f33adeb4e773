/**
 * What a long-running client keeps of its torrents between runs, in a folder of its own: for
 * each torrent a small JSON record (its source, download folder, dates, whether it was stopped)
 * and, once known, its .torrent (a magnet link's fetched metadata included). Every file is
 * replaced whole and flushed to the disk (`writeFileAtomic`), so a process killed at any moment,
 * or a power cut, leaves the old version or the new one, never half of either.
 *
 * @module
 */
import {
  type Magnet,
  MAX_TORRENT_FILE_BYTES,
  parseMagnet,
  parseTorrent,
  type Torrent,
  torrentFileFromInfo,
} from "../metainfo/mod.ts";
import { type BandwidthPriority, readFileAtMost, writeFileAtomic } from "../util/mod.ts";

/** One torrent as saved. */
export interface SavedTorrent {
  /** The v1 info-hash (or the v2 one cut to 20 bytes), hex: the record's name. */
  hash: string;
  /** The magnet link it was added from, when it was (kept for its trackers and peers). */
  magnet?: string;
  downloadDir: string;
  /**
   * Where its data is until it is complete, when not in `downloadDir` (the session's
   * incomplete folder when it was added); it moves to `downloadDir` then.
   */
  incompleteDir?: string;
  /** Unix seconds. */
  addedDate: number;
  /** Unix seconds; 0 until complete. */
  doneDate: number;
  /** Stopped by the user (or added so): not started on the next run. */
  paused: boolean;
  /** Files not to download, by their number among the files a user sees (`listedFiles`). */
  unwanted?: number[];
  /** Files to fetch before the others, and files marked low, by their listed numbers. */
  highPriority?: number[];
  lowPriority?: number[];
  /** Payload bytes moved in earlier runs: totals and ratios go on across restarts. */
  uploaded?: number;
  downloaded?: number;
  /** A seeding limit stopped it. */
  finished?: boolean;
  /** Its own rate limits, bytes a second (each kept while switched off). */
  downloadRate?: RateSetting;
  uploadRate?: RateSetting;
  /** Its place at the process's rate limits (absent: normal). */
  bandwidthPriority?: BandwidthPriority;
  /** Set when the process's rate limits do not apply to it. */
  ignoresSessionLimits?: boolean;
  /** Set when its pieces are fetched in order (media watched while it arrives). */
  sequential?: boolean;
  /** Seed until this share ratio; whose limit applies. */
  seedRatio?: { mode: LimitMode; ratio: number };
  /** Stop seeding after this long without uploading; whose limit applies. */
  seedIdle?: { mode: LimitMode; ms: number };
  /** Orders it in the download queue (see `QueueOrder`); records without one go by `addedDate`. */
  queueRank?: number;
  /** The trackers, tier by tier, its user put in place of the torrent's own. */
  trackers?: string[][];
  /** Its user's labels (Transmission's), to sort and find torrents by. */
  labels?: string[];
  /** Files and folders its user renamed, in order (see `renamePath`). */
  renames?: { path: string; name: string }[];
  /** Peers it keeps at most, when its user gave it a limit of its own. */
  peerLimit?: number;
  /** When it last moved data (Unix seconds), and its seconds downloading and seeding so far. */
  activityDate?: number;
  secondsDownloading?: number;
  secondsSeeding?: number;
}

/**
 * Where a torrent's data is now: its incomplete folder until it moved out, else its download
 * folder.
 *
 * @example
 * ```ts
 * import { dataDir } from "./saved_torrents.ts";
 * const record = { hash: "ab", downloadDir: "/srv", addedDate: 0, doneDate: 0, paused: false };
 * console.log(dataDir(record), dataDir({ ...record, incompleteDir: "/tmp/part" })); // /srv /tmp/part
 * ```
 */
export function dataDir(record: SavedTorrent): string {
  return record.incompleteDir ?? record.downloadDir;
}

/** Whose limit applies to a torrent: the session's, its own, or none (Transmission's 0, 1, 2). */
export type LimitMode = "session" | "own" | "none";

/** A rate limit in bytes a second, on or off. */
export interface RateSetting {
  rate: number;
  on: boolean;
}

/** A saved torrent and what it is: the .torrent when kept, else its magnet link. */
export interface LoadedTorrent {
  record: SavedTorrent;
  source: { torrent: Torrent } | { magnet: Magnet };
}

/** A record bigger than this is not one of ours. */
const MAX_RECORD_BYTES = 64 * 1024;

/**
 * The saved torrents in `dir`.
 *
 * @example
 * ```ts
 * import { SavedTorrents } from "./saved_torrents.ts";
 * const dir = await Deno.makeTempDir();
 * const saved = new SavedTorrents(dir);
 * const hash = "ab".repeat(20);
 * await saved.save({ hash, magnet: `magnet:?xt=urn:btih:${hash}`, downloadDir: "/d", addedDate: 1, doneDate: 0, paused: false });
 * const { loaded, skipped } = await saved.loadAll();
 * console.log(loaded.length, loaded[0].record.downloadDir, skipped.length); // 1 /d 0
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class SavedTorrents {
  constructor(readonly dir: string) {}

  /** Writes `record` (atomically). */
  async save(record: SavedTorrent): Promise<void> {
    const bytes = new TextEncoder().encode(JSON.stringify(record));
    await this.#write(this.#recordPath(record.hash), bytes);
  }

  /** Where the torrent itself is kept (see `saveTorrent`), whether it is there yet or not. */
  torrentPath(hash: string): string {
    return `${this.dir}/${hash}.torrent`;
  }

  #recordPath(hash: string): string {
    return `${this.dir}/${hash}.json`;
  }

  /** Keeps the torrent itself beside its record, with its piece layers when it has them. */
  async saveTorrent(hash: string, torrent: Torrent): Promise<void> {
    const bytes = torrentFileFromInfo(torrent.infoBytes, torrent.announce, torrent.v2Pieces);
    await this.#write(this.torrentPath(hash), bytes);
  }

  /** Forgets a torrent. What is already gone is no error. */
  async remove(hash: string): Promise<void> {
    for (const path of [this.#recordPath(hash), this.torrentPath(hash)]) {
      await Deno.remove(path).catch(() => {});
    }
  }

  /**
   * Every saved torrent, in queue order (oldest first where no order was saved); records that
   * cannot be read or make no sense are left out, each with why (for the log).
   */
  async loadAll(): Promise<{ loaded: LoadedTorrent[]; skipped: string[] }> {
    const loaded: LoadedTorrent[] = [], skipped: string[] = [];
    let names: string[];
    try {
      names = [];
      for await (const entry of Deno.readDir(this.dir)) {
        if (entry.isFile && /^[0-9a-f]{40}\.json$/.test(entry.name)) names.push(entry.name);
      }
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return { loaded, skipped };
      throw e;
    }
    for (const name of names) {
      try {
        loaded.push(await this.#load(name.slice(0, 40)));
      } catch (e) {
        skipped.push(`${name}: ${e instanceof Error ? e.message : e}`);
      }
    }
    const rank = (r: SavedTorrent) => r.queueRank ?? r.addedDate;
    loaded.sort((a, b) =>
      rank(a.record) - rank(b.record) || a.record.addedDate - b.record.addedDate
    );
    return { loaded, skipped };
  }

  async #load(hash: string): Promise<LoadedTorrent> {
    const text = new TextDecoder().decode(
      await readBounded(this.#recordPath(hash), MAX_RECORD_BYTES),
    );
    const record = checkRecord(JSON.parse(text), hash);
    let torrentBytes: Uint8Array | undefined;
    try {
      torrentBytes = await readBounded(this.torrentPath(hash), MAX_TORRENT_FILE_BYTES);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (torrentBytes) return { record, source: { torrent: parseTorrent(torrentBytes) } };
    if (record.magnet === undefined) throw new Error("neither its .torrent nor a magnet link");
    return { record, source: { magnet: parseMagnet(record.magnet) } };
  }

  async #write(path: string, bytes: Uint8Array): Promise<void> {
    await Deno.mkdir(this.dir, { recursive: true });
    await writeFileAtomic(path, bytes, { sync: true });
  }
}

async function readBounded(path: string, max: number): Promise<Uint8Array> {
  const bytes = await readFileAtMost(path, max);
  if (bytes === null) throw new Error(`${path} is too large`);
  return bytes;
}

/** The record if `v` is a well-formed one for `hash`; throws why not. */
function checkRecord(v: unknown, hash: string): SavedTorrent {
  if (typeof v !== "object" || v === null) throw new Error("not a record");
  const r = v as Record<string, unknown>;
  const number = (key: string) => {
    if (typeof r[key] !== "number" || !Number.isFinite(r[key])) throw new Error(`bad ${key}`);
    return r[key] as number;
  };
  if (r.hash !== hash) throw new Error("its name and hash differ");
  if (typeof r.downloadDir !== "string" || r.downloadDir === "") throw new Error("bad downloadDir");
  if (r.magnet !== undefined && typeof r.magnet !== "string") throw new Error("bad magnet");
  return {
    hash,
    ...(r.magnet === undefined ? {} : { magnet: r.magnet as string }),
    downloadDir: r.downloadDir,
    ...(typeof r.incompleteDir === "string" && r.incompleteDir !== ""
      ? { incompleteDir: r.incompleteDir }
      : {}),
    addedDate: number("addedDate"),
    doneDate: number("doneDate"),
    paused: r.paused === true,
    ...(isFileList(r.unwanted) ? { unwanted: r.unwanted } : {}),
    // Settings added later: one that does not read is left at its default.
    ...(isFileList(r.highPriority) ? { highPriority: r.highPriority } : {}),
    ...(isFileList(r.lowPriority) ? { lowPriority: r.lowPriority } : {}),
    ...(count(r.uploaded) ? { uploaded: r.uploaded } : {}),
    ...(count(r.downloaded) ? { downloaded: r.downloaded } : {}),
    ...(r.finished === true ? { finished: true } : {}),
    ...(isRate(r.downloadRate) ? { downloadRate: r.downloadRate } : {}),
    ...(isRate(r.uploadRate) ? { uploadRate: r.uploadRate } : {}),
    ...(r.bandwidthPriority === 1 || r.bandwidthPriority === -1
      ? { bandwidthPriority: r.bandwidthPriority }
      : {}),
    ...(r.ignoresSessionLimits === true ? { ignoresSessionLimits: true } : {}),
    ...(r.sequential === true ? { sequential: true } : {}),
    ...(isLimit(r.seedRatio, "ratio") ? { seedRatio: r.seedRatio } : {}),
    ...(isLimit(r.seedIdle, "ms") ? { seedIdle: r.seedIdle } : {}),
    ...(typeof r.queueRank === "number" && Number.isFinite(r.queueRank)
      ? { queueRank: r.queueRank }
      : {}),
    ...(isTierList(r.trackers) ? { trackers: r.trackers } : {}),
    ...(isStringList(r.labels) ? { labels: r.labels } : {}),
    ...(isRenameList(r.renames) ? { renames: r.renames } : {}),
    ...(Number.isSafeInteger(r.peerLimit) && (r.peerLimit as number) >= 1
      ? { peerLimit: r.peerLimit as number }
      : {}),
    ...(count(r.activityDate) ? { activityDate: r.activityDate } : {}),
    ...(count(r.secondsDownloading) ? { secondsDownloading: r.secondsDownloading } : {}),
    ...(count(r.secondsSeeding) ? { secondsSeeding: r.secondsSeeding } : {}),
  };
}

function isFileList(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((i) => Number.isSafeInteger(i) && i >= 0);
}

function isRenameList(v: unknown): v is { path: string; name: string }[] {
  return Array.isArray(v) &&
    v.every((r) => typeof r?.path === "string" && typeof r?.name === "string");
}

function isTierList(v: unknown): v is string[][] {
  return Array.isArray(v) && v.every(isStringList);
}

function isStringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === "string");
}

function count(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0;
}

function isRate(v: unknown): v is RateSetting {
  const r = v as RateSetting | null;
  return typeof r === "object" && r !== null && count(r.rate) && typeof r.on === "boolean";
}

function isLimit<K extends string>(
  v: unknown,
  key: K,
): v is { mode: LimitMode } & Record<K, number> {
  const r = v as Record<string, unknown> | null;
  return typeof r === "object" && r !== null && count(r[key]) &&
    (r.mode === "session" || r.mode === "own" || r.mode === "none");
}
