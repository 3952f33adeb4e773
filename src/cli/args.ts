/**
 * Command-line arguments: parsing, validation and the help screen. Every mistake becomes a
 * {@link UsageError} with one line the user can act on.
 *
 * @module
 */

/** Options for one download run, validated and with every default filled in. */
export interface CliOptions {
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
  /** Keep seeding after the download completes, until interrupted. */
  seed: boolean;
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
  bittorrent [options] <torrent-file|magnet>
  bittorrent -i <torrent-file|magnet> [options]

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
      --log-dir <DIR>         folder for the log file (default: ./logs;
                              ~/Library/Logs/bittorrent on macOS)
      --seed                  keep seeding after completion, until Ctrl-C
      --no-dht                do not use the DHT to find peers
      --dht-bootstrap <HOST:PORT,...>
                              DHT nodes to start from (default: public routers
                              and the nodes saved by the last run)
      --save-torrent <FILE>   for a magnet link, save the fetched .torrent
  -q, --quiet                 no progress line
  -v, --verbose               write debug messages to the log
  -h, --help                  show this help and exit
      --version               show the version and exit

RATE is bytes per second with an optional K, M or G suffix
(K = 1024, M = 1024^2, G = 1024^3), e.g. 500K, 2M, 1.5M; a trailing B or /s
is allowed, in any case. 0 means unlimited.

Examples:
  bittorrent -o ~/Downloads ubuntu.iso.torrent
  bittorrent --max-download-rate 2M --seed "magnet:?xt=urn:btih:<info-hash>"
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
  | "dhtBootstrap"
  | "saveTorrent";
type BoolFlag = "seed" | "quiet" | "verbose" | "help" | "version" | "noDht";

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
  ["seed", { key: "seed", takesValue: false, label: "--seed" }],
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
    seed: switches.has("seed"),
    dht: !switches.has("noDht"),
    dhtBootstrap: bootstrapOption(values.get("dhtBootstrap")),
    saveTorrent: values.get("saveTorrent")?.value,
    quiet: switches.has("quiet"),
    verbose: switches.has("verbose"),
  };
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
