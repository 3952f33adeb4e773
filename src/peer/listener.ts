/**
 * The incoming side: routing handshakes to the torrents this process serves by info-hash, and
 * accepting a stream a peer opened.
 *
 * @module
 */
import {
  completeIncoming,
  FrameReader,
  type HandshakeOptions,
  type PeerConnection,
  withDeadline,
} from "./connection.ts";
import type { ByteStream } from "./stream.ts";
import { toHex } from "../util/mod.ts";

/** Where an inbound handshake for one torrent goes. */
export interface IncomingRoute {
  options: HandshakeOptions;
  adopt(peer: PeerConnection): void;
}

/**
 * The torrents inbound peers may ask for. Each entry names who takes its peers right now (the
 * metadata phase, then the download).
 *
 * @example
 * ```ts
 * import { PeerRouter } from "./listener.ts";
 * const router = new PeerRouter();
 * router.add(new Uint8Array(20), () => undefined);
 * console.log(router.size); // 1
 * ```
 */
export class PeerRouter {
  readonly #byInfoHash = new Map<string, () => IncomingRoute | undefined>();

  /** Routes `infoHash` to whatever `target` returns when a peer asks (none: refused). */
  add(infoHash: Uint8Array, target: () => IncomingRoute | undefined): void {
    this.#byInfoHash.set(toHex(infoHash), target);
  }

  delete(infoHash: Uint8Array): void {
    this.#byInfoHash.delete(toHex(infoHash));
  }

  get size(): number {
    return this.#byInfoHash.size;
  }

  /** Who takes a peer asking for `infoHash` now, if anyone. */
  route(infoHash: Uint8Array): IncomingRoute | undefined {
    return this.#byInfoHash.get(toHex(infoHash))?.();
  }
}

/**
 * Takes a stream a peer opened through its handshake. Resolves with the handshaken peer and the
 * route that takes it; rejects, with the stream closed, on any failure or after `timeoutMs`.
 *
 * @example
 * ```ts
 * import { acceptPeer, PeerRouter } from "./listener.ts";
 * import { streamPair } from "./stream.ts";
 * const [dialler, accepted] = streamPair();
 * await dialler.write(new TextEncoder().encode("GET /announce HTTP/1.1\r\n\r\n".repeat(3)));
 * dialler.close();
 * const outcome = await acceptPeer(accepted, new PeerRouter(), 1000).catch((e) => e);
 * console.log(outcome.message); // not a BitTorrent handshake
 * ```
 */
export function acceptPeer(
  stream: ByteStream,
  router: PeerRouter,
  timeoutMs: number,
): Promise<{ peer: PeerConnection; route: IncomingRoute }> {
  return withDeadline(stream, timeoutMs, "handshake", async () => {
    let route: IncomingRoute | undefined;
    const peer = await completeIncoming(new FrameReader(stream), (infoHash) => {
      route = router.route(infoHash);
      return route?.options;
    });
    return { peer, route: route! };
  });
}
