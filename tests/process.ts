/**
 * Child processes for the test helpers (interop fixtures and the benchmark): a program with
 * stdout and stderr always drained (tails kept for error messages), stdout delivered line by
 * line to waiters, and a stop that escalates from SIGTERM to SIGKILL and awaits the exit, so no
 * test leaks a process.
 *
 * @module
 */

const TAIL_CHARS = 16_384;
const SETSID = "/usr/bin/setsid";

/** Whether `path` is an executable regular file. */
export async function isExecutable(path: string): Promise<boolean> {
  try {
    const st = await Deno.stat(path);
    return st.isFile && st.mode !== null && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

let setsid: Promise<boolean> | undefined;

function hasSetsid(): Promise<boolean> {
  setsid ??= isExecutable(SETSID);
  return setsid;
}

function keepTail(s: string): string {
  return s.length > TAIL_CHARS ? s.slice(s.length - TAIL_CHARS) : s;
}

/** The last `chars` characters of `text` (trailing white space dropped), for error messages. */
export function tail(text: string, chars = 2000): string {
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

/** How a {@link Child} reports failures and stops. */
export interface ChildOptions {
  /** Makes the error raised for a timeout or early exit (the caller's own error class). */
  error?: (message: string) => Error;
  /** Run under `setsid -w`, so signals reach the whole process group; default false. */
  grouped?: boolean;
  /** Default grace period of {@link Child.stop} before SIGKILL; default 5000 ms. */
  graceMs?: number;
  /** Characters of each stream {@link Child.diagnosis} shows; default 2000. */
  diagnosisChars?: number;
}

/**
 * A running child process (in its own process group when `grouped`), with stdout and stderr
 * drained (tails kept) and stdout delivered line by line to waiters.
 */
export class Child {
  readonly name: string;
  readonly child: Deno.ChildProcess;
  /** Pid of the spawned process (the process group id too when grouped). */
  readonly pid: number;
  readonly status: Promise<Deno.CommandStatus>;
  readonly #grouped: boolean;
  readonly #error: (message: string) => Error;
  readonly #graceMs: number;
  readonly #diagnosisChars: number;
  stdoutText = "";
  stderrText = "";
  exited: Deno.CommandStatus | undefined;
  #waiters: Array<(line: string) => boolean> = [];
  #stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #pumps: Promise<void>[];

  /** Starts `spec` at once (use {@link Child.spawn} for a process group when available). */
  constructor(name: string, spec: CommandSpec, opts: ChildOptions = {}) {
    this.name = name;
    this.#grouped = opts.grouped ?? false;
    this.#error = opts.error ?? ((message) => new Error(message));
    this.#graceMs = opts.graceMs ?? 5000;
    this.#diagnosisChars = opts.diagnosisChars ?? 2000;
    const [cmd, args] = this.#grouped
      ? [SETSID, ["-w", spec.cmd, ...spec.args]]
      : [spec.cmd, spec.args];
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

  /** Children started by {@link Child.spawn} and not yet exited, for {@link stopAllChildren}. */
  static readonly live: Set<Child> = new Set();

  /** Starts `spec` (under `setsid` when installed, so `stop` reaches every descendant). */
  static async spawn(name: string, spec: CommandSpec, opts: ChildOptions = {}): Promise<Child> {
    const child = new Child(name, spec, { ...opts, grouped: await hasSetsid() });
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
    const n = this.#diagnosisChars;
    return `${this.name} ${state}; stderr: ${tail(this.stderrText, n) || "(empty)"}; stdout: ${
      tail(this.stdoutText, n) || "(empty)"
    }`;
  }

  /**
   * Resolves with the first stdout line from now on that `match` accepts; rejects when the
   * process exits first or `timeoutMs` passes.
   */
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
        () => finish(this.#error(`${what}: not ready after ${timeoutMs} ms; ${this.diagnosis()}`)),
        timeoutMs,
      );
      this.#waiters.push((line) => {
        if (done) return true;
        if (!match(line)) return false;
        finish(undefined, line);
        return true;
      });
      this.status.then(() =>
        // Let the pumps deliver the last lines before declaring an early exit.
        Promise.all(this.#pumps).then(() =>
          finish(this.#error(`${what}: exited early; ${this.diagnosis()}`))
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

  /** Waits for the exit (SIGKILL after `timeoutMs`, then an error), drains output. */
  async finish(timeoutMs: number, what: string): Promise<Deno.CommandStatus> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.signal("SIGKILL");
    }, timeoutMs);
    try {
      const status = await this.wait();
      if (timedOut) {
        throw this.#error(`${what}: timed out after ${timeoutMs} ms; ${this.diagnosis()}`);
      }
      return status;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM, SIGKILL after `graceMs`; awaits exit and output. Idempotent. */
  async stop(graceMs: number = this.#graceMs): Promise<void> {
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
 * Stops every child started by {@link Child.spawn} and still running (they run in their own
 * process groups, so a Ctrl-C on the terminal does not reach them).
 */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...Child.live].map((c) => c.stop(2000)));
}
