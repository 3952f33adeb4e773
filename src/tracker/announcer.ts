/**
 * The announce loop of one torrent over its tracker tiers (BEP 12): `started` first, regular
 * announces at the tracker's interval, `completed` once, `stopped` at the end, back-off on
 * failure. It never throws to its owner; it reports through callbacks.
 *
 * @module
 */
import { announce as defaultAnnounce } from "./client.ts";
import {
  type AnnounceEvent,
  type AnnounceParams,
  type AnnounceResult,
  displayUrl,
  type IntervalLimits,
  type PeerAddress,
  TrackerError,
  type UdpOptions,
} from "./types.ts";

/** One announce outcome, for a status line or a log. */
export interface TrackerStatus {
  /** The tracker, query string removed (it may hold a passkey). */
  url: string;
  ok: boolean;
  /** The event that was sent. */
  event?: AnnounceEvent;
  /** The error on failure, or the tracker's warning on success. */
  message?: string;
  /** Peers received. */
  peers?: number;
  /** Seeders and leechers the tracker reported. */
  seeders?: number;
  leechers?: number;
  /** When the next announce is due (epoch ms), when known. */
  nextAnnounceAt?: number;
}

/** Transfer counters the announcer reports to trackers, in bytes. */
export interface TransferStats {
  uploaded: number;
  downloaded: number;
  left: number;
}

/** Everything an `Announcer` needs. */
export interface AnnouncerOptions {
  /** Tracker tiers (BEP 12 `announce-list`, or `[[announce]]`). */
  tiers: string[][];
  infoHash: Uint8Array;
  peerId: Uint8Array;
  /** Our listening port. */
  port: number;
  /** Current counters, read at every announce. */
  stats: () => TransferStats;
  /** New peers from a tracker; `source` names the tracker (query string removed). */
  onPeers: (peers: PeerAddress[], source: string) => void;
  onStatus?: (status: TrackerStatus) => void;
  /** Peers asked for per announce. Default 50. */
  numWant?: number;
  /** Back-off after a round where every tracker failed: `baseMs * 2^k`, at most `maxMs`. */
  retry?: { baseMs: number; maxMs: number };
  /** UDP retransmission settings. */
  udp?: UdpOptions;
  /** Deadline of one announce, in ms (HTTP default 30000; also caps a UDP retry schedule). */
  httpTimeoutMs?: number;
  /** Deadline of the `stopped` announce, in ms: it must not hold up an exit. Default 1000. */
  stopTimeoutMs?: number;
  /** Clamp bounds for tracker intervals (seconds). Default 30..7200. */
  intervalLimits?: IntervalLimits;
  /** The `key` sent to trackers. Default random. */
  key?: number;
  /** Random source in [0, 1) for shuffling tiers. Default `Math.random`. */
  random?: () => number;
  /** The announce function (tests inject one). Default: the real `announce`. */
  announce?: (url: string, params: AnnounceParams) => Promise<AnnounceResult>;
}

interface Tracker {
  url: string;
  /** A `started` announce succeeded here, so this tracker lists us. */
  started: boolean;
  trackerId?: string;
}

type State = "idle" | "running" | "stopped";

const DEFAULT_RETRY = { baseMs: 15_000, maxMs: 30 * 60_000 };
/** How long the `stopped` announce may hold up an exit. */
const STOP_TIMEOUT_MS = 1000;

/**
 * Announces one torrent to its trackers. Tiers are tried in order; within a tier trackers are
 * shuffled once, and one that answers moves to the front (BEP 12). One tracker answering ends
 * a round.
 *
 * @example
 * ```ts
 * import { Announcer } from "./announcer.ts";
 * const announcer = new Announcer({
 *   tiers: [["http://tracker.example/announce"]],
 *   infoHash: new Uint8Array(20),
 *   peerId: new Uint8Array(20),
 *   port: 6881,
 *   stats: () => ({ uploaded: 0, downloaded: 0, left: 1000 }),
 *   onPeers: (peers, source) => console.log(peers.length, "peers from", source),
 *   // A stand-in tracker so the example stays offline.
 *   announce: () => Promise.resolve({ interval: 1800, peers: [{ host: "127.0.0.1", port: 1 }] }),
 * });
 * announcer.start();
 * await announcer.stop();
 * ```
 */
export class Announcer {
  readonly #opts: AnnouncerOptions;
  readonly #tiers: Tracker[][];
  readonly #announce: (url: string, params: AnnounceParams) => Promise<AnnounceResult>;
  readonly #retry: { baseMs: number; maxMs: number };
  readonly #key: number;
  #state: State = "idle";
  #timer: ReturnType<typeof setTimeout> | undefined;
  #nextAt: number | undefined;
  #inflight: Promise<void> | undefined;
  #inflightTracker: Tracker | undefined;
  #inflightEvent: AnnounceEvent;
  #abort = new AbortController();
  #completedPending = false;
  #completedSent = false;
  #rerun = false;
  #failures = 0;
  #lastSuccessAt = 0;
  #minIntervalMs = 0;
  #stopping: Promise<void> | undefined;
  #lastStats: TransferStats = { uploaded: 0, downloaded: 0, left: 0 };

  constructor(opts: AnnouncerOptions) {
    this.#opts = opts;
    this.#announce = opts.announce ?? defaultAnnounce;
    this.#retry = opts.retry ?? DEFAULT_RETRY;
    this.#key = opts.key ?? crypto.getRandomValues(new Uint32Array(1))[0];
    const random = opts.random ?? Math.random;
    const seen = new Set<string>();
    this.#tiers = [];
    for (const tier of opts.tiers) {
      const trackers: Tracker[] = [];
      for (const raw of tier) {
        const url = typeof raw === "string" ? raw.trim() : "";
        if (url === "" || seen.has(url)) continue;
        seen.add(url);
        trackers.push({ url, started: false });
      }
      for (let i = trackers.length - 1; i > 0; i--) {
        const j = Math.min(i, Math.floor(random() * (i + 1)));
        [trackers[i], trackers[j]] = [trackers[j], trackers[i]];
      }
      if (trackers.length > 0) this.#tiers.push(trackers);
    }
  }

  /** The tiers in their current order of preference (URLs as given). */
  get tiers(): string[][] {
    return this.#tiers.map((t) => t.map((tr) => tr.url));
  }

  /** When the next announce is due (epoch ms), or `undefined` when none is scheduled. */
  get nextAnnounceAt(): number | undefined {
    return this.#nextAt;
  }

  /**
   * From when `announceNow` announces at once (epoch ms; past when it may now): the last answer
   * plus the tracker's minimum interval. `undefined` while it would be ignored.
   */
  get manualAnnounceAt(): number | undefined {
    if (this.#state !== "running" || this.#inflight !== undefined || this.#failures > 0) {
      return undefined;
    }
    return this.#lastSuccessAt + this.#minIntervalMs;
  }

  /** Begins announcing: `started` at once, then at the tracker's interval. */
  start(): void {
    if (this.#state !== "idle") return;
    this.#state = "running";
    this.#kick();
  }

  /** Tells trackers, once, that the download finished (sent at once). */
  completed(): void {
    if (this.#completedSent || this.#state === "stopped") return;
    this.#completedPending = true;
    if (this.#state !== "running") return;
    if (this.#inflight !== undefined) this.#rerun = true;
    else this.#kick();
  }

  /**
   * Asks for more peers now, or as soon as the tracker's minimum interval allows. Ignored while
   * a request is in flight or while backing off after failures (a retry is already scheduled).
   */
  announceNow(): void {
    const earliest = this.manualAnnounceAt;
    if (earliest === undefined) return;
    const now = Date.now();
    if (now >= earliest) this.#kick();
    else if (this.#nextAt === undefined || earliest < this.#nextAt) this.#schedule(earliest - now);
  }

  /**
   * Stops announcing: clears timers, cancels a request in flight, and sends `stopped` to the
   * trackers that list us (best effort, bounded by `stopTimeoutMs`). Always resolves.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const wasRunning = this.#state === "running";
    this.#state = "stopped";
    this.#clearTimer();
    this.#abort.abort();
    const inflightTracker = this.#inflightEvent === "started" ? this.#inflightTracker : undefined;
    if (this.#inflight !== undefined) {
      // A cancelled announce settles at once; bound the wait anyway.
      let t: ReturnType<typeof setTimeout> | undefined;
      const bound = new Promise<void>((
        r,
      ) => (t = setTimeout(r, this.#opts.stopTimeoutMs ?? STOP_TIMEOUT_MS)));
      await Promise.race([this.#inflight, bound]);
      clearTimeout(t);
    }
    if (!wasRunning) return;
    const targets = this.#tiers.flat().filter((t) => t.started || t === inflightTracker);
    const stats = this.#stats();
    const timeoutMs = this.#opts.stopTimeoutMs ?? STOP_TIMEOUT_MS;
    const ac = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        ac.abort();
        resolve();
      }, timeoutMs + 100);
    });
    const sends = Promise.allSettled(targets.map(async (t) => {
      try {
        await this.#announce(t.url, {
          ...this.#params(t, "stopped", stats),
          numWant: 0,
          timeoutMs,
          signal: ac.signal,
          udp: { ...this.#opts.udp, retries: 0 },
        });
        t.started = false;
        this.#status({ url: displayUrl(t.url), ok: true, event: "stopped" });
      } catch (e) {
        this.#status({ url: displayUrl(t.url), ok: false, event: "stopped", message: errText(e) });
      }
    }));
    // The announce function may ignore its deadline (an injected one): never wait longer.
    await Promise.race([sends, deadline]);
    clearTimeout(timer);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#nextAt = undefined;
  }

  #schedule(delayMs: number): void {
    this.#clearTimer();
    if (this.#state !== "running") return;
    const delay = Math.max(0, Math.min(delayMs, 2 ** 31 - 1));
    this.#nextAt = Date.now() + delay;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#nextAt = undefined;
      this.#kick();
    }, delay);
  }

  #kick(): void {
    if (this.#state !== "running") return;
    if (this.#inflight !== undefined) return;
    this.#clearTimer();
    this.#inflight = this.#round().finally(() => {
      this.#inflight = undefined;
      this.#inflightTracker = undefined;
      this.#inflightEvent = undefined;
      if (this.#rerun && this.#state === "running") {
        this.#rerun = false;
        this.#kick();
      }
    });
  }

  #stats(): TransferStats {
    try {
      const s = this.#opts.stats();
      const fix = (n: number) =>
        Number.isFinite(n) ? Math.min(Math.max(0, Math.floor(n)), 2 ** 53 - 1) : 0;
      this.#lastStats = {
        uploaded: fix(s.uploaded),
        downloaded: fix(s.downloaded),
        left: fix(s.left),
      };
    } catch {
      // keep the last good counters
    }
    return this.#lastStats;
  }

  #params(t: Tracker, event: AnnounceEvent, stats: TransferStats): AnnounceParams {
    return {
      infoHash: this.#opts.infoHash,
      peerId: this.#opts.peerId,
      port: this.#opts.port,
      ...stats,
      event,
      numWant: this.#opts.numWant ?? 50,
      key: this.#key,
      trackerId: t.trackerId,
      intervalLimits: this.#opts.intervalLimits,
      udp: this.#opts.udp,
      timeoutMs: this.#opts.httpTimeoutMs,
    };
  }

  #status(s: TrackerStatus): void {
    try {
      this.#opts.onStatus?.(s);
    } catch {
      // an owner's callback must not break the loop
    }
  }

  /** One announce round: the first tracker (by tier, then tier order) that answers wins. */
  async #round(): Promise<void> {
    const all = this.#tiers.flat();
    let last: TrackerStatus | undefined;
    for (const tier of this.#tiers) {
      for (const t of [...tier]) {
        if (this.#state !== "running") return;
        const stats = this.#stats();
        const event: AnnounceEvent = !t.started
          ? "started"
          : this.#completedPending
          ? "completed"
          : undefined;
        this.#inflightTracker = t;
        this.#inflightEvent = event;
        let result: AnnounceResult;
        try {
          result = await this.#announce(t.url, {
            ...this.#params(t, event, stats),
            signal: this.#abort.signal,
          });
        } catch (e) {
          if (this.#state !== "running") return;
          last = { url: displayUrl(t.url), ok: false, event, message: errText(e) };
          // Said at once; the round's last failure is said below, with the retry time.
          if (t !== all[all.length - 1]) this.#status(last);
          continue;
        }
        if (this.#state !== "running") {
          if (event === "started") t.started = true; // so stop() tells it we left
          return;
        }
        this.#onSuccess(tier, t, event, stats, result);
        return;
      }
    }
    if (all.length === 0 || this.#state !== "running") return;
    this.#failures++;
    const delay = Math.min(this.#retry.maxMs, this.#retry.baseMs * 2 ** (this.#failures - 1));
    this.#schedule(delay);
    if (last !== undefined) this.#status({ ...last, nextAnnounceAt: this.#nextAt });
  }

  #onSuccess(
    tier: Tracker[],
    t: Tracker,
    event: AnnounceEvent,
    stats: TransferStats,
    r: AnnounceResult,
  ): void {
    const i = tier.indexOf(t);
    if (i > 0) {
      tier.splice(i, 1);
      tier.unshift(t);
    }
    t.started = true;
    if (r.trackerId !== undefined) t.trackerId = r.trackerId;
    if (event === "completed" || (event === "started" && stats.left === 0)) {
      if (this.#completedPending) this.#completedSent = true;
      this.#completedPending = false;
    }
    this.#failures = 0;
    this.#lastSuccessAt = Date.now();
    const intervalMs = Math.max(0, r.interval) * 1000;
    this.#minIntervalMs = Math.min(intervalMs, (r.minInterval ?? 60) * 1000);
    this.#schedule(this.#completedPending ? 0 : intervalMs);
    this.#status({
      url: displayUrl(t.url),
      ok: true,
      event,
      message: r.warning,
      peers: r.peers.length,
      seeders: r.complete,
      leechers: r.incomplete,
      nextAnnounceAt: this.#nextAt,
    });
    if (r.peers.length > 0) {
      try {
        this.#opts.onPeers(r.peers, displayUrl(t.url));
      } catch {
        // an owner's callback must not break the loop
      }
    }
  }
}

/** Why an announce failed, without the tracker's URL (a status carries it apart). */
function errText(e: unknown): string {
  if (e instanceof TrackerError) return e.reason;
  return e instanceof Error ? e.message : String(e);
}
