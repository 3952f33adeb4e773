/**
 * Short status texts shared by the metadata and download phases.
 *
 * @module
 */
import type { TrackerStatus } from "../tracker/mod.ts";

/**
 * The last tracker outcome in a few words, for the status line; `undefined` without trackers.
 *
 * @example
 * ```ts
 * import { describeTracker } from "./status.ts";
 * console.log(describeTracker({ url: "http://t/announce", ok: true, peers: 3 }, true)); // "tracker ok (3 peers)"
 * ```
 */
export function describeTracker(
  last: TrackerStatus | undefined,
  hasTrackers: boolean,
): string | undefined {
  if (!last) return hasTrackers ? "tracker: contacting" : undefined;
  return last.ok ? `tracker ok (${last.peers ?? 0} peers)` : last.message ?? "tracker failed";
}
