/**
 * The download command: load the torrent, open the output folder, run the job with a live
 * status line, and finish with a summary; Ctrl-C stops cleanly.
 *
 * @module
 */
import { type FetchedTorrent, MetadataJob, TorrentJob } from "../client/mod.ts";
import { DEFAULT_BOOTSTRAP, Dht } from "../dht/mod.ts";
import type { PeerAddress } from "../engine/mod.ts";
import {
  type Magnet,
  parseMagnet,
  parseTorrent,
  type Torrent,
  TorrentError,
  torrentFileFromInfo,
} from "../metainfo/mod.ts";
import { type CliOptions, defaultStateDir } from "./args.ts";
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

/** A magnet link (`magnet:?...`) or the path of a .torrent file, loaded and checked. */
export async function loadInput(
  input: string,
): Promise<{ magnet: Magnet } | { torrent: Torrent }> {
  if (!/^magnet:/i.test(input)) return { torrent: await loadTorrent(input) };
  try {
    return { magnet: parseMagnet(input) };
  } catch (e) {
    if (e instanceof TorrentError) throw new CommandError(e.message);
    throw e;
  }
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

/** Stops on Ctrl-C, SIGTERM or `stopSignal`: `interrupted` resolves then; `dispose` unhooks. */
function watchInterrupts(stopSignal?: AbortSignal): {
  interrupted: Promise<"interrupted">;
  dispose: () => void;
} {
  let onSignal = () => {};
  const interrupted = new Promise<"interrupted">((resolve) =>
    onSignal = () => resolve("interrupted")
  );
  stopSignal?.addEventListener("abort", onSignal, { once: true });
  if (stopSignal?.aborted) onSignal();
  const signals = ["SIGINT", "SIGTERM"] as const;
  for (const sig of signals) {
    try {
      Deno.addSignalListener(sig, onSignal);
    } catch { /* SIGTERM is not available on Windows */ }
  }
  return {
    interrupted,
    dispose: () => {
      stopSignal?.removeEventListener("abort", onSignal);
      for (const sig of signals) {
        try {
          Deno.removeSignalListener(sig, onSignal);
        } catch { /* never added */ }
      }
    },
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
  const input = await loadInput(options.input);
  const log = await openLog(options, io);
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const display = new ProgressDisplay({
    write: options.quiet ? () => {} : io.out,
    isTTY: io.isTTY,
    columns: io.columns,
  });
  const { interrupted, dispose } = watchInterrupts(stopSignal);
  const cleanups: (() => unknown)[] = [dispose];
  const cleanUp = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };
  try {
    const isPrivate = "torrent" in input && input.torrent.private;
    const dht = options.dht && !isPrivate ? await startDht(options, log, io) : undefined;
    if (dht) cleanups.push(() => dht.stop());

    let torrent: Torrent;
    let peers: PeerAddress[] = [];
    if ("magnet" in input) {
      const fetched = await fetchMetadata(input.magnet, options, { log, dht, display, elapsed });
      const phase = await Promise.race([fetched.done, interrupted]);
      await fetched.stop();
      if (phase === "interrupted") {
        display.finish(["Stopped before the torrent's metadata arrived."]);
        return EXIT_INTERRUPTED;
      }
      ({ torrent, peers } = phase);
      if (options.saveTorrent) await saveTorrent(options.saveTorrent, torrent);
    } else torrent = input.torrent;
    log.info(
      `torrent ${torrent.name}: ${torrent.pieceCount} pieces of ${torrent.pieceLength} bytes, ` +
        `info-hash ${torrent.infoHashHex}`,
    );

    const job = await TorrentJob.open({
      torrent,
      output: options.output,
      port: options.port,
      maxPeers: options.maxPeers,
      maxDownloadRate: options.maxDownloadRate,
      maxUploadRate: options.maxUploadRate,
      seed: options.seed,
      log,
      dht,
      peers,
      onCheckProgress: (checked, total) =>
        display.update({
          ...emptySnapshot(torrent.name, torrent.pieceCount, torrent.totalLength),
          phase: "checking",
          checkProgress: total > 0 ? checked / total : 1,
          elapsedMs: elapsed(),
        }),
    });
    cleanups.push(() => job.stop());
    log.info(`listening for peers on port ${job.listener.port}`);
    const snapshot = (): Snapshot => {
      const stats = job.stats();
      return {
        ...stats,
        name: torrent.name,
        trackerStatus: job.trackerStatus,
        peerSources: describeSources(stats.peersBySource),
        elapsedMs: elapsed(),
      };
    };
    const ticker = setInterval(() => display.update(snapshot()), 250);
    cleanups.push(() => clearInterval(ticker));

    job.start();
    display.update(snapshot());
    let outcome = await Promise.race([job.done.then(() => "complete" as const), interrupted]);
    if (outcome === "complete" && options.seed) {
      log.info("download complete, seeding until interrupted");
      display.message(`Complete: ${torrent.name}. Seeding; press Ctrl-C to stop.`);
      outcome = await interrupted;
    }
    if (outcome === "interrupted") {
      display.message("Stopping: telling trackers and closing peers...");
    }
    await cleanUp();
    const final = snapshot();
    display.finish(renderSummary({ ...final, verified: final.piecesDone === final.pieceCount }));
    if (log.path) io.out(`Log: ${log.path}\n`);
    log.info(`finished (${outcome})`);
    return outcome === "interrupted" ? EXIT_INTERRUPTED : 0;
  } catch (e) {
    display.finish([]);
    throw e;
  } finally {
    await cleanUp();
    await log.close();
  }
}

/** "tracker 3, dht 2" from per-source peer counts, or undefined when nobody is connected. */
function describeSources(bySource: Record<string, number>): string | undefined {
  const parts = Object.entries(bySource).filter(([, n]) => n > 0).map(([s, n]) => `${s} ${n}`);
  return parts.length > 0 ? parts.join(", ") : undefined;
}

/** Starts the metadata phase of a magnet link, showing its progress. */
function fetchMetadata(
  magnet: Magnet,
  options: CliOptions,
  ctx: { log: Logger; dht?: Dht; display: ProgressDisplay; elapsed: () => number },
): { done: Promise<FetchedTorrent>; stop: () => Promise<void> } {
  const name = magnet.name ?? magnet.infoHashHex;
  ctx.log.info(`magnet ${magnet.infoHashHex}: fetching metadata`);
  const job = MetadataJob.start({
    magnet,
    port: options.port,
    maxPeers: options.maxPeers,
    log: ctx.log,
    dht: ctx.dht,
  });
  const show = () => {
    const s = job.stats();
    ctx.display.update({
      ...emptySnapshot(name, 0, 0),
      phase: "metadata",
      peersConnected: s.peersConnected,
      peersKnown: s.peersKnown,
      checkProgress: s.progress,
      trackerStatus: job.trackerStatus,
      elapsedMs: ctx.elapsed(),
    });
  };
  show();
  const ticker = setInterval(show, 250);
  return {
    done: job.done,
    stop: async () => {
      clearInterval(ticker);
      await job.stop();
    },
  };
}

/** Writes the .torrent of a fetched magnet link, refusing to replace an existing file. */
async function saveTorrent(path: string, torrent: Torrent): Promise<void> {
  try {
    await Deno.writeFile(path, torrentFileFromInfo(torrent.infoBytes, torrent.announce), {
      createNew: true,
    });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new CommandError(`--save-torrent: ${path} already exists; not replacing it`);
    }
    throw new CommandError(`--save-torrent: cannot write ${path}: ${fsReason(e)}`);
  }
}

/** Starts the DHT node on the listening port number (UDP), or any free port when taken. */
async function startDht(options: CliOptions, log: Logger, io: CommandIO): Promise<Dht | undefined> {
  const common = {
    bootstrap: options.dhtBootstrap ?? DEFAULT_BOOTSTRAP,
    statePath: `${defaultStateDir()}/dht.json`,
    log: log.child("dht"),
  };
  for (const port of [options.port, 0]) {
    const dht = new Dht({ ...common, port });
    try {
      await dht.start();
      return dht;
    } catch (e) {
      await dht.stop().catch(() => {});
      if (port === 0) {
        io.err(`bittorrent: warning: DHT is off: ${e instanceof Error ? e.message : e}\n`);
      }
    }
  }
  return undefined;
}

function emptySnapshot(
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

async function openLog(options: CliOptions, io: CommandIO): Promise<Logger> {
  try {
    return await Logger.open({ dir: options.logDir, level: options.verbose ? "debug" : "info" });
  } catch (e) {
    io.err(`bittorrent: warning: ${e instanceof Error ? e.message : e}; logging is off\n`);
    return Logger.null();
  }
}
