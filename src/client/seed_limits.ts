/**
 * When seeding stops: a share ratio reached, a time spent seeding, or a time without uploading
 * a byte (Transmission's idle limit). The CLI and the daemon share the rule; each words the
 * structured answer its own way.
 *
 * @module
 */

/** Limits on seeding; any one met ends it. None: seed on. */
export interface SeedLimits {
  /** Bytes uploaded over the size of what was downloaded. */
  ratio?: number;
  /** Time spent seeding. */
  timeMs?: number;
  /** Time without uploading. */
  idleMs?: number;
}

/** Which limit was met, with the figure that met it. */
export type SeedLimitMet =
  | { limit: "ratio"; ratio: number }
  | { limit: "time"; seededMs: number }
  | { limit: "idle"; idleMs: number };

/** The numbers a limit is judged on. */
export interface SeedingNow {
  uploaded: number;
  /** Size of what was downloaded (the wanted files). */
  totalBytes: number;
  seedingMs: number;
  /** Time since the last byte went up (or since seeding began). */
  idleMs: number;
}

/**
 * The first limit met (ratio, then time, then idle, as aria2 and Transmission check them), or
 * undefined to seed on. Nothing to share (an empty download) meets any ratio.
 *
 * @example
 * ```ts
 * import { seedLimitReached } from "./seed_limits.ts";
 * const now = { uploaded: 150, totalBytes: 100, seedingMs: 1000, idleMs: 0 };
 * console.log(seedLimitReached(now, { ratio: 1.5 })); // { limit: "ratio", ratio: 1.5 }
 * console.log(seedLimitReached(now, { ratio: 2, timeMs: 60_000 })); // undefined
 * ```
 */
export function seedLimitReached(now: SeedingNow, limits: SeedLimits): SeedLimitMet | undefined {
  if (limits.ratio !== undefined) {
    const ratio = now.totalBytes > 0 ? now.uploaded / now.totalBytes : Infinity;
    if (ratio >= limits.ratio) return { limit: "ratio", ratio };
  }
  if (limits.timeMs !== undefined && now.seedingMs >= limits.timeMs) {
    return { limit: "time", seededMs: now.seedingMs };
  }
  if (limits.idleMs !== undefined && now.idleMs >= limits.idleMs) {
    return { limit: "idle", idleMs: now.idleMs };
  }
  return undefined;
}

/**
 * Follows one torrent's seeding from the moment it is made: how long it has seeded and how long
 * since its upload count last moved.
 *
 * @example
 * ```ts
 * import { SeedWatch } from "./seed_limits.ts";
 * const watch = new SeedWatch(0);
 * console.log(watch.check({ uploaded: 0, totalBytes: 10 }, { idleMs: 0 }, 5)); // { limit: "idle", idleMs: 5 }
 * ```
 */
export class SeedWatch {
  readonly #since: number;
  #lastUploaded = -1;
  #lastUpload: number;

  constructor(now: number = performance.now()) {
    this.#since = now;
    this.#lastUpload = now;
  }

  /** How long, at `now`, since the torrent last uploaded (or since the watch began). */
  idleMs(now: number = performance.now()): number {
    return now - this.#lastUpload;
  }

  /** The limit of `limits` met at `now` given the torrent's current counts, or undefined. */
  check(
    stats: { uploaded: number; totalBytes: number },
    limits: SeedLimits,
    now: number = performance.now(),
  ): SeedLimitMet | undefined {
    if (stats.uploaded !== this.#lastUploaded) {
      if (this.#lastUploaded >= 0) this.#lastUpload = now;
      this.#lastUploaded = stats.uploaded;
    }
    return seedLimitReached({
      ...stats,
      seedingMs: now - this.#since,
      idleMs: now - this.#lastUpload,
    }, limits);
  }
}
