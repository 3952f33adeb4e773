/**
 * Accepts inbound peer connections on one TCP port and hands each, once its handshake names a
 * torrent we serve, to that torrent's owner.
 *
 * @module
 */
import { acceptPeer, type HandshakeOptions, type PeerConnection } from "./connection.ts";

/** Routes an inbound handshake to the torrent it names. */
export interface IncomingRoute {
  options: HandshakeOptions;
  adopt(peer: PeerConnection): void;
}

/** A listening socket for peers. */
export interface PeerListener {
  readonly port: number;
  close(): void;
}

/**
 * Listens on `hostname:port` (port 0 picks a free one) and routes handshakes through `route`.
 *
 * @example
 * ```ts
 * import { listenForPeers } from "./listener.ts";
 * const listener = listenForPeers({ hostname: "127.0.0.1", port: 0, route: () => undefined });
 * console.log(listener.port > 0); // true
 * listener.close();
 * ```
 */
export function listenForPeers(opts: {
  hostname?: string;
  port: number;
  route: (infoHash: Uint8Array) => IncomingRoute | undefined;
  handshakeTimeoutMs?: number;
  onError?: (message: string) => void;
}): PeerListener {
  const listener = Deno.listen({ hostname: opts.hostname ?? "0.0.0.0", port: opts.port });
  const timeout = opts.handshakeTimeoutMs ?? 10_000;
  let closed = false;
  (async () => {
    for await (const conn of listener) {
      let route: IncomingRoute | undefined;
      acceptPeer(conn, (infoHash) => {
        route = opts.route(infoHash);
        return route?.options;
      }, timeout).then(
        (peer) => route!.adopt(peer),
        (e) => opts.onError?.(`incoming ${addressOf(conn)}: ${e instanceof Error ? e.message : e}`),
      );
    }
  })().catch((e) => {
    if (!closed) opts.onError?.(`listener stopped: ${e instanceof Error ? e.message : e}`);
  });
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close() {
      if (closed) return;
      closed = true;
      listener.close();
    },
  };
}

function addressOf(conn: Deno.Conn): string {
  const a = conn.remoteAddr as Deno.NetAddr;
  return `${a.hostname}:${a.port}`;
}
