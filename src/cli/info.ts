/**
 * What a torrent holds, for people and for programs: the `info` command's report (lines, or one
 * JSON object) and the `--files` listing. Every text from the torrent is kept on one line and
 * free of terminal escapes.
 *
 * @module
 */
import {
  dataLength,
  listedFiles,
  type Torrent,
  torrentMagnet,
  type TorrentVersion,
} from "../metainfo/mod.ts";
import { toHex } from "../util/mod.ts";
import type { CliOptions } from "./args.ts";
import { formatBytes, plural } from "./format.ts";

/** `bittorrent info --json`: one object; absent values are null. */
export interface TorrentReport {
  name: string;
  /** v1 info-hash, 40 lower-case hex characters (null for a torrent with no v1 part). */
  infoHash: string | null;
  /** v2 info-hash, 64 lower-case hex characters (null for a v1 torrent). */
  infoHashV2: string | null;
  /** Which halves the torrent has: v1 (SHA-1 pieces), v2 (merkle trees, BEP 52) or both. */
  version: TorrentVersion;
  /** v2 files longer than a piece whose piece layer the .torrent lacks (peers must send it). */
  missingPieceLayers: number;
  magnet: string;
  totalLength: number;
  pieceLength: number;
  pieceCount: number;
  private: boolean;
  /** Files as stored (pad files left out): `/`-joined path under the output folder. */
  files: { path: string; length: number; symlink?: string }[];
  /** Tracker tiers, in order. */
  trackers: string[][];
  webSeeds: string[];
  comment: string | null;
  createdBy: string | null;
  /** Seconds since the Unix epoch. */
  creationDate: number | null;
}

/**
 * The report of `torrent` as a plain value (what `info --json` prints).
 *
 * @example
 * ```ts
 * import { torrentReport } from "./info.ts";
 * import { createTorrentFromBuffers, parseTorrent } from "../metainfo/mod.ts";
 * const t = parseTorrent(createTorrentFromBuffers("a.txt", new Uint8Array(5), { creationDate: null }));
 * const r = torrentReport(t);
 * console.log(r.name, r.totalLength, r.files[0].path, r.creationDate); // a.txt 5 a.txt null
 * ```
 */
export function torrentReport(torrent: Torrent): TorrentReport {
  const infoHash = torrent.version === "v2" ? null : torrent.infoHashHex;
  const infoHashV2 = torrent.infoHashV2 === undefined ? null : toHex(torrent.infoHashV2);
  return {
    name: torrent.name,
    infoHash,
    infoHashV2,
    version: torrent.version,
    missingPieceLayers: torrent.v2Pieces?.missingLayers().length ?? 0,
    magnet: torrentMagnet(torrent),
    totalLength: torrent.totalLength,
    pieceLength: torrent.pieceLength,
    pieceCount: torrent.pieceCount,
    private: torrent.private,
    files: torrent.files.filter((f) => !f.padding).map((f) => ({
      path: f.path.join("/"),
      length: f.length,
      ...(f.symlink === undefined ? {} : { symlink: f.symlink.join("/") }),
    })),
    trackers: torrent.announce,
    webSeeds: torrent.urlList,
    comment: torrent.comment ?? null,
    createdBy: torrent.createdBy ?? null,
    creationDate: torrent.creationDate ?? null,
  };
}

/**
 * The report for people: one field a line, trackers by tier, then the numbered file list.
 *
 * @example
 * ```ts
 * import { renderTorrentInfo } from "./info.ts";
 * import { createTorrentFromBuffers, parseTorrent } from "../metainfo/mod.ts";
 * const t = parseTorrent(createTorrentFromBuffers("a.txt", new Uint8Array(5), {
 *   announce: [["udp://127.0.0.1:6969"]], creationDate: 0,
 * }));
 * const lines = renderTorrentInfo(t).split("\n");
 * console.log(lines[0], "|", lines.find((l) => l.startsWith("Created"))); // Name:         a.txt | Created:      1970-01-01 00:00:00 UTC by bittorrent
 * ```
 */
export function renderTorrentInfo(torrent: Torrent): string {
  const r = torrentReport(torrent);
  const field = (label: string, value: string) =>
    `${`${label}:`.padEnd(LABEL_WIDTH)}${oneLine(value)}`;
  const lines = [
    field("Name", r.name),
    field("Info-hash", r.infoHash ?? "none (v2 only)"),
    ...(r.infoHashV2 === null ? [] : [field("Info-hash v2", r.infoHashV2)]),
    field("Format", VERSION_NAMES[r.version]),
    field("Magnet", r.magnet),
    field("Size", sizeLine(torrent)),
    field("Private", r.private ? "yes (peers from its trackers only)" : "no"),
  ];
  if (r.missingPieceLayers > 0) {
    const files = plural(r.missingPieceLayers, "file");
    lines.push(field("Piece layers", `missing for ${files}; peers must supply them`));
  }
  if (r.creationDate !== null || r.createdBy !== null) {
    const when = r.creationDate === null ? "" : formatDate(r.creationDate);
    const by = r.createdBy === null ? "" : `by ${r.createdBy}`;
    lines.push(field("Created", [when, by].filter((s) => s !== "").join(" ")));
  }
  if (r.comment !== null) lines.push(field("Comment", r.comment));
  if (r.trackers.length === 0) lines.push(field("Trackers", "none"));
  r.trackers.forEach((tier, i) => {
    tier.forEach((url, j) => {
      const head = j === 0 ? `tier ${i + 1}: ` : " ".repeat(`tier ${i + 1}: `.length);
      lines.push(
        i === 0 && j === 0 ? field("Trackers", head + url) : " ".repeat(LABEL_WIDTH) + head + url,
      );
    });
  });
  r.webSeeds.forEach((url, i) =>
    lines.push(i === 0 ? field("Web seeds", url) : " ".repeat(LABEL_WIDTH) + url)
  );
  return `${lines.join("\n")}\n${renderFileList(torrent)}`;
}

/** Columns of a label of `renderTorrentInfo`: the longest ("Info-hash v2:") and a space. */
const LABEL_WIDTH = 14;

/**
 * The files' bytes and the pieces they fill; where pad files make the pieces' bytes more, those
 * too, which progress and checks count.
 */
function sizeLine(torrent: Torrent): string {
  const data = dataLength(torrent);
  const pieces = `${plural(torrent.pieceCount, "piece")} of ${formatBytes(torrent.pieceLength)}`;
  const padded = data === torrent.totalLength
    ? ""
    : `, ${formatBytes(torrent.totalLength)} with pad files`;
  return `${formatBytes(data)} (${data} bytes) in ${pieces}${padded}`;
}

const VERSION_NAMES: Record<TorrentVersion, string> = {
  v1: "v1",
  v2: "v2 (BEP 52)",
  hybrid: "hybrid (v1 and v2)",
};

/** `YYYY-MM-DD hh:mm:ss UTC`, or the raw number when it is no date a `Date` can hold. */
function formatDate(seconds: number): string {
  const date = new Date(seconds * 1000);
  if (Number.isNaN(date.getTime())) return `${seconds} (seconds since 1970)`;
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/**
 * The `--files` listing: the torrent's name and size, then one line per file with the index
 * that `--select` and `--exclude` take, its size and its path.
 *
 * @example
 * ```ts
 * import { renderFileList } from "./info.ts";
 * import { createTorrentFromBuffers, parseTorrent } from "../metainfo/mod.ts";
 * const torrent = parseTorrent(createTorrentFromBuffers("show", [
 *   { path: ["e1.mkv"], data: new Uint8Array(3000) },
 *   { path: ["e2.mkv"], data: new Uint8Array(1000) },
 * ], { pieceLength: 16384, creationDate: null }));
 * console.log(renderFileList(torrent));
 * // show: 2 files, 3.9 KiB in 1 piece of 16.0 KiB
 * //   1  2.9 KiB  show/e1.mkv
 * //   2   1000 B  show/e2.mkv
 * ```
 */
export function renderFileList(torrent: Torrent): string {
  const listed = listedFiles(torrent);
  const sizes = listed.map((i) => formatBytes(torrent.files[i].length));
  const indexWidth = String(listed.length).length;
  const sizeWidth = Math.max(0, ...sizes.map((s) => s.length));
  const lines = [
    `${oneLine(torrent.name)}: ${plural(listed.length, "file")}, ` +
    `${formatBytes(dataLength(torrent))} in ${plural(torrent.pieceCount, "piece")} of ` +
    formatBytes(torrent.pieceLength),
  ];
  listed.forEach((fileIndex, k) => {
    const index = String(k + 1).padStart(indexWidth);
    const path = oneLine(torrent.files[fileIndex].path.join("/"));
    lines.push(`  ${index}  ${sizes[k].padStart(sizeWidth)}  ${path}`);
  });
  return lines.join("\n") + "\n";
}

/** What `info` (`--json`) or a download's `--files` prints of a torrent. */
export function describeTorrent(
  torrent: Torrent,
  options: Pick<CliOptions, "command" | "json">,
): string {
  if (options.command !== "info") return renderFileList(torrent);
  return options.json ? `${JSON.stringify(torrentReport(torrent))}\n` : renderTorrentInfo(torrent);
}

/** Keeps names from a torrent on one line and free of terminal escapes. */
export function oneLine(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, "?");
}
