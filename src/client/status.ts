/**
 * Short status texts shared by the metadata and download phases.
 *
 * @module
 */
import type { SessionLog } from "../engine/mod.ts";
import type { TrackerStatus } from "../tracker/mod.ts";

/**
 * The last tracker outcome in a few words, for the status line; `undefined` without trackers.
 * A failure says when the next try is due.
 *
 * @example
 * ```ts
 * import { describeTracker } from "./status.ts";
 * console.log(describeTracker({ url: "http://t/announce", ok: true, peers: 3 }, true)); // "tracker ok (3 peers)"
 * const failed = { url: "http://t/a", ok: false, message: "connection refused", nextAnnounceAt: 65_000 };
 * console.log(describeTracker(failed, true, 0)); // "tracker failed: connection refused (retry in 65s)"
 * ```
 */
export function describeTracker(
  last: TrackerStatus | undefined,
  hasTrackers: boolean,
  now: number = Date.now(),
): string | undefined {
  if (!last) return hasTrackers ? "tracker: contacting" : undefined;
  if (last.ok) return `tracker ok (${peerCount(last.peers ?? 0)})`;
  return `tracker failed: ${last.message ?? "no answer"}${retryIn(last, now)}`;
}

/**
 * Logs a tracker's answer: its peer count, or (as a warning) why it failed and when the next
 * try is due.
 */
export function logTracker(log: SessionLog | undefined, status: TrackerStatus): void {
  if (status.ok) log?.info(`tracker ${status.url}: ${peerCount(status.peers ?? 0)}`);
  else log?.warn(`tracker ${status.url}: ${status.message}${retryIn(status)}`);
}

function peerCount(n: number): string {
  return n === 1 ? "1 peer" : `${n} peers`;
}

/** " (retry in 65s)" when the next announce is scheduled, else "". */
function retryIn(status: TrackerStatus, now: number = Date.now()): string {
  if (status.nextAnnounceAt === undefined) return "";
  return ` (retry in ${Math.max(0, Math.ceil((status.nextAnnounceAt - now) / 1000))}s)`;
}
