/**
 * Entry point of `deno task demo`: parses `--size`, `--seeders`, `--keep`, runs the offline demo
 * and exits 0 when it passed, 1 when it failed, 2 on bad usage and 130 after Ctrl-C. The first
 * Ctrl-C stops the swarm and removes the temporary folder; a second one quits at once.
 *
 * @module
 */
import { CommandError } from "../cli/mod.ts";
import { UsageError } from "../cli/mod.ts";
import { TorrentError } from "../metainfo/mod.ts";
import { StorageError } from "../storage/mod.ts";
import { TrackerError } from "../tracker/mod.ts";
import { DEMO_HELP, type DemoArgs, DemoError, parseDemoArgs, runDemo } from "./mod.ts";

/**
 * Runs the demo with command-line `args` and returns the exit code; `signal` (Ctrl-C) stops it
 * and cleans up.
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * console.log(await main(["--seeders", "99"])); // 2 (after a one-line error on stderr)
 * ```
 */
export async function main(args: string[], signal?: AbortSignal): Promise<number> {
  let parsed: DemoArgs;
  try {
    parsed = parseDemoArgs(args);
  } catch (e) {
    if (!(e instanceof DemoError)) throw e;
    console.error(`demo: ${e.message}`);
    return 2;
  }
  if (parsed.help) {
    console.log(DEMO_HELP);
    return 0;
  }
  try {
    const result = await runDemo({ ...parsed, signal });
    return result.exitCode;
  } catch (e) {
    const known = e instanceof DemoError || e instanceof CommandError ||
      e instanceof TorrentError || e instanceof StorageError || e instanceof TrackerError ||
      e instanceof UsageError;
    if (known) console.error(`demo: error: ${e.message}`);
    else console.error(`demo: unexpected error: ${e instanceof Error ? e.stack : e}`);
    return 1;
  }
}

if (import.meta.main) {
  const controller = new AbortController();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const onSignal = () => {
    if (controller.signal.aborted) Deno.exit(130); // second Ctrl-C: do not wait for cleanup
    controller.abort();
  };
  for (const sig of signals) Deno.addSignalListener(sig, onSignal);
  const code = await main(Deno.args, controller.signal);
  for (const sig of signals) Deno.removeSignalListener(sig, onSignal);
  Deno.exit(code);
}
