/**
 * The download command: load the torrent, open the output folder, run the job with a live
 * status line, and finish with a summary; Ctrl-C stops cleanly.
 *
 * @module
 */
import { TorrentJob } from "../client/mod.ts";
import { parseTorrent, type Torrent, TorrentError } from "../metainfo/mod.ts";
import type { CliOptions } from "./args.ts";
import { ProgressDisplay, renderSummary, type Snapshot } from "./display.ts";
import { Logger } from "./log.ts";

/** A failure the user can act on: printed as one line, exit code 1. */
export class CommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CommandError";
  }
}

/** The largest file we will read as a torrent (real ones are well under a few MiB). */
const MAX_TORRENT_FILE = 64 * 1024 * 1024;

/** Exit code after Ctrl-C, as shells report a SIGINT death. */
export const EXIT_INTERRUPTED = 130;

/**
 * Reads and parses a .torrent file, turning every failure into one clear `CommandError` line.
 *
 * @example
 * ```ts
 * import { CommandError, loadTorrent } from "./download.ts";
 * try {
 *   await loadTorrent("/no/such/file.torrent");
 * } catch (e) {
 *   console.log(e instanceof CommandError); // true
 * }
 * ```
 */
export async function loadTorrent(input: string): Promise<Torrent> {
  if (/^magnet:/i.test(input)) {
    throw new CommandError("magnet links are not supported yet: pass a .torrent file");
  }
  let bytes: Uint8Array;
  try {
    const info = await Deno.stat(input);
    if (info.isDirectory) throw new CommandError(`${input} is a folder, not a torrent file`);
    if (info.size > MAX_TORRENT_FILE) {
      throw new CommandError(`${input} is too large to be a torrent file (${info.size} bytes)`);
    }
    // Devices and pipes report size 0: read with a bound rather than trusting `stat`.
    bytes = await readAtMost(input, MAX_TORRENT_FILE);
  } catch (e) {
    if (e instanceof CommandError) throw e;
    throw new CommandError(`cannot read torrent file ${input}: ${fsReason(e)}`);
  }
  try {
    return parseTorrent(bytes);
  } catch (e) {
    if (e instanceof TorrentError) throw new CommandError(`${input}: ${e.message}`);
    throw e;
  }
}

/** The whole file, or a `CommandError` once it passes `max` bytes (e.g. `/dev/zero`). */
async function readAtMost(path: string, max: number): Promise<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const chunk = new Uint8Array(Math.min(1 << 20, max + 1 - total));
    const n = await file.read(chunk);
    if (n === null) break;
    total += n;
    if (total > max) {
      throw new CommandError(`${path} is too large to be a torrent file (over ${max} bytes)`);
    }
    chunks.push(chunk.subarray(0, n));
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function fsReason(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "no such file";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  return e instanceof Error ? e.message : String(e);
}

/** Where the command writes; tests capture it. */
export interface CommandIO {
  out: (text: string) => void;
  err: (text: string) => void;
  isTTY: boolean;
  columns: () => number;
}

/** Standard output and error of this process. */
export function processIO(): CommandIO {
  const encoder = new TextEncoder();
  const writeAll = (file: typeof Deno.stdout, text: string) => {
    const bytes = encoder.encode(text);
    let at = 0;
    while (at < bytes.length) at += file.writeSync(bytes.subarray(at));
  };
  return {
    out: (t) => writeAll(Deno.stdout, t),
    err: (t) => writeAll(Deno.stderr, t),
    isTTY: Deno.stdout.isTerminal(),
    columns: () => Deno.consoleSize().columns,
  };
}

/**
 * Runs a download as the CLI does and returns the process exit code: 0 when complete,
 * 130 when interrupted. Failures throw `CommandError` (or a domain error with a one-line message).
 */
export async function runDownload(
  options: CliOptions,
  io: CommandIO = processIO(),
  stopSignal?: AbortSignal,
): Promise<number> {
  const torrent = await loadTorrent(options.input);
  const log = await openLog(options, io);
  log.info(
    `torrent ${torrent.name}: ${torrent.pieceCount} pieces of ${torrent.pieceLength} bytes, ` +
      `info-hash ${torrent.infoHashHex}`,
  );
  const started = performance.now();
  const display = new ProgressDisplay({
    write: options.quiet ? () => {} : io.out,
    isTTY: io.isTTY,
    columns: io.columns,
  });
  const base = { name: torrent.name, elapsedMs: 0 };
  let job: TorrentJob;
  try {
    job = await TorrentJob.open({
      torrent,
      output: options.output,
      port: options.port,
      maxPeers: options.maxPeers,
      maxDownloadRate: options.maxDownloadRate,
      maxUploadRate: options.maxUploadRate,
      seed: options.seed,
      log,
      onCheckProgress: (checked, total) =>
        display.update({
          ...emptySnapshot(torrent),
          ...base,
          phase: "checking",
          checkProgress: total > 0 ? checked / total : 1,
          elapsedMs: performance.now() - started,
        }),
    });
  } catch (e) {
    await log.close();
    throw e;
  }
  log.info(`listening for peers on port ${job.listener.port}`);

  const snapshot = (): Snapshot => ({
    ...job.stats(),
    name: torrent.name,
    trackerStatus: job.trackerStatus,
    elapsedMs: performance.now() - started,
  });
  const cleanups: (() => void)[] = [];
  const interrupted = new Promise<"interrupted">((resolve) => {
    const onSignal = () => resolve("interrupted");
    stopSignal?.addEventListener("abort", onSignal, { once: true });
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      try {
        Deno.addSignalListener(sig, onSignal);
      } catch { /* SIGTERM is not available on Windows */ }
    }
    cleanups.push(() => {
      for (const sig of ["SIGINT", "SIGTERM"] as const) {
        try {
          Deno.removeSignalListener(sig, onSignal);
        } catch { /* never added */ }
      }
    });
  });
  const ticker = setInterval(() => display.update(snapshot()), 250);
  cleanups.push(() => clearInterval(ticker));

  job.start();
  display.update(snapshot());
  let outcome: "complete" | "interrupted";
  try {
    outcome = await Promise.race([job.done.then(() => "complete" as const), interrupted]);
    if (outcome === "complete" && options.seed) {
      log.info("download complete, seeding until interrupted");
      display.message(`Complete: ${torrent.name}. Seeding; press Ctrl-C to stop.`);
      outcome = await interrupted;
    }
  } catch (e) {
    for (const cleanup of cleanups) cleanup();
    display.finish([]);
    await job.stop();
    await log.close();
    throw e;
  }
  for (const cleanup of cleanups) cleanup();
  if (outcome === "interrupted") display.message("Stopping: telling trackers and closing peers...");
  await job.stop();
  const final = snapshot();
  display.finish(renderSummary({ ...final, verified: final.piecesDone === final.pieceCount }));
  if (log.path) io.out(`Log: ${log.path}\n`);
  log.info(`finished (${outcome})`);
  await log.close();
  return outcome === "interrupted" ? EXIT_INTERRUPTED : 0;
}

function emptySnapshot(torrent: Torrent): Omit<Snapshot, "name" | "elapsedMs" | "phase"> {
  return {
    piecesDone: 0,
    pieceCount: torrent.pieceCount,
    bytesDone: 0,
    totalBytes: torrent.totalLength,
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

async function openLog(options: CliOptions, io: CommandIO): Promise<Logger> {
  try {
    return await Logger.open({ dir: options.logDir, level: options.verbose ? "debug" : "info" });
  } catch (e) {
    io.err(`bittorrent: warning: ${e instanceof Error ? e.message : e}; logging is off\n`);
    return Logger.null();
  }
}
