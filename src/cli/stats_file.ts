/**
 * What earlier runs of the daemon did, kept in its state folder (`stats.json`), so
 * Transmission's cumulative session statistics (bytes moved, torrents added, runs, time
 * active) outlive a restart.
 *
 * @module
 */
import type { SessionCounts } from "../rpc/mod.ts";
import { writeFileAtomic } from "../util/mod.ts";

/** The file's name in the daemon's state folder. */
export const STATS_FILE = "stats.json";

const KEYS = [
  "uploadedBytes",
  "downloadedBytes",
  "filesAdded",
  "sessionCount",
  "secondsActive",
] as const;

/**
 * The counts saved in `stateDir`; all 0 when there are none yet, or they cannot be read (the
 * statistics start again rather than stop the daemon).
 *
 * @example
 * ```ts
 * import { loadStats, saveStats } from "./stats_file.ts";
 * const dir = await Deno.makeTempDir();
 * console.log((await loadStats(dir)).sessionCount); // 0
 * await saveStats(dir, { uploadedBytes: 5, downloadedBytes: 7, filesAdded: 1, sessionCount: 2, secondsActive: 60 });
 * console.log((await loadStats(dir)).downloadedBytes); // 7
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadStats(stateDir: string): Promise<SessionCounts> {
  const counts: SessionCounts = {
    uploadedBytes: 0,
    downloadedBytes: 0,
    filesAdded: 0,
    sessionCount: 0,
    secondsActive: 0,
  };
  try {
    const saved = JSON.parse(await Deno.readTextFile(`${stateDir}/${STATS_FILE}`));
    for (const key of KEYS) {
      const v = saved?.[key];
      if (Number.isSafeInteger(v) && v >= 0) counts[key] = v;
    }
  } catch { /* none yet, or not ours: counted afresh */ }
  return counts;
}

/** Saves `counts` in `stateDir` (replacing the file whole). */
export async function saveStats(stateDir: string, counts: SessionCounts): Promise<void> {
  await Deno.mkdir(stateDir, { recursive: true });
  await writeFileAtomic(`${stateDir}/${STATS_FILE}`, JSON.stringify(counts, null, 2) + "\n", {
    sync: true,
  });
}
