/**
 * A small buffered file logger. Lines look like
 * `2026-11-24T12:00:00.000Z INFO  [tracker] announce ok` and go to
 * `<logDir>/bittorrent-<YYYYMMDD-HHMMSS>-<pid>.log`. Logging never waits on the disk: lines are
 * collected and written in batches (when the buffer passes a size or after a short delay), and
 * {@link Logger.close} writes whatever is left.
 *
 * @module
 */
import { fsReason } from "../util/mod.ts";

/** Severity of a log line, from chatty to serious. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const LEVEL_TAG: Record<LogLevel, string> = {
  debug: "DEBUG",
  info: "INFO ",
  warn: "WARN ",
  error: "ERROR",
};

/** Longest message kept per line; longer ones (e.g. a peer's garbage) are cut. */
const MAX_MESSAGE_CHARS = 8192;

/**
 * The log file could not be created or written. The message is one line for the user; the caller
 * decides whether to run without a log.
 *
 * @example
 * ```ts
 * import { LogError } from "./log.ts";
 * console.log(new LogError("cannot create log folder /x").name); // "LogError"
 * ```
 */
export class LogError extends Error {
  /** Creates the error with a one-line message. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LogError";
  }
}

/** Settings for {@link Logger.open}. */
export interface LoggerOptions {
  /** Folder for the log file; created (with parents) if missing. */
  dir: string;
  /** Lines below this level are dropped. Default "info". */
  level?: LogLevel;
  /** Component name of the root logger. Default "main". */
  component?: string;
  /** Write the buffer once it holds this many characters. Default 64 KiB. */
  maxBufferChars?: number;
  /** Write buffered lines at most this long after they were logged. Default 500 ms. */
  flushIntervalMs?: number;
  /** Clock for the file name and line stamps (tests pin it). Default `Date.now`. */
  now?: () => number;
  /** Process id for the file name. Default `Deno.pid`. */
  pid?: number;
}

/**
 * The log file name for a run started at `time` by process `pid`:
 * `bittorrent-YYYYMMDD-HHMMSS-<pid>.log`, in local time so it matches the user's clock.
 *
 * @example
 * ```ts
 * import { logFileName } from "./log.ts";
 * const name = logFileName(new Date(2026, 10, 24, 12, 0, 5), 42);
 * console.log(name); // "bittorrent-20261124-120005-42.log"
 * ```
 */
export function logFileName(time: Date, pid: number): string {
  const two = (v: number) => String(v).padStart(2, "0");
  const date = `${time.getFullYear()}${two(time.getMonth() + 1)}${two(time.getDate())}`;
  const clock = `${two(time.getHours())}${two(time.getMinutes())}${two(time.getSeconds())}`;
  return `bittorrent-${date}-${clock}-${pid}.log`;
}

/** The shared writer behind a logger and all its children. */
class Sink {
  #file: Deno.FsFile | null;
  #buffer: string[] = [];
  #bufferChars = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;
  #failure: LogError | undefined;
  readonly #encoder = new TextEncoder();

  constructor(
    file: Deno.FsFile | null,
    readonly path: string | undefined,
    public minRank: number,
    readonly maxBufferChars: number,
    readonly flushIntervalMs: number,
    readonly now: () => number,
  ) {
    this.#file = file;
  }

  get failure(): LogError | undefined {
    return this.#failure;
  }

  get active(): boolean {
    return this.#file !== null && !this.#closed && this.#failure === undefined;
  }

  append(line: string): void {
    if (!this.active) return;
    this.#buffer.push(line);
    this.#bufferChars += line.length;
    if (this.#bufferChars >= this.maxBufferChars) {
      void this.flush();
    } else if (this.#timer === undefined) {
      const timer = setTimeout(() => {
        this.#timer = undefined;
        void this.flush();
      }, this.flushIntervalMs);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  /** Queues the buffered lines for writing; resolves once they (and earlier batches) are out. */
  flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const file = this.#file;
    if (this.#buffer.length === 0 || file === null) return this.#writing;
    const bytes = this.#encoder.encode(this.#buffer.join(""));
    this.#buffer = [];
    this.#bufferChars = 0;
    this.#writing = this.#writing.then(() => this.#writeAll(file, bytes));
    return this.#writing;
  }

  async #writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
    if (this.#failure) return;
    try {
      let offset = 0;
      while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
    } catch (err) {
      this.#failure = new LogError(
        `cannot write log file ${this.path}: ${describe(err)}`,
        { cause: err },
      );
      this.#buffer = [];
      this.#bufferChars = 0;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return await this.#writing;
    await this.flush();
    this.#closed = true;
    const file = this.#file;
    this.#file = null;
    if (file) {
      try {
        file.close();
      } catch {
        // already closed; nothing left to lose
      }
    }
  }
}

/**
 * Writes timestamped, levelled lines for one component to a shared log file. Create the root
 * with {@link Logger.open}, hand {@link Logger.child} loggers to subsystems, and
 * {@link Logger.close} the root at exit. Use {@link Logger.null} where nothing should be logged.
 *
 * A write failure after opening does not throw into the caller's code: logging stops and
 * {@link Logger.failure} tells what went wrong.
 *
 * @example
 * ```ts
 * import { Logger } from "./log.ts";
 * const dir = await Deno.makeTempDir();
 * const log = await Logger.open({ dir, level: "debug" });
 * log.child("tracker").info("announce ok (23 peers)");
 * await log.close();
 * console.log(Deno.readTextFileSync(log.path!).includes("[tracker] announce ok")); // true
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class Logger {
  readonly #sink: Sink;
  /** Name shown in brackets on every line. */
  readonly component: string;
  readonly #root: boolean;

  private constructor(sink: Sink, component: string, root: boolean) {
    this.#sink = sink;
    this.component = component;
    this.#root = root;
  }

  /**
   * Creates the log folder (with parents) and opens a fresh log file in it. Throws
   * {@link LogError} when the folder or the file cannot be created.
   */
  static async open(options: LoggerOptions): Promise<Logger> {
    const now = options.now ?? Date.now;
    const pid = options.pid ?? Deno.pid;
    const dir = options.dir.replace(/(.)\/+$/, "$1");
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (err) {
      throw new LogError(`cannot create log folder ${dir}: ${fsReason(err)}`, { cause: err });
    }
    const path = `${dir}/${logFileName(new Date(now()), pid)}`;
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { write: true, create: true, append: true });
    } catch (err) {
      throw new LogError(`cannot open log file ${path}: ${fsReason(err)}`, { cause: err });
    }
    const sink = new Sink(
      file,
      path,
      LEVEL_RANK[options.level ?? "info"],
      Math.max(1, options.maxBufferChars ?? 64 * 1024),
      Math.max(1, options.flushIntervalMs ?? 500),
      now,
    );
    return new Logger(sink, options.component ?? "main", true);
  }

  /** A logger that drops everything: for tests and for running without a log file. */
  static null(): Logger {
    return new Logger(new Sink(null, undefined, Infinity, 1, 1, Date.now), "main", true);
  }

  /** Path of the log file, or undefined for {@link Logger.null}. */
  get path(): string | undefined {
    return this.#sink.path;
  }

  /** Why writing stopped, if a write to the log file failed. */
  get failure(): LogError | undefined {
    return this.#sink.failure;
  }

  /** Lowest level written; changing it affects this logger, its parent and all children. */
  get level(): LogLevel {
    const rank = this.#sink.minRank;
    return (Object.keys(LEVEL_RANK) as LogLevel[]).find((l) => LEVEL_RANK[l] === rank) ?? "error";
  }
  set level(level: LogLevel) {
    if (this.#sink.active) this.#sink.minRank = LEVEL_RANK[level];
  }

  /**
   * A logger for a sub-component writing to the same file. Children of the root are named
   * `component`; deeper ones `parent/component` (e.g. `peer/1.2.3.4:6881`).
   */
  child(component: string): Logger {
    const name = this.#root ? component : `${this.component}/${component}`;
    return new Logger(this.#sink, name, false);
  }

  /** True when a line at `level` would be written: lets callers skip building costly messages. */
  enabled(level: LogLevel): boolean {
    return this.#sink.active && LEVEL_RANK[level] >= this.#sink.minRank;
  }

  /** Logs at debug level; `detail` (e.g. a caught error) is appended after a colon. */
  debug(message: string, detail?: unknown): void {
    this.log("debug", message, detail);
  }
  /** Logs at info level; `detail` (e.g. a caught error) is appended after a colon. */
  info(message: string, detail?: unknown): void {
    this.log("info", message, detail);
  }
  /** Logs at warn level; `detail` (e.g. a caught error) is appended after a colon. */
  warn(message: string, detail?: unknown): void {
    this.log("warn", message, detail);
  }
  /** Logs at error level; `detail` (e.g. a caught error) is appended after a colon. */
  error(message: string, detail?: unknown): void {
    this.log("error", message, detail);
  }

  /** Logs one line at `level`. Never throws and never waits for the disk. */
  log(level: LogLevel, message: string, detail?: unknown): void {
    if (!this.enabled(level)) return;
    let text = detail === undefined ? message : `${message}: ${describe(detail)}`;
    if (text.length > MAX_MESSAGE_CHARS) text = `${text.slice(0, MAX_MESSAGE_CHARS)}...`;
    const stamp = new Date(this.#sink.now()).toISOString();
    this.#sink.append(`${stamp} ${LEVEL_TAG[level]} [${clean(this.component)}] ${clean(text)}\n`);
  }

  /** Writes everything logged so far; resolves when it is on its way to the file. */
  flush(): Promise<void> {
    return this.#sink.flush();
  }

  /**
   * Writes what is buffered, stops the flush timer and closes the file. Safe to call more than
   * once and from any child (it closes the shared file). Never rejects; see {@link failure}.
   */
  close(): Promise<void> {
    return this.#sink.close();
  }
}

// deno-lint-ignore no-control-regex
const CONTROL_CHARS = /[\x00-\x08\x0b-\x1f\x7f]/g;

/** Keeps each entry on its own line and strips terminal escapes that network input may carry. */
function clean(text: string): string {
  return text
    .replace(/\r\n?/g, "\n")
    .replace(/\n/g, "\n    ")
    .replace(CONTROL_CHARS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

function describe(value: unknown): string {
  if (value instanceof Error) return value.message || value.name;
  if (typeof value === "string") return value;
  try {
    return String(value);
  } catch {
    return "(unprintable)";
  }
}
