/**
 * Child processes for the benchmark: a background program (tracker-free seeders) and a measured
 * run of one downloader, with its wall time, peak resident memory and user+system CPU seconds.
 *
 * Measuring: with GNU time installed, the command runs under `/usr/bin/time -f "%e %M %U %S"`
 * (rusage of the whole process, read by `wait4`, so nothing is missed between samples);
 * without it, `/proc/<pid>/status` (VmHWM) and `/proc/<pid>/stat` (utime+stime) are polled until
 * exit. Every child runs in its own process group (`setsid`), so a stop or timeout ends the
 * wrapper and the program it wraps together.
 *
 * @module
 */

/** Raised when the benchmark cannot run or a download comes out wrong. */
export class BenchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BenchError";
  }
}

const TAIL_CHARS = 16_384;
const GNU_TIME = "/usr/bin/time";
const SETSID = "/usr/bin/setsid";

async function isExecutable(path: string): Promise<boolean> {
  try {
    const st = await Deno.stat(path);
    return st.isFile && st.mode !== null && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

let gnuTime: Promise<boolean> | undefined;
let setsid: Promise<boolean> | undefined;

/** Whether GNU time is installed at /usr/bin/time (checked once per process). */
export function hasGnuTime(): Promise<boolean> {
  gnuTime ??= isExecutable(GNU_TIME);
  return gnuTime;
}

function hasSetsid(): Promise<boolean> {
  setsid ??= isExecutable(SETSID);
  return setsid;
}

function keepTail(s: string): string {
  return s.length > TAIL_CHARS ? s.slice(s.length - TAIL_CHARS) : s;
}

function tail(text: string, chars = 1500): string {
  const t = text.trimEnd();
  return t.length > chars ? "..." + t.slice(t.length - chars) : t;
}

/** What to start: a program, its arguments, and optional environment and working folder. */
export interface CommandSpec {
  cmd: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  /** Keep stdin open for {@link Child.send}; default: no stdin. */
  stdin?: boolean;
}

/**
 * A running child process in its own process group, with stdout and stderr drained (tails kept)
 * and stdout delivered line by line to waiters.
 */
export class Child {
  readonly name: string;
  readonly child: Deno.ChildProcess;
  /** Pid of the spawned process (the process group id too when `setsid` was used). */
  readonly pid: number;
  readonly status: Promise<Deno.CommandStatus>;
  readonly #grouped: boolean;
  stdoutText = "";
  stderrText = "";
  exited: Deno.CommandStatus | undefined;
  #waiters: Array<(line: string) => boolean> = [];
  #stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #pumps: Promise<void>[];

  private constructor(name: string, spec: CommandSpec, grouped: boolean) {
    this.name = name;
    this.#grouped = grouped;
    const [cmd, args] = grouped ? [SETSID, ["-w", spec.cmd, ...spec.args]] : [spec.cmd, spec.args];
    this.child = new Deno.Command(cmd, {
      args,
      env: spec.env,
      cwd: spec.cwd,
      stdin: spec.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.child.pid;
    if (spec.stdin) this.#stdin = this.child.stdin.getWriter();
    this.#pumps = [
      this.#pump(this.child.stdout, (s) => this.stdoutText = keepTail(this.stdoutText + s), true),
      this.#pump(this.child.stderr, (s) => this.stderrText = keepTail(this.stderrText + s), false),
    ];
    this.status = this.child.status.then((s) => {
      this.exited = s;
      return s;
    });
  }

  /** Children not yet exited, for {@link stopAllChildren}. */
  static readonly live: Set<Child> = new Set();

  /** Starts `spec` (under `setsid` when installed, so `stop` reaches every descendant). */
  static async spawn(name: string, spec: CommandSpec): Promise<Child> {
    const child = new Child(name, spec, await hasSetsid());
    Child.live.add(child);
    child.status.finally(() => Child.live.delete(child));
    return child;
  }

  async #pump(
    stream: ReadableStream<Uint8Array>,
    keep: (s: string) => void,
    lines: boolean,
  ): Promise<void> {
    const decoder = new TextDecoder();
    let partial = "";
    for await (const chunk of stream) {
      const s = decoder.decode(chunk, { stream: true });
      keep(s);
      if (!lines) continue;
      partial += s;
      let nl: number;
      while ((nl = partial.indexOf("\n")) >= 0) {
        const line = partial.slice(0, nl).replace(/\r$/, "");
        partial = partial.slice(nl + 1);
        this.#waiters = this.#waiters.filter((w) => !w(line));
      }
      if (partial.length > TAIL_CHARS) partial = partial.slice(-TAIL_CHARS);
    }
  }

  /** Exit state plus the tails of stderr and stdout, for error messages. */
  diagnosis(): string {
    const state = this.exited
      ? `exit ${this.exited.code}${this.exited.signal ? ` (${this.exited.signal})` : ""}`
      : "running";
    return `${this.name} ${state}; stderr: ${tail(this.stderrText) || "(empty)"}; stdout: ${
      tail(this.stdoutText) || "(empty)"
    }`;
  }

  /** Resolves with the first stdout line from now on that `match` accepts. */
  waitForLine(match: (line: string) => boolean, timeoutMs: number, what: string): Promise<string> {
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (err: Error | undefined, line = "") => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(line);
      };
      const timer = setTimeout(
        () =>
          finish(new BenchError(`${what}: not ready after ${timeoutMs} ms; ${this.diagnosis()}`)),
        timeoutMs,
      );
      this.#waiters.push((line) => {
        if (done) return true;
        if (!match(line)) return false;
        finish(undefined, line);
        return true;
      });
      this.status.then(() =>
        Promise.all(this.#pumps).then(() =>
          finish(new BenchError(`${what}: exited early; ${this.diagnosis()}`))
        )
      );
    });
  }

  /** Sends a signal to the process group (or the process), ignoring one that already exited. */
  signal(sig: Deno.Signal): void {
    if (this.exited) return;
    try {
      if (this.#grouped) Deno.kill(-this.pid, sig);
      else this.child.kill(sig);
    } catch {
      // already gone
    }
  }

  /** Writes one line to the child's stdin (ignored when it has none or has exited). */
  async send(line: string): Promise<void> {
    if (!this.#stdin || this.exited) return;
    try {
      await this.#stdin.write(new TextEncoder().encode(line + "\n"));
    } catch {
      // the child closed its stdin or exited
    }
  }

  /** Waits for exit, then for the output to drain, and closes stdin. */
  async wait(): Promise<Deno.CommandStatus> {
    const status = await this.status;
    await Promise.all(this.#pumps);
    if (this.#stdin) {
      const writer = this.#stdin;
      this.#stdin = undefined;
      await writer.close().catch(() => {});
    }
    return status;
  }

  /** SIGTERM, SIGKILL after `graceMs`; awaits exit and output. Idempotent. */
  async stop(graceMs = 5000): Promise<void> {
    this.signal("SIGTERM");
    const timer = setTimeout(() => this.signal("SIGKILL"), graceMs);
    try {
      await this.wait();
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Stops every child still running (they run in their own process groups, so a Ctrl-C on the
 * terminal does not reach them): for the benchmark's signal handler.
 */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...Child.live].map((c) => c.stop(2000)));
}

/** CPU seconds (user+system) a live process has used so far, from /proc; 0 when unreadable. */
export function processCpuSeconds(pid: number): number {
  try {
    return parseProcStat(Deno.readTextFileSync(`/proc/${pid}/stat`))?.cpuSeconds ?? 0;
  } catch {
    return 0;
  }
}

/** Clock ticks per second for /proc/<pid>/stat (USER_HZ, 100 on every Linux ABI in use). */
const USER_HZ = 100;

/**
 * Reads utime+stime (fields 14 and 15) from the text of `/proc/<pid>/stat`, in seconds. The
 * command name (field 2) may hold spaces and parentheses, so fields are counted after its last
 * `)`. Returns `undefined` for text that does not look like a stat line.
 *
 * @example
 * ```ts
 * import { parseProcStat } from "./proc.ts";
 * const line = "42 (a b) S 1 42 42 0 -1 0 0 0 0 0 150 50 0 0 20 0 1 0 0 0 0";
 * console.log(parseProcStat(line)); // { cpuSeconds: 2 }
 * ```
 */
export function parseProcStat(text: string): { cpuSeconds: number } | undefined {
  if (text.length > 4096) return undefined;
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const fields = text.slice(close + 1).trim().split(/\s+/);
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  const utime = Number(fields[11]), stime = Number(fields[12]);
  if (!Number.isSafeInteger(utime) || !Number.isSafeInteger(stime) || utime < 0 || stime < 0) {
    return undefined;
  }
  return { cpuSeconds: (utime + stime) / USER_HZ };
}

/**
 * Reads the peak resident set size (`VmHWM`, kB) from the text of `/proc/<pid>/status`, in
 * bytes; `undefined` when absent or malformed.
 *
 * @example
 * ```ts
 * import { parseVmHwm } from "./proc.ts";
 * console.log(parseVmHwm("Name:\tdeno\nVmHWM:\t  2048 kB\n")); // 2097152
 * ```
 */
export function parseVmHwm(text: string): number | undefined {
  if (text.length > 65_536) return undefined;
  const m = /^VmHWM:\s*(\d{1,15})\s*kB\s*$/m.exec(text);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** Figures GNU time reports for one process. */
export interface TimeFigures {
  wallSeconds: number;
  peakRssBytes: number;
  userSeconds: number;
  sysSeconds: number;
}

/**
 * Parses the output file of `/usr/bin/time -f "%e %M %U %S"`: the last line holding four
 * numbers (GNU time puts "Command exited with non-zero status N" or "Command terminated by
 * signal N" lines before it). `%M` is in KiB. `undefined` when no such line is found.
 *
 * @example
 * ```ts
 * import { parseTimeOutput } from "./proc.ts";
 * console.log(parseTimeOutput("2.31 90112 1.80 0.30\n"));
 * // { wallSeconds: 2.31, peakRssBytes: 92274688, userSeconds: 1.8, sysSeconds: 0.3 }
 * ```
 */
export function parseTimeOutput(text: string): TimeFigures | undefined {
  if (text.length > 65_536) return undefined;
  const lines = text.trimEnd().split("\n").reverse();
  for (const line of lines) {
    const m = /^\s*(\d+(?:\.\d+)?) (\d{1,15}) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)\s*$/.exec(line);
    if (!m) continue;
    return {
      wallSeconds: Number(m[1]),
      peakRssBytes: Number(m[2]) * 1024,
      userSeconds: Number(m[3]),
      sysSeconds: Number(m[4]),
    };
  }
  return undefined;
}

/** The outcome of one measured run. */
export interface Measured {
  status: Deno.CommandStatus;
  timedOut: boolean;
  /** Wall seconds from spawn to exit, measured here. */
  seconds: number;
  /** Peak resident memory in bytes (NaN when it could not be measured). */
  peakRssBytes: number;
  /** User+system CPU seconds (NaN when it could not be measured). */
  cpuSeconds: number;
  /** How the figures were taken. */
  method: "gnu-time" | "proc-poll";
  stdout: string;
  stderr: string;
  diagnosis: string;
}

/**
 * Runs a command to its end and measures it (see the module doc). After `timeoutMs` the whole
 * process group is killed and `timedOut` is set. `scratch` is a folder for GNU time's report.
 *
 * @example
 * ```ts
 * import { runMeasured } from "./proc.ts";
 * const dir = await Deno.makeTempDir();
 * const m = await runMeasured("true", { cmd: "true", args: [] }, { timeoutMs: 5000, scratch: dir });
 * console.log(m.status.success, m.seconds >= 0); // true true
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function runMeasured(
  name: string,
  spec: CommandSpec,
  opts: {
    timeoutMs: number;
    scratch: string;
    /** Runs beside the child once it is spawned (e.g. to make seeders dial it). */
    onStart?: (child: Child) => Promise<void>;
  },
): Promise<Measured> {
  const useTime = await hasGnuTime();
  const timeFile = `${opts.scratch}/time-${crypto.randomUUID()}.txt`;
  const wrapped: CommandSpec = useTime
    ? {
      ...spec,
      cmd: GNU_TIME,
      args: ["-f", "%e %M %U %S", "-o", timeFile, "--", spec.cmd, ...spec.args],
    }
    : spec;
  const started = performance.now();
  const child = await Child.spawn(name, wrapped);
  let timedOut = false;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    child.signal("SIGTERM");
    killTimer = setTimeout(() => child.signal("SIGKILL"), 3000);
  }, opts.timeoutMs);
  let peak = NaN, cpu = NaN;
  let polling = !useTime;
  const poller = (async () => {
    while (polling && !child.exited) {
      try {
        const hwm = parseVmHwm(Deno.readTextFileSync(`/proc/${child.pid}/status`));
        const st = parseProcStat(Deno.readTextFileSync(`/proc/${child.pid}/stat`));
        if (hwm !== undefined) peak = Number.isNaN(peak) ? hwm : Math.max(peak, hwm);
        if (st) cpu = st.cpuSeconds;
      } catch {
        // exited between checks
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const helper = opts.onStart?.(child).catch(() => {});
  try {
    const status = await child.wait();
    const seconds = (performance.now() - started) / 1000;
    polling = false;
    await poller;
    await helper;
    if (useTime) {
      const figures = parseTimeOutput(await Deno.readTextFile(timeFile).catch(() => ""));
      if (figures) {
        peak = figures.peakRssBytes;
        cpu = figures.userSeconds + figures.sysSeconds;
      }
    }
    return {
      status,
      timedOut,
      seconds,
      peakRssBytes: peak,
      cpuSeconds: cpu,
      method: useTime ? "gnu-time" : "proc-poll",
      stdout: child.stdoutText,
      stderr: child.stderrText,
      diagnosis: child.diagnosis(),
    };
  } finally {
    clearTimeout(timer);
    clearTimeout(killTimer);
    polling = false;
    await Deno.remove(timeFile).catch(() => {});
  }
}
