/**
 * The byte stream under the peer wire. TCP, uTP and an MSE-encrypted stream over either all
 * implement `ByteStream`, so the wire code never knows which one it runs on; a `Transport` opens
 * and accepts them. In-memory pairs stand in for sockets in tests.
 *
 * @module
 */
import { formatIp, parseIp } from "../util/mod.ts";

/** An ordered, reliable, two-way byte stream to one peer. */
export interface ByteStream {
  /**
   * Reads into `into` (the caller's reused buffer): resolves with the count read, at least one,
   * or null at end of stream.
   */
  read(into: Uint8Array): Promise<number | null>;
  /**
   * Writes from `bytes`: resolves with the count taken, at least one. The caller keeps
   * ownership of `bytes` and may reuse it once this resolves.
   */
  write(bytes: Uint8Array): Promise<number>;
  /** Closes both directions; pending and later reads end, writes fail. Idempotent. */
  close(): void;
  /** `host:port` of the other end, IPv6 hosts in brackets. */
  readonly remoteAddress: string;
  /** True when the payload crosses the wire encrypted (MSE with RC4). */
  readonly encrypted: boolean;
  /** What carries the bytes: TCP (in-memory pairs stand in for it) or uTP over UDP. */
  readonly transport: "tcp" | "utp";
}

/** A listening socket: it hands each stream it accepts to its owner until `close()`. */
export interface StreamListener {
  /** The local port (the one picked when 0 was asked for). */
  readonly port: number;
  close(): void;
}

/** What a listener does with what it accepts. */
export interface AcceptHandlers {
  accept(stream: ByteStream): void;
  /**
   * Accepting failed (out of file descriptors, say); the listener waits and tries again. Told
   * once per run of failures, never after `close()`.
   */
  error?(e: unknown): void;
}

/** The first wait after a failed accept, doubling up to the most while failures go on. */
const ACCEPT_PAUSE_MS = 50;
const MAX_ACCEPT_PAUSE_MS = 1000;

/** How streams to peers are opened and accepted. */
export interface Transport {
  /** Opens a stream to `host:port`; rejects when refused or when `signal` aborts first. */
  dial(host: string, port: number, signal: AbortSignal): Promise<ByteStream>;
  /**
   * Listens on `hostname:port`, or on every address of both IP versions when `hostname` is
   * undefined; port 0 picks a free one. Throws `Deno.errors.AddrInUse` when the port is taken.
   */
  listen(hostname: string | undefined, port: number, handlers: AcceptHandlers): StreamListener;
}

/**
 * `host:port`, with IPv6 hosts in brackets and IPv4-mapped IPv6 hosts (`::ffff:1.2.3.4`, how a
 * dual-stack socket sees an IPv4 peer) as plain IPv4, so one peer has one address.
 *
 * @example
 * ```ts
 * import { formatAddress } from "./stream.ts";
 * console.log(formatAddress("::ffff:127.0.0.1", 80), formatAddress("::1", 80)); // 127.0.0.1:80 [::1]:80
 * ```
 */
export function formatAddress(host: string, port: number): string {
  const bytes = host.includes(":") ? parseIp(host) : undefined;
  if (bytes) host = formatIp(bytes)!;
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A TCP connection as a `ByteStream`, with Nagle's delay off (requests go out at once). */
export class TcpStream implements ByteStream {
  readonly remoteAddress: string;
  readonly encrypted = false;
  readonly transport = "tcp";
  #closed = false;

  constructor(readonly conn: Deno.TcpConn) {
    const addr = conn.remoteAddr;
    this.remoteAddress = formatAddress(addr.hostname, addr.port);
    try {
      conn.setNoDelay(true);
    } catch { /* not fatal */ }
  }

  read(into: Uint8Array): Promise<number | null> {
    return this.conn.read(into);
  }

  write(bytes: Uint8Array): Promise<number> {
    return this.conn.write(bytes);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

/**
 * Streams over TCP. Listening without a hostname takes IPv6 and IPv4 on one dual-stack socket
 * where the system allows, else one socket each on the same port, else IPv4 alone.
 *
 * @example
 * ```ts
 * import { type ByteStream, tcpTransport } from "./stream.ts";
 * const arrived = Promise.withResolvers<ByteStream>();
 * const listener = tcpTransport.listen("127.0.0.1", 0, { accept: arrived.resolve });
 * const client = await tcpTransport.dial("127.0.0.1", listener.port, AbortSignal.timeout(5000));
 * const server = await arrived.promise;
 * await client.write(new Uint8Array([1, 2, 3]));
 * console.log(await server.read(new Uint8Array(8))); // 3
 * client.close();
 * server.close();
 * listener.close();
 * ```
 */
export const tcpTransport: Transport = {
  async dial(host, port, signal) {
    return new TcpStream(await Deno.connect({ hostname: host, port, signal }));
  },
  listen(hostname, port, handlers) {
    const sockets: Deno.TcpListener[] = [];
    try {
      if (hostname !== undefined) sockets.push(Deno.listen({ hostname, port }));
      else sockets.push(...listenEverywhere(port));
    } catch (e) {
      for (const s of sockets) s.close();
      throw e;
    }
    let closed = false;
    const acceptAll = async (socket: Deno.TcpListener) => {
      let pause = ACCEPT_PAUSE_MS;
      while (!closed) {
        let conn: Deno.TcpConn;
        try {
          conn = await socket.accept();
        } catch (e) {
          if (closed) return;
          // Out of file descriptors, say: the port stays ours, and accepting resumes once
          // some close. Only the first failure of a run is told.
          if (pause === ACCEPT_PAUSE_MS) handlers.error?.(e);
          await new Promise((r) => setTimeout(r, pause));
          pause = Math.min(2 * pause, MAX_ACCEPT_PAUSE_MS);
          continue;
        }
        pause = ACCEPT_PAUSE_MS;
        handlers.accept(new TcpStream(conn));
      }
    };
    for (const socket of sockets) acceptAll(socket);
    return {
      port: sockets[0].addr.port,
      close() {
        if (closed) return;
        closed = true;
        for (const s of sockets) s.close();
      },
    };
  },
};

/** Sockets that together take IPv6 and IPv4 on `port`. */
function listenEverywhere(port: number): Deno.TcpListener[] {
  let v6: Deno.TcpListener;
  try {
    v6 = Deno.listen({ hostname: "::", port });
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) throw e;
    return [Deno.listen({ hostname: "0.0.0.0", port })]; // no IPv6 here
  }
  try {
    // Taken means the IPv6 socket is dual-stack and has IPv4 already.
    return [v6, Deno.listen({ hostname: "0.0.0.0", port: v6.addr.port })];
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) return [v6];
    v6.close();
    throw e;
  }
}

/** One direction of an in-memory pair: chunks written and not yet read. */
class Pipe {
  chunks: Uint8Array[] = [];
  queued = 0;
  ended = false;
  #readerWaiting?: () => void;
  #writersWaiting: (() => void)[] = [];

  constructor(readonly highWater: number) {}

  push(bytes: Uint8Array): void {
    this.chunks.push(bytes.slice());
    this.queued += bytes.length;
    this.#wakeReader();
  }

  end(): void {
    this.ended = true;
    this.#wakeReader();
    this.#wakeWriters();
  }

  /** Resolves when a read may find bytes or the end. */
  readable(): Promise<void> {
    if (this.queued > 0 || this.ended) return Promise.resolve();
    return new Promise((wake) => this.#readerWaiting = wake);
  }

  /** Resolves when the reader has taken enough for a writer to go on. */
  writable(): Promise<void> {
    if (this.queued < this.highWater || this.ended) return Promise.resolve();
    return new Promise((wake) => this.#writersWaiting.push(wake));
  }

  take(into: Uint8Array): number {
    let n = 0;
    while (n < into.length && this.chunks.length > 0) {
      const chunk = this.chunks[0];
      const part = Math.min(chunk.length, into.length - n);
      into.set(chunk.subarray(0, part), n);
      n += part;
      if (part === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(part);
    }
    this.queued -= n;
    if (this.queued < this.highWater) this.#wakeWriters();
    return n;
  }

  #wakeReader(): void {
    const wake = this.#readerWaiting;
    this.#readerWaiting = undefined;
    wake?.();
  }

  #wakeWriters(): void {
    const waiting = this.#writersWaiting;
    this.#writersWaiting = [];
    for (const wake of waiting) wake();
  }
}

/** One end of an in-memory pair. */
class MemoryStream implements ByteStream {
  readonly encrypted = false;
  readonly transport = "tcp";
  #closed = false;

  constructor(
    readonly incoming: Pipe,
    readonly outgoing: Pipe,
    readonly remoteAddress: string,
  ) {}

  async read(into: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.#closed) return null;
      if (this.incoming.queued > 0 && into.length > 0) return this.incoming.take(into);
      if (this.incoming.ended) return null;
      await this.incoming.readable();
    }
  }

  async write(bytes: Uint8Array): Promise<number> {
    await this.outgoing.writable();
    if (this.#closed) throw new Deno.errors.BadResource("stream closed");
    if (this.outgoing.ended) throw new Deno.errors.BrokenPipe("the other end closed");
    this.outgoing.push(bytes);
    return bytes.length;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.outgoing.end();
    this.incoming.end();
  }
}

/**
 * Two connected in-memory streams: what one writes, the other reads. A writer waits while
 * `highWater` bytes are unread, as a socket's sender waits on a full buffer.
 *
 * @example
 * ```ts
 * import { streamPair } from "./stream.ts";
 * const [a, b] = streamPair();
 * await a.write(new Uint8Array([7, 8]));
 * const into = new Uint8Array(4);
 * console.log(await b.read(into), into[1]); // 2 8
 * a.close();
 * console.log(await b.read(into)); // null
 * ```
 */
export function streamPair(
  options: { highWater?: number; addresses?: [string, string] } = {},
): [ByteStream, ByteStream] {
  const highWater = options.highWater ?? 1 << 20;
  const [addressA, addressB] = options.addresses ?? ["127.0.0.2:1", "127.0.0.3:1"];
  const aToB = new Pipe(highWater), bToA = new Pipe(highWater);
  return [
    new MemoryStream(bToA, aToB, addressB),
    new MemoryStream(aToB, bToA, addressA),
  ];
}
