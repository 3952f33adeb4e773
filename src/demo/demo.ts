/**
 * The offline demo: a random payload, a torrent of it, our own tracker and seeders on
 * 127.0.0.1, and a download through the real command-line path (`parseArgs` then
 * `runDownload`), checked byte for byte at the end.
 *
 * @module
 */
import { PeerHub, TorrentJob } from "../client/mod.ts";
import { type CommandIO, EXIT_INTERRUPTED, processIO, runDownload } from "../cli/mod.ts";
import { formatBytes, formatRate, Logger, parseArgs } from "../cli/mod.ts";
import { createTorrentFromPath, parseTorrent } from "../metainfo/mod.ts";
import { startTracker, type TrackerServer } from "../tracker/mod.ts";
import {
  DEFAULT_DEMO_SEEDERS,
  DEFAULT_DEMO_SIZE,
  DemoError,
  MAX_DEMO_SEEDERS,
  MAX_DEMO_SIZE,
} from "./args.ts";
import { comparePayload, type FileMismatch, planPayload, writePayload } from "./payload.ts";

/** What {@link runDemo} should do; every field has a default. */
export interface DemoOptions {
  /** Payload size in bytes. Default 64 MiB. */
  size?: number;
  /** Seeders to start. Default 3. */
  seeders?: number;
  /** Keep the temporary folder. Default false. */
  keep?: boolean;
  /** No step messages and no live status line (passes `-q` to the download). Default false. */
  quiet?: boolean;
  /** Where the demo and the download write. Default this process's stdout and stderr. */
  io?: CommandIO;
  /** Aborting it stops the demo and cleans up (the entry point wires Ctrl-C to it). */
  signal?: AbortSignal;
  /** Extra download flags, e.g. `["--max-download-rate", "1M"]` to watch it slowly. */
  extraArgs?: string[];
  /** Give up when the download has not finished after this long. Default 10 minutes. */
  timeoutMs?: number;
  /** Folder to create the temporary folder in. Default the system's temp folder. */
  tempRoot?: string;
}

/** How a demo run ended. */
export interface DemoResult {
  /** The download completed and every file is byte-identical to the payload. */
  ok: boolean;
  /** Stopped by the signal (Ctrl-C) before it could finish. */
  interrupted: boolean;
  /** The exit code for the process: 0 passed, 1 mismatch, 130 interrupted. */
  exitCode: number;
  /** Payload size in bytes. */
  totalBytes: number;
  /** Files in the payload, the empty one included. */
  files: number;
  /** Seeders that served it. */
  seeders: number;
  /** Time of the download command alone, in ms (0 when it did not run). */
  elapsedMs: number;
  /** Average download speed in bytes per second over `elapsedMs`. */
  bytesPerSecond: number;
  /** Files that differ from the payload (empty when `ok`). */
  mismatches: FileMismatch[];
  /** The temporary folder when it was kept (`keep`), else undefined. */
  keptDir?: string;
}

/** How long the seeders get to register with the tracker before the demo gives up. */
const SEEDER_REGISTER_TIMEOUT_MS = 15_000;
const DEFAULT_TIMEOUT_MS = 10 * 60_000;
const TORRENT_NAME = "bittorrent-demo";

/**
 * Runs the whole offline demo and reports how it went. Makes a random payload of `size` bytes in
 * a temporary folder, creates its torrent (announce: our tracker over HTTP, then UDP), starts the
 * tracker and `seeders` seeding clients on 127.0.0.1, downloads with the same code path as
 * `bittorrent -i <torrent> -o <dir> --port 0 --log-dir <dir>`, compares every file with the
 * payload, stops everything and removes the folder (unless `keep`). Throws {@link DemoError}
 * (or the download's own one-line error) when the swarm cannot be set up or the download stalls.
 *
 * @example
 * ```ts
 * import { type DemoResult, runDemo } from "./demo.ts";
 * // Not run here (it opens sockets on 127.0.0.1); `deno task demo` does this with defaults.
 * const small = (): Promise<DemoResult> => runDemo({ size: 4 << 20, seeders: 2, quiet: true });
 * console.log(typeof small); // "function"
 * ```
 */
export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const size = opts.size ?? DEFAULT_DEMO_SIZE;
  const seederCount = opts.seeders ?? DEFAULT_DEMO_SEEDERS;
  if (!Number.isSafeInteger(size) || size <= 0 || size > MAX_DEMO_SIZE) {
    throw new DemoError(`payload size must be from 1 byte to ${formatBytes(MAX_DEMO_SIZE)}`);
  }
  if (!Number.isSafeInteger(seederCount) || seederCount < 1 || seederCount > MAX_DEMO_SEEDERS) {
    throw new DemoError(`seeders must be a whole number from 1 to ${MAX_DEMO_SEEDERS}`);
  }
  const io = opts.io ?? processIO();
  const say = opts.quiet ? () => {} : (text: string) => io.out(`${text}\n`);
  const plan = planPayload(size);
  const result: DemoResult = {
    ok: false,
    interrupted: false,
    exitCode: 1,
    totalBytes: size,
    files: plan.length,
    seeders: seederCount,
    elapsedMs: 0,
    bytesPerSecond: 0,
    mismatches: [],
  };
  const interrupted = (): DemoResult => {
    say("Interrupted: stopping the swarm and cleaning up.");
    result.interrupted = true;
    result.exitCode = EXIT_INTERRUPTED;
    return result;
  };
  if (opts.signal?.aborted) return interrupted();

  const root = await Deno.makeTempDir({ dir: opts.tempRoot, prefix: "bittorrent-demo-" });
  const seedDir = `${root}/seed`;
  const payloadDir = `${seedDir}/${TORRENT_NAME}`;
  const downloadDir = `${root}/download`;
  const logDir = `${root}/logs`;
  const torrentPath = `${root}/${TORRENT_NAME}.torrent`;
  let tracker: TrackerServer | undefined;
  let seederLog: Logger | undefined;
  const seeders: TorrentJob[] = [];
  const stopSwarm = async () => {
    await Promise.allSettled(seeders.splice(0).map((s) => s.stop()));
    await tracker?.close().catch(() => {});
    tracker = undefined;
    await seederLog?.close();
    seederLog = undefined;
  };

  try {
    say(`Demo folder: ${root}`);
    say(`Writing ${formatBytes(size)} of random data in ${plan.length} files (one empty)...`);
    try {
      await writePayload(payloadDir, plan, opts.signal);
    } catch (e) {
      if (opts.signal?.aborted) return interrupted();
      throw e;
    }

    tracker = await startTracker({ hostname: "127.0.0.1", port: 0 });
    say(`Tracker: ${tracker.httpUrl} and ${tracker.udpUrl}`);
    const torrentBytes = await createTorrentFromPath(payloadDir, {
      announce: [[tracker.httpUrl], [tracker.udpUrl]],
      comment: "bittorrent offline demo",
    });
    await Deno.writeFile(torrentPath, torrentBytes);
    const torrent = parseTorrent(torrentBytes);
    say(
      `Torrent: ${torrentPath} (${torrent.pieceCount} pieces of ` +
        `${formatBytes(torrent.pieceLength)}, info-hash ${torrent.infoHashHex})`,
    );
    if (opts.signal?.aborted) return interrupted();

    seederLog = await Logger.open({ dir: `${logDir}/seeders`, component: "seeders" });
    for (let i = 0; i < seederCount; i++) {
      // Each seeder is a client of its own: its own port and peer id.
      const job = await TorrentJob.open({
        torrent,
        output: seedDir,
        seed: true,
        hub: await PeerHub.open({ hostname: "127.0.0.1", port: 0, utp: false }),
        ownsHub: true,
        log: seederLog.child(`seeder-${i + 1}`),
      });
      seeders.push(job);
      job.start();
    }
    say(
      `Seeders: ${seederCount} on 127.0.0.1 port ${seeders.map((s) => s.port).join(", ")}`,
    );
    const registered = await waitForSeeders(
      tracker,
      torrent.infoHashHex,
      seederCount,
      opts.signal,
    );
    if (opts.signal?.aborted) return interrupted();
    if (!registered) {
      throw new DemoError(
        `the seeders did not reach the tracker within ${SEEDER_REGISTER_TIMEOUT_MS / 1000} s`,
      );
    }

    const argv = [
      "-i",
      torrentPath,
      "-o",
      downloadDir,
      "--port",
      "0",
      "--log-dir",
      logDir,
      // The demo is offline: its swarm is the tracker and seeders above, nothing else.
      "--no-dht",
      ...(opts.quiet ? ["-q"] : []),
      ...(opts.extraArgs ?? []),
    ];
    const parsed = parseArgs(argv);
    if (!("input" in parsed)) throw new DemoError("the download arguments asked for help");
    say(`Downloading: bittorrent ${argv.map(quoteArg).join(" ")}`);

    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), timeoutMs);
    const stop = opts.signal ? AbortSignal.any([opts.signal, deadline.signal]) : deadline.signal;
    const started = performance.now();
    let code: number;
    try {
      code = await runDownload(parsed, io, stop);
    } finally {
      clearTimeout(timer);
    }
    result.elapsedMs = performance.now() - started;
    result.bytesPerSecond = result.elapsedMs > 0 ? size / (result.elapsedMs / 1000) : 0;
    if (opts.signal?.aborted) return interrupted();
    if (deadline.signal.aborted || code === EXIT_INTERRUPTED) {
      throw new DemoError(`the download did not finish within ${Math.round(timeoutMs / 1000)} s`);
    }

    await stopSwarm();
    say("Comparing every downloaded file with the payload...");
    result.mismatches = await comparePayload(payloadDir, `${downloadDir}/${TORRENT_NAME}`, plan);
    result.ok = result.mismatches.length === 0;
    result.exitCode = result.ok ? 0 : 1;
    const seconds = (result.elapsedMs / 1000).toFixed(2);
    if (result.ok) {
      io.out(
        `Demo passed: ${formatBytes(size)} in ${plan.length} files downloaded from ` +
          `${seederCount} ${seederCount === 1 ? "seeder" : "seeders"} in ${seconds} s ` +
          `(${formatRate(result.bytesPerSecond)}); every file is byte-identical.\n`,
      );
    } else {
      io.err(`Demo FAILED: ${result.mismatches.length} of ${plan.length} files differ:\n`);
      for (const m of result.mismatches) io.err(`  ${m.path}: ${m.reason}\n`);
    }
    return result;
  } finally {
    await stopSwarm();
    if (opts.keep) {
      result.keptDir = root;
      say(`Kept ${root} (payload in seed/, download in download/, logs in logs/).`);
    } else {
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  }
}

/** Waits until the tracker lists `count` seeders; false after the timeout or on abort. */
async function waitForSeeders(
  tracker: TrackerServer,
  infoHashHex: string,
  count: number,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const until = performance.now() + SEEDER_REGISTER_TIMEOUT_MS;
  while (performance.now() < until && !signal?.aborted) {
    if (tracker.swarm(infoHashHex).complete >= count) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

/** Quotes an argument for display when a shell would split it. */
function quoteArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}
