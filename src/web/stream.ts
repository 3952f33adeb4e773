/**
 * A torrent's files over HTTP while they download (`GET /stream/<info-hash>/<file number>`), so
 * a player can start a video before it is complete: bytes go out as soon as their piece is
 * verified, and the pieces from the reader's position on are fetched before the rest of the
 * torrent (a seek moves them). One range per request (`Range: bytes=...`) gets 206; HEAD gets
 * the headers alone.
 *
 * @module
 */
import type { Client, HeldEngine } from "../client/mod.ts";
import { listedFiles, type Torrent } from "../metainfo/mod.ts";
import { textResponse } from "../rpc/mod.ts";
import { mediaType } from "../util/mod.ts";

/** The path streams are served under. */
export const STREAM_PATH = "/stream/";
/** Bytes past the reader's position fetched first (at least two pieces). */
const READ_AHEAD = 16 << 20;
/** The most bytes one read sends. */
const CHUNK = 256 << 10;

/** A request's byte range: `[start, end)` of the file. */
interface ByteRange {
  start: number;
  end: number;
}

/**
 * Answers `GET|HEAD /stream/<info-hash>/<file number>` (the number among the files a user
 * sees, from 0, as `torrent-get`'s `files` lists them); `undefined` for other paths.
 *
 * @example
 * ```ts ignore
 * const response = await serveStream(client, request, new URL(request.url));
 * ```
 */
export async function serveStream(
  client: Client,
  request: Request,
  url: URL,
): Promise<Response | undefined> {
  if (!url.pathname.startsWith(STREAM_PATH)) return undefined;
  await request.body?.cancel();
  const [hash, number, ...rest] = url.pathname.slice(STREAM_PATH.length).split("/");
  if (rest.length > 0 || !/^[0-9a-f]{40}$/i.test(hash) || !/^\d{1,9}$/.test(number ?? "")) {
    return textResponse(404, `Not Found: streams are at ${STREAM_PATH}<info-hash>/<file number>`);
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    return textResponse(405, "Method Not Allowed: GET or HEAD a stream");
  }
  const t = client.byInfoHash(hash.toLowerCase());
  if (!t) return textResponse(404, `Not Found: no torrent ${hash}`);
  const torrent = t.torrent;
  if (!torrent) {
    return textResponse(503, "the torrent's metadata has not arrived yet", { "Retry-After": "5" });
  }
  const listed = listedFiles(torrent);
  const n = Number(number);
  if (n >= listed.length) {
    return textResponse(404, `Not Found: the torrent has ${listed.length} files`);
  }
  const file = torrent.files[listed[n]];
  const job = t.job;
  if (!job) return textResponse(409, "the torrent is not running: start it to stream its files");

  const range = parseRange(request.headers.get("range"), file.length);
  if (range === "unsatisfiable") {
    return textResponse(416, "Range Not Satisfiable", {
      "Content-Range": `bytes */${file.length}`,
    });
  }
  const { start, end } = range ?? { start: 0, end: file.length };
  const L = torrent.pieceLength;
  // A resting seed opens its files again; they stay open until the body ends.
  let held: HeldEngine;
  try {
    held = await job.hold();
  } catch {
    return textResponse(409, "the torrent stopped: start it to stream its files");
  }
  const { session } = held;
  for (let p = Math.floor((file.offset + start) / L); p * L < file.offset + end; p++) {
    if (!session.have.has(p) && !session.wants(p)) {
      held.release();
      return textResponse(409, `file ${n} is not selected for download: select it to stream it`);
    }
  }
  const headers: Record<string, string> = {
    "Accept-Ranges": "bytes",
    "Content-Type": mediaType(file.path[file.path.length - 1]),
    "Content-Length": String(end - start),
    "Content-Disposition": `inline; filename*=UTF-8''${
      encodeURIComponent(file.path[file.path.length - 1])
    }`,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
  };
  if (range) headers["Content-Range"] = `bytes ${start}-${end - 1}/${file.length}`;
  const status = range ? 206 : 200;
  if (request.method === "HEAD" || start === end) {
    held.release();
    return new Response(null, { status, headers });
  }
  const body = verifiedBytes(torrent, held, { start: file.offset + start, end: file.offset + end });
  return new Response(body, { status, headers });
}

/**
 * The torrent's bytes `[range.start, range.end)` as they are verified, read when the client
 * asks for more; the pieces from the position on come first while they are missing. The job
 * is let go of when the body ends, fails or is cancelled.
 */
function verifiedBytes(
  torrent: Torrent,
  held: HeldEngine,
  range: ByteRange,
): ReadableStream<Uint8Array> {
  const { session, storage } = held;
  const L = torrent.pieceLength;
  const ahead = Math.max(2, Math.ceil(READ_AHEAD / L));
  const last = Math.floor((range.end - 1) / L);
  let position = range.start;
  let focused = -1;
  let release: (() => void) | undefined;
  const stop = () => {
    release?.();
    release = undefined;
  };
  const end = () => {
    stop();
    held.release();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const piece = Math.floor(position / L);
      // The window moves with the reader; where it has everything it costs nothing.
      if (piece !== focused) {
        focused = piece;
        stop();
        release = session.prioritize(piece, Math.min(last + 1, piece + ahead));
      }
      try {
        if (!session.have.has(piece)) await session.whenHave(piece);
        const length = Math.min(CHUNK, (piece + 1) * L - position, range.end - position);
        controller.enqueue(await storage.read(piece, position - piece * L, length));
        position += length;
      } catch (e) {
        end();
        throw e;
      }
      if (position >= range.end) {
        end();
        controller.close();
      }
    },
    cancel: end,
  }, { highWaterMark: 0 });
}

/**
 * The one range of a `Range` header within a file of `length` bytes; `undefined` to send the
 * whole file (no header, another unit, several ranges, or a header that does not parse).
 *
 * @example
 * ```ts
 * import { parseRange } from "./stream.ts";
 * console.log(parseRange("bytes=10-", 100), parseRange("bytes=-30", 100)); // { start: 10, end: 100 } { start: 70, end: 100 }
 * console.log(parseRange("bytes=100-", 100), parseRange("bytes=0-1,5-6", 100)); // unsatisfiable undefined
 * ```
 */
export function parseRange(
  header: string | null,
  length: number,
): ByteRange | "unsatisfiable" | undefined {
  const match = header?.trim().match(/^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/i);
  if (!match || (match[1] === "" && match[2] === "")) return undefined;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0 || length === 0) return "unsatisfiable";
    return { start: Math.max(0, length - suffix), end: length };
  }
  const start = Number(match[1]);
  const last = match[2] === "" ? length - 1 : Number(match[2]);
  if (start >= length) return "unsatisfiable";
  if (last < start) return undefined;
  return { start, end: Math.min(last, length - 1) + 1 };
}
