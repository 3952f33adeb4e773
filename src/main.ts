/**
 * The `bittorrent` executable: parse arguments, run the command (download, verify, info,
 * create, daemon, the remote commands, completions), and turn every failure into one line on stderr and an exit code (0
 * done, 1 failed or incomplete, 2 bad usage, 130 interrupted).
 *
 * @module
 */
import {
  CommandError,
  type CommandIO,
  completionScript,
  helpText,
  JsonEvents,
  parseArgs,
  processIO,
  runCreate,
  runDaemon,
  runDownload,
  runRemote,
  runVerify,
  UsageError,
  withSettingsFile,
} from "./cli/mod.ts";
import { TorrentError } from "./metainfo/mod.ts";
import { StorageError } from "./storage/mod.ts";
import denoConfig from "../deno.json" with { type: "json" };

/** The version printed by `--version`. */
export const VERSION: string = denoConfig.version;

/**
 * Runs the CLI with `args` and returns the exit code. Everything it prints goes through `io`,
 * failures as one line on its `err` (and, with `--json`, an `error` event on its `out`).
 */
export async function main(args: string[], io: CommandIO = processIO()): Promise<number> {
  let json = false;
  try {
    const parsed = parseArgs(args);
    if ("help" in parsed) {
      io.out(helpText(parsed.topic));
      return 0;
    }
    if ("version" in parsed) {
      io.out(`bittorrent ${VERSION}\n`);
      return 0;
    }
    // Events are the output of download, verify and create; `info --json` is one object.
    json = "json" in parsed && parsed.command !== "info" && parsed.json === true;
    switch (parsed.command) {
      case "verify":
        return await runVerify(parsed, io);
      case "create":
        return await runCreate(parsed, io);
      case "completions":
        io.out(completionScript(parsed.shell));
        return 0;
      case "daemon":
        return await runDaemon(await withSettingsFile(parsed, args.slice(1)), VERSION, io);
      case "add":
      case "ls":
      case "pause":
      case "resume":
      case "rm":
      case "stats":
        return await runRemote(parsed, io);
      default:
        return await runDownload(parsed, io);
    }
  } catch (e) {
    const [code, line] = failure(e);
    if (json) {
      new JsonEvents(io.out).emit("error", {
        message: line.replace(/^bittorrent: (error: )?/, ""),
      });
    }
    io.err(`${line}\n`);
    return code;
  }
}

/** The exit code and the one line for what ended the run. */
function failure(e: unknown): [number, string] {
  if (e instanceof UsageError) return [2, `bittorrent: ${e.message}`];
  if (e instanceof CommandError || e instanceof TorrentError || e instanceof StorageError) {
    return [1, `bittorrent: error: ${e.message}`];
  }
  return [1, `bittorrent: unexpected error: ${e instanceof Error ? e.stack : e}`];
}

if (import.meta.main) Deno.exit(await main(Deno.args));
