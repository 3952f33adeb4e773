/**
 * `bittorrent info` and a download's `--files`: show what a torrent holds, then exit. A .torrent
 * file is read and shown here without loading the download's modules (the client, its engine and
 * their peers: some 40 ms of each start); a magnet link goes to the download, which fetches its
 * metadata from peers first.
 *
 * @module
 */
import type { CliOptions } from "./args.ts";
import { describeTorrent } from "./info.ts";
import { loadInput } from "./input.ts";
import type { CommandIO } from "./io.ts";

/**
 * Prints the torrent `options.input` names (`describeTorrent`) and returns the exit code;
 * failures throw as `runDownload`'s do.
 *
 * @example
 * ```ts
 * import { createTorrentFromBuffers } from "../metainfo/mod.ts";
 * import { parseArgs } from "./args.ts";
 * import { runInspect } from "./inspect.ts";
 * const path = await Deno.makeTempFile({ suffix: ".torrent" });
 * await Deno.writeFile(path, createTorrentFromBuffers("a.txt", new Uint8Array(5)));
 * let out = "";
 * const io = { out: (t: string) => out += t, err: () => {}, isTTY: false, columns: () => 80 };
 * const options = parseArgs(["info", path, "--json"]);
 * if ("command" in options && options.command === "info") await runInspect(options, io);
 * console.log(JSON.parse(out).name); // a.txt
 * await Deno.remove(path);
 * ```
 */
export async function runInspect(
  options: CliOptions,
  io: CommandIO,
  stopSignal?: AbortSignal,
): Promise<number> {
  const input = await loadInput(options.input);
  if ("magnet" in input) {
    return await (await import("./download.ts")).runDownload(options, io, stopSignal);
  }
  io.out(describeTorrent(input.torrent, options));
  return 0;
}
