/**
 * The download command: load the torrent, open the output folder, run the job with a live
 * status line, and finish with a summary; Ctrl-C stops cleanly.
 *
 * @module
 */
import { type ClientTorrent, type SeedLimitMet, SeedWatch } from "../client/mod.ts";
import {
  listedFiles,
  type Magnet,
  parseTorrent,
  type Torrent,
  torrentFileFromInfo,
} from "../metainfo/mod.ts";
import { STATE_DIR } from "../storage/mod.ts";
import { fsReason, writeFileAtomic } from "../util/mod.ts";
import { CommandError, type CommandIO, EXIT_INTERRUPTED, processIO } from "./io.ts";
import { loadInput } from "./input.ts";
import { type CliOptions, resolveSelection } from "./args.ts";
import { checkingSnapshot, emptySnapshot, ProgressDisplay, type Snapshot } from "./display.ts";
import { JsonEvents } from "./events.ts";
import { JsonReporter, type Reporter, TerminalReporter } from "./report.ts";
import { formatDuration } from "./format.ts";
import { describeTorrent } from "./info.ts";
import type { Logger } from "./log.ts";
import { openClient, openLog, watchInterrupts } from "./process.ts";

/**
 * Runs a download as the CLI does and returns the process exit code: 0 when complete,
 * 130 when interrupted. Failures throw `CommandError` (or a domain error with a one-line message).
 * The `info` command and `--files` come here too: for a magnet link they need its metadata
 * first, fetched as a download does.
 */
export async function runDownload(
  options: CliOptions,
  io: CommandIO = processIO(),
  stopSignal?: AbortSignal,
): Promise<number> {
  const input = await loadInput(options.input);
  // `info` and `--files` show the torrent and stop; for a magnet link, once its info arrived.
  const inspect = options.command === "info" || options.listFiles === true;
  let known = "torrent" in input ? input.torrent : undefined;
  if (known && inspect) {
    io.out(describeTorrent(known, options));
    return 0;
  }
  const kept = !known && !inspect && "magnet" in input
    ? await loadSavedMetadata(input.magnet, options.output)
    : undefined;
  known ??= kept;
  if (known) chooseFiles(known, options); // a bad --select fails before anything starts
  const noPeerSource = noPeerSourceReason(input, known, options);
  if (noPeerSource && (!options.seed || "magnet" in input)) {
    const help = known?.private ? "" : " or leave the DHT on";
    throw new CommandError(`${noPeerSource}; give a peer with --peer HOST:PORT${help}`);
  }
  const log = await openLog(options, io);
  if (kept) log.info("using the torrent's metadata kept from an earlier run");
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const reporter = makeReporter(options, io);
  const { interrupted, dispose } = watchInterrupts(stopSignal);
  const cleanups: (() => unknown)[] = [dispose];
  const cleanUp = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };
  const warnPortMoved = portMovedWarning(options, (message) => {
    log.warn(message);
    reporter.notice({ kind: "warning", message });
  });
  if (noPeerSource) {
    const message = `${noPeerSource}; waiting for peers to connect`;
    log.warn(message);
    reporter.notice({ kind: "warning", message });
  }
  try {
    if (options.bind) checkBindable(options.bind);
    // A client with one torrent: one hub (port, peer id, what it learnt of peers) for both
    // phases of a magnet link.
    const client = await openClient(options, !(known?.private ?? false), log);
    cleanups.push(() => client.stop());
    const { hub } = client;
    if (hub.dhtError) {
      const message = `DHT is off: ${hub.dhtError}`;
      log.warn(message);
      reporter.notice({ kind: "warning", message });
    }
    log.info(
      `encryption: ${options.encryption}; uTP ${options.utp ? "on" : "off"}; ` +
        `PEX ${options.pex ? "on" : "off"}`,
    );
    log.info(`listening for peers on ${options.bind ?? "every address"}, port ${hub.port}`);
    warnPortMoved(hub.port);

    const added = client.add(known ? { torrent: known } : input, {
      peers: options.peers,
      maxPeers: options.maxPeers,
      log,
      onTracker: (status) => reporter.notice({ kind: "tracker", status }),
    });
    let torrent: Torrent;
    if (known) torrent = known;
    else {
      const magnet = (input as { magnet: Magnet }).magnet;
      const stopShowing = showMetadataPhase(added, magnet, log, reporter, elapsed);
      const phase = await Promise.race([added.metadata, interrupted]).finally(stopShowing);
      if (phase === "interrupted") {
        log.info("stopped before the torrent's metadata arrived");
        reporter.finish();
        if (!options.json) io.out("Stopped before the torrent's metadata arrived.\n");
        return EXIT_INTERRUPTED;
      }
      torrent = phase.torrent;
      if (options.saveTorrent) await saveTorrent(options.saveTorrent, torrent);
      if (inspect) {
        reporter.finish();
        io.out(describeTorrent(torrent, options));
        return 0;
      }
      await saveMetadata(torrent, options.output, log);
    }
    const selected = chooseFiles(torrent, options);
    if (selected) {
      const chosen = listedFiles(torrent).filter((i) => selected[i]).length;
      log.info(`downloading ${chosen} of ${listedFiles(torrent).length} files`);
    }
    log.info(
      `torrent ${torrent.name}: ${torrent.pieceCount} pieces of ${torrent.pieceLength} bytes, ` +
        `info-hash ${torrent.infoHashHex}`,
    );
    reporter.start({
      name: torrent.name,
      infoHash: torrent.infoHashHex,
      totalBytes: torrent.totalLength,
      pieceCount: torrent.pieceCount,
      output: options.output,
    });

    let checkStarted: number | undefined;
    const job = await added.open({
      output: options.output,
      seed: options.seed,
      selected,
      sequential: options.sequential,
      prealloc: options.prealloc,
      webSeeds: options.webSeeds,
      events: {
        pieceFailed: (piece, peers) => reporter.notice({ kind: "piece-failed", piece, peers }),
        peerBanned: (peer, reason) => reporter.notice({ kind: "peer-banned", peer, reason }),
      },
      onCheckProgress: (checked, total) => {
        // A check over in a moment (an empty folder) is not worth a line.
        checkStarted ??= performance.now();
        if (performance.now() - checkStarted < CHECK_QUIET_MS) return;
        reporter.update(checkingSnapshot(torrent, checked, total, elapsed()));
      },
    });
    const snapshot = (): Snapshot => {
      const stats = job.stats();
      const webSeeds = job.webSeeds();
      return {
        ...stats,
        name: torrent.name,
        webSeeds: webSeeds.length,
        webSeedsActive: webSeeds.filter((w) => w.state === "fetching").length,
        checkedBy: checkedBy(torrent),
        trackerStatus: job.trackerStatus,
        peerSources: describeSources(stats.peersBySource),
        elapsedMs: elapsed(),
      };
    };
    // Until "complete" is said, the line stays "downloading": the session turns to seeding a
    // moment before the files are flushed and the job says it is complete.
    let completeSaid = false;
    const ticker = setInterval(() => {
      const s = snapshot();
      if (completeSaid || s.phase === "downloading") reporter.update(s);
    }, 250);
    cleanups.push(() => clearInterval(ticker));

    added.start();
    // While seeding, `done` only settles by failing: `completed` marks the download's end.
    const complete = () => "complete" as const;
    let outcome = await Promise.race([
      job.completed.then(complete),
      job.done.then(complete),
      interrupted,
    ]);
    if (outcome === "complete") {
      // The piece layers a v2 torrent from a magnet link learnt from peers are kept with it, so
      // the next run can check the data without them.
      if ("magnet" in input && torrent.v2Pieces) await saveMetadata(torrent, options.output, log);
      const goal = options.seed ? describeSeedGoal(options) : undefined;
      const nothingFetched = job.stats().downloaded === 0;
      log.info(nothingFetched ? "data complete: nothing to download" : "download complete");
      reporter.notice({ kind: "complete", name: torrent.name, seedingGoal: goal });
      completeSaid = true;
      if (goal) {
        log.info(`seeding ${goal}`);
        const limit = watchSeedLimit(() => job.stats(), options);
        cleanups.push(limit.dispose);
        outcome = await Promise.race([limit.reached, job.done.then(complete), interrupted]);
        if (outcome === "complete" && limit.reason) {
          log.info(`seeding done: ${limit.reason}`);
          reporter.notice({ kind: "seeding-done", reason: limit.reason });
          await job.drainUploads(2_000);
        }
      }
    }
    if (outcome === "interrupted") {
      reporter.notice({ kind: "stopping", trackers: torrent.announce.length > 0 });
    }
    await cleanUp();
    const final = snapshot();
    reporter.finish({
      ...final,
      verified: final.piecesDone === final.pieceCount,
      interrupted: outcome === "interrupted",
      logPath: log.path,
    });
    log.info(`finished (${outcome})`);
    return outcome === "interrupted" ? EXIT_INTERRUPTED : 0;
  } catch (e) {
    log.error(`stopped by an error: ${e instanceof Error ? e.message : e}`);
    reporter.finish();
    throw e;
  } finally {
    await cleanUp();
    await log.close();
  }
}

/** How long checking the data may take before the status line shows it. */
const CHECK_QUIET_MS = 1000;

/** The status line and messages for people, or JSON events with `--json`. */
function makeReporter(options: CliOptions, io: CommandIO): Reporter {
  // `info --json` prints one object on stdout, and nothing else.
  if (options.json && options.command !== "info") return new JsonReporter(new JsonEvents(io.out));
  const display = new ProgressDisplay({
    write: options.quiet || options.json ? () => {} : io.out,
    isTTY: io.isTTY,
    columns: io.columns,
  });
  return new TerminalReporter(display, io.err);
}

/**
 * A function that warns, once, when the listener had to take another port than `--port` (it
 * was taken): peers told of the usual port would not find us.
 */
function portMovedWarning(
  options: CliOptions,
  warn: (message: string) => void,
): (port: number) => void {
  let warned = false;
  return (port) => {
    if (warned || options.port === 0 || port === options.port) return;
    warned = true;
    warn(`port ${options.port} is taken; listening for peers on port ${port} instead`);
  };
}

/**
 * Why a download could never find a peer, or undefined when it can: no tracker, no DHT, no peer
 * in the magnet link and none given with `--peer`. (With `--seed`, peers may still call us.)
 */
function noPeerSourceReason(
  input: { magnet: Magnet } | { torrent: Torrent },
  known: Torrent | undefined,
  options: CliOptions,
): string | undefined {
  const magnet = "magnet" in input ? input.magnet : undefined;
  const trackers = magnet ? magnet.trackers.length : known!.announce.length;
  const dht = options.dht && !(known?.private ?? false);
  if (trackers > 0 || (magnet?.peers.length ?? 0) > 0 || dht || (options.peers?.length ?? 0) > 0) {
    return undefined;
  }
  const names = magnet
    ? "the magnet link names no tracker and no peer"
    : "the torrent names no tracker";
  const noDht = known?.private ? "it is private (no DHT)" : "the DHT is off";
  return `no way to find peers: ${names}, ${noDht}, and no --peer was given`;
}

/** "tracker 3, dht 2" from per-source peer counts, or undefined when nobody is connected. */
/** What the summary says pieces were checked with. */
function checkedBy(torrent: Torrent): string {
  return { v1: "SHA-1", v2: "SHA-256 merkle trees", hybrid: "SHA-1 and SHA-256" }[torrent.version];
}

function describeSources(bySource: Record<string, number>): string | undefined {
  const parts = Object.entries(bySource).filter(([, n]) => n > 0).map(([s, n]) => `${s} ${n}`);
  return parts.length > 0 ? parts.join(", ") : undefined;
}

/** Shows the metadata phase of a magnet link while it runs; returns what stops showing it. */
function showMetadataPhase(
  added: ClientTorrent,
  magnet: Magnet,
  log: Logger,
  reporter: Reporter,
  elapsed: () => number,
): () => void {
  const name = magnet.name ?? magnet.infoHashHex;
  log.info(`magnet ${magnet.infoHashHex}: fetching metadata`);
  const show = () => {
    const s = added.metadataStats();
    if (!s) return;
    reporter.update({
      ...emptySnapshot(name, 0, 0),
      phase: "metadata",
      peersConnected: s.peersConnected,
      peersKnown: s.peersKnown,
      checkProgress: s.progress,
      trackerStatus: added.trackerStatus,
      elapsedMs: elapsed(),
    });
  };
  show();
  const ticker = setInterval(show, 250);
  return () => clearInterval(ticker);
}

/** Where a magnet link's fetched metadata is kept, so the next run need not fetch it again. */
function metadataPath(output: string, infoHashHex: string): string {
  return `${output}/${STATE_DIR}/${infoHashHex}.torrent`;
}

/**
 * The torrent of a magnet link fetched by an earlier run into `output`, when it is there and
 * still hashes to the link's info-hash; the link's trackers are added to its own.
 */
async function loadSavedMetadata(magnet: Magnet, output: string): Promise<Torrent | undefined> {
  let torrent: Torrent;
  try {
    torrent = parseTorrent(await Deno.readFile(metadataPath(output, magnet.infoHashHex)));
  } catch {
    return undefined; // none, or damaged: fetch it again
  }
  if (torrent.infoHashHex !== magnet.infoHashHex) return undefined;
  const known = new Set(torrent.announce.flat());
  const added = magnet.trackers.filter((url) => !known.has(url)).map((url) => [url]);
  return {
    ...torrent,
    announce: [...torrent.announce, ...added],
    urlList: [...new Set([...torrent.urlList, ...magnet.webSeeds])],
  };
}

/** Keeps a magnet link's fetched torrent for the next run; failing only costs a refetch. */
async function saveMetadata(torrent: Torrent, output: string, log: Logger): Promise<void> {
  const path = metadataPath(output, torrent.infoHashHex);
  try {
    await Deno.mkdir(`${output}/${STATE_DIR}`, { recursive: true });
    const bytes = torrentFileFromInfo(torrent.infoBytes, torrent.announce, torrent.v2Pieces);
    await writeFileAtomic(path, bytes);
  } catch (e) {
    log.warn(`the torrent's metadata was not kept in ${output}: ${fsReason(e)}`);
  }
}

/** Writes the .torrent of a fetched magnet link, refusing to replace an existing file. */
async function saveTorrent(path: string, torrent: Torrent): Promise<void> {
  try {
    const bytes = torrentFileFromInfo(torrent.infoBytes, torrent.announce, torrent.v2Pieces);
    await Deno.writeFile(path, bytes, { createNew: true });
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

// ---- file selection and seeding limits ----------------------------------------------------

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
 * The limit that ended seeding, in words.
 *
 * @example
 * ```ts
 * import { describeSeedLimitMet } from "./download.ts";
 * console.log(describeSeedLimitMet({ limit: "ratio", ratio: 1.5 })); // "ratio 1.50 reached"
 * console.log(describeSeedLimitMet({ limit: "time", seededMs: 60_000 })); // "seeded for 1m00s"
 * ```
 */
export function describeSeedLimitMet(met: SeedLimitMet): string {
  switch (met.limit) {
    case "ratio":
      return `ratio ${Number.isFinite(met.ratio) ? met.ratio.toFixed(2) : "-"} reached`;
    case "time":
      return `seeded for ${formatDuration(met.seededMs)}`;
    case "idle":
      return `nothing uploaded for ${formatDuration(met.idleMs)}`;
  }
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
  const seeding = new SeedWatch();
  const seedLimits = { ratio: limits.seedRatio, timeMs: limits.seedTimeMs };
  watch.reached = new Promise((resolve) => {
    const check = () => {
      const met = seeding.check(stats(), seedLimits);
      if (met === undefined) return;
      watch.reason = describeSeedLimitMet(met);
      clearInterval(timer);
      resolve("complete");
    };
    const timer = setInterval(check, 250);
    watch.dispose = () => clearInterval(timer);
    check();
  });
  return watch;
}
