/**
 * A token-bucket rate limiter for upload and download throttling.
 *
 * @module
 */

interface Waiter {
  bytes: number;
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
  done: boolean;
}

/** Smallest default burst: one BitTorrent block, so a single request never waits twice. */
const MIN_BURST = 16 * 1024;
/** Default burst in seconds of traffic: small enough that averages stay within ~5 % of the rate. */
const BURST_SECONDS = 0.05;

function defaultBurst(rate: number): number {
  return rate === Infinity ? Infinity : Math.max(MIN_BURST, rate * BURST_SECONDS);
}

function checkRate(rate: number): number {
  if (typeof rate !== "number" || Number.isNaN(rate) || rate < 0) {
    throw new RangeError(`rate must be a number >= 0, got ${rate}`);
  }
  return rate === 0 ? Infinity : rate;
}

/**
 * Where a caller stands at a shared limit: its waiters go before those of lower priority
 * (Transmission's `bandwidthPriority`: -1 low, 0 normal, 1 high).
 */
export type BandwidthPriority = -1 | 0 | 1;

/** Waiters of one priority in the order they asked; served from `head`. */
class WaitLine {
  items: Waiter[] = [];
  head = 0;
  /** Waiters not yet served nor aborted. */
  waiting = 0;

  /** The first waiter not aborted, dropping the aborted ones before it. */
  first(): Waiter | undefined {
    while (this.head < this.items.length && this.items[this.head].done) this.head++;
    this.#compact();
    return this.items[this.head];
  }

  shift(): void {
    this.head++;
    this.#compact();
  }

  #compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

function checkBytes(bytes: number): void {
  if (typeof bytes !== "number" || !Number.isFinite(bytes) || bytes < 0) {
    throw new RangeError(`byte count must be a finite number >= 0, got ${bytes}`);
  }
}

/**
 * Limits a flow of bytes to `rate` bytes per second, shared fairly (first come, first served) by
 * every caller, e.g. all peer connections of a session; callers of a higher
 * {@link BandwidthPriority} go first, those of a lower one wait while they do. The bucket starts
 * full and holds at most `burst` bytes; a request larger than the burst still passes once the
 * bucket is full and leaves it in debt, so the long-run average never exceeds the rate. Waiting
 * uses one timer, cleared whenever nobody waits. A rate of 0 or `Infinity` means unlimited.
 *
 * @example
 * ```ts
 * import { TokenBucket } from "./throttle.ts";
 * const bucket = new TokenBucket(1_000_000); // 1 MB/s, default burst 50 kB
 * await bucket.take(16384); // within the initial burst: resolves at once
 * console.log(bucket.tryTake(1_000_000)); // false: the bucket is not full
 * bucket.setRate(0); // unlimited from now on
 * console.log(bucket.tryTake(1_000_000), bucket.rate); // true Infinity
 * ```
 */
export class TokenBucket {
  #rate: number;
  #burst: number;
  readonly #fixedBurst: number | undefined;
  #tokens: number;
  #last: number;
  /**
   * Waiting callers by priority, low to high; made when the first caller waits (a bucket that
   * never makes anyone wait, as an unlimited one, needs none).
   */
  #lines: WaitLine[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param rateBytesPerSecond the limit; 0 or `Infinity` for unlimited.
   * @param burstBytes most bytes allowed at once after a quiet spell; default
   *   max(16 KiB, 50 ms of traffic).
   */
  constructor(rateBytesPerSecond: number, burstBytes?: number) {
    this.#rate = checkRate(rateBytesPerSecond);
    if (burstBytes !== undefined) {
      if (typeof burstBytes !== "number" || !(burstBytes > 0) || !Number.isFinite(burstBytes)) {
        throw new RangeError(`burst must be a finite number > 0, got ${burstBytes}`);
      }
      this.#fixedBurst = burstBytes;
    }
    this.#burst = this.#fixedBurst ?? defaultBurst(this.#rate);
    this.#tokens = this.#burst;
    this.#last = performance.now();
  }

  /** Current limit in bytes per second; `Infinity` when unlimited. */
  get rate(): number {
    return this.#rate;
  }

  /** Changes the limit (0 or `Infinity`: unlimited); waiting callers are re-timed at once. */
  setRate(rate: number): void {
    const next = checkRate(rate);
    this.#refill();
    this.#rate = next;
    this.#burst = this.#rate === Infinity ? Infinity : this.#fixedBurst ?? defaultBurst(next);
    this.#tokens = Math.min(this.#tokens, this.#burst);
    this.#pump();
  }

  /**
   * Resolves once `bytes` may pass. Callers of one priority are served in the order they asked,
   * after every waiting caller of a higher one. Rejects with the signal's reason if `signal`
   * aborts first (the bytes are then not taken).
   */
  take(bytes: number, signal?: AbortSignal, priority: BandwidthPriority = 0): Promise<void> {
    checkBytes(bytes);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#rate === Infinity) return Promise.resolve();
    if (!this.#waitingFrom(priority)) {
      this.#refill();
      if (this.#fits(bytes)) {
        this.#tokens -= bytes;
        return Promise.resolve();
      }
    }
    if (this.#lines.length === 0) this.#lines = [new WaitLine(), new WaitLine(), new WaitLine()];
    const line = this.#lines[priority + 1];
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { bytes, resolve, reject, signal, done: false };
      if (signal) {
        w.onAbort = () => {
          if (w.done) return;
          w.done = true;
          line.waiting--;
          reject(signal.reason);
          this.#pump();
        };
        signal.addEventListener("abort", w.onAbort, { once: true });
      }
      line.items.push(w);
      line.waiting++;
      this.#pump();
    });
  }

  /**
   * Takes `bytes` and returns true if they may pass now (nobody of this priority or a higher one
   * waiting); otherwise false.
   */
  tryTake(bytes: number, priority: BandwidthPriority = 0): boolean {
    checkBytes(bytes);
    if (this.#rate === Infinity) return true;
    if (this.#waitingFrom(priority)) return false;
    this.#refill();
    if (!this.#fits(bytes)) return false;
    this.#tokens -= bytes;
    return true;
  }

  /** Gives back bytes taken but not sent (another limit said no), up to a full bucket. */
  refund(bytes: number): void {
    checkBytes(bytes);
    if (this.#rate === Infinity) return;
    this.#refill();
    this.#tokens = Math.min(this.#burst, this.#tokens + bytes);
    this.#pump();
  }

  /** Whether a caller of `priority` or a higher one waits. */
  #waitingFrom(priority: BandwidthPriority): boolean {
    for (let i = priority + 1; i < this.#lines.length; i++) {
      if (this.#lines[i].waiting > 0) return true;
    }
    return false;
  }

  /** A request fits when the bucket holds it, or, for one larger than the burst, when full. */
  #fits(bytes: number): boolean {
    return this.#tokens >= Math.min(bytes, this.#burst);
  }

  #refill(): void {
    const now = performance.now();
    if (this.#rate === Infinity) {
      this.#tokens = Infinity;
    } else {
      const earned = (now - this.#last) / 1000 * this.#rate;
      this.#tokens = Math.min(this.#burst, this.#tokens + earned);
    }
    this.#last = now;
  }

  /**
   * Releases every waiter that fits now, highest priority first (one that does not fit holds
   * back those after it and below it), then arms (or clears) the single timer.
   */
  #pump(): void {
    this.#refill();
    let next: Waiter | undefined;
    for (let i = this.#lines.length - 1; i >= 0 && next === undefined; i--) {
      const line = this.#lines[i];
      for (let w = line.first(); w !== undefined; w = line.first()) {
        if (this.#rate !== Infinity && !this.#fits(w.bytes)) {
          next = w;
          break;
        }
        if (this.#rate !== Infinity) this.#tokens -= w.bytes;
        w.done = true;
        line.waiting--;
        line.shift();
        if (w.onAbort) w.signal?.removeEventListener("abort", w.onAbort);
        w.resolve();
      }
    }
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (next === undefined) return;
    const deficit = Math.min(next.bytes, this.#burst) - this.#tokens;
    const delay = Math.max(1, Math.ceil(deficit / this.#rate * 1000));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, delay);
  }
}

/**
 * Two limits at once, a torrent's own and the process's: bytes pass when both let them, so a
 * torrent never goes past its own rate and all of them together never past the global one. At
 * the shared limit the torrent waits with its `priority`; with `honorsShared` false only its
 * own limit applies (Transmission's `honorsSessionLimits`).
 *
 * @example
 * ```ts
 * import { BothLimits, TokenBucket } from "./throttle.ts";
 * const own = new TokenBucket(20_000, 20_000), all = new TokenBucket(0);
 * const limits = new BothLimits(own, all);
 * console.log(limits.tryTake(16_384), limits.tryTake(16_384)); // true false
 * limits.priority = 1; // ahead of the others at the process's limit
 * ```
 */
export class BothLimits {
  /** This torrent's place at the shared limit; a change holds for the next request. */
  priority: BandwidthPriority = 0;
  /** Whether the shared limit applies to this torrent at all. */
  honorsShared = true;

  /** @param own the torrent's own limit, which may be replaced later (see `own`). */
  constructor(public own: TokenBucket, readonly shared: TokenBucket) {}

  /** Takes `bytes` from both now, or from neither. */
  tryTake(bytes: number): boolean {
    if (!this.own.tryTake(bytes)) return false;
    if (!this.honorsShared || this.shared.tryTake(bytes, this.priority)) return true;
    this.own.refund(bytes);
    return false;
  }

  /** Resolves once both let `bytes` pass (the torrent's own limit first). */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    await this.own.take(bytes, signal);
    if (!this.honorsShared) return;
    try {
      await this.shared.take(bytes, signal, this.priority);
    } catch (e) {
      this.own.refund(bytes);
      throw e;
    }
  }
}

/** Sources a {@link PerSourceLimiter} tracks before it forgets them all. */
const MAX_SOURCES = 10_000;

/**
 * Token buckets of events per source (an IP address): what keeps one host from flooding us
 * with DHT queries or uTP SYNs. Memory stays bounded: past 10 000 sources the table starts
 * afresh.
 *
 * @example
 * ```ts
 * import { PerSourceLimiter } from "./throttle.ts";
 * const limiter = new PerSourceLimiter(1, 2); // 1 a second, bursts of 2
 * console.log(limiter.allow("10.0.0.1"), limiter.allow("10.0.0.1"), limiter.allow("10.0.0.1"));
 * // true true false
 * console.log(limiter.allow("10.0.0.2")); // true
 * ```
 */
export class PerSourceLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  constructor(readonly perSecond: number, readonly burst: number) {}

  /** True when `source` may have one more event now (and counts it). */
  allow(source: string): boolean {
    const now = performance.now();
    let b = this.#buckets.get(source);
    if (!b) {
      if (this.#buckets.size >= MAX_SOURCES) this.#buckets.clear();
      b = { tokens: this.burst, at: now };
      this.#buckets.set(source, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
