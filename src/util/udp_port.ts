/**
 * One bound UDP socket that several protocols share: the DHT and uTP listen on the same port
 * (as every BitTorrent client does), and each datagram goes to the first receiver that claims
 * it by its first bytes.
 *
 * @module
 */
import type dgram from "node:dgram";
import { lazyLinuxLibrary } from "./native.ts";

/** Takes a datagram when it is one of its protocol's: returns false to let others look. */
export type DatagramReceiver = (datagram: Uint8Array, host: string, port: number) => boolean;

/** Where datagrams go out: a bound port, or a stand-in in tests. */
export interface DatagramSender {
  send(datagram: Uint8Array, host: string, port: number): void;
}

/**
 * Largest datagram read. Deno's `node:dgram` allocates a buffer of this size for every datagram
 * it reads (64 KiB unless told), so it is kept to what the DHT (8 KiB at most) and uTP need.
 */
const READ_BUFFER = 8192;
/**
 * Kernel receive buffer asked for: a burst of uTP packets at loopback or LAN speed overflows the
 * usual 208 KiB while the event loop is busy, and every drop costs a resend. The system caps it
 * (`net.core.rmem_max`).
 */
const KERNEL_RECEIVE_BUFFER = 4 << 20;

/** Opened by the first socket, not on import: every command's start-up loads this module. */
const socketCalls = lazyLinuxLibrary(["libc.so.6"], {
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
});

/**
 * Raises the socket's kernel receive buffer (SO_RCVBUF) through libc. Deno's `node:dgram`
 * stores `setRecvBufferSize` without passing it to the kernel, so the descriptor is taken from
 * its handle; where any of that is missing (not Linux, no FFI, another runtime), the system's
 * default stays. The handle hands out a duplicate descriptor each time it is asked, which must
 * be closed: left open, it would hold the port after the socket closes.
 */
function raiseReceiveBuffer(socket: dgram.Socket): void {
  const libc = socketCalls();
  if (!libc) return;
  try {
    const state = Object.getOwnPropertySymbols(socket)
      .map((key) =>
        (socket as unknown as Record<symbol, { handle?: { fdForIpc?(): number } }>)[key]
      )
      .find((value) => typeof value?.handle?.fdForIpc === "function");
    const fd = state?.handle?.fdForIpc?.();
    if (typeof fd !== "number" || fd < 0) return;
    // Asked twice: two numbers are two duplicates, ours to close; the same one twice would be
    // the socket's own descriptor, not to be closed.
    const again = state!.handle!.fdForIpc!();
    const SOL_SOCKET = 1, SO_RCVBUF = 8;
    libc.setsockopt(
      fd,
      SOL_SOCKET,
      SO_RCVBUF,
      new Uint8Array(Int32Array.of(KERNEL_RECEIVE_BUFFER).buffer),
      4,
    );
    if (again !== fd) {
      libc.close(fd);
      if (again >= 0) libc.close(again);
    }
  } catch {
    // the default buffer works, only less well
  }
}

/**
 * A UDP socket on one address family, bound to `hostname:port`, dispatching what arrives.
 *
 * @example
 * ```ts
 * import { UdpPort } from "./udp_port.ts";
 * const a = await UdpPort.bind("127.0.0.1", 0);
 * const b = await UdpPort.bind("127.0.0.1", 0);
 * const got = Promise.withResolvers<number>();
 * b.addReceiver((datagram) => (got.resolve(datagram[0]), true));
 * a.send(new Uint8Array([42]), "127.0.0.1", b.port);
 * console.log(await got.promise); // 42
 * await a.close();
 * await b.close();
 * ```
 */
export class UdpPort implements DatagramSender {
  readonly #socket: dgram.Socket;
  #receivers: DatagramReceiver[] = [];
  #closed = false;
  /** Errors sending, for whoever wants to log them. */
  onSendError?: (message: string) => void;

  /** The largest datagram read whole; longer ones are cut. */
  readonly readLimit = READ_BUFFER;

  private constructor(socket: dgram.Socket, readonly hostname: string, readonly family: 4 | 6) {
    this.#socket = socket;
    socket.on("error", () => {}); // a failed send to one host is not the port's failure
    socket.on("message", (msg: Uint8Array, rinfo: dgram.RemoteInfo) => {
      const datagram = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
      for (const receive of this.#receivers) {
        if (receive(datagram, rinfo.address, rinfo.port)) return;
      }
    });
  }

  /**
   * Binds `hostname:port` (port 0: any free one); an IPv6 address gives an IPv6-only socket,
   * so an IPv4 socket can take the same port number.
   */
  static async bind(hostname: string, port: number): Promise<UdpPort> {
    const family = hostname.includes(":") ? 6 : 4;
    // Loaded here, not at the top: `node:` modules cost every command's start-up.
    const { createSocket } = await import("node:dgram");
    const socket = createSocket({
      type: family === 6 ? "udp6" : "udp4",
      ipv6Only: family === 6,
      recvBufferSize: READ_BUFFER,
    });
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => {
        try {
          socket.close();
        } catch {
          // never bound
        }
        reject(e);
      };
      socket.once("error", onError);
      socket.bind(port, hostname, () => {
        socket.off("error", onError);
        raiseReceiveBuffer(socket);
        resolve(new UdpPort(socket, hostname, family));
      });
    });
  }

  /** The bound port. */
  get port(): number {
    return this.#socket.address().port;
  }

  /** Adds a receiver; the returned function removes it. */
  addReceiver(receive: DatagramReceiver): () => void {
    this.#receivers.push(receive);
    return () => {
      this.#receivers = this.#receivers.filter((r) => r !== receive);
    };
  }

  send(datagram: Uint8Array, host: string, port: number): void {
    if (this.#closed) return;
    try {
      this.#socket.send(datagram, port, host, (err: Error | null) => {
        if (err) this.onSendError?.(`send to ${host}:${port} failed: ${err.message}`);
      });
    } catch (e) {
      this.onSendError?.(`send to ${host}:${port} failed: ${e instanceof Error ? e.message : e}`);
    }
  }

  /** Closes the socket; receivers hear nothing more. Idempotent. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#receivers = [];
    return new Promise<void>((resolve) => {
      try {
        this.#socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}
