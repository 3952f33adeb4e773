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
  TrackerEntry,
} from "../client/mod.ts";
import type { PeerView } from "../engine/mod.ts";
import { listedFiles, type Torrent } from "../metainfo/mod.ts";

/** A torrent's trackers, with their last answers while it runs. */
function trackersOf(t: ClientTorrent): TrackerEntry[] {
  return t.job?.trackers() ??
    (t.torrent?.announce ?? []).flatMap((urls, tier) => urls.map((url) => ({ tier, url })));
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

/** A file's priority in Transmission's numbers: 1 high, 0 normal, -1 low. */
function priorityOf(record: SavedTorrent, file: number): number {
  return record.highPriority?.includes(file) ? 1 : record.lowPriority?.includes(file) ? -1 : 0;
}

/** Transmission's numbers for whose limit applies. */
const MODE_NUMBER: Record<LimitMode, number> = { session: 0, own: 1, none: 2 };

/** Transmission's status numbers. */
const STATUS = { stopped: 0, checking: 2, downloadWait: 3, downloading: 4, seeding: 6 };

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
  const info = kept.record(t);
  const torrent = t.torrent;
  const stats = t.stats();
  const state = t.state;
  const total = torrent?.totalLength ?? 0;
  const wanted = stats?.totalBytes ?? total;
  const done = stats?.bytesDone ?? 0;
  const rate = stats?.downloadRate ?? 0;
  const left = Math.max(0, wanted - done);
  const values: Record<string, () => unknown> = {
    id: () => t.id,
    name: () => t.name || t.infoHashHex,
    hashString: () => t.infoHashHex,
    status: () =>
      state === "checking"
        ? STATUS.checking
        : state === "metadata" || state === "downloading"
        ? STATUS.downloading
        : state === "seeding"
        ? STATUS.seeding
        : kept.isWaiting(t)
        ? STATUS.downloadWait
        : STATUS.stopped, // paused, complete, error
    error: () => state === "error" ? 3 : 0,
    errorString: () => t.error ?? "",
    percentDone: () => wanted > 0 ? done / wanted : 0,
    metadataPercentComplete: () => torrent ? 1 : t.metadataStats()?.progress ?? 0,
    totalSize: () => total,
    sizeWhenDone: () => wanted,
    leftUntilDone: () => torrent ? left : 0,
    haveValid: () => done,
    rateDownload: () => Math.round(rate),
    rateUpload: () => Math.round(stats?.uploadRate ?? 0),
    downloadedEver: () => t.totals().downloaded,
    uploadedEver: () => t.totals().uploaded,
    downloadLimit: () => Math.round((info.downloadRate?.rate ?? 0) / 1024),
    downloadLimited: () => info.downloadRate?.on ?? false,
    uploadLimit: () => Math.round((info.uploadRate?.rate ?? 0) / 1024),
    uploadLimited: () => info.uploadRate?.on ?? false,
    seedRatioLimit: () => info.seedRatio?.ratio ?? kept.seedLimits.ratio ?? 2,
    seedRatioMode: () => MODE_NUMBER[info.seedRatio?.mode ?? "session"],
    seedIdleLimit: () => Math.round((info.seedIdle?.ms ?? 30 * 60_000) / 60_000),
    seedIdleMode: () => MODE_NUMBER[info.seedIdle?.mode ?? "session"],
    // A torrent that had its data from the start is judged on what it holds, as Transmission does.
    uploadRatio: () => {
      const { uploaded, downloaded } = t.totals();
      const down = downloaded > 0 ? downloaded : done;
      return down > 0 ? uploaded / down : -1;
    },
    eta: () => left === 0 ? 0 : rate > 0 ? Math.round(left / rate) : -1,
    peersConnected: () => stats?.peersConnected ?? t.metadataStats()?.peersConnected ?? 0,
    peersSendingToUs: () => stats?.peersSendingToUs ?? 0,
    peersGettingFromUs: () => stats?.peersGettingFromUs ?? 0,
    addedDate: () => info.addedDate,
    doneDate: () => info.doneDate,
    downloadDir: () => info.downloadDir,
    isFinished: () => info.finished === true || state === "complete",
    trackers: () =>
      trackersOf(t).map(({ tier, url }, id) => ({ announce: url, id, tier, scrape: "" })),
    trackerStats: () => trackersOf(t).map((entry, id) => trackerStats(entry, id)),
    peers: () => (t.job?.peers() ?? []).map(peerFields),
    peersFrom: () => peersFrom(t.job?.peers() ?? []),
    isPrivate: () => torrent?.private ?? false,
    pieceCount: () => torrent?.pieceCount ?? 0,
    pieceSize: () => torrent?.pieceLength ?? 0,
    files: () =>
      torrent
        ? filesOf(t, torrent).map(({ name, length, bytesCompleted }) => ({
          name,
          length,
          bytesCompleted,
        }))
        : [],
    wanted: () =>
      torrent
        ? filesOf(t, torrent).map((f) => (info.unwanted ?? []).includes(f.index) ? 0 : 1)
        : [],
    priorities: () => torrent ? filesOf(t, torrent).map((f) => priorityOf(info, f.index)) : [],
    fileStats: () =>
      torrent
        ? filesOf(t, torrent).map((f) => ({
          bytesCompleted: f.bytesCompleted,
          wanted: !(info.unwanted ?? []).includes(f.index),
          priority: priorityOf(info, f.index),
        }))
        : [],
  };
  const out: Record<string, unknown> = {};
  for (const f of fields) if (Object.hasOwn(values, f)) out[f] = values[f]();
  return out;
}

/** Each listed file: its path, length and the bytes of it in verified pieces. */
function filesOf(t: ClientTorrent, torrent: Torrent) {
  const have = t.job?.have;
  const L = torrent.pieceLength;
  return listedFiles(torrent).map((i, n) => {
    const f = torrent.files[i];
    let completed = 0;
    if (have && f.length > 0) {
      for (let p = Math.floor(f.offset / L); p * L < f.offset + f.length; p++) {
        if (!have.has(p)) continue;
        const start = Math.max(p * L, f.offset), end = Math.min((p + 1) * L, f.offset + f.length);
        completed += end - start;
      }
    }
    return {
      index: n,
      name: f.path.join("/"),
      length: f.length,
      bytesCompleted: completed,
    };
  });
}
