/**
 * Human-readable sizes, rates, durations and percentages for the progress line and the summary.
 * Binary units (KiB = 1024 bytes) throughout, matching how the rate flags are parsed.
 *
 * @module
 */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const;

/**
 * Formats a byte count with a binary unit and one decimal ("512 B", "1.5 MiB"), so sizes in the
 * progress line stay short and comparable. Negative or non-finite input renders as "0 B".
 *
 * @example
 * ```ts
 * import { formatBytes } from "./format.ts";
 * console.log(formatBytes(1536 * 1024)); // "1.5 MiB"
 * ```
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n <= 0) return "0 B";
  if (n < 1024) return `${Math.round(n)} B`;
  let value = n;
  let unit = 0;
  while (unit < UNITS.length - 1 && value >= 1024) {
    value /= 1024;
    unit++;
  }
  // 1023.96 KiB would print as "1024.0 KiB": carry into the next unit instead.
  if (Number(value.toFixed(1)) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${UNITS[unit]}`;
}

/**
 * Formats a transfer rate in bytes per second ("2.3 MiB/s"), for the live progress line.
 *
 * @example
 * ```ts
 * import { formatRate } from "./format.ts";
 * console.log(formatRate(2.3 * 1024 * 1024)); // "2.3 MiB/s"
 * ```
 */
export function formatRate(bytesPerSec: number): string {
  return `${formatBytes(bytesPerSec)}/s`;
}

/**
 * `n` and `noun`, plural unless `n` is 1: "1 peer", "3 peers".
 *
 * @example
 * ```ts
 * import { plural } from "./format.ts";
 * console.log(plural(1, "piece"), plural(0, "file")); // 1 piece 0 files
 * ```
 */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/**
 * Formats a duration compactly with its two most significant units ("12s", "3m05s", "1h02m",
 * "2d03h"), so an ETA or elapsed time fits in a few columns. Negative or non-finite input
 * renders as "--".
 *
 * @example
 * ```ts
 * import { formatDuration } from "./format.ts";
 * console.log(formatDuration(185_000)); // "3m05s"
 * ```
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "--";
  const total = Math.floor(ms / 1000);
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const two = (v: number) => String(v).padStart(2, "0");
  if (days > 0) return `${days}d${two(hours)}h`;
  if (hours > 0) return `${hours}h${two(minutes)}m`;
  if (minutes > 0) return `${minutes}m${two(seconds)}s`;
  return `${seconds}s`;
}

/**
 * A time taken: tenths of a second under a minute ("0.8s", "12.3s"), else as
 * {@link formatDuration}. A short run rounded to whole seconds would read "0s".
 *
 * @example
 * ```ts
 * import { formatElapsed } from "./format.ts";
 * console.log(formatElapsed(760), formatElapsed(3_949), formatElapsed(185_000)); // 0.8s 3.9s 3m05s
 * ```
 */
export function formatElapsed(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "--";
  const tenths = Math.round(ms / 100);
  return tenths < 600 ? `${(tenths / 10).toFixed(1)}s` : formatDuration(ms);
}

/** Longest ETA worth showing; beyond it the estimate is noise and "--" is more honest. */
const MAX_ETA_MS = 999 * 86400 * 1000;

/**
 * Estimates the time left from the bytes still missing and the current rate, or "--" when the
 * rate is zero or unknown (an ETA of "infinity" tells the user nothing).
 *
 * @example
 * ```ts
 * import { formatEta } from "./format.ts";
 * console.log(formatEta(65 * 1024, 1024)); // "1m05s"
 * console.log(formatEta(1000, 0)); // "--"
 * ```
 */
export function formatEta(remainingBytes: number, rate: number): string {
  if (!Number.isFinite(remainingBytes) || !Number.isFinite(rate)) return "--";
  if (remainingBytes <= 0) return "0s";
  if (rate <= 0) return "--";
  const ms = (remainingBytes / rate) * 1000;
  if (ms > MAX_ETA_MS) return "--";
  return formatDuration(Math.ceil(ms / 1000) * 1000);
}

/**
 * Formats `done / total` as a percentage with one decimal, rounded down so "100.0%" only ever
 * appears when everything is done. A zero total renders as "0.0%".
 *
 * @example
 * ```ts
 * import { formatPercent } from "./format.ts";
 * console.log(formatPercent(9999, 10000)); // "99.9%"
 * ```
 */
export function formatPercent(done: number, total: number): string {
  if (!Number.isFinite(done) || !Number.isFinite(total) || total <= 0 || done <= 0) return "0.0%";
  if (done >= total) return "100.0%";
  const tenths = Math.floor((done / total) * 1000);
  return `${(Math.min(tenths, 999) / 10).toFixed(1)}%`;
}
