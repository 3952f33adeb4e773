/**
 * The terminal front end's building blocks: argument parsing, the log file, human-readable
 * formatting and the progress display. The commands themselves (download, ...) build on these.
 *
 * @example
 * ```ts
 * import { formatBytes, parseArgs } from "./mod.ts";
 * const parsed = parseArgs(["--max-peers", "50", "file.torrent"]);
 * if ("input" in parsed) console.log(parsed.maxPeers, formatBytes(1536)); // 50 "1.5 KiB"
 * ```
 *
 * @module
 */
export {
  type CliOptions,
  type CommandName,
  DEFAULT_MAX_PEERS,
  DEFAULT_PORT,
  defaultLogDir,
  type FileSelection,
  HELP_TEXT,
  parseArgs,
  type ParseArgsEnv,
  type ParsedArgs,
  parseDuration,
  parseIndexList,
  parseRate,
  resolveSelection,
  UsageError,
} from "./args.ts";
export { LogError, logFileName, Logger, type LoggerOptions, type LogLevel } from "./log.ts";
export { formatBytes, formatDuration, formatEta, formatPercent, formatRate } from "./format.ts";
export {
  ProgressDisplay,
  type ProgressDisplayOptions,
  renderStatusLine,
  renderSummary,
  type Snapshot,
} from "./display.ts";
export {
  CommandError,
  type CommandIO,
  EXIT_INTERRUPTED,
  loadTorrent,
  processIO,
  renderFileList,
  runDownload,
  seedLimitReached,
} from "./download.ts";
export {
  type FileReport,
  renderVerifyReport,
  runVerify,
  verifyData,
  type VerifyReport,
} from "./verify.ts";
