/**
 * Shared types of the tracker module: what an announce asks, what it yields, and the one error
 * class every tracker failure is reported as.
 *
 * @module
 */

import { oneLine } from "../util/mod.ts";

/** A peer's network address as a tracker reports it. IPv6 hosts carry no brackets. */
export interface PeerAddress {
  host: string;
  port: number;
}

/** The announce event of BEP 3; `undefined` is a regular (periodic) announce. */
export type AnnounceEvent = "started" | "completed" | "stopped" | undefined;

/** Bounds (in seconds) that a tracker's `interval` and `min interval` are clamped to. */
export interface IntervalLimits {
  /** Shortest interval accepted; shorter answers are raised to it. Default 30. */
  min: number;
  /** Longest interval accepted; longer answers are lowered to it. Default 7200. */
  max: number;
}

/** UDP tracker (BEP 15) retransmission settings. */
export interface UdpOptions {
  /** First wait for an answer in ms; doubles on every retransmission. Default 15000 (BEP 15). */
  timeoutMs?: number;
  /** Retransmissions after the first send before giving up. Default 2 (15 s + 30 s + 60 s). */
  retries?: number;
  /** How long a connection id is reused, in ms. Default 60000 (BEP 15). */
  connectionIdTtlMs?: number;
}

/** What one announce tells the tracker. Counters are in bytes. */
export interface AnnounceParams {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  port: number;
  uploaded: number;
  downloaded: number;
  left: number;
  event?: AnnounceEvent;
  /** Peers wanted; omitted lets the tracker choose (usually 50). */
  numWant?: number;
  /** A random 32-bit value that identifies this client across IP changes. */
  key?: number;
  /** Cancels the request; it then rejects with a `TrackerError`. */
  signal?: AbortSignal;
  /** Overall deadline in ms. Default 30000 for HTTP; for UDP the retransmission schedule rules. */
  timeoutMs?: number;
  /** The `tracker id` a previous HTTP answer gave, sent back as BEP 3 asks. */
  trackerId?: string;
  /** Clamp bounds for the intervals in the answer. */
  intervalLimits?: IntervalLimits;
  /** UDP retransmission settings (ignored for HTTP). */
  udp?: UdpOptions;
}

/** A tracker's answer to an announce, validated and clamped. Intervals are in seconds. */
export interface AnnounceResult {
  interval: number;
  minInterval?: number;
  peers: PeerAddress[];
  /** Seeders, when the tracker says. */
  complete?: number;
  /** Leechers, when the tracker says. */
  incomplete?: number;
  warning?: string;
  trackerId?: string;
}

/** Swarm counts for one torrent from a scrape (BEP 48). */
export interface ScrapeEntry {
  /** Seeders. */
  complete: number;
  /** Times the torrent was downloaded completely. */
  downloaded: number;
  /** Leechers. */
  incomplete: number;
}

/** Why a tracker request failed, for callers that react differently (e.g. logging vs retry). */
export type TrackerErrorKind =
  | "failure" // the tracker answered with a refusal (failure reason / UDP error)
  | "protocol" // the answer was malformed
  | "network" // could not reach the tracker
  | "timeout" // no answer in time
  | "aborted" // cancelled by the caller
  | "unsupported"; // URL scheme or feature not supported

/**
 * Every tracker failure: a one-line message meant for the user, such as
 * `tracker http://x/announce: failure reason: unregistered torrent`.
 *
 * @example
 * ```ts
 * import { TrackerError } from "./types.ts";
 * const e = new TrackerError("timed out", "timeout", "udp://tracker.example:6969");
 * console.log(e.message); // tracker udp://tracker.example:6969: timed out
 * ```
 */
export class TrackerError extends Error {
  /** What kind of failure this was. */
  readonly kind: TrackerErrorKind;
  /** The tracker concerned (query string removed, it may hold a passkey), if known. */
  readonly tracker?: string;
  /** The message without the tracker prefix. */
  readonly reason: string;
  constructor(reason: string, kind: TrackerErrorKind = "protocol", url?: string) {
    const tracker = url === undefined ? undefined : displayUrl(url);
    super(tracker === undefined ? reason : `tracker ${tracker}: ${reason}`);
    this.name = "TrackerError";
    this.kind = kind;
    this.reason = reason;
    this.tracker = tracker;
  }

  /** This error with the tracker URL prefixed (keeps the kind). */
  withUrl(url: string): TrackerError {
    return this.tracker === undefined ? new TrackerError(this.reason, this.kind, url) : this;
  }
}

/** A tracker URL fit for messages: scheme, host, port and path; the query (passkeys) dropped. */
export function displayUrl(url: string): string {
  const cut = url.search(/[?#]/);
  const s = cut < 0 ? url : url.slice(0, cut);
  return oneLine(s, 200);
}
