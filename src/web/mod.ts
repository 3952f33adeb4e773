/**
 * What the daemon serves over HTTP besides its RPC: each torrent's files as streams at
 * `/stream/<hash>/<file>`.
 *
 * @module
 */
import type { Client } from "../client/mod.ts";
import type { PageHandler } from "../rpc/mod.ts";
import { serveStream } from "./stream.ts";

/**
 * The handler for `RpcServer`'s `pages`.
 *
 * @example
 * ```ts ignore
 * RpcServer.start({ methods, pages: webPages(client) });
 * ```
 */
export function webPages(client: Client): PageHandler {
  return (request, url) => serveStream(client, request, url);
}
