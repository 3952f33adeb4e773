/**
 * Shared pieces of the integration tests: deterministic payloads, seeders and leechers of our
 * own (`TorrentJob` on 127.0.0.1), a log that records what the engine says, and polling.
 *
 * @module
 */
import { assertEquals } from "../assert.ts";
import {
  PeerHub,
  type PeerHubOptions,
  TorrentJob,
  type TorrentJobOptions,
} from "../../src/client/mod.ts";
import type { SessionLog } from "../../src/engine/mod.ts";
import { type BufferFile, parseTorrent, type Torrent } from "../../src/metainfo/mod.ts";
import { xorshiftBytes } from "../random.ts";

/** Loopback only: no test may talk to any other address. */
export const LOOPBACK = "127.0.0.1";

/** Deterministic pseudo-random bytes (xorshift32, from tests/random.ts), so failures are reproducible. */
export const patternBytes = xorshiftBytes;

/** All file contents of a torrent laid end to end, as the pieces see them. */
export function concat(files: readonly BufferFile[]): Uint8Array {
  const total = files.reduce((n, f) => n + f.data.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const f of files) {
    out.set(f.data, at);
    at += f.data.length;
  }
  return out;
}

/** Writes a torrent's files as a seeder expects them under `dir` (`dir/name/...`). */
export async function writePayload(
  dir: string,
  name: string,
  files: Uint8Array | readonly BufferFile[],
): Promise<void> {
  if (files instanceof Uint8Array) {
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeFile(`${dir}/${name}`, files);
    return;
  }
  for (const f of files) {
    const path = `${dir}/${name}/${f.path.join("/")}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(path, f.data);
  }
}

/** Fails unless `dir` holds exactly the torrent's files with the given contents. */
export async function assertPayload(
  dir: string,
  name: string,
  files: Uint8Array | readonly BufferFile[],
): Promise<void> {
  if (files instanceof Uint8Array) {
    assertEquals(await Deno.readFile(`${dir}/${name}`), files, name);
    return;
  }
  for (const f of files) {
    const path = `${dir}/${name}/${f.path.join("/")}`;
    const got = await Deno.readFile(path);
    assertEquals(got.length, f.data.length, `length of ${f.path.join("/")}`);
    assertEquals(got, f.data, f.path.join("/"));
  }
}

/** A `SessionLog` that keeps every line, so tests can look for bans and hash failures. */
export class MemoryLog implements SessionLog {
  readonly lines: string[] = [];
  debug(message: string): void {
    this.lines.push(`debug ${message}`);
  }
  info(message: string): void {
    this.lines.push(`info ${message}`);
  }
  warn(message: string): void {
    this.lines.push(`warn ${message}`);
  }
  /** Lines containing `text`. */
  find(text: string): string[] {
    return this.lines.filter((l) => l.includes(text));
  }
}

/** Engine timeouts short enough for tests. */
export const FAST_SESSION: TorrentJobOptions["session"] = {
  tickMs: 100,
  connectTimeoutMs: 2_000,
  requestTimeoutMs: 2_000,
};

/**
 * Opens a job as a peer of its own, on a hub of its own (its own port on 127.0.0.1, peer id,
 * limits; TCP only unless `hub` says otherwise), which its `stop()` stops too; trackers off
 * unless asked (`trackers: true`: the torrent's own).
 */
export async function openJob(
  torrent: Torrent,
  output: string,
  opts: Partial<Omit<TorrentJobOptions, "hub" | "trackers">> & {
    hub?: PeerHubOptions;
    trackers?: true | string[][];
  } = {},
): Promise<TorrentJob> {
  const hub = await PeerHub.open({
    port: 0,
    hostname: LOOPBACK,
    utp: false,
    onIncomingError: (message) => opts.log?.debug(message),
    ...opts.hub,
  });
  return await TorrentJob.open({
    torrent,
    output,
    ...opts,
    trackers: opts.trackers === true ? torrent.announce : opts.trackers ?? [],
    hub,
    ownsHub: true,
    session: { ...FAST_SESSION, ...opts.session },
  });
}

/** The address other peers dial to reach `job`. */
export function addressOf(job: TorrentJob): { host: string; port: number } {
  return { host: LOOPBACK, port: job.port };
}

/** Polls `check` every 20 ms until it is true; throws after `timeoutMs` naming `what`. */
export async function waitFor(
  what: string,
  check: () => boolean,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Rejects when `promise` does not settle in `ms`, so a stuck download fails instead of hanging. */
export async function within<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Parses torrent bytes (a shorthand for the tests). */
export function torrentOf(bytes: Uint8Array): Torrent {
  return parseTorrent(bytes);
}
