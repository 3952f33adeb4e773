/**
 * The demo's command line: `--size`, `--seeders`, `--keep` and `--help`. Every mistake becomes a
 * {@link DemoError} with one line the user can act on.
 *
 * @module
 */

/**
 * A failure of the demo (a bad flag, a swarm that would not start) with a one-line message for
 * the user.
 *
 * @example
 * ```ts
 * import { DemoError } from "./args.ts";
 * const err = new DemoError("--seeders must be a whole number from 1 to 16");
 * console.log(err.name, err instanceof Error); // "DemoError" true
 * ```
 */
export class DemoError extends Error {
  /** Creates the error with a one-line message. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DemoError";
  }
}

/** Payload size when `--size` is not given: big enough to watch the progress line move. */
export const DEFAULT_DEMO_SIZE = 64 * 1024 * 1024;
/** Seeders when `--seeders` is not given. */
export const DEFAULT_DEMO_SEEDERS = 3;
/** Smallest payload: a few pieces across the demo's files. */
export const MIN_DEMO_SIZE = 64 * 1024;
/** Largest payload: the demo writes it twice to a temporary folder, so keep it sane. */
export const MAX_DEMO_SIZE = 16 * 1024 ** 3;
/** Most seeders (each is a whole client in this process). */
export const MAX_DEMO_SEEDERS = 16;

/** What the demo's command line asks for. */
export interface DemoArgs {
  /** Payload size in bytes. */
  size: number;
  /** Number of seeders. */
  seeders: number;
  /** Keep the temporary folder instead of removing it. */
  keep: boolean;
  /** Print the usage text and exit. */
  help: boolean;
}

/** The usage screen of `deno task demo --help`. */
export const DEMO_HELP: string = `bittorrent demo - a whole swarm on this machine, offline

Makes a random payload in a temporary folder, starts a tracker and seeders of our own on
127.0.0.1, downloads the torrent with the real command-line client, checks every byte,
and removes the folder again.

Usage:
  deno task demo [--size SIZE] [--seeders N] [--keep]

Options:
      --size <SIZE>     payload size, e.g. 4M, 512K, 1G (default: 64M;
                        K = 1024, M = 1024^2, G = 1024^3; 64K to 16G)
      --seeders <N>     seeders to start, 1-${MAX_DEMO_SEEDERS} (default: ${DEFAULT_DEMO_SEEDERS})
      --keep            keep the temporary folder (payload, torrent, download, logs)
  -h, --help            show this help and exit

Exit codes: 0 passed, 1 failed, 2 bad usage, 130 interrupted (Ctrl-C).
`;

const SIZE_PATTERN = /^(\d{1,12}(?:\.\d{1,6})?)\s*([kmg]?)(?:i?b)?$/i;
const SIZE_MULTIPLIER: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/**
 * Parses a size such as `64M`, `512K`, `1.5G` or `100000` (bytes) into bytes. K, M and G are
 * binary; a trailing `B` or `iB` is allowed, in any case. The result must lie between
 * {@link MIN_DEMO_SIZE} and {@link MAX_DEMO_SIZE}; anything else throws {@link DemoError}.
 *
 * @example
 * ```ts
 * import { parseSize } from "./args.ts";
 * console.log(parseSize("64M"), parseSize("1.5MiB"), parseSize("100000")); // 67108864 1572864 100000
 * ```
 */
export function parseSize(text: string): number {
  const match = text.length <= 32 ? SIZE_PATTERN.exec(text.trim()) : null;
  if (!match) {
    throw new DemoError(`invalid size "${printable(text)}" (use e.g. 4M, 512K or 1G)`);
  }
  const bytes = Math.round(Number(match[1]) * SIZE_MULTIPLIER[match[2].toLowerCase()]);
  if (!(bytes >= MIN_DEMO_SIZE && bytes <= MAX_DEMO_SIZE)) {
    throw new DemoError(`size "${printable(text)}" is out of range (64K to 16G)`);
  }
  return bytes;
}

/**
 * Parses the demo's arguments (without the program name). Values go as `--size 4M` or
 * `--size=4M`. Throws {@link DemoError} on an unknown flag, a missing value or a bad number.
 *
 * @example
 * ```ts
 * import { parseDemoArgs } from "./args.ts";
 * console.log(parseDemoArgs(["--size", "4M", "--seeders=2", "--keep"]));
 * // { size: 4194304, seeders: 2, keep: true, help: false }
 * ```
 */
export function parseDemoArgs(argv: readonly string[]): DemoArgs {
  const out: DemoArgs = {
    size: DEFAULT_DEMO_SIZE,
    seeders: DEFAULT_DEMO_SEEDERS,
    keep: false,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("-")) throw new DemoError(`${name} needs a value`);
      i++;
      return next;
    };
    const noValue = () => {
      if (inline !== undefined) throw new DemoError(`${name} does not take a value`);
    };
    switch (name) {
      case "--size":
        out.size = parseSize(value());
        break;
      case "--seeders": {
        const text = value().trim();
        const n = /^\d{1,3}$/.test(text) ? Number(text) : NaN;
        if (!(n >= 1 && n <= MAX_DEMO_SEEDERS)) {
          throw new DemoError(`--seeders must be a whole number from 1 to ${MAX_DEMO_SEEDERS}`);
        }
        out.seeders = n;
        break;
      }
      case "--keep":
        noValue();
        out.keep = true;
        break;
      case "-h":
      case "--help":
        noValue();
        out.help = true;
        break;
      default:
        throw new DemoError(`unknown argument "${printable(arg)}" (see --help)`);
    }
  }
  return out;
}

/** Keeps user text in messages on one line and free of terminal escapes. */
function printable(text: string): string {
  // deno-lint-ignore no-control-regex
  const clean = text.replace(/[\x00-\x1f\x7f-\x9f]/g, "?");
  return clean.length > 40 ? `${clean.slice(0, 37)}...` : clean;
}
