/**
 * Transmission's tracker edits in `torrent-set`: `trackerAdd` (announce URLs, each a tier of
 * its own after the others), `trackerRemove` (tracker ids), `trackerReplace` (id and URL
 * pairs) and `trackerList` (the whole list as text: a URL a line, a blank line between tiers).
 * A tracker's id is its place in the list, tier by tier, as `torrent-get` numbers `trackers`.
 *
 * @module
 */
import { RpcError } from "./server.ts";

/** New tiers from a torrent's tiers now. */
export type TrackerEdit = (tiers: readonly (readonly string[])[]) => string[][];

/** The most trackers a torrent may be given. */
const MAX_TRACKERS = 200;
const MAX_URL_LENGTH = 2048;

/**
 * The edit `args` asks for, every part checked before it is used; undefined when it asks
 * none. The edit throws `RpcError` for a tracker id the torrent does not have.
 *
 * @example
 * ```ts
 * import { trackerEdit } from "./tracker_edits.ts";
 * const edit = trackerEdit({ trackerAdd: ["udp://b.example:80"], trackerRemove: [0] })!;
 * console.log(edit([["http://a.example/announce"]])); // [ [ "udp://b.example:80" ] ]
 * ```
 */
export function trackerEdit(args: Record<string, unknown>): TrackerEdit | undefined {
  const list = args.trackerList === undefined ? undefined : parseTrackerList(args.trackerList);
  const add = args.trackerAdd === undefined ? undefined : urls(args.trackerAdd, "trackerAdd");
  const remove = args.trackerRemove === undefined
    ? undefined
    : ids(args.trackerRemove, "trackerRemove");
  const replace = args.trackerReplace === undefined ? undefined : pairs(args.trackerReplace);
  if ([list, add, remove, replace].every((part) => part === undefined)) return undefined;
  return (now) => {
    const entries = (list ?? now).flatMap((urls, tier) => urls.map((url) => ({ tier, url })));
    const entry = (id: number) => {
      if (id >= entries.length) throw new RpcError(`there is no tracker ${id}`);
      return entries[id];
    };
    for (const [id, url] of replace ?? []) entry(id).url = url;
    const removed = new Set((remove ?? []).map(entry));
    const kept = entries.filter((e) => !removed.has(e));
    let next = Math.max(-1, ...kept.map((e) => e.tier)) + 1;
    for (const url of add ?? []) kept.push({ tier: next++, url });
    const tiers: string[][] = [], seen = new Set<string>();
    for (const { tier, url } of kept) {
      if (seen.has(url)) continue; // each tracker once, where it first comes
      seen.add(url);
      (tiers[tier] ??= []).push(url);
    }
    const out = tiers.filter((urls) => urls !== undefined);
    if (seen.size > MAX_TRACKERS) {
      throw new RpcError(`a torrent takes ${MAX_TRACKERS} trackers at most`);
    }
    return out;
  };
}

/**
 * Tiers as `trackerList` writes them.
 *
 * @example
 * ```ts
 * import { trackerListText } from "./tracker_edits.ts";
 * console.log(JSON.stringify(trackerListText([["http://a/x", "http://b/x"], ["udp://c:1"]])));
 * // "http://a/x\nhttp://b/x\n\nudp://c:1"
 * ```
 */
export function trackerListText(tiers: readonly (readonly string[])[]): string {
  return tiers.map((urls) => urls.join("\n")).join("\n\n");
}

function parseTrackerList(v: unknown): string[][] {
  if (typeof v !== "string") throw new RpcError("trackerList must be text");
  return v.split(/\r?\n\s*\r?\n/).map((block) =>
    urls(
      block.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== ""),
      "trackerList",
    )
  ).filter((urls) => urls.length > 0);
}

function urls(v: unknown, key: string): string[] {
  if (!Array.isArray(v) || v.length > MAX_TRACKERS) {
    throw new RpcError(`${key} must be a list of at most ${MAX_TRACKERS} announce URLs`);
  }
  return v.map((url) => announceUrl(url, key));
}

/** An http, https or udp URL, as given. */
function announceUrl(v: unknown, key: string): string {
  let ok = false;
  if (typeof v === "string" && v.length <= MAX_URL_LENGTH) {
    try {
      ok = ["http:", "https:", "udp:"].includes(new URL(v).protocol);
    } catch { /* not a URL */ }
  }
  if (!ok) throw new RpcError(`${key}: ${JSON.stringify(v)} is not an http, https or udp URL`);
  return v as string;
}

function ids(v: unknown, key: string): number[] {
  if (!Array.isArray(v) || !v.every((id) => Number.isSafeInteger(id) && id >= 0)) {
    throw new RpcError(`${key} must be a list of tracker ids`);
  }
  return v;
}

function pairs(v: unknown): [number, string][] {
  if (!Array.isArray(v) || v.length % 2 !== 0) {
    throw new RpcError("trackerReplace must list tracker ids each followed by its new URL");
  }
  const out: [number, string][] = [];
  for (let i = 0; i < v.length; i += 2) {
    out.push([ids([v[i]], "trackerReplace")[0], announceUrl(v[i + 1], "trackerReplace")]);
  }
  return out;
}
