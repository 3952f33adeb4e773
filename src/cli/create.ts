/**
 * The create command: hash a file or folder into a .torrent, with a progress line (or JSON
 * events), and never overwrite a file that is already there.
 *
 * @module
 */
// Leaves of metainfo/ and util/, not their faces, and the report's modules loaded once the
// torrent is written: hashing starts some 3 ms sooner without the torrent parser, the client's
// helpers and the rest loaded first.
import { createTorrentFromPath } from "../metainfo/create.ts";
import { TorrentError } from "../metainfo/error.ts";
import { FileHashingError } from "../util/file_hashing.ts";
import { fsReason } from "../util/os_error.ts";
import type { CreateCommandOptions } from "./args.ts";
import { CommandError, type CommandIO, processIO } from "./io.ts";
import { emptySnapshot, ProgressDisplay } from "./display.ts";
import { JsonEvents } from "./events.ts";
import { formatBytes, formatElapsed, plural } from "./format.ts";

/**
 * Runs `bittorrent create` and returns the exit code (0). Failures (nothing to share, an
 * unreadable file, an output that exists or cannot be written) throw `CommandError` with a
 * one-line message; nothing is written then.
 */
export async function runCreate(
  options: CreateCommandOptions,
  io: CommandIO = processIO(),
): Promise<number> {
  checkOutput(options.output);
  const started = performance.now();
  const events = options.json ? new JsonEvents(io.out) : undefined;
  const display = new ProgressDisplay({
    write: options.quiet || events ? () => {} : io.out,
    isTTY: io.isTTY,
    columns: io.columns,
  });
  events?.emit("start", { command: "create", path: options.path, output: options.output });
  const name = options.path.replace(/[/\\]+$/, "").split(/[/\\]/).pop() || options.path;
  const onProgress = (done: number, total: number) => {
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    events?.progress(
      { bytesDone: done, totalBytes: total, rate: Math.round(rate) },
      done === total,
    );
    display.update({
      ...emptySnapshot(name, 0, total),
      phase: "hashing",
      bytesDone: done,
      downloadRate: rate,
      elapsedMs: performance.now() - started,
    });
  };
  let bytes: Uint8Array;
  try {
    bytes = await createTorrentFromPath(options.path, {
      pieceLength: options.pieceLength,
      announce: options.trackers,
      urlList: options.webSeeds,
      private: options.private,
      comment: options.comment,
      source: options.source,
      creationDate: options.noDate ? null : undefined,
      version: options.torrentVersion,
      onProgress,
    });
  } catch (e) {
    display.finish([]);
    throw createError(options.path, e);
  }
  try {
    writeNew(options.output, bytes);
  } catch (e) {
    display.finish([]);
    throw e;
  }
  const elapsedMs = performance.now() - started;
  if (options.quiet && events === undefined) return 0; // the report would be for no one
  const [{ dataLength, parseTorrent }, { oneLine, torrentReport }] = await Promise.all([
    import("../metainfo/mod.ts"),
    import("./info.ts"),
  ]);
  const torrent = parseTorrent(bytes);
  const report = torrentReport(torrent);
  display.finish([
    `Created ${options.output}: ${plural(report.files.length, "file")}, ` +
    `${formatBytes(dataLength(torrent))} in ${plural(torrent.pieceCount, "piece")} of ` +
    `${formatBytes(torrent.pieceLength)} (hashed in ${formatElapsed(elapsedMs)})`,
    ...(report.infoHash === null ? [] : [`Info-hash: ${report.infoHash}`]),
    ...(report.infoHashV2 === null ? [] : [`Info-hash v2: ${report.infoHashV2}`]),
    `Magnet: ${report.magnet}`,
  ].map(oneLine));
  events?.emit("done", { torrent: options.output, ...report });
  return 0;
}

/**
 * A clear error before any hashing, which may take hours, when the output is taken or its
 * folder cannot take a new file (missing, not a folder, read-only): a file made there and
 * removed at once says so. This and the write are synchronous, as the command has nothing else
 * to do meanwhile: an asynchronous write took some 5 ms of its run, a synchronous one under 1 ms.
 */
function checkOutput(output: string): void {
  let taken = true;
  try {
    Deno.lstatSync(output);
  } catch {
    taken = false; // nothing there (or nothing we may look at: the probe will say)
  }
  if (taken) throw new CommandError(`${output} already exists; not replacing it`);
  const cut = Math.max(output.lastIndexOf("/"), output.lastIndexOf("\\"));
  const folder = cut < 0 ? "." : output.slice(0, cut) || output[0];
  try {
    Deno.removeSync(Deno.makeTempFileSync({ dir: folder, prefix: ".bittorrent-create-" }));
  } catch (e) {
    throw new CommandError(`cannot write ${output}: ${fsReason(e)}`);
  }
}

function writeNew(output: string, bytes: Uint8Array): void {
  try {
    Deno.writeFileSync(output, bytes, { createNew: true });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new CommandError(`${output} already exists; not replacing it`);
    }
    throw new CommandError(`cannot write ${output}: ${fsReason(e)}`);
  }
}

/** One line for what stopped the torrent from being made. */
function createError(path: string, e: unknown): Error {
  if (e instanceof TorrentError || e instanceof FileHashingError) {
    return new CommandError(e.message);
  }
  return new CommandError(`cannot read ${path}: ${fsReason(e)}`);
}
