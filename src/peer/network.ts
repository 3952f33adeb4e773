/**
 * How this process reaches peers and lets them reach it: uTP first where it is on, TCP, and the
 * encryption policy over either. The engine is handed `dial` and never opens a socket itself.
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
import { Blocklist } from "./blocklist.ts";
import {
  type ByteStream,
  formatAddress,
  type StreamListener,
  tcpTransport,
  type Transport,
} from "./stream.ts";
import { messageOf } from "../util/mod.ts";

/** Opens a handshaken connection to a peer for the torrent `options` name. */
export type PeerDialler = (
  host: string,
  port: number,
  options: HandshakeOptions,
) => Promise<PeerConnection>;

/**
 * A transport on ports already bound (uTP on the UDP ports shared with the DHT): it dials, and
 * hands what it accepts to whoever listens now.
 */
export interface BoundTransport {
  dial(host: string, port: number, signal: AbortSignal): Promise<ByteStream>;
  /** Takes accepted streams; while unset, none are accepted. */
  onAccept: ((stream: ByteStream) => void) | undefined;
}

/** What a `PeerNetwork` is built from. */
export interface PeerNetworkOptions {
  /** Default `prefer`. */
  encryption?: EncryptionPolicy;
  /** The stream transport; default TCP. */
  transport?: Transport;
  /** uTP: dialled first, falling back to `transport` when the peer does not answer. */
  utp?: BoundTransport;
  /** Addresses neither dialled nor accepted; default none. */
  blocklist?: Blocklist;
}

/** Addresses remembered (plaintext-only, no uTP): a bound, so a long run's memory stays small. */
const MAX_REMEMBERED = 10_000;
/**
 * How long uTP has to connect before TCP is dialled beside it; the first to connect is kept.
 * A peer without uTP never answers, so this is what each costs, once.
 */
const UTP_HEAD_START_MS = 250;
/** How long a uTP dial waits for the peer's answer in all: the SYN and one resend. */
const UTP_CONNECT_MS = 1500;

function remember(set: Set<string>, address: string): void {
  if (set.size >= MAX_REMEMBERED) set.delete(set.values().next().value!);
  set.add(address);
}

/**
 * Dialling and listening under one encryption policy. A dial tries uTP first when it is on, and
 * TCP when the peer does not answer it; an address without uTP is remembered. Over either, with
 * `prefer`, a dial tries MSE first and, when that handshake fails, plaintext once; an address
 * where only plaintext worked is remembered too, so later dials go straight to what works.
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
  /** The policy of dials and accepts; a change holds for those that start after it. */
  encryption: EncryptionPolicy;
  /** Who is neither dialled nor accepted; a change holds for those that start after it. */
  blocklist: Blocklist;
  /**
   * The uTP transport dials go over (beside TCP) and listeners accept on; none: TCP alone. A
   * change holds for the dials and listeners that start after it (a new peer port's).
   */
  utp: BoundTransport | undefined;
  readonly #transport: Transport;
  readonly #plainOnly = new Set<string>();
  readonly #noUtp = new Set<string>();

  constructor(options: PeerNetworkOptions = {}) {
    this.encryption = options.encryption ?? "prefer";
    this.blocklist = options.blocklist ?? Blocklist.EMPTY;
    this.#transport = options.transport ?? tcpTransport;
    this.utp = options.utp;
  }

  /** Dials `host:port` and handshakes, over uTP or TCP, encrypted or not. */
  readonly dial: PeerDialler = async (host, port, options) => {
    if (this.blocklist.blocks(host)) throw new ProtocolError(`${host} is on the blocklist`);
    const address = formatAddress(host, port);
    const attempt = (encrypt: boolean) => this.#attempt(host, port, options, encrypt);
    const encrypt = this.encryption === "require" ||
      (this.encryption === "prefer" && !this.#plainOnly.has(address));
    if (!encrypt) return await attempt(false);
    try {
      return await attempt(true);
    } catch (e) {
      if (!(e instanceof MseError)) throw e;
      if (this.encryption === "require") {
        throw new ProtocolError(`${e.message} (encryption is required: no plaintext retry)`);
      }
    }
    const peer = await attempt(false);
    remember(this.#plainOnly, address);
    return peer;
  };

  /**
   * Opens a stream: over uTP where it is on and the address is not known to lack it, with TCP
   * dialled beside it once uTP has had its head start (or failed); the first stream to open is
   * kept and the other closed. An address whose uTP dial failed outright is remembered.
   */
  async #open(host: string, port: number, signal: AbortSignal): Promise<ByteStream> {
    const utp = this.utp, address = formatAddress(host, port);
    if (!utp || this.#noUtp.has(address)) return await this.#transport.dial(host, port, signal);
    const utpDial = utp.dial(
      host,
      port,
      AbortSignal.any([signal, AbortSignal.timeout(UTP_CONNECT_MS)]),
    );
    utpDial.catch(() => {
      if (!signal.aborted) remember(this.#noUtp, address);
    });
    let headStart: ReturnType<typeof setTimeout> | undefined;
    const early = await Promise.race([
      utpDial.then(() => "open", () => "failed"),
      new Promise((wake) => headStart = setTimeout(() => wake("late"), UTP_HEAD_START_MS)),
    ]);
    clearTimeout(headStart);
    if (early === "open") return await utpDial;
    if (early === "failed") return await this.#transport.dial(host, port, signal);
    const tcpGiveUp = new AbortController();
    const tcpDial = this.#transport.dial(host, port, AbortSignal.any([signal, tcpGiveUp.signal]));
    try {
      const first = await Promise.any([utpDial, tcpDial]);
      // The slower one is not needed: close it when (if) it opens.
      tcpGiveUp.abort();
      for (const other of [utpDial, tcpDial]) {
        other.then((stream) => stream !== first && stream.close(), () => {});
      }
      return first;
    } catch {
      return await tcpDial; // both failed: TCP's reason is the one to tell
    }
  }

  /** One dial; any failure while MSE runs (a reset, a timeout) is an `MseError`. */
  async #attempt(
    host: string,
    port: number,
    options: HandshakeOptions,
    encrypt: boolean,
  ): Promise<PeerConnection> {
    const signal = AbortSignal.timeout(options.timeoutMs);
    const stream = await this.#open(host, port, signal).catch((e) => {
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
   * port 0: any free one), and over uTP on its bound ports, and hands each handshaken peer to
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
    const accept = (stream: ByteStream) => {
      const host = stream.remoteAddress.slice(0, stream.remoteAddress.lastIndexOf(":"));
      if (this.blocklist.blocks(host)) {
        stream.close();
        return opts.onError?.(`incoming ${stream.remoteAddress}: on the blocklist`);
      }
      acceptPeer(stream, opts.router, this.encryption, timeout).then(
        ({ peer, route }) => route.adopt(peer),
        (e) => opts.onError?.(`incoming ${stream.remoteAddress}: ${messageOf(e)}`),
      );
    };
    const tcp = this.#transport.listen(opts.hostname, opts.port, {
      accept,
      error: (e) => opts.onError?.(`cannot accept peers for now (trying again): ${messageOf(e)}`),
    });
    const utp = this.utp;
    if (!utp) return tcp;
    utp.onAccept = accept;
    return {
      port: tcp.port,
      close() {
        if (utp.onAccept === accept) utp.onAccept = undefined;
        tcp.close();
      },
    };
  }
}
