/**
 * The `bittorrent` executable: parse arguments, run the command (download, verify, info,
 * create, daemon, the remote commands, completions), and turn every failure into one line on
 * stderr and an exit code (0 done, 1 failed or incomplete, 2 bad usage, 130 interrupted).
 *
 * Each command's module is loaded when that command runs, so `create` or `ls` does not wait
 * for the engine, the DHT and the RPC server to load (the whole CLI takes some 60 ms); hence
 * the imports of cli/'s own modules here rather than its face.
 *
 * @module
 */
import { parseArgs, UsageError } from "./cli/args.ts";
import { JsonEvents } from "./cli/events.ts";
import { CommandError, type CommandIO, EXIT_OUTPUT_CLOSED, processIO } from "./cli/io.ts";
import denoConfig from "../deno.json" with { type: "json" };

/** The version printed by `--version`. */
export const VERSION: string = denoConfig.version;

/**
 * Runs the CLI with `args` and returns the exit code. Everything it prints goes through `io`,
 * failures as one line on its `err` (and, with `--json`, an `error` event on its `out`).
 *
 * Once `io.outputClosed` is aborted (the reader of a pipe gone) the run ends as SIGPIPE ends
 * other programs: at once, with exit code 141; but a download stops as for Ctrl-C (its resume
 * record saved) and the daemon, whose work is not its output, goes on.
 */
export async function main(args: string[], io: CommandIO = processIO()): Promise<number> {
  const code = await runCommand(args, io);
  return io.outputClosed?.aborted ? EXIT_OUTPUT_CLOSED : code;
}

async function runCommand(args: string[], io: CommandIO): Promise<number> {
  let json = false;
  try {
    const parsed = parseArgs(args);
    if ("help" in parsed) {
      io.out((await import("./cli/help.ts")).helpText(parsed.topic));
      return 0;
    }
    if ("version" in parsed) {
      io.out(`bittorrent ${VERSION}\n`);
      return 0;
    }
    // Events are the output of download, verify and create; `info --json` is one object.
    json = "json" in parsed && parsed.command !== "info" && parsed.json === true;
    // A download (or a magnet's info) stops through its interrupt watch; the daemon goes on.
    const stopsOnItsOwn = parsed.command === undefined || parsed.command === "download" ||
      parsed.command === "info" || parsed.command === "daemon";
    if (!stopsOnItsOwn) {
      io.outputClosed?.addEventListener("abort", () => Deno.exit(EXIT_OUTPUT_CLOSED));
    }
    // `info` and `--files` show a torrent and exit: a .torrent file needs no client to show.
    if (parsed.command === "info" || ("listFiles" in parsed && parsed.listFiles === true)) {
      return await (await import("./cli/inspect.ts")).runInspect(parsed, io, io.outputClosed);
    }
    switch (parsed.command) {
      case "verify":
        return await (await import("./cli/verify.ts")).runVerify(parsed, io);
      case "create":
        return await (await import("./cli/create.ts")).runCreate(parsed, io);
      case "completions":
        io.out((await import("./cli/completions.ts")).completionScript(parsed.shell));
        return 0;
      case "daemon": {
        const [{ runDaemon }, { withSettingsFile }] = await Promise.all([
          import("./cli/daemon.ts"),
          import("./cli/settings_file.ts"),
        ]);
        return await runDaemon(await withSettingsFile(parsed, args.slice(1)), VERSION, io);
      }
      case "add":
      case "ls":
      case "pause":
      case "resume":
      case "rm":
      case "stats":
        return await (await import("./cli/remote.ts")).runRemote(parsed, io);
      default:
        return await (await import("./cli/download.ts")).runDownload(parsed, io, io.outputClosed);
    }
  } catch (e) {
    const [code, line] = await failure(e);
    if (json) {
      new JsonEvents(io.out).emit("error", {
        message: line.replace(/^bittorrent: (error: )?/, ""),
      });
    }
    io.err(`${line}\n`);
    return code;
  }
}

/**
 * The exit code and the one line for what ended the run. The domain errors' modules are loaded
 * by then whenever one of theirs can have been thrown.
 */
async function failure(e: unknown): Promise<[number, string]> {
  if (e instanceof UsageError) return [2, `bittorrent: ${e.message}`];
  if (e instanceof CommandError) return [1, `bittorrent: error: ${e.message}`];
  const [{ TorrentError }, { StorageError }] = await Promise.all([
    import("./metainfo/mod.ts"),
    import("./storage/mod.ts"),
  ]);
  if (e instanceof TorrentError || e instanceof StorageError) {
    return [1, `bittorrent: error: ${e.message}`];
  }
  return [1, `bittorrent: unexpected error: ${e instanceof Error ? e.stack : e}`];
}

if (import.meta.main) Deno.exit(await main(Deno.args));
