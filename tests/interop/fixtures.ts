/**
 * Fixtures for interop tests against real BitTorrent programs from Debian's packages: aria2,
 * python3-libtorrent (through `lt_client.py`), opentracker and mktorrent, all on 127.0.0.1.
 *
 * Every started program is a child process with piped stdout/stderr that are read to the end;
 * `stop()` kills it (SIGTERM, then SIGKILL after a grace period) and awaits its exit, so tests
 * leak no processes or resources. A failing tool raises an {@link InteropError} that carries the
 * tail of its stderr/stdout. Read /work/shared/INTEROP.md for why each flag is set.
 *
 * @module
 */
import { decodeWithSpans } from "../../src/bencode/mod.ts";
import { makePayload, type PayloadFile } from "../../testdata/payload.ts";
import { sha1, toHex } from "../../src/util/mod.ts";
import { createSocket } from "node:dgram";
import { Child, tail } from "../process.ts";

/** Raised when a real client or tool fails, times out, or is not ready in time. */
export class InteropError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InteropError";
  }
}

/** The programs the fixtures can drive; `libtorrent` means python3-libtorrent. */
export type ToolName =
  | "aria2c"
  | "libtorrent"
  | "opentracker"
  | "mktorrent"
  | "transmission-cli"
  | "chromium";

/** Debian's python, the only one that can import python3-libtorrent (see INTEROP.md). */
export const PYTHON = "/usr/bin/python3";

/** Path of the libtorrent driver script beside this file. */
export const LT_CLIENT: string = decodeURIComponent(
  new URL("./lt_client.py", import.meta.url).pathname,
);

const LOOPBACK = "127.0.0.1";

// ---------------------------------------------------------------------------------------------
// Tool discovery and ports

const toolCache = new Map<ToolName, Promise<boolean>>();

async function onPath(name: string): Promise<boolean> {
  const path = Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
  for (const dir of path.split(":")) {
    if (dir === "") continue;
    try {
      const st = await Deno.stat(`${dir}/${name}`);
      if (st.isFile && st.mode !== null && (st.mode & 0o111) !== 0) return true;
    } catch {
      // not in this folder
    }
  }
  return false;
}

async function pythonHasLibtorrent(): Promise<boolean> {
  try {
    const out = await new Deno.Command(PYTHON, {
      args: ["-c", "import libtorrent"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

/**
 * Whether a tool is installed, so interop tests can be skipped (`ignore: !(await hasTool(..))`)
 * on machines without it. Results are cached per process.
 *
 * @example
 * ```ts
 * import { hasTool } from "./fixtures.ts";
 * console.log(await hasTool("mktorrent"));
 * ```
 */
export function hasTool(name: ToolName): Promise<boolean> {
  let p = toolCache.get(name);
  if (!p) {
    p = name === "libtorrent" ? pythonHasLibtorrent() : onPath(name);
    toolCache.set(name, p);
  }
  return p;
}

const handedOut = new Set<number>();

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read, closed). Ports
 * already handed out by this process are never returned twice. Use {@link freeTcpUdpPort} when
 * the UDP port of the same number must be free too (trackers, DHT, libtorrent).
 *
 * @example
 * ```ts
 * import { freePort } from "./fixtures.ts";
 * const port = freePort();
 * console.log(port > 0 && port < 65536); // true
 * ```
 */
export function freePort(): number {
  for (let attempt = 0; attempt < 100; attempt++) {
    const listener = Deno.listen({ hostname: LOOPBACK, port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new InteropError("no free TCP port on 127.0.0.1");
}

/**
 * Whether UDP `port` on 127.0.0.1 can be bound right now (probed through `node:dgram`, since
 * `Deno.listenDatagram` needs an unstable flag).
 *
 * @example
 * ```ts ignore
 * import { freePort, udpPortFree } from "./fixtures.ts";
 * console.log(typeof (await udpPortFree(freePort()))); // "boolean"
 * ```
 */
export function udpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket("udp4");
    socket.once("error", () => socket.close(() => resolve(false)));
    socket.bind({ port, address: LOOPBACK, exclusive: true }, () => {
      socket.close(() => resolve(true));
    });
  });
}

/**
 * A port on 127.0.0.1 free for both TCP and UDP (`Deno.listenDatagram` needs an unstable
 * flag, so UDP is probed through `node:dgram`).
 *
 * @example
 * ```ts
 * import { freeTcpUdpPort } from "./fixtures.ts";
 * console.log((await freeTcpUdpPort()) > 0); // true
 * ```
 */
export async function freeTcpUdpPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = freePort();
    if (await udpPortFree(port)) return port;
  }
  throw new InteropError("no port on 127.0.0.1 free for both TCP and UDP");
}

/** True for an error saying a program could not bind its port. */
function portTaken(e: unknown): boolean {
  return e instanceof InteropError && e.message.includes("Address already in use");
}

/**
 * Runs `start` on `given`, or on a fresh {@link freeTcpUdpPort} that is replaced (up to 3 tries)
 * when the program reports it taken: a port is probed, then bound by the program, and on a busy
 * machine (other test runs, thousands of TIME_WAIT sockets) another process can take it in
 * between. A port the caller chose is never replaced.
 */
async function onFreshPort<T>(
  given: number | undefined,
  start: (port: number) => Promise<T>,
): Promise<T> {
  for (let attempt = 1;; attempt++) {
    const port = given ?? await freeTcpUdpPort();
    try {
      return await start(port);
    } catch (e) {
      if (given !== undefined || attempt >= 3 || !portTaken(e)) throw e;
    }
  }
}

/**
 * Free bytes on the filesystem holding `dir` (as `df -Pk` reports them for an ordinary user),
 * so a test with a large payload can skip instead of filling the disk. `Deno.statfs` does not
 * exist; `null` when `df` is missing or its output is not understood.
 *
 * @example
 * ```ts
 * import { freeDiskBytes } from "./fixtures.ts";
 * const free = await freeDiskBytes(".");
 * console.log(free === null || free >= 0); // true
 * ```
 */
export async function freeDiskBytes(dir: string): Promise<number | null> {
  try {
    const out = await new Deno.Command("df", {
      args: ["-Pk", dir],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
      env: { LC_ALL: "C" },
    }).output();
    if (!out.success) return null;
    // Header, then "Filesystem 1024-blocks Used Available Capacity Mounted-on".
    const line = new TextDecoder().decode(out.stdout).trim().split("\n")[1] ?? "";
    const available = Number(line.trim().split(/\s+/)[3]);
    return Number.isSafeInteger(available) && available >= 0 ? available * 1024 : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Torrents

/**
 * Makes a v1 `.torrent` of a file or folder with Debian's mktorrent (no creation date, so the
 * same input gives the same file). Each `announce` entry is its own tier.
 *
 * @example
 * ```ts ignore
 * await mktorrent({ source: "/tmp/x/payload", out: "/tmp/x/p.torrent", announce: [url] });
 * ```
 */
export async function mktorrent(opts: {
  source: string;
  out: string;
  announce: string[];
  pieceLengthExp?: number;
  private?: boolean;
  webSeeds?: string[];
}): Promise<void> {
  const exp = opts.pieceLengthExp ?? 18;
  if (!Number.isInteger(exp) || exp < 15 || exp > 28) {
    throw new InteropError(`piece length exponent must be 15..28, got ${exp}`);
  }
  if (opts.announce.length === 0) throw new InteropError("mktorrent needs an announce URL");
  const args = ["-d", "-l", String(exp), "-o", opts.out];
  for (const url of opts.announce) args.push("-a", url);
  if (opts.private) args.push("-p");
  for (const url of opts.webSeeds ?? []) args.push("-w", url);
  args.push(opts.source);
  await Deno.remove(opts.out).catch(() => {}); // mktorrent refuses to overwrite
  const out = await new Deno.Command("mktorrent", {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
    throw new InteropError(`mktorrent failed (exit ${out.code}): ${tail(text)}`);
  }
}

/**
 * The lower-case hex v1 info-hash of a `.torrent` file (SHA-1 of the exact `info` bytes), for
 * opentracker's whitelist and magnet links.
 *
 * @example
 * ```ts ignore
 * const hex = await infoHashHex("/tmp/x/p.torrent");
 * ```
 */
export async function infoHashHex(torrentPath: string): Promise<string> {
  const bytes = await Deno.readFile(torrentPath);
  const span = decodeWithSpans(bytes).spans.get("info");
  if (!span) throw new InteropError(`${torrentPath} has no info dictionary`);
  return toHex(sha1(bytes.subarray(span.start, span.end)));
}

/**
 * A magnet link for an info-hash with optional trackers (`tr`), display name (`dn`) and peer
 * addresses (`x.pe`, `HOST:PORT`, BEP 9).
 *
 * @example
 * ```ts
 * import { magnetLink } from "./fixtures.ts";
 * const uri = magnetLink("aa".repeat(20), { peers: ["127.0.0.1:6881"] });
 * console.log(uri.endsWith("&x.pe=127.0.0.1%3A6881")); // true
 * ```
 */
export function magnetLink(
  infoHash: string,
  opts: { trackers?: string[]; name?: string; peers?: string[] } = {},
): string {
  let uri = `magnet:?xt=urn:btih:${infoHash}`;
  if (opts.name) uri += `&dn=${encodeURIComponent(opts.name)}`;
  for (const tr of opts.trackers ?? []) uri += `&tr=${encodeURIComponent(tr)}`;
  for (const pe of opts.peers ?? []) uri += `&x.pe=${encodeURIComponent(pe)}`;
  return uri;
}

// ---------------------------------------------------------------------------------------------
// Child processes

/** A child process whose timeouts and early exits raise {@link InteropError}. */
class Proc extends Child {
  constructor(name: string, cmd: string, args: string[], env?: Record<string, string>) {
    super(name, { cmd, args, env }, {
      error: (message) => new InteropError(message),
      graceMs: 3000,
      diagnosisChars: 2000,
    });
  }
}

/** Resolves after `ms` milliseconds, for polling loops. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Whether something accepts TCP connections on 127.0.0.1:`port` (a program is listening).
 *
 * @example
 * ```ts ignore
 * import { tcpAccepts } from "./fixtures.ts";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * console.log(await tcpAccepts((listener.addr as Deno.NetAddr).port)); // true
 * listener.close();
 * ```
 */
export async function tcpAccepts(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: LOOPBACK, port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Polls until `check` is true; throws when the process exits or `timeoutMs` passes (the caller
 * decides whether to stop the process).
 */
async function until(
  proc: Proc,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (true) {
    if (proc.exited) {
      await proc.stop(); // drain the output for the message
      throw new InteropError(`${what}: exited early; ${proc.diagnosis()}`);
    }
    if (await check()) return;
    if (performance.now() > end) {
      throw new InteropError(`${what}: not ready after ${timeoutMs} ms; ${proc.diagnosis()}`);
    }
    await delay(50);
  }
}

/** A started background program (seeder, tracker). */
export interface Running {
  /** Its listen port on 127.0.0.1. */
  port: number;
  /** Kills it and waits until it has exited and its output is drained. */
  stop(): Promise<void>;
  /** Tails of its stderr and stdout, for failure messages. */
  diagnosis(): string;
}

/** A running seeder that can tell how much payload it has sent. */
export interface Seeder extends Running {
  /** Payload bytes it has uploaded so far (its own count; may lag a fraction of a second). */
  uploadedBytes(): Promise<number>;
}

// ---------------------------------------------------------------------------------------------
// opentracker

/** Peer counts of one torrent as a tracker reports them in a scrape. */
export interface ScrapeCounts {
  complete: number;
  incomplete: number;
  downloaded: number;
}

/** A running opentracker: announce URLs and a scrape helper. */
export interface Tracker extends Running {
  /** `http://127.0.0.1:PORT/announce` */
  httpUrl: string;
  /** `udp://127.0.0.1:PORT/announce` (same port as HTTP). */
  udpUrl: string;
  /** HTTP scrape of one info-hash (zeros if the tracker knows no peer of it). */
  scrape(infoHashHex: string): Promise<ScrapeCounts>;
  /** Waits until the tracker lists at least `n` seeders of the info-hash. */
  waitForSeeders(infoHashHex: string, n?: number, timeoutMs?: number): Promise<void>;
}

function percentBytes(hex: string): string {
  if (!/^[0-9a-fA-F]{40}$/.test(hex)) throw new InteropError(`not a v1 info-hash: ${hex}`);
  let s = "";
  for (let i = 0; i < 40; i += 2) s += "%" + hex.slice(i, i + 2);
  return s;
}

async function httpGet(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  const body = new Uint8Array(await res.arrayBuffer());
  if (!res.ok) throw new InteropError(`GET ${url}: HTTP ${res.status}`);
  return body;
}

function readScrape(body: Uint8Array, hex: string): ScrapeCounts {
  const value = decodeWithSpans(body).value;
  const zero = { complete: 0, incomplete: 0, downloaded: 0 };
  if (!(value instanceof Map)) return zero;
  const files = value.get("files");
  if (!(files instanceof Map)) return zero;
  let key = "";
  for (let i = 0; i < 40; i += 2) key += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16));
  const entry = files.get(key);
  if (!(entry instanceof Map)) return zero;
  const num = (k: string) => {
    const v = entry.get(k);
    return typeof v === "number" ? v : 0;
  };
  return {
    complete: num("complete"),
    incomplete: num("incomplete"),
    downloaded: num("downloaded"),
  };
}

/**
 * Starts Debian's opentracker on 127.0.0.1 (HTTP and UDP on one port) serving only the given
 * info-hashes: it is built with a whitelist and chroots into a temp folder, which must be
 * readable by `nobody` since it drops privileges. Ready once it authorizes the first hash.
 *
 * @example
 * ```ts ignore
 * const tracker = await startOpentracker({ infoHashesHex: [await infoHashHex(torrent)] });
 * await tracker.stop();
 * ```
 */
export async function startOpentracker(opts: { infoHashesHex: string[] }): Promise<Tracker> {
  for (const h of opts.infoHashesHex) percentBytes(h);
  const dir = await Deno.makeTempDir({ prefix: "opentracker-" });
  await Deno.chmod(dir, 0o755);
  const whitelist = `${dir}/whitelist`;
  await Deno.writeTextFile(
    whitelist,
    opts.infoHashesHex.map((h) => h.toLowerCase() + "\n").join(""),
  );
  await Deno.chmod(whitelist, 0o644);
  const port = await freeTcpUdpPort();
  const p = String(port);
  const proc = new Proc("opentracker", "opentracker", [
    "-i",
    LOOPBACK,
    "-p",
    p,
    "-P",
    p,
    "-d",
    dir,
    "-w",
    "/whitelist",
  ]);
  const base = `http://${LOOPBACK}:${port}`;
  const cleanup = async () => {
    await proc.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await until(proc, () => tcpAccepts(port), 5000, "opentracker");
    const first = opts.infoHashesHex[0];
    if (first) {
      // The whitelist loads in the background: ask with event=stopped (adds no peer) until the
      // hash is authorized.
      const url = `${base}/announce?info_hash=${percentBytes(first)}` +
        "&peer_id=-XX0000-readinessprb&port=1&uploaded=0&downloaded=0&left=0&compact=1" +
        "&event=stopped";
      await until(
        proc,
        async () => {
          const text = new TextDecoder().decode(await httpGet(url));
          return !text.includes("failure reason");
        },
        5000,
        "opentracker whitelist",
      );
    }
  } catch (e) {
    await cleanup();
    throw e;
  }
  const scrape = async (hex: string) =>
    readScrape(await httpGet(`${base}/scrape?info_hash=${percentBytes(hex)}`), hex);
  return {
    port,
    httpUrl: `${base}/announce`,
    udpUrl: `udp://${LOOPBACK}:${port}/announce`,
    stop: cleanup,
    diagnosis: () => proc.diagnosis(),
    scrape,
    waitForSeeders: (hex, n = 1, timeoutMs = 10_000) =>
      until(
        proc,
        async () => (await scrape(hex)).complete >= n,
        timeoutMs,
        `opentracker: ${n} seeder(s) of ${hex}`,
      ),
  };
}

// ---------------------------------------------------------------------------------------------
// libtorrent

/** Options shared by the libtorrent seeder and downloader. */
export interface LibtorrentCommon {
  /** Listen port on 127.0.0.1 (TCP; UDP too when DHT is on). Default: a fresh free port. */
  port?: number;
  /** Never announce to the torrent's trackers. */
  trackerOff?: boolean;
  /**
   * Run libtorrent's DHT on 127.0.0.1, on the UDP side of this port (best: the same as `port`;
   * another value adds a second listen port). Off by default.
   */
  dhtPort?: number;
  /** DHT bootstrap nodes, `127.0.0.1:PORT` only. */
  dhtBootstrap?: string[];
  /** Echo every libtorrent alert to stderr (kept for diagnosis). */
  verbose?: boolean;
  /**
   * libtorrent's MSE policy, both ways: `forced` takes RC4-encrypted connections only,
   * `disabled` plaintext only. Default `enabled` (libtorrent's own default).
   */
  encryption?: "enabled" | "forced" | "disabled";
  /** How libtorrent reaches and accepts peers: TCP only (the default), uTP only, or both. */
  transport?: "tcp" | "utp" | "both";
}

/** The port of lt_client.py's "READY <port>" line, or `fallback` when it names none. */
function readyPort(line: string, fallback: number): number {
  const port = Number(line.slice("READY ".length).trim());
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : fallback;
}

function ltCommonArgs(port: number, opts: LibtorrentCommon): string[] {
  const args = ["--port", String(port)];
  if (opts.trackerOff) args.push("--tracker-off");
  if (opts.dhtPort !== undefined) args.push("--dht-port", String(opts.dhtPort));
  for (const node of opts.dhtBootstrap ?? []) args.push("--dht-bootstrap", node);
  if (opts.verbose) args.push("--verbose");
  if (opts.encryption) args.push("--encryption", opts.encryption);
  if (opts.transport) args.push("--transport", opts.transport);
  return args;
}

/**
 * Starts a libtorrent seeder of complete data. `data` is the save path: the folder holding the
 * torrent's root file or folder. Resolves once it listens, has verified every piece and (if it
 * has trackers) got its first announce answered. Without `port`, a fresh one is picked, and
 * picked again (up to 3 tries) when another process took it before libtorrent could bind it.
 *
 * @example
 * ```ts ignore
 * const seeder = await startLibtorrentSeeder({ torrent, data: dir });
 * await seeder.stop();
 * ```
 */
export async function startLibtorrentSeeder(
  opts:
    & { torrent: string; data: string; seedMode?: boolean; readyTimeoutMs?: number }
    & LibtorrentCommon,
): Promise<Seeder> {
  try {
    return await onFreshPort(opts.port, (port) => startLibtorrentSeederOn(port, opts));
  } catch (e) {
    // python3-libtorrent 2.0.8 now and then dies of SIGSEGV while starting (see
    // libtorrentDownload): one more try.
    if (!(e instanceof LibtorrentStartupCrash)) throw e;
    return await onFreshPort(opts.port, (port) => startLibtorrentSeederOn(port, opts));
  }
}

async function startLibtorrentSeederOn(
  port: number,
  opts:
    & { torrent: string; data: string; seedMode?: boolean; readyTimeoutMs?: number }
    & LibtorrentCommon,
): Promise<Seeder> {
  const args = [LT_CLIENT, "seed", "--torrent", opts.torrent, "--data", opts.data];
  if (opts.seedMode) args.push("--seed-mode");
  args.push(...ltCommonArgs(port, opts));
  const proc = new Proc("libtorrent seeder", PYTHON, args, { PYTHONUNBUFFERED: "1" });
  let ready: string;
  try {
    ready = await proc.waitForLine(
      (l) => l.startsWith("READY "),
      opts.readyTimeoutMs ?? 30_000,
      "libtorrent seeder",
    );
  } catch (e) {
    await proc.stop();
    const crashedAtStart = e instanceof Error && e.message.includes("SIGSEGV") &&
      proc.stdoutText === "";
    throw crashedAtStart ? new LibtorrentStartupCrash(e.message) : e;
  }
  // libtorrent moves up to 10 ports on when its port is taken (max_retry_port_bind) and says
  // where it ended up.
  const listening = readyPort(ready, port);
  const uploadedBytes = () => {
    // lt_client.py prints "UPLOADED <n>" whenever its count grows: the last one is current.
    const all = [...proc.stdoutText.matchAll(/^UPLOADED (\d+)$/gm)];
    return Promise.resolve(all.length > 0 ? Number(all[all.length - 1][1]) : 0);
  };
  return {
    port: listening,
    stop: () => proc.stop(),
    diagnosis: () => proc.diagnosis(),
    uploadedBytes,
  };
}

/**
 * Starts a bare libtorrent DHT node on 127.0.0.1 (UDP `port`), the bootstrap node of a loopback
 * DHT: libtorrent does not search its own store, so a seeder and a downloader need a third node
 * between them. Give seeders and downloaders `dhtPort` (their own listen port works) and
 * `dhtBootstrap: [`127.0.0.1:${node.port}`]`.
 *
 * @example
 * ```ts ignore
 * const node = await startLibtorrentDhtNode();
 * await node.stop();
 * ```
 */
export async function startLibtorrentDhtNode(
  opts: { port?: number; dhtBootstrap?: string[]; verbose?: boolean } = {},
): Promise<Running> {
  const port = opts.port ?? await freeTcpUdpPort();
  const args = [LT_CLIENT, "dht-node", ...ltCommonArgs(port, { ...opts, dhtPort: port })];
  const proc = new Proc("libtorrent DHT node", PYTHON, args, { PYTHONUNBUFFERED: "1" });
  let ready: string;
  try {
    ready = await proc.waitForLine((l) => l.startsWith("READY "), 15_000, "libtorrent DHT node");
  } catch (e) {
    await proc.stop();
    throw e;
  }
  return {
    port: readyPort(ready, port),
    stop: () => proc.stop(),
    diagnosis: () => proc.diagnosis(),
  };
}

/**
 * Downloads with libtorrent into `out` (save path) from a `.torrent` or a magnet link, through
 * the torrent's trackers and/or `peers` (`127.0.0.1:PORT`, dialled with `connect_peer`).
 * Resolves when every piece is verified and written; `seconds` is libtorrent's own measure.
 *
 * @example
 * ```ts ignore
 * const { seconds } = await libtorrentDownload({ torrent, out, peers: [`127.0.0.1:${port}`] });
 * ```
 */
export async function libtorrentDownload(
  opts: {
    torrent?: string;
    magnet?: string;
    out: string;
    peers?: string[];
    timeoutSec?: number;
  } & LibtorrentCommon,
): Promise<{ seconds: number }> {
  if ((opts.torrent === undefined) === (opts.magnet === undefined)) {
    throw new InteropError("libtorrentDownload needs exactly one of torrent or magnet");
  }
  try {
    return await onFreshPort(opts.port, (port) => libtorrentDownloadOn(port, opts));
  } catch (e) {
    // python3-libtorrent 2.0.8 now and then dies of SIGSEGV while starting, before it has
    // printed or fetched anything: that is its crash, not a result, so it gets one more try.
    if (!(e instanceof LibtorrentStartupCrash)) throw e;
    return await onFreshPort(opts.port, (port) => libtorrentDownloadOn(port, opts));
  }
}

/** libtorrent died of a signal before printing anything. */
class LibtorrentStartupCrash extends InteropError {}

async function libtorrentDownloadOn(
  port: number,
  opts: Parameters<typeof libtorrentDownload>[0],
): Promise<{ seconds: number }> {
  const timeoutSec = opts.timeoutSec ?? 60;
  const args = [LT_CLIENT, "download", "--out", opts.out, "--timeout", String(timeoutSec)];
  if (opts.torrent !== undefined) args.push("--torrent", opts.torrent);
  if (opts.magnet !== undefined) args.push("--magnet", opts.magnet);
  for (const peer of opts.peers ?? []) args.push("--peer", peer);
  args.push(...ltCommonArgs(port, opts));
  const proc = new Proc("libtorrent download", PYTHON, args, { PYTHONUNBUFFERED: "1" });
  // lt_client.py enforces the timeout itself; this guard only catches a hung interpreter.
  const status = await proc.finish((timeoutSec + 15) * 1000, "libtorrent download");
  const done = /^DONE (\d+(?:\.\d+)?)$/m.exec(proc.stdoutText);
  const seconds = done ? Number(done[1]) : NaN;
  if (!status.success || !Number.isFinite(seconds)) {
    const crashedAtStart = status.signal === "SIGSEGV" && proc.stdoutText === "";
    const Failure = crashedAtStart ? LibtorrentStartupCrash : InteropError;
    throw new Failure(`libtorrent download failed: ${proc.diagnosis()}`);
  }
  return { seconds };
}

/**
 * Makes a .torrent of `source` (a file or folder) with libtorrent: `v1`, `v2` (BEP 52 only) or
 * `hybrid` (libtorrent's default), announcing to `announce` (one URL a tier). Resolves with the
 * info-hashes libtorrent reports, in hex (`null` for a half the torrent lacks).
 *
 * @example
 * ```ts ignore
 * const { v2 } = await libtorrentCreate({ source, out, pieceLength: 65536, version: "v2" });
 * ```
 */
export async function libtorrentCreate(opts: {
  source: string;
  out: string;
  pieceLength: number;
  version: "v1" | "v2" | "hybrid";
  announce?: string[];
  /** Web seed URLs (BEP 19 `url-list`). */
  webSeeds?: string[];
}): Promise<{ v1: string | null; v2: string | null }> {
  const args = [LT_CLIENT, "create", "--source", opts.source, "--out", opts.out];
  args.push("--piece-length", String(opts.pieceLength), "--version", opts.version);
  for (const url of opts.announce ?? []) args.push("--announce", url);
  for (const url of opts.webSeeds ?? []) args.push("--web-seed", url);
  const proc = new Proc("libtorrent create", PYTHON, args, { PYTHONUNBUFFERED: "1" });
  const status = await proc.finish(60_000, "libtorrent create");
  const created = /^CREATED (\S+) (\S+)$/m.exec(proc.stdoutText);
  if (!status.success || !created) {
    throw new InteropError(`libtorrent create failed: ${proc.diagnosis()}`);
  }
  const hex = (v: string) => v === "-" ? null : v;
  return { v1: hex(created[1]), v2: hex(created[2]) };
}

// ---------------------------------------------------------------------------------------------
// aria2

/** aria2 flags every run here shares: loopback only, no LPD/PEX/IPv6, quiet, no limits. */
export const ARIA2_COMMON: readonly string[] = [
  "--no-conf",
  "--interface=" + LOOPBACK,
  "--disable-ipv6=true",
  "--enable-dht6=false",
  "--bt-enable-lpd=false",
  "--enable-peer-exchange=false",
  "--file-allocation=falloc",
  "--console-log-level=notice",
  "--enable-color=false",
  "--summary-interval=0",
  "--show-console-readout=false",
  "--auto-file-renaming=false",
  "--max-overall-upload-limit=0",
  "--max-overall-download-limit=0",
];

/**
 * Starts aria2 seeding complete data from `data` (the save path, as `-d`): it verifies the files
 * (`-V`) and, with `--seed-ratio=0.0` and no `--seed-time`, seeds until killed. Ready once it
 * reported a successful verification and its port accepts TCP. Note: readiness does not wait for
 * its tracker announce; use `Tracker.waitForSeeders` for that.
 *
 * @example
 * ```ts ignore
 * const seeder = await startAria2Seeder({ torrent, data: dir, trackerOff: true });
 * await seeder.stop();
 * ```
 */
export async function startAria2Seeder(
  opts: {
    torrent: string;
    data: string;
    port?: number;
    trackerOff?: boolean;
    readyTimeoutMs?: number;
    /**
     * Upload cap of this torrent in aria2's syntax (`--max-upload-limit`, e.g. `"1M"` =
     * 1 MiB/s): keeps a downloader of it busy long enough for others to meet it mid-download.
     */
    uploadLimit?: string;
  },
): Promise<Seeder> {
  if (opts.uploadLimit !== undefined && !/^\d+[KM]?$/.test(opts.uploadLimit)) {
    throw new InteropError(`aria2 upload limit must be like 500K or 1M, got ${opts.uploadLimit}`);
  }
  return await onFreshPort(opts.port, (port) => startAria2SeederOn(port, opts));
}

async function startAria2SeederOn(
  port: number,
  opts: Parameters<typeof startAria2Seeder>[0],
): Promise<Seeder> {
  // JSON-RPC on 127.0.0.1 only, so uploadedBytes() can ask aria2 for its numbers.
  const rpcPort = freePort();
  const args = [
    ...ARIA2_COMMON,
    "--enable-dht=false",
    "--check-integrity=true",
    "--seed-ratio=0.0",
    `--listen-port=${port}`,
    `--dir=${opts.data}`,
    "--enable-rpc=true",
    "--rpc-listen-all=false",
    `--rpc-listen-port=${rpcPort}`,
  ];
  if (opts.trackerOff) args.push("--bt-exclude-tracker=*");
  if (opts.uploadLimit !== undefined) args.push(`--max-upload-limit=${opts.uploadLimit}`);
  args.push(opts.torrent);
  const proc = new Proc("aria2 seeder", "aria2c", args);
  try {
    await until(
      proc,
      async () => {
        // aria2 goes on running without its listen port: fail at once (onFreshPort retries).
        if (proc.stdoutText.includes("Address already in use")) {
          throw new InteropError(`aria2 seeder: cannot bind; ${proc.diagnosis()}`);
        }
        if (proc.stdoutText.includes("Checksum error detected")) {
          throw new InteropError(
            `aria2 seeder: the data under ${opts.data} failed verification; ${proc.diagnosis()}`,
          );
        }
        return proc.stdoutText.includes("Verification finished successfully") &&
          proc.stdoutText.includes("listening on TCP port") && await tcpAccepts(port);
      },
      opts.readyTimeoutMs ?? 30_000,
      "aria2 seeder",
    );
  } catch (e) {
    await proc.stop();
    throw e;
  }
  const uploadedBytes = async () => {
    const res = await fetch(`http://${LOOPBACK}:${rpcPort}/jsonrpc`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: "1",
        method: "aria2.tellActive",
        params: [["uploadLength"]],
      }),
    });
    const body: unknown = await res.json();
    const result = (body as { result?: unknown }).result;
    if (!res.ok || !Array.isArray(result)) {
      throw new InteropError(`aria2 RPC tellActive failed: ${JSON.stringify(body)}`);
    }
    let sum = 0;
    for (const item of result) sum += Number((item as { uploadLength?: string }).uploadLength ?? 0);
    return sum;
  };
  return { port, stop: () => proc.stop(), diagnosis: () => proc.diagnosis(), uploadedBytes };
}

/**
 * Downloads a `.torrent` with aria2 into `out` (`-d`), exiting when done (`--seed-time=0`).
 * With `udpTracker`, aria2's DHT is switched on (it sends UDP tracker requests through its DHT
 * socket) with a fresh routing-table file and a dead entry point on 127.0.0.1, so it can only
 * talk to the torrent's trackers. `seconds` is wall time including aria2's ~3 s of tick overhead.
 *
 * @example
 * ```ts ignore
 * const { seconds } = await aria2Download({ torrent, out, udpTracker: true });
 * ```
 */
export async function aria2Download(
  opts: { torrent: string; out: string; timeoutSec?: number; udpTracker?: boolean; port?: number },
): Promise<{ seconds: number }> {
  const timeoutSec = opts.timeoutSec ?? 60;
  const port = opts.port ?? await freeTcpUdpPort();
  const args = [
    ...ARIA2_COMMON,
    "--seed-time=0",
    `--listen-port=${port}`,
    `--dir=${opts.out}`,
    `--bt-stop-timeout=${Math.max(1, Math.ceil(timeoutSec))}`,
  ];
  let dhtDir: string | undefined;
  if (opts.udpTracker) {
    dhtDir = await Deno.makeTempDir({ prefix: "aria2-dht-" });
    const dhtPort = await freeTcpUdpPort();
    const deadEnd = await freeTcpUdpPort(); // nothing listens there
    args.push(
      "--enable-dht=true",
      `--dht-listen-port=${dhtPort}`,
      `--dht-file-path=${dhtDir}/dht.dat`,
      `--dht-entry-point=${LOOPBACK}:${deadEnd}`,
    );
  } else {
    args.push("--enable-dht=false");
  }
  args.push(opts.torrent);
  const started = performance.now();
  const proc = new Proc("aria2 download", "aria2c", args);
  try {
    const status = await proc.finish(timeoutSec * 1000 + 5000, "aria2 download");
    if (!status.success) throw new InteropError(`aria2 download failed: ${proc.diagnosis()}`);
    return { seconds: (performance.now() - started) / 1000 };
  } finally {
    await proc.stop();
    if (dhtDir) await Deno.remove(dhtDir, { recursive: true }).catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
// Comparing outputs

async function readFull(file: Deno.FsFile, buf: Uint8Array): Promise<number> {
  let off = 0;
  while (off < buf.length) {
    const n = await file.read(buf.subarray(off));
    if (n === null) break;
    off += n;
  }
  return off;
}

/** Bytes read from each file per comparison step. */
const COMPARE_CHUNK = 1 << 20;

/**
 * True when two files hold the same bytes (sizes first, then 1 MiB at a time, so size does not
 * cost memory). False when either is missing or not a regular file.
 *
 * @example
 * ```ts
 * import { filesEqual } from "./fixtures.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a`, "x");
 * await Deno.writeTextFile(`${dir}/b`, "x");
 * console.log(await filesEqual(`${dir}/a`, `${dir}/b`)); // true
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function filesEqual(a: string, b: string): Promise<boolean> {
  let sa: Deno.FileInfo, sb: Deno.FileInfo;
  try {
    [sa, sb] = await Promise.all([Deno.stat(a), Deno.stat(b)]);
  } catch {
    return false;
  }
  if (!sa.isFile || !sb.isFile || sa.size !== sb.size) return false;
  const fa = await Deno.open(a, { read: true });
  try {
    const fb = await Deno.open(b, { read: true });
    try {
      const ba = new Uint8Array(COMPARE_CHUNK), bb = new Uint8Array(COMPARE_CHUNK);
      while (true) {
        const [na, nb] = await Promise.all([readFull(fa, ba), readFull(fb, bb)]);
        if (na !== nb) return false;
        if (na === 0) return true;
        for (let i = 0; i < na; i++) if (ba[i] !== bb[i]) return false;
      }
    } finally {
      fb.close();
    }
  } finally {
    fa.close();
  }
}

async function* walkFiles(root: string, rel = ""): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(rel ? `${root}/${rel}` : root)) {
    const path = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory) yield* walkFiles(root, path);
    else yield path;
  }
}

/**
 * True when every file under folder `a` has an equal file at the same relative path under `b`
 * (extra files in `b`, such as a client's leftovers, are ignored). False when `a` is empty.
 *
 * @example
 * ```ts
 * import { treesEqual } from "./fixtures.ts";
 * const a = await Deno.makeTempDir(), b = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${a}/f`, "x");
 * await Deno.writeTextFile(`${b}/f`, "x");
 * console.log(await treesEqual(a, b)); // true
 * await Deno.remove(a, { recursive: true });
 * await Deno.remove(b, { recursive: true });
 * ```
 */
export async function treesEqual(a: string, b: string): Promise<boolean> {
  let any = false;
  for await (const rel of walkFiles(a)) {
    any = true;
    if (!await filesEqual(`${a}/${rel}`, `${b}/${rel}`)) return false;
  }
  return any;
}

/** Our client's own bookkeeping folder inside its output folder (resume records, part files). */
export const OWN_FOLDER = ".bittorrent";

/** Relative paths of the files under `root`, sorted, without our client's own folder. */
async function fileList(root: string): Promise<string[]> {
  const out: string[] = [];
  for await (const rel of walkFiles(root)) {
    if (rel !== OWN_FOLDER && !rel.startsWith(`${OWN_FOLDER}/`)) out.push(rel);
  }
  return out.sort();
}

/**
 * `source` and our client's `copy` hold the same files with the same bytes and nothing else,
 * apart from our client's own folder.
 *
 * @example
 * ```ts
 * import { sameTree } from "./fixtures.ts";
 * const a = await Deno.makeTempDir(), b = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${a}/x`, "1");
 * await Deno.writeTextFile(`${b}/x`, "1");
 * await Deno.mkdir(`${b}/.bittorrent`);
 * await Deno.writeTextFile(`${b}/.bittorrent/r.resume`, "{}");
 * console.log(await sameTree(a, b)); // true
 * await Deno.remove(a, { recursive: true });
 * await Deno.remove(b, { recursive: true });
 * ```
 */
export async function sameTree(source: string, copy: string): Promise<boolean> {
  const [a, b] = await Promise.all([fileList(source), fileList(copy)]);
  return a.join("\n") === b.join("\n") && await treesEqual(source, copy);
}

// ---------------------------------------------------------------------------------------------
// Our own client, as a user runs it

/** Path of our CLI entry point (`src/main.ts`). */
export const OUR_MAIN: string = decodeURIComponent(
  new URL("../../src/main.ts", import.meta.url).pathname,
);

/** Our client (`deno run src/main.ts`) running as a child process; see {@link runOurClient}. */
export interface OurClient {
  /** The `--port` it was given (it listens there unless the port was taken meanwhile). */
  port: number;
  /** Its private `--log-dir` (removed by `stop()`). */
  logDir: string;
  /** Settles with the exit status. */
  status: Promise<Deno.CommandStatus>;
  /** Everything it printed on stdout so far (tail). */
  stdout(): string;
  /** Everything it printed on stderr so far (tail). */
  stderr(): string;
  /** Sends SIGINT, as Ctrl-C does; its graceful shutdown should follow. */
  interrupt(): void;
  /**
   * Waits for the exit, at most `timeoutMs` (then kills it and throws), and returns the exit
   * code and the seconds since it was started.
   */
  wait(timeoutMs: number): Promise<{ code: number; seconds: number }>;
  /** Tail of its log file (empty when it wrote none yet). */
  logTail(chars?: number): Promise<string>;
  /** Exit state, stdout/stderr tails and the log tail, for failure messages. */
  diagnose(): Promise<string>;
  /** Kills it if still running (SIGTERM, then SIGKILL), drains output, removes the log dir. */
  stop(): Promise<void>;
}

/**
 * Runs our client as a user would: `deno run --allow-all src/main.ts -i INPUT -o OUT
 * --port PORT --log-dir TMP -v [--seed] [--no-dht | --dht-bootstrap NODES] ...extraArgs`, with
 * stdout a pipe (so it prints plain status lines). `torrent` is a `.torrent` path or a magnet
 * link. The log goes to a fresh temp folder, readable through `logTail()`.
 *
 * The DHT never leaves the machine: without `dhtBootstrap` (loopback `HOST:PORT` nodes) it is
 * off (`--no-dht`), since its default bootstrap contacts are the public routers; and
 * `XDG_STATE_HOME` points at a fresh temp folder, so no saved nodes are read and the user's
 * real DHT state is never written.
 *
 * @example
 * ```ts ignore
 * const ours = await runOurClient({ torrent, out });
 * const { code, seconds } = await ours.wait(60_000);
 * await ours.stop();
 * ```
 */
export async function runOurClient(opts: {
  torrent: string;
  out: string;
  port?: number;
  seed?: boolean;
  /** Loopback DHT nodes to bootstrap from; the DHT is off without them. */
  dhtBootstrap?: string[];
  extraArgs?: string[];
}): Promise<OurClient> {
  for (const node of opts.dhtBootstrap ?? []) {
    if (!/^127\.0\.0\.1:\d{1,5}$/.test(node)) {
      throw new InteropError(`DHT bootstrap nodes must be 127.0.0.1:PORT, got ${node}`);
    }
  }
  const port = opts.port ?? await freeTcpUdpPort();
  const logDir = await Deno.makeTempDir({ prefix: "bittorrent-log-" });
  const stateDir = await Deno.makeTempDir({ prefix: "bittorrent-state-" });
  const removeDirs = async () => {
    await Deno.remove(logDir, { recursive: true }).catch(() => {});
    await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  };
  const args = [
    "run",
    "--allow-all",
    OUR_MAIN,
    "-i",
    opts.torrent,
    "-o",
    opts.out,
    "--port",
    String(port),
    "--log-dir",
    logDir,
    "-v",
  ];
  if (opts.seed) args.push("--seed");
  if (opts.dhtBootstrap && opts.dhtBootstrap.length > 0) {
    args.push("--dht-bootstrap", opts.dhtBootstrap.join(","));
  } else {
    args.push("--no-dht");
  }
  args.push(...(opts.extraArgs ?? []));
  const started = performance.now();
  let proc: Proc;
  try {
    proc = new Proc("bittorrent", Deno.execPath(), args, {
      NO_COLOR: "1",
      XDG_STATE_HOME: stateDir,
    });
  } catch (e) {
    await removeDirs();
    throw e;
  }
  const logTail = async (chars = 6000) => {
    let text = "";
    try {
      for await (const entry of Deno.readDir(logDir)) {
        if (entry.isFile) text += await Deno.readTextFile(`${logDir}/${entry.name}`);
      }
    } catch {
      // no log (yet)
    }
    return tail(text, chars);
  };
  const diagnose = async () => `${proc.diagnosis()}; log: ${(await logTail()) || "(empty)"}`;
  return {
    port,
    logDir,
    status: proc.status,
    stdout: () => proc.stdoutText,
    stderr: () => proc.stderrText,
    interrupt: () => {
      if (proc.exited) return;
      try {
        proc.child.kill("SIGINT");
      } catch {
        // already gone
      }
    },
    wait: async (timeoutMs) => {
      try {
        const status = await proc.finish(timeoutMs, "bittorrent");
        return { code: status.code, seconds: (performance.now() - started) / 1000 };
      } catch (e) {
        throw new InteropError(`${e instanceof Error ? e.message : e}; log: ${await logTail()}`);
      }
    },
    logTail,
    diagnose,
    stop: async () => {
      await proc.stop();
      await removeDirs();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Shared test set-up

/**
 * Checks the given tools once and returns the `ignore` value maker for tests: `missing(test,
 * ...needs)` is true (and prints why the test is skipped) when one of `needs` is not installed.
 *
 * @example
 * ```ts ignore
 * import { toolGate } from "./fixtures.ts";
 * const missing = await toolGate(["mktorrent"]);
 * console.log(typeof missing("example", "mktorrent")); // "boolean"
 * ```
 */
export async function toolGate<T extends ToolName>(
  tools: readonly T[],
): Promise<(test: string, ...needs: T[]) => boolean> {
  const installed = new Map<T, boolean>();
  for (const tool of tools) installed.set(tool, await hasTool(tool));
  return (test, ...needs) => {
    const absent = needs.filter((t) => !installed.get(t));
    if (absent.length > 0) console.log(`skipping "${test}": ${absent.join(", ")} not installed`);
    return absent.length > 0;
  };
}

/** A payload, its torrents and a running opentracker that knows its info-hash. */
export interface Swarm {
  root: string;
  /** Save path of the pristine complete data (holds the torrent's root file or folder). */
  data: string;
  /** A fresh, empty folder for a downloader. */
  out: string;
  /** Torrent announcing to the tracker over HTTP. */
  httpTorrent: string;
  /** The same torrent (same info-hash) announcing over UDP only. */
  udpTorrent: string;
  infoHash: string;
  tracker: Tracker;
  /** Name of the torrent's root file or folder under `data`. */
  rootName: string;
}

/**
 * Makes the payload (in a new temp folder named with `prefix`) and starts opentracker. The
 * tracker must know the info-hash before it starts and the torrent must name the tracker's port:
 * the info-hash does not depend on the announce URL, so the torrent is made against a
 * placeholder first, then remade. Undo with {@link dropSwarm}.
 *
 * @example
 * ```ts ignore
 * const swarm = await makeSwarm([{ path: "p/a.bin", size: 1 << 20 }], 1, "interop-x-");
 * await dropSwarm(swarm);
 * ```
 */
export async function makeSwarm(
  files: PayloadFile[],
  seed: number,
  prefix: string,
): Promise<Swarm> {
  if (files.length === 0) throw new InteropError("a swarm needs at least one payload file");
  const root = await Deno.makeTempDir({ prefix });
  try {
    const data = `${root}/seed`;
    await makePayload(data, { files, seed });
    const rootName = files[0].path.split("/")[0];
    const httpTorrent = `${root}/http.torrent`;
    const udpTorrent = `${root}/udp.torrent`;
    const source = `${data}/${rootName}`;
    await mktorrent({ source, out: httpTorrent, announce: ["http://127.0.0.1:1/announce"] });
    const infoHash = await infoHashHex(httpTorrent);
    const tracker = await startOpentracker({ infoHashesHex: [infoHash] });
    try {
      await mktorrent({ source, out: httpTorrent, announce: [tracker.httpUrl] });
      await mktorrent({ source, out: udpTorrent, announce: [tracker.udpUrl] });
      for (const torrent of [httpTorrent, udpTorrent]) {
        const remade = await infoHashHex(torrent);
        if (remade !== infoHash) {
          throw new InteropError(`${torrent}: info-hash ${remade} changed from ${infoHash}`);
        }
      }
      const out = `${root}/out`;
      await Deno.mkdir(out);
      return { root, data, out, httpTorrent, udpTorrent, infoHash, tracker, rootName };
    } catch (e) {
      await tracker.stop();
      throw e;
    }
  } catch (e) {
    await Deno.remove(root, { recursive: true });
    throw e;
  }
}

/** Stops the swarm's tracker and removes its folder. */
export async function dropSwarm(swarm: Swarm): Promise<void> {
  await swarm.tracker.stop();
  await Deno.remove(swarm.root, { recursive: true });
}
