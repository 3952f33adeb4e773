/**
 * One web seed (BEP 19): an HTTP(S) mirror of a torrent's files. It claims runs of whole pieces
 * from the download (the pieces peers are not fetching), asks the mirror for their bytes with
 * Range requests, file by file, and hands each piece over as soon as it is filled, to be checked
 * like a peer's. The server is trusted no more than a peer: a status, Content-Range or body that
 * is not what was asked, a stall or a refused connection costs it a back-off (a 503 or 429 with
 * Retry-After waits as long as it says); a server that ignores ranges, or whose pieces fail their
 * hashes twice, is dropped.
 *
 * @module
 */
import { segmentsOf, type StorageFile } from "../storage/mod.ts";
import { fileUrl } from "./urls.ts";

/** A piece claimed for a web seed: its index and the buffer to fill (exactly its length). */
export interface ClaimedPiece {
  readonly index: number;
  readonly length: number;
  readonly buffer: Uint8Array;
}

/** The download a web seed works for (the session). */
export interface PieceSource {
  /** Up to `maxPieces` consecutive pieces nobody works on; fewer or none when there are not. */
  claimRun(maxPieces: number): ClaimedPiece[];
  /** A piece filled: false when it failed its hash (and went back to the pool). */
  deliver(piece: ClaimedPiece, source: string): boolean;
  /** A piece not filled goes back to the pool. */
  release(piece: ClaimedPiece): void;
  countWebSeedBytes(bytes: number): void;
  /** Every wanted piece is had. */
  readonly finished: boolean;
}

/** What a web seed needs of the torrent: its pieces and its files. */
export interface WebSeedLayout {
  readonly pieceLength: number;
  readonly multiFile: boolean;
  readonly files: readonly StorageFile[];
}

/** Where a web seed writes what it does. */
export interface WebSeedLog {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
}

/** Tuning, with defaults for real mirrors; tests shorten the waits. */
export interface WebSeedOptions {
  log?: WebSeedLog;
  /** Requests in flight at once, each for its own run of pieces. Default 2. */
  connections?: number;
  /** About this many bytes a run (at least one piece). Default 4 MiB. */
  runBytes?: number;
  /** A response that sends nothing for this long is given up. Default 30 s. */
  stallMs?: number;
  /** The first back-off after a failure, doubled each time up to `maxRetryMs`. Default 5 s. */
  retryMs?: number;
  /** Longest back-off, and longest Retry-After honoured. Default 5 min. */
  maxRetryMs?: number;
}

/** What a web seed is doing, for the status line. */
export type WebSeedState = "idle" | "fetching" | "waiting" | "dropped";

/** Bad pieces (or answers that are not what was asked) after which a mirror is dropped. */
const MAX_STRIKES = 2;
/** How often an idle web seed looks for pieces to claim. */
const IDLE_POLL_MS = 250;

/** A failed request: how long to wait before the next, whether it counts against the server. */
class WebSeedError extends Error {
  constructor(
    message: string,
    readonly kind: "retry" | "strike" | "drop",
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "WebSeedError";
  }
}

/**
 * One mirror, fetching for `source` until stopped, finished or dropped.
 *
 * @example
 * ```ts ignore
 * const seed = new WebSeed("http://127.0.0.1:8080/pub/", torrent, session, { log });
 * seed.start();
 * await seed.stop();
 * ```
 */
export class WebSeed {
  /** Payload bytes this mirror sent. */
  bytes = 0;
  /** Why it last failed, in a few words. */
  lastError?: string;
  readonly #o: Required<Omit<WebSeedOptions, "log">>;
  readonly #log?: WebSeedLog;
  readonly #aborts = new Set<AbortController>();
  #loops: Promise<void>[] = [];
  #stopped = false;
  #strikes = 0;
  #failures = 0;
  #dropped = false;
  /** Requests in flight, one a loop at most. */
  #fetching = 0;
  /** No request before this time (ms since the epoch). */
  #waitUntil = 0;
  /** Loops asleep: woken at once by `stop`. */
  readonly #sleepers = new Set<() => void>();

  constructor(
    readonly url: string,
    readonly layout: WebSeedLayout,
    readonly source: PieceSource,
    options: WebSeedOptions = {},
  ) {
    this.#log = options.log;
    this.#o = {
      connections: options.connections ?? 2,
      runBytes: options.runBytes ?? 4 * 1024 * 1024,
      stallMs: options.stallMs ?? 30_000,
      retryMs: options.retryMs ?? 5_000,
      maxRetryMs: options.maxRetryMs ?? 300_000,
    };
  }

  /** What it is doing now. */
  get state(): WebSeedState {
    if (this.#dropped) return "dropped";
    if (this.#fetching > 0) return "fetching";
    return this.#waitUntil > Date.now() ? "waiting" : "idle";
  }

  /** Starts fetching. */
  start(): void {
    if (this.#loops.length > 0 || this.#stopped) return;
    this.#loops = Array.from({ length: this.#o.connections }, () => this.#loop());
  }

  /** Stops: requests in flight are cancelled and their pieces given back. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const abort of this.#aborts) abort.abort();
    for (const wake of this.#sleepers) wake();
    await Promise.all(this.#loops);
  }

  async #loop(): Promise<void> {
    const piecesPerRun = Math.max(1, Math.floor(this.#o.runBytes / this.layout.pieceLength));
    while (!this.#stopped && !this.#dropped && !this.source.finished) {
      const wait = this.#waitUntil - Date.now();
      if (wait > 0) {
        await this.#sleep(wait);
        continue;
      }
      const run = this.source.claimRun(piecesPerRun);
      if (run.length === 0) {
        await this.#sleep(IDLE_POLL_MS);
        continue;
      }
      const delivered = new Set<ClaimedPiece>();
      this.#fetching++;
      try {
        await this.#fetchRun(run, delivered);
        this.#failures = 0;
      } catch (e) {
        for (const piece of run) if (!delivered.has(piece)) this.source.release(piece);
        if (!this.#stopped) this.#failed(e);
      } finally {
        this.#fetching--;
      }
    }
  }

  /** Backs off after a failure; drops the mirror when it misbehaved too often. */
  #failed(e: unknown): void {
    const error = e instanceof WebSeedError
      ? e
      : new WebSeedError(e instanceof Error ? e.message : String(e), "retry");
    this.lastError = error.message;
    if (error.kind === "drop" || (error.kind === "strike" && ++this.#strikes >= MAX_STRIKES)) {
      this.#dropped = true;
      this.#log?.warn(`web seed ${this.url} dropped: ${error.message}`);
      return;
    }
    this.#failures++;
    const backoff = Math.min(this.#o.maxRetryMs, this.#o.retryMs * 2 ** (this.#failures - 1));
    const wait = Math.min(this.#o.maxRetryMs, error.retryAfterMs ?? backoff);
    this.#waitUntil = Math.max(this.#waitUntil, Date.now() + wait);
    this.#log?.info(
      `web seed ${this.url}: ${error.message}; retrying in ${Math.ceil(wait / 1000)}s`,
    );
  }

  /**
   * Fetches the bytes of `run` (consecutive pieces), file by file, delivering each piece as soon
   * as its last byte is in (and adding it to `delivered`). Throws `WebSeedError` on the first
   * thing that goes wrong.
   */
  async #fetchRun(run: ClaimedPiece[], delivered: Set<ClaimedPiece>): Promise<void> {
    const L = this.layout.pieceLength;
    const start = run[0].index * L;
    const length = run.reduce((n, p) => n + p.length, 0);
    let next = 0;
    /** Delivers the pieces whose bytes all lie before run offset `filled`. */
    const advance = (filled: number) => {
      while (next < run.length && next * L + run[next].length <= filled) {
        const piece = run[next++];
        delivered.add(piece);
        if (!this.source.deliver(piece, this.url)) {
          throw new WebSeedError(`piece ${piece.index} failed its hash check`, "strike");
        }
      }
    };
    for (const s of segmentsOf(this.layout, start, length)) {
      const file = this.layout.files[s.file];
      if (file.padding) {
        this.#write(run, s.bufOffset, new Uint8Array(s.length));
      } else {
        await this.#fetchRange(s.file, s.fileOffset, s.length, (chunk, at) => {
          this.#write(run, s.bufOffset + at, chunk);
          advance(s.bufOffset + at + chunk.length);
        });
      }
      advance(s.bufOffset + s.length);
    }
  }

  /** Copies `bytes` into the run's piece buffers at run offset `at`. */
  #write(run: ClaimedPiece[], at: number, bytes: Uint8Array): void {
    const L = this.layout.pieceLength;
    let done = 0;
    while (done < bytes.length) {
      const k = Math.floor((at + done) / L), inPiece = (at + done) % L;
      const n = Math.min(bytes.length - done, run[k].length - inPiece);
      run[k].buffer.set(bytes.subarray(done, done + n), inPiece);
      done += n;
    }
  }

  /**
   * GETs bytes `[offset, offset + length)` of file `file`, passing the body on in chunks (with
   * their offset in the range) as it arrives. Throws `WebSeedError` for anything but exactly
   * those bytes.
   */
  async #fetchRange(
    file: number,
    offset: number,
    length: number,
    onChunk: (chunk: Uint8Array, at: number) => void,
  ): Promise<void> {
    const url = fileUrl(this.url, this.layout, file);
    if (url === undefined) throw new WebSeedError("a file's path cannot be a URL", "drop");
    const abort = new AbortController();
    this.#aborts.add(abort);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stall = () => {
      clearTimeout(timer);
      timer = setTimeout(() => abort.abort(), this.#o.stallMs);
    };
    try {
      stall();
      const last = offset + length - 1;
      const response = await fetch(url, {
        headers: { Range: `bytes=${offset}-${last}` },
        signal: abort.signal,
      }).catch((e) => {
        throw new WebSeedError(abort.signal.aborted ? "no answer" : reason(e), "retry");
      });
      const body = response.body;
      try {
        this.#check(response, offset, last, this.layout.files[file].length);
      } catch (e) {
        await body?.cancel().catch(() => {});
        throw e;
      }
      if (body === null) throw new WebSeedError("an answer without a body", "retry");
      const reader = body.getReader();
      let got = 0;
      try {
        while (got < length) {
          stall();
          const { value, done } = await reader.read().catch((e) => {
            throw new WebSeedError(abort.signal.aborted ? "stalled" : reason(e), "retry");
          });
          if (done) throw new WebSeedError(`short body: ${got} of ${length} bytes`, "retry");
          const chunk = value.subarray(0, Math.min(value.length, length - got));
          if (response.status === 206 && chunk.length < value.length) {
            throw new WebSeedError("a body longer than the range asked for", "strike");
          }
          this.bytes += chunk.length;
          this.source.countWebSeedBytes(chunk.length);
          onChunk(chunk, got);
          got += chunk.length;
        }
      } finally {
        reader.cancel().catch(() => {});
      }
    } finally {
      clearTimeout(timer);
      this.#aborts.delete(abort);
    }
  }

  /** Throws unless `response` brings bytes `[first, last]` of a file of `size` bytes. */
  #check(response: Response, first: number, last: number, size: number): void {
    const status = response.status;
    if (status === 503 || status === 429) {
      const after = retryAfterMs(response.headers.get("retry-after"));
      throw new WebSeedError(`busy (${status})`, "retry", after);
    }
    if (status === 200) {
      // The whole file, ranges ignored: usable only for a range from its start.
      if (first === 0) return;
      throw new WebSeedError("the server does not serve byte ranges", "drop");
    }
    if (status !== 206) throw new WebSeedError(`HTTP ${status}`, "retry");
    const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers.get("content-range") ?? "");
    if (range === null) throw new WebSeedError("a 206 without a Content-Range", "strike");
    const [from, to, total] = [Number(range[1]), Number(range[2]), range[3]];
    if (from !== first || to !== last || (total !== "*" && Number(total) !== size)) {
      throw new WebSeedError(
        `Content-Range ${range[0]} is not bytes ${first}-${last}/${size}`,
        "strike",
      );
    }
  }

  /** Waits `ms`, or less when stopped. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#sleepers.add(done);
    });
  }
}

/** Retry-After in milliseconds: seconds, or an HTTP date; undefined when absent or unreadable. */
function retryAfterMs(value: string | null): number | undefined {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function reason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
