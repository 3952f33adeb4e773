/**
 * Runs torrents: the process's peer hub (port, listener, DHT, uTP, peer id, rate limits) and,
 * on it, each torrent's storage, engine session and trackers wired into one job.
 *
 * @example
 * ```ts ignore
 * import { PeerHub, TorrentJob } from "./mod.ts";
 * const hub = await PeerHub.open({ port: 6881 });
 * const job = await TorrentJob.open({ torrent, output: "./downloads", hub, seed: false });
 * job.start();
 * await job.done;
 * await job.stop();
 * ```
 *
 * @module
 */
export {
  type AddOptions,
  Client,
  ClientTorrent,
  DuplicateTorrentError,
  type Metadata,
  type OpenOptions,
  type TorrentSource,
  type TorrentState,
  type Totals,
} from "./client.ts";
export {
  type HeldEngine,
  type JobEvents,
  TorrentJob,
  type TorrentJobOptions,
  type TrackerEntry,
} from "./torrent_job.ts";
export {
  dataDir,
  type LimitMode,
  type LoadedTorrent,
  type RateSetting,
  type SavedTorrent,
  SavedTorrents,
} from "./saved_torrents.ts";
export {
  type SeedingNow,
  type SeedLimitMet,
  seedLimitReached,
  type SeedLimits,
  SeedWatch,
} from "./seed_limits.ts";
export { type AddChoices, KeptTorrents, type KeptTorrentsOptions } from "./kept_torrents.ts";
export type { QueueMove } from "./queue_order.ts";
export { ActivityClock } from "./activity.ts";
export {
  DEFAULT_MAX_PEERS,
  MAX_ACTIVE_LIMIT,
  MAX_CONNECTIONS_LIMIT,
  MAX_PEERS_LIMIT,
  MAX_RATE_LIMIT,
  MAX_SEED_DURATION_MS,
  MAX_SEED_RATIO,
} from "./limits.ts";
export { type BlocklistLog, SessionBlocklist } from "./session_blocklist.ts";
export { WatchFolder, type WatchFolderOptions } from "./watch_folder.ts";
export { type DoneScriptLog, type FinishedTorrent, runDoneScript } from "./done_script.ts";
export {
  ALL_DAYS,
  DEFAULT_SPEED_SETTINGS,
  inSchedule,
  SpeedLimits,
  type SpeedSchedule,
  type SpeedSettings,
} from "./speed_limits.ts";
export { type FetchedTorrent, MetadataJob, type MetadataJobOptions } from "./metadata_job.ts";
export { combineDhtNodes, DhtLookups, type DhtNode } from "./dht_lookups.ts";
export {
  DEFAULT_PEER_PORT,
  type IncomingTarget,
  PeerHub,
  type PeerHubOptions,
} from "./peer_hub.ts";
