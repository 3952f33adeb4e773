/**
 * The uTP endpoint of one UDP port: routes each packet to its connection by address and
 * connection id, opens connections, accepts SYNs (a few per second per address at most), lets
 * connections finish held-back work (acks, the rest of a burst) once the datagrams received are
 * handled, and drives every connection's timers from one timer.
 *
 * @module
 */
import { formatAddress } from "../peer/stream.ts";
import { type DatagramSender, PerSourceLimiter } from "../util/mod.ts";
import { UtpConnection, type UtpLink } from "./connection.ts";
import { decodePacket, ST_SYN, type UtpPacket } from "./packet.ts";

/** Options of a {@link UtpSocket}. */
export interface UtpSocketOptions {
  /**
   * Largest datagram sent (uTP header included). Default 1400: it fits the Ethernet MTU with
   * IPv6 and a tunnel's headers to spare.
   */
  packetBytes?: number;
  /**
   * Largest datagram the port reads, told to peers in the SYN exchange; peers that tell us the
   * same get packets up to that size over loopback. Default `packetBytes`.
   */
  readLimit?: number;
  /** Receive buffer of each connection (its advertised window); default 1 MiB. */
  receiveBuffer?: number;
  /** Connections at most, both ways; default 2000. */
  maxConnections?: number;
  /** New incoming connections allowed per source address: rate and burst; default 5/s, 20. */
  synRate?: { perSecond: number; burst: number };
}

/** How often connections' timers are looked at. */
const TICK_MS = 50;
export const DEFAULT_PACKET_BYTES = 1400;

/**
 * uTP over one datagram port. Feed it what arrives with `receive` (it says whether a datagram
 * was uTP); dial with `connect`; set `onAccept` to take incoming connections (SYNs are ignored
 * while it is unset).
 *
 * @example
 * ```ts
 * import { type UtpConnection, UtpSocket } from "./mod.ts";
 * import { UdpPort } from "../util/mod.ts";
 * const [a, b] = [await UdpPort.bind("127.0.0.1", 0), await UdpPort.bind("127.0.0.1", 0)];
 * const [ua, ub] = [new UtpSocket(a), new UtpSocket(b)];
 * a.addReceiver(ua.receive);
 * b.addReceiver(ub.receive);
 * const accepted = Promise.withResolvers<UtpConnection>();
 * ub.onAccept = accepted.resolve;
 * const client = await ua.connect("127.0.0.1", b.port, AbortSignal.timeout(5000));
 * await client.write(new TextEncoder().encode("hi"));
 * const server = await accepted.promise;
 * const into = new Uint8Array(8);
 * console.log(await server.read(into), new TextDecoder().decode(into.subarray(0, 2))); // 2 hi
 * ua.close();
 * ub.close();
 * await a.close();
 * await b.close();
 * ```
 */
export class UtpSocket {
  /** Takes each accepted connection; SYNs are ignored while unset. */
  onAccept: ((connection: UtpConnection) => void) | undefined;
  readonly #out: DatagramSender;
  readonly #packetBytes: number;
  readonly #readLimit: number;
  readonly #receiveBuffer: number | undefined;
  readonly #maxConnections: number;
  readonly #synLimiter: PerSourceLimiter;
  /** By `address#recvId`. */
  readonly #connections = new Map<string, UtpConnection>();
  #waiting = new Set<UtpConnection>();
  #laterTimer: ReturnType<typeof setTimeout> | undefined;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(out: DatagramSender, options: UtpSocketOptions = {}) {
    this.#out = out;
    this.#packetBytes = options.packetBytes ?? DEFAULT_PACKET_BYTES;
    this.#readLimit = options.readLimit ?? this.#packetBytes;
    this.#receiveBuffer = options.receiveBuffer;
    this.#maxConnections = options.maxConnections ?? 2000;
    const rate = options.synRate ?? { perSecond: 5, burst: 20 };
    this.#synLimiter = new PerSourceLimiter(rate.perSecond, rate.burst);
  }

  /** Connections open now, both ways. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Takes a datagram if it is uTP: routes it to its connection, or, for a SYN, opens one.
   * Returns false for anything that is not uTP, so the port can offer it to the DHT.
   */
  readonly receive = (datagram: Uint8Array, host: string, port: number): boolean => {
    const packet = decodePacket(datagram);
    if (!packet) return false;
    if (this.#closed) return true;
    const address = formatAddress(host, port);
    if (packet.type === ST_SYN) {
      const existing = this.#connections.get(`${address}#${(packet.connectionId + 1) & 0xffff}`);
      if (existing) existing.onPacket(packet);
      else this.#accept(packet, address, host, port);
      return true;
    }
    this.#connections.get(`${address}#${packet.connectionId}`)?.onPacket(packet);
    return true;
  };

  /** Opens a connection to `host:port`; rejects when `signal` aborts before the peer answers. */
  async connect(host: string, port: number, signal: AbortSignal): Promise<UtpConnection> {
    signal.throwIfAborted();
    if (this.#closed) throw new Deno.errors.NotConnected("uTP socket is closed");
    if (this.#connections.size >= this.#maxConnections) {
      throw new Deno.errors.ConnectionRefused("too many uTP connections");
    }
    const address = formatAddress(host, port);
    let recvId: number;
    do {
      recvId = crypto.getRandomValues(new Uint16Array(1))[0];
    } while (
      this.#connections.has(`${address}#${recvId}`) ||
      this.#connections.has(`${address}#${(recvId + 1) & 0xffff}`)
    );
    const connection = UtpConnection.initiate(this.#options(address, host, port), recvId);
    this.#add(`${address}#${recvId}`, connection);
    const aborted = () => connection.close();
    signal.addEventListener("abort", aborted, { once: true });
    try {
      await Promise.race([
        connection.connected,
        new Promise<never>((_, reject) => {
          signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        }),
      ]);
      return connection;
    } finally {
      signal.removeEventListener("abort", aborted);
    }
  }

  /** Resets every connection and stops; later datagrams are taken and dropped. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const connection of [...this.#connections.values()]) connection.abort();
    this.#connections.clear();
    this.#stopTimers();
  }

  #accept(syn: UtpPacket, address: string, host: string, port: number): void {
    if (!this.onAccept || this.#connections.size >= this.#maxConnections) return;
    if (!this.#synLimiter.allow(host)) return;
    const connection = UtpConnection.accept(this.#options(address, host, port), syn);
    this.#add(`${address}#${connection.recvId}`, connection);
    this.onAccept(connection);
  }

  #options(address: string, host: string, port: number) {
    const link: UtpLink = {
      send: (datagram) => this.#out.send(datagram, host, port),
      later: (connection) => this.#later(connection),
      closed: (connection) => this.#remove(`${address}#${connection.recvId}`, connection),
    };
    return {
      link,
      remoteAddress: address,
      packetBytes: this.#packetBytes,
      // Loopback's MTU is 64 KiB; any other path gets the conservative default.
      largestPacket: isLoopback(host) ? this.#readLimit : this.#packetBytes,
      readLimit: this.#readLimit,
      receiveBuffer: this.#receiveBuffer,
    };
  }

  #add(key: string, connection: UtpConnection): void {
    this.#connections.set(key, connection);
    this.#ticker ??= setInterval(() => {
      const now = performance.now();
      for (const c of [...this.#connections.values()]) c.tick(now);
    }, TICK_MS);
  }

  #remove(key: string, connection: UtpConnection): void {
    if (this.#connections.get(key) === connection) this.#connections.delete(key);
    this.#waiting.delete(connection);
    if (this.#connections.size === 0) this.#stopTimers();
  }

  /** Held-back work of every connection is done together, once the burst received is read. */
  #later(connection: UtpConnection): void {
    this.#waiting.add(connection);
    this.#laterTimer ??= setTimeout(() => {
      this.#laterTimer = undefined;
      const waiting = this.#waiting;
      this.#waiting = new Set();
      for (const c of waiting) c.resume();
    }, 0);
  }

  #stopTimers(): void {
    if (this.#ticker !== undefined) clearInterval(this.#ticker);
    this.#ticker = undefined;
    if (this.#laterTimer !== undefined) clearTimeout(this.#laterTimer);
    this.#laterTimer = undefined;
    this.#waiting.clear();
  }
}

/** True for 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
function isLoopback(host: string): boolean {
  return host === "::1" || host.startsWith("127.") || host.startsWith("::ffff:127.");
}
