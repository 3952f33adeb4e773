/**
 * A blocklist: address ranges no peer connection is made with, either way. It reads the lists
 * users download for this (PeerGuardian's P2P text, eMule's DAT) and plain addresses and CIDR
 * blocks, IPv4 and IPv6; an address is looked up in its family's merged, sorted ranges.
 *
 * @module
 */
import { concatBytes, fetchCapped, isWebAddress, parseIp } from "../util/mod.ts";

/** One family's ranges, merged and sorted: `starts[i]..ends[i]`, inclusive. */
interface Ranges<K extends number | bigint> {
  starts: K[];
  ends: K[];
}

/** What reading a list found. */
export interface BlocklistParse {
  list: Blocklist;
  /** Lines that are neither a range (blocked or allowed), a comment nor blank. */
  skipped: number;
}

/** A list larger than this (or, gzipped, larger than this once unpacked) is not one. */
const MAX_LIST_BYTES = 256 << 20;
/** How long fetching a list may take. */
const FETCH_TIMEOUT_MS = 60_000;

/** DAT lines with an access level above this allow their range (eMule's rule). */
const DAT_BLOCKING_LEVEL = 127;

/**
 * Ranges of addresses to refuse.
 *
 * @example
 * ```ts
 * import { Blocklist } from "./blocklist.ts";
 * const { list, skipped } = Blocklist.parse([
 *   "# a comment",
 *   "Some org:10.0.0.0-10.0.0.255",
 *   "192.168.1.0 - 192.168.1.255 , 000 , a DAT line",
 *   "2001:db8::/32",
 *   "not a range",
 * ].join("\n"));
 * console.log(list.size, skipped, list.blocks("10.0.0.7"), list.blocks("10.0.1.1")); // 3 1 true false
 * console.log(list.blocks("2001:db8::1"), list.blocks("::ffff:192.168.1.9")); // true true
 * ```
 */
export class Blocklist {
  readonly #v4: Ranges<number>;
  readonly #v6: Ranges<bigint>;

  private constructor(v4: Ranges<number>, v6: Ranges<bigint>) {
    this.#v4 = v4;
    this.#v6 = v6;
  }

  /** A list that blocks nothing. */
  static readonly EMPTY: Blocklist = new Blocklist({ starts: [], ends: [] }, {
    starts: [],
    ends: [],
  });

  /**
   * Reads a list's text: one entry a line, each `name:first-last` (P2P), `first - last ,
   * level , name` (DAT; a level above 127 allows its range, which is then left out),
   * `address/bits` or one address. `#` starts a comment.
   */
  static parse(text: string): BlocklistParse {
    const v4: [number, number][] = [], v6: [bigint, bigint][] = [];
    let skipped = 0;
    for (const raw of text.split("\n")) {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) continue;
      const range = parseLine(line);
      if (range === undefined) skipped++;
      else if (range === ALLOWED) continue;
      else if (typeof range[0] === "number") v4.push(range as [number, number]);
      else v6.push(range as [bigint, bigint]);
    }
    return { list: new Blocklist(merge(v4), merge(v6)), skipped };
  }

  /** Ranges held, once merged. */
  get size(): number {
    return this.#v4.starts.length + this.#v6.starts.length;
  }

  /** True when `host` (an address; IPv4-mapped IPv6 counts as IPv4) is in a range. */
  blocks(host: string): boolean {
    const k = key(host.startsWith("[") ? host.slice(1, -1) : host);
    if (k === undefined) return false;
    return typeof k === "number" ? inRanges(this.#v4, k) : inRanges(this.#v6, k);
  }
}

/** A DAT line whose level allows its range. */
const ALLOWED = "allowed";

/** A line's range, first and last of one family; `ALLOWED`; or undefined when it is none. */
function parseLine(line: string): [number, number] | [bigint, bigint] | typeof ALLOWED | undefined {
  if (line.includes(",")) {
    const dat = /^([0-9a-f.:]+)\s*-\s*([0-9a-f.:]+)\s*,\s*(\d+)\s*(?:,.*)?$/i.exec(line);
    if (!dat) return undefined;
    return Number(dat[3]) > DAT_BLOCKING_LEVEL ? ALLOWED : pair(dat[1], dat[2]);
  }
  const slash = line.indexOf("/");
  if (slash >= 0) return block(line.slice(0, slash), line.slice(slash + 1));
  // P2P: the name may hold colons; the range is what follows the last one.
  const dash = line.lastIndexOf("-");
  if (dash >= 0) {
    return pair(line.slice(line.lastIndexOf(":", dash) + 1, dash), line.slice(dash + 1));
  }
  return pair(line, line);
}

/** Two addresses of one family, in order. */
function pair(a: string, b: string): [number, number] | [bigint, bigint] | undefined {
  const first = key(a.trim()), last = key(b.trim());
  if (first === undefined || last === undefined || typeof first !== typeof last) return undefined;
  return (first <= last ? [first, last] : [last, first]) as [number, number] | [bigint, bigint];
}

/** The first and last address of `address/bits`. */
function block(text: string, bitsText: string): [number, number] | [bigint, bigint] | undefined {
  const base = key(text.trim()), bits = /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
  if (base === undefined) return undefined;
  if (typeof base === "number") {
    if (!(bits <= 32)) return undefined;
    const size = 2 ** (32 - bits), first = base - (base % size);
    return [first, first + size - 1];
  }
  if (!(bits <= 128)) return undefined;
  const size = 1n << BigInt(128 - bits), first = base - (base % size);
  return [first, first + size - 1n];
}

/**
 * An address as a number (IPv4, and IPv4-mapped IPv6) or a bigint (IPv6). Lists pad IPv4
 * octets with zeros (`010.001.000.001`), which are read as decimal.
 */
function key(text: string): number | bigint | undefined {
  const quad = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (quad) {
    const o = quad.slice(1).map(Number);
    return o.every((x) => x <= 255) ? o[0] * 2 ** 24 + o[1] * 65536 + o[2] * 256 + o[3] : undefined;
  }
  const bytes = parseIp(text);
  if (bytes === undefined) return undefined;
  if (bytes.length === 4) return toNumber(bytes);
  let n = 0n;
  for (const x of bytes) n = (n << 8n) | BigInt(x);
  return n;
}

function toNumber(b: Uint8Array): number {
  return ((b[0] << 24) >>> 0) + (b[1] << 16) + (b[2] << 8) + b[3];
}

/** Sorts the ranges and joins those that overlap or touch. */
function merge<K extends number | bigint>(ranges: [K, K][]): Ranges<K> {
  ranges.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const starts: K[] = [], ends: K[] = [];
  for (const [start, end] of ranges) {
    const last = ends.length - 1;
    if (last >= 0 && touches(ends[last], start)) {
      if (end > ends[last]) ends[last] = end;
    } else {
      starts.push(start);
      ends.push(end);
    }
  }
  return { starts, ends };
}

/** True when a range ending at `end` reaches `start` (overlaps or is next to it). */
function touches(end: number | bigint, start: number | bigint): boolean {
  return typeof end === "bigint" ? (start as bigint) <= end + 1n : (start as number) <= end + 1;
}

/** Binary search: the last range starting at or before `key`, and whether it holds `key`. */
function inRanges<K extends number | bigint>({ starts, ends }: Ranges<K>, key: K): boolean {
  let lo = 0, hi = starts.length - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid] <= key) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found >= 0 && key <= ends[found];
}

/**
 * Reads a blocklist from a file, or from an http(s) address; gzipped or not. Rejects with why,
 * in a few words, when it cannot be had.
 *
 * @example
 * ```ts
 * import { loadBlocklist } from "./blocklist.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "Ads:10.1.0.0-10.1.255.255\n");
 * console.log((await loadBlocklist(path)).list.blocks("10.1.2.3")); // true
 * await Deno.remove(path);
 * ```
 */
export async function loadBlocklist(source: string): Promise<BlocklistParse> {
  return await parseBlocklistBytes(await fetchBlocklist(source));
}

/**
 * The bytes of the list at `source` (a file, or an http(s) address), as they are; a fetch ends
 * when `signal` aborts.
 */
export async function fetchBlocklist(source: string, signal?: AbortSignal): Promise<Uint8Array> {
  if (isWebAddress(source)) {
    const got = await fetchCapped(source, {
      timeoutMs: FETCH_TIMEOUT_MS,
      maxBytes: MAX_LIST_BYTES,
      signal,
    });
    if (got.status !== 200) throw new Error(`the server answered ${got.status}`);
    return got.body;
  }
  const info = await Deno.stat(source);
  if (info.size > MAX_LIST_BYTES) throw new Error("larger than a blocklist can be");
  return await Deno.readFile(source);
}

/** A list's bytes read: gunzipped first when gzipped; a zip archive is refused. */
export async function parseBlocklistBytes(bytes: Uint8Array): Promise<BlocklistParse> {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = await gunzip(bytes);
  if (bytes[0] === 0x50 && bytes[1] === 0x4b) throw new Error("a zip archive: unpack it first");
  return Blocklist.parse(new TextDecoder().decode(bytes));
}

/** `bytes` unpacked, up to `MAX_LIST_BYTES`. */
async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const reader = new Blob([bytes.slice()]).stream().pipeThrough(new DecompressionStream("gzip"))
    .getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > MAX_LIST_BYTES) {
      await reader.cancel();
      throw new Error("larger than a blocklist can be, once unpacked");
    }
    parts.push(value);
  }
  return concatBytes(...parts);
}
