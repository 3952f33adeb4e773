/**
 * What the daemon serves over HTTP besides its RPC: the web page at `/` and its files, and each
 * torrent's files as streams at `/stream/<hash>/<file>`.
 *
 * @module
 */
import type { Client } from "../client/mod.ts";
import type { PageHandler } from "../rpc/mod.ts";
import { servePage } from "./page.ts";
import { serveStream, STREAM_PATH } from "./stream.ts";

/**
 * The handler for `RpcServer`'s `pages`.
 *
 * @example
 * ```ts ignore
 * RpcServer.start({ methods, pages: webPages(client) });
 * ```
 */
export function webPages(client: Client): PageHandler {
  return (request, url) =>
    url.pathname.startsWith(STREAM_PATH)
      ? serveStream(client, request, url)
      : servePage(request, url);
}
