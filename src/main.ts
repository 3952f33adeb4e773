/**
 * The `bittorrent` executable: parse arguments, run the command (download, or verify), and turn
 * every failure into one line on stderr and an exit code (0 done, 1 failed or incomplete, 2 bad
 * usage, 130 interrupted).
 *
 * @module
 */
import {
  CommandError,
  HELP_TEXT,
  parseArgs,
  runDownload,
  runVerify,
  UsageError,
} from "./cli/mod.ts";
import { TorrentError } from "./metainfo/mod.ts";
import { StorageError } from "./storage/mod.ts";
import denoConfig from "../deno.json" with { type: "json" };

/** The version printed by `--version`. */
export const VERSION: string = denoConfig.version;

/** Runs the CLI with `args` and returns the exit code. */
export async function main(args: string[]): Promise<number> {
  try {
    const parsed = parseArgs(args);
    if ("help" in parsed) {
      console.log(HELP_TEXT);
      return 0;
    }
    if ("version" in parsed) {
      console.log(`bittorrent ${VERSION}`);
      return 0;
    }
    if (parsed.command === "verify") return await runVerify(parsed);
    return await runDownload(parsed);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`bittorrent: ${e.message}`);
      return 2;
    }
    if (
      e instanceof CommandError || e instanceof TorrentError || e instanceof StorageError
    ) {
      console.error(`bittorrent: error: ${e.message}`);
      return 1;
    }
    console.error(`bittorrent: unexpected error: ${e instanceof Error ? e.stack : e}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
