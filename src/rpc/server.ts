/**
 * The HTTP side of Transmission's RPC protocol (its `rpc-spec.md`, section 2): JSON requests
 * POSTed to `/transmission/rpc`, answered with `result` and `arguments` and the request's `tag`.
 * Before any method runs, a request must pass, in order: a per-address rate limit (429, checked
 * by `Http1Server` as soon as the head is read, so a flood costs little), the Host allow-list
 * (421 otherwise, against DNS rebinding), Basic authentication when it is on (401), the
 * `X-Transmission-Session-Id` handshake (409 with the id, the protocol's CSRF guard) and bounds
 * on bodies (a length said, 411; at most 8 MiB, 413; 32 MiB being read at once, 503; 30 s to
 * arrive). Other paths (the web page, streams) go to the `pages` handler after the same rate,
 * host and login checks. `Http1Server` also bounds the connections open at once and the time a
 * request's head may take.
 *
 * @module
 */
import { Http1Server } from "./http1.ts";
import { basicAuthorization, RPC_PATH, SESSION_HEADER } from "./protocol.ts";

/** Transmission's own RPC port. */
export const DEFAULT_RPC_PORT = 9091;
const encoder = new TextEncoder();
/**
 * A request body larger than this is refused unread: room for a .torrent of 6 MiB in base64
 * (a torrent of thousands of files, or of terabytes in small pieces), short of a flood.
 */
const MAX_BODY_BYTES = 8 << 20;
/** Request bodies being read at once may hold this much together; past it a request gets 503. */
const MAX_BODIES_BYTES = 32 << 20;
/** A body must arrive within this (a client sending a byte now and then holds memory). */
const BODY_DEADLINE_MS = 30_000;

/** A request a method refuses: its message is the response's `result`. */
export class RpcError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RpcError";
  }
}

/** What a method answers: its response's `arguments`. */
export type MethodResult = Record<string, unknown>;

/**
 * The methods a server answers: name to handler of the request's `arguments`. A handler throws
 * `RpcError` to refuse; any other error is reported too, as the result, and to `onError`.
 */
export type RpcMethods = Record<
  string,
  (args: Record<string, unknown>) => MethodResult | Promise<MethodResult>
>;

/** Answers a request for a path other than the RPC's; `undefined` for a path it does not know. */
export type PageHandler = (
  request: Request,
  url: URL,
) => Response | undefined | Promise<Response | undefined>;

/** What an `RpcServer` is started with. */
export interface RpcServerOptions {
  /** Default 127.0.0.1. */
  hostname?: string;
  /** Default 9091; 0 picks a free one. */
  port?: number;
  /** `user:password` for HTTP Basic authentication; none when absent. */
  auth?: string;
  /** Host names accepted besides localhost, 127.0.0.1, [::1] and the bound address. */
  hosts?: readonly string[];
  /** Requests allowed per second per client address, and in a burst; default 500, 2000. */
  rate?: { perSecond: number; burst: number };
  methods: RpcMethods;
  /** Answers paths other than the RPC's (after the host, rate and login checks); none: 404. */
  pages?: PageHandler;
  /** Where unexpected failures of a method are told (they are answered as its result). */
  onError?: (message: string) => void;
}

/**
 * A running RPC endpoint.
 *
 * @example
 * ```ts
 * import { RpcServer } from "./server.ts";
 * const server = RpcServer.start({ port: 0, methods: { "session-get": () => ({ version: "x" }) } });
 * const url = `http://127.0.0.1:${server.port}/transmission/rpc`;
 * const call = (id = "") =>
 *   fetch(url, { method: "POST", headers: { "X-Transmission-Session-Id": id },
 *     body: JSON.stringify({ method: "session-get", tag: 7 }) });
 * const first = await call();
 * await first.body?.cancel();
 * const id = first.headers.get("X-Transmission-Session-Id")!;
 * console.log(first.status, await (await call(id)).json()); // 409 { arguments: { version: "x" }, result: "success", tag: 7 }
 * await server.stop();
 * ```
 */
export class RpcServer {
  readonly #server: Http1Server;
  /** Bytes of the bodies being read now (reserved from their Content-Length). */
  #bodiesBytes = 0;
  readonly #options: RpcServerOptions;
  readonly #hosts: Set<string>;
  readonly #auth: string | undefined;
  /** The CSRF token a client must echo; a new one each time the server starts. */
  readonly sessionId = crypto.randomUUID().replaceAll("-", "");

  private constructor(options: RpcServerOptions) {
    this.#options = options;
    const hostname = options.hostname ?? "127.0.0.1";
    this.#hosts = new Set(
      ["localhost", "127.0.0.1", "::1", hostname, ...options.hosts ?? []].map((h) =>
        h.toLowerCase()
      ),
    );
    this.#auth = options.auth === undefined ? undefined : basicAuthorization(options.auth);
    this.#server = Http1Server.listen(
      {
        hostname,
        port: options.port ?? DEFAULT_RPC_PORT,
        rate: options.rate ?? { perSecond: 500, burst: 2000 },
        onError: options.onError,
      },
      (request) => this.#handle(request),
    );
  }

  /** Listens; throws `Deno.errors.AddrInUse` when the port is taken. */
  static start(options: RpcServerOptions): RpcServer {
    return new RpcServer(options);
  }

  /** The port listened on. */
  get port(): number {
    return this.#server.port;
  }

  /** Stops listening and ends open connections. */
  async stop(): Promise<void> {
    await this.#server.shutdown();
  }

  async #handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (!this.#hosts.has(hostOf(request.headers.get("host") ?? ""))) {
      return textResponse(421, "Misdirected Request: unknown host name (DNS rebinding protection)");
    }
    if (this.#auth !== undefined && !sameText(request.headers.get("authorization"), this.#auth)) {
      return textResponse(401, "Unauthorized", { "WWW-Authenticate": 'Basic realm="bittorrent"' });
    }
    // Transmission's own tools post to the path with a trailing slash.
    if (url.pathname !== RPC_PATH && url.pathname !== `${RPC_PATH}/`) {
      return await this.#options.pages?.(request, url) ?? textResponse(404, "Not Found");
    }
    if (request.headers.get(SESSION_HEADER) !== this.sessionId) {
      await request.body?.cancel();
      return new Response(`<h1>409: Conflict</h1><p>${SESSION_HEADER}: ${this.sessionId}</p>\n`, {
        status: 409,
        headers: { [SESSION_HEADER]: this.sessionId, "Content-Type": "text/html" },
      });
    }
    if (request.method !== "POST") {
      return textResponse(405, "Method Not Allowed: POST a JSON request");
    }
    // The length first: a body without one could only be read to its end to be refused.
    const declared = Number(request.headers.get("content-length") ?? NaN);
    if (!Number.isSafeInteger(declared) || declared < 0) {
      await request.body?.cancel();
      return textResponse(411, "Length Required");
    }
    if (declared > MAX_BODY_BYTES) {
      await request.body?.cancel();
      return textResponse(413, "Payload Too Large");
    }
    if (this.#bodiesBytes + declared > MAX_BODIES_BYTES) {
      await request.body?.cancel();
      return textResponse(503, "Service Unavailable: too many requests being read", {
        "Retry-After": "1",
      });
    }
    this.#bodiesBytes += declared;
    let body: Uint8Array | undefined;
    try {
      body = await readBody(request, declared, BODY_DEADLINE_MS);
    } finally {
      this.#bodiesBytes -= declared;
    }
    if (body === undefined) {
      return textResponse(400, "Bad Request: the body is not the length it said");
    }
    // With its length, the answer leaves in one write: head and body together, no chunks.
    const json = encoder.encode(JSON.stringify(await this.#call(body)));
    return new Response(json, {
      headers: { "Content-Type": "application/json", "Content-Length": String(json.length) },
    });
  }

  async #call(body: Uint8Array): Promise<Record<string, unknown>> {
    let request: unknown;
    try {
      request = JSON.parse(new TextDecoder().decode(body));
    } catch {
      return { result: "the request is not JSON" };
    }
    if (!isRecord(request) || typeof request.method !== "string") {
      return { result: "the request names no method" };
    }
    const tag = typeof request.tag === "number" ? { tag: request.tag } : {};
    const method = Object.hasOwn(this.#options.methods, request.method)
      ? this.#options.methods[request.method]
      : undefined;
    if (!method) return { result: "method name not recognized", ...tag };
    const args = isRecord(request.arguments) ? request.arguments : {};
    try {
      return { arguments: await method(args), result: "success", ...tag };
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (!(e instanceof RpcError)) this.#options.onError?.(`RPC ${request.method}: ${message}`);
      return { result: message, ...tag };
    }
  }
}

/**
 * A short plain-text answer: a status and one line saying why, for people and scripts alike.
 *
 * @example
 * ```ts
 * import { textResponse } from "./server.ts";
 * const r = textResponse(404, "Not Found", { "Retry-After": "5" });
 * console.log(r.status, await r.text()); // 404 "Not Found\n"
 * ```
 */
export function textResponse(
  status: number,
  text: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(`${text}\n`, {
    status,
    headers: { "Content-Type": "text/plain; charset=utf-8", ...headers },
  });
}

/** The host name of a `Host` header: no port, no IPv6 brackets, lowercase. */
function hostOf(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(1, h.indexOf("]") > 0 ? h.indexOf("]") : undefined);
  const colon = h.lastIndexOf(":");
  return colon >= 0 && h.indexOf(":") === colon ? h.slice(0, colon) : h;
}

/** Compares two strings in time that does not depend on where they first differ. */
function sameText(a: string | null, b: string): boolean {
  if (a === null || a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * The body of `length` bytes, or `undefined` when it is longer, shorter, or not all there within
 * `deadlineMs` (what is left is not read).
 */
async function readBody(
  request: Request,
  length: number,
  deadlineMs: number,
): Promise<Uint8Array | undefined> {
  const reader = request.body?.getReader();
  if (!reader) return length === 0 ? new Uint8Array(0) : undefined;
  const body = new Uint8Array(length);
  let size = 0;
  const timer = setTimeout(() => reader.cancel().catch(() => {}), deadlineMs);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return size === length ? body : undefined;
      if (size + value.length > length) return undefined;
      body.set(value, size);
      size += value.length;
    }
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
    reader.cancel().catch(() => {});
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
