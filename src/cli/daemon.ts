/**
 * The daemon command: one client for many torrents, in the foreground, driven over
 * Transmission's RPC until Ctrl-C, SIGTERM or a `session-close`, which stop every torrent
 * (announcing `stopped`, flushing, saving resume records) and the RPC endpoint.
 *
 * @module
 */
import {
  dataDir,
  DEFAULT_SPEED_SETTINGS,
  KeptTorrents,
  runDoneScript,
  SavedTorrents,
  SessionBlocklist,
  SpeedLimits,
  WatchFolder,
} from "../client/mod.ts";
import { addCounts, RpcServer, thisRunCounts, transmissionMethods } from "../rpc/mod.ts";
import { webPages } from "../web/mod.ts";
import type { DaemonOptions } from "./args.ts";
import { saveSettings, sessionSettings } from "./settings_file.ts";
import { loadStats, saveStats } from "./stats_file.ts";
import { encodeBase64, fsReason, MemoryReleaser } from "../util/mod.ts";
import { resolve } from "node:path";
import { CommandError, type CommandIO, processIO } from "./io.ts";
import { openClient, openLog, watchInterrupts } from "./process.ts";

/**
 * How often the daemon gives back what a burst left behind (the heap's garbage once quiet, the C
 * allocator's free memory; see `MemoryReleaser`), which otherwise stays resident. A look takes
 * well under a millisecond when there is little to give.
 */
const RELEASE_MEMORY_MS = 10_000;
/**
 * How long after a `session-close` the daemon starts to stop: its answer is written at once,
 * and stopping closes every RPC connection.
 */
const SESSION_CLOSE_DELAY_MS = 200;
/** How often the session statistics are saved while the daemon runs (and when it stops). */
const SAVE_STATS_MS = 60_000;
/** How often the alternative speed limits' schedule is looked at: it is set in minutes. */
const SCHEDULE_CHECK_MS = 20_000;

/**
 * Runs the daemon until it is told to stop (a signal, or `stopSignal`); returns 0 then. A peer
 * or RPC port that cannot be had is a `CommandError`.
 */
export async function runDaemon(
  options: DaemonOptions,
  version: string,
  io: CommandIO = processIO(),
  stopSignal?: AbortSignal,
): Promise<number> {
  const log = await openLog(options, io);
  const closed = new AbortController();
  const { interrupted, dispose } = watchInterrupts(
    stopSignal ? AbortSignal.any([stopSignal, closed.signal]) : closed.signal,
  );
  // Run from each torrent's folder, a program named by a path is found from where we started.
  const doneScript = options.doneScript?.includes("/")
    ? resolve(options.doneScript)
    : options.doneScript;
  try {
    // The daemon keeps its blocklist itself: a list it cannot fetch does not stop it.
    const client = await openClient({ ...options, blocklist: undefined }, true, log);
    try {
      if (client.hub.dhtError) log.warn(`DHT is off: ${client.hub.dhtError}`);
      // The torrents of earlier runs come back first, then the RPC opens.
      const kept = await KeptTorrents.open({
        client,
        saved: new SavedTorrents(`${options.stateDir}/torrents`),
        maxActive: options.maxActive,
        maxPeers: options.maxPeers,
        incompleteDir: options.incompleteDir,
        log,
        onDownloaded: doneScript === undefined ? undefined : (t, record) =>
          runDoneScript(
            doneScript,
            {
              id: t.id,
              name: t.name ?? record.hash,
              hash: record.hash,
              dir: dataDir(record), // a move that failed leaves it in the incomplete folder
              labels: record.labels ?? [],
              downloaded: t.totals().downloaded,
              trackers: kept.trackersOf(t).flat(),
            },
            `bittorrent ${version}`,
            log,
          ),
      });
      const speeds = new SpeedLimits(
        { download: client.hub.downloadLimiter, upload: client.hub.uploadLimiter },
        {
          download: options.maxDownloadRate,
          upload: options.maxUploadRate,
          altDownload: options.altDownloadRate,
          altUpload: options.altUploadRate,
          altOn: options.altSpeed,
          schedule: options.altSchedule
            ? { ...options.altSchedule, on: true }
            : DEFAULT_SPEED_SETTINGS.schedule,
        },
      );
      const blocklist = await SessionBlocklist.open(
        client.hub.network,
        options.stateDir,
        options.blocklist,
        log,
      );
      const started = Date.now();
      const earlierRuns = await loadStats(options.stateDir);
      const keepStats = () =>
        saveStats(options.stateDir, addCounts(earlierRuns, thisRunCounts(kept, started)))
          .catch((e) => log.warn(`session statistics not saved: ${fsReason(e)}`));
      const methods = transmissionMethods({
        kept,
        started,
        earlierRuns,
        downloadDir: options.output,
        version: `bittorrent ${version}`,
        peerPort: options.port,
        doneScript,
        seeding: {
          ratio: options.seedRatio,
          idleMinutes: options.seedIdleMs === undefined ? undefined : options.seedIdleMs / 60_000,
        },
        startAdded: !options.addPaused,
        speeds,
        blocklist,
        // What a remote changes (the web page, transmission-remote) holds after a restart.
        saveSession: (values) =>
          saveSettings(options.stateDir, sessionSettings(values))
            .catch((e) => log.warn(`settings not saved: ${fsReason(e)}`)),
        close: () => {
          log.info("session-close asked over RPC");
          setTimeout(() => closed.abort(), SESSION_CLOSE_DELAY_MS);
        },
        log,
      });
      let server: RpcServer;
      try {
        server = RpcServer.start({
          hostname: options.rpcBind,
          port: options.rpcPort,
          auth: options.rpcAuth,
          hosts: options.rpcHosts,
          methods,
          pages: webPages(client),
          onError: (message) => log.warn(message),
        });
      } catch (e) {
        await blocklist.close(); // a fetch still running would hold the process
        const why = e instanceof Deno.errors.AddrInUse ? "it is in use" : String(e);
        throw new CommandError(`cannot serve RPC on ${options.rpcBind}:${options.rpcPort}: ${why}`);
      }
      const host = options.rpcBind.includes(":") ? `[${options.rpcBind}]` : options.rpcBind;
      const line = `peers on port ${client.hub.port}; RPC at ` +
        `http://${host}:${server.port}/transmission/rpc`;
      log.info(`daemon running: ${line}`);
      io.out(`bittorrent daemon: ${line} (Ctrl-C stops)\n`);
      const memory = new MemoryReleaser();
      const release = setInterval(() => memory.release(), RELEASE_MEMORY_MS);
      const statsTimer = setInterval(keepStats, SAVE_STATS_MS);
      const scheduleTimer = setInterval(() => speeds.tick(), SCHEDULE_CHECK_MS);
      // A dropped file is added as a torrent-add of its bytes would add it.
      const watch = options.watchDir === undefined ? undefined : WatchFolder.start({
        dir: options.watchDir,
        add: async (bytes) => {
          await methods["torrent-add"]({ metainfo: encodeBase64(bytes) });
        },
        log,
      });
      await interrupted;
      watch?.stop();
      clearInterval(release);
      clearInterval(statsTimer);
      clearInterval(scheduleTimer);
      log.info("stopping");
      await server.stop();
      await kept.close();
      await blocklist.close();
      await keepStats();
    } finally {
      await client.stop();
    }
    log.info("stopped");
    return 0;
  } finally {
    dispose();
    await log.close();
  }
}
