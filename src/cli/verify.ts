/**
 * The verify command: hash the data in an output folder against a .torrent and report each
 * file's completeness. It only reads: missing files and folders are reported, never created.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { requirePieceHashes, type Torrent } from "../metainfo/mod.ts";
import { resumePath, saveResume, Storage, verifiedBytesOf } from "../storage/mod.ts";
import { Bitfield } from "../util/mod.ts";
import type { CliOptions } from "./args.ts";
import { CommandError, type CommandIO, processIO } from "./io.ts";
import { loadTorrent } from "./input.ts";
import { checkingSnapshot, ProgressDisplay } from "./display.ts";
import { JsonEvents } from "./events.ts";
import { progressFields } from "./report.ts";
import { formatBytes, formatPercent } from "./format.ts";

/** How complete one file of the torrent is on disk. */
export interface FileReport {
  /** Path below the output folder, as in the torrent (`[name, ...]`). */
  path: readonly string[];
  /** Length the torrent gives it. */
  length: number;
  /** Bytes of it that lie in verified pieces. */
  verifiedBytes: number;
  /** True when there is no regular file at its path. */
  missing: boolean;
}

/** What {@link verifyData} found. */
export interface VerifyReport {
  /** Every file kept on disk (pad files and symlink entries left out), in torrent order. */
  files: FileReport[];
  /** Pieces whose hash matched. */
  have: Bitfield;
  /** Bytes in verified pieces. */
  bytesDone: number;
  /** The torrent's size. */
  totalBytes: number;
  /** Every piece verified and every file present. */
  complete: boolean;
}

function isStoredFile(f: { padding?: boolean; symlink?: unknown }): boolean {
  return !f.padding && f.symlink === undefined;
}

/**
 * Hashes the data of `torrent` under `output` without creating anything there. Missing files
 * and folders count as missing data. A resume record that already exists is refreshed with
 * the result, so the next download trusts what was just checked; a part file left by a
 * selective download is read, and taken up as a download would when files were added since.
 *
 * @example
 * ```ts
 * import { verifyData } from "./verify.ts";
 * import { createTorrentFromBuffers, parseTorrent } from "../metainfo/mod.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const data = new Uint8Array(40_000).fill(7);
 * const torrent = parseTorrent(
 *   createTorrentFromBuffers("d.bin", data, { pieceLength: 16384, creationDate: null }),
 * );
 * console.log((await verifyData(torrent, dir)).complete); // false (nothing there yet)
 * await Deno.writeFile(`${dir}/d.bin`, data);
 * console.log((await verifyData(torrent, dir)).complete); // true
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function verifyData(
  torrent: Torrent,
  output: string,
  onProgress?: (checked: number, total: number) => void,
): Promise<VerifyReport> {
  requirePieceHashes(torrent);
  const root = resolve(output);
  const rootThere = await kindOf(root, output);
  if (rootThere === "file" || rootThere === "other") {
    throw new CommandError(`${output} is not a folder`);
  }
  const present = new Map<number, boolean>();
  for (let i = 0; i < torrent.files.length; i++) {
    const f = torrent.files[i];
    if (!isStoredFile(f)) continue;
    const path = join(root, ...f.path);
    present.set(i, rootThere === "folder" && await kindOf(path, path) === "file");
  }

  let have = new Bitfield(torrent.pieceCount);
  let saved: { root: string; partFilePath: string } | undefined;
  if ([...present.values()].some((p) => p)) {
    // Missing files count as unchosen, so storage neither creates nor reads them; the bytes of
    // pieces they share with present files may still be in the part file a selective download
    // left (and then such pieces verify).
    const selected = torrent.files.map((_, i) => present.get(i) !== false);
    const storage = await Storage.open(torrent, root, { selected });
    try {
      saved = { root: storage.root, partFilePath: storage.partFilePath };
      have = await storage.verify(onProgress);
    } finally {
      await storage.close();
    }
  } else {
    onProgress?.(torrent.pieceCount, torrent.pieceCount);
  }

  const L = torrent.pieceLength;
  const files: FileReport[] = [];
  for (const [i, there] of present) {
    const f = torrent.files[i];
    const verifiedBytes = there ? verifiedBytesOf(f, L, have) : 0;
    files.push({ path: f.path, length: f.length, verifiedBytes, missing: !there });
  }

  let bytesDone = 0;
  for (const p of have.ones()) {
    bytesDone += Math.min(L, torrent.totalLength - p * L);
  }
  if (saved !== undefined) await refreshResume(saved, torrent, have);
  return {
    files,
    have,
    bytesDone,
    totalBytes: torrent.totalLength,
    complete: have.complete && files.every((r) => !r.missing),
  };
}

/** Rewrites an existing resume record with what was found; a failure only costs a hash check. */
async function refreshResume(
  at: { root: string; partFilePath: string },
  torrent: Torrent,
  have: Bitfield,
): Promise<void> {
  try {
    await Deno.lstat(resumePath(at.root, torrent.infoHash));
  } catch {
    return; // none: this folder's downloads are not ours to keep a record for
  }
  await saveResume({ ...at, layout: torrent }, torrent.infoHash, have).catch(() => {});
}

/** What is at `path`: a regular file, a folder, nothing, or something else. */
async function kindOf(path: string, shown: string): Promise<"file" | "folder" | "none" | "other"> {
  try {
    const info = await Deno.stat(path);
    return info.isFile ? "file" : info.isDirectory ? "folder" : "other";
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return "none";
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new CommandError(`cannot read ${shown}: permission denied`);
    }
    throw new CommandError(`cannot read ${shown}: ${e instanceof Error ? e.message : e}`);
  }
}

/**
 * The report as lines: one per file (`100.0%   1.2 GiB  name/file.bin`, with `(missing)` when
 * absent) and a total line. With `quiet`, only the total line.
 *
 * @example
 * ```ts
 * import { renderVerifyReport } from "./verify.ts";
 * import { Bitfield } from "../util/mod.ts";
 * const have = new Bitfield(1);
 * have.set(0);
 * const lines = renderVerifyReport({
 *   files: [{ path: ["a", "b.bin"], length: 2048, verifiedBytes: 2048, missing: false }],
 *   have, bytesDone: 2048, totalBytes: 2048, complete: true,
 * });
 * console.log(lines[0]); // "100.0%    2.0 KiB  a/b.bin"
 * ```
 */
export function renderVerifyReport(report: VerifyReport, quiet = false): string[] {
  const lines: string[] = [];
  if (!quiet) {
    for (const f of report.files) {
      const pct = f.length === 0
        ? (f.missing ? "0.0%" : "100.0%")
        : formatPercent(f.verifiedBytes, f.length);
      const name = f.path.join("/") + (f.missing ? "  (missing)" : "");
      lines.push(`${pct.padStart(6)}  ${formatBytes(f.length).padStart(9)}  ${name}`);
    }
  }
  const { have } = report;
  const missing = report.files.filter((f) => f.missing).length;
  // The files' bytes rather than the pieces': v2 and hybrid pad each file to a whole piece.
  const size = report.files.reduce((n, f) => n + f.length, 0);
  const verified = report.files.reduce((n, f) => n + f.verifiedBytes, 0);
  lines.push(
    `Total: ${formatPercent(verified, size)} of ${formatBytes(size)} verified, ` +
      `${have.count}/${have.size} pieces` +
      (missing > 0 ? `, ${missing} of ${report.files.length} files missing` : "") +
      `: ${report.complete ? "complete" : "incomplete"}`,
  );
  return lines;
}

/**
 * Runs `bittorrent verify` and returns the exit code: 0 when the data is complete, 1 when not.
 * Failures (unreadable torrent, a magnet link, an unusable folder) throw `CommandError` or
 * `StorageError` with a one-line message.
 */
export async function runVerify(options: CliOptions, io: CommandIO = processIO()): Promise<number> {
  if (/^magnet:/i.test(options.input)) {
    throw new CommandError("verify needs a .torrent file, not a magnet link");
  }
  const torrent = await loadTorrent(options.input);
  const events = options.json ? new JsonEvents(io.out) : undefined;
  // A live line on a terminal only: in a pipe or file the report alone is the output.
  const display = new ProgressDisplay({
    write: options.quiet || events || !io.isTTY ? () => {} : io.out,
    isTTY: io.isTTY,
    columns: io.columns,
  });
  events?.emit("start", {
    command: "verify",
    name: torrent.name,
    infoHash: torrent.infoHashHex,
    totalBytes: torrent.totalLength,
    pieceCount: torrent.pieceCount,
    output: options.output,
  });
  const started = performance.now();
  let report: VerifyReport;
  try {
    report = await verifyData(torrent, options.output, (checked, total) => {
      const s = checkingSnapshot(torrent, checked, total, performance.now() - started);
      display.update(s);
      events?.progress(progressFields(s), checked === total);
    });
  } catch (e) {
    display.finish([]);
    throw e;
  }
  display.finish([]);
  if (events) {
    events.emit("done", {
      complete: report.complete,
      bytesDone: report.bytesDone,
      totalBytes: report.totalBytes,
      piecesDone: report.have.count,
      pieceCount: report.have.size,
      files: report.files.map((f) => ({ ...f, path: f.path.join("/") })),
    });
  } else {
    const text = renderVerifyReport(report, options.quiet);
    io.out(`${text.map(printable).join("\n")}\n`);
  }
  return report.complete ? 0 : 1;
}

/** Keeps file names from the torrent on one line and free of terminal escapes. */
function printable(line: string): string {
  // deno-lint-ignore no-control-regex
  return line.replace(/[\x00-\x1f\x7f-\x9f]/g, "?");
}
