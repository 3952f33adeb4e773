/**
 * One peer connection over a `ByteStream`: the BitTorrent handshake, a read loop that parses
 * frames out of one reused buffer, and a write queue that batches small messages into one write.
 *
 * @module
 */
import { encodeHandshake, type Handshake, HANDSHAKE_LENGTH, parseHandshake } from "./handshake.ts";
import { type Message, parseMessage, ProtocolError } from "./messages.ts";
import type { ByteStream } from "./stream.ts";
import { bytesEqual } from "../util/mod.ts";

/** Something that limits a byte rate; `take` resolves when `bytes` may pass. */
export interface RateLimiter {
  /** Takes `bytes` now if it may, without waiting (always, when the limit is off). */
  tryTake(bytes: number): boolean;
  take(bytes: number, signal?: AbortSignal): Promise<void>;
}

/**
 * Send buffers start at 4 KiB (a turn's requests and HAVEs) and double up to 512 KiB, then grow
 * only as far as needed (an uploader keeps about that much queued for a fast peer).
 */
const SEND_BUFFER_START = 4 * 1024;
const SEND_BUFFER_DOUBLING_LIMIT = 512 * 1024;
/** Where a connection's read buffer starts: a few blocks, enough for a slow peer. */
const READ_BUFFER_START = 64 * 1024;
/** Where it stops growing: a fast peer's socket hands over this much per read. */
const READ_BUFFER_MAX = 256 * 1024;

/**
 * Reads exact byte counts and length-prefixed frames from a stream into one reused buffer. The
 * buffer starts small (many peers are slow; 200 of them at the largest size held 50 MB) and
 * doubles whenever a read fills it, up to `READ_BUFFER_MAX`, or to a frame that needs more.
 *
 * @example
 * ```ts
 * import { FrameReader } from "./connection.ts";
 * import { streamPair } from "./stream.ts";
 * const [client, server] = streamPair();
 * await client.write(new Uint8Array([0, 0, 0, 2, 7, 9]));
 * const reader = new FrameReader(server);
 * console.log(await reader.frame(100)); // Uint8Array(2) [ 7, 9 ]
 * client.close();
 * server.close();
 * ```
 */
export class FrameReader {
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  /** A read filled at least half the buffer, all the room it had: the stream had more. */
  #filled = false;
  constructor(
    readonly stream: ByteStream,
    /** Set once the torrent is known (for inbound peers, after their handshake). */
    public limiter?: RateLimiter,
    /** Bytes an earlier reader of the stream took and did not use: they are read first. */
    initial?: Uint8Array,
  ) {
    this.#buf = new Uint8Array(Math.max(READ_BUFFER_START, initial?.length ?? 0));
    if (initial) {
      this.#buf.set(initial);
      this.#end = initial.length;
    }
  }

  /** Total bytes read from the socket. */
  bytesRead = 0;

  /** Bytes the buffer holds now. */
  get capacity(): number {
    return this.#buf.length;
  }

  /** Reads until `n` bytes are buffered; false at end of stream. */
  async #fill(n: number): Promise<boolean> {
    if (this.#end - this.#start >= n) return true;
    if (this.#buf.length - this.#start < n) this.#compact(n);
    while (this.#end - this.#start < n) {
      const room = this.#buf.length - this.#end;
      const got = await this.stream.read(this.#buf.subarray(this.#end));
      if (got === null) return false;
      this.#end += got;
      this.#filled = got === room && 2 * room >= this.#buf.length;
      this.bytesRead += got;
      // No await when the limit allows it at once (or is off): a read loop stays synchronous.
      if (this.limiter && !this.limiter.tryTake(got)) await this.limiter.take(got);
    }
    return true;
  }

  /** Moves the unread bytes to the front, into a larger buffer when needed or earned. */
  #compact(n: number): void {
    const grow = this.#filled && this.#buf.length < READ_BUFFER_MAX;
    const size = Math.max(grow ? this.#buf.length * 2 : this.#buf.length, n);
    if (size === this.#buf.length) {
      this.#buf.copyWithin(0, this.#start, this.#end);
    } else {
      const next = new Uint8Array(size);
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
    }
    this.#end -= this.#start;
    this.#start = 0;
  }

  /** The next `n` bytes, viewing the internal buffer until the next read. */
  async exact(n: number): Promise<Uint8Array | null> {
    if (!(await this.#fill(n))) return null;
    const out = this.#buf.subarray(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  /** The next `n` bytes without consuming them (a view, valid until the next read). */
  async peek(n: number): Promise<Uint8Array | null> {
    if (!(await this.#fill(n))) return null;
    return this.#buf.subarray(this.#start, this.#start + n);
  }

  /** A copy of every byte read from the stream and not consumed yet, which are then dropped. */
  takeBuffered(): Uint8Array {
    const out = this.#buf.slice(this.#start, this.#end);
    this.#start = this.#end = 0;
    return out;
  }

  /** The next frame body if it is already buffered whole; `undefined` when bytes are missing. */
  buffered(maxLength: number): Uint8Array | undefined {
    if (this.#end - this.#start < 4) return undefined;
    const length = this.#lengthAt(maxLength);
    if (this.#end - this.#start < 4 + length) return undefined;
    const out = this.#buf.subarray(this.#start + 4, this.#start + 4 + length);
    this.#start += 4 + length;
    return out;
  }

  #lengthAt(maxLength: number): number {
    const b = this.#buf, s = this.#start;
    const length = ((b[s] << 24) | (b[s + 1] << 16) | (b[s + 2] << 8) | b[s + 3]) >>> 0;
    if (length > maxLength) throw new ProtocolError(`message of ${length} bytes is too long`);
    return length;
  }

  /** The next frame body (without its length prefix), or null at end of stream. */
  async frame(maxLength: number): Promise<Uint8Array | null> {
    if (!(await this.#fill(4))) return null;
    if (!(await this.#fill(4 + this.#lengthAt(maxLength)))) return null;
    return this.buffered(maxLength)!;
  }
}

/** We dialled our own listening socket (trackers list our address among the peers). */
export class SelfConnectionError extends ProtocolError {
  constructor() {
    super("connected to ourselves");
    this.name = "SelfConnectionError";
  }
}

/** Options for a connection after the handshake. */
export interface PeerConnectionOptions {
  /** Longest frame accepted; larger ones cost the peer its connection. */
  maxMessageLength: number;
  /** Shared download limiter, applied to every byte read. */
  downloadLimiter?: RateLimiter;
}

/** Receives what a connection reads; `piece.block` must be copied before returning. */
export interface PeerEvents {
  onMessage(message: Message): void;
  onClose(reason: string): void;
}

/**
 * A connected, handshaken peer. Sending never blocks: bytes queue and are flushed in one write
 * per turn of the event loop; `queuedBytes` tells callers how far behind the socket is.
 */
export class PeerConnection {
  /** `host:port` of the other end. */
  readonly address: string;
  /** What the peer said in its handshake. */
  readonly remote: Handshake;
  /** When we last received or sent a whole message (ms, `performance.now()` clock). */
  lastReceivedAt = performance.now();
  lastSentAt = performance.now();
  /** Payload and protocol bytes sent. */
  bytesWritten = 0;
  #reader: FrameReader;
  /** Bytes `send` copied in and no write has taken yet; swapped with `#spare` by each write. */
  #pending = new Uint8Array(SEND_BUFFER_START);
  #pendingLength = 0;
  #spare = new Uint8Array(SEND_BUFFER_START);
  #queuedBytes = 0;
  #flushing = false;
  #closed = false;
  #events?: PeerEvents;
  #abort = new AbortController();
  #drainWaiters: { below: number; wake: () => void }[] = [];

  #options: PeerConnectionOptions;

  constructor(
    readonly stream: ByteStream,
    reader: FrameReader,
    remote: Handshake,
    options: PeerConnectionOptions,
  ) {
    this.#reader = reader;
    this.remote = remote;
    this.address = stream.remoteAddress;
    this.#options = options;
  }

  /** How messages are read: their largest length, the download limit. */
  get options(): PeerConnectionOptions {
    return this.#options;
  }

  /** True when the payload crosses the wire encrypted (MSE with RC4). */
  get encrypted(): boolean {
    return this.stream.encrypted;
  }

  /** Whether the connection runs over TCP or uTP. */
  get transport(): "tcp" | "utp" {
    return this.stream.transport;
  }

  /** Bytes read from the socket so far. */
  get bytesRead(): number {
    return this.#reader.bytesRead;
  }

  /** Bytes queued for writing and not yet handed to the socket. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Starts the read loop, delivering messages to `events` until the connection ends. */
  start(events: PeerEvents): void {
    this.#events = events;
    this.#readLoop().catch((e) => this.close(errorText(e)));
  }

  /**
   * Sends what arrives from now on to `events`, read under `options`: a connection handed from
   * one owner to the next (a magnet link's metadata phase to its download) once started.
   */
  handTo(events: PeerEvents, options: PeerConnectionOptions): void {
    this.#events = events;
    this.#options = options;
    this.#reader.limiter = options.downloadLimiter;
  }

  async #readLoop(): Promise<void> {
    while (!this.#closed) {
      const max = this.#options.maxMessageLength;
      let body: Uint8Array | null | undefined = await this.#reader.frame(max);
      if (body === null) return this.close("connection closed by peer");
      this.lastReceivedAt = performance.now();
      // Handle every frame already buffered before yielding, so the replies they cause leave
      // in one socket write.
      while (body !== undefined && !this.#closed) {
        this.#events!.onMessage(parseMessage(body));
        body = this.#reader.buffered(max);
      }
    }
  }

  /**
   * Queues bytes for sending. They are copied at once, so the caller may reuse `bytes` (a view
   * into a cache, say) as soon as this returns.
   */
  send(bytes: Uint8Array): void {
    if (this.#closed) return;
    const need = this.#pendingLength + bytes.length;
    if (need > this.#pending.length) {
      const doubled = Math.min(2 * this.#pending.length, SEND_BUFFER_DOUBLING_LIMIT);
      const grown = new Uint8Array(Math.max(need, doubled));
      grown.set(this.#pending.subarray(0, this.#pendingLength));
      this.#pending = grown;
    }
    this.#pending.set(bytes, this.#pendingLength);
    this.#pendingLength = need;
    this.#queuedBytes += bytes.length;
    if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(() => this.#flush().catch((e) => this.close(errorText(e))));
    }
  }

  /** Writes what is pending, in one socket write per batch of sends. */
  async #flush(): Promise<void> {
    while (this.#pendingLength > 0 && !this.#closed) {
      const out = this.#pending.subarray(0, this.#pendingLength);
      // Sends made while this write runs go to the other buffer.
      [this.#pending, this.#spare] = [this.#spare, this.#pending];
      this.#pendingLength = 0;
      for (let at = 0; at < out.length;) {
        const n = await this.stream.write(out.subarray(at));
        at += n;
        this.#queuedBytes -= n;
        this.bytesWritten += n;
        this.#wakeDrainWaiters();
      }
      this.lastSentAt = performance.now();
    }
    this.#flushing = false;
  }

  /**
   * Resolves once at most `below` bytes wait to reach the socket (or the peer is gone). A sender
   * that waits for some bytes rather than none keeps the socket busy meanwhile.
   */
  drained(below = 0): Promise<void> {
    if (this.#queuedBytes <= below || this.#closed) return Promise.resolve();
    return new Promise((wake) => this.#drainWaiters.push({ below, wake }));
  }

  #wakeDrainWaiters(): void {
    if (this.#drainWaiters.length === 0) return;
    const queued = this.#closed ? 0 : this.#queuedBytes;
    const waiting = this.#drainWaiters;
    this.#drainWaiters = waiting.filter((w) => w.below < queued);
    for (const w of waiting) if (w.below >= queued) w.wake();
  }

  /** Closes the socket once; `onClose` is told why. */
  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    this.#pendingLength = 0;
    this.#queuedBytes = 0;
    this.#wakeDrainWaiters();
    this.stream.close();
    this.#events?.onClose(reason);
  }

  /** Aborted when the connection closes (for limiter waits). */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }
}

function errorText(e: unknown): string {
  if (e instanceof ProtocolError) return `protocol error: ${e.message}`;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** What both sides of a handshake need. */
export interface HandshakeOptions extends PeerConnectionOptions {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  timeoutMs: number;
  /** Announce the extension protocol (BEP 10). Default true. */
  extensions?: boolean;
  /** Announce a DHT node (BEP 5). Default false. */
  dht?: boolean;
  /** Announce BitTorrent v2 (BEP 52), for a torrent with v2 hashes. Default false. */
  v2?: boolean;
}

/**
 * Runs `work`, which reads and writes `stream`; past `ms` the stream is closed and this fails
 * with "`what` timed out", whatever `work` then throws or returns. Any failure closes the stream.
 *
 * @example
 * ```ts
 * import { withDeadline } from "./connection.ts";
 * import { streamPair } from "./stream.ts";
 * const [a] = streamPair();
 * const silent = withDeadline(a, 10, "handshake", () => a.read(new Uint8Array(1)));
 * console.log(await silent.catch((e) => e.message)); // handshake timed out
 * ```
 */
export async function withDeadline<T>(
  stream: ByteStream,
  ms: number,
  what: string,
  work: () => Promise<T>,
): Promise<T> {
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    stream.close();
  }, ms);
  try {
    const result = await work();
    if (late) throw new ProtocolError(`${what} timed out`);
    return result;
  } catch (e) {
    stream.close();
    throw late ? new ProtocolError(`${what} timed out`) : e;
  } finally {
    clearTimeout(timer);
  }
}

/** Our handshake for these options. */
export function ourHandshake(o: HandshakeOptions): Uint8Array {
  return encodeHandshake({
    infoHash: o.infoHash,
    peerId: o.peerId,
    extensions: o.extensions ?? true,
    fast: true,
    dht: o.dht ?? false,
    v2: o.v2 ?? false,
  });
}

/**
 * Our side of a handshake on a stream we opened: sends ours (unless `sent`: MSE carried it in
 * its initial payload), then reads theirs, which must name the same torrent and not be us.
 *
 * @example
 * ```ts
 * import { completeIncoming, completeOutgoing, FrameReader } from "./connection.ts";
 * import { streamPair } from "./stream.ts";
 * const options = {
 *   infoHash: new Uint8Array(20), timeoutMs: 5000, maxMessageLength: 1 << 17,
 * };
 * const [a, b] = streamPair();
 * const [dialled, accepted] = await Promise.all([
 *   completeOutgoing(new FrameReader(a), { ...options, peerId: new Uint8Array(20).fill(1) }),
 *   completeIncoming(new FrameReader(b), () => ({ ...options, peerId: new Uint8Array(20).fill(2) })),
 * ]);
 * console.log(dialled.remote.peerId[0], accepted.remote.peerId[0]); // 2 1
 * dialled.close("done");
 * accepted.close("done");
 * ```
 */
export async function completeOutgoing(
  reader: FrameReader,
  options: HandshakeOptions,
  sent = false,
): Promise<PeerConnection> {
  if (!sent) await writeAll(reader.stream, ourHandshake(options));
  const theirs = await readHandshake(reader);
  if (!bytesEqual(theirs.infoHash, options.infoHash)) {
    throw new ProtocolError("peer answered with another info-hash");
  }
  if (bytesEqual(theirs.peerId, options.peerId)) throw new SelfConnectionError();
  reader.limiter = options.downloadLimiter;
  return new PeerConnection(reader.stream, reader, theirs, options);
}

/**
 * The handshake of a stream a peer opened: reads theirs, asks `accepts` for the options of the
 * torrent it names (none: refused), then answers with ours.
 */
export async function completeIncoming(
  reader: FrameReader,
  accepts: (infoHash: Uint8Array) => HandshakeOptions | undefined,
): Promise<PeerConnection> {
  const theirs = await readHandshake(reader);
  const options = accepts(theirs.infoHash);
  if (!options) throw new ProtocolError("peer asked for a torrent we do not serve");
  // Answer even ourselves, so the dialling side sees its own id and stops dialling it.
  await writeAll(reader.stream, ourHandshake(options));
  if (bytesEqual(theirs.peerId, options.peerId)) throw new SelfConnectionError();
  reader.limiter = options.downloadLimiter;
  return new PeerConnection(reader.stream, reader, theirs, options);
}

async function readHandshake(reader: FrameReader): Promise<Handshake> {
  const bytes = await reader.exact(HANDSHAKE_LENGTH);
  if (bytes === null) throw new ProtocolError("connection closed during handshake");
  return parseHandshake(bytes);
}

/** Writes all of `bytes`, however many calls the stream takes. */
export async function writeAll(stream: ByteStream, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await stream.write(bytes.subarray(written));
}
