/**
 * Command-line arguments: the command word, every command's flags, and their validation. Every
 * mistake becomes a {@link UsageError} with one line the user can act on.
 *
 * @module
 */
import type { EncryptionPolicy } from "../peer/mod.ts";
import type { TorrentVersion } from "../metainfo/mod.ts";
// Leaves that import nothing at run time, not their folders' faces: parsing a command line
// (every command's first step) need not load the client, its engine and their peers, nor util's
// OpenSSL, UDP port and HTTP fetch (some 3 ms of every start).
import {
  DEFAULT_MAX_PEERS,
  MAX_ACTIVE_LIMIT,
  MAX_CONNECTIONS_LIMIT,
  MAX_PEERS_LIMIT,
  MAX_RATE_LIMIT,
  MAX_SEED_DURATION_MS,
  MAX_SEED_RATIO,
} from "../client/limits.ts";
import { DEFAULT_SPEED_SETTINGS, type SpeedSchedule } from "../client/speed_limits.ts";
import { formatIp, parseIp } from "../util/ip.ts";

/** The commands the first word of the command line may name (`download` when absent). */
export type CommandName =
  | "download"
  | "verify"
  | "info"
  | "create"
  | "daemon"
  | RemoteCommand
  | "completions";

/** The commands that talk to a running daemon over its RPC. */
export type RemoteCommand = "add" | "ls" | "pause" | "resume" | "rm" | "stats";
const REMOTE_COMMANDS: readonly RemoteCommand[] = ["add", "ls", "pause", "resume", "rm", "stats"];

/** Every command word, `help` included. */
export const COMMAND_WORDS: readonly (CommandName | "help")[] = [
  "download",
  "verify",
  "info",
  "create",
  "daemon",
  ...REMOTE_COMMANDS,
  "completions",
  "help",
];

/** A peer given on the command line (`--peer HOST:PORT`). */
export interface PeerOption {
  host: string;
  port: number;
}

/** Options of `download`, `verify` and `info`, validated and with every default filled in. */
export interface CliOptions {
  /**
   * The command named by a leading word (`bittorrent verify ...`); absent when none was given,
   * which means download.
   */
  command?: "download" | "verify" | "info";
  /** Path of a `.torrent` file or a `magnet:` link, exactly as given. */
  input: string;
  /** Folder the torrent's files are written into. */
  output: string;
  /** Payload download limit in bytes per second; 0 = unlimited. */
  maxDownloadRate: number;
  /** Payload upload limit in bytes per second; 0 = unlimited. */
  maxUploadRate: number;
  /** Most peer connections at once. */
  maxPeers: number;
  /** Folder that receives the log file. */
  logDir: string;
  /** TCP port to accept peers on; 0 = any free port. */
  port: number;
  /** `--bind`: the one local address to listen on (peers and DHT); every address when absent. */
  bind?: string;
  /** `--encryption`: MSE for peer connections (default `prefer`). */
  encryption: EncryptionPolicy;
  /** `--peer`: peers to dial at start, besides those trackers, the DHT and PEX give. */
  peers?: PeerOption[];
  /**
   * Keep seeding after the download completes: until interrupted, or until `seedRatio` or
   * `seedTimeMs` is reached (either one given implies seeding).
   */
  seed: boolean;
  /** `--seed-ratio`: stop seeding once uploaded bytes reach this multiple of the download. */
  seedRatio?: number;
  /** `--seed-time`: stop seeding after this many milliseconds of it. */
  seedTimeMs?: number;
  /** `--files`: list the torrent's files with their indexes and sizes, then exit. */
  listFiles?: boolean;
  /** `--select` / `--exclude`: which files to download, by index; every file when absent. */
  fileSelection?: FileSelection;
  /** `--sequential`: fetch pieces in order (for media played while it arrives). */
  sequential?: boolean;
  /**
   * `--prealloc`: reserve the chosen files' full size on disk before downloading (fails at once
   * when the disk is too small); files are sparse otherwise.
   */
  prealloc?: boolean;
  /** Find peers through the DHT (never for private torrents). */
  dht: boolean;
  /** Dial and accept peers over uTP as well as TCP. `--no-utp` turns it off. */
  utp: boolean;
  /** Trade peer lists with peers (BEP 11; never for private torrents). `--no-pex` turns it off. */
  pex: boolean;
  /** Fetch from the torrent's (and a magnet link's) web seeds. `--no-web-seeds` turns it off. */
  webSeeds: boolean;
  /** DHT nodes to start from instead of the public routers (`host:port`). */
  dhtBootstrap?: string[];
  /** `--blocklist`: a file or http(s) address of address ranges never connected with. */
  blocklist?: string;
  /** Where to write the .torrent fetched for a magnet link. */
  saveTorrent?: string;
  /** `--json`: newline-delimited JSON events on stdout instead of the status line. */
  json?: boolean;
  /** Do not print the live progress line. */
  quiet: boolean;
  /** Log at debug level. */
  verbose: boolean;
}

/** Options of `create`. */
export interface CreateCommandOptions {
  command: "create";
  /** The file or folder to share. */
  path: string;
  /** Where the .torrent is written. */
  output: string;
  /** Tracker tiers, in order (BEP 12). */
  trackers: string[][];
  /** Web seed URLs (BEP 19). */
  webSeeds: string[];
  /** Bytes per piece; chosen from the total size when absent. */
  pieceLength?: number;
  private: boolean;
  comment?: string;
  /** `--source`: the `source` key of the info dictionary (private trackers use it). */
  source?: string;
  /** Leave the creation date out (`--no-date`), so the same input gives the same bytes. */
  noDate: boolean;
  /** `--v1`, `--v2` or `--hybrid` (the default): which hashes the torrent carries. */
  torrentVersion: TorrentVersion;
  json?: boolean;
  quiet: boolean;
}

/** Options of `completions`. */
export interface CompletionsOptions {
  command: "completions";
  shell: Shell;
}

/** Options of `daemon`, validated and with every default filled in. */
export interface DaemonOptions {
  command: "daemon";
  /** Where added torrents go unless they say otherwise. */
  output: string;
  port: number;
  bind?: string;
  encryption: EncryptionPolicy;
  dht: boolean;
  utp: boolean;
  pex: boolean;
  dhtBootstrap?: string[];
  /** `--blocklist`: a file or http(s) address of address ranges never connected with. */
  blocklist?: string;
  maxDownloadRate: number;
  maxUploadRate: number;
  maxPeers: number;
  /** The RPC endpoint: port, address, `user:password`, extra host names it answers to. */
  rpcPort: number;
  rpcBind: string;
  rpcAuth?: string;
  rpcHosts: string[];
  /** Where the daemon keeps its torrents between runs. */
  stateDir: string;
  /** `--watch-dir`: a folder whose `.torrent` files are added. */
  watchDir?: string;
  /** `--done-script`: a program run when a torrent finishes downloading. */
  doneScript?: string;
  /** `--incomplete-dir`: where torrents download before they move to `output`. */
  incompleteDir?: string;
  /** Torrents downloading at once (`--max-active`); the others wait in order. */
  maxActive: number;
  /** Peer connections of every torrent together (`--max-connections`), shared evenly. */
  maxConnections: number;
  /**
   * The session's seeding limits (`--seed-ratio`, `--seed-idle`): a torrent that follows them
   * stops seeding at this share ratio, or after this long without uploading.
   */
  seedRatio?: number;
  seedIdleMs?: number;
  /** Torrents added over the RPC start paused unless the request says (`--paused`). */
  addPaused: boolean;
  /**
   * The alternative speed limits ("turtle mode"), bytes a second (0: none), whether they
   * apply from the start (`--alt-speed`), and the daily window that switches them on.
   */
  altDownloadRate: number;
  altUploadRate: number;
  altSpeed: boolean;
  altSchedule?: SpeedSchedule;
  logDir: string;
  verbose: boolean;
}

/** Options of the remote commands (`add`, `ls`, `pause`, `resume`, `rm`, `stats`). */
export interface RemoteOptions {
  command: RemoteCommand;
  /** The daemon's RPC address (`--rpc`). */
  rpc: string;
  rpcAuth?: string;
  /** add: .torrent files and magnet links; pause, resume, rm: ids, info-hashes or `all`. */
  targets: string[];
  /** add: the folder the daemon saves to (absolute), instead of its own. */
  output?: string;
  /** add: without starting. */
  paused: boolean;
  /** rm: delete the data too. */
  delete: boolean;
  /** ls, stats: JSON on stdout. */
  json: boolean;
}

/** The shells `completions` writes scripts for. */
export type Shell = "bash" | "zsh" | "fish";
const SHELLS: readonly Shell[] = ["bash", "zsh", "fish"];

/** What {@link parseArgs} returns: a command to run, or a request for help or the version. */
export type ParsedArgs =
  | CliOptions
  | CreateCommandOptions
  | DaemonOptions
  | RemoteOptions
  | CompletionsOptions
  | { help: true; topic?: CommandName }
  | { version: true };

/**
 * A mistake on the command line. The message is one line meant for the user; the caller prints
 * it and exits with a usage error code.
 *
 * @example
 * ```ts
 * import { UsageError } from "./args.ts";
 * const err = new UsageError("missing -i <torrent-file|magnet>");
 * console.log(err instanceof Error, err.name); // true "UsageError"
 * ```
 */
export class UsageError extends Error {
  /** Creates the error with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Default number of peer connections. */
export { DEFAULT_MAX_PEERS };
/** Default listen port (the traditional BitTorrent port). */
export const DEFAULT_PORT = 6881;
/** The RPC port of `daemon` unless `--rpc-port`: Transmission's, which its tools assume. */
export const DEFAULT_RPC_PORT = 9091;
/** Torrents a daemon downloads at once unless `--max-active` (Transmission's queue size). */
export const DEFAULT_MAX_ACTIVE = 5;
/**
 * Peer connections of a daemon's torrents together unless `--max-connections`: well under the
 * usual limit of 1024 open files, with room for the torrents' own files.
 */
export const DEFAULT_MAX_CONNECTIONS = 600;
/** Where the remote commands find a daemon unless `--rpc`. */
export const DEFAULT_RPC_URL = `http://127.0.0.1:${DEFAULT_RPC_PORT}`;
/** Most `--peer`, `--tracker` or `--web-seed` values: bounds the work on hostile input. */
const MAX_REPEATS = 1000;

/**
 * The default log folder: `~/Library/Logs/bittorrent` on macOS (the platform's convention),
 * `logs` in the state folder elsewhere (`$XDG_STATE_HOME/bittorrent/logs`, see
 * {@link defaultStateDir}), so runs do not litter the folder they start in.
 *
 * @example
 * ```ts
 * import { defaultLogDir } from "./args.ts";
 * console.log(defaultLogDir("darwin", { HOME: "/Users/ann" })); // "/Users/ann/Library/Logs/bittorrent"
 * console.log(defaultLogDir("linux", { HOME: "/home/ann" })); // "/home/ann/.local/state/bittorrent/logs"
 * ```
 */
export function defaultLogDir(
  os: string = Deno.build.os,
  env: Record<string, string | undefined> = readEnv(["HOME", "XDG_STATE_HOME", "LOCALAPPDATA"]),
): string {
  if (os === "darwin" && env.HOME) return `${env.HOME.replace(/\/+$/, "")}/Library/Logs/bittorrent`;
  const state = defaultStateDir(os, env);
  return `${state}${os === "windows" && env.LOCALAPPDATA ? "\\" : "/"}logs`;
}

/**
 * Where state that outlives a run is kept (saved DHT nodes): `$XDG_STATE_HOME/bittorrent` or
 * `~/.local/state/bittorrent` on Linux and BSDs, `~/Library/Application Support/bittorrent` on
 * macOS, `%LOCALAPPDATA%\\bittorrent` on Windows; `./.bittorrent` when none is known.
 *
 * @example
 * ```ts
 * import { defaultStateDir } from "./args.ts";
 * console.log(defaultStateDir("linux", { HOME: "/home/ann" })); // "/home/ann/.local/state/bittorrent"
 * ```
 */
export function defaultStateDir(
  os: string = Deno.build.os,
  env: Record<string, string | undefined> = readEnv(["HOME", "XDG_STATE_HOME", "LOCALAPPDATA"]),
): string {
  if (os === "windows" && env.LOCALAPPDATA) return `${env.LOCALAPPDATA}\\bittorrent`;
  if (os === "darwin" && env.HOME) return `${env.HOME}/Library/Application Support/bittorrent`;
  if (env.XDG_STATE_HOME) return `${env.XDG_STATE_HOME}/bittorrent`;
  if (env.HOME) return `${env.HOME}/.local/state/bittorrent`;
  return "./.bittorrent";
}

function readEnv(names: string[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const name of names) {
    try {
      out[name] = Deno.env.get(name);
    } catch { /* no --allow-env */ }
  }
  return out;
}

const RATE_PATTERN = /^(\d+(?:\.\d+)?|\.\d+)\s*([kmg]?)(?:i?b)?(?:\/s)?$/i;
const RATE_MULTIPLIER: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/**
 * Parses a rate such as `2M`, `500K`, `1.5M`, `100` (bytes/s) or `0` (unlimited) into bytes per
 * second. K, M and G are binary (1024-based); a trailing `B`, `iB` or `/s` is allowed and case
 * does not matter. Anything else throws {@link UsageError}.
 *
 * @example
 * ```ts
 * import { parseRate } from "./args.ts";
 * console.log(parseRate("1.5M"), parseRate("500kB/s"), parseRate("0")); // 1572864 512000 0
 * ```
 */
export function parseRate(text: string): number {
  const trimmed = text.trim();
  const match = trimmed.length <= 32 ? RATE_PATTERN.exec(trimmed) : null;
  if (!match) {
    throw new UsageError(
      `invalid rate "${printable(text)}" (use e.g. 500K, 2M, 1.5M, or 0 for unlimited)`,
    );
  }
  const value = Number(match[1]) * RATE_MULTIPLIER[match[2].toLowerCase()];
  if (!Number.isFinite(value) || value > MAX_RATE_LIMIT) {
    throw new UsageError(`rate "${printable(text)}" is too large (at most 1024G)`);
  }
  // A tiny non-zero limit must not round to 0, which would mean "unlimited".
  return value > 0 ? Math.max(1, Math.round(value)) : 0;
}

/** Flags that take no value. */
type Switch =
  | "altSpeed"
  | "seed"
  | "noSeed"
  | "quiet"
  | "verbose"
  | "help"
  | "version"
  | "noDht"
  | "noUtp"
  | "noPex"
  | "noWebSeeds"
  | "listFiles"
  | "sequential"
  | "prealloc"
  | "json"
  | "private"
  | "noDate"
  | "v1"
  | "v2"
  | "hybrid"
  | "paused"
  | "delete";

/** Flags that take a value; `repeat` ones keep every value given, the others the last. */
type ValueFlag =
  | "input"
  | "output"
  | "maxDownloadRate"
  | "maxUploadRate"
  | "maxPeers"
  | "logDir"
  | "port"
  | "bind"
  | "encryption"
  | "peer"
  | "dhtBootstrap"
  | "blocklist"
  | "saveTorrent"
  | "select"
  | "exclude"
  | "seedRatio"
  | "seedTime"
  | "seedIdle"
  | "altDownloadRate"
  | "altUploadRate"
  | "altSchedule"
  | "tracker"
  | "webSeed"
  | "pieceSize"
  | "comment"
  | "source"
  | "rpcPort"
  | "rpcBind"
  | "rpcAuth"
  | "rpcHost"
  | "rpc"
  | "stateDir"
  | "watchDir"
  | "doneScript"
  | "incompleteDir"
  | "maxActive"
  | "maxConnections";

type Flag = Switch | ValueFlag;

interface FlagSpec {
  key: Flag;
  /** Spelling used in messages, e.g. "--max-peers". */
  label: string;
  /** What the value looks like; absent for switches. */
  metavar?: string;
  /** Every use adds a value. */
  repeat?: boolean;
  /** A few words for shell completions. */
  about: string;
}

const FLAG_SPECS: readonly FlagSpec[] = [
  {
    key: "input",
    label: "--input",
    metavar: "<torrent-file|magnet>",
    about: "torrent file or magnet link",
  },
  {
    key: "output",
    label: "--output",
    metavar: "<path>",
    about: "output folder (create: the .torrent to write)",
  },
  {
    key: "maxDownloadRate",
    label: "--max-download-rate",
    metavar: "<RATE>",
    about: "download limit, e.g. 2M",
  },
  {
    key: "maxUploadRate",
    label: "--max-upload-rate",
    metavar: "<RATE>",
    about: "upload limit, e.g. 500K",
  },
  { key: "maxPeers", label: "--max-peers", metavar: "<NUM>", about: "most peer connections" },
  { key: "logDir", label: "--log-dir", metavar: "<DIR>", about: "folder for the log file" },
  { key: "port", label: "--port", metavar: "<N>", about: "port to accept peers on" },
  { key: "bind", label: "--bind", metavar: "<ADDR>", about: "listen on this address only" },
  { key: "encryption", label: "--encryption", metavar: "<MODE>", about: "prefer, require or off" },
  {
    key: "peer",
    label: "--peer",
    metavar: "<HOST:PORT>",
    repeat: true,
    about: "dial this peer at start",
  },
  { key: "seed", label: "--seed", about: "keep seeding after completion" },
  { key: "noSeed", label: "--no-seed", about: "stop when complete" },
  { key: "seedRatio", label: "--seed-ratio", metavar: "<R>", about: "seed until this share ratio" },
  { key: "seedTime", label: "--seed-time", metavar: "<DURATION>", about: "seed this long" },
  {
    key: "seedIdle",
    label: "--seed-idle",
    metavar: "<DURATION>",
    about: "stop seeding after this long without uploading",
  },
  { key: "listFiles", label: "--files", about: "list the files, then exit" },
  { key: "select", label: "--select", metavar: "<LIST>", about: "download only these files" },
  { key: "exclude", label: "--exclude", metavar: "<LIST>", about: "download all files but these" },
  { key: "sequential", label: "--sequential", about: "download pieces in order" },
  { key: "prealloc", label: "--prealloc", about: "reserve disk space first" },
  { key: "noDht", label: "--no-dht", about: "do not use the DHT" },
  { key: "noUtp", label: "--no-utp", about: "TCP only: do not use uTP" },
  { key: "noPex", label: "--no-pex", about: "do not trade peer lists with peers" },
  { key: "noWebSeeds", label: "--no-web-seeds", about: "do not fetch from web seeds" },
  {
    key: "dhtBootstrap",
    label: "--dht-bootstrap",
    metavar: "<HOST:PORT,...>",
    about: "DHT nodes to start from",
  },
  {
    key: "blocklist",
    label: "--blocklist",
    metavar: "<FILE|URL>",
    about: "never connect with addresses in this list (P2P, DAT or CIDR; gzipped or not)",
  },
  {
    key: "saveTorrent",
    label: "--save-torrent",
    metavar: "<FILE>",
    about: "save a magnet's .torrent here",
  },
  { key: "json", label: "--json", about: "JSON events on stdout" },
  {
    key: "tracker",
    label: "--tracker",
    metavar: "<URL>",
    repeat: true,
    about: "announce URL (a blank one starts a new tier)",
  },
  { key: "webSeed", label: "--web-seed", metavar: "<URL>", repeat: true, about: "web seed URL" },
  {
    key: "pieceSize",
    label: "--piece-size",
    metavar: "<SIZE>",
    about: "bytes per piece, e.g. 256K",
  },
  { key: "private", label: "--private", about: "private torrent" },
  { key: "comment", label: "--comment", metavar: "<TEXT>", about: "a comment" },
  { key: "source", label: "--source", metavar: "<TEXT>", about: "a source tag" },
  { key: "noDate", label: "--no-date", about: "no creation date" },
  { key: "v1", label: "--v1", about: "a v1 torrent" },
  { key: "v2", label: "--v2", about: "a v2-only torrent" },
  { key: "hybrid", label: "--hybrid", about: "a hybrid v1+v2 torrent (default)" },
  { key: "rpcPort", label: "--rpc-port", metavar: "<N>", about: "RPC port (default 9091)" },
  {
    key: "rpcBind",
    label: "--rpc-bind",
    metavar: "<ADDR>",
    about: "RPC address (default 127.0.0.1)",
  },
  { key: "rpcAuth", label: "--rpc-auth", metavar: "<USER:PASS>", about: "RPC login" },
  {
    key: "rpcHost",
    label: "--rpc-host",
    metavar: "<NAME>",
    repeat: true,
    about: "a host name the RPC answers to",
  },
  {
    key: "maxActive",
    label: "--max-active",
    metavar: "<NUM>",
    about: "torrents downloading at once (default 5)",
  },
  {
    key: "maxConnections",
    label: "--max-connections",
    metavar: "<NUM>",
    about: "peer connections of all torrents together (default 600)",
  },
  {
    key: "altDownloadRate",
    label: "--alt-download-rate",
    metavar: "<RATE>",
    about: "the alternative download limit (default 50K)",
  },
  {
    key: "altUploadRate",
    label: "--alt-upload-rate",
    metavar: "<RATE>",
    about: "the alternative upload limit (default 50K)",
  },
  { key: "altSpeed", label: "--alt-speed", about: "start with the alternative limits on" },
  {
    key: "altSchedule",
    label: "--alt-speed-schedule",
    metavar: "<WHEN>",
    about: "switch the alternative limits on daily, e.g. 09:00-17:00@weekdays",
  },
  {
    key: "stateDir",
    label: "--state-dir",
    metavar: "<DIR>",
    about: "where the daemon keeps its torrents",
  },
  {
    key: "watchDir",
    label: "--watch-dir",
    metavar: "<DIR>",
    about: "add the .torrent files put in this folder",
  },
  {
    key: "doneScript",
    label: "--done-script",
    metavar: "<FILE>",
    about: "run this program when a torrent finishes downloading",
  },
  {
    key: "incompleteDir",
    label: "--incomplete-dir",
    metavar: "<DIR>",
    about: "download here, then move to the download folder once complete",
  },
  { key: "rpc", label: "--rpc", metavar: "<URL>", about: "the daemon's RPC (default :9091)" },
  { key: "paused", label: "--paused", about: "add without starting" },
  { key: "delete", label: "--delete", about: "delete the data too" },
  { key: "quiet", label: "--quiet", about: "no progress line" },
  { key: "verbose", label: "--verbose", about: "debug messages in the log" },
  { key: "help", label: "--help", about: "show help" },
  { key: "version", label: "--version", about: "show the version" },
];

const LONG_FLAGS: ReadonlyMap<string, FlagSpec> = new Map(
  FLAG_SPECS.map((spec) => [spec.label.slice(2), spec]),
);

const SHORT_FLAGS: ReadonlyMap<string, string> = new Map([
  ["i", "input"],
  ["o", "output"],
  ["q", "quiet"],
  ["v", "verbose"],
  ["h", "help"],
]);

/** Flags about reaching peers: a download's, and `info`'s for a magnet link's metadata. */
const NETWORK_FLAGS: readonly Flag[] = [
  "port",
  "bind",
  "encryption",
  "peer",
  "maxPeers",
  "noDht",
  "noUtp",
  "noPex",
  "dhtBootstrap",
  "blocklist",
  "logDir",
  "verbose",
];

/** The flags each command takes (`--help` and `--version` go with all of them). */
const COMMAND_FLAGS: Record<CommandName, ReadonlySet<Flag>> = {
  download: new Set<Flag>([
    ...NETWORK_FLAGS,
    "input",
    "output",
    "maxDownloadRate",
    "maxUploadRate",
    "seed",
    "noSeed",
    "seedRatio",
    "seedTime",
    "listFiles",
    "select",
    "exclude",
    "sequential",
    "prealloc",
    "noWebSeeds",
    "saveTorrent",
    "json",
    "quiet",
  ]),
  verify: new Set<Flag>(["input", "output", "quiet", "json"]),
  info: new Set<Flag>([...NETWORK_FLAGS, "input", "json", "quiet"]),
  create: new Set<Flag>([
    "output",
    "tracker",
    "webSeed",
    "pieceSize",
    "private",
    "comment",
    "source",
    "noDate",
    "v1",
    "v2",
    "hybrid",
    "json",
    "quiet",
  ]),
  daemon: new Set<Flag>([
    ...NETWORK_FLAGS.filter((f) => f !== "peer"),
    "output",
    "maxDownloadRate",
    "maxUploadRate",
    "rpcPort",
    "rpcBind",
    "rpcAuth",
    "rpcHost",
    "stateDir",
    "watchDir",
    "doneScript",
    "incompleteDir",
    "maxActive",
    "maxConnections",
    "seedRatio",
    "seedIdle",
    "paused",
    "altDownloadRate",
    "altUploadRate",
    "altSpeed",
    "altSchedule",
  ]),
  add: new Set<Flag>(["rpc", "rpcAuth", "output", "paused"]),
  ls: new Set<Flag>(["rpc", "rpcAuth", "json"]),
  pause: new Set<Flag>(["rpc", "rpcAuth"]),
  resume: new Set<Flag>(["rpc", "rpcAuth"]),
  rm: new Set<Flag>(["rpc", "rpcAuth", "delete"]),
  stats: new Set<Flag>(["rpc", "rpcAuth", "json"]),
  completions: new Set<Flag>(),
};

/** A flag as shell completions offer it. */
export interface FlagInfo {
  /** `--long-name`. */
  long: string;
  /** `-x`, when it has one. */
  short?: string;
  /** What the value looks like (`<DIR>`); absent for switches. */
  metavar?: string;
  about: string;
}

/**
 * The flags `command` takes, `--help` included, in the order the help lists them.
 *
 * @example
 * ```ts
 * import { commandFlags } from "./args.ts";
 * console.log(commandFlags("verify").map((f) => f.long).join(" "));
 * // --input --output --json --quiet --help
 * ```
 */
export function commandFlags(command: CommandName): FlagInfo[] {
  const shortOf = new Map([...SHORT_FLAGS].map(([letter, long]) => [long, `-${letter}`]));
  return FLAG_SPECS
    .filter((spec) => spec.key === "help" || COMMAND_FLAGS[command].has(spec.key))
    .map((spec) => {
      const long = spec.label;
      const short = shortOf.get(long.slice(2));
      return {
        long,
        ...(short ? { short } : {}),
        ...(spec.metavar ? { metavar: spec.metavar } : {}),
        about: spec.about,
      };
    });
}

/** Options that tune where defaults come from; tests use them to pin the platform. */
export interface ParseArgsEnv {
  /** Operating system name as in `Deno.build.os`. */
  os?: string;
  /** The environment variables that place folders (`HOME`, `XDG_STATE_HOME`, `LOCALAPPDATA`). */
  env?: Record<string, string | undefined>;
}

/** One value as given: the spelling used (for messages) and the text. */
interface Given {
  label: string;
  value: string;
}

/** The command line taken apart: flags by key, and the plain arguments in order. */
interface Tokens {
  values: Map<ValueFlag, Given[]>;
  switches: Set<Switch>;
  /** Every flag given, by key, with the spelling used. */
  labels: Map<Flag, string>;
  positionals: string[];
}

/** Splits `argv` into flags and plain arguments; unknown flags and missing values throw. */
function tokenize(argv: readonly string[]): Tokens {
  const t: Tokens = { values: new Map(), switches: new Set(), labels: new Map(), positionals: [] };
  const take = (spec: FlagSpec, label: string, inline: string | undefined, i: number): number => {
    t.labels.set(spec.key, label);
    if (spec.metavar === undefined) {
      if (inline !== undefined) throw new UsageError(`${label} does not take a value`);
      t.switches.add(spec.key as Switch);
      return i;
    }
    let value = inline, next = i;
    if (value === undefined) {
      const candidate = argv[i + 1];
      if (candidate === undefined || looksLikeOption(candidate)) {
        throw new UsageError(`${label} needs a value ${spec.metavar}`);
      }
      value = candidate;
      next = i + 1;
    }
    const key = spec.key as ValueFlag;
    const list = spec.repeat ? t.values.get(key) ?? [] : [];
    if (list.length >= MAX_REPEATS) throw new UsageError(`${label}: too many values`);
    list.push({ label, value });
    t.values.set(key, list);
    return next;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      t.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      const spec = LONG_FLAGS.get(name);
      if (!spec) throw new UsageError(`unknown option --${printable(name)} (see --help)`);
      i = take(spec, spec.label, eq === -1 ? undefined : arg.slice(eq + 1), i);
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      // A cluster of short flags: switches combine; a value flag takes the rest (or next arg).
      for (let j = 1; j < arg.length; j++) {
        const letter = arg[j];
        const long = SHORT_FLAGS.get(letter);
        const spec = long === undefined ? undefined : LONG_FLAGS.get(long);
        if (!spec) throw new UsageError(`unknown option -${printable(letter)} (see --help)`);
        if (spec.metavar !== undefined) {
          const rest = arg.slice(j + 1);
          i = take(spec, `-${letter}`, rest === "" ? undefined : rest.replace(/^=/, ""), i);
          break;
        }
        take(spec, `-${letter}`, undefined, i);
      }
      continue;
    }
    t.positionals.push(arg);
  }
  return t;
}

/** The last value given for `key`. */
function last(t: Tokens, key: ValueFlag): Given | undefined {
  return t.values.get(key)?.at(-1);
}

/**
 * Parses the command line (without the program name) into validated options, or
 * `{ help: true }` / `{ version: true }` when those flags appear anywhere. The first word may
 * name a command (`download`, `verify`, `info`, `create`, `completions`, `help`); without one
 * it is a download. Long options take their value as `--name value` or `--name=value`; short
 * ones as `-o dir` or `-odir`, and short switches combine (`-qv`). `--` ends the options.
 * Throws {@link UsageError} on any mistake.
 *
 * @example
 * ```ts
 * import { parseArgs } from "./args.ts";
 * const parsed = parseArgs(["-o", "/tmp/out", "--max-download-rate", "2M", "file.torrent"]);
 * if ("input" in parsed) console.log(parsed.input, parsed.output, parsed.maxDownloadRate);
 * // "file.torrent" "/tmp/out" 2097152
 * ```
 */
export function parseArgs(argv: readonly string[], env: ParseArgsEnv = {}): ParsedArgs {
  const word = COMMAND_WORDS.find((w) => w === argv[0]);
  if (word !== undefined) argv = argv.slice(1);
  if (word === "help") return helpTopic(argv);
  const command: CommandName = word ?? "download";
  const t = tokenize(argv);
  if (t.switches.has("help")) {
    return word === undefined ? { help: true } : { help: true, topic: command };
  }
  if (t.switches.has("version")) return { version: true };
  for (const [key, label] of t.labels) {
    if (COMMAND_FLAGS[command].has(key)) continue;
    throw new UsageError(`${label} does not apply to ${command} (see bittorrent help ${command})`);
  }
  if (word === "create") return createOptions(t);
  if (word === "daemon") return daemonOptions(t, env);
  if (isRemoteCommand(word)) return remoteOptions(word, t);
  if (word === "completions") return completionsOptions(t);
  if (word === undefined) checkNotAMistypedCommand(t.positionals);
  return torrentOptions(t, word, env);
}

/** `bittorrent help [command]`. */
function helpTopic(rest: readonly string[]): ParsedArgs {
  if (rest.length === 0) return { help: true };
  const topic = COMMAND_WORDS.find((w) => w === rest[0]);
  if (topic === undefined || topic === "help" || rest.length > 1) {
    throw new UsageError(
      `no help on "${printable(rest.join(" "))}" (commands: ${COMMAND_WORDS.join(", ")})`,
    );
  }
  return { help: true, topic };
}

/**
 * `bittorrent dowload x.torrent` would otherwise read as two inputs: a first plain word that
 * is neither a path nor a link, followed by more, is a command misspelt.
 */
function checkNotAMistypedCommand(positionals: readonly string[]): void {
  const first = positionals[0];
  if (positionals.length < 2 || !/^[a-z][a-z-]*$/.test(first)) return;
  try {
    Deno.statSync(first);
    return; // a file of that name: an input after all
  } catch { /* not a file */ }
  throw new UsageError(
    `unknown command "${printable(first)}" (commands: ${COMMAND_WORDS.join(", ")})`,
  );
}

/** What each command that takes one torrent says when given none. */
const MISSING_INPUT = {
  download: "missing -i <torrent-file|magnet> (see --help)",
  verify: "missing the .torrent file to verify (see bittorrent help verify)",
  info: "missing the .torrent file or magnet link to show (see bittorrent help info)",
};

/** The options of `download`, `verify` and `info`. */
function torrentOptions(
  t: Tokens,
  command: "download" | "verify" | "info" | undefined,
  env: ParseArgsEnv,
): CliOptions {
  const { positionals } = t;
  if (positionals.length > 1) {
    throw new UsageError(
      `unexpected argument "${printable(positionals[1])}" (one input at a time)`,
    );
  }
  const flagInput = last(t, "input")?.value;
  if (flagInput !== undefined && positionals.length === 1) {
    throw new UsageError(
      `input given twice: "${printable(flagInput)}" and "${printable(positionals[0])}"`,
    );
  }
  const input = flagInput ?? positionals[0];
  if (input === undefined || input.trim() === "") {
    throw new UsageError(MISSING_INPUT[command ?? "download"]);
  }

  const output = last(t, "output")?.value ?? ".";
  if (output === "") throw new UsageError("--output must not be empty");
  const logDir = last(t, "logDir")?.value ?? defaultLogDir(env.os, env.env);
  if (logDir === "") throw new UsageError("--log-dir must not be empty");

  return {
    input,
    output,
    maxDownloadRate: rateOption(last(t, "maxDownloadRate")),
    maxUploadRate: rateOption(last(t, "maxUploadRate")),
    maxPeers: intOption(last(t, "maxPeers"), 1, MAX_PEERS_LIMIT, DEFAULT_MAX_PEERS),
    logDir,
    port: intOption(last(t, "port"), 0, 65535, DEFAULT_PORT),
    ...bindOption(last(t, "bind")),
    encryption: encryptionOption(last(t, "encryption")),
    ...peerOptions(t.values.get("peer")),
    ...seedOptions(t),
    ...selectionOptions(t),
    dht: !t.switches.has("noDht"),
    utp: !t.switches.has("noUtp"),
    pex: !t.switches.has("noPex"),
    webSeeds: !t.switches.has("noWebSeeds"),
    dhtBootstrap: bootstrapOption(last(t, "dhtBootstrap")),
    ...blocklistOption(last(t, "blocklist")),
    saveTorrent: last(t, "saveTorrent")?.value,
    ...(t.switches.has("json") ? { json: true } : {}),
    quiet: t.switches.has("quiet"),
    verbose: t.switches.has("verbose"),
    ...(command === undefined ? {} : { command }),
  };
}

/** `--bind`: a literal IPv4 or IPv6 address (brackets allowed), in its canonical form. */
function bindOption(given: Given | undefined): { bind?: string } {
  if (given === undefined) return {};
  const bytes = parseIp(given.value.trim());
  if (bytes === undefined) {
    throw new UsageError(
      `${given.label}: "${printable(given.value)}" is not an IP address (e.g. 192.168.1.5 or ::1)`,
    );
  }
  return { bind: formatIp(bytes)! };
}

const ENCRYPTION_MODES: readonly EncryptionPolicy[] = ["prefer", "require", "off"];

function encryptionOption(given: Given | undefined): EncryptionPolicy {
  if (given === undefined) return "prefer";
  const mode = ENCRYPTION_MODES.find((m) => m === given.value.trim().toLowerCase());
  if (mode === undefined) {
    throw new UsageError(`${given.label} must be prefer, require or off`);
  }
  return mode;
}

/** `host:port` with an IPv6 host in brackets; a host name or an IP literal. */
function hostPort(text: string): PeerOption | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  if (m[1] !== undefined) {
    const bytes = parseIp(m[1]);
    return bytes?.length === 16 ? { host: formatIp(bytes)!, port } : undefined;
  }
  return { host: m[2], port };
}

/** `--peer HOST:PORT`, repeatable. */
function peerOptions(given: Given[] | undefined): { peers?: PeerOption[] } {
  if (given === undefined) return {};
  return {
    peers: given.map((g) => {
      const peer = hostPort(g.value);
      if (!peer) {
        throw new UsageError(
          `${g.label}: "${printable(g.value)}" is not HOST:PORT (IPv6 as [addr]:port)`,
        );
      }
      return peer;
    }),
  };
}

/** `host:port[,host:port...]`, each checked; IPv6 hosts in brackets. */
function bootstrapOption(given: Given | undefined): string[] | undefined {
  if (given === undefined) return undefined;
  const nodes = given.value.split(",").map((n) => n.trim()).filter((n) => n !== "");
  for (const node of nodes) {
    if (!hostPort(node)) {
      throw new UsageError(`${given.label}: "${printable(node)}" is not host:port`);
    }
  }
  if (nodes.length === 0) throw new UsageError(`${given.label} needs at least one host:port`);
  return nodes;
}

// ---- create and completions -----------------------------------------------------------------

const MIN_PIECE_SIZE = 16 * 1024;
const MAX_PIECE_SIZE = 256 * 1024 * 1024;

function isRemoteCommand(word: string | undefined): word is RemoteCommand {
  return REMOTE_COMMANDS.some((c) => c === word);
}

/** The options of a remote command. */
function remoteOptions(command: RemoteCommand, t: Tokens): RemoteOptions {
  const targets = t.positionals;
  const takes = command === "add"
    ? "torrents"
    : command === "ls" || command === "stats"
    ? "nothing"
    : "ids";
  if (takes === "nothing" && targets.length > 0) {
    throw new UsageError(`unexpected argument "${printable(targets[0])}" (${command} takes none)`);
  }
  if (takes !== "nothing" && targets.length === 0) {
    throw new UsageError(
      takes === "torrents"
        ? "add needs a .torrent file or magnet link (see bittorrent help add)"
        : `${command} needs torrent ids, info-hashes or all (see bittorrent help ${command})`,
    );
  }
  if (takes === "ids") {
    const bad = targets.find((x) => !/^(\d+|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|all)$/.test(x));
    if (bad !== undefined) {
      throw new UsageError(`"${printable(bad)}" is not a torrent id, info-hash or all`);
    }
  }
  const auth = last(t, "rpcAuth");
  if (auth !== undefined && !/^[^:]+:.+$/.test(auth.value)) {
    throw new UsageError(`${auth.label}: give USER:PASSWORD`);
  }
  const output = last(t, "output")?.value;
  if (output === "") throw new UsageError("--output must not be empty");
  return {
    command,
    rpc: last(t, "rpc")?.value ?? DEFAULT_RPC_URL,
    ...(auth === undefined ? {} : { rpcAuth: auth.value }),
    targets,
    ...(output === undefined ? {} : { output }),
    paused: t.switches.has("paused"),
    delete: t.switches.has("delete"),
    json: t.switches.has("json"),
  };
}

/** The options of `daemon`. */
function daemonOptions(t: Tokens, env: ParseArgsEnv): DaemonOptions {
  if (t.positionals.length > 0) {
    throw new UsageError(
      `unexpected argument "${printable(t.positionals[0])}" (add torrents with the RPC)`,
    );
  }
  const output = last(t, "output")?.value ?? ".";
  if (output === "") throw new UsageError("--output must not be empty");
  const logDir = last(t, "logDir")?.value ?? defaultLogDir(env.os, env.env);
  if (logDir === "") throw new UsageError("--log-dir must not be empty");
  const rpcBind = bindOption(last(t, "rpcBind")).bind ?? "127.0.0.1";
  const auth = last(t, "rpcAuth");
  if (auth !== undefined && !/^[^:]+:.+$/.test(auth.value)) {
    throw new UsageError(`${auth.label}: give USER:PASSWORD`);
  }
  const ratio = last(t, "seedRatio"), idle = last(t, "seedIdle");
  const schedule = last(t, "altSchedule");
  // A path, when given and not empty ("" is how a settings file says none).
  const path = (key: "watchDir" | "doneScript" | "incompleteDir") =>
    last(t, key)?.value || undefined;
  const watchDir = path("watchDir"), doneScript = path("doneScript");
  const incompleteDir = path("incompleteDir");
  return {
    command: "daemon",
    output,
    port: intOption(last(t, "port"), 0, 65535, DEFAULT_PORT),
    ...bindOption(last(t, "bind")),
    encryption: encryptionOption(last(t, "encryption")),
    dht: !t.switches.has("noDht"),
    utp: !t.switches.has("noUtp"),
    pex: !t.switches.has("noPex"),
    dhtBootstrap: bootstrapOption(last(t, "dhtBootstrap")),
    ...blocklistOption(last(t, "blocklist")),
    maxDownloadRate: rateOption(last(t, "maxDownloadRate")),
    maxUploadRate: rateOption(last(t, "maxUploadRate")),
    maxPeers: intOption(last(t, "maxPeers"), 1, MAX_PEERS_LIMIT, DEFAULT_MAX_PEERS),
    rpcPort: intOption(last(t, "rpcPort"), 0, 65535, DEFAULT_RPC_PORT),
    rpcBind,
    ...(auth === undefined ? {} : { rpcAuth: auth.value }),
    rpcHosts: (t.values.get("rpcHost") ?? []).map((g) => g.value.trim().toLowerCase()),
    stateDir: last(t, "stateDir")?.value || `${defaultStateDir(env.os, env.env)}/daemon`,
    ...(watchDir ? { watchDir } : {}),
    ...(doneScript ? { doneScript } : {}),
    ...(incompleteDir ? { incompleteDir } : {}),
    maxActive: intOption(last(t, "maxActive"), 1, MAX_ACTIVE_LIMIT, DEFAULT_MAX_ACTIVE),
    maxConnections: intOption(
      last(t, "maxConnections"),
      1,
      MAX_CONNECTIONS_LIMIT,
      DEFAULT_MAX_CONNECTIONS,
    ),
    ...(ratio === undefined ? {} : { seedRatio: ratioOption(ratio) }),
    ...(idle === undefined ? {} : { seedIdleMs: labelled(idle, parseDuration) }),
    addPaused: t.switches.has("paused"),
    altDownloadRate: altRate(last(t, "altDownloadRate")),
    altUploadRate: altRate(last(t, "altUploadRate")),
    altSpeed: t.switches.has("altSpeed"),
    ...(schedule === undefined ? {} : { altSchedule: labelled(schedule, parseSchedule) }),
    logDir,
    verbose: t.switches.has("verbose"),
  };
}

/** The options of `create`. */
function createOptions(t: Tokens): CreateCommandOptions {
  const [path, extra] = t.positionals;
  if (path === undefined || path === "") {
    throw new UsageError("missing the file or folder to share (see bittorrent help create)");
  }
  if (extra !== undefined) {
    throw new UsageError(`unexpected argument "${printable(extra)}" (one file or folder)`);
  }
  const output = last(t, "output")?.value;
  if (output === undefined || output === "") {
    throw new UsageError("missing -o <file.torrent>: where to write the torrent");
  }
  const kinds = (["v1", "v2", "hybrid"] as const).filter((k) => t.switches.has(k));
  if (kinds.length > 1) {
    throw new UsageError(`--${kinds[0]} and --${kinds[1]} do not go together: give one`);
  }
  const out: CreateCommandOptions = {
    command: "create",
    path,
    output,
    trackers: trackerTiers(t.values.get("tracker") ?? []),
    webSeeds: (t.values.get("webSeed") ?? []).map((g) => urlOption(g, ["http:", "https:"])),
    private: t.switches.has("private"),
    noDate: t.switches.has("noDate"),
    torrentVersion: kinds[0] ?? "hybrid",
    quiet: t.switches.has("quiet"),
  };
  const piece = last(t, "pieceSize");
  if (piece) out.pieceLength = pieceSizeOption(piece);
  const comment = last(t, "comment")?.value;
  if (comment !== undefined) out.comment = comment;
  const source = last(t, "source")?.value;
  if (source !== undefined) out.source = source;
  if (t.switches.has("json")) out.json = true;
  return out;
}

/** Consecutive `--tracker` URLs share a tier; a blank one (`--tracker ""`) starts the next. */
function trackerTiers(given: readonly Given[]): string[][] {
  const tiers: string[][] = [[]];
  for (const g of given) {
    if (g.value.trim() === "") tiers.push([]);
    else tiers[tiers.length - 1].push(urlOption(g, ["http:", "https:", "udp:"]));
  }
  return tiers.filter((tier) => tier.length > 0);
}

function urlOption(g: Given, schemes: readonly string[]): string {
  const text = g.value.trim();
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch { /* reported below */ }
  if (!url || !schemes.includes(url.protocol) || url.hostname === "") {
    throw new UsageError(
      `${g.label}: "${printable(text)}" is not a ${
        schemes.map((s) => s.slice(0, -1)).join(" or ")
      } URL`,
    );
  }
  return text;
}

/** `--piece-size`: a power of two from 16 KiB to 256 MiB, e.g. `256K` or `4M`. */
function pieceSizeOption(g: Given): number {
  const m = /^(\d+)\s*([kmg]?)(?:i?b)?$/i.exec(g.value.trim());
  const size = m ? Number(m[1]) * RATE_MULTIPLIER[m[2].toLowerCase()] : NaN;
  const powerOfTwo = Number.isSafeInteger(size) && size > 0 && (size & (size - 1)) === 0;
  if (!powerOfTwo || size < MIN_PIECE_SIZE || size > MAX_PIECE_SIZE) {
    throw new UsageError(
      `${g.label} must be a power of two from 16K to 256M, e.g. 256K or 4M`,
    );
  }
  return size;
}

function completionsOptions(t: Tokens): CompletionsOptions {
  const [shell, extra] = t.positionals;
  const known = SHELLS.find((s) => s === shell);
  if (known === undefined || extra !== undefined) {
    throw new UsageError(
      `completions needs one shell: ${SHELLS.join(", ")} (e.g. bittorrent completions bash)`,
    );
  }
  return { command: "completions", shell: known };
}

// ---- value checks ---------------------------------------------------------------------------

/** "-x" or "--x" is an option; "-" alone and negative numbers are values (validated later). */
function looksLikeOption(arg: string): boolean {
  return arg.length > 1 && arg.startsWith("-") && !/^-\d/.test(arg);
}

function rateOption(given: Given | undefined): number {
  return given === undefined ? 0 : labelled(given, parseRate);
}

/** `parse` of a flag's value; what it refuses is told with the flag's name. */
function labelled<T>(given: Given, parse: (text: string) => T): T {
  try {
    return parse(given.value);
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`${given.label}: ${err.message}`);
    throw err;
  }
}

function intOption(given: Given | undefined, min: number, max: number, fallback: number): number {
  if (given === undefined) return fallback;
  const text = given.value.trim();
  const n = /^\d{1,7}$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) {
    throw new UsageError(`${given.label} must be a whole number from ${min} to ${max}`);
  }
  return n;
}

/** Keeps user-supplied text in messages on one line and free of terminal escapes. */
function printable(text: string): string {
  // deno-lint-ignore no-control-regex
  const clean = text.replace(/[\x00-\x1f\x7f-\x9f]/g, "?");
  return clean.length > 60 ? `${clean.slice(0, 57)}...` : clean;
}

// ---- file selection and seeding limits ----------------------------------------------------

/** `--select` or `--exclude` as given: inclusive ranges of 1-based file indexes. */
export interface FileSelection {
  /** `select`: only these files; `exclude`: every file but these. */
  mode: "select" | "exclude";
  /** Inclusive `[first, last]` ranges of 1-based indexes, as written. */
  ranges: readonly (readonly [number, number])[];
}

/** Longest accepted index list: bounds the work on hostile input. */
const MAX_LIST_LENGTH = 4096;

/**
 * Parses a file index list such as `1,3-5` into inclusive ranges. Indexes start at 1; a range
 * must not run backwards. Throws {@link UsageError} naming `label` on any mistake.
 *
 * @example
 * ```ts
 * import { parseIndexList } from "./args.ts";
 * console.log(parseIndexList("1, 3-5", "--select")); // [ [ 1, 1 ], [ 3, 5 ] ]
 * ```
 */
export function parseIndexList(text: string, label: string): [number, number][] {
  if (text.length > MAX_LIST_LENGTH) throw new UsageError(`${label}: the list is too long`);
  const ranges: [number, number][] = [];
  for (const item of text.split(",")) {
    const m = /^\s*(\d{1,9})\s*(?:-\s*(\d{1,9})\s*)?$/.exec(item);
    if (!m) {
      throw new UsageError(
        `${label}: "${printable(item.trim())}" is not a file index or range (use e.g. 1,3-5)`,
      );
    }
    const first = Number(m[1]), last = m[2] === undefined ? first : Number(m[2]);
    if (first < 1) throw new UsageError(`${label}: file indexes start at 1`);
    if (last < first) throw new UsageError(`${label}: range ${first}-${last} runs backwards`);
    ranges.push([first, last]);
  }
  return ranges;
}

/**
 * Turns a selection into one flag per file (`fileCount` files, index 0 for file 1), checking
 * every index against the torrent. Throws {@link UsageError} for an index the torrent does not
 * have, or when nothing would be left to download.
 *
 * @example
 * ```ts
 * import { resolveSelection } from "./args.ts";
 * console.log(resolveSelection({ mode: "exclude", ranges: [[2, 3]] }, 4)); // [ true, false, false, true ]
 * ```
 */
export function resolveSelection(selection: FileSelection, fileCount: number): boolean[] {
  const label = `--${selection.mode}`;
  const include = selection.mode === "select";
  const chosen = new Array<boolean>(fileCount).fill(!include);
  for (const [first, last] of selection.ranges) {
    if (last > fileCount) {
      const files = fileCount === 1 ? "1 file" : `${fileCount} files`;
      throw new UsageError(
        `${label}: there is no file ${last > first && first <= fileCount ? last : first}; ` +
          `the torrent has ${files} (see --files)`,
      );
    }
    for (let i = first; i <= last; i++) chosen[i - 1] = include;
  }
  if (!chosen.includes(true)) throw new UsageError(`${label} leaves no file to download`);
  return chosen;
}

const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a duration such as `90s`, `30m`, `2h`, `1d`, `1h30m` or `1.5h` into milliseconds. A
 * bare number counts minutes, as aria2's `--seed-time` does. Throws {@link UsageError}.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./args.ts";
 * console.log(parseDuration("1h30m"), parseDuration("90s"), parseDuration("2")); // 5400000 90000 120000
 * ```
 */
export function parseDuration(text: string): number {
  const t = text.trim().toLowerCase();
  const bad = () =>
    new UsageError(`invalid duration "${printable(text)}" (use e.g. 90s, 30m, 2h or 1h30m)`);
  if (t.length === 0 || t.length > 32) throw bad();
  let ms = 0;
  if (/^\d+(?:\.\d+)?$/.test(t)) ms = Number(t) * DURATION_UNITS.m;
  else {
    if (!/^(?:\d+(?:\.\d+)?[smhd])+$/.test(t)) throw bad();
    for (const m of t.matchAll(/(\d+(?:\.\d+)?)([smhd])/g)) {
      ms += Number(m[1]) * DURATION_UNITS[m[2]];
    }
  }
  if (!Number.isFinite(ms) || ms > MAX_SEED_DURATION_MS) {
    const days = MAX_SEED_DURATION_MS / DURATION_UNITS.d;
    throw new UsageError(`duration "${printable(text)}" is too long (at most ${days}d)`);
  }
  return Math.round(ms);
}

/** `seed`, `seedRatio` and `seedTimeMs` from --seed, --no-seed, --seed-ratio, --seed-time. */
function seedOptions(t: Tokens): Pick<CliOptions, "seed" | "seedRatio" | "seedTimeMs"> {
  const { switches } = t;
  const ratio = last(t, "seedRatio"), time = last(t, "seedTime");
  if (switches.has("noSeed")) {
    const clash = switches.has("seed") ? "--seed" : (ratio ?? time)?.label;
    if (clash) throw new UsageError(`--no-seed and ${clash} contradict each other`);
    return { seed: false };
  }
  const out: Pick<CliOptions, "seed" | "seedRatio" | "seedTimeMs"> = {
    seed: switches.has("seed") || ratio !== undefined || time !== undefined,
  };
  if (ratio !== undefined) out.seedRatio = ratioOption(ratio);
  if (time !== undefined) out.seedTimeMs = labelled(time, parseDuration);
  return out;
}

/** A share ratio from 0 to `MAX_SEED_RATIO` with at most six decimals (`--seed-ratio`). */
function ratioOption(given: Given): number {
  const text = given.value.trim();
  const r = /^(?:\d{1,6}(?:\.\d{0,6})?|\.\d{1,6})$/.test(text) ? Number(text) : NaN;
  if (!(r >= 0 && r <= MAX_SEED_RATIO)) {
    throw new UsageError(`${given.label} must be a number from 0 to ${MAX_SEED_RATIO}, e.g. 1.5`);
  }
  return r;
}

/** `--blocklist`, when given: read when the client opens, so only emptiness is refused here. */
function blocklistOption(given: Given | undefined): { blocklist?: string } {
  if (given === undefined) return {};
  if (given.value.trim() === "") throw new UsageError(`${given.label} needs a file or an address`);
  return { blocklist: given.value.trim() };
}

/** An alternative speed limit: Transmission's 50 kB/s unless given. */
function altRate(given: Given | undefined): number {
  return given === undefined ? DEFAULT_SPEED_SETTINGS.altDownload : rateOption(given);
}

/** Day words of a schedule, Sunday first (Transmission's bit order). */
const DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const DAY_SETS: Record<string, number> = { all: 127, weekdays: 62, weekends: 65, none: 0 };

/**
 * Reads a daily window: `HH:MM-HH:MM`, then `@` and the days (`all`, the default; `weekdays`,
 * `weekends`, or names such as `mon,wed,fri`). A window that ends before it begins runs past
 * midnight. Throws {@link UsageError}.
 *
 * @example
 * ```ts
 * import { formatSchedule, parseSchedule } from "./args.ts";
 * const nights = parseSchedule("22:30-06:00@sat,sun");
 * console.log(nights, formatSchedule(nights)); // { begin: 1350, end: 360, days: 65 } 22:30-06:00@weekends
 * ```
 */
export function parseSchedule(text: string): SpeedSchedule {
  const m = /^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})(?:@([a-z,]+))?$/.exec(text.trim().toLowerCase());
  const minutes = (h: string, min: string) =>
    Number(h) < 24 && Number(min) < 60 ? Number(h) * 60 + Number(min) : NaN;
  const begin = m ? minutes(m[1], m[2]) : NaN, end = m ? minutes(m[3], m[4]) : NaN;
  if (!m || Number.isNaN(begin) || Number.isNaN(end)) {
    throw new UsageError(
      `invalid schedule "${printable(text)}" (use e.g. 09:00-17:00 or 22:00-06:00@weekdays)`,
    );
  }
  let days = 0;
  for (const word of (m[5] ?? "all").split(",")) {
    const bits = DAY_SETS[word] ?? (DAY_NAMES.includes(word) ? 1 << DAY_NAMES.indexOf(word) : NaN);
    if (Number.isNaN(bits)) {
      throw new UsageError(
        `unknown day "${printable(word)}" (use all, weekdays, weekends or mon..sun)`,
      );
    }
    days |= bits;
  }
  return { begin, end, days };
}

/** The text `parseSchedule` reads back as `schedule`. */
export function formatSchedule(schedule: SpeedSchedule): string {
  const time = (m: number) =>
    `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
  const set = Object.entries(DAY_SETS).find(([, bits]) => bits === schedule.days)?.[0];
  const days = set ?? DAY_NAMES.filter((_, i) => schedule.days & (1 << i)).join(",");
  return `${time(schedule.begin)}-${time(schedule.end)}@${days}`;
}

/** `listFiles`, `fileSelection`, `sequential` and `prealloc`, each present only when asked for. */
function selectionOptions(
  t: Tokens,
): Pick<CliOptions, "listFiles" | "fileSelection" | "sequential" | "prealloc"> {
  const { switches } = t;
  const select = last(t, "select"), exclude = last(t, "exclude");
  if (select && exclude) {
    throw new UsageError("--select and --exclude cannot be used together");
  }
  const out: Pick<CliOptions, "listFiles" | "fileSelection" | "sequential" | "prealloc"> = {};
  if (switches.has("listFiles")) out.listFiles = true;
  if (switches.has("sequential")) out.sequential = true;
  if (switches.has("prealloc")) out.prealloc = true;
  const given = select ?? exclude;
  if (given) {
    out.fileSelection = {
      mode: select ? "select" : "exclude",
      ranges: parseIndexList(given.value, given.label),
    };
  }
  return out;
}
