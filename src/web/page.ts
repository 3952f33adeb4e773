/**
 * The daemon's web page: `index.html` at `/` and its script and style sheet under `/web/`, read
 * from `assets/` beside this module (so `deno compile --include src/web/assets` embeds them).
 * Only the files listed here are served, whatever the path says, and each goes out with a strict
 * Content-Security-Policy: the page runs its own script and nothing else, so a torrent name can
 * never become code.
 *
 * @module
 */
import { textResponse } from "../rpc/mod.ts";

/** The page's files: path to asset name and type. A fixed list: no path is ever joined. */
const FILES: ReadonlyMap<string, { asset: string; type: string }> = new Map([
  ["/", { asset: "index.html", type: "text/html; charset=utf-8" }],
  ["/index.html", { asset: "index.html", type: "text/html; charset=utf-8" }],
  ["/web/app.js", { asset: "app.js", type: "text/javascript; charset=utf-8" }],
  ["/web/style.css", { asset: "style.css", type: "text/css; charset=utf-8" }],
]);

/**
 * The page's Content-Security-Policy: its own files only, no inline script or style, no frames,
 * requests only to this origin (the RPC).
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; " +
  "frame-ancestors 'none'";

/**
 * Answers a request for one of the page's files (GET or HEAD; other methods get 405), or
 * `undefined` for any other path, which the server answers with 404.
 *
 * @example
 * ```ts
 * import { servePage } from "./page.ts";
 * const url = new URL("http://127.0.0.1:9091/web/style.css");
 * const response = await servePage(new Request(url), url);
 * console.log(response?.status, response?.headers.get("x-content-type-options")); // 200 nosniff
 * await response?.body?.cancel();
 * const other = new URL("http://127.0.0.1:9091/web/../../etc/passwd");
 * console.log(await servePage(new Request(other), other)); // undefined
 * ```
 */
export async function servePage(request: Request, url: URL): Promise<Response | undefined> {
  const file = FILES.get(url.pathname);
  if (file === undefined) return undefined;
  if (request.method !== "GET" && request.method !== "HEAD") {
    return textResponse(405, "Method Not Allowed", { "Allow": "GET, HEAD" });
  }
  const body = await Deno.readFile(new URL(`./assets/${file.asset}`, import.meta.url));
  return new Response(request.method === "HEAD" ? null : body, {
    headers: {
      "Content-Type": file.type,
      "Content-Length": String(body.length),
      "Cache-Control": "no-cache",
      "X-Content-Type-Options": "nosniff",
      "Content-Security-Policy": CONTENT_SECURITY_POLICY,
      "Referrer-Policy": "no-referrer",
    },
  });
}
