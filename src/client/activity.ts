/**
 * A torrent's times as Transmission tells them: when it last started, when it last moved data,
 * how long it has spent downloading and seeding over its life, and how far a check of its data
 * has got. The lifetime ones live in the torrent's record, so they outlive a restart.
 *
 * @module
 */
import type { ClientTorrent, Totals } from "./client.ts";
import type { SavedTorrent } from "./saved_torrents.ts";

/** Unix seconds now. */
function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * The times of a client's torrents: `tick` now and then adds what each did since the last one.
 *
 * @example
 * ```ts
 * import { ActivityClock } from "./activity.ts";
 * const clock = new ActivityClock();
 * clock.started(1);
 * console.log(clock.startDate(1) > 0, clock.startDate(2)); // true 0
 * ```
 */
export class ActivityClock {
  /** When each torrent was last started (Unix seconds). */
  readonly #startedAt = new Map<number, number>();
  /** When each torrent's settings or metadata last changed in this run (Unix seconds). */
  readonly #editedAt = new Map<number, number>();
  /** Each torrent's bytes moved at the last tick, to see when they change. */
  readonly #bytes = new Map<number, number>();
  /** How far a check of each torrent's data has got, from 0 to 1, while one runs. */
  readonly #checked = new Map<number, number>();
  #lastTick = performance.now();

  /** `id` starts now. */
  started(id: number): void {
    this.#startedAt.set(id, nowSeconds());
  }

  /** When `id` last started, in Unix seconds; 0 when not in this run. */
  startDate(id: number): number {
    return this.#startedAt.get(id) ?? 0;
  }

  /** `id`'s settings or metadata change now (a user's edit, a magnet link's metadata). */
  edited(id: number): void {
    this.#editedAt.set(id, nowSeconds());
  }

  /**
   * When `id`'s settings or metadata last changed in this run, in Unix seconds (Transmission's
   * `editDate`, which its web client watches to fetch a torrent's files and trackers again);
   * 0 when they have not.
   */
  editDate(id: number): number {
    return this.#editedAt.get(id) ?? 0;
  }

  /** A check of `id`'s data has got to `checked` pieces of `total`. */
  checking(id: number, checked: number, total: number): void {
    this.#checked.set(id, total > 0 ? checked / total : 1);
  }

  /** How far the last check of `id`'s data got, from 0 to 1 (1 when none ran). */
  checkProgress(id: number): number {
    return this.#checked.get(id) ?? 1;
  }

  /** Forgets `id` (removed). */
  forget(id: number): void {
    this.#startedAt.delete(id);
    this.#editedAt.delete(id);
    this.#bytes.delete(id);
    this.#checked.delete(id);
  }

  /**
   * Adds the time since the last tick to the downloading or seeding seconds of each torrent in
   * that state, and dates the activity of those whose bytes moved, in their records.
   */
  tick(torrents: Iterable<{ t: ClientTorrent; record: SavedTorrent }>): void {
    const now = performance.now();
    const seconds = (now - this.#lastTick) / 1000;
    this.#lastTick = now;
    for (const { t, record } of torrents) {
      const state = t.state;
      if (state === "downloading") {
        record.secondsDownloading = (record.secondsDownloading ?? 0) + seconds;
      } else if (state === "seeding") {
        record.secondsSeeding = (record.secondsSeeding ?? 0) + seconds;
      }
      const bytes = moved(t.totals());
      const before = this.#bytes.get(t.id);
      this.#bytes.set(t.id, bytes);
      if (before !== undefined && bytes !== before) record.activityDate = nowSeconds();
    }
  }
}

function moved(totals: Totals): number {
  return totals.uploaded + totals.downloaded;
}
