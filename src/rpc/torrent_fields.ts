/**
 * What `torrent-get` says of a torrent, in Transmission's names, numbers and units: its status
 * numbers, byte counts, rates, limits, files, trackers and peers.
 *
 * @module
 */
import type {
  ClientTorrent,
  KeptTorrents,
  LimitMode,
  SavedTorrent,
  TorrentState,
  TrackerEntry,
} from "../client/mod.ts";
import type { PeerView, SessionStats } from "../engine/mod.ts";
import { listedFiles, type Torrent, torrentMagnet } from "../metainfo/mod.ts";
import { encodeBase64, mediaType } from "../util/mod.ts";
import { verifiedBytesOf } from "../storage/mod.ts";
import { trackerListText } from "./tracker_edits.ts";

/** A torrent's trackers, with their last answers while it runs. */
function trackersOf(t: ClientTorrent, kept: KeptTorrents): TrackerEntry[] {
  return t.job?.trackers() ??
    kept.trackersOf(t).flatMap((urls, tier) => urls.map((url) => ({ tier, url })));
}

/** One `trackerStats` entry (times in Unix seconds, 0 when never). */
function trackerStats({ tier, url, last }: TrackerEntry, id: number): Record<string, unknown> {
  const seconds = (ms: number | undefined) => ms === undefined ? 0 : Math.floor(ms / 1000);
  let host = url;
  try {
    host = new URL(url).host;
  } catch { /* shown as given */ }
  return {
    id,
    tier,
    announce: url,
    host,
    sitename: "",
    scrape: "",
    isBackup: false,
    hasAnnounced: last !== undefined,
    lastAnnounceSucceeded: last?.ok ?? false,
    lastAnnounceResult: last === undefined ? "" : last.ok ? "Success" : last.message ?? "",
    lastAnnounceTime: seconds(last?.at),
    lastAnnounceStartTime: seconds(last?.at),
    lastAnnounceTimedOut: false,
    lastAnnouncePeerCount: last?.peers ?? 0,
    nextAnnounceTime: seconds(last?.nextAnnounceAt),
    // Transmission's tr_tracker_state: 0 inactive, 1 waiting.
    announceState: last?.nextAnnounceAt === undefined ? 0 : 1,
    seederCount: last?.seeders ?? -1,
    leecherCount: last?.leechers ?? -1,
    downloadCount: -1,
    hasScraped: false,
    lastScrapeSucceeded: false,
    lastScrapeResult: "",
    lastScrapeTime: 0,
    lastScrapeStartTime: 0,
    lastScrapeTimedOut: false,
    nextScrapeTime: 0,
    scrapeState: 0,
  };
}

/** One `peers` entry. */
function peerFields(p: PeerView): Record<string, unknown> {
  const downloading = !p.peerChoking && p.amInterested;
  const uploading = !p.amChoking && p.peerInterested;
  const flags = (downloading ? "D" : p.amInterested ? "d" : "") +
    (uploading ? "U" : p.peerInterested ? "u" : "") +
    (p.encrypted ? "E" : "") + (p.source === "dht" ? "H" : "") + (p.source === "pex" ? "X" : "") +
    (p.incoming ? "I" : "") + (p.transport === "utp" ? "T" : "");
  return {
    address: p.host,
    port: p.port,
    clientName: p.client,
    clientIsChoked: p.amChoking,
    clientIsInterested: p.amInterested,
    peerIsChoked: p.peerChoking,
    peerIsInterested: p.peerInterested,
    isDownloadingFrom: downloading,
    isUploadingTo: uploading,
    isEncrypted: p.encrypted,
    isIncoming: p.incoming,
    isUTP: p.transport === "utp",
    flagStr: flags,
    progress: p.progress,
    rateToClient: Math.round(p.downloadRate),
    rateToPeer: Math.round(p.uploadRate),
  };
}

/** Where the connected peers came from, in Transmission's `peersFrom` names. */
function peersFrom(peers: PeerView[]): Record<string, number> {
  const count = (source: PeerView["source"]) => peers.filter((p) => p.source === source).length;
  return {
    fromCache: 0,
    fromDht: count("dht"),
    fromIncoming: count("incoming"),
    fromLpd: 0,
    fromLtep: count("pex"),
    fromPex: count("pex"),
    fromTracker: count("tracker") + count("magnet") + count("manual"),
  };
}

/** Transmission's numbers for whose limit applies. */
const MODE_NUMBER: Record<LimitMode, number> = { session: 0, own: 1, none: 2 };

/** How long a running torrent moves nothing before it counts as stalled (Transmission's). */
const STALLED_SECONDS = 30 * 60;

/** Transmission's status numbers. */
const STATUS = { stopped: 0, checking: 2, downloadWait: 3, downloading: 4, seeding: 6 };

/** One listed file as `files` and `fileStats` show it. */
interface FileView {
  name: string;
  length: number;
  bytesCompleted: number;
  wanted: boolean;
  /** Transmission's numbers: 1 high, 0 normal, -1 low. */
  priority: number;
}

/**
 * What one torrent's fields are read from, worked out once per `torrent-get`: its record and
 * numbers at once, its files (which several fields list) when first asked for.
 */
class Source {
  readonly info: SavedTorrent;
  readonly torrent: Torrent | undefined;
  readonly stats: SessionStats | undefined;
  readonly state: TorrentState;
  readonly total: number;
  /** The bytes of the wanted files. */
  readonly wanted: number;
  readonly done: number;
  readonly rate: number;
  readonly left: number;
  #files: FileView[] | undefined;

  constructor(readonly t: ClientTorrent, readonly kept: KeptTorrents) {
    this.info = kept.record(t);
    this.torrent = t.torrent;
    this.stats = t.stats();
    this.state = t.state;
    this.total = this.torrent?.totalLength ?? 0;
    this.wanted = this.stats?.totalBytes ?? this.total;
    this.done = this.stats?.bytesDone ?? 0;
    this.rate = this.stats?.downloadRate ?? 0;
    this.left = Math.max(0, this.wanted - this.done);
  }

  /** Each listed file with what is verified of it and its user's choices; none before metadata. */
  get files(): FileView[] {
    if (this.#files) return this.#files;
    const torrent = this.torrent, have = this.t.job?.have;
    if (!torrent) return this.#files = [];
    const unwanted = new Set(this.info.unwanted), high = new Set(this.info.highPriority);
    const low = new Set(this.info.lowPriority);
    return this.#files = listedFiles(torrent).map((i, n) => {
      const f = torrent.files[i];
      return {
        name: f.path.join("/"),
        length: f.length,
        bytesCompleted: have ? verifiedBytesOf(f, torrent.pieceLength, have) : 0,
        wanted: !unwanted.has(n),
        priority: high.has(n) ? 1 : low.has(n) ? -1 : 0,
      };
    });
  }
}

/**
 * The media type that most of a torrent's bytes are, without parameters, as Transmission's
 * `primary-mime-type` has it; bytes before the metadata.
 */
function primaryMediaType(torrent: Torrent | undefined): string {
  const bytes = new Map<string, number>();
  for (const f of torrent ? listedFiles(torrent).map((i) => torrent.files[i]) : []) {
    const type = mediaType(f.path[f.path.length - 1] ?? "").split(";")[0];
    bytes.set(type, (bytes.get(type) ?? 0) + f.length);
  }
  let best = "application/octet-stream", most = -1;
  for (const [type, n] of bytes) if (n > most) [best, most] = [type, n];
  return best;
}

/** Each field `torrent-get` knows, read from a torrent's `Source`. */
const FIELDS: Record<string, (s: Source) => unknown> = {
  id: (s) => s.t.id,
  name: (s) => s.t.name || s.t.infoHashHex,
  hashString: (s) => s.t.infoHashHex,
  status: (s) =>
    s.state === "checking"
      ? STATUS.checking
      : s.state === "metadata" || s.state === "downloading"
      ? STATUS.downloading
      : s.state === "seeding"
      ? STATUS.seeding
      : s.kept.isWaiting(s.t)
      ? STATUS.downloadWait
      : STATUS.stopped, // paused, complete, error
  error: (s) => s.state === "error" ? 3 : 0,
  errorString: (s) => s.t.error ?? "",
  percentDone: (s) => s.wanted > 0 ? s.done / s.wanted : 0,
  metadataPercentComplete: (s) => s.torrent ? 1 : s.t.metadataStats()?.progress ?? 0,
  totalSize: (s) => s.total,
  sizeWhenDone: (s) => s.wanted,
  leftUntilDone: (s) => s.torrent ? s.left : 0,
  haveValid: (s) => s.done,
  rateDownload: (s) => Math.round(s.rate),
  rateUpload: (s) => Math.round(s.stats?.uploadRate ?? 0),
  downloadedEver: (s) => s.t.totals().downloaded,
  uploadedEver: (s) => s.t.totals().uploaded,
  downloadLimit: (s) => Math.round((s.info.downloadRate?.rate ?? 0) / 1024),
  downloadLimited: (s) => s.info.downloadRate?.on ?? false,
  uploadLimit: (s) => Math.round((s.info.uploadRate?.rate ?? 0) / 1024),
  uploadLimited: (s) => s.info.uploadRate?.on ?? false,
  bandwidthPriority: (s) => s.info.bandwidthPriority ?? 0,
  honorsSessionLimits: (s) => s.info.ignoresSessionLimits !== true,
  seedRatioLimit: (s) => s.info.seedRatio?.ratio ?? s.kept.seedLimits.ratio ?? 2,
  seedRatioMode: (s) => MODE_NUMBER[s.info.seedRatio?.mode ?? "session"],
  seedIdleLimit: (s) => Math.round((s.info.seedIdle?.ms ?? 30 * 60_000) / 60_000),
  seedIdleMode: (s) => MODE_NUMBER[s.info.seedIdle?.mode ?? "session"],
  // A torrent that had its data from the start is judged on what it holds, as Transmission does.
  uploadRatio: (s) => {
    const { uploaded, downloaded } = s.t.totals();
    const down = downloaded > 0 ? downloaded : s.done;
    return down > 0 ? uploaded / down : -1;
  },
  eta: (s) => s.left === 0 ? 0 : s.rate > 0 ? Math.round(s.left / s.rate) : -1,
  etaIdle: (s) => {
    const left = s.kept.idleLeftMs(s.t);
    return left === undefined ? -1 : Math.round(left / 1000);
  },
  peersConnected: (s) => s.stats?.peersConnected ?? s.t.metadataStats()?.peersConnected ?? 0,
  peersSendingToUs: (s) => s.stats?.peersSendingToUs ?? 0,
  peersGettingFromUs: (s) => s.stats?.peersGettingFromUs ?? 0,
  queuePosition: (s) => s.kept.queuePosition(s.t),
  labels: (s) => s.info.labels ?? [],
  addedDate: (s) => s.info.addedDate,
  doneDate: (s) => s.info.doneDate,
  startDate: (s) => s.kept.activity.startDate(s.t.id),
  editDate: (s) => s.kept.activity.editDate(s.t.id),
  // When torrent-reannounce asks at once (Unix seconds, past when it may now); -1 when it would
  // be ignored, as for a stopped torrent or one without trackers.
  manualAnnounceTime: (s) => {
    const at = s.t.job?.manualAnnounceAt;
    return at === undefined ? -1 : Math.floor(at / 1000);
  },
  activityDate: (s) => s.info.activityDate ?? 0,
  secondsDownloading: (s) => Math.round(s.info.secondsDownloading ?? 0),
  secondsSeeding: (s) => Math.round(s.info.secondsSeeding ?? 0),
  // Transmission's "stalled": running, but nothing moved for 30 minutes.
  isStalled: (s) =>
    (s.state === "downloading" || s.state === "seeding") &&
    Date.now() / 1000 - Math.max(s.info.activityDate ?? 0, s.kept.activity.startDate(s.t.id)) >
      STALLED_SECONDS,
  recheckProgress: (s) => s.state === "checking" ? s.kept.activity.checkProgress(s.t.id) : 0,
  // Bytes thrown away: blocks of pieces that failed their hash, and blocks nobody asked for.
  corruptEver: (s) => s.stats?.wasted ?? 0,
  desiredAvailable: (s) => s.t.job?.session?.availableBytes() ?? 0,
  // Without peers (a resting job): none has any piece; unknown while closed or without metadata.
  availability: (s) => {
    const job = s.t.job;
    if (!job) return [];
    return job.session?.pieceAvailability() ??
      Array.from({ length: job.have.size }, (_, i) => job.have.has(i) ? -1 : 0);
  },
  "primary-mime-type": (s) => primaryMediaType(s.torrent),
  sequentialDownload: (s) => s.info.sequential === true,
  torrentFile: (s) => s.kept.torrentFileOf(s.t),
  // Transmission's bandwidth groups: we have none, so no torrent is in one.
  group: () => "",
  // Pieces are verified as they arrive: nothing is held unchecked.
  haveUnchecked: () => 0,
  webseeds: (s) => s.torrent?.urlList ?? [],
  downloadDir: (s) => s.info.downloadDir,
  isFinished: (s) => s.info.finished === true || s.state === "complete",
  trackers: (s) =>
    trackersOf(s.t, s.kept).map(({ tier, url }, id) => ({ announce: url, id, tier, scrape: "" })),
  trackerStats: (s) => trackersOf(s.t, s.kept).map((entry, id) => trackerStats(entry, id)),
  trackerList: (s) => trackerListText(s.kept.trackersOf(s.t)),
  peers: (s) => (s.t.job?.peers() ?? []).map(peerFields),
  peersFrom: (s) => peersFrom(s.t.job?.peers() ?? []),
  isPrivate: (s) => s.torrent?.private ?? false,
  pieceCount: (s) => s.torrent?.pieceCount ?? 0,
  pieceSize: (s) => s.torrent?.pieceLength ?? 0,
  // Each piece a bit, the first the highest of the first byte, in base64.
  pieces: (s) => s.t.job ? encodeBase64(s.t.job.have.bytes) : "",
  percentComplete: (s) => s.total > 0 && s.stats ? (s.total - s.stats.left) / s.total : 0,
  comment: (s) => s.torrent?.comment ?? "",
  creator: (s) => s.torrent?.createdBy ?? "",
  dateCreated: (s) => s.torrent?.creationDate ?? 0,
  magnetLink: (s) =>
    s.torrent ? torrentMagnet(s.torrent, s.kept.trackersOf(s.t).flat()) : s.info.magnet ?? "",
  "file-count": (s) => s.files.length,
  "peer-limit": (s) => s.kept.peerLimitOf(s.t),
  maxConnectedPeers: (s) => s.kept.peerLimitOf(s.t),
  webseedsSendingToUs: (s) =>
    (s.t.job?.webSeeds() ?? []).filter((w) => w.state === "fetching").length,
  files: (s) =>
    s.files.map(({ name, length, bytesCompleted }) => ({ name, length, bytesCompleted })),
  wanted: (s) => s.files.map((f) => f.wanted ? 1 : 0),
  priorities: (s) => s.files.map((f) => f.priority),
  fileStats: (s) =>
    s.files.map(({ bytesCompleted, wanted, priority }) => ({ bytesCompleted, wanted, priority })),
};

/**
 * The requested `torrent-get` fields of one torrent; names it does not know are left out.
 *
 * @example
 * ```ts ignore
 * torrentFields(t, kept, ["id", "name", "percentDone"]); // { id: 1, name: "x", percentDone: 0.5 }
 * ```
 */
export function torrentFields(
  t: ClientTorrent,
  kept: KeptTorrents,
  fields: string[],
): Record<string, unknown> {
  const source = new Source(t, kept);
  const out: Record<string, unknown> = {};
  for (const f of fields) if (Object.hasOwn(FIELDS, f)) out[f] = FIELDS[f](source);
  return out;
}
