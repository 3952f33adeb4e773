/**
 * How this process reaches peers and lets them reach it, over a transport (TCP). The engine is
 * handed `dial` and never opens a socket itself.
 *
 * @module
 */
import {
  completeOutgoing,
  FrameReader,
  type HandshakeOptions,
  type PeerConnection,
  withDeadline,
} from "./connection.ts";
import { acceptPeer, type PeerRouter } from "./listener.ts";
import { ProtocolError } from "./messages.ts";
import { type StreamListener, tcpTransport, type Transport } from "./stream.ts";

/** Opens a handshaken connection to a peer for the torrent `options` name. */
export type PeerDialler = (
  host: string,
  port: number,
  options: HandshakeOptions,
) => Promise<PeerConnection>;

/** What a `PeerNetwork` is built from. */
export interface PeerNetworkOptions {
  /** Default TCP. */
  transport?: Transport;
}

/**
 * Dialling and listening over one transport.
 *
 * @example
 * ```ts
 * import { PeerNetwork, PeerRouter } from "./mod.ts";
 * const infoHash = new Uint8Array(20).fill(1);
 * const options = (id: number) => ({
 *   infoHash, peerId: new Uint8Array(20).fill(id), timeoutMs: 5000, maxMessageLength: 1 << 17,
 * });
 * const network = new PeerNetwork();
 * const router = new PeerRouter();
 * router.add(infoHash, () => ({ options: options(2), adopt: (peer) => peer.close("done") }));
 * const listener = network.listen({ hostname: "127.0.0.1", port: 0, router });
 * const peer = await network.dial("127.0.0.1", listener.port, options(3));
 * console.log(peer.remote.peerId[0]); // 2
 * peer.close("done");
 * listener.close();
 * ```
 */
export class PeerNetwork {
  readonly #transport: Transport;

  constructor(options: PeerNetworkOptions = {}) {
    this.#transport = options.transport ?? tcpTransport;
  }

  /** Dials `host:port` and handshakes. */
  readonly dial: PeerDialler = async (host, port, options) => {
    const signal = AbortSignal.timeout(options.timeoutMs);
    const stream = await this.#transport.dial(host, port, signal).catch((e) => {
      throw signal.aborted ? new ProtocolError("connect timed out") : e;
    });
    return await withDeadline(
      stream,
      options.timeoutMs,
      "handshake",
      () => completeOutgoing(new FrameReader(stream), options),
    );
  };

  /**
   * Accepts peers on `hostname:port` (port 0: any free one) and hands each handshaken peer to
   * the torrent it names in `router`. Throws `Deno.errors.AddrInUse` when the port is taken.
   */
  listen(opts: {
    hostname?: string;
    port: number;
    router: PeerRouter;
    handshakeTimeoutMs?: number;
    onError?: (message: string) => void;
  }): StreamListener {
    const timeout = opts.handshakeTimeoutMs ?? 10_000;
    return this.#transport.listen(opts.hostname, opts.port, {
      accept: (stream) => {
        acceptPeer(stream, opts.router, timeout).then(
          ({ peer, route }) => route.adopt(peer),
          (e) => opts.onError?.(`incoming ${stream.remoteAddress}: ${messageOf(e)}`),
        );
      },
      error: (e) => opts.onError?.(`listener stopped: ${messageOf(e)}`),
    });
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
