/**
 * The daemon at scale: how `bittorrent daemon` copes with many torrents at once, beside
 * Debian's `transmission-daemon` doing the same work. A seedbox holds hundreds or thousands of
 * torrents that sit idle most of the time, so what matters there is not throughput but what
 * each torrent costs: the time to add and check them, the memory and idle CPU they take, and
 * how long one `torrent-get` of all of them (what every UI polls) takes.
 *
 *     deno run --allow-all tests/bench/daemon_scale.ts
 *     deno run --allow-all tests/bench/daemon_scale.ts --torrents 1000 --clients ours,transmission
 *     deno run --allow-all tests/bench/daemon_scale.ts --smoke
 *
 * N small complete torrents (single-file v1, 4-64 KiB of distinct data each, 16 KiB pieces, no
 * trackers) are made once and shared by every daemon. Each daemon then starts with a fresh
 * state folder, its download folder the one holding the data, DHT, LPD, PEX and port mapping
 * off and every socket on 127.0.0.1, and is measured:
 *
 * - add N: wall time of N `torrent-add` requests (`metainfo` in base64), `--concurrency` at once
 *   (default 1: one after another). A 429 answer is retried after its Retry-After (or 50 ms),
 *   inside the timed span, and counted.
 * - until all seeding: from the first `torrent-add` until one `torrent-get` (polled every 0.5 s)
 *   shows every torrent seeding (status 6, percentDone 1): each daemon has checked all data.
 * - RSS: VmRSS of the daemon process after the idle window (VmHWM, the peak, goes to stderr);
 *   beside it, the daemon's RSS before the first `torrent-add` (3 s after it answered its first
 *   request) and what each torrent added to it: what a runtime costs by itself is not what
 *   each idle torrent costs.
 * - RSS settled: VmRSS again `--settle` seconds (default 60; 0: not measured) after every torrent
 *   was seeding, the torrent-get timing done: what an idle seedbox keeps once the garbage of the
 *   burst of adds is collected and given back, which the first figure may still hold.
 * - idle CPU: utime+stime over `--idle` seconds (default 10) with nothing asked of the daemon,
 *   starting 3 s after the last torrent was seeding, as % of one core: it may still hold what
 *   the burst left to do (a collection of the heap's garbage, which takes ours some 40 ms once).
 * - idle CPU settled: the same over the last half of the settle time (30 s at most), ending at
 *   the settled RSS reading: what an idle seedbox costs for as long as it stays idle.
 * - torrent-get all: median wall time of 10 `torrent-get` requests for every torrent with the
 *   fields a UI lists (response body read, not parsed).
 *
 * Ours runs as the shipped executable does (the V8 flags and code cache choice of deno.json's
 * `compile` task), spawned as `deno` itself, so the measured PID is the daemon's.
 * `--profile` runs ours under `--cpu-prof` and prints where its main thread spent its time.
 * `--dead-tracker` gives every torrent a tracker URL on a closed 127.0.0.1 port, to see what
 * failing announces cost. Progress goes to stderr, the table to stdout. Exit code 0 when every
 * daemon got through, 1 when one failed, 2 for bad flags. Slowness never fails it.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createTorrentFromBuffers } from "../../src/metainfo/mod.ts";
import { encodeBase64 } from "../../src/util/mod.ts";
import { mulberry32 } from "../random.ts";
import { benchPort, cacheOurModules } from "./harness.ts";
import { isExecutable } from "../process.ts";
import {
  BenchError,
  type Child,
  processCpuSeconds,
  processMemory,
  spawnChild,
  stopAllChildren,
} from "./proc.ts";
import { daemonPid, Rpc, startDaemon } from "./our_daemon.ts";
import { delay } from "../interop/fixtures.ts";
import { summarizeCpuProfile } from "./profile.ts";
import { intFlag, listFlag } from "./flags.ts";
import { median } from "./report.ts";

/** A daemon the benchmark can drive. */
export type DaemonName = "ours" | "transmission";

/** Every daemon, in table order. */
export const ALL_DAEMONS: readonly DaemonName[] = ["ours", "transmission"];

/** What one run of the benchmark does. */
export interface ScaleConfig {
  /** How many torrents every daemon gets. */
  torrents: number;
  daemons: DaemonName[];
  /** `torrent-add` requests in flight at once. */
  concurrency: number;
  /** Seconds of the idle CPU window. */
  idleSeconds: number;
  /** Seconds after all seeding when the settled RSS is read; 0: not read. */
  settleSeconds: number;
  /** `torrent-get` calls whose median is reported. */
  getCalls: number;
  /** Seconds the daemon may take until every torrent seeds. */
  timeoutSec: number;
  /** Give every torrent a tracker on a closed 127.0.0.1 port. */
  deadTracker: boolean;
  /** Run ours under `--cpu-prof` and summarise the profile. */
  profile: boolean;
  /** Parent of the work folder (default: the system's temp folder). */
  tmpDir?: string;
  /** Keep the work folder. */
  keep: boolean;
}

/** One daemon's figures, or why there are none. */
export interface ScaleRow {
  daemon: DaemonName;
  addSeconds?: number;
  seedingSeconds?: number;
  /** RSS with no torrent yet. */
  emptyRssBytes?: number;
  rssBytes?: number;
  settledRssBytes?: number;
  idleCpuPercent?: number;
  settledIdleCpuPercent?: number;
  getAllMs?: number;
  failed?: string;
}

const LOOPBACK = "127.0.0.1";
const PIECE = 16 * 1024;
const MIN_FILE = 4 * 1024;
const MAX_FILE = 64 * 1024;
const POLL_MS = 500;
/** Longest idle CPU window of the settle time (see the module doc). */
const SETTLED_IDLE_MS = 30_000;
/** Pause between the last torrent seeding and the idle window (resume records being saved). */
const SETTLE_MS = 3000;
/** Transmission's status "seeding". */
const SEEDING = 6;
/** Transmission's error class "local error" (the files); 1 and 2 are tracker warnings/errors. */
const LOCAL_ERROR = 3;
const TRANSMISSION = "/usr/bin/transmission-daemon";
/** The fields of the timed `torrent-get`: what a torrent list shows. */
const LIST_FIELDS = [
  "id",
  "name",
  "status",
  "percentDone",
  "rateDownload",
  "rateUpload",
  "totalSize",
  "eta",
  "peersConnected",
  "uploadRatio",
];

/** The torrents every daemon gets: their data in `data`, their .torrent files base64. */
export interface Corpus {
  data: string;
  metainfo: string[];
  totalBytes: number;
}

/**
 * Writes `n` single-file torrents' data into `data` and their .torrent files into `torrents`:
 * `scale-00001.bin` ... of 4-64 KiB of seeded pseudo-random bytes, so every info-hash differs
 * and every run makes the same files.
 */
export async function makeCorpus(
  data: string,
  torrents: string,
  n: number,
  announce: string | undefined,
): Promise<Corpus> {
  await Deno.mkdir(data, { recursive: true });
  await Deno.mkdir(torrents, { recursive: true });
  const sizes = mulberry32(20240601);
  const metainfo: string[] = [];
  let totalBytes = 0;
  for (let i = 1; i <= n; i++) {
    const size = MIN_FILE + Math.floor(sizes() * (MAX_FILE - MIN_FILE + 1));
    const words = new Uint32Array(Math.ceil(size / 4));
    const fill = mulberry32(i);
    for (let w = 0; w < words.length; w++) words[w] = fill() * 4294967296;
    const bytes = new Uint8Array(words.buffer, 0, size);
    const name = `scale-${String(i).padStart(5, "0")}.bin`;
    await Deno.writeFile(`${data}/${name}`, bytes);
    const torrent = createTorrentFromBuffers(name, bytes, {
      pieceLength: PIECE,
      creationDate: null,
      announce: announce === undefined ? undefined : [[announce]],
    });
    await Deno.writeFile(`${torrents}/${name}.torrent`, torrent);
    metainfo.push(encodeBase64(torrent));
    totalBytes += size;
  }
  return { data, metainfo, totalBytes };
}

/** A started daemon: its process, the PID to measure and its RPC. */
interface Running {
  child: Child;
  rpc: Rpc;
  /** Folder of `--cpu-prof` output (ours with `--profile`). */
  profileDir?: string;
}

async function startOurs(work: string, data: string, config: ScaleConfig): Promise<Running> {
  const d = await startDaemon(work, "ours", data, [], { profile: config.profile });
  return {
    child: d.child,
    rpc: d.rpc,
    ...(config.profile ? { profileDir: `${d.dir}/profile` } : {}),
  };
}

async function startTransmission(work: string, data: string): Promise<Running> {
  const conf = `${work}/transmission-config`;
  await Deno.mkdir(conf, { recursive: true });
  const rpcPort = await benchPort();
  const peerPort = await benchPort();
  // Everything that could reach past 127.0.0.1 is off; the rest are Transmission's defaults
  // (5 torrents downloading at once, like ours; uTP on, like ours).
  const settings = {
    "bind-address-ipv4": LOOPBACK,
    "bind-address-ipv6": "::1",
    "blocklist-enabled": false,
    "dht-enabled": false,
    "lpd-enabled": false,
    "pex-enabled": false,
    "port-forwarding-enabled": false,
    "utp-enabled": true,
    "peer-port": peerPort,
    "peer-port-random-on-start": false,
    "download-dir": data,
    "incomplete-dir-enabled": false,
    "watch-dir-enabled": false,
    "start-added-torrents": true,
    "ratio-limit-enabled": false,
    "idle-seeding-limit-enabled": false,
    "rpc-enabled": true,
    "rpc-bind-address": LOOPBACK,
    "rpc-port": rpcPort,
    "rpc-authentication-required": false,
    "rpc-whitelist-enabled": true,
    "rpc-whitelist": LOOPBACK,
    "rpc-host-whitelist-enabled": false,
    "message-level": 1,
  };
  await Deno.writeTextFile(`${conf}/settings.json`, JSON.stringify(settings, null, 2));
  const child = await spawnChild("transmission", {
    cmd: TRANSMISSION,
    args: [
      "-f",
      "-g",
      conf,
      "-w",
      data,
      "-p",
      String(rpcPort),
      "-r",
      LOOPBACK,
      "-T",
      "--no-dht",
      "--no-lpd",
      "-M",
      "-P",
      String(peerPort),
      "-i",
      LOOPBACK,
    ],
    env: { HOME: work, XDG_CONFIG_HOME: `${work}/xdg-config` },
    cwd: work,
  });
  const rpc = new Rpc(rpcPort);
  const deadline = performance.now() + 30_000;
  for (;;) {
    try {
      await rpc.call("session-get");
      break;
    } catch (e) {
      if (child.exited) throw new BenchError(`transmission-daemon exited: ${child.diagnosis()}`);
      if (performance.now() > deadline) throw new BenchError(`no RPC from transmission: ${e}`);
      await delay(100);
    }
  }
  return { child, rpc };
}

/**
 * Context switches (voluntary and not) of each thread of `pid` so far, by thread id: how often
 * the daemon wakes up, which idle CPU follows.
 */
async function contextSwitches(pid: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
    const text = await Deno.readTextFile(`/proc/${pid}/task/${task.name}/status`).catch(() => "");
    let sum = 0;
    for (const m of text.matchAll(/^(?:non)?voluntary_ctxt_switches:\s*(\d+)$/gm)) {
      sum += Number(m[1]);
    }
    counts.set(task.name, sum);
  }
  return counts;
}

/** Context switches between two {@link contextSwitches} readings, of the threads alive at the end. */
function switchesSince(before: Map<string, number>, after: Map<string, number>): number {
  let sum = 0;
  for (const [tid, n] of after) sum += n - (before.get(tid) ?? 0);
  return sum;
}

/** `count` tasks, `concurrency` at a time, each given its index. */
async function pool(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** How many torrents are in each Transmission status, e.g. `seeding 40, checking 5`. */
function statusCounts(torrents: Array<{ status?: number }>): string {
  const names = [
    "stopped",
    "check-wait",
    "checking",
    "download-wait",
    "downloading",
    "seed-wait",
    "seeding",
  ];
  const counts = new Map<string, number>();
  for (const t of torrents) {
    const name = names[t.status ?? -1] ?? `status ${t.status}`;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts].map(([k, v]) => `${k} ${v}`).join(", ");
}

/** Runs one daemon through the whole measurement; its row (failed: why) either way. */
async function measure(
  name: DaemonName,
  work: string,
  corpus: Corpus,
  config: ScaleConfig,
  note: (line: string) => void,
): Promise<ScaleRow> {
  // A fresh download folder state: no resume record of an earlier daemon spares a check.
  await Deno.remove(`${corpus.data}/.bittorrent`, { recursive: true }).catch(() => {});
  const daemonWork = await Deno.makeTempDir({ dir: work, prefix: `${name}-` });
  let t = performance.now();
  const running = name === "ours"
    ? await startOurs(daemonWork, corpus.data, config)
    : await startTransmission(daemonWork, corpus.data);
  const { child, rpc } = running;
  const row: ScaleRow = { daemon: name };
  try {
    const pid = await daemonPid(child);
    note(`${name}: started (pid ${pid}) in ${secs(t)} s`);
    const n = corpus.metainfo.length;
    await delay(SETTLE_MS);
    row.emptyRssBytes = (await processMemory(pid)).rss;
    note(`${name}: RSS with no torrent ${mb(row.emptyRssBytes)} MB`);
    const addStart = performance.now();
    let duplicates = 0;
    await pool(n, config.concurrency, async (i) => {
      const answer = await rpc.call("torrent-add", {
        metainfo: corpus.metainfo[i],
        "download-dir": corpus.data,
      });
      if (!answer["torrent-added"]) duplicates++;
    });
    row.addSeconds = (performance.now() - addStart) / 1000;
    note(
      `${name}: added ${n} in ${row.addSeconds.toFixed(2)} s` +
        (rpc.throttled ? ` (${rpc.throttled} answers of 429 waited out)` : "") +
        (duplicates ? `; ${duplicates} duplicates` : ""),
    );
    if (duplicates) throw new BenchError(`${duplicates} torrents were taken as duplicates`);
    const deadline = addStart + config.timeoutSec * 1000;
    let lastNote = performance.now();
    for (;;) {
      const got = await rpc.call("torrent-get", {
        fields: ["id", "status", "percentDone", "error", "errorString"],
      });
      const torrents = (got.torrents ?? []) as Array<{
        status?: number;
        percentDone?: number;
        error?: number;
        errorString?: string;
      }>;
      const broken = torrents.find((x) => x.error === LOCAL_ERROR);
      if (broken) throw new BenchError(`a torrent failed: ${broken.errorString}`);
      const seeding = torrents.filter((x) => x.status === SEEDING && x.percentDone === 1).length;
      if (torrents.length === n && seeding === n) break;
      if (performance.now() > deadline) {
        throw new BenchError(
          `not all seeding after ${config.timeoutSec} s: ${statusCounts(torrents)}`,
        );
      }
      if (performance.now() - lastNote > 5000) {
        lastNote = performance.now();
        note(`${name}: ${secs(addStart)} s: ${statusCounts(torrents)}`);
      }
      await delay(POLL_MS);
    }
    row.seedingSeconds = (performance.now() - addStart) / 1000;
    const seedingAt = performance.now();
    const atSeeding = await processMemory(pid);
    note(
      `${name}: all ${n} seeding after ${row.seedingSeconds.toFixed(1)} s; ` +
        `RSS ${mb(atSeeding.rss)} MB`,
    );
    await delay(SETTLE_MS);
    const cpuBefore = processCpuSeconds(pid);
    const switchesBefore = await contextSwitches(pid);
    t = performance.now();
    await delay(config.idleSeconds * 1000);
    const cpu = processCpuSeconds(pid) - cpuBefore;
    const idleSeconds = (performance.now() - t) / 1000;
    const wakeups = switchesSince(switchesBefore, await contextSwitches(pid)) / idleSeconds;
    row.idleCpuPercent = cpu / idleSeconds * 100;
    const settled = await processMemory(pid);
    row.rssBytes = settled.rss;
    note(
      `${name}: idle ${config.idleSeconds} s: ${cpu.toFixed(2)} CPU s, ` +
        `${Math.round(wakeups)} context switches/s (threads alive at the end); ` +
        `RSS ${mb(settled.rss)} MB, peak ${mb(settled.hwm)} MB`,
    );
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < config.getCalls; i++) {
      t = performance.now();
      bytes = (await rpc.raw("torrent-get", { fields: LIST_FIELDS })).length;
      times.push(performance.now() - t);
    }
    row.getAllMs = median(times);
    note(
      `${name}: torrent-get of all: median ${row.getAllMs.toFixed(1)} ms, ` +
        `min ${Math.min(...times).toFixed(1)}, max ${Math.max(...times).toFixed(1)}; ` +
        `${Math.round(bytes / 1024)} KiB`,
    );
    if (config.settleSeconds > 0) {
      const end = seedingAt + config.settleSeconds * 1000;
      const span = Math.min(SETTLED_IDLE_MS, config.settleSeconds * 500);
      await delay(Math.max(0, end - span - performance.now()));
      const cpuFrom = processCpuSeconds(pid);
      t = performance.now();
      await delay(Math.max(0, end - performance.now()));
      const settledIdle = (performance.now() - t) / 1000;
      const settledCpu = processCpuSeconds(pid) - cpuFrom;
      // A window cut short by slow torrent-gets says too little to report.
      if (settledIdle >= 1) row.settledIdleCpuPercent = settledCpu / settledIdle * 100;
      row.settledRssBytes = (await processMemory(pid)).rss;
      note(
        `${name}: ${config.settleSeconds} s after all seeding: RSS ${
          mb(row.settledRssBytes)
        } MB; ` +
          `${settledCpu.toFixed(2)} CPU s in the ${settledIdle.toFixed(0)} s before`,
      );
    }
  } catch (e) {
    row.failed = e instanceof Error ? e.message : String(e);
    note(`${name}: FAILED: ${row.failed}; ${child.diagnosis()}`);
  } finally {
    t = performance.now();
    await child.stop(120_000);
    const status = child.exited;
    note(`${name}: stopped in ${secs(t)} s (exit ${status?.code}${status?.signal ?? ""})`);
    if (running.profileDir) await printProfiles(running.profileDir, note);
    if (!config.keep) await Deno.remove(daemonWork, { recursive: true }).catch(() => {});
  }
  return row;
}

async function printProfiles(dir: string, note: (line: string) => void): Promise<void> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".cpuprofile")) names.push(e.name);
  for (const name of names.sort()) {
    const profile = JSON.parse(await Deno.readTextFile(`${dir}/${name}`));
    note(`CPU profile ${name} (whole run, start to stop):\n${summarizeCpuProfile(profile, 25)}`);
  }
}

function secs(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(1);
}

function mb(bytes: number | undefined): string {
  return bytes === undefined ? "?" : (bytes / 1e6).toFixed(1);
}

/**
 * The result table: one row per daemon, `-` for a figure not measured, the reason for a
 * daemon that failed.
 *
 * @example
 * ```ts
 * import { renderScaleTable } from "./daemon_scale.ts";
 * const table = renderScaleTable(10, [{
 *   daemon: "ours", addSeconds: 0.5, seedingSeconds: 3, emptyRssBytes: 50e6, rssBytes: 60e6,
 *   idleCpuPercent: 0.2, getAllMs: 4,
 * }]);
 * console.log(table.includes("60.0"), table.includes("| 1000 |")); // true true
 * ```
 */
export function renderScaleTable(torrents: number, rows: ScaleRow[]): string {
  const head = [
    "client",
    `add ${torrents} (s)`,
    "until all seeding (s)",
    "RSS (MB)",
    "RSS settled (MB)",
    "RSS empty (MB)",
    "per torrent (KB)",
    "idle CPU (% core)",
    "idle CPU settled (% core)",
    "torrent-get all (ms)",
  ];
  const fmt = (v: number | undefined, digits: number) =>
    v === undefined || !Number.isFinite(v) ? "-" : v.toFixed(digits);
  const lines = rows.map((r) =>
    r.failed ? [r.daemon, `FAILED: ${r.failed}`] : [
      r.daemon,
      fmt(r.addSeconds, 2),
      fmt(r.seedingSeconds, 1),
      fmt(r.rssBytes === undefined ? undefined : r.rssBytes / 1e6, 1),
      fmt(r.settledRssBytes === undefined ? undefined : r.settledRssBytes / 1e6, 1),
      fmt(r.emptyRssBytes === undefined ? undefined : r.emptyRssBytes / 1e6, 1),
      fmt(
        r.rssBytes === undefined || r.emptyRssBytes === undefined
          ? undefined
          : (r.rssBytes - r.emptyRssBytes) / 1e3 / torrents,
        0,
      ),
      fmt(r.idleCpuPercent, 2),
      fmt(r.settledIdleCpuPercent, 2),
      fmt(r.getAllMs, 1),
    ]
  );
  const widths = head.map((h, i) =>
    Math.max(h.length, ...lines.map((l) => (l.length > 2 || i === 0 ? l[i].length : 0)))
  );
  const out = [head.map((h, i) => h.padEnd(widths[i])).join(" | ")];
  out.push(widths.map((w) => "-".repeat(w)).join("-|-"));
  for (const l of lines) {
    if (l.length === 2) out.push(`${l[0].padEnd(widths[0])} | ${l[1]}`);
    else {out.push(
        l.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | "),
      );}
  }
  return out.join("\n");
}

/**
 * Makes the torrents once, then measures each daemon in turn; the rows in `config.daemons`
 * order. `note` receives progress lines.
 */
export async function runScale(
  config: ScaleConfig,
  note: (line: string) => void = () => {},
): Promise<ScaleRow[]> {
  const work = await Deno.makeTempDir({ dir: config.tmpDir, prefix: "bt-daemon-scale-" });
  workDir = work;
  try {
    let t = performance.now();
    // A tracker that is never there: a port found free, then left closed.
    const tracker = config.deadTracker
      ? `http://${LOOPBACK}:${await benchPort()}/announce`
      : undefined;
    const corpus = await makeCorpus(`${work}/data`, `${work}/torrents`, config.torrents, tracker);
    note(
      `made ${config.torrents} torrents (${(corpus.totalBytes / 1e6).toFixed(1)} MB) ` +
        `in ${secs(t)} s`,
    );
    if (config.daemons.includes("ours")) {
      t = performance.now();
      await cacheOurModules();
      note(`deno cache in ${secs(t)} s`);
    }
    const rows: ScaleRow[] = [];
    for (const name of config.daemons) rows.push(await measure(name, work, corpus, config, note));
    return rows;
  } finally {
    workDir = undefined;
    if (config.keep) note(`kept ${work}`);
    else await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

let workDir: string | undefined;

const USAGE = `deno run --allow-all tests/bench/daemon_scale.ts [options]

  --torrents N        torrents every daemon gets (default 1000)
  --clients LIST      daemons, comma list of ${ALL_DAEMONS.join(",")} (default: both;
                      transmission only when ${TRANSMISSION} is installed)
  --concurrency N     torrent-add requests in flight at once (default 1)
  --idle SEC          seconds of the idle CPU window (default 10)
  --settle SEC        RSS read again this long after all seeding (default 60; 0: not)
  --timeout SEC       seconds until every torrent must seed (default 120 + 0.6 per torrent)
  --dead-tracker      every torrent names a tracker on a closed 127.0.0.1 port
  --profile           run ours under --cpu-prof and print its top functions
  --smoke             20 torrents, ours only, a 2 s idle window, 8 s to settle (a quick check)
  --tmp DIR           parent of the work folder (default: system temp)
  --keep              keep the work folder
  -h, --help          this text`;

/**
 * Turns command-line flags into a configuration (`"help"` for `-h`); a {@link BenchError} for
 * bad ones.
 *
 * @example
 * ```ts
 * import { scaleConfigFromArgs } from "./daemon_scale.ts";
 * const c = await scaleConfigFromArgs(["--smoke"]);
 * console.log(c !== "help" && c.torrents, c !== "help" && c.daemons); // 20 [ "ours" ]
 * ```
 */
export async function scaleConfigFromArgs(args: string[]): Promise<ScaleConfig | "help"> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      torrents: { type: "string" },
      clients: { type: "string" },
      concurrency: { type: "string" },
      idle: { type: "string" },
      settle: { type: "string" },
      timeout: { type: "string" },
      "dead-tracker": { type: "boolean" },
      profile: { type: "boolean" },
      smoke: { type: "boolean" },
      tmp: { type: "string" },
      keep: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const smoke = values.smoke ?? false;
  let daemons: DaemonName[];
  const named = listFlag(values.clients, ALL_DAEMONS, "clients");
  if (named !== undefined) {
    daemons = named;
  } else if (smoke) {
    daemons = ["ours"];
  } else {
    daemons = (await isExecutable(TRANSMISSION)) ? [...ALL_DAEMONS] : ["ours"];
  }
  if (daemons.includes("transmission") && !(await isExecutable(TRANSMISSION))) {
    throw new BenchError(`${TRANSMISSION} is not installed (Debian: transmission-daemon)`);
  }
  const torrents = intFlag(values.torrents, "torrents", 1, 100_000) ?? (smoke ? 20 : 1000);
  return {
    torrents,
    daemons,
    concurrency: intFlag(values.concurrency, "concurrency", 1, 64) ?? 1,
    idleSeconds: intFlag(values.idle, "idle", 1, 3600) ?? (smoke ? 2 : 10),
    settleSeconds: intFlag(values.settle, "settle", 0, 3600) ?? (smoke ? 8 : 60),
    getCalls: smoke ? 3 : 10,
    timeoutSec: intFlag(values.timeout, "timeout", 1, 86_400) ??
      Math.round(120 + 0.6 * torrents),
    deadTracker: values["dead-tracker"] ?? false,
    profile: values.profile ?? false,
    tmpDir: values.tmp,
    keep: values.keep ?? false,
  };
}

async function main(args: string[]): Promise<number> {
  let config: ScaleConfig | "help";
  try {
    config = await scaleConfigFromArgs(args);
  } catch (e) {
    console.error(`daemon_scale: ${e instanceof Error ? e.message : e}\n\n${USAGE}`);
    return 2;
  }
  if (config === "help") {
    console.log(USAGE);
    return 0;
  }
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    console.error("daemon_scale: interrupted; stopping the daemon");
    stopAllChildren()
      .then(() => workDir === undefined ? undefined : Deno.remove(workDir, { recursive: true }))
      .catch(() => {})
      .finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const rows = await runScale(config, (line) => console.error(line));
  console.log(
    `${config.torrents} torrents${config.deadTracker ? " (each with a dead tracker)" : ""}, ` +
      `torrent-add concurrency ${config.concurrency}, idle window ${config.idleSeconds} s\n` +
      renderScaleTable(config.torrents, rows),
  );
  return rows.some((r) => r.failed) ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
