/**
 * The download command: load the torrent, open the output folder, run the job with a live
 * status line, and finish with a summary; Ctrl-C stops cleanly.
 *
 * @module
 */
import {
  combineDhtNodes,
  type DhtNode,
  type FetchedTorrent,
  MetadataJob,
  TorrentJob,
} from "../client/mod.ts";
import { DEFAULT_BOOTSTRAP, Dht } from "../dht/mod.ts";
import type { SourcedAddress } from "../engine/mod.ts";
import {
  type Magnet,
  parseMagnet,
  parseTorrent,
  type Torrent,
  TorrentError,
  torrentFileFromInfo,
} from "../metainfo/mod.ts";
import { PeerNetwork } from "../peer/mod.ts";
import { type CliOptions, defaultStateDir, resolveSelection } from "./args.ts";
import {
  checkingSnapshot,
  emptySnapshot,
  ProgressDisplay,
  renderSummary,
  type Snapshot,
} from "./display.ts";
import { formatBytes, formatDuration } from "./format.ts";
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
  if ("torrent" in input) {
    if (options.listFiles) {
      io.out(renderFileList(input.torrent));
      return 0;
    }
    chooseFiles(input.torrent, options); // a bad --select fails before anything starts
  }
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
    if (options.bind) checkBindable(options.bind);
    const isPrivate = "torrent" in input && input.torrent.private;
    const dht = options.dht && !isPrivate ? await startDht(options, log, io) : undefined;
    if (dht) cleanups.push(() => dht.stop());
    // One network for both phases, so what it learnt of peers' encryption carries over.
    const network = new PeerNetwork({ encryption: options.encryption });
    log.info(`encryption: ${options.encryption}`);

    let torrent: Torrent;
    let peers: SourcedAddress[] = [];
    if ("magnet" in input) {
      const fetched = await fetchMetadata(input.magnet, options, {
        log,
        dht,
        network,
        display,
        elapsed,
      });
      const phase = await Promise.race([fetched.done, interrupted]);
      await fetched.stop();
      if (phase === "interrupted") {
        display.finish(["Stopped before the torrent's metadata arrived."]);
        return EXIT_INTERRUPTED;
      }
      ({ torrent, peers } = phase);
      if (options.saveTorrent) await saveTorrent(options.saveTorrent, torrent);
      if (options.listFiles) {
        display.finish([]);
        io.out(renderFileList(torrent));
        return 0;
      }
    } else torrent = input.torrent;
    const selected = chooseFiles(torrent, options);
    if (selected) {
      const chosen = listedFiles(torrent).filter((i) => selected[i]).length;
      log.info(`downloading ${chosen} of ${listedFiles(torrent).length} files`);
    }
    log.info(
      `torrent ${torrent.name}: ${torrent.pieceCount} pieces of ${torrent.pieceLength} bytes, ` +
        `info-hash ${torrent.infoHashHex}`,
    );

    const job = await TorrentJob.open({
      torrent,
      output: options.output,
      port: options.port,
      hostname: options.bind,
      network,
      maxPeers: options.maxPeers,
      maxDownloadRate: options.maxDownloadRate,
      maxUploadRate: options.maxUploadRate,
      seed: options.seed,
      selected,
      sequential: options.sequential,
      prealloc: options.prealloc,
      log,
      dht,
      peers,
      onCheckProgress: (checked, total) =>
        display.update(checkingSnapshot(torrent, checked, total, elapsed())),
    });
    cleanups.push(() => job.stop());
    log.info(
      `listening for peers on ${options.bind ?? "every address"}, port ${job.listener.port}`,
    );
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
    // While seeding, `done` only settles by failing: `completed` marks the download's end.
    const complete = () => "complete" as const;
    let outcome = await Promise.race([
      job.completed.then(complete),
      job.done.then(complete),
      interrupted,
    ]);
    if (outcome === "complete" && options.seed) {
      const goal = describeSeedGoal(options);
      log.info(`download complete, seeding ${goal}`);
      display.message(`Complete: ${torrent.name}. Seeding ${goal}; press Ctrl-C to stop.`);
      const limit = watchSeedLimit(() => job.stats(), options);
      cleanups.push(limit.dispose);
      outcome = await Promise.race([limit.reached, job.done.then(complete), interrupted]);
      if (outcome === "complete" && limit.reason) {
        log.info(`seeding done: ${limit.reason}`);
        display.message(`Seeding done: ${limit.reason}.`);
        await job.session.drainUploads(2_000);
      }
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
  ctx: {
    log: Logger;
    dht?: DhtNode;
    network: PeerNetwork;
    display: ProgressDisplay;
    elapsed: () => number;
  },
): { done: Promise<FetchedTorrent>; stop: () => Promise<void> } {
  const name = magnet.name ?? magnet.infoHashHex;
  ctx.log.info(`magnet ${magnet.infoHashHex}: fetching metadata`);
  const job = MetadataJob.start({
    magnet,
    port: options.port,
    hostname: options.bind,
    network: ctx.network,
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

/** Fails with one clear line when `--bind` names no address of this machine. */
function checkBindable(address: string): void {
  try {
    Deno.listen({ hostname: address, port: 0 }).close();
  } catch (e) {
    const why = e instanceof Deno.errors.PermissionDenied ? "permission denied" : "it is not an " +
      "address of this machine";
    throw new CommandError(`--bind ${address}: cannot listen there (${why})`);
  }
}

/** A running DHT: one node per address family this host has. */
type RunningDht = DhtNode & { stop(): Promise<unknown> };

/**
 * Starts an IPv4 DHT node on the listening port number (UDP), or any free port when taken,
 * and an IPv6 node (BEP 32) on the same port where the host has IPv6; with `--bind`, one node
 * on that address only.
 */
async function startDht(
  options: CliOptions,
  log: Logger,
  io: CommandIO,
): Promise<RunningDht | undefined> {
  const start = async (hostname: string, file: string, ports: number[]) => {
    for (const port of ports) {
      const dht = new Dht({
        hostname,
        port,
        bootstrap: options.dhtBootstrap ?? DEFAULT_BOOTSTRAP,
        statePath: `${defaultStateDir()}/${file}`,
        log: log.child(file === "dht.json" ? "dht" : "dht6"),
      });
      try {
        await dht.start();
        return dht;
      } catch (e) {
        await dht.stop().catch(() => {});
        if (port === ports.at(-1)) throw e;
      }
    }
  };
  // The first node takes the listening port's number; a second (IPv6) node follows it.
  const addresses = options.bind ? [options.bind] : ["0.0.0.0", "::"];
  const nodes: Dht[] = [];
  for (const address of addresses) {
    const v6 = address.includes(":");
    const ports = nodes.length === 0 ? [options.port, 0] : [nodes[0].port, 0];
    try {
      nodes.push((await start(address, v6 ? "dht6.json" : "dht.json", ports))!);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      if (nodes.length > 0) log.debug(`no IPv6 DHT node: ${why}`);
      else {
        io.err(`bittorrent: warning: DHT is off: ${why}\n`);
        return undefined;
      }
    }
  }
  return { ...combineDhtNodes(nodes), stop: () => Promise.all(nodes.map((n) => n.stop())) };
}

async function openLog(options: CliOptions, io: CommandIO): Promise<Logger> {
  try {
    return await Logger.open({ dir: options.logDir, level: options.verbose ? "debug" : "info" });
  } catch (e) {
    io.err(`bittorrent: warning: ${e instanceof Error ? e.message : e}; logging is off\n`);
    return Logger.null();
  }
}

// ---- file listing, selection and seeding limits -------------------------------------------

/**
 * Indexes into `torrent.files` of the files a user sees and numbers from 1: pad files and
 * symlink entries hold no data of their own and are left out.
 */
function listedFiles(torrent: Torrent): number[] {
  const out: number[] = [];
  torrent.files.forEach((f, i) => {
    if (!f.padding && f.symlink === undefined) out.push(i);
  });
  return out;
}

/**
 * The `--files` listing: the torrent's name and size, then one line per file with the index
 * that `--select` and `--exclude` take, its size and its path.
 *
 * @example
 * ```ts
 * import { renderFileList } from "./download.ts";
 * import { createTorrentFromBuffers, parseTorrent } from "../metainfo/mod.ts";
 * const torrent = parseTorrent(createTorrentFromBuffers("show", [
 *   { path: ["e1.mkv"], data: new Uint8Array(3000) },
 *   { path: ["e2.mkv"], data: new Uint8Array(1000) },
 * ], { pieceLength: 16384, creationDate: null }));
 * console.log(renderFileList(torrent));
 * // show: 2 files, 3.9 KiB in 1 piece of 16.0 KiB
 * //   1  2.9 KiB  show/e1.mkv
 * //   2   1000 B  show/e2.mkv
 * ```
 */
export function renderFileList(torrent: Torrent): string {
  const listed = listedFiles(torrent);
  const sizes = listed.map((i) => formatBytes(torrent.files[i].length));
  const indexWidth = String(listed.length).length;
  const sizeWidth = Math.max(0, ...sizes.map((s) => s.length));
  const pieces = torrent.pieceCount === 1 ? "1 piece" : `${torrent.pieceCount} pieces`;
  const files = listed.length === 1 ? "1 file" : `${listed.length} files`;
  const lines = [
    `${oneLine(torrent.name)}: ${files}, ${formatBytes(torrent.totalLength)} in ${pieces} of ` +
    formatBytes(torrent.pieceLength),
  ];
  listed.forEach((fileIndex, k) => {
    const index = String(k + 1).padStart(indexWidth);
    const path = oneLine(torrent.files[fileIndex].path.join("/"));
    lines.push(`  ${index}  ${sizes[k].padStart(sizeWidth)}  ${path}`);
  });
  return lines.join("\n") + "\n";
}

/** Keeps names from a torrent on one line and free of terminal escapes. */
function oneLine(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, "?");
}

/**
 * The per-file choice (one entry per `torrent.files` entry) of `--select` / `--exclude`, or
 * undefined for every file. Throws `UsageError` for an index the torrent does not have.
 */
function chooseFiles(torrent: Torrent, options: CliOptions): boolean[] | undefined {
  if (!options.fileSelection) return undefined;
  const listed = listedFiles(torrent);
  const chosen = resolveSelection(options.fileSelection, listed.length);
  const selected = torrent.files.map(() => false);
  listed.forEach((fileIndex, k) => selected[fileIndex] = chosen[k]);
  return selected;
}

/** "until Ctrl-C", "until ratio 1.5", "for 2h00m" or "until ratio 1.5 or for 2h00m". */
function describeSeedGoal(options: CliOptions): string {
  const parts: string[] = [];
  if (options.seedRatio !== undefined) parts.push(`until ratio ${options.seedRatio}`);
  if (options.seedTimeMs !== undefined) parts.push(`for ${formatDuration(options.seedTimeMs)}`);
  return parts.length > 0 ? parts.join(" or ") : "until Ctrl-C";
}

/**
 * Why seeding should stop now, or undefined to go on: the share ratio (bytes uploaded over the
 * size of what was downloaded) reached `seedRatio`, or `seedTimeMs` passed. With both, the first
 * one met ends it, as in aria2. Nothing to share (an empty download) meets any ratio.
 *
 * @example
 * ```ts
 * import { seedLimitReached } from "./download.ts";
 * const stats = { uploaded: 150, totalBytes: 100 };
 * console.log(seedLimitReached(stats, 1000, { seedRatio: 1.5 })); // "ratio 1.50 reached"
 * console.log(seedLimitReached(stats, 1000, { seedRatio: 2, seedTimeMs: 60_000 })); // undefined
 * ```
 */
export function seedLimitReached(
  stats: { uploaded: number; totalBytes: number },
  seedingMs: number,
  limits: { seedRatio?: number; seedTimeMs?: number },
): string | undefined {
  if (limits.seedRatio !== undefined) {
    const ratio = stats.totalBytes > 0 ? stats.uploaded / stats.totalBytes : Infinity;
    if (ratio >= limits.seedRatio) {
      return `ratio ${Number.isFinite(ratio) ? ratio.toFixed(2) : "-"} reached`;
    }
  }
  if (limits.seedTimeMs !== undefined && seedingMs >= limits.seedTimeMs) {
    return `seeded for ${formatDuration(seedingMs)}`;
  }
  return undefined;
}

/** Checks the seeding limits four times a second; `reached` resolves once one is met. */
function watchSeedLimit(
  stats: () => { uploaded: number; totalBytes: number },
  limits: { seedRatio?: number; seedTimeMs?: number },
): { reached: Promise<"complete">; reason?: string; dispose: () => void } {
  const watch: { reached: Promise<"complete">; reason?: string; dispose: () => void } = {
    reached: new Promise(() => {}),
    dispose: () => {},
  };
  if (limits.seedRatio === undefined && limits.seedTimeMs === undefined) return watch;
  const since = performance.now();
  watch.reached = new Promise((resolve) => {
    const check = () => {
      const reason = seedLimitReached(stats(), performance.now() - since, limits);
      if (reason === undefined) return;
      watch.reason = reason;
      clearInterval(timer);
      resolve("complete");
    };
    const timer = setInterval(check, 250);
    watch.dispose = () => clearInterval(timer);
    check();
  });
  return watch;
}
