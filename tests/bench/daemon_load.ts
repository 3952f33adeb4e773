/**
 * The daemon under load: `bittorrent daemon` downloading several torrents at once, holding
 * hundreds of peer connections, and downloading while hostile clients hammer its RPC port. A
 * daemon is one process for everything, so what it must show is that one busy part does not
 * starve the others: its total throughput no lower than one `bittorrent download` of the same
 * bytes, every peer it has room for kept, and its RPC answering through an attack.
 *
 *     deno run --allow-all tests/bench/daemon_load.ts
 *     deno run --allow-all tests/bench/daemon_load.ts --case hostile --size 512M
 *     deno run --allow-all tests/bench/daemon_load.ts --case hostile --nofile 1024 --slowloris 1100
 *     deno run --allow-all tests/bench/daemon_load.ts --smoke
 *
 * Three cases (`--case`, default all), each printing its table:
 *
 * - throughput: `--torrents` (4) torrents of `--size` (256 MiB) bytes each, every one seeded by
 *   its own python3-libtorrent seeder (`lt_seeders.py`) found through an opentracker, are
 *   added to one daemon (`--max-active` as many) at once; timed from the first `torrent-add`
 *   until `torrent-get` (polled every 100 ms) shows all complete. Compared in the same run with
 *   one `bittorrent download` of a single torrent holding the same files (the same bytes, from
 *   one libtorrent seeder), and with the torrents downloaded one after another by separate
 *   `bittorrent download` runs (the daemon's seeders). CPU seconds are our process's (every
 *   thread) over the timed span; every download is compared byte for byte with its source.
 * - connections: a daemon seeding `--seed-torrents` (10) small complete torrents with
 *   `--max-connections 1000 --max-peers 60` takes `--connections` (500) incoming TCP peers,
 *   spread evenly over the torrents, each a real BitTorrent handshake written here with
 *   `Deno.connect` (what the daemon sends after its handshake is read and dropped; a
 *   keep-alive goes out every 30 s). Counted: handshakes answered, connections refused or
 *   closed, and those still open after `--hold` (10) seconds, beside the room the daemon's
 *   limits leave (per torrent min(max-peers, max-connections / torrents) + 5); measured: the
 *   daemon's RSS and CPU while it holds them, and `torrent-get` latency meanwhile.
 * - hostile: one `--size` torrent from one libtorrent seeder, downloaded by a fresh daemon
 *   quietly; by another beside a busy loop that keeps one core busy (what an attacker on the
 *   same machine takes by its own CPU alone); and by a third while a second process (this
 *   script with the internal `--attacker` flag) runs `--slowloris` (200) sockets that send a
 *   header byte every 3 s and never finish, three loops POSTing `--body` (10 MiB) bodies to the
 *   RPC (expect 413 or 411; declared, chunked, and declared and written whole before the
 *   answer is read), and `--flood` (1,000) `session-get` requests a second (expect 200, then 429
 *   past the rate limit). The attacked download starts once the flood meets its first 429; its
 *   time against the quiet one is the slowdown, and against the busy-core one what the attack
 *   costs beyond the attacker's CPU. A download's time is the daemon's own, from its log (files
 *   opened to download complete): our polls share the flood's rate limit, and a throttled one
 *   waits a second; the time our polls saw is shown beside it. A well-behaved client meanwhile
 *   sends one `torrent-get` every 200 ms (one try each) in every run, and its answers and their
 *   latency are reported. Every RPC client here is 127.0.0.1, like the attacker, so it shares the
 *   attacker's rate-limit bucket. `--nofile N` runs every daemon under `prlimit` with N open
 *   files at most, as a service manager's default (1024) would.
 *
 * Timed downloads repeat `--runs` (3) times, interleaved; tables show medians. Our processes
 * run as the shipped executable does (the compile task's V8 flags and code cache choice),
 * spawned as `deno` itself, so the measured PID is ours. Every socket is on 127.0.0.1; the daemons run with
 * `--no-dht --bind 127.0.0.1`. Progress goes to stderr, tables to stdout. Exit code 0 when
 * every case ran and every download verified, 1 otherwise (a daemon that crashes fails its
 * case), 2 for bad flags. Slowness, refused peers and throttled requests never fail it: they
 * are what the tables show.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createTorrentFromPath, parseTorrent } from "../../src/metainfo/mod.ts";
import { decodeBase64, encodeBase64 } from "../../src/util/mod.ts";
import { makePayload } from "../../testdata/payload.ts";
import {
  filesEqual,
  hasTool,
  PYTHON,
  startOpentracker,
  type Tracker,
} from "../interop/fixtures.ts";
import { makeCorpus } from "./daemon_scale.ts";
import { type Daemon, type DaemonHow, daemonPid, PRLIMIT, Rpc, startDaemon } from "./our_daemon.ts";
import { isExecutable } from "../process.ts";
import { benchPort, cacheOurModules, OUR_RUN } from "./harness.ts";
import { MAIN_TS } from "../compile_task.ts";
import {
  BenchError,
  type Child,
  processCpuSeconds,
  processMemory,
  runMeasured,
  spawnChild,
  stopAllChildren,
} from "./proc.ts";
import { summarizeCpuProfile } from "./profile.ts";
import { intFlag, listFlag } from "./flags.ts";
import { formatSize, median, parseSize } from "./report.ts";

/** A section of the benchmark. */
export type LoadCase = "throughput" | "connections" | "hostile";

/** Every case, in run order. */
export const ALL_CASES: readonly LoadCase[] = ["throughput", "connections", "hostile"];

/** What one run of the benchmark does. */
export interface LoadConfig {
  cases: LoadCase[];
  /** Bytes of each torrent of the throughput and hostile cases. */
  size: number;
  /** Piece length of those torrents. */
  pieceLength: number;
  /** Torrents the daemon downloads at once (throughput). */
  torrents: number;
  /** Also time the torrents downloaded one after another by `bittorrent download` runs. */
  sequential: boolean;
  /** Complete torrents the daemon seeds (connections). */
  seedTorrents: number;
  /** Incoming peer connections opened (connections). */
  connections: number;
  /** Seconds the connections are held. */
  holdSeconds: number;
  /** The daemon's `--max-connections` and `--max-peers` (connections). */
  maxConnections: number;
  maxPeers: number;
  /** Slowloris sockets (hostile; 0: none). */
  slowloris: number;
  /** Milliseconds between two bytes of a slowloris socket. */
  slowlorisIntervalMs: number;
  /** Bytes of each oversized body (hostile; 0: none). */
  bodyBytes: number;
  /** `session-get` requests a second (hostile; 0: none). */
  floodPerSecond: number;
  /** Start the attacked download only once the flood meets its first 429. */
  waitThrottled: boolean;
  /** Run every daemon with this limit of open files (`prlimit`); default: inherited. */
  nofile?: number;
  /** Run every daemon under `--cpu-prof` and print where its time went (to stderr). */
  profile: boolean;
  /** Repeats of every timed download (throughput, hostile); tables show medians. */
  runs: number;
  /** Seconds one download may take. */
  timeoutSec: number;
  /** Parent of the work folder (default: the system's temp folder). */
  tmpDir?: string;
  /** Keep the work folder. */
  keep: boolean;
}

/** One case's outcome: its rendered table (and notes), and what failed. */
export interface CaseResult {
  name: LoadCase;
  text: string;
  failures: string[];
}

const LOOPBACK = "127.0.0.1";
const SELF = decodeURIComponent(new URL(import.meta.url).pathname);
const LT_SEEDERS = decodeURIComponent(new URL("./lt_seeders.py", import.meta.url).pathname);
/** How our processes run: as the `download` and `compile` tasks run them. */
const RPC_PATH = "/transmission/rpc";
const SESSION_HEADER = "X-Transmission-Session-Id";
const POLL_MS = 100;
/** Interval of the well-behaved client's `torrent-get`. */
const PROBE_MS = 200;
/** Transmission's status "seeding". */
const SEEDING = 6;
/** Transmission's error class "local error" (the files). */
const LOCAL_ERROR = 3;
const KEEPALIVE_MS = 30_000;
/** Incoming peers a torrent of ours takes past its limit (src/engine/session.ts). */
const INCOMING_SLACK = 5;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function secs(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(1);
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The first line of a failure, at most 200 characters, for a table. */
function oneLine(text: string): string {
  const first = text.split("\n")[0];
  return first.length > 200 ? `${first.slice(0, 200)}...` : first;
}

function fmt(v: number | undefined, digits: number): string {
  return v === undefined || !Number.isFinite(v) ? "-" : v.toFixed(digits);
}

function mb(bytes: number | undefined): string {
  return fmt(bytes === undefined ? undefined : bytes / 1e6, 1);
}

/**
 * A plain text table: a header row, a rule, then the rows; the first column left-aligned and
 * the rest right-aligned. A row of one cell spans the table (a failure, a note).
 *
 * @example
 * ```ts
 * import { textTable } from "./daemon_load.ts";
 * console.log(textTable(["run", "s"], [["quiet", "1.5"], ["attacked", "12.0"]]));
 * // run      |    s
 * // ---------|-----
 * // quiet    |  1.5
 * // attacked | 12.0
 * ```
 */
export function textTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => (r.length > 1 && r[i] !== undefined ? r[i].length : 0)))
  );
  const line = (r: string[]) =>
    r.length === 1
      ? r[0]
      : r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ");
  return [
    head.map((h, i) => (i === 0 ? h.padEnd(widths[i]) : h.padStart(widths[i]))).join(" | "),
    widths.map((w) => "-".repeat(w)).join("-|-"),
    ...rows.map(line),
  ].join("\n");
}

// ---- our daemon ---------------------------------------------------------------------------

/**
 * Stops a daemon (SIGTERM, which stops every torrent cleanly); a BenchError when it had
 * exited before (crashed) or does not exit within a minute.
 */
async function stopDaemon(d: Daemon, note: (line: string) => void): Promise<void> {
  const crashed = d.child.exited;
  const t = performance.now();
  await d.child.stop(60_000);
  const status = d.child.exited;
  note(`${d.name}: stopped in ${secs(t)} s (exit ${status?.code}${status?.signal ?? ""})`);
  if (d.profiled) await noteProfiles(d, note);
  if (crashed) throw new BenchError(`${d.name} exited by itself: ${d.child.diagnosis()}`);
  if (status?.signal === "SIGKILL") throw new BenchError(`${d.name} ignored SIGTERM for 60 s`);
}

/** The top of each `--cpu-prof` profile a daemon wrote (main thread first), as progress. */
async function noteProfiles(d: Daemon, note: (line: string) => void): Promise<void> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(`${d.dir}/profile`)) {
      if (e.name.endsWith(".cpuprofile")) names.push(e.name);
    }
  } catch {
    note(`${d.name}: no CPU profile written`);
    return;
  }
  // Workers' profiles end in `.worker-<n>.cpuprofile`; the main thread's sorts first without.
  names.sort((a, b) => Number(a.includes("worker")) - Number(b.includes("worker")));
  for (const name of names) {
    const profile = JSON.parse(await Deno.readTextFile(`${d.dir}/profile/${name}`));
    note(`${d.name}: CPU profile ${name} (start to stop):\n${summarizeCpuProfile(profile, 25)}`);
  }
}

interface TorrentState {
  id?: number;
  name?: string;
  status?: number;
  percentDone?: number;
  error?: number;
  errorString?: string;
  peersConnected?: number;
}

async function torrents(rpc: Rpc, fields: string[]): Promise<TorrentState[]> {
  const got = await rpc.call("torrent-get", { fields });
  return (got.torrents ?? []) as TorrentState[];
}

/**
 * Polls `torrent-get` every 100 ms until `n` torrents are complete (and, with `seeding`, all
 * seeding); a BenchError on a local error, the daemon's exit or the deadline.
 */
async function waitComplete(
  d: Daemon,
  n: number,
  timeoutMs: number,
  note: (line: string) => void,
  seeding = false,
): Promise<void> {
  const start = performance.now();
  let lastNote = start;
  for (;;) {
    if (d.child.exited) throw new BenchError(`${d.name} exited: ${d.child.diagnosis()}`);
    const list = await torrents(d.rpc, ["id", "status", "percentDone", "error", "errorString"]);
    const broken = list.find((x) => x.error === LOCAL_ERROR);
    if (broken) throw new BenchError(`${d.name}: a torrent failed: ${broken.errorString}`);
    const done = list.filter((x) => x.percentDone === 1 && (!seeding || x.status === SEEDING));
    if (list.length === n && done.length === n) return;
    const now = performance.now();
    if (now - start > timeoutMs) {
      throw new BenchError(
        `${d.name}: ${done.length} of ${n} complete after ${Math.round(timeoutMs / 1000)} s`,
      );
    }
    if (now - lastNote > 5000) {
      lastNote = now;
      const pct = list.map((x) => `${Math.floor((x.percentDone ?? 0) * 100)}%`).join(" ");
      note(`${d.name}: ${secs(start)} s: ${pct}`);
    }
    await delay(POLL_MS);
  }
}

/** The session id the RPC wants echoed (from its 409 answer). */
async function sessionIdOf(port: number): Promise<string> {
  const r = await fetch(`http://${LOOPBACK}:${port}${RPC_PATH}`, { method: "POST", body: "{}" });
  await r.body?.cancel();
  const id = r.headers.get(SESSION_HEADER);
  if (r.status !== 409 || !id) {
    throw new BenchError(`RPC answered ${r.status} without a session id`);
  }
  return id;
}

// ---- torrents, seeders, trackers --------------------------------------------------------

/**
 * `bytes`, a bencoded torrent without `announce`, with `announce` set to `url` as its first
 * key (it sorts before every other key a torrent has): the info dictionary, so the info-hash,
 * is untouched.
 */
function withAnnounce(bytes: Uint8Array, url: string): Uint8Array {
  const enc = new TextEncoder();
  const key = enc.encode(`8:announce${enc.encode(url).length}:${url}`);
  const out = new Uint8Array(bytes.length + key.length);
  out[0] = bytes[0];
  out.set(key, 1);
  out.set(bytes.subarray(1), 1 + key.length);
  return out;
}

/** A torrent made for a case: its file, its info-hash, and its bytes in base64 for RPC. */
interface MadeTorrent {
  path: string;
  infoHashHex: string;
  base64: string;
}

/**
 * Makes a tracker-less torrent of each source (files or folders), starts an opentracker that
 * knows exactly their info-hashes, and writes each torrent announcing to it into `dir`.
 */
async function makeTorrents(
  sources: string[],
  dir: string,
  pieceLength: number,
): Promise<{ torrents: MadeTorrent[]; stopTracker: () => Promise<void> }> {
  await Deno.mkdir(dir, { recursive: true });
  const bare: Uint8Array[] = [];
  for (const source of sources) {
    bare.push(await createTorrentFromPath(source, { pieceLength, creationDate: null }));
  }
  const hashes = bare.map((b) => parseTorrent(b).infoHashHex);
  // opentracker binds a port found free a moment before; on a busy machine another process
  // can take it in between: a fresh one then.
  let tracker: Tracker | undefined;
  for (let attempt = 1; !tracker; attempt++) {
    try {
      tracker = await startOpentracker({ infoHashesHex: hashes });
    } catch (e) {
      if (attempt >= 3 || !messageOf(e).includes("Address already in use")) throw e;
    }
  }
  const stopTracker = untilCleanup(() => tracker!.stop());
  try {
    const torrents: MadeTorrent[] = [];
    for (let i = 0; i < bare.length; i++) {
      const bytes = withAnnounce(bare[i], tracker.httpUrl);
      if (parseTorrent(bytes).infoHashHex !== hashes[i]) {
        throw new BenchError("adding the announce URL changed an info-hash");
      }
      const name = sources[i].slice(sources[i].lastIndexOf("/") + 1);
      const path = `${dir}/${name}.torrent`;
      await Deno.writeFile(path, bytes);
      torrents.push({ path, infoHashHex: hashes[i], base64: encodeBase64(bytes) });
    }
    return { torrents, stopTracker };
  } catch (e) {
    await stopTracker();
    throw e;
  }
}

/** Cleanups still to run (the opentrackers), for the signal handler. */
const cleanups = new Set<() => Promise<void>>();

/** Registers `fn` for the signal handler; the returned function runs it once and drops it. */
function untilCleanup(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  const once = () => {
    cleanups.delete(once);
    done ??= fn().catch(() => {});
    return done;
  };
  cleanups.add(once);
  return once;
}

/** A python3-libtorrent seeder of one torrent. */
interface Seeder {
  child: Child;
  pid: number;
}

/** Starts `lt_seeders.py` seeding `torrent` from `saveDir` once it checked the data and announced. */
async function startSeeder(
  name: string,
  torrent: string,
  saveDir: string,
  timeoutMs: number,
): Promise<Seeder> {
  const args = [LT_SEEDERS, "--torrent", torrent, "--data", saveDir];
  args.push("--port", String(await benchPort()));
  const child = await spawnChild(name, {
    cmd: PYTHON,
    args,
    env: { PYTHONUNBUFFERED: "1" },
    stdin: true,
  });
  try {
    await child.waitForLine((l) => l.startsWith("READY "), timeoutMs, name);
    return { child, pid: await daemonPid(child) };
  } catch (e) {
    await child.stop();
    throw e;
  }
}

function cpuOf(seeders: Seeder[]): number {
  return seeders.reduce((sum, s) => sum + processCpuSeconds(s.pid), 0);
}

/** Writes every dirty page to disk, so no run pays for the write-back of the one before. */
async function sync(): Promise<void> {
  await new Deno.Command("sync", { stdout: "null", stderr: "null" }).output().catch(() => {});
}

/** Byte-for-byte comparison of each `[copy, original]`; what differs, or undefined. */
async function firstDifference(pairs: Array<[string, string]>): Promise<string | undefined> {
  for (const [copy, original] of pairs) {
    if (!await filesEqual(original, copy)) return `${copy} differs from ${original} or is missing`;
  }
  return undefined;
}

// ---- case 1: throughput -------------------------------------------------------------------

/** One timed download of the throughput case's bytes. */
export interface LoadFigures {
  seconds: number;
  /** Our process's user+system CPU seconds (every thread). */
  cpuSeconds: number;
  peakRssBytes: number;
  /** Every seeder's CPU seconds meanwhile. */
  seederCpuSeconds: number;
}

/** One way of downloading the throughput case's bytes: its runs, or why it failed. */
export interface ThroughputRow {
  what: string;
  bytes: number;
  runs: LoadFigures[];
  failed?: string;
}

/** The median of one figure over a row's runs (NaN without runs). */
function med(runs: LoadFigures[], key: keyof LoadFigures): number {
  return median(runs.map((r) => r[key]));
}

/**
 * The throughput table (medians over runs), with the daemon's throughput against each
 * `bittorrent download` way.
 *
 * @example
 * ```ts
 * import { renderThroughputTable } from "./daemon_load.ts";
 * const fig = (seconds: number) =>
 *   ({ seconds, cpuSeconds: 8, peakRssBytes: 1e8, seederCpuSeconds: 2 });
 * const text = renderThroughputTable([
 *   { what: "daemon", bytes: 1e9, runs: [fig(10), fig(11), fig(9)] },
 *   { what: "download", bytes: 1e9, runs: [fig(8)] },
 * ]);
 * console.log(text.includes("100.0"), text.includes("0.80x")); // true true
 * ```
 */
export function renderThroughputTable(rows: ThroughputRow[]): string {
  const head = [
    "run",
    "MiB",
    "runs",
    "seconds",
    "MB/s",
    "our CPU s",
    "peak RSS MB",
    "seeders CPU s",
  ];
  const lines = rows.map((r) => {
    if (r.failed) return [`${r.what}: FAILED: ${oneLine(r.failed)}`];
    const seconds = med(r.runs, "seconds");
    return [
      r.what,
      fmt(r.bytes / 1024 ** 2, 0),
      String(r.runs.length),
      fmt(seconds, 2),
      fmt(r.bytes / 1e6 / seconds, 1),
      fmt(med(r.runs, "cpuSeconds"), 2),
      mb(med(r.runs, "peakRssBytes")),
      fmt(med(r.runs, "seederCpuSeconds"), 2),
    ];
  });
  const out = [textTable(head, lines)];
  const [daemon, ...others] = rows;
  for (const o of others) {
    const ours = med(daemon.runs, "seconds"), theirs = med(o.runs, "seconds");
    if (!daemon.failed && !o.failed && ours > 0 && theirs > 0) {
      out.push(`daemon throughput / ${o.what}: ${(theirs / ours).toFixed(2)}x`);
    }
  }
  return out.join("\n");
}

/** What every run of the throughput case works on. */
interface ThroughputCtx {
  work: string;
  how: DaemonHow;
  timeoutMs: number;
  note: (line: string) => void;
}

/**
 * One daemon (fresh state, `--max-active` as many as the torrents) downloading `torrents` at
 * once into a fresh folder: timed from the first `torrent-add` until all are complete, then
 * stopped and verified with `pairs` (copy path in `out`, original).
 */
async function daemonRun(
  ctx: ThroughputCtx,
  torrents: MadeTorrent[],
  seeders: Seeder[],
  pairs: (out: string) => Array<[string, string]>,
): Promise<LoadFigures> {
  const out = `${ctx.work}/tp-daemon-out`;
  await Deno.mkdir(out, { recursive: true });
  await sync();
  try {
    const n = torrents.length;
    const d = await startDaemon(
      ctx.work,
      "daemon",
      out,
      ["--max-active", String(n)],
      ctx.how,
    );
    let figures: LoadFigures;
    try {
      const cpu0 = processCpuSeconds(d.pid), seed0 = cpuOf(seeders);
      const start = performance.now();
      for (const tor of torrents) {
        const added = await d.rpc.call("torrent-add", {
          metainfo: tor.base64,
          "download-dir": out,
        });
        if (!added["torrent-added"]) throw new BenchError("a torrent-add was taken as a duplicate");
      }
      await waitComplete(d, n, ctx.timeoutMs, ctx.note);
      figures = {
        seconds: (performance.now() - start) / 1000,
        cpuSeconds: processCpuSeconds(d.pid) - cpu0,
        seederCpuSeconds: cpuOf(seeders) - seed0,
        peakRssBytes: (await processMemory(d.pid)).hwm ?? NaN,
      };
    } finally {
      await stopDaemon(d, ctx.note);
    }
    const wrong = await firstDifference(pairs(out));
    if (wrong) throw new BenchError(`WRONG DATA: ${wrong}`);
    return figures;
  } finally {
    await Deno.remove(out, { recursive: true }).catch(() => {});
  }
}

/**
 * `bittorrent download` of each torrent in turn into a fresh folder, measured (spawn to exit)
 * and verified with `pairs(out, i)`; their figures summed (peak RSS: the largest).
 */
async function cliRun(
  ctx: ThroughputCtx,
  torrentPaths: string[],
  seeders: Seeder[],
  pairs: (out: string, i: number) => Array<[string, string]>,
): Promise<LoadFigures> {
  const sum: LoadFigures = { seconds: 0, cpuSeconds: 0, peakRssBytes: 0, seederCpuSeconds: 0 };
  for (let i = 0; i < torrentPaths.length; i++) {
    const out = `${ctx.work}/tp-cli-out`;
    await Deno.mkdir(out, { recursive: true });
    await sync();
    try {
      const args = [...OUR_RUN, MAIN_TS, "download", torrentPaths[i], "-o", out];
      args.push("--no-dht", "--bind", LOOPBACK, "--port", String(await benchPort()));
      args.push("--log-dir", `${ctx.work}/logs/download`, "-q");
      const seed0 = cpuOf(seeders);
      const m = await runMeasured("bittorrent download", { cmd: Deno.execPath(), args }, {
        timeoutMs: ctx.timeoutMs,
        scratch: ctx.work,
      });
      sum.seederCpuSeconds += cpuOf(seeders) - seed0;
      if (m.timedOut) throw new BenchError(`timed out; ${m.diagnosis}`);
      if (!m.status.success) throw new BenchError(`failed: ${m.diagnosis}`);
      const wrong = await firstDifference(pairs(out, i));
      if (wrong) throw new BenchError(`WRONG DATA: ${wrong}`);
      sum.seconds += m.seconds;
      sum.cpuSeconds += m.cpuSeconds;
      sum.peakRssBytes = Math.max(sum.peakRssBytes, m.peakRssBytes);
    } finally {
      await Deno.remove(out, { recursive: true }).catch(() => {});
    }
  }
  return sum;
}

async function runThroughput(
  config: LoadConfig,
  work: string,
  note: (line: string) => void,
): Promise<CaseResult> {
  const failures: string[] = [];
  const n = config.torrents;
  const ctx: ThroughputCtx = {
    work,
    how: config,
    timeoutMs: config.timeoutSec * 1000,
    note,
  };
  const data = `${work}/tp-data`;
  const names = Array.from({ length: n }, (_, i) => `t${i}.bin`);
  const originals = names.map((name) => `${data}/set/${name}`);
  const rows: ThroughputRow[] = [];
  const seeders: Seeder[] = [];
  let stopTracker = () => Promise.resolve();
  try {
    let t = performance.now();
    await makePayload(data, {
      files: names.map((name) => ({ path: `set/${name}`, size: config.size })),
      seed: 20240601,
    });
    // The single torrents' files together make the folder torrent `set`: the same bytes.
    const made = await makeTorrents(
      [...originals, `${data}/set`],
      `${work}/tp-torrents`,
      config.pieceLength,
    );
    const torrents = made.torrents;
    stopTracker = made.stopTracker;
    note(`throughput: ${n} x ${formatSize(config.size)} payload and torrents in ${secs(t)} s`);
    t = performance.now();
    const started = await Promise.allSettled(
      torrents.map((tor, i) =>
        i < n
          ? startSeeder(`seeder ${names[i]}`, tor.path, `${data}/set`, ctx.timeoutMs)
          : startSeeder("seeder set", tor.path, data, ctx.timeoutMs)
      ),
    );
    for (const s of started) if (s.status === "fulfilled") seeders.push(s.value);
    const bad = started.find((s) => s.status === "rejected");
    if (bad?.status === "rejected") throw bad.reason;
    note(`throughput: ${seeders.length} libtorrent seeders ready in ${secs(t)} s`);
    const singles = seeders.slice(0, n), setSeeder = seeders[n];
    const ways: Array<{ row: ThroughputRow; run: () => Promise<LoadFigures> }> = [{
      row: { what: `daemon, ${n} torrents at once`, bytes: n * config.size, runs: [] },
      run: () =>
        daemonRun(
          ctx,
          torrents.slice(0, n),
          singles,
          (o) => names.map((name, i) => [`${o}/${name}`, originals[i]]),
        ),
    }, {
      // The same bytes in one torrent, from one seeder.
      row: {
        what: `download, 1 torrent of ${formatSize(n * config.size)}`,
        bytes: n * config.size,
        runs: [],
      },
      run: () =>
        cliRun(
          ctx,
          [torrents[n].path],
          [setSeeder],
          (o) => names.map((name, i) => [`${o}/set/${name}`, originals[i]]),
        ),
    }];
    if (config.sequential) {
      // The daemon's torrents and seeders, one `download` after another.
      ways.push({
        row: { what: `download x${n}, one after another`, bytes: n * config.size, runs: [] },
        run: () =>
          cliRun(
            ctx,
            torrents.slice(0, n).map((tor) => tor.path),
            singles,
            (o, i) => [[`${o}/${names[i]}`, originals[i]]],
          ),
      });
    }
    rows.push(...ways.map((w) => w.row));
    for (let run = 1; run <= config.runs; run++) {
      for (const { row, run: once } of ways) {
        if (row.failed) continue;
        try {
          const f = await once();
          row.runs.push(f);
          note(
            `throughput: run ${run}/${config.runs} ${row.what}: ${f.seconds.toFixed(2)} s, ` +
              `${(row.bytes / 1e6 / f.seconds).toFixed(1)} MB/s, ${
                f.cpuSeconds.toFixed(2)
              } CPU s, verified`,
          );
        } catch (e) {
          row.failed = messageOf(e);
          failures.push(`throughput / ${row.what}: ${row.failed}`);
          note(`throughput: run ${run}/${config.runs} ${row.what}: FAILED: ${row.failed}`);
        }
      }
    }
  } catch (e) {
    failures.push(`throughput: ${messageOf(e)}`);
    rows.push({ what: "setup", bytes: 0, runs: [], failed: messageOf(e) });
  } finally {
    await Promise.all(seeders.map((s) => s.child.stop()));
    await stopTracker();
    await Deno.remove(data, { recursive: true }).catch(() => {});
  }
  const title = `throughput: ${n} torrents of ${formatSize(config.size)} (${
    formatSize(config.pieceLength)
  } pieces), each from its own libtorrent seeder; medians of ${config.runs} run(s)`;
  const foot = "the daemon is timed from the first torrent-add until all are complete; a " +
    "download from its spawn to its exit (start-up and flush included)";
  return {
    name: "throughput",
    text: `${title}\n${renderThroughputTable(rows)}\n(${foot})`,
    failures,
  };
}

// ---- case 2: connections ------------------------------------------------------------------

/** How one raw incoming peer connection went. */
type PeerOutcome =
  | "refused"
  | "timed out"
  | "closed before handshake"
  | "bad handshake"
  | "open"
  | "closed after handshake";

/** A raw peer connection to the daemon, opened by {@link openFakePeer}. */
interface FakePeer {
  outcome: PeerOutcome;
  conn?: Deno.TcpConn;
  handshakeMs: number;
  /** Bytes the daemon sent after its handshake. */
  bytesIn: number;
  /** Set when we close it ourselves, so its drain does not count a close by the daemon. */
  closing: boolean;
  drained?: Promise<void>;
}

/**
 * The 68-byte BitTorrent handshake: pstrlen 19, "BitTorrent protocol", 8 reserved bytes (the
 * extension protocol bit, 0x10 of byte 5, set), the info-hash and the peer id.
 *
 * @example
 * ```ts
 * import { handshakeBytes } from "./daemon_load.ts";
 * const h = handshakeBytes(new Uint8Array(20).fill(1), new Uint8Array(20).fill(2));
 * console.log(h.length, h[0], h[25], h[28], h[48]); // 68 19 16 1 2
 * ```
 */
export function handshakeBytes(infoHash: Uint8Array, peerId: Uint8Array): Uint8Array {
  const out = new Uint8Array(68);
  out[0] = 19;
  out.set(new TextEncoder().encode("BitTorrent protocol"), 1);
  out[20 + 5] = 0x10;
  out.set(infoHash, 28);
  out.set(peerId, 48);
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Opens one incoming peer connection: connects, handshakes for `infoHash`, reads the daemon's
 * handshake back (within `timeoutMs`), then reads and drops whatever else it sends until it
 * closes.
 */
async function openFakePeer(
  port: number,
  infoHash: Uint8Array,
  peerId: Uint8Array,
  timeoutMs: number,
): Promise<FakePeer> {
  const peer: FakePeer = { outcome: "refused", handshakeMs: NaN, bytesIn: 0, closing: false };
  const start = performance.now();
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: LOOPBACK, port });
  } catch {
    return peer;
  }
  peer.conn = conn;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, timeoutMs);
  const theirs = new Uint8Array(68);
  try {
    const ours = handshakeBytes(infoHash, peerId);
    for (let off = 0; off < ours.length;) off += await conn.write(ours.subarray(off));
    let got = 0;
    while (got < theirs.length) {
      const n = await conn.read(theirs.subarray(got));
      if (n === null) break;
      got += n;
    }
    if (got < theirs.length) throw new Error("end of stream");
  } catch {
    peer.outcome = timedOut ? "timed out" : "closed before handshake";
    if (!timedOut) conn.close();
    return peer;
  } finally {
    clearTimeout(timer);
  }
  const pstr = new TextDecoder().decode(theirs.subarray(1, 20));
  if (
    theirs[0] !== 19 || pstr !== "BitTorrent protocol" ||
    !sameBytes(theirs.subarray(28, 48), infoHash)
  ) {
    peer.outcome = "bad handshake";
    conn.close();
    return peer;
  }
  peer.outcome = "open";
  peer.handshakeMs = performance.now() - start;
  peer.drained = (async () => {
    const buf = new Uint8Array(16 * 1024);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        peer.bytesIn += n;
      }
    } catch {
      // reset by the daemon, or closed by us
    }
    if (!peer.closing) {
      peer.outcome = "closed after handshake";
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  })();
  return peer;
}

/** The connections case's figures. */
export interface ConnectionsFigures {
  torrents: number;
  attempted: number;
  /** Connections by how they went, counted when the hold ended. */
  outcomes: Partial<Record<PeerOutcome, number>>;
  /**
   * How many the daemon's limits leave room for: per torrent min(max-peers, max-connections
   * shared evenly) plus the incoming slack of 5.
   */
  expected?: number;
  /** Seconds to open every connection (50 at a time). */
  openSeconds?: number;
  handshakeMsMedian?: number;
  handshakeMsMax?: number;
  /** Sum of the torrents' `peersConnected` at the end of the hold. */
  daemonPeers?: number;
  rssBeforeBytes?: number;
  rssHoldingBytes?: number;
  /** The daemon's CPU over the hold, in % of one core. */
  holdCpuPercent?: number;
  getMsMedian?: number;
  getMsMax?: number;
  failed?: string;
}

/**
 * The connections table: one figure per line.
 *
 * @example
 * ```ts
 * import { renderConnectionsTable } from "./daemon_load.ts";
 * const text = renderConnectionsTable({ torrents: 10, attempted: 500, outcomes: { open: 500 } }, 10);
 * console.log(text.includes("held after 10 s")); // true
 * ```
 */
export function renderConnectionsTable(f: ConnectionsFigures, holdSeconds: number): string {
  const count = (o: PeerOutcome) => String(f.outcomes[o] ?? 0);
  const rows: string[][] = [
    ["incoming connections opened", `${f.attempted} over ${f.torrents} torrents`],
    ["room by the daemon's limits", f.expected === undefined ? "-" : String(f.expected)],
    [`held after ${holdSeconds} s`, count("open")],
    ["refused (connect failed)", count("refused")],
    ["closed before handshake", count("closed before handshake")],
    ["no handshake in time", count("timed out")],
    ["wrong handshake", count("bad handshake")],
    ["closed by the daemon after handshake", count("closed after handshake")],
    ["daemon's peersConnected (sum)", f.daemonPeers === undefined ? "-" : String(f.daemonPeers)],
    ["time to open all (s)", fmt(f.openSeconds, 2)],
    ["handshake ms, median / max", `${fmt(f.handshakeMsMedian, 1)} / ${fmt(f.handshakeMsMax, 1)}`],
    ["daemon RSS MB, before / holding", `${mb(f.rssBeforeBytes)} / ${mb(f.rssHoldingBytes)}`],
    ["daemon CPU while holding (% core)", fmt(f.holdCpuPercent, 1)],
    [
      "torrent-get ms while holding, median / max",
      `${fmt(f.getMsMedian, 1)} / ${fmt(f.getMsMax, 1)}`,
    ],
  ];
  if (f.failed) rows.push([`FAILED: ${oneLine(f.failed)}`]);
  return textTable(["figure", "value"], rows);
}

/** Incoming peers the daemon's limits have room for (see `ConnectionsFigures.expected`). */
function expectedHeld(config: LoadConfig): number {
  const t = config.seedTorrents;
  const share = Math.max(2, Math.floor(config.maxConnections / t));
  const room = Math.min(config.maxPeers, share) + INCOMING_SLACK;
  let sum = 0;
  for (let i = 0; i < t; i++) {
    const given = Math.floor(config.connections / t) + (i < config.connections % t ? 1 : 0);
    sum += Math.min(given, room);
  }
  return sum;
}

async function runConnections(
  config: LoadConfig,
  work: string,
  note: (line: string) => void,
): Promise<CaseResult> {
  const figures: ConnectionsFigures = {
    torrents: config.seedTorrents,
    attempted: config.connections,
    outcomes: {},
    expected: expectedHeld(config),
  };
  const failures: string[] = [];
  const peers: FakePeer[] = [];
  let keepAlive: ReturnType<typeof setInterval> | undefined;
  let d: Daemon | undefined;
  try {
    const corpus = await makeCorpus(
      `${work}/conn-data`,
      `${work}/conn-torrents`,
      config.seedTorrents,
      undefined,
    );
    const hashes = corpus.metainfo.map((m) => parseTorrent(decodeBase64(m)!).infoHash);
    d = await startDaemon(work, "daemon", corpus.data, [
      "--max-connections",
      String(config.maxConnections),
      "--max-peers",
      String(config.maxPeers),
    ], config);
    for (const metainfo of corpus.metainfo) {
      await d.rpc.call("torrent-add", { metainfo, "download-dir": corpus.data });
    }
    await waitComplete(d, hashes.length, 60_000, note, true);
    await delay(1000);
    figures.rssBeforeBytes = (await processMemory(d.pid)).rss;
    note(`connections: ${hashes.length} torrents seeding; opening ${config.connections} peers`);
    const start = performance.now();
    let next = 0;
    const daemon = d;
    const opener = async () => {
      while (next < config.connections) {
        const i = next++;
        const peerId = new TextEncoder().encode(`-LD0001-${String(i).padStart(12, "0")}`);
        peers[i] = await openFakePeer(daemon.peerPort, hashes[i % hashes.length], peerId, 15_000);
      }
    };
    await Promise.all(Array.from({ length: 50 }, opener));
    figures.openSeconds = (performance.now() - start) / 1000;
    const times = peers.map((p) => p.handshakeMs).filter(Number.isFinite);
    figures.handshakeMsMedian = median(times);
    figures.handshakeMsMax = times.length ? Math.max(...times) : undefined;
    note(
      `connections: ${times.length} of ${config.connections} handshaken in ` +
        `${figures.openSeconds.toFixed(2)} s; holding ${config.holdSeconds} s`,
    );
    keepAlive = setInterval(() => {
      for (const p of peers) {
        if (p.outcome === "open") p.conn?.write(new Uint8Array(4)).catch(() => {});
      }
    }, KEEPALIVE_MS);
    const cpu0 = processCpuSeconds(d.pid);
    const holdStart = performance.now();
    const gets: number[] = [];
    let list: TorrentState[] = [];
    while (performance.now() - holdStart < config.holdSeconds * 1000) {
      const t = performance.now();
      list = await torrents(d.rpc, ["id", "name", "status", "peersConnected", "rateUpload"]);
      gets.push(performance.now() - t);
      await delay(500);
    }
    figures.holdCpuPercent = (processCpuSeconds(d.pid) - cpu0) /
      ((performance.now() - holdStart) / 1000) * 100;
    figures.rssHoldingBytes = (await processMemory(d.pid)).rss;
    figures.getMsMedian = median(gets);
    figures.getMsMax = Math.max(...gets);
    figures.daemonPeers = list.reduce((sum, x) => sum + (x.peersConnected ?? 0), 0);
    for (const p of peers) figures.outcomes[p.outcome] = (figures.outcomes[p.outcome] ?? 0) + 1;
    note(
      `connections: after ${config.holdSeconds} s: ` +
        Object.entries(figures.outcomes).map(([k, v]) => `${k} ${v}`).join(", ") +
        `; the daemon counts ${figures.daemonPeers}`,
    );
    if (d.child.exited) throw new BenchError(`the daemon exited: ${d.child.diagnosis()}`);
  } catch (e) {
    figures.failed = messageOf(e);
    failures.push(`connections: ${figures.failed}`);
    note(`connections: FAILED: ${figures.failed}`);
  } finally {
    clearInterval(keepAlive);
    for (const p of peers) {
      if (!p) continue;
      p.closing = true;
      try {
        p.conn?.close();
      } catch {
        // closed already
      }
    }
    await Promise.all(peers.map((p) => p?.drained));
    if (d) {
      await stopDaemon(d, note).catch((e) => {
        failures.push(`connections: ${messageOf(e)}`);
      });
    }
  }
  const title = `connections: ${config.connections} incoming peers over ${config.seedTorrents} ` +
    `seeding torrents (--max-connections ${config.maxConnections} --max-peers ${config.maxPeers})`;
  return {
    name: "connections",
    text: `${title}\n${renderConnectionsTable(figures, config.holdSeconds)}`,
    failures,
  };
}

// ---- case 3: hostile RPC clients ----------------------------------------------------------

/** What the attacker process is told. */
interface AttackPlan {
  port: number;
  sessionId: string;
  slowloris: number;
  slowlorisIntervalMs: number;
  bodyBytes: number;
  floodPerSecond: number;
}

/** What the attacker process reports when stopped. */
export interface AttackReport {
  seconds: number;
  slowloris: {
    opened: number;
    closedByServer: number;
    openAtEnd: number;
    connectErrors: number;
    /** Median seconds a socket lived before the daemon closed it. */
    lifetimeMedian?: number;
  };
  bodies: { sent: number; statuses: Record<string, number>; errors: number };
  flood: { sent: number; statuses: Record<string, number>; errors: number; skipped: number };
  cpuSeconds: number;
}

/** Sends one `torrent-get` every 200 ms (no retry) until stopped; counts and times answers. */
function probe(port: number, sessionId: string): { stop: () => Promise<Probes> } {
  const p: Probes = { sent: 0, ok: 0, throttled: 0, errors: 0, okMs: [] };
  let running = true;
  const loop = (async () => {
    const body = JSON.stringify({
      method: "torrent-get",
      arguments: { fields: ["id", "percentDone", "rateDownload", "peersConnected"] },
    });
    while (running) {
      const t = performance.now();
      p.sent++;
      try {
        const r = await fetch(`http://${LOOPBACK}:${port}${RPC_PATH}`, {
          method: "POST",
          headers: { [SESSION_HEADER]: sessionId },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        await r.arrayBuffer();
        if (r.status === 200) {
          p.ok++;
          p.okMs.push(performance.now() - t);
        } else if (r.status === 429) p.throttled++;
        else p.errors++;
      } catch {
        p.errors++;
      }
      await delay(Math.max(0, PROBE_MS - (performance.now() - t)));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return p;
    },
  };
}

/**
 * How the hostile case's torrent is downloaded: with nothing else running, beside a process
 * that keeps one core busy (what the attacker's own CPU alone costs on a small machine), or
 * under attack.
 */
export type HostileKind = "quiet" | "busy core" | "attacked";

/** One way the hostile case's torrent is downloaded, over its runs. */
export interface HostileRow {
  kind: HostileKind;
  what: string;
  /**
   * Each run's download seconds by the daemon's log: from its opening the torrent's files to
   * the download complete. A poll of ours that the rate limit delays (the flood shares our
   * address) is not in it.
   */
  seconds: number[];
  /** Each run's seconds from our torrent-add to our poll that saw the download complete. */
  rpcSeconds: number[];
  /** Each run's daemon CPU seconds. */
  daemonCpuSeconds: number[];
  /** The well-behaved client's record over every run. */
  probes: Probes;
  failed?: string;
}

/** The well-behaved client's record of one or more runs. */
export interface Probes {
  sent: number;
  ok: number;
  throttled: number;
  errors: number;
  /** Latency of the answered (200) ones, in ms. */
  okMs: number[];
}

/**
 * The hostile table (medians over runs; the well-behaved client's counts summed): the
 * download quiet, beside a busy core and under attack, and the slowdowns: against the quiet
 * download, and against the one beside a busy core (what the attack costs beyond the CPU the
 * attacker itself takes from the machine).
 *
 * @example
 * ```ts
 * import { renderHostileTable } from "./daemon_load.ts";
 * const probes = { sent: 20, ok: 20, throttled: 0, errors: 0, okMs: [2, 5] };
 * const text = renderHostileTable(256 * 1024 ** 2, [
 *   { kind: "quiet", what: "quiet", seconds: [4], rpcSeconds: [4.1], daemonCpuSeconds: [2], probes },
 *   {
 *     kind: "busy core",
 *     what: "beside a busy core",
 *     seconds: [4.4],
 *     rpcSeconds: [4.5],
 *     daemonCpuSeconds: [2],
 *     probes,
 *   },
 *   { kind: "attacked", what: "under attack", seconds: [5], rpcSeconds: [6], daemonCpuSeconds: [3], probes },
 * ]);
 * console.log(text.includes("slowdown under attack: 1.25x (1.14x against a busy core)")); // true
 * ```
 */
export function renderHostileTable(bytes: number, rows: HostileRow[]): string {
  const head = [
    "download",
    "runs",
    "seconds",
    "MB/s",
    "seconds seen over RPC",
    "daemon CPU s",
    "torrent-get sent",
    "200",
    "429",
    "failed",
    "200 ms median",
    "200 ms max",
  ];
  const lines = rows.map((r) => {
    if (r.failed) return [`${r.what}: FAILED: ${oneLine(r.failed)}`];
    const seconds = median(r.seconds), p = r.probes;
    return [
      r.what,
      String(r.seconds.length),
      fmt(seconds, 2),
      fmt(bytes / 1e6 / seconds, 1),
      fmt(median(r.rpcSeconds), 2),
      fmt(median(r.daemonCpuSeconds), 2),
      String(p.sent),
      String(p.ok),
      String(p.throttled),
      String(p.errors),
      fmt(median(p.okMs), 1),
      fmt(p.okMs.length ? Math.max(...p.okMs) : undefined, 1),
    ];
  });
  const out = [textTable(head, lines)];
  const secondsOf = (kind: HostileKind) => {
    const row = rows.find((r) => r.kind === kind && !r.failed);
    return row ? median(row.seconds) : NaN;
  };
  const attacked = secondsOf("attacked");
  const ratio = attacked / secondsOf("quiet"), beyond = attacked / secondsOf("busy core");
  if (Number.isFinite(ratio)) {
    const busy = Number.isFinite(beyond) ? ` (${beyond.toFixed(2)}x against a busy core)` : "";
    out.push(`slowdown under attack: ${ratio.toFixed(2)}x${busy}`);
  }
  return out.join("\n");
}

/**
 * The seconds from the first torrent's files opened ("checking data") to its "download
 * complete", by the timestamps of the daemon's log in `dir`; undefined without both lines.
 */
async function loggedDownloadSeconds(dir: string): Promise<number | undefined> {
  let text = "";
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.endsWith(".log")) text += await Deno.readTextFile(`${dir}/${entry.name}`);
  }
  const at = (what: string) => {
    const line = text.split("\n").find((l) => l.includes(what));
    return line === undefined ? NaN : Date.parse(line.split(" ")[0]);
  };
  const seconds = (at("download complete") - at("checking data")) / 1000;
  return Number.isFinite(seconds) ? seconds : undefined;
}

/** Two attack reports as one (counts summed, the median lifetime of the later one). */
function mergeAttacks(a: AttackReport | undefined, b: AttackReport): AttackReport {
  if (!a) return b;
  const add = (x: Record<string, number>, y: Record<string, number>) => {
    const out = { ...x };
    for (const [k, v] of Object.entries(y)) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  return {
    seconds: a.seconds + b.seconds,
    cpuSeconds: a.cpuSeconds + b.cpuSeconds,
    slowloris: {
      opened: a.slowloris.opened + b.slowloris.opened,
      closedByServer: a.slowloris.closedByServer + b.slowloris.closedByServer,
      openAtEnd: a.slowloris.openAtEnd + b.slowloris.openAtEnd,
      connectErrors: a.slowloris.connectErrors + b.slowloris.connectErrors,
      lifetimeMedian: b.slowloris.lifetimeMedian ?? a.slowloris.lifetimeMedian,
    },
    bodies: {
      sent: a.bodies.sent + b.bodies.sent,
      statuses: add(a.bodies.statuses, b.bodies.statuses),
      errors: a.bodies.errors + b.bodies.errors,
    },
    flood: {
      sent: a.flood.sent + b.flood.sent,
      statuses: add(a.flood.statuses, b.flood.statuses),
      errors: a.flood.errors + b.flood.errors,
      skipped: a.flood.skipped + b.flood.skipped,
    },
  };
}

function describeAttack(
  a: AttackReport,
  runs: number,
  plan: Omit<AttackPlan, "port" | "sessionId">,
): string {
  const rate = (n: number) => (n / a.seconds).toFixed(0);
  const statuses = (s: Record<string, number>) =>
    Object.entries(s).map(([k, v]) => `${k}: ${v}`).join(", ") || "none";
  const sl = a.slowloris;
  const lifetime = sl.lifetimeMedian === undefined
    ? ""
    : ` (after ${sl.lifetimeMedian.toFixed(1)} s median)`;
  return [
    `the attack, over ${runs} run(s): ${a.seconds.toFixed(1)} s in all, attacker CPU ` +
    `${a.cpuSeconds.toFixed(2)} s`,
    `  slowloris, ${plan.slowloris} sockets (a byte every ${plan.slowlorisIntervalMs / 1000} s): ` +
    `${sl.opened} opened, ${sl.closedByServer} closed by the daemon${lifetime}, ` +
    `${sl.openAtEnd} still open at the end, ${sl.connectErrors} connects failed`,
    `  ${formatSize(plan.bodyBytes)} bodies: ${a.bodies.sent} sent (${rate(a.bodies.sent)}/s), ` +
    `answers ${statuses(a.bodies.statuses)}, ${a.bodies.errors} without an answer`,
    `  session-get flood at ${plan.floodPerSecond}/s: ${a.flood.sent} sent ` +
    `(${rate(a.flood.sent)}/s), answers ${statuses(a.flood.statuses)}, ${a.flood.errors} ` +
    `failed, ${a.flood.skipped} not sent (256 in flight already)`,
  ].join("\n");
}

/** What every run of the hostile case works on. */
interface HostileCtx {
  config: LoadConfig;
  work: string;
  data: string;
  torrent: MadeTorrent;
  plan: Omit<AttackPlan, "port" | "sessionId">;
  note: (line: string) => void;
}

/**
 * One download by a fresh daemon, with the well-behaved client probing and, as the row's kind
 * says, a busy loop or the attacker process running from before the `torrent-add` until the
 * end; verified after the daemon stopped. The attack's report when there was one.
 */
async function hostileRun(ctx: HostileCtx, row: HostileRow): Promise<AttackReport | undefined> {
  const { config, note } = ctx;
  const out = `${ctx.work}/h-out`;
  await Deno.mkdir(out, { recursive: true });
  await sync();
  let attacker: Child | undefined, busy: Child | undefined;
  let report: AttackReport | undefined;
  try {
    const d = await startDaemon(ctx.work, `${row.kind} daemon`, out, [], config);
    let rpcSeconds: number | undefined;
    try {
      const sessionId = await sessionIdOf(d.rpcPort);
      let attackerPid = 0, attackerCpu0 = 0;
      if (row.kind === "busy core") {
        busy = await spawnChild("busy loop", {
          cmd: Deno.execPath(),
          args: ["eval", "console.log('BUSY'); for (;;);"],
        });
        await busy.waitForLine((l) => l === "BUSY", 30_000, "the busy loop");
      }
      if (row.kind === "attacked") {
        const plan: AttackPlan = { ...ctx.plan, port: d.rpcPort, sessionId };
        attacker = await spawnChild("attacker", {
          cmd: Deno.execPath(),
          args: [...OUR_RUN, SELF, "--attacker", JSON.stringify(plan)],
          stdin: true,
        });
        await attacker.waitForLine((l) => l === "ATTACKING", 30_000, "the attacker");
        attackerPid = await daemonPid(attacker);
        attackerCpu0 = processCpuSeconds(attackerPid);
        // The rate limit's burst lets the first thousands through: wait until it bites.
        // A daemon that dies of the attack ends the wait at once.
        const died = d.child.status.then(() => {
          throw new BenchError(`${d.name} exited under attack: ${d.child.diagnosis()}`);
        });
        died.catch(() => {});
        await Promise.race([
          died,
          config.waitThrottled
            ? attacker.waitForLine((l) => l === "THROTTLED", 30_000, "the flood's first 429")
            : delay(500),
        ]);
      }
      const probes = probe(d.rpcPort, sessionId);
      const cpu0 = processCpuSeconds(d.pid);
      const start = performance.now();
      try {
        await d.rpc.call("torrent-add", { metainfo: ctx.torrent.base64, "download-dir": out });
        await waitComplete(d, 1, config.timeoutSec * 1000, note);
        rpcSeconds = (performance.now() - start) / 1000;
        row.daemonCpuSeconds.push(processCpuSeconds(d.pid) - cpu0);
      } finally {
        const p = await probes.stop();
        row.probes.sent += p.sent;
        row.probes.ok += p.ok;
        row.probes.throttled += p.throttled;
        row.probes.errors += p.errors;
        row.probes.okMs.push(...p.okMs);
      }
      if (attacker) {
        const cpuSeconds = processCpuSeconds(attackerPid) - attackerCpu0;
        await attacker.send("stop");
        const line = await attacker.waitForLine(
          (l) => l.startsWith("{"),
          30_000,
          "the attacker's report",
        );
        report = { ...JSON.parse(line), cpuSeconds };
        await attacker.finish(10_000, "the attacker");
      }
      if (d.child.exited) throw new BenchError(`${d.name} exited: ${d.child.diagnosis()}`);
    } finally {
      await stopDaemon(d, note);
    }
    // The log is whole once the daemon has stopped.
    const logged = await loggedDownloadSeconds(`${d.dir}/logs`);
    if (logged === undefined) throw new BenchError(`${d.name}: no download in its log`);
    row.seconds.push(logged);
    row.rpcSeconds.push(rpcSeconds!);
    const wrong = await firstDifference([[`${out}/h.bin`, `${ctx.data}/h.bin`]]);
    if (wrong) throw new BenchError(`WRONG DATA: ${wrong}`);
    return report;
  } finally {
    await attacker?.stop();
    await busy?.stop();
    await Deno.remove(out, { recursive: true }).catch(() => {});
  }
}

async function runHostile(
  config: LoadConfig,
  work: string,
  note: (line: string) => void,
): Promise<CaseResult> {
  const failures: string[] = [];
  const data = `${work}/h-data`;
  const newRow = (kind: HostileKind, what: string): HostileRow => ({
    kind,
    what,
    seconds: [],
    rpcSeconds: [],
    daemonCpuSeconds: [],
    probes: { sent: 0, ok: 0, throttled: 0, errors: 0, okMs: [] },
  });
  const rows = [
    newRow("quiet", "quiet"),
    newRow("busy core", "beside a busy core"),
    newRow("attacked", "under attack"),
  ];
  const plan = {
    slowloris: config.slowloris,
    slowlorisIntervalMs: config.slowlorisIntervalMs,
    bodyBytes: config.bodyBytes,
    floodPerSecond: config.floodPerSecond,
  };
  let attack: AttackReport | undefined;
  let seeder: Seeder | undefined;
  let stopTracker = () => Promise.resolve();
  try {
    let t = performance.now();
    await makePayload(data, { files: [{ path: "h.bin", size: config.size }], seed: 20240602 });
    const made = await makeTorrents([`${data}/h.bin`], `${work}/h-torrents`, config.pieceLength);
    stopTracker = made.stopTracker;
    const ctx: HostileCtx = { config, work, data, torrent: made.torrents[0], plan, note };
    note(`hostile: ${formatSize(config.size)} payload and torrent in ${secs(t)} s`);
    t = performance.now();
    seeder = await startSeeder("seeder h.bin", ctx.torrent.path, data, config.timeoutSec * 1000);
    note(`hostile: libtorrent seeder ready in ${secs(t)} s`);
    for (let run = 1; run <= config.runs; run++) {
      for (const row of rows) {
        if (row.failed) continue;
        try {
          const report = await hostileRun(ctx, row);
          if (report) attack = mergeAttacks(attack, report);
          note(
            `hostile: run ${run}/${config.runs} ${row.what}: ${row.seconds.at(-1)?.toFixed(2)} s` +
              ", verified",
          );
        } catch (e) {
          row.failed = messageOf(e);
          failures.push(`hostile / ${row.what}: ${row.failed}`);
          note(`hostile: run ${run}/${config.runs} ${row.what}: FAILED: ${row.failed}`);
        }
      }
    }
  } catch (e) {
    failures.push(`hostile: ${messageOf(e)}`);
    rows.push({ ...newRow("quiet", "setup"), failed: messageOf(e) });
  } finally {
    await seeder?.child.stop();
    await stopTracker();
    await Deno.remove(data, { recursive: true }).catch(() => {});
  }
  const title = `hostile: ${formatSize(config.size)} from one libtorrent seeder by a fresh ` +
    `daemon, quiet, beside a busy core and under attack, ${config.runs} run(s) each; a ` +
    "well-behaved client's " +
    "torrent-get every 200 ms meanwhile (one try each, counts over every run)";
  const text = [title, renderHostileTable(config.size, rows)];
  if (attack) text.push(describeAttack(attack, config.runs, plan));
  return { name: "hostile", text: text.join("\n"), failures };
}

// ---- the attacker process -----------------------------------------------------------------

/**
 * The hostile clients, run in a process of their own (so their work does not slow the
 * benchmark's own timing): slowloris sockets, oversized bodies and a `session-get` flood
 * against `plan.port`, until stdin says `stop` (or closes); then one JSON line of counts.
 * Prints `ATTACKING` once everything is started and `THROTTLED` at the flood's first 429.
 */
async function runAttacker(plan: AttackPlan): Promise<void> {
  const url = `http://${LOOPBACK}:${plan.port}${RPC_PATH}`;
  const started = performance.now();
  let stopped = false;
  let stop!: () => void;
  const stopping = new Promise<void>((resolve) => stop = resolve);
  const report: Omit<AttackReport, "cpuSeconds"> = {
    seconds: 0,
    slowloris: { opened: 0, closedByServer: 0, openAtEnd: 0, connectErrors: 0 },
    bodies: { sent: 0, statuses: {}, errors: 0 },
    flood: { sent: 0, statuses: {}, errors: 0, skipped: 0 },
  };
  const count = (s: Record<string, number>, status: number) => s[status] = (s[status] ?? 0) + 1;

  // Slowloris: a request line and Host, then a header that gets a byte every interval.
  const open = new Set<Deno.TcpConn>();
  const lifetimes: number[] = [];
  const enc = new TextEncoder();
  const head = enc.encode(
    `POST ${RPC_PATH} HTTP/1.1\r\nHost: ${LOOPBACK}:${plan.port}\r\nX-Slow: `,
  );
  const slow = async (i: number) => {
    await Promise.race([delay((i / plan.slowloris) * 1000), stopping]);
    while (!stopped) {
      let conn: Deno.TcpConn;
      try {
        conn = await Deno.connect({ hostname: LOOPBACK, port: plan.port });
      } catch {
        report.slowloris.connectErrors++;
        await Promise.race([delay(500), stopping]);
        continue;
      }
      report.slowloris.opened++;
      open.add(conn);
      const since = performance.now();
      const closed = (async () => {
        const buf = new Uint8Array(4096);
        try {
          while (await conn.read(buf) !== null) { /* an answer (408, 400): read on to the end */ }
        } catch {
          // reset
        }
      })();
      let closedByServer = false;
      closed.then(() => closedByServer = !stopped);
      try {
        await conn.write(head);
        while (!stopped && !closedByServer) {
          await Promise.race([delay(plan.slowlorisIntervalMs), stopping, closed]);
          if (stopped || closedByServer) break;
          await conn.write(enc.encode("a"));
        }
      } catch {
        closedByServer = !stopped;
      }
      if (closedByServer) {
        report.slowloris.closedByServer++;
        lifetimes.push((performance.now() - since) / 1000);
      }
      open.delete(conn);
      try {
        conn.close();
      } catch {
        // closed already
      }
      await closed;
    }
  };
  const slowTasks = Array.from({ length: plan.slowloris }, (_, i) => slow(i));

  // Oversized bodies in three loops at once: declared (Content-Length), chunked, and declared
  // and written whole before the answer is read (a client that does not watch for an early
  // one). Each answer's status is counted; a connection reset before one is an error.
  const big = new Uint8Array(plan.bodyBytes).fill(0x20);
  const postWhole = async (): Promise<number> => {
    const conn = await Deno.connect({ hostname: LOOPBACK, port: plan.port });
    try {
      const head = new TextEncoder().encode(
        `POST ${RPC_PATH} HTTP/1.1\r\nHost: ${LOOPBACK}:${plan.port}\r\n` +
          `${SESSION_HEADER}: ${plan.sessionId}\r\nContent-Length: ${big.length}\r\n\r\n`,
      );
      for (const bytes of [head, big]) {
        for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
      }
      const answer = new Uint8Array(64);
      const n = await conn.read(answer);
      const text = new TextDecoder().decode(answer.subarray(0, n ?? 0));
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      if (!status) throw new Error("no answer");
      return Number(status[1]);
    } finally {
      conn.close();
    }
  };
  const postFetched = async (chunked: boolean): Promise<number> => {
    const body = chunked
      ? new ReadableStream<Uint8Array>({
        start(c) {
          for (let off = 0; off < big.length; off += 64 * 1024) {
            c.enqueue(big.subarray(off, off + 64 * 1024));
          }
          c.close();
        },
      })
      : big;
    const r = await fetch(url, {
      method: "POST",
      headers: { [SESSION_HEADER]: plan.sessionId, "Content-Type": "application/json" },
      body,
      signal: AbortSignal.timeout(30_000),
    });
    await r.arrayBuffer();
    return r.status;
  };
  const posters = [() => postFetched(false), () => postFetched(true), postWhole];
  const bodies = Promise.all(posters.map(async (post) => {
    while (!stopped && plan.bodyBytes > 0) {
      report.bodies.sent++;
      try {
        count(report.bodies.statuses, await post());
      } catch {
        report.bodies.errors++;
        await Promise.race([delay(10), stopping]);
      }
    }
  }));

  // The flood: paced to the rate, at most 256 in flight.
  let inFlight = 0, throttled = false;
  const floodBody = JSON.stringify({ method: "session-get" });
  const floodStart = performance.now();
  const fire = () => {
    inFlight++;
    report.flood.sent++;
    fetch(url, { method: "POST", headers: { [SESSION_HEADER]: plan.sessionId }, body: floodBody })
      .then(async (r) => {
        await r.arrayBuffer();
        count(report.flood.statuses, r.status);
        if (r.status === 429 && !throttled) {
          throttled = true;
          console.log("THROTTLED");
        }
      })
      .catch(() => report.flood.errors++)
      .finally(() => inFlight--);
  };
  let due = 0;
  const flood = setInterval(() => {
    const target = Math.floor((performance.now() - floodStart) / 1000 * plan.floodPerSecond);
    for (; due < target; due++) {
      if (inFlight >= 256) report.flood.skipped++;
      else fire();
    }
  }, 5);
  console.log("ATTACKING");

  // Until told to stop.
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of Deno.stdin.readable) {
    text += decoder.decode(chunk, { stream: true });
    if (text.includes("stop")) break;
  }
  stopped = true;
  stop();
  clearInterval(flood);
  report.seconds = (performance.now() - started) / 1000;
  report.slowloris.openAtEnd = open.size;
  for (const conn of open) {
    try {
      conn.close();
    } catch {
      // closed already
    }
  }
  await Promise.race([Promise.all([...slowTasks, bodies]), delay(5000)]);
  lifetimes.sort((a, b) => a - b);
  if (lifetimes.length) report.slowloris.lifetimeMedian = median(lifetimes);
  console.log(JSON.stringify(report));
}

// ---- the whole run ------------------------------------------------------------------------

let workDir: string | undefined;

/**
 * Runs the configured cases in order (each one's failure is its own) and returns their
 * results. `note` receives progress lines.
 */
export async function runLoad(
  config: LoadConfig,
  note: (line: string) => void = () => {},
): Promise<CaseResult[]> {
  const needsSwarm = config.cases.some((c) => c !== "connections");
  if (needsSwarm && !await hasTool("libtorrent")) {
    throw new BenchError(`the throughput and hostile cases need python3-libtorrent (${PYTHON})`);
  }
  if (needsSwarm && !await hasTool("opentracker")) {
    throw new BenchError("the throughput and hostile cases need opentracker");
  }
  if (config.nofile !== undefined && !await isExecutable(PRLIMIT)) {
    throw new BenchError(`--nofile needs ${PRLIMIT} (util-linux)`);
  }
  const work = await Deno.makeTempDir({ dir: config.tmpDir, prefix: "bt-daemon-load-" });
  workDir = work;
  try {
    const t = performance.now();
    await cacheOurModules(SELF);
    note(`deno cache in ${secs(t)} s`);
    const results: CaseResult[] = [];
    for (const c of config.cases) {
      const run = c === "throughput"
        ? runThroughput
        : c === "connections"
        ? runConnections
        : runHostile;
      const caseStart = performance.now();
      note(`-- ${c}`);
      results.push(await run(config, work, note));
      note(`-- ${c} took ${secs(caseStart)} s`);
    }
    return results;
  } finally {
    workDir = undefined;
    if (config.keep) note(`kept ${work}`);
    else await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

const USAGE = `deno run --allow-all tests/bench/daemon_load.ts [options]

  --case LIST          cases, comma list of ${ALL_CASES.join(",")} (default: all)
  --size SIZE          each torrent of throughput and hostile (default 256M)
  --piece SIZE         their piece length (default 256K)
  --torrents N         torrents the daemon downloads at once (default 4)
  --no-sequential      skip the throughput row of one download after another
  --seed-torrents N    torrents the daemon seeds in the connections case (default 10)
  --connections N      incoming peer connections (default 500)
  --hold SEC           seconds they are held (default 10)
  --max-connections N  the daemon's --max-connections there (default 1000)
  --max-peers N        the daemon's --max-peers there (default 60)
  --slowloris N        slowloris sockets (default 200; 0: none)
  --body SIZE          bytes of each oversized body (default 10M, i.e. 10 MiB; 0: none)
  --flood N            session-get requests a second (default 1000; 0: none)
  --runs N             repeats of every timed download (default 3)
  --nofile N           run every daemon under prlimit with N open files at most (a
                       service manager's default is 1024; default: this shell's)
  --profile            run every daemon under --cpu-prof; its top functions to stderr
  --timeout SEC        seconds one download may take (default 120 + 1 per 2 MB)
  --smoke              tiny versions of every case (a quick check)
  --tmp DIR            parent of the work folder (default: system temp)
  --keep               keep the work folder
  -h, --help           this text`;

/**
 * Turns command-line flags into a configuration (`"help"` for `-h`); a {@link BenchError} for
 * bad ones.
 *
 * @example
 * ```ts
 * import { loadConfigFromArgs } from "./daemon_load.ts";
 * const c = loadConfigFromArgs(["--case", "hostile", "--flood", "200"]);
 * console.log(c !== "help" && c.cases, c !== "help" && c.floodPerSecond); // [ "hostile" ] 200
 * ```
 */
export function loadConfigFromArgs(args: string[]): LoadConfig | "help" {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      case: { type: "string" },
      size: { type: "string" },
      piece: { type: "string" },
      torrents: { type: "string" },
      "no-sequential": { type: "boolean" },
      "seed-torrents": { type: "string" },
      connections: { type: "string" },
      hold: { type: "string" },
      "max-connections": { type: "string" },
      "max-peers": { type: "string" },
      slowloris: { type: "string" },
      body: { type: "string" },
      flood: { type: "string" },
      runs: { type: "string" },
      nofile: { type: "string" },
      profile: { type: "boolean" },
      timeout: { type: "string" },
      smoke: { type: "boolean" },
      tmp: { type: "string" },
      keep: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const smoke = values.smoke ?? false;
  const cases = listFlag(values.case, ALL_CASES, "case") ?? [...ALL_CASES];
  const size = values.size !== undefined ? parseSize(values.size) : smoke ? 4 << 20 : 256 << 20;
  const pieceLength = values.piece !== undefined
    ? parseSize(values.piece)
    : smoke
    ? 64 << 10
    : 256 << 10;
  if (pieceLength < 16384 || (pieceLength & (pieceLength - 1)) !== 0) {
    throw new BenchError("--piece must be a power of two of at least 16K");
  }
  if (size < pieceLength) throw new BenchError("--size must be at least one piece");
  const bodyBytes = values.body !== undefined ? parseSize(values.body) : 10 << 20;
  if (bodyBytes > 1 << 30) throw new BenchError("--body must be at most 1G (0: none)");
  const torrents = intFlag(values.torrents, "torrents", 1, 32) ?? 4;
  const floodPerSecond = intFlag(values.flood, "flood", 0, 100_000) ?? 1000;
  return {
    cases,
    size,
    pieceLength,
    torrents,
    sequential: !(values["no-sequential"] ?? smoke),
    seedTorrents: intFlag(values["seed-torrents"], "seed-torrents", 1, 1000) ?? (smoke ? 3 : 10),
    connections: intFlag(values.connections, "connections", 1, 20_000) ?? (smoke ? 90 : 500),
    holdSeconds: intFlag(values.hold, "hold", 1, 3600) ?? (smoke ? 2 : 10),
    maxConnections: intFlag(values["max-connections"], "max-connections", 1, 100_000) ?? 1000,
    maxPeers: intFlag(values["max-peers"], "max-peers", 1, 1000) ?? 60,
    slowloris: intFlag(values.slowloris, "slowloris", 0, 10_000) ?? (smoke ? 20 : 200),
    slowlorisIntervalMs: smoke ? 500 : 3000,
    bodyBytes,
    floodPerSecond,
    waitThrottled: !smoke && floodPerSecond > 0,
    runs: intFlag(values.runs, "runs", 1, 100) ?? (smoke ? 1 : 3),
    nofile: intFlag(values.nofile, "nofile", 64, 1 << 20),
    profile: values.profile ?? false,
    timeoutSec: intFlag(values.timeout, "timeout", 1, 86_400) ??
      Math.ceil(120 + torrents * size / 2e6),
    tmpDir: values.tmp,
    keep: values.keep ?? false,
  };
}

async function main(args: string[]): Promise<number> {
  if (args[0] === "--attacker") {
    await runAttacker(JSON.parse(args[1]) as AttackPlan);
    return 0;
  }
  let config: LoadConfig | "help";
  try {
    config = loadConfigFromArgs(args);
  } catch (e) {
    console.error(`daemon_load: ${messageOf(e)}\n\n${USAGE}`);
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
    console.error("daemon_load: interrupted; stopping every process");
    Promise.all([stopAllChildren(), ...[...cleanups].map((c) => c())])
      .then(() => workDir === undefined ? undefined : Deno.remove(workDir, { recursive: true }))
      .catch(() => {})
      .finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const started = performance.now();
  let results: CaseResult[];
  try {
    results = await runLoad(config, (line) => console.error(line));
  } catch (e) {
    console.error(`daemon_load: ${messageOf(e)}`);
    return 1;
  }
  console.log(results.map((r) => r.text).join("\n\n"));
  const failures = results.flatMap((r) => r.failures);
  console.error(`daemon_load: done in ${secs(started)} s; ${failures.length} failures`);
  for (const f of failures) console.error(`  ${f}`);
  return failures.length ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
