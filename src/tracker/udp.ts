/**
 * UDP tracker client (BEP 15): connect, announce and scrape over `node:dgram`, with the BEP's
 * retransmission schedule (timeout `base * 2^n`), cached connection ids, transaction-id and
 * size checks, and junk packets ignored.
 *
 * @module
 */
import dgram from "node:dgram";
import { lookup } from "node:dns/promises";
import { checkAnnounceParams, type ScrapeOptions } from "./http.ts";
import { parseIPv4, parseIPv6 } from "../util/mod.ts";
import {
  DEFAULT_INTERVAL_LIMITS,
  parseUdpResponse,
  UdpAction,
  type UdpResponse,
} from "./response.ts";
import {
  type AnnounceEvent,
  type AnnounceParams,
  type AnnounceResult,
  type IntervalLimits,
  type ScrapeEntry,
  TrackerError,
  type UdpOptions,
} from "./types.ts";

/** The magic connection id of a connect request (BEP 15). */
export const UDP_PROTOCOL_ID = 0x41727101980n;
/** Most info-hashes in one UDP scrape (BEP 15: about 74 fit in a packet). */
export const MAX_UDP_SCRAPE = 74;

const DEFAULTS: Required<UdpOptions> = {
  timeoutMs: 15_000,
  retries: 2,
  connectionIdTtlMs: 60_000,
};
const MAX_CACHE = 512;

/** Connection ids by tracker address; reused while fresh, as BEP 15 allows. */
const connectionIds = new Map<string, { id: bigint; expires: number }>();

/** Forgets every cached UDP connection id (for tests and after network changes). */
export function clearUdpConnectionCache(): void {
  connectionIds.clear();
}

/** Where a `udp://host:port` URL points, resolved. */
interface Target {
  address: string;
  port: number;
  family: 4 | 6;
  key: string;
}

/** The event code of BEP 15. */
function eventCode(e: AnnounceEvent): number {
  return e === "completed" ? 1 : e === "started" ? 2 : e === "stopped" ? 3 : 0;
}

function randomU32(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/** Host and port of a `udp://` URL; throws `TrackerError` when it has neither. */
export function parseUdpUrl(url: string): { host: string; port: number } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TrackerError("invalid tracker URL", "unsupported");
  }
  if (u.protocol !== "udp:") throw new TrackerError("not a udp:// URL", "unsupported");
  const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  const port = Number(u.port);
  if (host === "") throw new TrackerError("URL has no host", "unsupported");
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TrackerError("URL has no valid port", "unsupported");
  }
  return { host, port };
}

async function resolve(url: string, deadline: Promise<never>): Promise<Target> {
  const { host, port } = parseUdpUrl(url);
  const mk = (address: string, family: 4 | 6): Target => ({
    address,
    port,
    family,
    key: `${address}|${port}`,
  });
  if (parseIPv4(host) !== undefined) return mk(host, 4);
  if (parseIPv6(host) !== undefined) return mk(host, 6);
  let found: { address: string; family: number }[];
  try {
    found = await Promise.race([lookup(host, { all: true }), deadline]);
  } catch (e) {
    if (e instanceof TrackerError) throw e;
    throw new TrackerError(`cannot resolve host ${host}`, "network");
  }
  const v4 = found.find((a) => a.family === 4);
  const v6 = found.find((a) => a.family === 6);
  if (v4) return mk(v4.address, 4);
  if (v6) return mk(v6.address, 6);
  throw new TrackerError(`cannot resolve host ${host}`, "network");
}

function sameAddress(a: string, b: string, family: 4 | 6): boolean {
  if (family === 4) return a === b;
  const x = parseIPv6(a), y = parseIPv6(b);
  return x !== undefined && y !== undefined && x.every((v, i) => v === y[i]);
}

/**
 * One request's socket: sends packets, waits for the answer with a given transaction id, and
 * fails on abort, overall deadline or socket error. Everything it starts, `close` stops.
 */
class Exchange {
  readonly #socket: dgram.Socket;
  readonly #target: Target;
  readonly #limits: IntervalLimits;
  #fatal: TrackerError | undefined;
  #waiter:
    | {
      tid: number;
      action: number;
      resolve: (r: UdpResponse | undefined) => void;
      reject: (e: TrackerError) => void;
      timer: ReturnType<typeof setTimeout>;
    }
    | undefined;
  #closed: Promise<void> | undefined;

  constructor(target: Target, limits: IntervalLimits) {
    this.#target = target;
    this.#limits = limits;
    this.#socket = dgram.createSocket(target.family === 6 ? "udp6" : "udp4");
    this.#socket.on("message", (msg: Uint8Array, rinfo: dgram.RemoteInfo) => {
      this.#onMessage(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), rinfo);
    });
    this.#socket.on("error", (err: Error) => {
      this.fail(new TrackerError(`network error: ${err.message}`, "network"));
    });
  }

  #onMessage(packet: Uint8Array, rinfo: dgram.RemoteInfo): void {
    const w = this.#waiter;
    if (w === undefined) return;
    if (rinfo.port !== this.#target.port) return;
    if (!sameAddress(rinfo.address, this.#target.address, this.#target.family)) return;
    let r: UdpResponse;
    try {
      r = parseUdpResponse(packet, this.#target.family, this.#limits);
    } catch {
      return; // junk: keep waiting
    }
    if (r.transactionId !== w.tid) return;
    if (r.action === "error") {
      connectionIds.delete(this.#target.key); // most errors mean a stale connection id
      this.#settle();
      w.reject(new TrackerError(`failure reason: ${r.message || "(empty)"}`, "failure"));
      return;
    }
    const expected = r.action === "connect"
      ? UdpAction.connect
      : r.action === "announce"
      ? UdpAction.announce
      : UdpAction.scrape;
    if (expected !== w.action) return;
    this.#settle();
    w.resolve(r);
  }

  #settle(): void {
    if (this.#waiter !== undefined) clearTimeout(this.#waiter.timer);
    this.#waiter = undefined;
  }

  /** Ends the exchange with `err`: the current and every later wait rejects with it. */
  fail(err: TrackerError): void {
    this.#fatal ??= err;
    const w = this.#waiter;
    this.#settle();
    w?.reject(this.#fatal);
  }

  /** Sends `packet` and waits up to `timeoutMs` for an answer; `undefined` means no answer. */
  send(
    packet: Uint8Array,
    tid: number,
    action: number,
    timeoutMs: number,
  ): Promise<UdpResponse | undefined> {
    if (this.#fatal) return Promise.reject(this.#fatal);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#settle();
        resolve(undefined);
      }, timeoutMs);
      this.#waiter = { tid, action, resolve, reject, timer };
      this.#socket.send(packet, this.#target.port, this.#target.address, (err) => {
        if (err) this.fail(new TrackerError(`could not send: ${err.message}`, "network"));
      });
    });
  }

  close(): Promise<void> {
    this.#settle();
    this.#closed ??= new Promise((resolve) => {
      try {
        this.#socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
    return this.#closed;
  }
}

/**
 * Runs one UDP request: resolve, connect (or reuse a fresh connection id), send the request
 * built by `build`, retransmitting on silence with timeout `base * 2^n`. `n` counts every
 * timeout of the whole request, so a silent tracker costs at most `base * (2^(retries+1) - 1)`.
 */
async function udpRequest(
  url: string,
  action: number,
  build: (connectionId: bigint, tid: number) => Uint8Array,
  opts: {
    signal?: AbortSignal;
    timeoutMs?: number;
    udp?: UdpOptions;
    limits?: IntervalLimits;
  },
): Promise<UdpResponse> {
  const cfg = { ...DEFAULTS, ...opts.udp };
  const limits = opts.limits ?? DEFAULT_INTERVAL_LIMITS;
  if (opts.signal?.aborted) throw new TrackerError("request aborted", "aborted", url);
  let exchange: Exchange | undefined;
  let rejectDeadline: (e: TrackerError) => void = () => {};
  const deadline = new Promise<never>((_, reject) => (rejectDeadline = reject));
  deadline.catch(() => {});
  let stopped: TrackerError | undefined;
  const stop = (err: TrackerError) => {
    stopped ??= err;
    rejectDeadline(err);
    exchange?.fail(err);
  };
  const onAbort = () => stop(new TrackerError("request aborted", "aborted"));
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  const overall = opts.timeoutMs === undefined ? undefined : setTimeout(
    () => stop(new TrackerError(`timed out after ${opts.timeoutMs} ms`, "timeout")),
    opts.timeoutMs,
  );
  try {
    const target = await resolve(url, deadline);
    const ex = exchange = new Exchange(target, limits);
    if (stopped !== undefined) ex.fail(stopped);
    let n = 0;
    const waitMs = () => cfg.timeoutMs * 2 ** n;
    const silent = () => {
      n++;
      if (n > cfg.retries) {
        throw new TrackerError(`timed out (no answer after ${cfg.retries + 1} tries)`, "timeout");
      }
    };
    const connectTid = randomU32();
    const requestTid = randomU32();
    const connect = new Uint8Array(16);
    const cv = new DataView(connect.buffer);
    cv.setBigUint64(0, UDP_PROTOCOL_ID);
    cv.setUint32(8, UdpAction.connect);
    cv.setUint32(12, connectTid);
    while (true) {
      const cached = connectionIds.get(target.key);
      let connectionId: bigint;
      if (cached !== undefined && cached.expires > Date.now()) {
        connectionId = cached.id;
      } else {
        const r = await ex.send(connect, connectTid, UdpAction.connect, waitMs());
        if (r === undefined) {
          silent();
          continue;
        }
        if (r.action !== "connect") throw new TrackerError("answered connect with wrong action");
        connectionId = r.connectionId;
        if (connectionIds.size >= MAX_CACHE) connectionIds.clear();
        connectionIds.set(target.key, {
          id: connectionId,
          expires: Date.now() + cfg.connectionIdTtlMs,
        });
      }
      const r = await ex.send(build(connectionId, requestTid), requestTid, action, waitMs());
      if (r !== undefined) return r;
      silent();
    }
  } catch (e) {
    const err = e instanceof TrackerError ? e : new TrackerError(String(e), "network");
    throw err.withUrl(url);
  } finally {
    if (overall !== undefined) clearTimeout(overall);
    opts.signal?.removeEventListener("abort", onAbort);
    await exchange?.close();
  }
}

/**
 * Announces to a UDP tracker (BEP 15). Peers come back in the family of the socket used:
 * IPv4 for an IPv4 tracker address, IPv6 for an IPv6 one.
 *
 * @example
 * ```ts
 * import { udpAnnounce } from "./udp.ts";
 * const params = {
 *   infoHash: new Uint8Array(20), peerId: new Uint8Array(20), port: 6881,
 *   uploaded: 0, downloaded: 0, left: 0, signal: AbortSignal.abort(),
 * };
 * const err = await udpAnnounce("udp://tracker.invalid:6969", params).catch((e) => e);
 * console.log(err.message); // tracker udp://tracker.invalid:6969: request aborted
 * ```
 */
export async function udpAnnounce(url: string, params: AnnounceParams): Promise<AnnounceResult> {
  try {
    checkAnnounceParams(params);
  } catch (e) {
    throw e instanceof TrackerError ? e.withUrl(url) : e;
  }
  const key = params.key ?? 0;
  const build = (connectionId: bigint, tid: number): Uint8Array => {
    const p = new Uint8Array(98);
    const v = new DataView(p.buffer);
    v.setBigUint64(0, connectionId);
    v.setUint32(8, UdpAction.announce);
    v.setUint32(12, tid);
    p.set(params.infoHash, 16);
    p.set(params.peerId, 36);
    v.setBigUint64(56, BigInt(params.downloaded));
    v.setBigUint64(64, BigInt(params.left));
    v.setBigUint64(72, BigInt(params.uploaded));
    v.setUint32(80, eventCode(params.event));
    v.setUint32(84, 0); // IP: let the tracker use the source address
    v.setUint32(88, key >>> 0);
    v.setInt32(92, params.numWant === undefined ? -1 : Math.min(params.numWant, 0x7fffffff));
    v.setUint16(96, params.port);
    return p;
  };
  const r = await udpRequest(url, UdpAction.announce, build, {
    signal: params.signal,
    timeoutMs: params.timeoutMs,
    udp: params.udp,
    limits: params.intervalLimits,
  });
  if (r.action !== "announce") {
    throw new TrackerError("answered with wrong action", "protocol", url);
  }
  return r.result;
}

/**
 * Scrapes a UDP tracker (BEP 15, at most 74 info-hashes); counts keyed by lower-case hex
 * info-hash.
 */
export async function udpScrape(
  url: string,
  infoHashes: Uint8Array[],
  opts: ScrapeOptions = {},
): Promise<Map<string, ScrapeEntry>> {
  if (infoHashes.length === 0 || infoHashes.length > MAX_UDP_SCRAPE) {
    throw new TrackerError(
      `can scrape 1 to ${MAX_UDP_SCRAPE} torrents at once`,
      "unsupported",
      url,
    );
  }
  if (infoHashes.some((h) => h.length !== 20)) {
    throw new TrackerError("invalid scrape parameters: info-hash", "unsupported", url);
  }
  const build = (connectionId: bigint, tid: number): Uint8Array => {
    const p = new Uint8Array(16 + 20 * infoHashes.length);
    const v = new DataView(p.buffer);
    v.setBigUint64(0, connectionId);
    v.setUint32(8, UdpAction.scrape);
    v.setUint32(12, tid);
    infoHashes.forEach((h, i) => p.set(h, 16 + 20 * i));
    return p;
  };
  const r = await udpRequest(url, UdpAction.scrape, build, opts);
  if (r.action !== "scrape" || r.entries.length < infoHashes.length) {
    throw new TrackerError("answered scrape with too few entries", "protocol", url);
  }
  const out = new Map<string, ScrapeEntry>();
  infoHashes.forEach((h, i) => {
    let hex = "";
    for (const b of h) hex += b.toString(16).padStart(2, "0");
    out.set(hex, r.entries[i]);
  });
  return out;
}
