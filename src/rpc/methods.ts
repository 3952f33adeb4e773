/**
 * Transmission's RPC methods over the daemon's torrents (`KeptTorrents`): the session's settings
 * and numbers, and adding, listing, starting, stopping, verifying, changing and removing
 * torrents, with the arguments Transmission 3 and its tools send (`download-dir`,
 * `files-wanted`, `seedRatioMode`, ...). What `torrent-get` says of a torrent is
 * `torrent_fields.ts`'s.
 *
 * @module
 */
import {
  type Client,
  type ClientTorrent,
  DuplicateTorrentError,
  type KeptTorrents,
  type LimitMode,
  MAX_ACTIVE_LIMIT,
  MAX_CONNECTIONS_LIMIT,
  MAX_PEERS_LIMIT,
  MAX_RATE_LIMIT,
  MAX_SEED_DURATION_MS,
  MAX_SEED_RATIO,
  type QueueMove,
  type RateSetting,
  type SavedTorrent,
  type SessionBlocklist,
  SpeedLimits,
  type SpeedSchedule,
  type SpeedSettings,
  type TorrentSource,
} from "../client/mod.ts";
import type { EncryptionPolicy } from "../peer/mod.ts";
import {
  listedFiles,
  MAX_TORRENT_FILE_BYTES,
  parseMagnet,
  parseTorrent,
  type Torrent,
} from "../metainfo/mod.ts";
import type { SessionLog } from "../engine/mod.ts";
import {
  type BandwidthPriority,
  decodeBase64,
  diskSpace,
  fetchCapped,
  FetchError,
  fsReason,
  isWebAddress,
  messageOf,
  readFileAtMost,
} from "../util/mod.ts";
import { displayUrl } from "../tracker/mod.ts";
import { RpcError, type RpcMethods } from "./server.ts";
import { torrentFields } from "./torrent_fields.ts";
import { trackerEdit } from "./tracker_edits.ts";

/** The RPC version we speak: Transmission 3's, which its tools check. */
const RPC_VERSION = 16;
const RPC_VERSION_MINIMUM = 14;
/** How long a .torrent's download may take. */
const FETCH_TIMEOUT_MS = 30_000;

/** What the methods work on. */
export interface MethodContext {
  /** The torrents, with the client they run on. */
  kept: KeptTorrents;
  /** Where torrents go unless `torrent-add` names a folder. */
  downloadDir: string;
  version: string;
  /** The peer port the daemon was asked for (what it listens on may be the next free one). */
  peerPort?: number;
  /**
   * The program run when a torrent finishes downloading (`--done-script`); shown, never changed
   * over the RPC: whoever may call the RPC would otherwise choose what the daemon runs.
   */
  doneScript?: string;
  /** The session's seeding limits at start (the daemon's `--seed-ratio`, `--seed-idle`). */
  seeding?: { ratio?: number; idleMinutes?: number };
  /** Whether added torrents start unless the request says (default true). */
  startAdded?: boolean;
  /**
   * The process's speed limits, usual and alternative (the daemon's, which follows their
   * schedule); default: the hub's limits as they are, no schedule followed.
   */
  speeds?: SpeedLimits;
  /** The blocklist, its address and switch (the daemon's); none: reported off, not settable. */
  blocklist?: SessionBlocklist;
  /** Keeps what `session-set` changed for the next run (the daemon's settings file). */
  saveSession?: (values: SessionValues) => Promise<void>;
  /** Stops the process, as a signal would (`session-close`); none: the method is refused. */
  close?: () => void;
  /** What earlier runs moved, for `session-stats`' cumulative figures; none: this run's alone. */
  earlierRuns?: SessionCounts;
  /** When this run began (epoch ms); default when the methods are made. */
  started?: number;
  log?: SessionLog;
}

/** Transmission's `current-stats` and `cumulative-stats`. */
export interface SessionCounts {
  uploadedBytes: number;
  downloadedBytes: number;
  filesAdded: number;
  sessionCount: number;
  secondsActive: number;
}

/**
 * What the run that began at `started` has done: the payload bytes its torrents moved (those
 * removed since too), the torrents it added, how long it has run.
 */
export function thisRunCounts(kept: KeptTorrents, started: number): SessionCounts {
  const run = kept.thisRun();
  return {
    uploadedBytes: run.uploaded,
    downloadedBytes: run.downloaded,
    filesAdded: run.added,
    sessionCount: 1,
    secondsActive: Math.round((Date.now() - started) / 1000),
  };
}

/** `earlier` and `now` together. */
export function addCounts(earlier: SessionCounts, now: SessionCounts): SessionCounts {
  return {
    uploadedBytes: earlier.uploadedBytes + now.uploadedBytes,
    downloadedBytes: earlier.downloadedBytes + now.downloadedBytes,
    filesAdded: earlier.filesAdded + now.filesAdded,
    sessionCount: earlier.sessionCount + now.sessionCount,
    secondsActive: earlier.secondsActive + now.secondsActive,
  };
}

/** The session's settings that outlive a run, in bytes a second (0: unlimited). */
export interface SessionValues {
  downloadDir: string;
  /** Whether the DHT, uTP and PEX are on. */
  dht: boolean;
  utp: boolean;
  pex: boolean;
  /** The peer port asked for. */
  peerPort?: number;
  /** The incomplete folder, while on. */
  incompleteDir?: string;
  maxActive: number;
  maxDownloadRate: number;
  maxUploadRate: number;
  /** Peer connections of all torrents together, and of one torrent. */
  maxConnections: number;
  maxPeers: number;
  encryption: EncryptionPolicy;
  /** The session's seeding limits, each while switched on. */
  seedRatio?: number;
  seedIdleMinutes?: number;
  startAdded: boolean;
  /** The alternative speed limits, whether they apply, and their schedule while it is on. */
  altDownloadRate: number;
  altUploadRate: number;
  altSpeed: boolean;
  altSchedule?: SpeedSchedule;
  /** Where the blocklist is updated from, when anywhere. */
  blocklistUrl?: string;
}

/** Most a session's idle seeding limit may be, in minutes, as `--seed-idle` takes it. */
const MAX_IDLE_MINUTES = MAX_SEED_DURATION_MS / 60_000;
/** Most a session's speed limit may be, in kB/s, as the daemon's rate flags take it. */
const MAX_SPEED_KB = MAX_RATE_LIMIT / 1024;

/**
 * The methods for `RpcServer`, over the daemon's torrents.
 *
 * @example
 * ```ts ignore
 * const kept = await KeptTorrents.open({ client, saved, maxActive: 5 });
 * const methods = transmissionMethods({ kept, downloadDir, ... });
 * const server = RpcServer.start({ methods });
 * ```
 */
export function transmissionMethods(context: MethodContext): RpcMethods {
  const { kept } = context;
  const client = kept.client;
  /** The session's settings `session-set` may change (seeding limits kept while off). */
  const { ratio, idleMinutes } = context.seeding ?? {};
  const settings = {
    downloadDir: context.downloadDir,
    startAdded: context.startAdded ?? true,
    seedRatio: { value: ratio ?? 2, on: ratio !== undefined },
    idleMinutes: { value: idleMinutes ?? 30, on: idleMinutes !== undefined },
    /** The incomplete folder last named, shown while it is off. */
    incompleteDir: kept.incompleteDir ?? "",
    /** The peer port asked for (the daemon's `--port`, or a `session-set`'s). */
    peerPort: context.peerPort,
  };
  const applySeedLimits = () => {
    kept.seedLimits = {
      ratio: settings.seedRatio.on ? settings.seedRatio.value : undefined,
      idleMs: settings.idleMinutes.on ? settings.idleMinutes.value * 60_000 : undefined,
    };
  };
  applySeedLimits();
  const bytesOf = (limiter: { rate: number }) => limiter.rate === Infinity ? 0 : limiter.rate;
  const speeds = context.speeds ?? new SpeedLimits(
    { download: client.hub.downloadLimiter, upload: client.hub.uploadLimiter },
    { download: bytesOf(client.hub.downloadLimiter), upload: bytesOf(client.hub.uploadLimiter) },
  );
  const started = context.started ?? Date.now();
  /** Does `act` to each torrent `ids` names, one after another, then answers. */
  const inTurn = async (args: Record<string, unknown>, act: (t: ClientTorrent) => unknown) => {
    for (const t of select(client, args.ids)) await act(t);
    return {};
  };
  const start = (now: boolean) => (args: Record<string, unknown>) =>
    inTurn(args, (t) => kept.start(t, { now }));
  /** Settings the daemon's flags fix for its run. */
  const fixed = (): Record<string, unknown> => ({
    // What we never do, said as Transmission says it, so a remote shows it as it is.
    "rename-partial-files": false,
    "trash-original-torrent-files": false,
    "peer-port-random-on-start": false,
    "seed-queue-enabled": false,
    "queue-stalled-enabled": false,
    "script-torrent-added-enabled": false,
    "script-torrent-done-seeding-enabled": false,
    "lpd-enabled": false,
    "port-forwarding-enabled": false,
    "script-torrent-done-enabled": context.doneScript !== undefined,
    "script-torrent-done-filename": context.doneScript ?? "",
  });
  const warn = (t: ClientTorrent) => (e: unknown) =>
    context.log?.warn(`torrent ${t.id}: ${messageOf(e)}`);
  const each = (args: Record<string, unknown>, act: (t: ClientTorrent) => unknown) => {
    for (const t of select(client, args.ids)) act(t);
    return {};
  };
  const queueMove = (where: QueueMove) => async (args: Record<string, unknown>) => {
    await kept.moveInQueue(select(client, args.ids), where);
    return {};
  };

  return {
    // `fields` (Transmission 3) keeps the answer to the keys asked for.
    "session-get": (args) =>
      pick(args.fields, {
        "rpc-version": RPC_VERSION,
        "rpc-version-minimum": RPC_VERSION_MINIMUM,
        version: context.version,
        "download-dir": settings.downloadDir,
        "peer-port": client.hub.port,
        "dht-enabled": client.hub.dhtEnabled,
        "utp-enabled": client.hub.utpEnabled,
        "pex-enabled": client.hub.pex,
        "incomplete-dir": settings.incompleteDir,
        "incomplete-dir-enabled": kept.incompleteDir !== undefined,
        ...fixed(),
        encryption: ENCRYPTION[client.hub.network.encryption],
        "peer-limit-global": client.hub.maxConnections,
        "peer-limit-per-torrent": kept.maxPeers,
        ...speedFields(speeds.settings),
        "blocklist-enabled": context.blocklist?.enabled ?? false,
        "blocklist-size": context.blocklist?.size ?? 0,
        "blocklist-url": context.blocklist?.url ?? "",
        "start-added-torrents": settings.startAdded,
        seedRatioLimit: settings.seedRatio.value,
        seedRatioLimited: settings.seedRatio.on,
        "idle-seeding-limit": settings.idleMinutes.value,
        "idle-seeding-limit-enabled": settings.idleMinutes.on,
        "download-queue-enabled": true,
        "download-queue-size": kept.maxActive,
        units: {
          "speed-units": ["kB/s", "MB/s", "GB/s", "TB/s"],
          "speed-bytes": 1024,
          "size-units": ["kB", "MB", "GB", "TB"],
          "size-bytes": 1024,
          "memory-units": ["KiB", "MiB", "GiB", "TiB"],
          "memory-bytes": 1024,
        },
      }),

    "session-set": async (args) => {
      // Sent unchanged (as tools send back all they read) these pass; a change is refused
      // rather than ignored, so the user is not misled.
      for (const [key, now] of Object.entries(fixed())) {
        if (args[key] !== undefined && args[key] !== now) {
          throw new RpcError(`${key} cannot change while the daemon runs (its flags set it)`);
        }
      }
      // Every argument is read before anything changes: a bad one changes nothing.
      const dir = optionalString(args, "download-dir");
      const peerPort = wholeArg(args, "peer-port", 1, 65535);
      const network = { dht: boolArg(args, "dht-enabled"), utp: boolArg(args, "utp-enabled") };
      const pex = boolArg(args, "pex-enabled");
      const named = args["incomplete-dir"];
      if (named !== undefined && typeof named !== "string") {
        throw new RpcError("incomplete-dir must be a string");
      }
      const incompleteDir = named ?? settings.incompleteDir;
      const incompleteOn = boolArg(args, "incomplete-dir-enabled") ??
        kept.incompleteDir !== undefined;
      if (incompleteOn && incompleteDir === "") {
        throw new RpcError("incomplete-dir-enabled needs an incomplete-dir");
      }
      const size = wholeArg(args, "download-queue-size", 1, MAX_ACTIVE_LIMIT);
      const startAdded = boolArg(args, "start-added-torrents");
      const global = wholeArg(args, "peer-limit-global", 1, MAX_CONNECTIONS_LIMIT);
      const perTorrent = wholeArg(args, "peer-limit-per-torrent", 1, MAX_PEERS_LIMIT);
      const encryption = encryptionArg(args);
      const ratio = numberArg(args, "seedRatioLimit", MAX_SEED_RATIO);
      const ratioOn = boolArg(args, "seedRatioLimited");
      const idle = numberArg(args, "idle-seeding-limit", MAX_IDLE_MINUTES);
      const idleOn = boolArg(args, "idle-seeding-limit-enabled");
      const speedChanges = speedArgs(args, speeds.settings);
      const blocklistChanges = blocklistArgs(args, context.blocklist);

      // The changes that can fail go first: when the port cannot be had, nothing changes.
      const moved = peerPort !== undefined && peerPort !== client.hub.port;
      if (moved) {
        try {
          await client.hub.setPort(peerPort);
        } catch (e) {
          const why = e instanceof Deno.errors.AddrInUse ? "it is in use" : messageOf(e);
          throw new RpcError(`peer-port ${peerPort} not taken: ${why}`);
        }
        settings.peerPort = peerPort;
        context.log?.info(`peer port now ${peerPort}`);
      }
      const dhtBefore = client.hub.dhtEnabled;
      try {
        await client.hub.setNetwork(network);
      } catch (e) {
        throw new RpcError(`dht-enabled or utp-enabled not changed: ${messageOf(e)}`);
      }
      if (client.hub.dhtError) context.log?.warn(`DHT is off: ${client.hub.dhtError}`);
      // Trackers and the DHT learn a new port, and torrents take up or drop the DHT, as each
      // torrent opens anew.
      if (moved || client.hub.dhtEnabled !== dhtBefore) kept.reopenRunning();
      if (dir !== undefined) settings.downloadDir = dir;
      settings.incompleteDir = incompleteDir;
      kept.incompleteDir = incompleteOn ? incompleteDir : undefined;
      if (size !== undefined) kept.maxActive = size;
      if (startAdded !== undefined) settings.startAdded = startAdded;
      if (global !== undefined) client.hub.maxConnections = global;
      if (perTorrent !== undefined) kept.maxPeers = perTorrent;
      if (encryption !== undefined) client.hub.network.encryption = encryption;
      // Each torrent asks as it trades: the next round follows the new choice.
      if (pex !== undefined) client.hub.pex = pex;
      settings.seedRatio.value = ratio ?? settings.seedRatio.value;
      settings.seedRatio.on = ratioOn ?? settings.seedRatio.on;
      settings.idleMinutes.value = idle ?? settings.idleMinutes.value;
      settings.idleMinutes.on = idleOn ?? settings.idleMinutes.on;
      applySeedLimits();
      speeds.set(speedChanges);
      if (blocklistChanges) await context.blocklist?.set(blocklistChanges);
      const now = speeds.settings;
      await context.saveSession?.({
        downloadDir: settings.downloadDir,
        dht: client.hub.dhtEnabled,
        utp: client.hub.utpEnabled,
        pex: client.hub.pex,
        ...(settings.peerPort === undefined ? {} : { peerPort: settings.peerPort }),
        ...(kept.incompleteDir === undefined ? {} : { incompleteDir: kept.incompleteDir }),
        maxActive: kept.maxActive,
        maxDownloadRate: now.download,
        maxUploadRate: now.upload,
        maxConnections: client.hub.maxConnections,
        maxPeers: kept.maxPeers,
        encryption: client.hub.network.encryption,
        ...(settings.seedRatio.on ? { seedRatio: settings.seedRatio.value } : {}),
        ...(settings.idleMinutes.on ? { seedIdleMinutes: settings.idleMinutes.value } : {}),
        startAdded: settings.startAdded,
        altDownloadRate: now.altDownload,
        altUploadRate: now.altUpload,
        altSpeed: now.altOn,
        ...(now.schedule.on ? { altSchedule: now.schedule } : {}),
        ...(context.blocklist?.url ? { blocklistUrl: context.blocklist.url } : {}),
      });
      return {};
    },

    "blocklist-update": async () => {
      const blocklist = context.blocklist;
      if (!blocklist) throw new RpcError("this session keeps no blocklist");
      try {
        return { "blocklist-size": await blocklist.update() };
      } catch (e) {
        throw new RpcError(`blocklist not updated: ${messageOf(e)}`);
      }
    },

    "session-close": () => {
      if (!context.close) throw new RpcError("this session cannot be closed over RPC");
      context.close();
      return {};
    },

    "session-stats": () => {
      const torrents = client.list();
      let down = 0, up = 0, active = 0;
      for (const t of torrents) {
        const s = t.stats();
        if (!s) continue;
        down += s.downloadRate;
        up += s.uploadRate;
        if (s.downloadRate > 0 || s.uploadRate > 0) active++;
      }
      const current = thisRunCounts(kept, started);
      return {
        activeTorrentCount: active,
        pausedTorrentCount: torrents.filter((t) => kept.record(t).paused || t.state === "paused")
          .length,
        torrentCount: torrents.length,
        downloadSpeed: Math.round(down),
        uploadSpeed: Math.round(up),
        "cumulative-stats": context.earlierRuns ? addCounts(context.earlierRuns, current) : current,
        "current-stats": current,
      };
    },

    "torrent-add": async (args) => {
      const source = await sourceOf(args);
      const downloadDir = optionalString(args, "download-dir") ?? settings.downloadDir;
      const paused = args.paused === true || (args.paused === undefined && !settings.startAdded);
      try {
        const t = await kept.add(source, {
          downloadDir,
          paused,
          unwanted: unwantedOf(args, [], "torrent" in source ? source.torrent : undefined).unwanted,
          ...prioritiesOf(args, {}, "torrent" in source ? source.torrent : undefined),
          ...("magnet" in source ? { link: String(args.filename) } : {}),
          labels: labelsArg(args),
          bandwidthPriority: priorityArg(args),
        });
        return { "torrent-added": brief(t) };
      } catch (e) {
        if (!(e instanceof DuplicateTorrentError)) throw e;
        return { "torrent-duplicate": brief(e.existing) };
      }
    },

    "free-space": async (args) => {
      const path = optionalString(args, "path");
      if (path === undefined) throw new RpcError("free-space needs a path");
      try {
        const space = await diskSpace(path);
        return { path, "size-bytes": space.available, total_size: space.total };
      } catch (e) {
        throw new RpcError(`free-space: ${path}: ${fsReason(e)}`);
      }
    },

    // Whether the world can reach our port would take a service outside; we ask none.
    "port-test": () => ({ "port-is-open": false }),

    "torrent-get": (args) => {
      const fields = args.fields;
      if (!Array.isArray(fields) || !fields.every((f) => typeof f === "string")) {
        throw new RpcError("torrent-get needs a fields array");
      }
      const rows = select(client, args.ids).map((t) => torrentFields(t, kept, fields));
      if (args.format === "table") {
        return { torrents: [fields, ...rows.map((row) => fields.map((f) => row[f] ?? null))] };
      }
      // Every torrent counts as recently active: more than asked for, never less.
      const removed = args.ids === "recently-active" ? { removed: kept.recentlyRemoved() } : {};
      return { torrents: rows, ...removed };
    },

    "torrent-start": start(false),
    // Past the queue: the download starts whatever else is downloading.
    "torrent-start-now": start(true),
    "torrent-stop": (args) => inTurn(args, (t) => kept.stop(t)),
    "torrent-set": async (args) => {
      // Every argument, for every torrent, is read before anything changes: a bad one changes
      // nothing.
      const rates = rateChanges(args, kept);
      const seeding = seedLimitChanges(args);
      const position = wholeArg(args, "queuePosition", 0);
      const peerLimit = wholeArg(args, "peer-limit", 1, MAX_PEERS_LIMIT);
      const editTrackers = trackerEdit(args);
      const labels = labelsArg(args);
      const sequential = boolArg(args, "sequentialDownload");
      const bandwidth = {
        priority: priorityArg(args),
        honorsSessionLimits: boolArg(args, "honorsSessionLimits"),
      };
      const changes = select(client, args.ids).map((t) => {
        if (editTrackers && !t.torrent) {
          throw new RpcError(`torrent ${t.id} has no metadata yet: its trackers cannot change`);
        }
        return {
          t,
          unwanted: unwantedOf(args, kept.record(t).unwanted ?? [], t.torrent).unwanted,
          priorities: prioritiesOf(args, kept.record(t), t.torrent),
          rates: rates(t),
          seeding: seeding(kept.record(t)),
          trackers: editTrackers?.(kept.trackersOf(t)),
        };
      });
      // Each change saves the record: what the request does not touch is not saved again.
      for (const { t, unwanted, priorities, rates, seeding, trackers } of changes) {
        if (priorities) await kept.setPriorities(t, priorities.high, priorities.low);
        if (Object.keys(rates).length > 0) await kept.setRates(t, rates);
        if (Object.keys(seeding).length > 0) await kept.setSeedLimits(t, seeding);
        if (position !== undefined) await kept.setQueuePosition(t, position);
        if (peerLimit !== undefined) await kept.setPeerLimit(t, peerLimit);
        if (unwanted !== undefined) await kept.setUnwanted(t, unwanted);
        if (trackers !== undefined) await kept.setTrackers(t, trackers);
        if (labels !== undefined) await kept.setLabels(t, labels);
        if (sequential !== undefined) await kept.setSequential(t, sequential);
        if (Object.values(bandwidth).some((v) => v !== undefined)) {
          await kept.setBandwidth(t, bandwidth);
        }
        kept.activity.edited(t.id);
      }
      return {};
    },
    "torrent-set-location": async (args) => {
      const location = optionalString(args, "location");
      if (location === undefined) throw new RpcError("torrent-set-location needs a location");
      const move = boolArg(args, "move") ?? false;
      return await inTurn(
        args,
        (t) =>
          kept.setLocation(t, location, move).then(() => kept.activity.edited(t.id), (e) => {
            throw new RpcError(`torrent ${t.id} not moved: ${fsReason(e)}`);
          }),
      );
    },
    "torrent-rename-path": async (args) => {
      const torrents = select(client, args.ids);
      if (torrents.length !== 1) {
        throw new RpcError("torrent-rename-path renames in one torrent: give one id");
      }
      const path = optionalString(args, "path"), name = optionalString(args, "name");
      if (path === undefined || name === undefined) {
        throw new RpcError("torrent-rename-path needs a path and a name");
      }
      const [t] = torrents;
      await kept.renamePath(t, path, name).catch((e) => {
        throw new RpcError(`torrent ${t.id} not renamed: ${fsReason(e)}`);
      });
      kept.activity.edited(t.id);
      return { id: t.id, path, name };
    },
    "torrent-verify": (args) => each(args, (t) => kept.verify(t).catch(warn(t))),
    "torrent-reannounce": (args) => each(args, (t) => t.reannounce()),
    "queue-move-top": queueMove("top"),
    "queue-move-up": queueMove("up"),
    "queue-move-down": queueMove("down"),
    "queue-move-bottom": queueMove("bottom"),

    "torrent-remove": (args) => {
      const deleteData = args["delete-local-data"] === true;
      return inTurn(args, (t) => kept.remove(t, deleteData));
    },
  };
}

/**
 * session-set's `blocklist-url` (an http or https address: a remote names no local file) and
 * `blocklist-enabled`; undefined when it names neither.
 */
function blocklistArgs(
  args: Record<string, unknown>,
  blocklist: SessionBlocklist | undefined,
): { url?: string; enabled?: boolean } | undefined {
  // "" is no address: the list is updated from nowhere.
  const url = args["blocklist-url"];
  if (url !== undefined && typeof url !== "string") {
    throw new RpcError("blocklist-url must be a string");
  }
  const enabled = boolArg(args, "blocklist-enabled");
  if (url === undefined && enabled === undefined) return undefined;
  if (!blocklist) throw new RpcError("this session keeps no blocklist");
  if (url !== undefined && url !== "" && (!isWebAddress(url) || /\s/.test(url))) {
    throw new RpcError("blocklist-url must be an http or https address");
  }
  return { url, enabled };
}

/** session-get's speed limits, usual and alternative, in kB/s; the schedule in minutes. */
function speedFields(s: Readonly<SpeedSettings>): Record<string, unknown> {
  const kB = (bytes: number) => Math.round(bytes / 1024);
  return {
    "speed-limit-down": kB(s.download),
    "speed-limit-down-enabled": s.download > 0,
    "speed-limit-up": kB(s.upload),
    "speed-limit-up-enabled": s.upload > 0,
    "alt-speed-down": kB(s.altDownload),
    "alt-speed-up": kB(s.altUpload),
    "alt-speed-enabled": s.altOn,
    "alt-speed-time-begin": s.schedule.begin,
    "alt-speed-time-end": s.schedule.end,
    "alt-speed-time-day": s.schedule.days,
    "alt-speed-time-enabled": s.schedule.on,
  };
}

const ENCRYPTION: Record<EncryptionPolicy, string> = {
  prefer: "preferred",
  require: "required",
  off: "tolerated",
};

/**
 * `priority-high`, `-normal` and `-low` (lists of file numbers; an empty list is every file)
 * applied to a torrent's priorities; undefined when the request names none.
 */
function prioritiesOf(
  args: Record<string, unknown>,
  record: Pick<SavedTorrent, "highPriority" | "lowPriority">,
  torrent: Torrent | undefined,
): { high: number[]; low: number[] } | undefined {
  const lists = (["high", "normal", "low"] as const).map((level) => {
    const v = args[`priority-${level}`];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((i) => Number.isSafeInteger(i) && i >= 0)) {
      throw new RpcError(`priority-${level} must be a list of file numbers`);
    }
    if (v.length > 0 || !torrent) return v as number[];
    return listedFiles(torrent).map((_, n) => n);
  });
  if (lists.every((l) => l === undefined)) return undefined;
  const level = new Map<number, "high" | "low">();
  for (const n of record.highPriority ?? []) level.set(n, "high");
  for (const n of record.lowPriority ?? []) level.set(n, "low");
  const [high, normal, low] = lists;
  for (const n of high ?? []) level.set(n, "high");
  for (const n of normal ?? []) level.delete(n);
  for (const n of low ?? []) level.set(n, "low");
  const at = (want: "high" | "low") =>
    [...level].filter(([, l]) => l === want).map(([n]) => n).sort((a, b) => a - b);
  return { high: at("high"), low: at("low") };
}

const MODE_OF: LimitMode[] = ["session", "own", "none"];

/** A number argument of at least 0, when present. */
function numberArg(
  args: Record<string, unknown>,
  key: string,
  max = Infinity,
): number | undefined {
  const v = args[key];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > max) {
    throw new RpcError(`${key} must be a number of 0 or more${max < Infinity ? ` to ${max}` : ""}`);
  }
  return v;
}

/** The keys of `values` that `fields` names (a list of names); all of them without it. */
function pick(fields: unknown, values: Record<string, unknown>): Record<string, unknown> {
  if (fields === undefined) return values;
  if (!Array.isArray(fields) || !fields.every((f) => typeof f === "string")) {
    throw new RpcError("fields must be a list of names");
  }
  return Object.fromEntries(
    fields.filter((f) => Object.hasOwn(values, f)).map((f) => [f, values[f]]),
  );
}

/** `labels`, when present: a few short words, without commas (Transmission's rule). */
function labelsArg(args: Record<string, unknown>): string[] | undefined {
  const v = args.labels;
  if (v === undefined) return undefined;
  const ok = (label: unknown) =>
    typeof label === "string" && label.trim() !== "" && label.length <= 256 &&
    !label.includes(",");
  if (!Array.isArray(v) || v.length > 64 || !v.every(ok)) {
    throw new RpcError("labels must be a list of at most 64 short names without commas");
  }
  return [...new Set(v.map((label: string) => label.trim()))];
}

/** A whole number of at least `min` (a position from 0, a limit from 1), when present. */
function wholeArg(
  args: Record<string, unknown>,
  key: string,
  min: 0 | 1,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const v = args[key];
  if (v === undefined) return undefined;
  if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) {
    const upTo = max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : "";
    throw new RpcError(`${key} must be a whole number from ${min}${upTo}`);
  }
  return v as number;
}

/** `encryption` as Transmission words it, when present, as our policy. */
function encryptionArg(args: Record<string, unknown>): EncryptionPolicy | undefined {
  if (args.encryption === undefined) return undefined;
  const policy = Object.entries(ENCRYPTION).find(([, word]) => word === args.encryption);
  if (!policy) throw new RpcError("encryption must be required, preferred or tolerated");
  return policy[0] as EncryptionPolicy;
}

/**
 * session-set's speed arguments as changes to `now`. A usual limit is on while above 0: one
 * switched off is 0, and a new value applies when it is switched on, or already on.
 */
function speedArgs(
  args: Record<string, unknown>,
  now: Readonly<SpeedSettings>,
): Partial<SpeedSettings> {
  const usual = (way: "down" | "up", bytes: number) => {
    const enabled = boolArg(args, `speed-limit-${way}-enabled`);
    const kB = numberArg(args, `speed-limit-${way}`, MAX_SPEED_KB);
    if (enabled === false) return 0;
    return kB !== undefined && (enabled === true || bytes > 0) ? kB * 1024 : bytes;
  };
  // Minutes after midnight; days as Transmission's bits, Sunday 1 to Saturday 64.
  const minutes = (key: string, fallback: number) =>
    wholeArg(args, key, 0, 24 * 60 - 1) ?? fallback;
  const days = wholeArg(args, "alt-speed-time-day", 0, 127) ?? now.schedule.days;
  const kBs = (key: string, bytes: number) =>
    (numberArg(args, key, MAX_SPEED_KB) ?? bytes / 1024) * 1024;
  return {
    download: usual("down", now.download),
    upload: usual("up", now.upload),
    altDownload: kBs("alt-speed-down", now.altDownload),
    altUpload: kBs("alt-speed-up", now.altUpload),
    altOn: boolArg(args, "alt-speed-enabled") ?? now.altOn,
    schedule: {
      begin: minutes("alt-speed-time-begin", now.schedule.begin),
      end: minutes("alt-speed-time-end", now.schedule.end),
      days,
      on: boolArg(args, "alt-speed-time-enabled") ?? now.schedule.on,
    },
  };
}

function boolArg(args: Record<string, unknown>, key: string): boolean | undefined {
  const v = args[key];
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") throw new RpcError(`${key} must be true or false`);
  return v;
}

/** `bandwidthPriority`, when present: -1 low, 0 normal, 1 high. */
function priorityArg(args: Record<string, unknown>): BandwidthPriority | undefined {
  const v = args.bandwidthPriority;
  if (v === undefined) return undefined;
  if (v !== -1 && v !== 0 && v !== 1) throw new RpcError("bandwidthPriority must be -1, 0 or 1");
  return v;
}

function modeArg(args: Record<string, unknown>, key: string): LimitMode | undefined {
  const v = args[key];
  if (v === undefined) return undefined;
  if (v !== 0 && v !== 1 && v !== 2) throw new RpcError(`${key} must be 0, 1 or 2`);
  return MODE_OF[v];
}

/**
 * `downloadLimit`/`downloadLimited` and `uploadLimit`/`uploadLimited` (kB/s) as each torrent's
 * new rate settings; read (and checked) before anything changes.
 */
function rateChanges(args: Record<string, unknown>, kept: KeptTorrents) {
  const wanted = (["download", "upload"] as const).map((way) => ({
    way,
    kB: numberArg(args, `${way}Limit`),
    on: boolArg(args, `${way}Limited`),
  }));
  return (t: ClientTorrent): { downloadRate?: RateSetting; uploadRate?: RateSetting } => {
    const record = kept.record(t);
    const out: { downloadRate?: RateSetting; uploadRate?: RateSetting } = {};
    for (const { way, kB, on } of wanted) {
      if (kB === undefined && on === undefined) continue;
      const was = record[`${way}Rate`] ?? { rate: 0, on: false };
      out[`${way}Rate`] = { rate: kB === undefined ? was.rate : kB * 1024, on: on ?? was.on };
    }
    return out;
  };
}

/** `seedRatioLimit`/`-Mode` and `seedIdleLimit`/`-Mode` (minutes) as a torrent's new limits. */
function seedLimitChanges(args: Record<string, unknown>) {
  const ratio = numberArg(args, "seedRatioLimit"), ratioMode = modeArg(args, "seedRatioMode");
  const idle = numberArg(args, "seedIdleLimit"), idleMode = modeArg(args, "seedIdleMode");
  return (record: SavedTorrent): Pick<SavedTorrent, "seedRatio" | "seedIdle"> => ({
    ...(ratio !== undefined || ratioMode !== undefined
      ? {
        seedRatio: {
          ratio: ratio ?? record.seedRatio?.ratio ?? 2,
          mode: ratioMode ?? record.seedRatio?.mode ?? "session",
        },
      }
      : {}),
    ...(idle !== undefined || idleMode !== undefined
      ? {
        seedIdle: {
          ms: idle !== undefined ? idle * 60_000 : record.seedIdle?.ms ?? 30 * 60_000,
          mode: idleMode ?? record.seedIdle?.mode ?? "session",
        },
      }
      : {}),
  });
}

function optionalString(args: Record<string, unknown>, key: string): string | undefined {
  const v = args[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v === "") throw new RpcError(`${key} must be a string`);
  return v;
}

/** The torrent `torrent-add` names: a path or magnet link in `filename`, or `metainfo`. */
async function sourceOf(args: Record<string, unknown>): Promise<TorrentSource> {
  const metainfo = optionalString(args, "metainfo");
  const filename = optionalString(args, "filename");
  try {
    if (metainfo !== undefined) {
      const bytes = decodeBase64(metainfo.replace(/\s+/g, ""));
      if (!bytes) throw new RpcError("metainfo is not base64");
      return { torrent: parseTorrent(bytes) };
    }
    if (filename === undefined) throw new RpcError("torrent-add needs filename or metainfo");
    if (filename.startsWith("magnet:")) return { magnet: parseMagnet(filename) };
    if (isWebAddress(filename)) return { torrent: parseTorrent(await download(filename)) };
    const bytes = await readFileAtMost(filename, MAX_TORRENT_FILE_BYTES);
    if (bytes === null) throw new RpcError(`${filename} is too large`);
    return { torrent: parseTorrent(bytes) };
  } catch (e) {
    if (e instanceof RpcError) throw e;
    throw new RpcError(`invalid or corrupt torrent: ${messageOf(e)}`);
  }
}

/** A .torrent from a web address, as a browser would fetch it, bounded in time and size. */
async function download(url: string): Promise<Uint8Array> {
  try {
    const { status, body } = await fetchCapped(url, {
      timeoutMs: FETCH_TIMEOUT_MS,
      maxBytes: MAX_TORRENT_FILE_BYTES,
    });
    if (status < 200 || status > 299) throw new RpcError(`${displayUrl(url)} answered ${status}`);
    return body;
  } catch (e) {
    if (e instanceof FetchError) throw new RpcError(`${displayUrl(url)}: ${e.message}`);
    throw e;
  }
}

/** What `torrent-add` answers of a torrent. */
function brief(t: ClientTorrent) {
  return { id: t.id, name: t.name || t.infoHashHex, hashString: t.infoHashHex };
}

/** The torrents `ids` names: all when absent, one id, or a list of ids and hashes. */
function select(client: Client, ids: unknown): ClientTorrent[] {
  if (ids === undefined || ids === "recently-active") return client.list();
  const list = Array.isArray(ids) ? ids : [ids];
  const out: ClientTorrent[] = [];
  for (const id of list) {
    const t = typeof id === "number"
      ? client.get(id)
      : typeof id === "string" && /^[0-9a-f]{40}([0-9a-f]{24})?$/i.test(id)
      ? client.byInfoHash(id)
      : undefined;
    if (t && !out.includes(t)) out.push(t);
  }
  return out;
}

/**
 * `files-wanted` and `files-unwanted` applied to `unwanted` (file numbers among the listed
 * files; an empty list means every file); `{}` when the request names neither.
 */
function unwantedOf(
  args: Record<string, unknown>,
  unwanted: number[],
  torrent: Torrent | undefined,
): { unwanted?: number[] } {
  const list = (key: string): number[] | undefined => {
    const v = args[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((i) => Number.isSafeInteger(i) && i >= 0)) {
      throw new RpcError(`${key} must be a list of file numbers`);
    }
    return v as number[];
  };
  const wanted = list("files-wanted"), notWanted = list("files-unwanted");
  if (wanted === undefined && notWanted === undefined) return {};
  let out = new Set(unwanted);
  if (wanted !== undefined) {
    out = wanted.length === 0 ? new Set() : new Set([...out].filter((i) => !wanted.includes(i)));
  }
  const every = torrent ? listedFiles(torrent).map((_, n) => n) : [];
  if (notWanted !== undefined) {
    for (const i of notWanted.length === 0 ? every : notWanted) out.add(i);
  }
  return { unwanted: [...out].sort((a, b) => a - b) };
}
