/**
 * The benchmark itself: make a payload and its torrent, start a tracker and seeders on
 * 127.0.0.1, download with our client and every installed reference client, verify each result
 * byte for byte, and report medians over repeated runs.
 *
 * Seeder groups: each group is N seeders of one kind (`libtorrent` or `ours`) behind a fresh
 * tracker on the same port, so every downloader of a group sees exactly those seeders. Within a
 * run the clients download one after another; runs repeat that order. Timing figures never fail
 * the benchmark; a wrong, failed or timed-out download does.
 *
 * Seeders run in `lt_seeders.py` / `our_seeders.ts` processes (one seeder each up to 8, else
 * spread over 4 processes), which take `connect HOST:PORT` on stdin: Transmission ignores
 * loopback peers from trackers, and a swarm of hundreds is bigger than a tracker answer, so in
 * those cases the seeders dial the downloader (and, with hundreds, stay off the tracker).
 *
 * @module
 */
import { startTracker, type TrackerServer } from "../../src/tracker/mod.ts";
import {
  ARIA2_COMMON as FIXTURE_ARIA2_COMMON,
  delay,
  filesEqual,
  hasTool,
  infoHashHex,
  libtorrentCreate,
  LT_CLIENT,
  mktorrent,
  PYTHON,
  tcpAccepts,
  udpPortFree,
} from "../interop/fixtures.ts";
import { makePayload, type PayloadFile } from "../../testdata/payload.ts";
import { createTorrentFromPath } from "../../src/metainfo/mod.ts";
import {
  BenchError,
  type Child,
  type CommandSpec,
  processCpuSeconds,
  runMeasured,
  spawnChild,
} from "./proc.ts";
import { formatSize, renderTable, type Row, type RunFigures } from "./report.ts";
import { startUdpRelay } from "../udp_relay.ts";
import { summarizeCpuProfile } from "./profile.ts";
import { compileRunFlags, MAIN_TS, REPO_ROOT } from "../compile_task.ts";

/** A downloader the benchmark can drive. */
export type ClientName = "ours" | "libtorrent" | "aria2" | "transmission";
/** A kind of seeder. */
export type SeederKind = "libtorrent" | "ours" | "web";

/** Every downloader, in table order. */
export const ALL_CLIENTS: readonly ClientName[] = ["ours", "libtorrent", "aria2", "transmission"];
/** Every seeder kind. */
export const ALL_SEEDER_KINDS: readonly SeederKind[] = ["libtorrent", "ours", "web"];

/** What one benchmark case runs. */
export interface BenchConfig {
  /** Label printed above the tables. */
  caseName: string;
  /** Payload bytes in total. */
  size: number;
  /** Piece length in bytes (a power of two from 16 KiB). */
  pieceLength: number;
  /** 1: a single-file torrent; more: a folder of that many files. */
  files: number;
  /** Seeders per group. */
  seeders: number;
  /** Seeder groups to run, in order. */
  seederKinds: SeederKind[];
  /** Downloaders, in table order. */
  clients: ClientName[];
  /** Repeats of every download; tables show medians. */
  runs: number;
  /** Seconds one download may take before it counts as failed; default from the size. */
  timeoutSec?: number;
  /** Upload limit of each seeder in bytes/s (0: none). */
  seederUploadRate?: number;
  /** Make every seeder dial each downloader (swarms bigger than one tracker answer). */
  dialDownloader?: boolean;
  /** Seeders take encrypted (MSE with RC4) connections only; downloaders use their defaults. */
  encryptedSeeders?: boolean;
  /** libtorrent, seeding or downloading, speaks uTP only (no TCP either way); ours as ever. */
  utpOnly?: boolean;
  /**
   * Every download crosses a lossy UDP relay in front of the downloader (the seeders dial it):
   * this delay each way, and this share of datagrams dropped.
   */
  relay?: { delayMs: number; loss: number };
  /** Peer connection limit given to downloaders that have one. */
  downloaderMaxPeers?: number;
  /** One extra, untimed download by our client under `--cpu-prof`, summarised. */
  profile?: boolean;
  /** Parent of the temporary work folder. Default: the system temp folder. */
  tmpDir?: string;
  /** Keep the work folder (payload, torrent, logs) instead of deleting it. */
  keep?: boolean;
  /** `v1` (default, by mktorrent), or `v2` / `hybrid` (BEP 52, made by libtorrent). */
  torrentVersion?: "v1" | "v2" | "hybrid";
}

/** Where the `web` seeder kind serves the payload; the torrent's `url-list` names it. */
function webSeedUrl(port: number): string {
  return `http://${LOOPBACK}:${port}/`;
}

/** What a benchmark run produced. */
export interface BenchResult {
  /** Rendered tables, one per seeder group, plus profile summaries. */
  text: string[];
  /** Every table's rows, keyed by seeder kind. */
  groups: { seederKind: SeederKind; rows: Row[] }[];
  /** One line per wrong, failed or timed-out download; empty when all were right. */
  failures: string[];
}

/**
 * How our processes run: as the executable does, with the V8 flags and code cache choice of the
 * `compile` task and each module loaded at its first import (`compileRunFlags`).
 */
export const OUR_RUN = ["run", "-A", ...compileRunFlags()];

/**
 * Compiles our modules (and `also`) into Deno's cache once, so no timed start pays for it, as
 * the executable, compiled ahead, does not.
 */
export async function cacheOurModules(...also: string[]): Promise<void> {
  await new Deno.Command(Deno.execPath(), {
    args: ["cache", MAIN_TS, ...also],
    cwd: REPO_ROOT,
    stdout: "null",
    stderr: "null",
  }).output();
}
const OUR_SEEDERS = decodeURIComponent(new URL("./our_seeders.ts", import.meta.url).pathname);
const LT_SEEDERS = decodeURIComponent(new URL("./lt_seeders.py", import.meta.url).pathname);
const WEB_SEEDER = decodeURIComponent(new URL("./web_seeder.ts", import.meta.url).pathname);
const LOOPBACK = "127.0.0.1";

/** The fixtures' aria2 flags, with its DHT off: the benchmark never uses a UDP tracker. */
const ARIA2_COMMON = [...FIXTURE_ARIA2_COMMON, "--enable-dht=false"];

/** Which reference programs are installed, for choosing clients and seeder kinds. */
export async function installedClients(): Promise<Set<ClientName>> {
  const have = new Set<ClientName>(["ours"]);
  if (await hasTool("libtorrent")) have.add("libtorrent");
  if (await hasTool("aria2c")) have.add("aria2");
  if (await hasTool("transmission-cli")) have.add("transmission");
  return have;
}

/** The payload's files: one file, or `count` files of uneven sizes summing to `size`. */
export function payloadFiles(size: number, count: number): { root: string; files: PayloadFile[] } {
  if (count <= 1) return { root: "payload.bin", files: [{ path: "payload.bin", size }] };
  const files: PayloadFile[] = [];
  // Uneven sizes so pieces straddle file boundaries: weights 1..count, remainder to the last.
  const weights = count * (count + 1) / 2;
  let left = size;
  for (let i = 0; i < count; i++) {
    const n = i === count - 1 ? left : Math.floor(size * (i + 1) / weights);
    files.push({ path: `payload/d${i % 3}/f${String(i).padStart(3, "0")}.bin`, size: n });
    left -= n;
  }
  return { root: "payload", files };
}

function log2(n: number): number {
  return Math.round(Math.log2(n));
}

/** Makes the benchmark's torrent; returns the info-hash peers and the tracker know it by. */
async function makeTorrent(
  source: string,
  out: string,
  announce: string,
  pieceLength: number,
  version: "v1" | "v2" | "hybrid",
  webSeeds: string[],
): Promise<string> {
  if (version !== "v1") {
    const { v1, v2 } = await libtorrentCreate({
      source,
      out,
      pieceLength,
      version,
      announce: [announce],
      webSeeds,
    });
    // A v2-only torrent goes by the first 20 bytes of its SHA-256 info-hash.
    return v1 ?? v2!.slice(0, 40);
  }
  const exp = log2(pieceLength);
  if (2 ** exp === pieceLength && exp >= 15 && exp <= 28 && await hasTool("mktorrent")) {
    await mktorrent({ source, out, announce: [announce], pieceLengthExp: exp, webSeeds });
  } else {
    const bytes = await createTorrentFromPath(source, {
      pieceLength,
      announce: [[announce]],
      urlList: webSeeds,
      creationDate: null,
      version: "v1",
    });
    await Deno.writeFile(out, bytes);
  }
  return await infoHashHex(out);
}

/** One seeder process, hosting one or more seeders (one per port). */
interface SeederProc {
  child: Child;
  ports: number[];
}

interface Ctx {
  config: BenchConfig;
  work: string;
  data: string;
  torrent: string;
  infoHash: string;
  trackerPort: number;
  /** Port of the `web` seeder kind (the torrent's url-list names it). */
  webPort: number;
  timeoutMs: number;
  note: (line: string) => void;
  /** The payload's files, paths relative to `data`. */
  files: PayloadFile[];
}

function defaultTimeoutSec(size: number): number {
  return Math.ceil(120 + size / 2e6); // 2 MB/s would be a very slow machine
}

/** Seeders per process: one each (independent CPUs) up to 8; beyond, spread over 4 processes. */
function splitSeeders(count: number): number[] {
  if (count <= 8) return Array.from({ length: count }, () => 1);
  const procs = 4;
  return Array.from(
    { length: procs },
    (_, i) => Math.floor(count / procs) + (i < count % procs ? 1 : 0),
  );
}

async function startSeederProc(
  ctx: Ctx,
  kind: SeederKind,
  index: number,
  count: number,
  profileDir?: string,
): Promise<SeederProc> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await benchPort());
  const rate = ctx.config.seederUploadRate ?? 0;
  const portArgs = ports.flatMap((p) => ["--port", String(p)]);
  // Seeders that dial every downloader stay off the tracker: hundreds of seeders that learn
  // of each other there would spend the machine on connections among themselves.
  if (seedersDial(ctx.config)) portArgs.push("--tracker-off");
  let spec: CommandSpec;
  if (kind === "web") {
    const args = [...OUR_RUN, WEB_SEEDER, "--data", ctx.data, "--port", String(ctx.webPort)];
    spec = { cmd: Deno.execPath(), args, stdin: true };
  } else if (kind === "libtorrent") {
    const args = [LT_SEEDERS, "--torrent", ctx.torrent, "--data", ctx.data, ...portArgs];
    if (rate > 0) args.push("--upload-rate", String(rate));
    if (ctx.config.encryptedSeeders) args.push("--encryption", "forced");
    if (ctx.config.utpOnly) args.push("--transport", "utp");
    // Many seeders would hash the payload once each: let libtorrent verify on first upload.
    if (ctx.config.seeders > 8) args.push("--seed-mode");
    spec = { cmd: PYTHON, args, env: { PYTHONUNBUFFERED: "1" }, stdin: true };
  } else {
    const args = [...OUR_RUN];
    if (profileDir) args.push("--cpu-prof", `--cpu-prof-dir=${profileDir}`);
    args.push(OUR_SEEDERS, "--torrent", ctx.torrent, "--data", ctx.data, ...portArgs);
    if (rate > 0) args.push("--upload-rate", String(rate));
    if (ctx.config.encryptedSeeders) args.push("--encrypted-only");
    spec = { cmd: Deno.execPath(), args, stdin: true };
  }
  const child = await spawnChild(`${kind} seeders #${index} (${count})`, spec);
  try {
    await child.waitForLine((l) => l.startsWith("READY "), ctx.timeoutMs, child.name);
  } catch (e) {
    await child.stop();
    throw e;
  }
  return { child, ports };
}

async function startSeeders(
  ctx: Ctx,
  kind: SeederKind,
  tracker: TrackerServer,
  profileDir?: string,
): Promise<SeederProc[]> {
  const procs: SeederProc[] = [];
  // One web server is the web seed, however many seeders the case names.
  const split = kind === "web" ? [1] : splitSeeders(ctx.config.seeders);
  const started = await Promise.allSettled(
    split.map((n, i) => startSeederProc(ctx, kind, i, n, profileDir)),
  );
  for (const s of started) if (s.status === "fulfilled") procs.push(s.value);
  try {
    const bad = started.find((s) => s.status === "rejected");
    if (bad && bad.status === "rejected") throw bad.reason;
    const end = performance.now() + ctx.timeoutMs;
    const announced = seedersDial(ctx.config) || kind === "web" ? 0 : ctx.config.seeders;
    while (tracker.swarm(ctx.infoHash).complete < announced) {
      const dead = procs.find((s) => s.child.exited);
      if (dead) throw new BenchError(`seeder exited: ${dead.child.diagnosis()}`);
      if (performance.now() > end) {
        throw new BenchError(
          `only ${tracker.swarm(ctx.infoHash).complete} of ${ctx.config.seeders} seeders ` +
            "announced to the tracker",
        );
      }
      await delay(100);
    }
  } catch (e) {
    await Promise.all(procs.map((p) => p.child.stop()));
    throw e;
  }
  return procs;
}

const handedOut = new Set<number>();
let ephemeralLow: number | undefined;

/**
 * A port on 127.0.0.1 free for TCP and UDP, drawn below the kernel's ephemeral range: with
 * hundreds of peers the loopback connections use up ephemeral ports, and a port picked by
 * binding to 0 (which also comes from that range, often the same one again) can be taken by an
 * outgoing connection before the client that was given it listens.
 */
export async function benchPort(): Promise<number> {
  if (ephemeralLow === undefined) {
    const text = await Deno.readTextFile("/proc/sys/net/ipv4/ip_local_port_range").catch(() => "");
    const low = Number(text.trim().split(/\s+/)[0]);
    ephemeralLow = Number.isInteger(low) && low > 12_000 && low <= 65_535 ? low : 32_768;
  }
  const base = 10_000, span = ephemeralLow - base;
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = base + Math.floor(Math.random() * span);
    if (handedOut.has(port)) continue;
    try {
      Deno.listen({ hostname: LOOPBACK, port }).close();
    } catch {
      continue;
    }
    if (!await udpPortFree(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new BenchError("no free port on 127.0.0.1 below the ephemeral range");
}

async function loadAverage(): Promise<string> {
  const text = await Deno.readTextFile("/proc/loadavg").catch(() => "");
  return text.split(" ")[0] || "?";
}

/**
 * Makes every seeder dial the downloader at `port` once it listens, then twice more: for
 * clients that ignore loopback peers from trackers, and for swarms larger than a tracker
 * answer.
 */
/** Whether the seeders dial each downloader (and stay off the tracker): asked, or via a relay. */
function seedersDial(config: BenchConfig): boolean {
  return config.dialDownloader === true || config.relay !== undefined;
}

/** Once the downloader listens on `port`, has every seeder dial it at `dialPort`. */
async function dialFromSeeders(
  child: Child,
  port: number,
  dialPort: number,
  seeders: SeederProc[],
): Promise<void> {
  while (!child.exited && !await tcpAccepts(port)) await delay(50);
  for (const wait of [0, 1000, 3000]) {
    await delay(wait);
    if (child.exited) return;
    await Promise.all(seeders.map((s) => s.child.send(`connect ${LOOPBACK}:${dialPort}`)));
  }
}

interface Download {
  spec: CommandSpec;
  /** Must the seeders dial this downloader? */
  dial: boolean;
}

async function downloadCommand(
  ctx: Ctx,
  client: ClientName,
  out: string,
  port: number,
  profileDir?: string,
): Promise<Download> {
  const timeoutSec = Math.ceil(ctx.timeoutMs / 1000);
  const maxPeers = ctx.config.downloaderMaxPeers;
  const dial = seedersDial(ctx.config);
  switch (client) {
    case "ours": {
      const args = [...OUR_RUN];
      if (profileDir) args.push("--cpu-prof", `--cpu-prof-dir=${profileDir}`);
      args.push(MAIN_TS, "-i", ctx.torrent, "-o", out, "--port", String(port));
      // --no-dht: the benchmark's swarm is on 127.0.0.1; never the public DHT routers.
      args.push("--log-dir", `${ctx.work}/logs/download`, "-q", "--no-dht");
      if (maxPeers) args.push("--max-peers", String(maxPeers));
      return { spec: { cmd: Deno.execPath(), args }, dial };
    }
    case "libtorrent": {
      const args = [LT_CLIENT, "download", "--torrent", ctx.torrent, "--out", out];
      args.push("--port", String(port), "--timeout", String(timeoutSec));
      if (ctx.config.utpOnly) args.push("--transport", "utp");
      return { spec: { cmd: PYTHON, args, env: { PYTHONUNBUFFERED: "1" } }, dial };
    }
    case "aria2": {
      const args = [...ARIA2_COMMON, "--seed-time=0", `--listen-port=${port}`, `--dir=${out}`];
      args.push(`--bt-stop-timeout=${timeoutSec}`);
      if (maxPeers) args.push(`--bt-max-peers=${maxPeers}`);
      args.push(ctx.torrent);
      return { spec: { cmd: "aria2c", args }, dial };
    }
    case "transmission":
      return { spec: await transmissionCommand(ctx, out, port), dial: true };
  }
}

/**
 * transmission-cli 3.00 keeps seeding after a download, so a finish script (run as its child)
 * sends it SIGTERM, on which it flushes and exits. Its settings file turns off DHT, LPD, PEX,
 * uTP and port mapping and binds it to 127.0.0.1; it ignores loopback peers from the tracker,
 * so the seeders dial it.
 */
async function transmissionCommand(ctx: Ctx, out: string, port: number): Promise<CommandSpec> {
  const config = `${out}.tr-config`;
  await Deno.mkdir(config, { recursive: true });
  const maxPeers = ctx.config.downloaderMaxPeers ?? 200;
  const settings = {
    "bind-address-ipv4": LOOPBACK,
    "dht-enabled": false,
    "lpd-enabled": false,
    "pex-enabled": false,
    "utp-enabled": false,
    "port-forwarding-enabled": false,
    "peer-port": port,
    "peer-limit-global": maxPeers + 50,
    "peer-limit-per-torrent": maxPeers,
    "speed-limit-down-enabled": false,
    "speed-limit-up-enabled": false,
    "alt-speed-enabled": false,
    "ratio-limit-enabled": false,
    "rpc-enabled": false,
    "incomplete-dir-enabled": false,
    "start-added-torrents": true,
    "download-dir": out,
    "message-level": 1,
  };
  await Deno.writeTextFile(`${config}/settings.json`, JSON.stringify(settings, null, 2));
  const finish = `${config}/finished.sh`;
  await Deno.writeTextFile(finish, `#!/bin/sh\ntouch "${config}/finished"\nkill -TERM $PPID\n`);
  await Deno.chmod(finish, 0o755);
  return {
    cmd: "transmission-cli",
    args: [
      "-g",
      config,
      "-w",
      out,
      "-p",
      String(port),
      "-D",
      "-U",
      "-M",
      "-f",
      finish,
      ctx.torrent,
    ],
  };
}

/**
 * Writes every dirty page to disk (`sync`), so no download competes with the write-back of the
 * payload made just before, or of anything else, for the disk and the CPU.
 */
async function flushDirtyPages(): Promise<void> {
  await new Deno.Command("sync", { stdout: "null", stderr: "null" }).output().catch(() => {});
}

/** One download: run it measured, verify it, return figures or throw a failure line. */
async function downloadOnce(
  ctx: Ctx,
  client: ClientName,
  seeders: SeederProc[],
  tag: string,
  profileDir?: string,
): Promise<RunFigures> {
  const out = `${ctx.work}/dl-${tag}`;
  await Deno.mkdir(out, { recursive: true });
  await flushDirtyPages();
  const port = await benchPort();
  const relay = ctx.config.relay
    ? await startUdpRelay(port, { ...ctx.config.relay, seed: port })
    : undefined;
  try {
    const { spec, dial } = await downloadCommand(ctx, client, out, port, profileDir);
    const dialPort = relay?.port ?? port;
    let cpuBefore: number[] = [];
    const measure = () => {
      cpuBefore = seeders.map((s) => processCpuSeconds(s.child.pid));
      return runMeasured(`${client} download`, spec, {
        timeoutMs: ctx.timeoutMs,
        scratch: ctx.work,
        onStart: dial ? (child) => dialFromSeeders(child, port, dialPort, seeders) : undefined,
      });
    };
    let m = await measure();
    // python3-libtorrent 2.0.8 now and then dies of SIGSEGV while starting, before it has
    // printed anything (under GNU time: exit 139): its crash, not a result; one more try.
    const segfault = m.status.signal === "SIGSEGV" || m.status.code === 128 + 11;
    if (client === "libtorrent" && segfault && m.stdout === "") m = await measure();
    const syncStart = performance.now();
    await flushDirtyPages();
    const syncSeconds = (performance.now() - syncStart) / 1000;
    const seederCpu = seeders.reduce(
      (sum, s, i) => sum + processCpuSeconds(s.child.pid) - cpuBefore[i],
      0,
    );
    if (m.timedOut) {
      throw new BenchError(`timed out after ${Math.round(ctx.timeoutMs / 1000)} s; ${m.diagnosis}`);
    }
    const finishedByScript = client === "transmission" &&
      await Deno.stat(`${out}.tr-config/finished`).then(() => true, () => false);
    if (!m.status.success && !finishedByScript) throw new BenchError(`failed: ${m.diagnosis}`);
    const wrong = await firstDifference(ctx, out);
    if (wrong) throw new BenchError(`WRONG DATA: ${wrong}`);
    return {
      seconds: m.seconds,
      syncSeconds,
      peakRssBytes: m.peakRssBytes,
      cpuSeconds: m.cpuSeconds,
      seederCpuSeconds: seederCpu,
    };
  } finally {
    await relay?.close();
    await Deno.remove(out, { recursive: true }).catch(() => {});
    await Deno.remove(`${out}.tr-config`, { recursive: true }).catch(() => {});
  }
}

/**
 * Compares the downloaded copy of every payload file with the original, byte for byte; returns
 * what differs, or `undefined` when all are equal. Only the payload's own files count: clients
 * leave their state beside it (our `.bittorrent/` resume folder, aria2's control file).
 */
async function firstDifference(ctx: Ctx, out: string): Promise<string | undefined> {
  for (const f of ctx.files) {
    if (!await filesEqual(`${ctx.data}/${f.path}`, `${out}/${f.path}`)) {
      return `${f.path} differs from the payload or is missing`;
    }
  }
  return undefined;
}

/**
 * Every `.cpuprofile` in `dir` as summary text, the main thread's first. Deno writes one file per
 * thread: `CPU.<time>.<pid>.cpuprofile` for the main thread and `....worker-<n>.cpuprofile` for
 * each worker (ours: the disk writer).
 */
async function profileSummaries(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".cpuprofile")) names.push(e.name);
  } catch {
    return []; // no profile written
  }
  const thread = (name: string) => name.match(/\.(worker-\d+)\.cpuprofile$/)?.[1] ?? "main thread";
  names.sort((a, b) => thread(a).localeCompare(thread(b)));
  const out: string[] = [];
  for (const name of names) {
    const value = JSON.parse(await Deno.readTextFile(`${dir}/${name}`));
    const main = thread(name) === "main thread";
    out.push(`  ${thread(name)}:\n${summarizeCpuProfile(value, main ? 20 : 8)}`);
  }
  return out;
}

async function runGroup(
  ctx: Ctx,
  kind: SeederKind,
  installed: Set<ClientName>,
  result: BenchResult,
): Promise<void> {
  const { config } = ctx;
  const label = `${config.seeders} seeder${config.seeders > 1 ? "s" : ""}: ${kind}${
    config.encryptedSeeders ? ", encrypted only" : ""
  }${config.utpOnly ? ", libtorrent uTP only" : ""}${
    config.relay
      ? `, through a relay (${config.relay.delayMs} ms, ${config.relay.loss * 100} % loss)`
      : ""
  }${config.seederUploadRate ? ` at ${formatSize(config.seederUploadRate)}/s each` : ""}`;
  const title = `case ${config.caseName} (${formatSize(config.size)}, ${
    Math.ceil(config.size / config.pieceLength)
  } pieces of ${formatSize(config.pieceLength)}, ${
    config.files > 1 ? `${config.files} files` : "1 file"
  }, ${label}; medians of ${config.runs} run${config.runs > 1 ? "s" : ""})`;
  ctx.note(`-- ${title}`);
  const rows: Row[] = config.clients.map((client) => ({ client, runs: [] }));
  for (const row of rows) {
    if (!installed.has(row.client as ClientName)) row.skipped = "not installed";
    else if (row.client === "transmission" && config.seeders > 1) {
      // Measured: with 200 seeders dialling it, transmission-cli kept one connection.
      row.skipped = "transmission keeps one peer per IP address, and every seeder here is " +
        "127.0.0.1 (it would download from one seeder only)";
    }
  }
  const tracker = await startTracker({ hostname: LOOPBACK, port: ctx.trackerPort, interval: 60 });
  const loadBefore = await loadAverage();
  let seeders: SeederProc[] = [];
  try {
    seeders = await startSeeders(ctx, kind, tracker);
    ctx.note(`   ${config.seeders} ${kind} seeder(s) ready`);
    for (let run = 0; run < config.runs; run++) {
      for (const row of rows) {
        if (row.skipped || row.failed) continue;
        const client = row.client as ClientName;
        try {
          const fig = await downloadOnce(ctx, client, seeders, `${kind}-${client}-${run}`);
          row.runs.push(fig);
          ctx.note(
            `   run ${run + 1}/${config.runs} ${client}: ${fig.seconds.toFixed(2)} s, ` +
              `${(config.size / 1e6 / fig.seconds).toFixed(1)} MB/s, verified`,
          );
        } catch (e) {
          const msg = e instanceof Error ? e.message : String(e);
          row.failed = msg.split("\n")[0].slice(0, 200);
          result.failures.push(`${config.caseName} / ${kind} seeders / ${client}: ${msg}`);
          ctx.note(`   run ${run + 1}/${config.runs} ${client}: FAILED: ${msg}`);
        }
      }
    }
    result.text.push(
      renderTable(title, config.size, rows) +
        `\n  load average (1 min) before/after: ${loadBefore} / ${await loadAverage()} ` +
        `on ${navigator.hardwareConcurrency} CPUs (other work on the machine skews timings)`,
    );
    result.groups.push({ seederKind: kind, rows });
    if (config.profile) await profileGroup(ctx, kind, installed, tracker, seeders, result);
  } finally {
    await Promise.all(seeders.map((s) => s.child.stop()));
    await tracker.close();
  }
}

/**
 * Untimed extra downloads under `--cpu-prof`: our client from these seeders; and, for our own
 * seeders, restarted under the profiler, a libtorrent download from them.
 */
async function profileGroup(
  ctx: Ctx,
  kind: SeederKind,
  installed: Set<ClientName>,
  tracker: TrackerServer,
  seeders: SeederProc[],
  result: BenchResult,
): Promise<void> {
  const dir = `${ctx.work}/prof-${kind}-download`;
  try {
    const fig = await downloadOnce(ctx, "ours", seeders, `${kind}-profile`, dir);
    const summaries = await profileSummaries(dir);
    if (summaries.length > 0) {
      result.text.push(
        `CPU profile of our client downloading from ${kind} seeders (extra run, not in the ` +
          `table: ${fig.seconds.toFixed(2)} s under the profiler):\n` + summaries.join("\n"),
      );
    }
  } catch (e) {
    result.text.push(`profile of our download failed: ${e instanceof Error ? e.message : e}`);
  }
  if (kind !== "ours" || !installed.has("libtorrent")) return;
  // Profile our seeders: restart them under --cpu-prof for one libtorrent download.
  await Promise.all(seeders.map((s) => s.child.stop()));
  seeders.length = 0;
  const seedDir = `${ctx.work}/prof-ours-seeders`;
  try {
    // The tracker still lists the old seeders until they expire; they are gone, so only the
    // restarted ones answer.
    seeders.push(...await startSeeders(ctx, "ours", tracker, seedDir));
    const fig = await downloadOnce(ctx, "libtorrent", seeders, "ours-seed-profile");
    ctx.note(`   profiled seeder run: libtorrent took ${fig.seconds.toFixed(2)} s`);
  } catch (e) {
    result.text.push(`profile of our seeders failed: ${e instanceof Error ? e.message : e}`);
  } finally {
    await Promise.all(seeders.map((s) => s.child.stop()));
    seeders.length = 0;
  }
  const summaries = await profileSummaries(seedDir);
  if (summaries.length > 0) {
    result.text.push(
      "CPU profile of our seeder process while libtorrent downloads from it (includes its " +
        "start-up check):\n" + summaries.join("\n"),
    );
  }
}

const workDirs = new Set<string>();

/** Deletes the work folders of runs still going (payloads are large): for signal handlers. */
export async function removeWorkDirs(): Promise<void> {
  await Promise.all([...workDirs].map((d) => Deno.remove(d, { recursive: true }).catch(() => {})));
  workDirs.clear();
}

/**
 * Runs one benchmark case end to end and returns its tables and failures. `note` receives
 * progress lines as the run goes (stderr in the CLI).
 *
 * @example
 * ```ts ignore
 * const r = await runBench({ caseName: "x", size: 4 << 20, pieceLength: 32768, files: 1,
 *   seeders: 1, seederKinds: ["libtorrent"], clients: ["ours"], runs: 1 });
 * console.log(r.text.join("\n\n"), r.failures);
 * ```
 */
export async function runBench(
  config: BenchConfig,
  note: (line: string) => void = () => {},
): Promise<BenchResult> {
  if (config.size <= 0) throw new BenchError("size must be positive");
  if (config.pieceLength < 16384 || 2 ** log2(config.pieceLength) !== config.pieceLength) {
    throw new BenchError("piece length must be a power of two of at least 16 KiB");
  }
  if (config.seeders < 1 || config.runs < 1 || config.files < 1) {
    throw new BenchError("seeders, runs and files must be at least 1");
  }
  const installed = await installedClients();
  if (config.seederKinds.includes("libtorrent") && !installed.has("libtorrent")) {
    throw new BenchError("libtorrent seeders need python3-libtorrent");
  }
  const work = await Deno.makeTempDir({ dir: config.tmpDir, prefix: "bt-bench-" });
  if (!config.keep) workDirs.add(work);
  const result: BenchResult = { text: [], groups: [], failures: [] };
  try {
    const data = `${work}/data`;
    const { root, files } = payloadFiles(config.size, config.files);
    let t = performance.now();
    await makePayload(data, { files, seed: 20240601 });
    note(`payload ${formatSize(config.size)} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const trackerPort = await benchPort();
    const webPort = config.seederKinds.includes("web") ? await benchPort() : 0;
    const torrent = `${work}/bench.torrent`;
    t = performance.now();
    const version = config.torrentVersion ?? "v1";
    if (version !== "v1" && !installed.has("libtorrent")) {
      throw new BenchError(`${version} torrents are made by python3-libtorrent, not installed`);
    }
    const infoHash = await makeTorrent(
      `${data}/${root}`,
      torrent,
      `http://${LOOPBACK}:${trackerPort}/announce`,
      config.pieceLength,
      version,
      webPort === 0 ? [] : [webSeedUrl(webPort)],
    );
    note(`torrent in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    await cacheOurModules();
    const ctx: Ctx = {
      config,
      work,
      data,
      torrent,
      infoHash,
      trackerPort,
      webPort,
      files,
      timeoutMs: (config.timeoutSec ?? defaultTimeoutSec(config.size)) * 1000,
      note,
    };
    for (const kind of config.seederKinds) await runGroup(ctx, kind, installed, result);
  } finally {
    workDirs.delete(work);
    if (!config.keep) await Deno.remove(work, { recursive: true }).catch(() => {});
    else note(`kept ${work}`);
  }
  return result;
}
