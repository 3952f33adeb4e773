/**
 * The listening socket of one torrent: inbound handshakes that name its info-hash go to whoever
 * currently runs it (the metadata phase, then the download session).
 *
 * @module
 */
import {
  type HandshakeOptions,
  listenForPeers,
  type PeerConnection,
  type PeerListener,
} from "../peer/mod.ts";
import { bytesEqual } from "../util/mod.ts";

/** Who takes inbound peers of a torrent right now. */
export interface IncomingTarget {
  readonly handshakeOptions: HandshakeOptions;
  addIncoming(peer: PeerConnection): void;
}

/**
 * Listens on `port`, or the next free one of the nine after it, or any free port; routes
 * handshakes for `infoHash` to `target()` (none while it returns undefined).
 *
 * @example
 * ```ts
 * import { listenForTorrent } from "./listen.ts";
 * const listener = listenForTorrent({ port: 0, hostname: "127.0.0.1" }, new Uint8Array(20), () => undefined);
 * console.log(listener.port > 0); // true
 * listener.close();
 * ```
 */
export function listenForTorrent(
  at: { port?: number; hostname?: string },
  infoHash: Uint8Array,
  target: () => IncomingTarget | undefined,
): PeerListener {
  const route = (theirs: Uint8Array) => {
    const t = bytesEqual(theirs, infoHash) ? target() : undefined;
    return t &&
      { options: t.handshakeOptions, adopt: (peer: PeerConnection) => t.addIncoming(peer) };
  };
  const first = at.port ?? 6881;
  const ports = first === 0 ? [] : Array.from({ length: 10 }, (_, i) => first + i);
  for (const port of ports) {
    try {
      return listenForPeers({ hostname: at.hostname, port, route });
    } catch (e) {
      if (!(e instanceof Deno.errors.AddrInUse)) throw e;
    }
  }
  return listenForPeers({ hostname: at.hostname, port: 0, route });
}
