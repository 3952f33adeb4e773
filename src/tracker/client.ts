/**
 * The announce and scrape entry points: one call for any tracker URL, dispatched on its
 * scheme to the HTTP(S) or UDP client.
 *
 * @module
 */
import { httpAnnounce, httpScrape, type ScrapeOptions } from "./http.ts";
import {
  type AnnounceParams,
  type AnnounceResult,
  type ScrapeEntry,
  TrackerError,
} from "./types.ts";
import { udpAnnounce, udpScrape } from "./udp.ts";

function schemeOf(url: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url);
  return m === null ? "" : m[1].toLowerCase();
}

/**
 * Announces to one tracker: `http://`/`https://` per BEP 3, `udp://` per BEP 15. Anything else,
 * and every failure, rejects with a one-line `TrackerError` naming the tracker.
 *
 * @example
 * ```ts
 * import { announce, TrackerError } from "./mod.ts";
 * const err = await announce("wss://tracker.example/announce", {
 *   infoHash: new Uint8Array(20), peerId: new Uint8Array(20), port: 6881,
 *   uploaded: 0, downloaded: 0, left: 0,
 * }).catch((e) => e);
 * console.log(err instanceof TrackerError, err.message);
 * // true tracker wss://tracker.example/announce: unsupported protocol "wss"
 * ```
 */
export function announce(url: string, params: AnnounceParams): Promise<AnnounceResult> {
  const scheme = schemeOf(url);
  if (scheme === "http" || scheme === "https") return httpAnnounce(url, params);
  if (scheme === "udp") return udpAnnounce(url, params);
  const what = scheme === "" ? "not a tracker URL" : `unsupported protocol "${scheme}"`;
  return Promise.reject(new TrackerError(what, "unsupported", url));
}

/**
 * Asks one tracker for swarm counts (BEP 48 over HTTP, BEP 15 over UDP), keyed by lower-case
 * hex info-hash. Rejects with `TrackerError` (kind `unsupported` when the tracker cannot scrape).
 *
 * @example
 * ```ts
 * import { scrape } from "./mod.ts";
 * // An announce URL whose last segment is not "announce..." has no scrape counterpart.
 * const err = await scrape("http://tracker.example/a", [new Uint8Array(20)]).catch((e) => e);
 * console.log(err.kind); // unsupported
 * ```
 */
export function scrape(
  url: string,
  infoHashes: Uint8Array[],
  opts: ScrapeOptions = {},
): Promise<Map<string, ScrapeEntry>> {
  const scheme = schemeOf(url);
  if (scheme === "http" || scheme === "https") return httpScrape(url, infoHashes, opts);
  if (scheme === "udp") return udpScrape(url, infoHashes, opts);
  const what = scheme === "" ? "not a tracker URL" : `unsupported protocol "${scheme}"`;
  return Promise.reject(new TrackerError(what, "unsupported", url));
}
