/**
 * HTTP(S) tracker client (BEP 3 announce with BEP 23 compact peers, BEP 48 scrape) over
 * `fetch`, with a deadline and a cap on the answer's size.
 *
 * @module
 */
import { fetchCapped, FetchError } from "../util/mod.ts";
import { parseHttpAnnounce, parseHttpScrape } from "./response.ts";
import {
  type AnnounceParams,
  type AnnounceResult,
  type ScrapeEntry,
  TrackerError,
  type UdpOptions,
} from "./types.ts";

/** Largest tracker answer read, in bytes; a tracker sending more is broken or hostile. */
export const MAX_HTTP_BODY = 2 * 1024 * 1024;
/** Default overall deadline of an HTTP tracker request, in ms. */
export const DEFAULT_HTTP_TIMEOUT_MS = 30_000;

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * Percent-encodes raw bytes for a query string, leaving only RFC 3986 unreserved characters
 * as they are (how `info_hash` and `peer_id` travel).
 *
 * @example
 * ```ts
 * import { percentEncodeBytes } from "./http.ts";
 * console.log(percentEncodeBytes(new Uint8Array([0x41, 0x00, 0xff]))); // A%00%FF
 * ```
 */
export function percentEncodeBytes(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    s += b < 0x80 && UNRESERVED.test(c) ? c : "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return s;
}

/** Throws `TrackerError` unless the announce parameters are well formed. */
export function checkAnnounceParams(p: AnnounceParams): void {
  const bad = (what: string): never => {
    throw new TrackerError(`invalid announce parameters: ${what}`, "unsupported");
  };
  if (!(p.infoHash instanceof Uint8Array) || p.infoHash.length !== 20) bad("info-hash");
  if (!(p.peerId instanceof Uint8Array) || p.peerId.length !== 20) bad("peer id");
  if (!Number.isInteger(p.port) || p.port < 0 || p.port > 65535) bad("port");
  for (
    const [name, v] of [["uploaded", p.uploaded], ["downloaded", p.downloaded], [
      "left",
      p.left,
    ]] as const
  ) {
    if (!Number.isSafeInteger(v) || v < 0) bad(name);
  }
  if (p.numWant !== undefined && (!Number.isInteger(p.numWant) || p.numWant < 0)) bad("numwant");
  if (p.key !== undefined && (!Number.isInteger(p.key) || p.key < 0 || p.key > 0xffffffff)) {
    bad("key");
  }
}

/**
 * The full announce URL for `params`: the tracker URL with its own query kept and the BEP 3
 * parameters appended (`compact=1` always asked for).
 *
 * @example
 * ```ts
 * import { buildAnnounceUrl } from "./http.ts";
 * const url = buildAnnounceUrl("http://t.example/announce?passkey=abc", {
 *   infoHash: new Uint8Array(20), peerId: new Uint8Array(20).fill(0x41), port: 6881,
 *   uploaded: 0, downloaded: 0, left: 100, event: "started",
 * });
 * console.log(url.startsWith("http://t.example/announce?passkey=abc&info_hash=%00")); // true
 * ```
 */
export function buildAnnounceUrl(url: string, params: AnnounceParams): string {
  const hash = url.indexOf("#");
  const base = hash < 0 ? url : url.slice(0, hash);
  const q: string[] = [
    `info_hash=${percentEncodeBytes(params.infoHash)}`,
    `peer_id=${percentEncodeBytes(params.peerId)}`,
    `port=${params.port}`,
    `uploaded=${params.uploaded}`,
    `downloaded=${params.downloaded}`,
    `left=${params.left}`,
    "compact=1",
    "no_peer_id=1",
  ];
  if (params.event !== undefined) q.push(`event=${params.event}`);
  if (params.numWant !== undefined) q.push(`numwant=${params.numWant}`);
  if (params.key !== undefined) {
    q.push(`key=${params.key.toString(16).toUpperCase().padStart(8, "0")}`);
  }
  if (params.trackerId !== undefined) {
    q.push(`trackerid=${percentEncodeBytes(Uint8Array.from(params.trackerId, latin1Byte))}`);
  }
  const sep = !base.includes("?") ? "?" : base.endsWith("?") || base.endsWith("&") ? "" : "&";
  return base + sep + q.join("&");
}

function latin1Byte(c: string): number {
  return c.charCodeAt(0) & 0xff;
}

/**
 * The scrape URL for an announce URL (BEP 48: the last path segment must start with
 * `announce`, which becomes `scrape`), or `undefined` when the tracker cannot scrape.
 *
 * @example
 * ```ts
 * import { scrapeUrlFor } from "./http.ts";
 * console.log(scrapeUrlFor("http://t.example/x/announce.php?k=1")); // http://t.example/x/scrape.php?k=1
 * ```
 */
export function scrapeUrlFor(announceUrl: string): string | undefined {
  const cut = announceUrl.search(/[?#]/);
  const path = cut < 0 ? announceUrl : announceUrl.slice(0, cut);
  const rest = cut < 0 ? "" : announceUrl.slice(cut);
  const slash = path.lastIndexOf("/");
  if (slash < 0 || !path.startsWith("announce", slash + 1)) return undefined;
  return path.slice(0, slash + 1) + "scrape" + path.slice(slash + 1 + 8) + rest;
}

/** `fetchCapped`, its failures as `TrackerError`s (an oversized body is a protocol error). */
async function getCapped(
  url: string,
  signal: AbortSignal | undefined,
  timeoutMs: number,
  maxBytes: number,
): Promise<{ status: number; body: Uint8Array }> {
  try {
    return await fetchCapped(url, { signal, timeoutMs, maxBytes });
  } catch (e) {
    if (!(e instanceof FetchError)) throw e;
    throw new TrackerError(e.message, e.kind === "too-large" ? "protocol" : e.kind);
  }
}

/** Parses a tracker body, turning a non-2xx status into an error unless it carries a failure. */
function parseWithStatus<T>(status: number, body: Uint8Array, parse: (b: Uint8Array) => T): T {
  if (status >= 200 && status < 300) return parse(body);
  try {
    parse(body);
  } catch (e) {
    if (e instanceof TrackerError && e.kind === "failure") throw e;
  }
  throw new TrackerError(`answered HTTP ${status}`, "protocol");
}

/**
 * Announces to an HTTP(S) tracker. Rejects with `TrackerError` whose message names the tracker.
 *
 * @example
 * ```ts
 * import { httpAnnounce } from "./http.ts";
 * import { TrackerError } from "./types.ts";
 * const params = {
 *   infoHash: new Uint8Array(20), peerId: new Uint8Array(20), port: 6881,
 *   uploaded: 0, downloaded: 0, left: 0,
 * };
 * // A cancelled request fails with a one-line TrackerError (and never touches the network).
 * const signal = AbortSignal.abort();
 * const err = await httpAnnounce("http://tracker.invalid/announce", { ...params, signal })
 *   .catch((e) => e);
 * console.log(err instanceof TrackerError, err.message);
 * // true tracker http://tracker.invalid/announce: request aborted
 * ```
 */
export async function httpAnnounce(url: string, params: AnnounceParams): Promise<AnnounceResult> {
  try {
    checkAnnounceParams(params);
    const full = buildAnnounceUrl(url, params);
    const timeoutMs = params.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
    const { status, body } = await getCapped(full, params.signal, timeoutMs, MAX_HTTP_BODY);
    return parseWithStatus(status, body, (b) => parseHttpAnnounce(b, params.intervalLimits));
  } catch (e) {
    throw e instanceof TrackerError ? e.withUrl(url) : new TrackerError(String(e), "protocol", url);
  }
}

/** Options of a scrape request. */
export interface ScrapeOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** UDP retransmission settings (ignored for HTTP). */
  udp?: UdpOptions;
}

/**
 * Scrapes an HTTP(S) tracker (BEP 48) for the given info-hashes; counts are keyed by lower-case
 * hex info-hash. Rejects with `TrackerError` (kind `unsupported` when the URL cannot scrape).
 */
export async function httpScrape(
  url: string,
  infoHashes: Uint8Array[],
  opts: ScrapeOptions = {},
): Promise<Map<string, ScrapeEntry>> {
  try {
    const scrape = scrapeUrlFor(url);
    if (scrape === undefined) throw new TrackerError("does not support scrape", "unsupported");
    if (infoHashes.some((h) => h.length !== 20)) {
      throw new TrackerError("invalid scrape parameters: info-hash", "unsupported");
    }
    const base = scrape.split("#")[0];
    const q = infoHashes.map((h) => `info_hash=${percentEncodeBytes(h)}`).join("&");
    const sep = !base.includes("?") ? "?" : base.endsWith("?") || base.endsWith("&") ? "" : "&";
    const timeoutMs = opts.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
    const { status, body } = await getCapped(base + sep + q, opts.signal, timeoutMs, MAX_HTTP_BODY);
    return parseWithStatus(status, body, parseHttpScrape);
  } catch (e) {
    throw e instanceof TrackerError ? e.withUrl(url) : new TrackerError(String(e), "protocol", url);
  }
}
