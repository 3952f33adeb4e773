/**
 * The process's speed limits: the usual ones, and the alternative ones ("turtle mode", as
 * Transmission calls them) that a user switches on by hand, or a weekly schedule switches on
 * and off, to leave the line to others during the day, say. Whichever apply are set on the
 * peer hub's shared limiters, at once for every torrent. It imports nothing at run time: the
 * command line's parser reads its defaults.
 *
 * @module
 */
import type { TokenBucket } from "../util/mod.ts";

/** Transmission's day bits: Sunday 1, Monday 2, ... Saturday 64. */
export const ALL_DAYS = 127;

/**
 * A daily window: from `begin` to `end`, in minutes after local midnight, on the days `days`
 * names (Transmission's bits, see `ALL_DAYS`). A window that ends before it begins runs past
 * midnight into the next day.
 */
export interface SpeedSchedule {
  begin: number;
  end: number;
  days: number;
}

/** Every choice of `SpeedLimits`; rates in bytes a second, 0 for none. */
export interface SpeedSettings {
  download: number;
  upload: number;
  altDownload: number;
  altUpload: number;
  /** The alternative limits apply now. */
  altOn: boolean;
  /** The schedule, kept while off. */
  schedule: SpeedSchedule & { on: boolean };
}

/** Transmission's defaults: 50 kB/s each way, 9:00 to 17:00 every day, all off. */
export const DEFAULT_SPEED_SETTINGS: SpeedSettings = {
  download: 0,
  upload: 0,
  altDownload: 50 * 1024,
  altUpload: 50 * 1024,
  altOn: false,
  schedule: { begin: 9 * 60, end: 17 * 60, days: ALL_DAYS, on: false },
};

/**
 * Whether `at` (local time) falls in `schedule`'s window. A window past midnight counts on the
 * day it began; a window whose end is its beginning is the whole day.
 *
 * @example
 * ```ts
 * import { inSchedule } from "./speed_limits.ts";
 * const nights = { begin: 22 * 60, end: 6 * 60, days: 2 }; // Mondays, 22:00 to 06:00
 * console.log(inSchedule(nights, new Date(2026, 11, 7, 23, 0))); // true: a Monday, 23:00
 * console.log(inSchedule(nights, new Date(2026, 11, 8, 5, 59))); // true: Tuesday, still Monday's night
 * console.log(inSchedule(nights, new Date(2026, 11, 8, 23, 0))); // false: a Tuesday
 * ```
 */
export function inSchedule(schedule: SpeedSchedule, at: Date): boolean {
  const minute = at.getHours() * 60 + at.getMinutes();
  const today = 1 << at.getDay(), yesterday = 1 << ((at.getDay() + 6) % 7);
  const { begin, end, days } = schedule;
  if (begin < end) return (days & today) !== 0 && minute >= begin && minute < end;
  if (begin === end) return (days & today) !== 0;
  return ((days & today) !== 0 && minute >= begin) || ((days & yesterday) !== 0 && minute < end);
}

/**
 * The process's limits, applied to `limiters` (the peer hub's).
 *
 * @example
 * ```ts
 * import { SpeedLimits } from "./speed_limits.ts";
 * import { TokenBucket } from "../util/mod.ts";
 * const limiters = { download: new TokenBucket(0), upload: new TokenBucket(0) };
 * const speeds = new SpeedLimits(limiters, { download: 1_000_000 });
 * console.log(limiters.download.rate); // 1000000
 * speeds.set({ altOn: true });
 * console.log(limiters.download.rate, limiters.upload.rate); // 51200 51200
 * ```
 */
export class SpeedLimits {
  readonly #limiters: { download: TokenBucket; upload: TokenBucket };
  #settings: SpeedSettings;
  /** What the schedule said at the last `tick`: it switches only when that changes. */
  #scheduled: boolean | undefined;

  constructor(
    limiters: { download: TokenBucket; upload: TokenBucket },
    settings: Partial<SpeedSettings> = {},
  ) {
    this.#limiters = limiters;
    this.#settings = { ...DEFAULT_SPEED_SETTINGS, ...settings };
    this.tick();
    this.#apply();
  }

  /** The settings now. */
  get settings(): Readonly<SpeedSettings> {
    return this.#settings;
  }

  /**
   * Changes some settings and applies them. A schedule switched on (or changed) sets the
   * alternative limits as it says at once; the same schedule again changes nothing, so the
   * user's own switch holds.
   */
  set(changes: Partial<SpeedSettings>, at: Date = new Date()): void {
    const before = this.#settings.schedule, after = changes.schedule;
    if (
      after && (after.on !== before.on || after.begin !== before.begin ||
        after.end !== before.end || after.days !== before.days)
    ) this.#scheduled = undefined;
    this.#settings = { ...this.#settings, ...changes };
    this.tick(at);
    this.#apply();
  }

  /**
   * Follows the schedule, when on: at each of its boundaries the alternative limits go on or
   * off. Between them, the user's own switch holds, as in Transmission. Call it every minute
   * or so.
   */
  tick(at: Date = new Date()): void {
    const { schedule } = this.#settings;
    if (!schedule.on) {
      this.#scheduled = undefined;
      return;
    }
    const now = inSchedule(schedule, at);
    if (now === this.#scheduled) return;
    this.#scheduled = now;
    if (this.#settings.altOn !== now) {
      this.#settings = { ...this.#settings, altOn: now };
      this.#apply();
    }
  }

  #apply(): void {
    const s = this.#settings;
    this.#limiters.download.setRate(s.altOn ? s.altDownload : s.download);
    this.#limiters.upload.setRate(s.altOn ? s.altUpload : s.upload);
  }
}
