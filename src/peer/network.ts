/**
 * How this process reaches peers and lets them reach it: a transport (TCP) under the encryption
 * policy. The engine is handed `dial` and never opens a socket itself.
 *
 * @module
 */
import {
  completeOutgoing,
  FrameReader,
  type HandshakeOptions,
  ourHandshake,
  type PeerConnection,
  withDeadline,
} from "./connection.ts";
import { acceptPeer, type EncryptionPolicy, type PeerRouter } from "./listener.ts";
import { CRYPTO_PLAINTEXT, CRYPTO_RC4, MseError, mseInitiate } from "./mse.ts";
import { ProtocolError } from "./messages.ts";
import { formatAddress, type StreamListener, tcpTransport, type Transport } from "./stream.ts";

/** Opens a handshaken connection to a peer for the torrent `options` name. */
export type PeerDialler = (
  host: string,
  port: number,
  options: HandshakeOptions,
) => Promise<PeerConnection>;

/** What a `PeerNetwork` is built from. */
export interface PeerNetworkOptions {
  /** Default `prefer`. */
  encryption?: EncryptionPolicy;
  /** Default TCP. */
  transport?: Transport;
}

/** Addresses remembered as plaintext-only: a bound, so a long run's memory stays small. */
const MAX_REMEMBERED = 10_000;

/**
 * Dialling and listening under one encryption policy. With `prefer`, a dial tries MSE first and,
 * when that handshake fails, plaintext once; an address where only plaintext worked is
 * remembered, so later dials go straight to it.
 *
 * @example
 * ```ts
 * import { PeerNetwork, PeerRouter } from "./mod.ts";
 * const infoHash = new Uint8Array(20).fill(1);
 * const options = (id: number) => ({
 *   infoHash, peerId: new Uint8Array(20).fill(id), timeoutMs: 5000, maxMessageLength: 1 << 17,
 * });
 * const network = new PeerNetwork({ encryption: "require" });
 * const router = new PeerRouter();
 * router.add(infoHash, () => ({ options: options(2), adopt: (peer) => peer.close("done") }));
 * const listener = network.listen({ hostname: "127.0.0.1", port: 0, router });
 * const peer = await network.dial("127.0.0.1", listener.port, options(3));
 * console.log(peer.encrypted, peer.remote.peerId[0]); // true 2
 * peer.close("done");
 * listener.close();
 * ```
 */
export class PeerNetwork {
  readonly encryption: EncryptionPolicy;
  readonly #transport: Transport;
  readonly #plainOnly = new Set<string>();

  constructor(options: PeerNetworkOptions = {}) {
    this.encryption = options.encryption ?? "prefer";
    this.#transport = options.transport ?? tcpTransport;
  }

  /** Dials `host:port` and handshakes, encrypted or not as the policy and memory say. */
  readonly dial: PeerDialler = async (host, port, options) => {
    const address = formatAddress(host, port);
    const encrypt = this.encryption === "require" ||
      (this.encryption === "prefer" && !this.#plainOnly.has(address));
    if (!encrypt) return await this.#attempt(host, port, options, false);
    try {
      return await this.#attempt(host, port, options, true);
    } catch (e) {
      if (!(e instanceof MseError)) throw e;
      if (this.encryption === "require") {
        throw new ProtocolError(`${e.message} (encryption is required: no plaintext retry)`);
      }
    }
    const peer = await this.#attempt(host, port, options, false);
    if (this.#plainOnly.size >= MAX_REMEMBERED) {
      this.#plainOnly.delete(this.#plainOnly.values().next().value!);
    }
    this.#plainOnly.add(address);
    return peer;
  };

  /** One dial; any failure while MSE runs (a reset, a timeout) is an `MseError`. */
  async #attempt(
    host: string,
    port: number,
    options: HandshakeOptions,
    encrypt: boolean,
  ): Promise<PeerConnection> {
    const signal = AbortSignal.timeout(options.timeoutMs);
    const stream = await this.#transport.dial(host, port, signal).catch((e) => {
      throw signal.aborted ? new ProtocolError("connect timed out") : e;
    });
    let inMse = encrypt;
    try {
      return await withDeadline(stream, options.timeoutMs, "handshake", async () => {
        if (!encrypt) return await completeOutgoing(new FrameReader(stream), options);
        const mse = await mseInitiate(new FrameReader(stream), {
          infoHash: options.infoHash,
          provide: this.encryption === "require" ? CRYPTO_RC4 : CRYPTO_RC4 | CRYPTO_PLAINTEXT,
          initialPayload: ourHandshake(options),
        });
        inMse = false;
        return await completeOutgoing(
          new FrameReader(mse.stream, undefined, mse.buffered),
          options,
          true,
        );
      });
    } catch (e) {
      if (!inMse || e instanceof MseError) throw e;
      throw new MseError(messageOf(e));
    }
  }

  /**
   * Accepts peers on `hostname:port` (every address, IPv4 and IPv6, when no hostname is given;
   * port 0: any free one) and hands each handshaken peer to the torrent it names in `router`.
   * Throws `Deno.errors.AddrInUse` when the port is taken.
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
        acceptPeer(stream, opts.router, this.encryption, timeout).then(
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
