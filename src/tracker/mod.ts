/**
 * Trackers: announce and scrape over HTTP(S) (BEP 3, 23, 7, 48) and UDP (BEP 15), the
 * multitracker announce loop of one torrent (BEP 12), and a small tracker server of our own
 * for the demo and tests.
 *
 * @example
 * ```ts
 * import { announce, startTracker } from "./mod.ts";
 * const tracker = await startTracker();
 * const result = await announce(tracker.httpUrl, {
 *   infoHash: new Uint8Array(20).fill(1),
 *   peerId: new Uint8Array(20).fill(2),
 *   port: 6881,
 *   uploaded: 0,
 *   downloaded: 0,
 *   left: 1000,
 *   event: "started",
 * });
 * console.log(result.interval, result.peers.length); // 60 0
 * await tracker.close();
 * ```
 *
 * @module
 */
export {
  type AnnounceEvent,
  type AnnounceParams,
  type AnnounceResult,
  displayUrl,
  type IntervalLimits,
  type PeerAddress,
  type ScrapeEntry,
  TrackerError,
  type TrackerErrorKind,
  type UdpOptions,
} from "./types.ts";
export { announce, scrape } from "./client.ts";
export {
  buildAnnounceUrl,
  httpAnnounce,
  httpScrape,
  MAX_HTTP_BODY,
  percentEncodeBytes,
  type ScrapeOptions,
  scrapeUrlFor,
} from "./http.ts";
export { clearUdpConnectionCache, udpAnnounce, udpScrape } from "./udp.ts";
export {
  DEFAULT_INTERVAL,
  DEFAULT_INTERVAL_LIMITS,
  normalizeHost,
  parseCompactPeers,
  parseHttpAnnounce,
  parseHttpScrape,
  parseUdpAnnounce,
  parseUdpResponse,
  type UdpResponse,
} from "./response.ts";
export {
  Announcer,
  type AnnouncerOptions,
  type TrackerStatus,
  type TransferStats,
} from "./announcer.ts";
export {
  type AnnounceRequest,
  parseAnnounceQuery,
  parseUdpRequest,
  peerLifetimeMs,
  startTracker,
  type TrackerServer,
  type TrackerServerOptions,
  type UdpRequest,
} from "./server.ts";
