/**
 * An HTTP GET that a remote server cannot turn against us: an overall deadline, a cap on the
 * body (a longer one is refused, unread past the cap), and failures in a few words of ours
 * rather than the runtime's. Trackers and `.torrent` downloads share it.
 *
 * @module
 */
import { concatBytes } from "./bytes.ts";
import { oneLine } from "./text.ts";

/** Why a capped GET failed. */
export type FetchFailure = "timeout" | "aborted" | "network" | "too-large";

/** A capped GET that failed, with why. */
export class FetchError extends Error {
  constructor(message: string, readonly kind: FetchFailure) {
    super(message);
    this.name = "FetchError";
  }
}

/**
 * True when `text` is an http or https address (what `fetchCapped` is for), rather than a
 * path of this machine.
 *
 * @example
 * ```ts
 * import { isWebAddress } from "./capped_fetch.ts";
 * console.log(isWebAddress("HTTPS://example.org/x"), isWebAddress("/srv/x")); // true false
 * ```
 */
export function isWebAddress(text: string): boolean {
  return /^https?:\/\//i.test(text);
}

/** Limits of a capped GET. */
export interface CappedFetchOptions {
  timeoutMs: number;
  maxBytes: number;
  signal?: AbortSignal;
}

/**
 * GETs `url` (following redirects). Resolves with the status and the whole body; rejects with
 * `FetchError`.
 *
 * @example
 * ```ts
 * import { fetchCapped, FetchError } from "./capped_fetch.ts";
 * const server = Deno.serve({ port: 0, onListen() {} }, () => new Response("x".repeat(100)));
 * const url = `http://127.0.0.1:${server.addr.port}/`;
 * console.log((await fetchCapped(url, { timeoutMs: 5000, maxBytes: 100 })).body.length); // 100
 * const e = await fetchCapped(url, { timeoutMs: 5000, maxBytes: 99 }).catch((e) => e);
 * console.log(e instanceof FetchError, e.kind); // true too-large
 * await server.shutdown();
 * ```
 */
export async function fetchCapped(
  url: string,
  options: CappedFetchOptions,
): Promise<{ status: number; body: Uint8Array }> {
  const { signal, timeoutMs, maxBytes } = options;
  if (signal?.aborted) throw new FetchError("request aborted", "aborted");
  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, timeoutMs);
  const onAbort = () => ac.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  const fail = (e: unknown): FetchError => {
    if (e instanceof FetchError) return e;
    if (timedOut) return new FetchError(`timed out after ${timeoutMs} ms`, "timeout");
    if (signal?.aborted) return new FetchError("request aborted", "aborted");
    return new FetchError(`could not connect: ${networkCause(e)}`, "network");
  };
  const tooLarge = () => new FetchError(`answered with more than ${maxBytes} bytes`, "too-large");
  try {
    let res: Response;
    try {
      res = await fetch(url, {
        signal: ac.signal,
        redirect: "follow",
        headers: { "accept-encoding": "identity" },
      });
    } catch (e) {
      throw fail(e);
    }
    const declared = Number(res.headers.get("content-length") ?? "0");
    if (declared > maxBytes) {
      await res.body?.cancel().catch(() => {});
      throw tooLarge();
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    if (res.body !== null) {
      const reader = res.body.getReader();
      try {
        while (true) {
          const { done, value } = await reader.read();
          if (done) break;
          total += value.length;
          if (total > maxBytes) throw tooLarge();
          chunks.push(value);
        }
      } catch (e) {
        await reader.cancel().catch(() => {});
        throw fail(e);
      } finally {
        reader.releaseLock();
      }
    }
    return { status: res.status, body: concatBytes(...chunks) };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

/** Short cause of a `fetch` failure, without the URL Deno puts in its message. */
function networkCause(e: unknown): string {
  let err: unknown = e;
  while (err instanceof Error && err.cause instanceof Error) err = err.cause;
  const msg = err instanceof Error ? err.message : String(e);
  // In our words: the runtime's wording (and its "os error" numbers) mean nothing to a user.
  if (/connection refused/i.test(msg)) return "connection refused";
  if (/connection reset/i.test(msg)) return "connection reset";
  if (/dns error|failed to lookup|name or service not known|no address/i.test(msg)) {
    return "host not found";
  }
  const blocked = /port (\d+) are blocked/i.exec(msg);
  if (blocked) return `port ${blocked[1]} is one HTTP clients refuse to use`;
  const last = (msg.split(": ").pop() ?? msg).replace(/\s*\(os error \d+\)/g, "");
  return oneLine(last, 120) || "network error";
}
