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

import { Child, type CommandSpec, isExecutable } from "../process.ts";

/** Raised when the benchmark cannot run or a download comes out wrong. */
export class BenchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BenchError";
  }
}

const GNU_TIME = "/usr/bin/time";

let gnuTime: Promise<boolean> | undefined;

/** Whether GNU time is installed at /usr/bin/time (checked once per process). */
export function hasGnuTime(): Promise<boolean> {
  gnuTime ??= isExecutable(GNU_TIME);
  return gnuTime;
}

export { Child, type CommandSpec, stopAllChildren } from "../process.ts";

/**
 * Starts `spec` in its own process group (see {@link Child.spawn}); its timeouts and early exits
 * raise {@link BenchError}.
 */
export function spawnChild(name: string, spec: CommandSpec): Promise<Child> {
  return Child.spawn(name, spec, {
    error: (message) => new BenchError(message),
    graceMs: 5000,
    diagnosisChars: 1500,
  });
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
 * Reads a `kB` line (`VmRSS`, `VmHWM`) from the text of `/proc/<pid>/status`, in bytes;
 * `undefined` when absent or malformed.
 *
 * @example
 * ```ts
 * import { statusBytes } from "./proc.ts";
 * console.log(statusBytes("Name:\tdeno\nVmHWM:\t  2048 kB\n", "VmHWM")); // 2097152
 * ```
 */
export function statusBytes(text: string, key: "VmRSS" | "VmHWM"): number | undefined {
  if (text.length > 65_536) return undefined;
  const m = new RegExp(`^${key}:\\s*(\\d{1,15})\\s*kB\\s*$`, "m").exec(text);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** A process's resident memory now and at its peak, in bytes (none once it is gone). */
export async function processMemory(pid: number): Promise<{ rss?: number; hwm?: number }> {
  const text = await Deno.readTextFile(`/proc/${pid}/status`).catch(() => "");
  return { rss: statusBytes(text, "VmRSS"), hwm: statusBytes(text, "VmHWM") };
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
  const child = await spawnChild(name, wrapped);
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
        const hwm = statusBytes(Deno.readTextFileSync(`/proc/${child.pid}/status`), "VmHWM");
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
