/**
 * A small HTTP/1.1 server under the RPC and the web page, for the bounds `Deno.serve` does not
 * offer: how many connections are open at once, so a flood of sockets cannot take every file
 * descriptor of the process; how long a request's head may take to arrive; how long an answer
 * may sit unread; how fast closing connections read the refused bodies their clients still
 * send. At the first bound, the connection that has waited longest for a request's head is
 * closed to make room (a slowloris client dribbling its headers, or an idle kept-alive one),
 * so a client that sends its request at once is served at once; only when every connection is
 * busy answering do new ones wait in the kernel's queue.
 *
 * Requests and responses are the Web's `Request` and `Response`, as with `Deno.serve`. Request
 * bodies need a Content-Length (411 otherwise); response bodies of unknown length go chunked.
 *
 * @module
 */
import { concatBytes, PerSourceLimiter, TokenBucket } from "../util/mod.ts";

/** Bounds of an {@link Http1Server}; each has a default. */
export interface Http1Options {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  /** Connections open at once; default 256. */
  maxConnections?: number;
  /**
   * Time for a request's line and headers to arrive, counted from when the server starts
   * waiting for them (a kept-alive connection idle that long closes too); default 10 s.
   */
  headTimeoutMs?: number;
  /** Bytes of a request's line and headers together; default 16 KiB (431 past it). */
  maxHeadBytes?: number;
  /**
   * How long the client may leave an answer unread (no byte taken) before its connection is
   * closed; default 60 s. A paused player asks again with a Range when it resumes.
   */
  writeTimeoutMs?: number;
  /**
   * Bytes a second all closing connections may read together of what their clients still send
   * (see `linger`); default 32 MiB. A lone client's refused body of 16 MiB drains within the
   * second a closing connection lingers, while clients posting oversized bodies in a loop get
   * reset rather than a core of the server's CPU (each byte read is a kernel copy).
   */
  lingerRate?: number;
  /**
   * Requests a client address may make a second, and in a burst; past them a request is
   * answered 429 (Retry-After: 1) as soon as its head is read, before anything of it is built,
   * so a flood costs little more than its heads. Default: no limit.
   */
  rate?: { perSecond: number; burst: number };
  /** Told of a failure that is not a client's doing (the listener failing, say). */
  onError?: (message: string) => void;
}

/** Answers a request from `remote`. */
export type Http1Handler = (request: Request, remote: Deno.NetAddr) => Promise<Response>;

const CRLF = new Uint8Array([13, 10]);
const HEAD_END = new Uint8Array([13, 10, 13, 10]);
/** How long after its listener fails the server listens again. */
const RELISTEN_MS = 1000;
const READ_SIZE = 16 * 1024;
/** The default of `headTimeoutMs`. */
const HEAD_TIMEOUT_MS = 10_000;
/** The largest body a request past its client's rate may have and keep its connection. */
const THROTTLED_BODY_BYTES = 64 * 1024;
/** How long a shutdown waits for handlers still at work. */
const SHUTDOWN_WAIT_MS = 1000;
/** How long a write may wait for the client to read before the connection is closed. */
const WRITE_TIMEOUT_MS = 60_000;
/** How long, and how much, a closing connection reads of what its client still sends (`linger`). */
const LINGER_MS = 1000;
const LINGER_BYTES = 16 << 20;
const LINGER_RATE = 32 << 20;
/** Why a linger's drain is taken out of the budget's queue. */
const LINGER_OVER = new Error("the linger is over");
/**
 * Where every connection's dropped bytes land: what is read there is never looked at, so all
 * may share it, and a big one drains a refused body in few reads.
 */
const DISCARD = new Uint8Array(256 * 1024);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** A client's mistake in a request's head: answered with `status`, then the connection closes. */
class BadRequest extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/**
 * A running server.
 *
 * @example
 * ```ts
 * import { Http1Server } from "./http1.ts";
 * const server = Http1Server.listen({ hostname: "127.0.0.1", port: 0 }, (request) =>
 *   Promise.resolve(new Response(`you asked for ${new URL(request.url).pathname}`)));
 * const response = await fetch(`http://127.0.0.1:${server.port}/a/b`);
 * console.log(response.status, await response.text()); // 200 you asked for /a/b
 * await server.shutdown();
 * ```
 */
export class Http1Server {
  #listener: Deno.TcpListener;
  readonly #options: Http1Options;
  readonly #handler: Http1Handler;
  /** Each open connection, with where it is (see `ConnectionState`). */
  readonly #connections = new Map<Deno.TcpConn, ConnectionState>();
  /** Each connection's serving, for a shutdown to wait on. */
  readonly #serving = new Set<Promise<void>>();
  #slotFreed: (() => void) | undefined;
  /** What every lingering connection reads, together (see `lingerRate`). */
  readonly #lingerBudget: TokenBucket;
  /** Each client address's requests (see `rate`). */
  readonly #limiter: PerSourceLimiter | undefined;
  #closing = false;
  #accepting: Promise<void>;

  private constructor(listener: Deno.TcpListener, options: Http1Options, handler: Http1Handler) {
    this.#listener = listener;
    this.#options = options;
    this.#handler = handler;
    this.#lingerBudget = new TokenBucket(options.lingerRate ?? LINGER_RATE, DISCARD.length);
    const rate = options.rate;
    this.#limiter = rate && new PerSourceLimiter(rate.perSecond, rate.burst);
    this.#accepting = this.#acceptLoop();
  }

  /** Listens; throws `Deno.errors.AddrInUse` when the port is taken. */
  static listen(options: Http1Options, handler: Http1Handler): Http1Server {
    const listener = Deno.listen({ hostname: options.hostname, port: options.port });
    return new Http1Server(listener, options, handler);
  }

  /** The port listened on. */
  get port(): number {
    return this.#listener.addr.port;
  }

  /** Connections open now. */
  get connections(): number {
    return this.#connections.size;
  }

  /**
   * Stops listening and closes every connection: a response being sent is cut and its body
   * cancelled (a stream waiting for a piece would wait for good). Handlers still working get
   * a second to end.
   */
  async shutdown(): Promise<void> {
    this.#closing = true;
    this.#slotFreed?.();
    try {
      this.#listener.close();
    } catch {
      // closed already
    }
    for (const [conn, state] of this.#connections) {
      closeQuietly(conn);
      state.cancelAnswer?.();
    }
    await this.#accepting;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(this.#serving),
      new Promise((r) => timer = setTimeout(r, SHUTDOWN_WAIT_MS)),
    ]);
    clearTimeout(timer);
  }

  /**
   * Accepts while there is room. A failed accept (out of file descriptors) waits a second; a
   * failed listener is listened again on its port, as the server must outlive a flood.
   */
  async #acceptLoop(): Promise<void> {
    const max = this.#options.maxConnections ?? 256;
    while (!this.#closing) {
      if (this.#connections.size >= max && this.#longestWaiting() === undefined) {
        // Until a slot frees, or a connection has waited long enough for its head to go.
        await new Promise<void>((wake) => {
          const timer = setTimeout(wake, this.#grace());
          this.#slotFreed = () => {
            clearTimeout(timer);
            wake();
          };
        });
        continue;
      }
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (e) {
        if (this.#closing) return;
        this.#options.onError?.(`RPC listener: ${e instanceof Error ? e.message : e}`);
        await new Promise((r) => setTimeout(r, RELISTEN_MS));
        if (e instanceof Deno.errors.BadResource) this.#relisten();
        continue;
      }
      if (this.#connections.size >= max) {
        const oldest = this.#longestWaiting();
        if (oldest) {
          this.#connections.delete(oldest);
          closeQuietly(oldest);
        }
      }
      // Answers are written whole; Nagle's wait would only delay them.
      conn.setNoDelay(true);
      const state: ConnectionState = { watchdog: new Watchdog(() => closeQuietly(conn)) };
      this.#connections.set(conn, state);
      const serving = this.#serve(conn, state).catch((e) => {
        this.#options.onError?.(`RPC connection failed: ${e instanceof Error ? e.message : e}`);
      }).finally(() => {
        state.watchdog.stop();
        this.#connections.delete(conn);
        this.#serving.delete(serving);
        closeQuietly(conn);
        const wake = this.#slotFreed;
        this.#slotFreed = undefined;
        wake?.();
      });
      this.#serving.add(serving);
    }
  }

  /**
   * The connection that has waited longest for a request's head, if one has waited long enough
   * to tell it from a client whose request is on its way (a second, or a quarter of the head's
   * time).
   */
  #longestWaiting(): Deno.TcpConn | undefined {
    let oldest: Deno.TcpConn | undefined, since = performance.now() - this.#grace();
    for (const [conn, state] of this.#connections) {
      if (state.waitingSince !== undefined && state.waitingSince < since) {
        oldest = conn;
        since = state.waitingSince;
      }
    }
    return oldest;
  }

  /** How long a connection waits for a request's head before it may be closed for another. */
  #grace(): number {
    return Math.min(1000, this.#headTimeoutMs() / 4);
  }

  #headTimeoutMs(): number {
    return this.#options.headTimeoutMs ?? HEAD_TIMEOUT_MS;
  }

  #relisten(): void {
    try {
      this.#listener = Deno.listen({ hostname: this.#options.hostname, port: this.port });
    } catch (e) {
      this.#options.onError?.(`RPC listener cannot listen again: ${e}`);
    }
  }

  /** Serves requests on `conn` one after another until either side closes it. */
  async #serve(conn: Deno.TcpConn, state: ConnectionState): Promise<void> {
    const input = new Input(conn, state.watchdog, this.#lingerBudget);
    const remote = conn.remoteAddr;
    for (;;) {
      let head: Head | undefined;
      state.waitingSince = performance.now();
      try {
        head = await input.head(
          this.#headTimeoutMs(),
          this.#options.maxHeadBytes ?? 16 * 1024,
        );
      } catch (e) {
        if (e instanceof BadRequest) await refuse(input, e);
        return;
      } finally {
        state.waitingSince = undefined;
      }
      if (head === undefined) return;
      if (this.#limiter && !this.#limiter.allow(remote.hostname)) {
        if (!await throttle(input, head, this.#headTimeoutMs())) return;
        continue;
      }
      let request: Request, body: Body | undefined;
      try {
        ({ request, body } = toRequest(head, input));
      } catch (e) {
        // `Request` itself refuses some methods (CONNECT, TRACE) and names.
        await refuse(input, e instanceof BadRequest ? e : new BadRequest(400, `Bad Request: ${e}`));
        return;
      }
      let response: Response;
      try {
        response = await this.#handler(request, remote);
      } catch (e) {
        this.#options.onError?.(`RPC handler failed: ${e instanceof Error ? e.message : e}`);
        response = new Response("Internal Server Error\n", { status: 500 });
      }
      const keepAlive = head.keepAlive && !response.headers.has("connection") &&
        (body === undefined || await body.finish());
      // HTTP/1.0 knows no chunks: a body of unknown length ends where the connection does.
      const chunks = head.version === "HTTP/1.1" || response.headers.has("content-length");
      const isHead = head.method === "HEAD";
      const writeTimeoutMs = this.#options.writeTimeoutMs ?? WRITE_TIMEOUT_MS;
      // A client that hangs up while its answer waits (a stream waiting for a piece) is not
      // written to, so only reading tells: its answer is cancelled then, freeing what it holds.
      input.ended(this.#options.maxHeadBytes ?? 16 * 1024).then(() => state.cancelAnswer?.());
      const written = await writeResponse(
        input,
        response,
        { head: isHead, keepAlive: keepAlive && chunks, chunks, writeTimeoutMs, state },
      );
      if (!written) return;
      if (!keepAlive || !chunks) return await linger(input);
    }
  }
}

/** A request's line and headers. */
interface Head {
  method: string;
  target: string;
  version: "HTTP/1.1" | "HTTP/1.0";
  /** The header fields in order, for the `Request` (a `Headers` built here would be copied). */
  fields: [string, string][];
  /** A field's value by its lower-case name, repeated ones joined with ", " as `Headers` has it. */
  field(name: string): string | undefined;
  keepAlive: boolean;
}

/**
 * Reads a connection in chunks, keeping what is read past what was asked, and writes to it
 * whole; both under the connection's watchdog.
 */
class Input {
  #buffer = new Uint8Array(0);
  /** The read in flight, shared by whoever waits for more. */
  #filling: Promise<boolean> | undefined;
  /** The watch for the client hanging up (see `ended`). */
  #ended: Promise<void> | undefined;
  /** Where each read lands, one a connection: only what a read brought is kept. */
  readonly #scratch = new Uint8Array(READ_SIZE);
  /** While draining, the bytes dropped so far: reads are counted, not kept. */
  #dropped: number | undefined;

  /** What `drain` may drop, shared with the server's other connections. */
  readonly #dropBudget: TokenBucket;

  /** @param watchdog closes `conn` when what it waits for takes too long (see `head`, `write`). */
  constructor(readonly conn: Deno.TcpConn, readonly watchdog: Watchdog, dropBudget: TokenBucket) {
    this.#dropBudget = dropBudget;
  }

  /**
   * The next request's head; `undefined` when the connection ends before one starts. Throws
   * `BadRequest` for a malformed or oversized head, and closes the connection when it does not
   * arrive in `timeoutMs`.
   */
  async head(timeoutMs: number, maxBytes: number): Promise<Head | undefined> {
    this.watchdog.expireIn(timeoutMs);
    try {
      let end: number;
      while ((end = indexOf(this.#buffer, HEAD_END)) < 0) {
        if (this.#buffer.length > maxBytes) {
          throw new BadRequest(431, "Request Header Fields Too Large");
        }
        if (!await this.#fill()) {
          if (this.#buffer.length === 0) return undefined;
          throw new BadRequest(400, "Bad Request: the request ended in its head");
        }
      }
      if (end > maxBytes) throw new BadRequest(431, "Request Header Fields Too Large");
      const text = latin1.decode(this.#buffer.subarray(0, end));
      this.#buffer = this.#buffer.subarray(end + HEAD_END.length);
      return parseHead(text);
    } catch (e) {
      if (e instanceof BadRequest) throw e;
      return undefined;
    } finally {
      this.watchdog.clear();
    }
  }

  /**
   * Writes all of `bytes`; the connection closes (and this throws) when the client takes
   * none of them for `timeoutMs`.
   */
  async write(bytes: Uint8Array, timeoutMs = WRITE_TIMEOUT_MS): Promise<void> {
    try {
      for (let at = 0; at < bytes.length;) {
        this.watchdog.expireIn(timeoutMs);
        at += await this.conn.write(bytes.subarray(at));
      }
    } finally {
      this.watchdog.clear();
    }
  }

  /**
   * Reads the next `n` bytes and drops them; false when the connection ends first or they do
   * not all arrive in `timeoutMs` (the connection is closed then).
   */
  async skip(n: number, timeoutMs: number): Promise<boolean> {
    this.watchdog.expireIn(timeoutMs);
    try {
      while (this.#buffer.length < n) if (!await this.#fill()) return false;
      this.#buffer = this.#buffer.subarray(n);
      return true;
    } catch {
      return false;
    } finally {
      this.watchdog.clear();
    }
  }

  /** The next `n` bytes when they have all arrived already; else undefined. */
  take(n: number): Uint8Array<ArrayBuffer> | undefined {
    if (this.#buffer.length < n) return undefined;
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    return out;
  }

  /** Up to `max` bytes of what follows (fewer when fewer are there); null at the end. */
  async read(max: number): Promise<Uint8Array | null> {
    if (this.#buffer.length === 0 && !await this.#fill()) return null;
    const n = Math.min(max, this.#buffer.length);
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    return out;
  }

  /**
   * Resolves when the client ends its side of the connection (it hung up), reading on meanwhile:
   * what it sends (a next request) is kept for `head`. It stops watching, unresolved, once
   * `max` bytes wait unread or `drain` reads (at its own pace), and can be asked again. Never
   * rejects.
   */
  ended(max: number): Promise<void> {
    return this.#ended ??= (async () => {
      try {
        while (this.#buffer.length <= max && this.#dropped === undefined) {
          if (!await this.#fill()) return;
        }
      } catch {
        return;
      }
      this.#ended = undefined;
      await new Promise(() => {});
    })();
  }

  /**
   * Reads and drops what the client still sends, until it ends, the connection fails, `signal`
   * aborts, or `max` bytes are dropped (false then). Nothing dropped is copied, and no faster
   * than the drop budget allows.
   */
  async drain(max: number, signal: AbortSignal): Promise<boolean> {
    this.#dropped = this.#buffer.length;
    this.#buffer = new Uint8Array(0);
    try {
      while (this.#dropped < max) {
        // A whole read's budget first, what it did not use given back after: all closing
        // connections together read no faster than the budget, however many there are.
        // Waits its turn; `signal` (the linger's end) takes it out of the queue.
        await this.#dropBudget.take(DISCARD.length, signal);
        const before = this.#dropped;
        const more = await this.#fill();
        this.#dropBudget.refund(DISCARD.length - (this.#dropped - before));
        if (!more) return true;
      }
      return false;
    } catch {
      return true; // closed, by the client or by us
    } finally {
      this.#dropped = undefined;
    }
  }

  /** Reads more onto the buffer; false at the end of the stream. One read at a time. */
  #fill(): Promise<boolean> {
    return this.#filling ??= this.#readMore().finally(() => this.#filling = undefined);
  }

  async #readMore(): Promise<boolean> {
    const n = await this.conn.read(this.#dropped === undefined ? this.#scratch : DISCARD);
    if (n === null) return false;
    if (this.#dropped !== undefined) {
      this.#dropped += n;
      return true;
    }
    // A new array each time, never written again: what `read` and `take` hand out are views.
    const grown = new Uint8Array(this.#buffer.length + n);
    grown.set(this.#buffer);
    grown.set(this.#scratch.subarray(0, n), this.#buffer.length);
    this.#buffer = grown;
    return true;
  }
}

/** The request line and the header fields, checked as RFC 9112 has them. */
function parseHead(text: string): Head {
  const lines = text.split("\r\n");
  const parts = lines[0].split(" ");
  if (parts.length !== 3 || !TOKEN.test(parts[0]) || parts[1] === "") {
    throw new BadRequest(400, "Bad Request: malformed request line");
  }
  const [method, target, version] = parts;
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
    throw new BadRequest(505, "HTTP Version Not Supported");
  }
  const fields: [string, string][] = [];
  const byName = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon), value = line.slice(colon + 1).trim();
    if (colon <= 0 || !TOKEN.test(name) || !FIELD_VALUE.test(value)) {
      throw new BadRequest(400, "Bad Request: malformed header field");
    }
    fields.push([name, value]);
    const key = name.toLowerCase(), before = byName.get(key);
    byName.set(key, before === undefined ? value : `${before}, ${value}`);
  }
  const connection = byName.get("connection")?.toLowerCase() ?? "";
  const keepAlive = version === "HTTP/1.1"
    ? !connection.includes("close")
    : connection.includes("keep-alive");
  return { method, target, version, fields, field: (name) => byName.get(name), keepAlive };
}

/** A request body being read from the connection. */
interface Body {
  /** True when the body was read to its end (or ends now, if short): the connection can go on. */
  finish(): Promise<boolean>;
}

/** The `Request` of `head`, with its body read from `input` as the handler reads it. */
function toRequest(head: Head, input: Input): { request: Request; body?: Body } {
  if (head.field("transfer-encoding") !== undefined) {
    throw new BadRequest(411, "Length Required: send a Content-Length, not a chunked body");
  }
  const lengths = head.field("content-length");
  if (lengths !== undefined && !/^\d{1,15}$/.test(lengths)) {
    throw new BadRequest(400, "Bad Request: malformed Content-Length");
  }
  const length = lengths === undefined ? 0 : Number(lengths);
  // Only for the URL's shape: a request without a Host (HTTP/1.0) is the handler's to judge.
  const host = head.field("host") ?? "localhost";
  let url: URL;
  try {
    url = head.target.startsWith("/")
      ? new URL(`http://${/^[^/?#@]*$/.test(host) ? host : "invalid"}${head.target}`)
      : new URL(head.target);
  } catch {
    throw new BadRequest(400, "Bad Request: malformed target");
  }
  const noBody = head.method === "GET" || head.method === "HEAD";
  if (length === 0 || noBody) {
    const request = new Request(url, { method: head.method, headers: head.fields });
    // A GET with a body: left unread, so the connection cannot go on.
    return { request, body: length === 0 ? undefined : { finish: () => Promise.resolve(false) } };
  }
  // The whole body came with the head (a small request): no stream to read it through.
  const arrived = input.take(length);
  if (arrived) {
    const request = new Request(url, { method: head.method, headers: head.fields, body: arrived });
    return { request };
  }
  let left = length, continued = !/100-continue/i.test(head.field("expect") ?? "");
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!continued) {
        continued = true;
        await input.write(encoder.encode("HTTP/1.1 100 Continue\r\n\r\n"));
      }
      const chunk = await input.read(Math.min(left, READ_SIZE));
      if (chunk === null) return controller.error(new Error("the body ended early"));
      left -= chunk.length;
      controller.enqueue(chunk);
      if (left === 0) controller.close();
    },
  });
  const request = new Request(url, {
    method: head.method,
    headers: head.fields,
    body: stream,
    // @ts-ignore: Deno's RequestInit knows `duplex` for streamed bodies.
    duplex: "half",
  });
  // Whatever the handler left unread is not read: past a body never asked for, the
  // connection closes (reading it could mean megabytes a hostile client chose).
  return { request, body: { finish: () => Promise.resolve(left === 0) } };
}

/** Where a connection is: waiting for a request's head, or sending an answer. */
interface ConnectionState {
  /** Closes the connection when a head or a write takes too long. */
  watchdog: Watchdog;
  /** Since when it waits for a head (performance.now()); undefined while busy with a request. */
  waitingSince?: number;
  /** Cancels the body of the answer being sent, while one is. */
  cancelAnswer?: () => void;
}

/** How `writeResponse` writes one answer. */
interface WriteOptions {
  /** The answer to a HEAD: no body. */
  head: boolean;
  keepAlive: boolean;
  /** A body of unknown length may go chunked (HTTP/1.1). */
  chunks: boolean;
  writeTimeoutMs: number;
  state: ConnectionState;
}

/**
 * Writes `response`; false when the connection failed. A client that stops reading, or goes
 * away, cancels the body.
 */
async function writeResponse(
  output: Input,
  response: Response,
  { head, keepAlive, chunks, writeTimeoutMs, state }: WriteOptions,
): Promise<boolean> {
  const bodiless = head || response.status === 204 || response.status === 304;
  const body = response.body;
  const framed = bodiless || response.headers.has("content-length");
  const chunked = !framed && body !== null && chunks;
  // The handler's fields as they are (no copy: a `Headers` costs kilobytes a request), save
  // the framing and connection fields this server decides.
  let text = `HTTP/1.1 ${response.status} ${response.statusText || reason(response.status)}\r\n`;
  for (const [name, value] of response.headers) {
    if (name === "transfer-encoding" || (name === "connection" && !keepAlive)) continue;
    text += `${name}: ${value}\r\n`;
  }
  if (!framed && body === null) text += "content-length: 0\r\n";
  if (chunked) text += "transfer-encoding: chunked\r\n";
  if (!keepAlive) text += "connection: close\r\n";
  const reader = bodiless ? undefined : body?.getReader();
  if (reader) state.cancelAnswer = () => void reader.cancel().catch(() => {});
  // The head goes out with the body's first bytes, and each chunk with its framing, in one
  // write: a response in several small segments waits on the client's delayed ACKs.
  let pending: Uint8Array | undefined = encoder.encode(`${text}\r\n`);
  try {
    if (bodiless) await body?.cancel();
    for (;;) {
      const next = reader ? await reader.read() : { done: true as const };
      if (next.done) break;
      const value = next.value;
      if (value.length === 0) continue;
      const bytes = chunked
        ? concatBytes(encoder.encode(`${value.length.toString(16)}\r\n`), value, CRLF)
        : value;
      await output.write(pending ? concatBytes(pending, bytes) : bytes, writeTimeoutMs);
      pending = undefined;
    }
    const end = chunked ? encoder.encode("0\r\n\r\n") : new Uint8Array(0);
    if (pending || end.length > 0) {
      await output.write(pending ? concatBytes(pending, end) : end, writeTimeoutMs);
    }
    return true;
  } catch {
    await reader?.cancel().catch(() => {});
    return false;
  } finally {
    state.cancelAnswer = undefined;
  }
}

/**
 * Answers a request past its client's rate with 429. The connection goes on when the request's
 * body (if any) is declared small: it is read and dropped, so that a client past its rate
 * does not come back on a new connection each time, which costs both sides more. A larger
 * body, or one without a length, closes the connection as a refused body does. False when
 * the connection is done.
 */
async function throttle(input: Input, head: Head, timeoutMs: number): Promise<boolean> {
  const declared = head.field("content-length") ?? "0";
  const length = /^\d{1,15}$/.test(declared) ? Number(declared) : NaN;
  const small = head.keepAlive && head.field("transfer-encoding") === undefined &&
    length <= THROTTLED_BODY_BYTES;
  if (!small || !await input.skip(length, timeoutMs)) {
    await refuse(input, new BadRequest(429, "Too Many Requests"));
    return false;
  }
  return await input.write(TOO_MANY).then(() => true, () => false);
}

/** Answers a malformed request, then closes the connection (see `linger`). */
async function refuse(input: Input, bad: BadRequest): Promise<void> {
  try {
    await input.write(simple(bad.status, bad.message));
  } catch {
    return;
  }
  await linger(input);
}

/**
 * Ends our side and reads what the client still sends (a body it was not asked for) for at
 * most a second before closing: closing with bytes unread makes the kernel reset the
 * connection, and the client might lose the answer it was sent. A client still sending after
 * `LINGER_BYTES` is reset: past twice the largest body taken, reading on serves no client.
 */
async function linger(input: Input): Promise<void> {
  // Its own timer, which also takes the drain out of the budget's queue: a connection closed
  // but still waiting there would hold its place among the server's connections.
  const end = new AbortController();
  const timer = setTimeout(() => {
    end.abort(LINGER_OVER); // a reason of ours: the default one is an exception built anew
    closeQuietly(input.conn);
  }, LINGER_MS);
  try {
    await input.conn.closeWrite();
    if (!await input.drain(LINGER_BYTES, end.signal)) closeQuietly(input.conn);
  } catch {
    // closed, by the client or by the timer
  } finally {
    clearTimeout(timer);
  }
}

/** A short plain-text response; it closes the connection unless `keepAlive`. */
function simple(status: number, text: string, keepAlive = false): Uint8Array {
  const body = encoder.encode(`${text}\n`);
  return concatBytes(
    encoder.encode(
      `HTTP/1.1 ${status} ${reason(status)}\r\nContent-Type: text/plain\r\n` +
        (status === 429 ? "Retry-After: 1\r\n" : "") +
        `Content-Length: ${body.length}\r\n${keepAlive ? "" : "Connection: close\r\n"}\r\n`,
    ),
    body,
  );
}

const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  204: "No Content",
  206: "Partial Content",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  411: "Length Required",
  413: "Content Too Large",
  416: "Range Not Satisfiable",
  421: "Misdirected Request",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

/** The 429 a kept-alive client is sent, built once. */
const TOO_MANY = simple(429, "Too Many Requests", true);

function reason(status: number): string {
  return REASONS[status] ?? "Status";
}

/**
 * Calls `expire` once a deadline passes. Moving the deadline later, as every read and write of
 * a busy connection does, costs no new timer: the one timer, when it fires early, finds the
 * later deadline and waits again. A timer a request is allocation a flood turns into GC time.
 */
class Watchdog {
  #deadline = Infinity;
  /** When the armed timer fires (Infinity: none armed). */
  #firesAt = Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #expire: () => void;

  constructor(expire: () => void) {
    this.#expire = expire;
  }

  /** Expires `ms` from now, unless cleared or moved first. */
  expireIn(ms: number): void {
    this.#deadline = performance.now() + ms;
    if (this.#deadline < this.#firesAt) this.#arm();
  }

  /** No deadline until the next `expireIn` (the timer, if armed, finds none). */
  clear(): void {
    this.#deadline = Infinity;
  }

  /** No deadline and no timer: the connection is done. */
  stop(): void {
    this.#deadline = this.#firesAt = Infinity;
    clearTimeout(this.#timer);
  }

  #arm(): void {
    clearTimeout(this.#timer);
    this.#firesAt = this.#deadline;
    this.#timer = setTimeout(() => {
      this.#firesAt = Infinity;
      if (this.#deadline === Infinity) return;
      if (performance.now() >= this.#deadline) {
        this.#deadline = Infinity;
        this.#expire();
      } else this.#arm();
    }, this.#deadline - performance.now());
  }
}

function closeQuietly(conn: Deno.TcpConn): void {
  try {
    conn.close();
  } catch {
    // closed already
  }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
