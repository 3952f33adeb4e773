/**
 * Our daemon as the benchmarks run it: started as the shipped executable runs (`--v8-flags`
 * of the compile task), its state in a fresh folder, DHT off and every socket on 127.0.0.1,
 * measured by its own PID; and a small Transmission RPC caller for it.
 *
 * @module
 */
import { benchPort, OUR_RUN } from "./harness.ts";
import { BenchError, type Child, spawnChild } from "./proc.ts";
import { MAIN_TS } from "../compile_task.ts";

const LOOPBACK = "127.0.0.1";
/** Runs a program under other limits (util-linux). */
export const PRLIMIT = "/usr/bin/prlimit";

/**
 * A minimal Transmission RPC caller: keeps the session id (409), retries 429 answers after
 * their Retry-After and counts them, and hands back the body text so a timing can leave out
 * the parse.
 */
export class Rpc {
  /** The daemon's RPC endpoint. */
  readonly url: string;
  /** 429 answers met so far. */
  throttled = 0;
  #sessionId = "";

  constructor(port: number) {
    this.url = `http://${LOOPBACK}:${port}/transmission/rpc`;
  }

  /** The body text of a successful answer to `method`. */
  async raw(method: string, args: Record<string, unknown>): Promise<string> {
    const body = JSON.stringify({ method, arguments: args });
    for (let attempt = 0; attempt < 10_000; attempt++) {
      const response = await fetch(this.url, {
        method: "POST",
        headers: { "X-Transmission-Session-Id": this.#sessionId },
        body,
        signal: AbortSignal.timeout(120_000),
      });
      if (response.status === 409) {
        await response.body?.cancel();
        this.#sessionId = response.headers.get("X-Transmission-Session-Id") ?? "";
        continue;
      }
      if (response.status === 429) {
        await response.body?.cancel();
        this.throttled++;
        const after = Number(response.headers.get("Retry-After"));
        await delay(Number.isFinite(after) && after > 0 ? Math.min(after * 1000, 2000) : 50);
        continue;
      }
      const text = await response.text();
      if (!response.ok) {
        throw new BenchError(`${method}: HTTP ${response.status}: ${text.slice(0, 200)}`);
      }
      return text;
    }
    throw new BenchError(`${method}: no answer but 409 and 429`);
  }

  /** The `arguments` of a successful answer; a BenchError for any other result. */
  async call(method: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const answer = JSON.parse(await this.raw(method, args));
    if (answer?.result !== "success") {
      throw new BenchError(`${method}: ${String(answer?.result).slice(0, 200)}`);
    }
    return answer.arguments ?? {};
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The PID of the daemon itself: the spawned PID, or, when `setsid` had to fork first (it does
 * when it leads a process group), its one child.
 */
export async function daemonPid(child: Child): Promise<number> {
  let pid = child.pid;
  for (let i = 0; i < 50; i++) {
    const comm = (await Deno.readTextFile(`/proc/${pid}/comm`).catch(() => "")).trim();
    if (comm !== "setsid") return pid;
    const kids = await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`).catch(() => "");
    const first = Number(kids.trim().split(/\s+/)[0]);
    if (Number.isSafeInteger(first) && first > 0) pid = first;
    else await delay(20);
  }
  throw new BenchError(`cannot find the daemon's process under setsid ${child.pid}`);
}

/** A started daemon of ours. */
export interface Daemon {
  name: string;
  child: Child;
  /** The daemon's own PID (not `setsid`'s). */
  pid: number;
  rpc: Rpc;
  rpcPort: number;
  peerPort: number;
  dir: string;
  /** Runs under `--cpu-prof`. */
  profiled: boolean;
}

/** How a daemon starts: under a limit of open files, under the CPU profiler. */
export interface DaemonHow {
  nofile?: number;
  profile: boolean;
}

/**
 * Starts our daemon downloading into `out`, its state in a fresh folder under `work`; with
 * `nofile`, under `prlimit` with that limit of open files (soft and hard); with `profile`,
 * under `--cpu-prof` (summarised when it stops).
 */
export async function startDaemon(
  work: string,
  name: string,
  out: string,
  extra: string[],
  how: DaemonHow,
): Promise<Daemon> {
  const dir = await Deno.makeTempDir({ dir: work, prefix: `${name.replaceAll(" ", "-")}-` });
  const rpcPort = await benchPort();
  const nofile = how.nofile;
  const args = [
    ...OUR_RUN,
    ...(how.profile ? ["--cpu-prof", `--cpu-prof-dir=${dir}/profile`] : []),
    MAIN_TS,
    "daemon",
    "-o",
    out,
    "--no-dht",
    "--bind",
    LOOPBACK,
    "--port",
    String(await benchPort()),
    "--rpc-port",
    String(rpcPort),
    "--state-dir",
    `${dir}/state`,
    "--log-dir",
    `${dir}/logs`,
    ...extra,
  ];
  // prlimit execs the daemon: the PID stays the daemon's.
  if (nofile !== undefined) args.unshift(`--nofile=${nofile}:${nofile}`, "--", Deno.execPath());
  const child = await spawnChild(name, {
    cmd: nofile === undefined ? Deno.execPath() : PRLIMIT,
    args,
    // Nothing of the user's own state is read or written.
    env: { XDG_STATE_HOME: dir, NO_COLOR: "1" },
    cwd: dir,
  });
  try {
    const line = await child.waitForLine((l) => l.includes("RPC at"), 60_000, `${name}'s RPC`);
    const peerPort = Number(/peers on port (\d+)/.exec(line)?.[1]);
    if (!Number.isInteger(peerPort)) throw new BenchError(`${name}: no peer port in "${line}"`);
    return {
      name,
      child,
      pid: await daemonPid(child),
      rpc: new Rpc(rpcPort),
      rpcPort,
      peerPort,
      dir,
      profiled: how.profile,
    };
  } catch (e) {
    await child.stop();
    throw e;
  }
}
