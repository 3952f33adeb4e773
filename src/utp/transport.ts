/**
 * uTP over the process's UDP ports (one per address family, shared with the DHT): dials by the
 * peer's family and hands every accepted connection to one taker.
 *
 * @module
 */
import type { ByteStream } from "../peer/stream.ts";
import type { UdpPort } from "../util/mod.ts";
import { UtpSocket, type UtpSocketOptions } from "./socket.ts";

/**
 * uTP on bound UDP ports. It claims the uTP datagrams of each port and leaves the rest (the
 * DHT's) to the port's other receivers.
 *
 * @example
 * ```ts
 * import { UtpTransport } from "./transport.ts";
 * import { UdpPort } from "../util/mod.ts";
 * const [a, b] = [await UdpPort.bind("127.0.0.1", 0), await UdpPort.bind("127.0.0.1", 0)];
 * const [ta, tb] = [new UtpTransport([a]), new UtpTransport([b])];
 * tb.onAccept = (stream) => stream.write(new Uint8Array([5]));
 * const stream = await ta.dial("127.0.0.1", b.port, AbortSignal.timeout(5000));
 * await stream.write(new Uint8Array([1])); // the acceptor hears of us with our first bytes
 * const into = new Uint8Array(1);
 * console.log(await stream.read(into), into[0], stream.transport); // 1 5 utp
 * ta.close();
 * tb.close();
 * await a.close();
 * await b.close();
 * ```
 */
export class UtpTransport {
  readonly #sockets: { family: 4 | 6; socket: UtpSocket; stop: () => void }[];

  constructor(ports: readonly UdpPort[], options: UtpSocketOptions = {}) {
    this.#sockets = ports.map((port) => {
      const socket = new UtpSocket(port, { readLimit: port.readLimit, ...options });
      return { family: port.family, socket, stop: port.addReceiver(socket.receive) };
    });
  }

  /** Takes each accepted connection; connections are refused (SYNs ignored) while unset. */
  set onAccept(take: ((stream: ByteStream) => void) | undefined) {
    for (const { socket } of this.#sockets) socket.onAccept = take;
  }

  /** Opens a uTP connection; rejects when `signal` aborts first or no port has the family. */
  dial(host: string, port: number, signal: AbortSignal): Promise<ByteStream> {
    const family = host.includes(":") ? 6 : 4;
    const socket = this.#sockets.find((s) => s.family === family)?.socket;
    if (!socket) {
      return Promise.reject(new Deno.errors.NotConnected(`no IPv${family} UDP port for uTP`));
    }
    return socket.connect(host, port, signal);
  }

  /** Connections open now, both ways. */
  get connectionCount(): number {
    return this.#sockets.reduce((n, s) => n + s.socket.connectionCount, 0);
  }

  /** Resets every connection and lets go of the ports (which stay open for their owner). */
  close(): void {
    for (const { socket, stop } of this.#sockets) {
      socket.close();
      stop();
    }
  }
}
