/**
 * Runs torrents: storage, engine session, listener and trackers wired into one job.
 *
 * @example
 * ```ts ignore
 * import { TorrentJob } from "./mod.ts";
 * const job = await TorrentJob.open({ torrent, output: "./downloads", seed: false });
 * job.start();
 * await job.done;
 * await job.stop();
 * ```
 *
 * @module
 */
export { type JobEvents, TorrentJob, type TorrentJobOptions } from "./torrent_job.ts";
export { type FetchedTorrent, MetadataJob, type MetadataJobOptions } from "./metadata_job.ts";
export { combineDhtNodes, DhtLookups, type DhtNode } from "./dht_lookups.ts";
export { openPeerPorts, type PeerPorts } from "./ports.ts";
