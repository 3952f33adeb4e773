/**
 * Figures and their presentation: sizes on the command line ("256M"), medians over runs, and the
 * table printed per case and seeder group.
 *
 * @module
 */
import { BenchError } from "./proc.ts";

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * Parses a byte size such as `256M`, `1G`, `16K`, `1.5G` or `1000` (binary units, optional
 * trailing `B`/`iB`). Throws {@link BenchError} for anything else or sizes above 1 TiB.
 *
 * @example
 * ```ts
 * import { parseSize } from "./report.ts";
 * console.log(parseSize("256K"), parseSize("1G"), parseSize("1000")); // 262144 1073741824 1000
 * ```
 */
export function parseSize(text: string): number {
  const m = text.length <= 32 ? /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim()) : null;
  if (!m) throw new BenchError(`invalid size "${text.slice(0, 40)}" (use e.g. 256K, 1G)`);
  const value = Math.round(Number(m[1]) * UNITS[m[2].toLowerCase()]);
  if (!Number.isSafeInteger(value) || value > 1024 ** 4) {
    throw new BenchError(`size "${text}" is too large (at most 1T)`);
  }
  return value;
}

/**
 * A short binary size for labels: `1024 MiB`, `256 KiB`, `3.5 MiB`.
 *
 * @example
 * ```ts
 * import { formatSize } from "./report.ts";
 * console.log(formatSize(1024 ** 3), formatSize(262144), formatSize(100)); // 1024 MiB 256 KiB 100 B
 * ```
 */
export function formatSize(bytes: number): string {
  const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
  if (bytes >= 1024 ** 2) return `${fmt(bytes / 1024 ** 2)} MiB`;
  if (bytes >= 1024) return `${fmt(bytes / 1024)} KiB`;
  return `${bytes} B`;
}

/**
 * The median of finite values (NaN when there are none), so one slow or fast run does not move
 * the figure.
 *
 * @example
 * ```ts
 * import { median } from "./report.ts";
 * console.log(median([3, 1, 2]), median([4, 1, 2, 3]), median([])); // 2 2.5 NaN
 * ```
 */
export function median(values: number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** One download's measured figures. */
export interface RunFigures {
  seconds: number;
  /**
   * Seconds `sync` took once the downloader had exited: the writing to disk it left to the OS.
   * Our client flushes its files before it exits (its resume record may only claim bytes that
   * are on disk); the others leave the download in the page cache.
   */
  syncSeconds: number;
  peakRssBytes: number;
  cpuSeconds: number;
  /** CPU seconds all seeders spent during this download. */
  seederCpuSeconds: number;
}

/** One table row: a downloader's medians over runs, or the reason it was skipped. */
export interface Row {
  client: string;
  runs: RunFigures[];
  skipped?: string;
  failed?: string;
}

/** Fastest and slowest of several runs ("5.65-7.49"), so a median's noise shows; "-" for one. */
function spread(values: number[]): string {
  const v = values.filter(Number.isFinite);
  if (v.length < 2) return "-";
  return `${Math.min(...v).toFixed(2)}-${Math.max(...v).toFixed(2)}`;
}

function cell(v: number, digits: number): string {
  return Number.isFinite(v) ? v.toFixed(digits) : "-";
}

/**
 * Renders one table: a header line, then a row per client with median seconds, the fastest and
 * slowest run, the `sync` after it, MB/s (10^6 bytes), peak RSS, CPU seconds, the seeders' CPU
 * seconds during the download, and the time relative to libtorrent's (above 1 means slower than
 * libtorrent).
 *
 * @example
 * ```ts
 * import { renderTable } from "./report.ts";
 * const r = { seconds: 2, syncSeconds: 0, peakRssBytes: 88e6, cpuSeconds: 2, seederCpuSeconds: 1 };
 * console.log(renderTable("case x", 1e9, [
 *   { client: "ours", runs: [r] },
 *   { client: "libtorrent", runs: [{ ...r, seconds: 1 }] },
 * ]).includes("2.00x")); // true
 * ```
 */
export function renderTable(title: string, totalBytes: number, rows: Row[]): string {
  const lt = rows.find((r) => r.client === "libtorrent" && !r.skipped && !r.failed);
  const ltSeconds = lt ? median(lt.runs.map((r) => r.seconds)) : NaN;
  const head = [
    "client",
    "seconds",
    "runs s",
    "sync s",
    "MB/s",
    "peak RSS",
    "CPU s",
    "seed CPU s",
    "vs libtorrent",
  ];
  const lines: string[][] = [head];
  for (const row of rows) {
    if (row.skipped || row.failed) {
      lines.push([row.client, row.skipped ? `skipped: ${row.skipped}` : `FAILED: ${row.failed}`]);
      continue;
    }
    const seconds = row.runs.map((r) => r.seconds);
    const s = median(seconds);
    const rss = median(row.runs.map((r) => r.peakRssBytes));
    lines.push([
      row.client,
      cell(s, 2),
      spread(seconds),
      cell(median(row.runs.map((r) => r.syncSeconds)), 2),
      cell(totalBytes / 1e6 / s, 1),
      Number.isFinite(rss) ? `${Math.round(rss / 1e6)} MB` : "-",
      cell(median(row.runs.map((r) => r.cpuSeconds)), 2),
      cell(median(row.runs.map((r) => r.seederCpuSeconds)), 2),
      Number.isFinite(ltSeconds) && ltSeconds > 0 ? `${(s / ltSeconds).toFixed(2)}x` : "-",
    ]);
  }
  const widths = head.map((_, i) =>
    Math.max(...lines.map((l) => (l.length > 2 || i === 0 ? l[i].length : 0)))
  );
  const out = [title];
  for (const l of lines) {
    if (l.length === 2) {
      out.push(`  ${l[0].padEnd(widths[0])}  ${l[1]}`);
      continue;
    }
    out.push(
      "  " + l.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("   "),
    );
  }
  return out.join("\n");
}
