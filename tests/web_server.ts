/**
 * A small static HTTP server on 127.0.0.1 for web seed tests and the web seed benchmark: serves
 * the files under a folder, streamed from disk, with single byte ranges (206 and Content-Range)
 * as real servers do, and lets a test take over any request to misbehave.
 *
 * @module
 */

/** A running server. */
export interface WebServer {
  /** `http://127.0.0.1:<port>/`. */
  readonly url: string;
  /** Every request, as `GET /path bytes=a-b` (the Range header, or `-`). */
  readonly requests: string[];
  close(): Promise<void>;
}

/**
 * What a test does with a request: a Response of its own, or `undefined` to serve the file
 * normally. `path` is the decoded path below the root; `range` the asked bytes, when asked.
 */
export type Behaviour = (
  request: Request,
  path: string,
  range: { start: number; end: number } | undefined,
) => Response | undefined | Promise<Response | undefined>;

/**
 * Serves the files under `root` on 127.0.0.1 at `port` (default: a free one), `behave` first.
 *
 * @example
 * ```ts ignore
 * const server = serveFiles(dir);
 * const body = await (await fetch(`${server.url}a.bin`, { headers: { Range: "bytes=0-9" } })).bytes();
 * await server.close();
 * ```
 */
export function serveFiles(root: string, behave?: Behaviour, port = 0): WebServer {
  const requests: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    async (request) => {
      const path = decodeURIComponent(new URL(request.url).pathname);
      const header = request.headers.get("range");
      requests.push(`${request.method} ${path} ${header ?? "-"}`);
      const m = /^bytes=(\d+)-(\d+)$/.exec(header ?? "");
      const range = m ? { start: Number(m[1]), end: Number(m[2]) } : undefined;
      const own = await behave?.(request, path, range);
      if (own !== undefined) return own;
      if (path.split("/").includes("..")) return new Response("no", { status: 403 });
      return await fileResponse(`${root}${path}`, range);
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    requests,
    close: () => server.shutdown(),
  };
}

/** The file at `path`, or bytes `range` of it, streamed from disk a MiB at a time. */
async function fileResponse(
  path: string,
  range: { start: number; end: number } | undefined,
): Promise<Response> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return new Response("not found", { status: 404 });
  }
  const size = (await file.stat()).size;
  if (range !== undefined && (range.start > range.end || range.end >= size)) {
    file.close();
    return new Response("", { status: 416, headers: { "content-range": `bytes */${size}` } });
  }
  const start = range?.start ?? 0, end = range?.end ?? size - 1;
  await file.seek(start, Deno.SeekMode.Start);
  let left = end - start + 1;
  const close = () => {
    try {
      file.close();
    } catch { /* closed already */ }
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = new Uint8Array(Math.min(left, 1 << 20));
      const n = left === 0 ? null : await file.read(chunk);
      if (n === null) {
        close();
        return controller.close();
      }
      left -= n;
      controller.enqueue(chunk.subarray(0, n));
    },
    cancel: close,
  });
  const headers: Record<string, string> = { "content-length": String(end - start + 1) };
  if (range !== undefined) headers["content-range"] = `bytes ${start}-${end}/${size}`;
  return new Response(body, { status: range === undefined ? 200 : 206, headers });
}
