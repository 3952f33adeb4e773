/**
 * Command-line arguments: parsing, validation and the help screen. Every mistake becomes a
 * {@link UsageError} with one line the user can act on.
 *
 * @module
 */
import type { EncryptionPolicy } from "../peer/mod.ts";
import { formatIp, parseIp } from "../util/mod.ts";

/** The commands the first word of the command line may name (`download` when absent). */
export type CommandName = "download" | "verify";

const COMMANDS: ReadonlySet<string> = new Set<CommandName>(["download", "verify"]);

/** Flags `verify` accepts; any other is a mistake rather than silently ignored. */
const VERIFY_FLAGS: ReadonlySet<string> = new Set(["input", "output", "quiet", "help", "version"]);

/** Options for one download run, validated and with every default filled in. */
export interface CliOptions {
  /**
   * The command named by a leading word (`bittorrent verify ...`); absent when none was given,
   * which means download.
   */
  command?: CommandName;
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
  /** DHT nodes to start from instead of the public routers (`host:port`). */
  dhtBootstrap?: string[];
  /** Where to write the .torrent fetched for a magnet link. */
  saveTorrent?: string;
  /** Do not print the live progress line. */
  quiet: boolean;
  /** Log at debug level. */
  verbose: boolean;
}

/** What {@link parseArgs} returns: options to run with, or a request for help or the version. */
export type ParsedArgs = CliOptions | { help: true } | { version: true };

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
export const DEFAULT_MAX_PEERS = 20;
/** Default listen port (the traditional BitTorrent port). */
export const DEFAULT_PORT = 6881;
const MAX_PEERS_LIMIT = 1000;
/** Largest accepted rate limit (1 TiB/s): bounds the arithmetic, far above any real link. */
const MAX_RATE = 1024 ** 4;

/**
 * The default log folder: `~/Library/Logs/bittorrent` on macOS (the platform's convention),
 * `./logs` elsewhere or when HOME is unknown.
 *
 * @example
 * ```ts
 * import { defaultLogDir } from "./args.ts";
 * console.log(defaultLogDir("darwin", "/Users/ann")); // "/Users/ann/Library/Logs/bittorrent"
 * console.log(defaultLogDir("linux", "/home/ann")); // "./logs"
 * ```
 */
export function defaultLogDir(
  os: string = Deno.build.os,
  home: string | undefined = readHome(),
): string {
  if (os === "darwin" && home) return `${home.replace(/\/+$/, "")}/Library/Logs/bittorrent`;
  return "./logs";
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

function readHome(): string | undefined {
  try {
    return Deno.env.get("HOME");
  } catch {
    return undefined; // no --allow-env: fall back to the portable default
  }
}

/** The usage screen printed for `--help`. */
export const HELP_TEXT: string = `bittorrent - download a torrent from the terminal

Usage:
  bittorrent [download] [options] <torrent-file|magnet>
  bittorrent [download] -i <torrent-file|magnet> [options]
  bittorrent verify [-o <dir>] [-q] <torrent-file>

Commands:
  download (the default)      download, resuming what the output folder holds
  verify                      hash the files in the output folder and report
                              each file's completeness; exit 0 when complete,
                              1 when not

Options:
  -i, --input <torrent-file|magnet>
                              .torrent file or magnet link to download
                              (a bare argument works too)
  -o, --output <dir>          folder to save the files in (default: .)
      --max-download-rate <RATE>
                              download limit (default: 0 = unlimited)
      --max-upload-rate <RATE>
                              upload limit (default: 0 = unlimited)
      --max-peers <NUM>       most peer connections, 1-1000 (default: ${DEFAULT_MAX_PEERS})
      --port <N>              port to accept peers on, 0 = any (default: ${DEFAULT_PORT})
      --bind <ADDR>           listen for peers and run the DHT on this address
                              only (default: every IPv4 and IPv6 address)
      --encryption <MODE>     prefer: encrypt where the peer can (default);
                              require: encrypted peers only; off: plaintext only
      --log-dir <DIR>         folder for the log file (default: ./logs;
                              ~/Library/Logs/bittorrent on macOS)
      --files                 list the torrent's files with indexes and sizes,
                              then exit (for a magnet, once its info arrived)
      --select <LIST>         download only these files, e.g. 1,3-5
      --exclude <LIST>        download every file but these, e.g. 2,7-9
      --sequential            download pieces in order (to play media early)
      --prealloc              reserve the files' full size on disk before
                              downloading (default: sparse files that grow)
      --seed                  keep seeding after completion, until Ctrl-C
      --seed-ratio <R>        seed until uploaded / size reaches R, then exit
      --seed-time <DURATION>  seed this long, then exit (e.g. 90s, 30m, 2h,
                              1h30m; a bare number is minutes)
      --no-seed               stop when the download completes (the default)
      --no-dht                do not use the DHT to find peers
      --dht-bootstrap <HOST:PORT,...>
                              DHT nodes to start from (default: public routers
                              and the nodes saved by the last run)
      --save-torrent <FILE>   for a magnet link, save the fetched .torrent
  -q, --quiet                 no progress line
  -v, --verbose               write debug messages to the log
  -h, --help                  show this help and exit
      --version               show the version and exit

With both --seed-ratio and --seed-time, seeding stops at whichever comes
first; --seed alone seeds until Ctrl-C.

RATE is bytes per second with an optional K, M or G suffix
(K = 1024, M = 1024^2, G = 1024^3), e.g. 500K, 2M, 1.5M; a trailing B or /s
is allowed, in any case. 0 means unlimited.

Examples:
  bittorrent -o ~/Downloads ubuntu.iso.torrent
  bittorrent --max-download-rate 2M --seed "magnet:?xt=urn:btih:<info-hash>"
  bittorrent --files series.torrent
  bittorrent --select 2,4-6 --sequential --seed-ratio 1.5 series.torrent
`;

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
  if (!Number.isFinite(value) || value > MAX_RATE) {
    throw new UsageError(`rate "${printable(text)}" is too large (at most 1024G)`);
  }
  // A tiny non-zero limit must not round to 0, which would mean "unlimited".
  return value > 0 ? Math.max(1, Math.round(value)) : 0;
}

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
  | "dhtBootstrap"
  | "saveTorrent"
  | "select"
  | "exclude"
  | "seedRatio"
  | "seedTime";
type BoolFlag =
  | "seed"
  | "quiet"
  | "verbose"
  | "help"
  | "version"
  | "noDht"
  | "listFiles"
  | "sequential"
  | "prealloc"
  | "noSeed";

interface FlagSpec {
  key: ValueFlag | BoolFlag;
  takesValue: boolean;
  /** Spelling used in messages, e.g. "--max-peers". */
  label: string;
  /** What the value looks like, for "needs a value" messages. */
  metavar?: string;
}

const LONG_FLAGS: ReadonlyMap<string, FlagSpec> = new Map<string, FlagSpec>([
  ["input", { key: "input", takesValue: true, label: "--input", metavar: "<torrent-file|magnet>" }],
  ["output", { key: "output", takesValue: true, label: "--output", metavar: "<dir>" }],
  [
    "max-download-rate",
    { key: "maxDownloadRate", takesValue: true, label: "--max-download-rate", metavar: "<RATE>" },
  ],
  [
    "max-upload-rate",
    { key: "maxUploadRate", takesValue: true, label: "--max-upload-rate", metavar: "<RATE>" },
  ],
  ["max-peers", { key: "maxPeers", takesValue: true, label: "--max-peers", metavar: "<NUM>" }],
  ["log-dir", { key: "logDir", takesValue: true, label: "--log-dir", metavar: "<DIR>" }],
  ["port", { key: "port", takesValue: true, label: "--port", metavar: "<N>" }],
  ["bind", { key: "bind", takesValue: true, label: "--bind", metavar: "<ADDR>" }],
  [
    "encryption",
    { key: "encryption", takesValue: true, label: "--encryption", metavar: "<MODE>" },
  ],
  ["seed", { key: "seed", takesValue: false, label: "--seed" }],
  ["no-seed", { key: "noSeed", takesValue: false, label: "--no-seed" }],
  ["seed-ratio", { key: "seedRatio", takesValue: true, label: "--seed-ratio", metavar: "<R>" }],
  [
    "seed-time",
    { key: "seedTime", takesValue: true, label: "--seed-time", metavar: "<DURATION>" },
  ],
  ["files", { key: "listFiles", takesValue: false, label: "--files" }],
  ["select", { key: "select", takesValue: true, label: "--select", metavar: "<LIST>" }],
  ["exclude", { key: "exclude", takesValue: true, label: "--exclude", metavar: "<LIST>" }],
  ["sequential", { key: "sequential", takesValue: false, label: "--sequential" }],
  ["prealloc", { key: "prealloc", takesValue: false, label: "--prealloc" }],
  ["no-dht", { key: "noDht", takesValue: false, label: "--no-dht" }],
  [
    "dht-bootstrap",
    { key: "dhtBootstrap", takesValue: true, label: "--dht-bootstrap", metavar: "<HOST:PORT,...>" },
  ],
  [
    "save-torrent",
    { key: "saveTorrent", takesValue: true, label: "--save-torrent", metavar: "<FILE>" },
  ],
  ["quiet", { key: "quiet", takesValue: false, label: "--quiet" }],
  ["verbose", { key: "verbose", takesValue: false, label: "--verbose" }],
  ["help", { key: "help", takesValue: false, label: "--help" }],
  ["version", { key: "version", takesValue: false, label: "--version" }],
]);

const SHORT_FLAGS: ReadonlyMap<string, string> = new Map([
  ["i", "input"],
  ["o", "output"],
  ["q", "quiet"],
  ["v", "verbose"],
  ["h", "help"],
]);

/** Options that tune where defaults come from; tests use them to pin the platform. */
export interface ParseArgsEnv {
  /** Operating system name as in `Deno.build.os`. */
  os?: string;
  /** The user's home folder. */
  home?: string;
}

/**
 * Parses the command line (without the program name) into validated {@link CliOptions}, or
 * `{ help: true }` / `{ version: true }` when those flags appear anywhere. Long options take
 * their value as `--name value` or `--name=value`; short ones as `-o dir` or `-odir`, and
 * short switches combine (`-qv`). `--` ends the options. Throws {@link UsageError} on any
 * mistake.
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
  // A leading command word; a torrent file literally named "verify" needs "./verify" or -i.
  const command = COMMANDS.has(argv[0]) ? argv[0] as CommandName : undefined;
  if (command !== undefined) argv = argv.slice(1);
  const values = new Map<ValueFlag, { label: string; value: string }>();
  const switches = new Set<BoolFlag>();
  const positionals: string[] = [];

  const take = (spec: FlagSpec, inline: string | undefined, index: number): number => {
    if (!spec.takesValue) {
      if (inline !== undefined) throw new UsageError(`${spec.label} does not take a value`);
      switches.add(spec.key as BoolFlag);
      return index;
    }
    let value = inline;
    let next = index;
    if (value === undefined) {
      const candidate = argv[index + 1];
      if (candidate === undefined || looksLikeOption(candidate)) {
        throw new UsageError(`${spec.label} needs a value ${spec.metavar ?? ""}`.trimEnd());
      }
      value = candidate;
      next = index + 1;
    }
    values.set(spec.key as ValueFlag, { label: spec.label, value });
    return next;
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      const spec = LONG_FLAGS.get(name);
      if (!spec) throw new UsageError(`unknown option --${printable(name)} (see --help)`);
      i = take(spec, eq === -1 ? undefined : arg.slice(eq + 1), i);
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      // A cluster of short flags: switches combine; a value flag takes the rest (or next arg).
      for (let j = 1; j < arg.length; j++) {
        const letter = arg[j];
        const long = SHORT_FLAGS.get(letter);
        const spec = long === undefined ? undefined : LONG_FLAGS.get(long);
        if (!spec) throw new UsageError(`unknown option -${printable(letter)} (see --help)`);
        if (spec.takesValue) {
          const rest = arg.slice(j + 1);
          const label = { ...spec, label: `-${letter}` };
          i = take(label, rest === "" ? undefined : rest.replace(/^=/, ""), i);
          break;
        }
        take(spec, undefined, i);
      }
      continue;
    }
    positionals.push(arg);
  }

  if (switches.has("help")) return { help: true };
  if (switches.has("version")) return { version: true };
  if (command === "verify") {
    for (const key of [...values.keys(), ...switches]) {
      if (VERIFY_FLAGS.has(key)) continue;
      const label = values.get(key as ValueFlag)?.label ??
        [...LONG_FLAGS.values()].find((spec) => spec.key === key)?.label ?? key;
      throw new UsageError(`${label} does not apply to verify (see --help)`);
    }
  }

  if (positionals.length > 1) {
    throw new UsageError(
      `unexpected argument "${printable(positionals[1])}" (one input at a time)`,
    );
  }
  const flagInput = values.get("input")?.value;
  if (flagInput !== undefined && positionals.length === 1) {
    throw new UsageError(
      `input given twice: "${printable(flagInput)}" and "${printable(positionals[0])}"`,
    );
  }
  const input = flagInput ?? positionals[0];
  if (input === undefined || input.trim() === "") {
    throw new UsageError("missing -i <torrent-file|magnet> (see --help)");
  }

  const output = values.get("output")?.value ?? ".";
  if (output === "") throw new UsageError("--output must not be empty");
  const logDir = values.get("logDir")?.value ?? defaultLogDir(env.os, env.home ?? readHome());
  if (logDir === "") throw new UsageError("--log-dir must not be empty");

  return {
    input,
    output,
    maxDownloadRate: rateOption(values.get("maxDownloadRate")),
    maxUploadRate: rateOption(values.get("maxUploadRate")),
    maxPeers: intOption(values.get("maxPeers"), 1, MAX_PEERS_LIMIT, DEFAULT_MAX_PEERS),
    logDir,
    port: intOption(values.get("port"), 0, 65535, DEFAULT_PORT),
    ...bindOption(values.get("bind")),
    encryption: encryptionOption(values.get("encryption")),
    ...seedOptions(switches, values),
    ...selectionOptions(switches, values),
    dht: !switches.has("noDht"),
    dhtBootstrap: bootstrapOption(values.get("dhtBootstrap")),
    saveTorrent: values.get("saveTorrent")?.value,
    quiet: switches.has("quiet"),
    verbose: switches.has("verbose"),
    ...(command === undefined ? {} : { command }),
  };
}

/** `--bind`: a literal IPv4 or IPv6 address (brackets allowed), in its canonical form. */
function bindOption(given: { label: string; value: string } | undefined): { bind?: string } {
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

function encryptionOption(given: { label: string; value: string } | undefined): EncryptionPolicy {
  if (given === undefined) return "prefer";
  const mode = ENCRYPTION_MODES.find((m) => m === given.value.trim().toLowerCase());
  if (mode === undefined) {
    throw new UsageError(`${given.label} must be prefer, require or off`);
  }
  return mode;
}

/** `host:port[,host:port...]`, each checked; IPv6 hosts in brackets. */
function bootstrapOption(
  given: { label: string; value: string } | undefined,
): string[] | undefined {
  if (given === undefined) return undefined;
  const nodes = given.value.split(",").map((n) => n.trim()).filter((n) => n !== "");
  for (const node of nodes) {
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(node);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
      throw new UsageError(`${given.label}: "${printable(node)}" is not host:port`);
    }
  }
  if (nodes.length === 0) throw new UsageError(`${given.label} needs at least one host:port`);
  return nodes;
}

/** "-x" or "--x" is an option; "-" alone and negative numbers are values (validated later). */
function looksLikeOption(arg: string): boolean {
  return arg.length > 1 && arg.startsWith("-") && !/^-\d/.test(arg);
}

function rateOption(given: { label: string; value: string } | undefined): number {
  if (given === undefined) return 0;
  try {
    return parseRate(given.value);
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`${given.label}: ${err.message}`);
    throw err;
  }
}

function intOption(
  given: { label: string; value: string } | undefined,
  min: number,
  max: number,
  fallback: number,
): number {
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
/** Longest seeding time accepted (a year): bounds the arithmetic. */
const MAX_DURATION_MS = 365 * 86_400_000;

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
  if (!Number.isFinite(ms) || ms > MAX_DURATION_MS) {
    throw new UsageError(`duration "${printable(text)}" is too long (at most 365d)`);
  }
  return Math.round(ms);
}

type Given = ReadonlyMap<ValueFlag, { label: string; value: string }>;

/** `seed`, `seedRatio` and `seedTimeMs` from --seed, --no-seed, --seed-ratio, --seed-time. */
function seedOptions(
  switches: ReadonlySet<BoolFlag>,
  values: Given,
): Pick<CliOptions, "seed" | "seedRatio" | "seedTimeMs"> {
  const ratio = values.get("seedRatio"), time = values.get("seedTime");
  if (switches.has("noSeed")) {
    const clash = switches.has("seed") ? "--seed" : (ratio ?? time)?.label;
    if (clash) throw new UsageError(`--no-seed and ${clash} contradict each other`);
    return { seed: false };
  }
  const out: Pick<CliOptions, "seed" | "seedRatio" | "seedTimeMs"> = {
    seed: switches.has("seed") || ratio !== undefined || time !== undefined,
  };
  if (ratio !== undefined) {
    const text = ratio.value.trim();
    const r = /^(?:\d{1,6}(?:\.\d{0,6})?|\.\d{1,6})$/.test(text) ? Number(text) : NaN;
    if (!(r >= 0 && r <= 10_000)) {
      throw new UsageError(`${ratio.label} must be a number from 0 to 10000, e.g. 1.5`);
    }
    out.seedRatio = r;
  }
  if (time !== undefined) {
    try {
      out.seedTimeMs = parseDuration(time.value);
    } catch (e) {
      if (e instanceof UsageError) throw new UsageError(`${time.label}: ${e.message}`);
      throw e;
    }
  }
  return out;
}

/** `listFiles`, `fileSelection`, `sequential` and `prealloc`, each present only when asked for. */
function selectionOptions(
  switches: ReadonlySet<BoolFlag>,
  values: Given,
): Pick<CliOptions, "listFiles" | "fileSelection" | "sequential" | "prealloc"> {
  const select = values.get("select"), exclude = values.get("exclude");
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
