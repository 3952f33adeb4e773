/**
 * What the commands that run for a while share: watching for Ctrl-C and SIGTERM, the log file,
 * and the client with its peer port, made from the flags they have in common.
 *
 * @module
 */
import { Client } from "../client/mod.ts";
import { DEFAULT_BOOTSTRAP } from "../dht/mod.ts";
import { type Blocklist, loadBlocklist } from "../peer/mod.ts";
import { FetchError, fsReason } from "../util/mod.ts";
import { type CliOptions, defaultStateDir } from "./args.ts";
import { CommandError, type CommandIO } from "./io.ts";
import { Logger } from "./log.ts";

/** The flags a client is made from (`download` and `daemon` both have them). */
export type ClientFlags =
  & Pick<
    CliOptions,
    | "port"
    | "bind"
    | "encryption"
    | "utp"
    | "pex"
    | "dht"
    | "dhtBootstrap"
    | "blocklist"
    | "maxDownloadRate"
    | "maxUploadRate"
  >
  & { maxConnections?: number };

/** Stops on Ctrl-C, SIGTERM or `stopSignal`: `interrupted` resolves then; `dispose` unhooks. */
export function watchInterrupts(stopSignal?: AbortSignal): {
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
 * The client for these options, its hub with the peer port (one clear line when none can be
 * had), uTP unless `--no-utp`, PEX unless `--no-pex`, the DHT unless off or not `wanted` (a
 * private torrent), the rate limits.
 */
export async function openClient(
  options: ClientFlags,
  wanted: boolean,
  log: Logger,
): Promise<Client> {
  const stateFile = (family: 4 | 6) => family === 6 ? "dht6.json" : "dht.json";
  const blocklist = options.blocklist === undefined
    ? undefined
    : await openBlocklist(options.blocklist, log);
  try {
    return await Client.open({
      blocklist,
      port: options.port,
      hostname: options.bind,
      encryption: options.encryption,
      utp: options.utp,
      pex: options.pex,
      // Set up even when off, so a daemon can switch it on.
      dht: wanted
        ? {
          bootstrap: options.dhtBootstrap ?? DEFAULT_BOOTSTRAP,
          statePath: (family) => `${defaultStateDir()}/${stateFile(family)}`,
          log: (family) => log.child(family === 6 ? "dht6" : "dht"),
        }
        : undefined,
      dhtOff: !options.dht,
      maxDownloadRate: options.maxDownloadRate,
      maxUploadRate: options.maxUploadRate,
      maxConnections: options.maxConnections,
      onIncomingError: (message) => log.debug(message),
    });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new CommandError(`cannot open port ${options.port} for peers: ${why}`);
  }
}

/** The list `--blocklist` names, read; one that cannot be had is a `CommandError`. */
async function openBlocklist(source: string, log: Logger): Promise<Blocklist> {
  try {
    const { list, skipped } = await loadBlocklist(source);
    log.info(
      `blocklist ${source}: ${list.size} address ranges` +
        (skipped > 0 ? ` (${skipped} lines not understood, skipped)` : ""),
    );
    return list;
  } catch (e) {
    const why = e instanceof FetchError ? e.message : fsReason(e);
    throw new CommandError(`cannot read the blocklist ${source}: ${why}`);
  }
}

/** The run's log file, or no log (after one warning line) when it cannot be made. */
export async function openLog(
  options: { logDir: string; verbose: boolean },
  io: CommandIO,
): Promise<Logger> {
  try {
    return await Logger.open({ dir: options.logDir, level: options.verbose ? "debug" : "info" });
  } catch (e) {
    io.err(`bittorrent: warning: ${e instanceof Error ? e.message : e}; logging is off\n`);
    return Logger.null();
  }
}
