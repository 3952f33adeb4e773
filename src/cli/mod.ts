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
  commandFlags,
  type CommandName,
  type CompletionsOptions,
  type CreateCommandOptions,
  type DaemonOptions,
  DEFAULT_MAX_PEERS,
  DEFAULT_PORT,
  defaultLogDir,
  type FileSelection,
  type FlagInfo,
  parseArgs,
  type ParseArgsEnv,
  type ParsedArgs,
  parseDuration,
  parseIndexList,
  parseRate,
  type RemoteOptions,
  resolveSelection,
  type Shell,
  UsageError,
} from "./args.ts";
export { HELP_TEXT, helpText } from "./help.ts";
export { JsonEvents } from "./events.ts";
export { completionScript } from "./completions.ts";
export { runCreate } from "./create.ts";
export { runDaemon } from "./daemon.ts";
export {
  readSettingsArgs,
  saveSettings,
  sessionSettings,
  SETTINGS_FILE,
  settingsArgs,
  withSettingsFile,
} from "./settings_file.ts";
export { runRemote } from "./remote.ts";
export { renderFileList, renderTorrentInfo, type TorrentReport, torrentReport } from "./info.ts";
export { LogError, logFileName, Logger, type LoggerOptions, type LogLevel } from "./log.ts";
export {
  formatBytes,
  formatDuration,
  formatElapsed,
  formatEta,
  formatPercent,
  formatRate,
  plural,
} from "./format.ts";
export {
  ProgressDisplay,
  type ProgressDisplayOptions,
  renderStatusLine,
  renderSummary,
  type Snapshot,
} from "./display.ts";
export { CommandError, type CommandIO, EXIT_INTERRUPTED, processIO } from "./io.ts";
export { loadInput, loadTorrent } from "./input.ts";
export { describeSeedLimitMet, runDownload } from "./download.ts";
export {
  type FileReport,
  renderVerifyReport,
  runVerify,
  verifyData,
  type VerifyReport,
} from "./verify.ts";
