/**
 * The live progress line and the final summary, rendered from engine snapshots (plain values).
 * Rendering is pure; {@link ProgressDisplay} only decides when to write and how (rewrite one line
 * in place on a terminal, print a plain line now and then when output goes to a file or pipe).
 *
 * @module
 */

import { formatBytes, formatElapsed, formatEta, formatPercent, formatRate } from "./format.ts";

/** One moment of a torrent's progress, as the engine publishes it. */
export interface Snapshot {
  /** Torrent name (from the info dictionary, or the magnet's display name). */
  name: string;
  /** What the session is doing now (`hashing`: `create` making a torrent). */
  phase: "checking" | "metadata" | "downloading" | "seeding" | "done" | "hashing";
  /** Pieces verified so far. */
  piecesDone: number;
  /** Pieces in the torrent (0 while metadata is unknown). */
  pieceCount: number;
  /** Bytes of verified pieces. */
  bytesDone: number;
  /** Size of the torrent's payload (0 while unknown). */
  totalBytes: number;
  /** Payload download rate, bytes per second (while hashing: bytes hashed per second). */
  downloadRate: number;
  /** Payload upload rate, bytes per second. */
  uploadRate: number;
  /** Payload bytes downloaded this session. */
  downloaded: number;
  /** Payload bytes uploaded this session. */
  uploaded: number;
  /** Peers with an open connection. */
  peersConnected: number;
  /** Peer addresses known from trackers, DHT and PEX. */
  peersKnown: number;
  /** Connected peers that choke us. */
  peersChokingUs: number;
  /** Connected peers interested in our pieces. */
  peersInterested: number;
  /** Connected peers whose payload is encrypted (MSE). */
  peersEncrypted?: number;
  /** Connected peers reached over uTP. */
  peersUtp?: number;
  /** Where connected peers came from, e.g. "tracker 3, dht 2, pex 1". */
  peerSources?: string;
  /** Web seeds (BEP 19) in use, and how many are fetching now. */
  webSeeds?: number;
  webSeedsActive?: number;
  /** Of `downloaded` and `downloadRate`, what came from web seeds. */
  webSeedDownloaded?: number;
  webSeedRate?: number;
  /** What pieces are checked with, for the summary (default "SHA-1"). */
  checkedBy?: string;
  /** The same as counts by source. */
  peersBySource?: Record<string, number>;
  /** One short line about the trackers, e.g. "tracker ok (23 peers)". */
  trackerStatus?: string;
  /** Fraction 0..1 of existing data checked, during "checking". */
  checkProgress?: number;
  /** Time since the session started. */
  elapsedMs: number;
}

/**
 * A snapshot with no progress and no peers, for the phases before a session runs (the caller
 * adds `phase` and `elapsedMs`).
 *
 * @example
 * ```ts
 * import { emptySnapshot } from "./display.ts";
 * console.log(emptySnapshot("ubuntu.iso", 100, 1 << 20).piecesDone); // 0
 * ```
 */
export function emptySnapshot(
  name: string,
  pieceCount: number,
  totalBytes: number,
): Omit<Snapshot, "elapsedMs" | "phase"> {
  return {
    name,
    piecesDone: 0,
    pieceCount,
    bytesDone: 0,
    totalBytes,
    downloadRate: 0,
    uploadRate: 0,
    downloaded: 0,
    uploaded: 0,
    peersConnected: 0,
    peersKnown: 0,
    peersChokingUs: 0,
    peersInterested: 0,
  };
}

/**
 * The snapshot while existing data is hashed: `checked` of `total` bytes so far.
 *
 * @example
 * ```ts
 * import { checkingSnapshot } from "./display.ts";
 * const torrent = { name: "a", pieceCount: 4, totalLength: 1000 };
 * console.log(checkingSnapshot(torrent, 250, 1000, 12).checkProgress); // 0.25
 * ```
 */
export function checkingSnapshot(
  torrent: { name: string; pieceCount: number; totalLength: number },
  checked: number,
  total: number,
  elapsedMs: number,
): Snapshot {
  return {
    ...emptySnapshot(torrent.name, torrent.pieceCount, torrent.totalLength),
    phase: "checking",
    checkProgress: total > 0 ? checked / total : 1,
    elapsedMs,
  };
}

interface Segment {
  id: "head" | "pieces" | "peers" | "web" | "rates" | "eta" | "tracker" | "transfer";
  text: string;
}

type Reduction =
  | { id: Segment["id"]; action: "drop" }
  | { id: Segment["id"]; action: "replace"; text: string };

const SEPARATOR = " | ";

/**
 * Renders a snapshot as one status line no longer than `width` characters, e.g.
 * `[downloading] 45.2% 123/272 pcs | 12 peers (40 known, 3 choking) | ↓ 12.3 MiB/s ↑ 1.1 MiB/s |
 * ETA 1m05s | tracker ok`. When narrow, the least important parts go first (tracker, peer
 * details, upload rate, piece count, peer count, ETA), and as a last resort the line is cut.
 *
 * @example
 * ```ts
 * import { renderStatusLine, type Snapshot } from "./display.ts";
 * const s: Snapshot = {
 *   name: "demo", phase: "downloading", piecesDone: 123, pieceCount: 272,
 *   bytesDone: 123 * 262144, totalBytes: 272 * 262144, downloadRate: 1 << 20, uploadRate: 0,
 *   downloaded: 0, uploaded: 0, peersConnected: 12, peersKnown: 40, peersChokingUs: 3,
 *   peersInterested: 1, trackerStatus: "tracker ok", elapsedMs: 5000,
 * };
 * console.log(renderStatusLine(s, 40).length <= 40); // true
 * ```
 */
export function renderStatusLine(s: Snapshot, width: number): string {
  const limit = Number.isFinite(width) ? Math.floor(width) : 1000;
  if (limit <= 0) return "";
  const segments = buildSegments(s);
  const reductions = buildReductions(s);
  let line = joinSegments(segments);
  for (const step of reductions) {
    if (line.length <= limit) break;
    const index = segments.findIndex((seg) => seg.id === step.id);
    if (index === -1) continue;
    if (step.action === "drop") segments.splice(index, 1);
    else segments[index] = { id: step.id, text: step.text };
    line = joinSegments(segments);
  }
  return truncate(line, limit);
}

function joinSegments(segments: readonly Segment[]): string {
  return segments.map((seg) => seg.text).join(SEPARATOR);
}

function buildSegments(s: Snapshot): Segment[] {
  const phase = `[${s.phase}]`;
  const peerCount = `${count(s.peersConnected)} ${s.peersConnected === 1 ? "peer" : "peers"}`;
  const segments: Segment[] = [];
  const tracker = s.trackerStatus ? sanitize(s.trackerStatus) : "";
  const encrypted = (s.peersUtp ? `, ${count(s.peersUtp)} uTP` : "") +
    (s.peersEncrypted ? `, ${count(s.peersEncrypted)} encrypted` : "");
  switch (s.phase) {
    case "metadata":
      segments.push(
        {
          id: "head",
          text: `${phase} fetching torrent info ${
            formatPercent((s.checkProgress ?? 0) * 1000, 1000)
          }`,
        },
        { id: "peers", text: `${peerCount} (${count(s.peersKnown)} known)` },
        { id: "rates", text: `↓ ${formatRate(s.downloadRate)}` },
      );
      break;
    case "hashing":
      segments.push(
        { id: "head", text: `${phase} ${formatPercent(s.bytesDone, s.totalBytes)}` },
        {
          id: "pieces",
          text: `${formatBytes(s.bytesDone)} of ${formatBytes(s.totalBytes)}`,
        },
        { id: "rates", text: formatRate(s.downloadRate) },
        { id: "eta", text: `ETA ${formatEta(s.totalBytes - s.bytesDone, s.downloadRate)}` },
      );
      break;
    case "checking": {
      const fraction = clampFraction(s.checkProgress ?? 0);
      segments.push(
        { id: "head", text: `${phase} ${formatPercent(fraction * 1000, 1000)}` },
        { id: "pieces", text: `${count(s.piecesDone)}/${count(s.pieceCount)} pcs ok` },
      );
      break;
    }
    case "seeding":
    case "done":
      segments.push(
        { id: "head", text: `${phase} ${pieceProgress(s)}` },
        { id: "peers", text: `${peerCount} (${count(s.peersInterested)} interested${encrypted})` },
        { id: "rates", text: `↑ ${formatRate(s.uploadRate)}` },
        { id: "transfer", text: `uploaded ${formatBytes(s.uploaded)}` },
      );
      break;
    default:
      segments.push(
        {
          id: "head",
          text: `${phase} ${pieceProgress(s)} ${count(s.piecesDone)}/${count(s.pieceCount)} pcs`,
        },
        {
          id: "peers",
          text: `${peerCount} (${count(s.peersKnown)} known, ${count(s.peersChokingUs)} choking` +
            encrypted +
            (s.peerSources ? `; ${sanitize(s.peerSources)})` : ")"),
        },
        { id: "rates", text: `↓ ${formatRate(s.downloadRate)} ↑ ${formatRate(s.uploadRate)}` },
        { id: "eta", text: `ETA ${formatEta(s.totalBytes - s.bytesDone, s.downloadRate)}` },
      );
      if (s.webSeeds) {
        segments.splice(2, 0, {
          id: "web",
          text: `web ${count(s.webSeedsActive ?? 0)}/${count(s.webSeeds)} ` +
            `↓ ${formatRate(s.webSeedRate ?? 0)}`,
        });
      }
  }
  if (tracker) segments.push({ id: "tracker", text: tracker });
  return segments;
}

/** Ordered steps that make the line shorter, least important information first. */
function buildReductions(s: Snapshot): Reduction[] {
  const peerCount = `${count(s.peersConnected)} ${s.peersConnected === 1 ? "peer" : "peers"}`;
  const head = `[${s.phase}] ${pieceProgress(s)}`;
  const steps: Reduction[] = [
    { id: "tracker", action: "drop" },
    { id: "web", action: "drop" },
    { id: "peers", action: "replace", text: peerCount },
    { id: "transfer", action: "drop" },
  ];
  if (s.phase === "downloading") {
    steps.push(
      { id: "rates", action: "replace", text: `↓ ${formatRate(s.downloadRate)}` },
      { id: "head", action: "replace", text: head },
      { id: "peers", action: "drop" },
      { id: "eta", action: "drop" },
      { id: "rates", action: "replace", text: `↓${formatRate(s.downloadRate)}` },
    );
  }
  steps.push(
    { id: "pieces", action: "drop" },
    { id: "peers", action: "drop" },
    { id: "rates", action: "drop" },
  );
  return steps;
}

function pieceProgress(s: Snapshot): string {
  if (s.pieceCount > 0) return formatPercent(s.piecesDone, s.pieceCount);
  return formatPercent(s.bytesDone, s.totalBytes);
}

function clampFraction(value: number): number {
  if (!Number.isFinite(value) || value < 0) return 0;
  return value > 1 ? 1 : value;
}

function count(n: number): string {
  return Number.isFinite(n) && n > 0 ? String(Math.floor(n)) : "0";
}

function truncate(text: string, limit: number): string {
  if (text.length <= limit) return text;
  if (limit === 1) return "…";
  return `${text.slice(0, limit - 1)}…`;
}

/**
 * Replaces control characters (terminal escapes from a torrent name or a tracker's message)
 * so that printing them cannot move the cursor or recolour the terminal.
 */
function sanitize(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, "?");
}

/**
 * The lines printed when a run ends: what was downloaded, whether every piece was verified,
 * the size, elapsed time, average download speed and how much was uploaded.
 *
 * @example
 * ```ts
 * import { renderSummary } from "./display.ts";
 * const lines = renderSummary({
 *   name: "demo", phase: "done", piecesDone: 4, pieceCount: 4, bytesDone: 1 << 20,
 *   totalBytes: 1 << 20, downloadRate: 0, uploadRate: 0, downloaded: 1 << 20, uploaded: 0,
 *   peersConnected: 0, peersKnown: 0, peersChokingUs: 0, peersInterested: 0, elapsedMs: 2000,
 *   verified: true,
 * });
 * console.log(lines[1]); // "All 4 pieces verified (SHA-1)."
 * ```
 */
export function renderSummary(s: Snapshot & { verified: boolean }): string[] {
  const name = sanitize(s.name) || "(unnamed torrent)";
  const complete = s.pieceCount > 0 && s.piecesDone >= s.pieceCount;
  const lines = [complete ? `Finished: ${name}` : `Stopped: ${name}`];
  if (s.verified && complete) {
    lines.push(`All ${count(s.pieceCount)} pieces verified (${s.checkedBy ?? "SHA-1"}).`);
  } else {
    lines.push(
      `Incomplete: ${count(s.piecesDone)} of ${count(s.pieceCount)} pieces verified ` +
        `(${formatPercent(s.piecesDone, s.pieceCount)}).`,
    );
  }
  const seconds = s.elapsedMs / 1000;
  const average = seconds > 0 ? s.downloaded / seconds : 0;
  lines.push(
    `Size: ${formatBytes(s.totalBytes)} | Elapsed: ${formatElapsed(s.elapsedMs)}`,
    `Downloaded: ${formatBytes(s.downloaded)} (average ${formatRate(average)}` +
      (s.webSeedDownloaded ? `; ${formatBytes(s.webSeedDownloaded)} from web seeds` : "") +
      `) | Uploaded: ${formatBytes(s.uploaded)}`,
  );
  return lines;
}

/** Settings for a {@link ProgressDisplay}. */
export interface ProgressDisplayOptions {
  /** Where text goes, e.g. a writer to stdout or stderr. Called synchronously. */
  write: (text: string) => void;
  /** Whether output is a terminal (live line) or a file/pipe (occasional plain lines). */
  isTTY: boolean;
  /** Terminal width; defaults to 80. Errors from it are treated as 80. */
  columns?: () => number;
  /** Interval between plain lines when not a terminal. Default 5000 ms. */
  plainIntervalMs?: number;
  /** Fastest redraw on a terminal. Default 200 ms (5 redraws per second). */
  minRedrawMs?: number;
  /** Monotonic clock in ms; tests pin it. Default `performance.now`. */
  now?: () => number;
}

/** Width used for plain (non-terminal) lines, where nothing wraps and more detail is welcome. */
const PLAIN_WIDTH = 200;

/**
 * Shows progress from snapshots. On a terminal it rewrites one line in place (at most about 5
 * times a second, always on a phase change); otherwise it prints a plain line every
 * `plainIntervalMs` and on each phase change. It owns no timers: the caller calls
 * {@link ProgressDisplay.update} as often as it likes.
 *
 * @example
 * ```ts
 * import { ProgressDisplay, type Snapshot } from "./display.ts";
 * const out: string[] = [];
 * const display = new ProgressDisplay({ write: (t) => out.push(t), isTTY: false });
 * const s: Snapshot = {
 *   name: "demo", phase: "downloading", piecesDone: 1, pieceCount: 2, bytesDone: 16384,
 *   totalBytes: 32768, downloadRate: 0, uploadRate: 0, downloaded: 16384, uploaded: 0,
 *   peersConnected: 1, peersKnown: 1, peersChokingUs: 0, peersInterested: 0, elapsedMs: 10,
 * };
 * display.update(s);
 * display.finish(["done"]);
 * console.log(out.length, out[0].startsWith("[downloading] 50.0% 1/2 pcs")); // 2 true
 * ```
 */
export class ProgressDisplay {
  readonly #write: (text: string) => void;
  readonly #isTTY: boolean;
  readonly #columns: () => number;
  readonly #plainIntervalMs: number;
  readonly #minRedrawMs: number;
  readonly #now: () => number;
  #last: Snapshot | undefined;
  #lastPhase: Snapshot["phase"] | undefined;
  #lastWriteAt = -Infinity;
  #lineShown = false;
  #finished = false;

  /** Creates a display writing through `opts.write`. */
  constructor(opts: ProgressDisplayOptions) {
    this.#write = opts.write;
    this.#isTTY = opts.isTTY;
    this.#columns = opts.columns ?? (() => 80);
    this.#plainIntervalMs = Math.max(0, opts.plainIntervalMs ?? 5000);
    this.#minRedrawMs = Math.max(0, opts.minRedrawMs ?? 200);
    this.#now = opts.now ?? (() => performance.now());
  }

  /** Shows `s` if enough time has passed since the last output or the phase changed. */
  update(s: Snapshot): void {
    if (this.#finished) return;
    this.#last = s;
    const now = this.#now();
    const phaseChanged = s.phase !== this.#lastPhase;
    const interval = this.#isTTY ? this.#minRedrawMs : this.#plainIntervalMs;
    if (!phaseChanged && now - this.#lastWriteAt < interval) return;
    this.#lastPhase = s.phase;
    this.#lastWriteAt = now;
    if (this.#isTTY) this.#drawLive(s);
    else this.#write(`${renderStatusLine(s, PLAIN_WIDTH)}\n`);
  }

  /** Prints `text` on its own line above the live line (e.g. a warning), then redraws. */
  message(text: string): void {
    if (this.#isTTY && this.#lineShown) {
      this.#write(`\r\x1b[K${sanitize(text)}\n`);
      this.#lineShown = false;
      if (this.#last && !this.#finished) this.#drawLive(this.#last);
    } else {
      this.#write(`${sanitize(text)}\n`);
    }
  }

  /** Clears the live line and prints the final lines; later updates are ignored. */
  finish(lines: readonly string[]): void {
    if (this.#isTTY && this.#lineShown) this.#write("\r\x1b[K");
    this.#lineShown = false;
    this.#finished = true;
    if (lines.length > 0) this.#write(`${lines.map(sanitize).join("\n")}\n`);
  }

  #drawLive(s: Snapshot): void {
    // One column short of the width: writing the last column wraps on some terminals.
    this.#write(`\r${renderStatusLine(s, this.#width() - 1)}\x1b[K`);
    this.#lineShown = true;
  }

  #width(): number {
    let columns = 80;
    try {
      columns = this.#columns();
    } catch {
      // not a terminal after all (e.g. redirected mid-run): keep the default
    }
    return Number.isFinite(columns) && columns >= 2 ? Math.floor(columns) : 80;
  }
}
