/**
 * The listening socket of one torrent: inbound handshakes that name one of its info-hashes go to
 * whoever currently runs it (the metadata phase, then the download session).
 *
 * @module
 */
import {
  type HandshakeOptions,
  type PeerConnection,
  type PeerNetwork,
  PeerRouter,
  type StreamListener,
} from "../peer/mod.ts";

/** Who takes inbound peers of a torrent right now. */
export interface IncomingTarget {
  readonly handshakeOptions: HandshakeOptions;
  addIncoming(peer: PeerConnection): void;
}

/**
 * Listens on `port`, or the next free one of the nine after it, or any free port; routes
 * handshakes for each of `infoHashes` (a hybrid torrent's v1 and v2 swarms) to `target()` (none
 * while it returns undefined), answering with the hash the peer named. Without a hostname it
 * listens on every address, IPv4 and IPv6.
 *
 * @example
 * ```ts
 * import { listenForTorrent } from "./listen.ts";
 * import { PeerNetwork } from "../peer/mod.ts";
 * const listener = listenForTorrent(
 *   new PeerNetwork(), { port: 0, hostname: "127.0.0.1" }, [new Uint8Array(20)], () => undefined,
 * );
 * console.log(listener.port > 0); // true
 * listener.close();
 * ```
 */
export function listenForTorrent(
  network: PeerNetwork,
  at: { port?: number; hostname?: string; onError?: (message: string) => void },
  infoHashes: readonly Uint8Array[],
  target: () => IncomingTarget | undefined,
): StreamListener {
  const router = new PeerRouter();
  for (const infoHash of infoHashes) {
    router.add(infoHash, () => {
      const t = target();
      return t && {
        options: { ...t.handshakeOptions, infoHash },
        adopt: (peer: PeerConnection) => t.addIncoming(peer),
      };
    });
  }
  const listen = (port: number) =>
    network.listen({ hostname: at.hostname, port, router, onError: at.onError });
  const first = at.port ?? 6881;
  const ports = first === 0 ? [] : Array.from({ length: 10 }, (_, i) => first + i);
  for (const port of ports) {
    try {
      return listen(port);
    } catch (e) {
      if (!(e instanceof Deno.errors.AddrInUse)) throw e;
    }
  }
  return listen(0);
}
