/**
 * The calling side of Transmission's RPC protocol, for the remote commands (`bittorrent add`,
 * `ls`, ...): it keeps the session id the server hands out (retrying once on 409), sends the
 * login, and turns every failure into one `RpcCallError` line.
 *
 * @module
 */
import { basicAuthorization, RPC_PATH, SESSION_HEADER } from "./protocol.ts";

/** A call that failed: the server is unreachable, refused us, or answered with an error. */
export class RpcCallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RpcCallError";
  }
}

/** The default address of a daemon, Transmission's. */
export const DEFAULT_RPC_URL = "http://127.0.0.1:9091";
/** Longest a call may take. */
const CALL_TIMEOUT_MS = 30_000;

/**
 * A connection to a daemon's RPC at `url` (`http://host:port`, the path added when missing).
 *
 * @example
 * ```ts
 * import { RpcClient, RpcServer } from "./mod.ts";
 * const server = RpcServer.start({ port: 0, methods: { "session-get": () => ({ version: "x" }) } });
 * const client = new RpcClient(`http://127.0.0.1:${server.port}`);
 * console.log(await client.call("session-get")); // { version: "x" }
 * await server.stop();
 * ```
 */
export class RpcClient {
  readonly url: string;
  readonly #authorization: string | undefined;
  #sessionId = "";
  #tag = 0;

  /** `auth` is `user:password`; a login in the URL (`http://u:p@host`) works too. */
  constructor(url: string, auth?: string) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new RpcCallError(`not a URL: ${url}`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new RpcCallError(`not an http URL: ${url}`);
    }
    const login = auth ??
      (parsed.username
        ? `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`
        : undefined);
    parsed.username = parsed.password = "";
    if (parsed.pathname === "/" || parsed.pathname === "") parsed.pathname = RPC_PATH;
    this.url = parsed.href;
    this.#authorization = login === undefined ? undefined : basicAuthorization(login);
  }

  /** Calls `method`; resolves with its `arguments`, rejects with `RpcCallError`. */
  async call(
    method: string,
    args: Record<string, unknown> = {},
  ): Promise<Record<string, unknown>> {
    const tag = ++this.#tag;
    const body = JSON.stringify({ method, arguments: args, tag });
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await this.#post(body);
      if (response.status === 409) {
        await response.body?.cancel();
        this.#sessionId = response.headers.get(SESSION_HEADER) ?? "";
        continue;
      }
      if (response.status === 401) {
        await response.body?.cancel();
        throw new RpcCallError(`${this.url}: the daemon wants a login (--rpc-auth USER:PASS)`);
      }
      if (!response.ok) {
        const text = (await response.text()).trim().slice(0, 200);
        throw new RpcCallError(`${this.url} answered ${response.status}: ${text}`);
      }
      let answer: { result?: unknown; arguments?: unknown };
      try {
        answer = await response.json();
      } catch {
        throw new RpcCallError(`${this.url} answered something other than JSON`);
      }
      if (answer.result !== "success") {
        throw new RpcCallError(`${method}: ${String(answer.result ?? "no result")}`);
      }
      return typeof answer.arguments === "object" && answer.arguments !== null
        ? answer.arguments as Record<string, unknown>
        : {};
    }
    throw new RpcCallError(`${this.url} kept refusing our session id`);
  }

  async #post(body: string): Promise<Response> {
    const headers: Record<string, string> = { [SESSION_HEADER]: this.#sessionId };
    if (this.#authorization) headers.Authorization = this.#authorization;
    try {
      return await fetch(this.url, {
        method: "POST",
        headers,
        body,
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      });
    } catch (e) {
      const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
      throw new RpcCallError(`no daemon at ${this.url} (${why}); is bittorrent daemon running?`);
    }
  }
}
