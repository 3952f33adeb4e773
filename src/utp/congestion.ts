/**
 * How fast one uTP connection may send: the round-trip estimate that sets its timeout, and the
 * LEDBAT window (BEP 29) that grows while the one-way queueing delay stays under 100 ms and
 * shrinks past it, so uTP yields to other traffic on a shared link.
 *
 * @module
 */

/** Queueing delay LEDBAT aims at, microseconds. */
export const TARGET_DELAY_US = 100_000;
/** Most a window grows per round trip with no queueing delay (BEP 29). */
const MAX_GAIN_PER_RTT = 3000;
/** Largest window we let one connection reach; the peer's receive window usually binds first. */
export const MAX_WINDOW = 4 << 20;
/** How long one base-delay bucket spans; two of them make the two minutes BEP 29 keeps. */
const BASE_BUCKET_MS = 60_000;
/** Delay samples the current delay is the minimum of, to shed jitter. */
const CURRENT_SAMPLES = 3;

const MIN_TIMEOUT_MS = 500;
const INITIAL_TIMEOUT_MS = 1000;
const MAX_TIMEOUT_MS = 30_000;

/** `a < b` for microsecond clocks that wrap at 2^32. */
function before(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/**
 * Round-trip time and variance as BEP 29 computes them, and the timeout they give: at least
 * 500 ms, 1 s before the first sample, doubled for each timeout in a row.
 *
 * @example
 * ```ts
 * import { RttEstimator } from "./congestion.ts";
 * const rtt = new RttEstimator();
 * console.log(rtt.timeoutMs); // 1000
 * for (let i = 0; i < 20; i++) rtt.sample(10);
 * console.log(rtt.timeoutMs); // 500
 * rtt.backOff();
 * console.log(rtt.timeoutMs); // 1000
 * ```
 */
export class RttEstimator {
  rtt = 0;
  rttVar = 0;
  #samples = 0;
  #backoff = 1;

  /** Adds the round trip of a packet sent once. */
  sample(ms: number): void {
    if (this.#samples++ === 0) {
      this.rtt = ms;
      this.rttVar = ms / 2;
    } else {
      this.rttVar += (Math.abs(this.rtt - ms) - this.rttVar) / 4;
      this.rtt += (ms - this.rtt) / 8;
    }
    this.#backoff = 1;
  }

  /** A timeout happened: the next one waits twice as long. */
  backOff(): void {
    this.#backoff = Math.min(this.#backoff * 2, 64);
  }

  /** Timeouts in a row so far, as the power of two the timeout was multiplied by. */
  get backoff(): number {
    return this.#backoff;
  }

  get timeoutMs(): number {
    const base = this.#samples === 0
      ? INITIAL_TIMEOUT_MS
      : Math.max(this.rtt + 4 * this.rttVar, MIN_TIMEOUT_MS);
    return Math.min(base * this.#backoff, MAX_TIMEOUT_MS);
  }
}

/**
 * The LEDBAT congestion window, in bytes. It starts with slow start (the window doubles each
 * round trip) until the first loss or until queueing delay shows up, then follows BEP 29: each
 * ack moves the window by `3000 * (target - delay) / target` bytes per round trip. A loss halves
 * it; a timeout drops it to one packet.
 *
 * @example
 * ```ts
 * import { Ledbat } from "./congestion.ts";
 * const cc = new Ledbat(1000);
 * const start = cc.window;
 * cc.onAck(start, 5_000, 0); // acked a whole window, no queueing delay yet
 * console.log(cc.window === 2 * start); // true
 * cc.onLoss();
 * console.log(cc.window === start); // true
 * ```
 */
export class Ledbat {
  /** Bytes allowed in flight. */
  window: number;
  #slowStart = true;
  #threshold = MAX_WINDOW;
  #minPacket: number;
  /** Minimum delay of the current and the previous minute, the base delay being their minimum. */
  #buckets: [number | undefined, number | undefined] = [undefined, undefined];
  #bucketStarted = -Infinity;
  #recent: number[] = [];

  constructor(packetBytes: number) {
    this.#minPacket = packetBytes;
    this.window = 4 * packetBytes;
  }

  /** The queueing delay seen last, microseconds above the base delay. */
  ourDelay = 0;

  /**
   * Some of our bytes were acknowledged; `delayUs` is the one-way delay sample the ack carried
   * (0: none yet), `nowMs` the local clock.
   */
  onAck(ackedBytes: number, delayUs: number, nowMs: number): void {
    if (ackedBytes <= 0) return;
    if (delayUs !== 0) this.#addDelay(delayUs >>> 0, nowMs);
    const offTarget = TARGET_DELAY_US - this.ourDelay;
    if (this.#slowStart && offTarget > TARGET_DELAY_US / 2) {
      this.window += ackedBytes;
      if (this.window >= this.#threshold) this.#slowStart = false;
    } else {
      this.#slowStart = false;
      this.window += MAX_GAIN_PER_RTT * (offTarget / TARGET_DELAY_US) * ackedBytes /
        this.window;
    }
    this.#clamp();
  }

  /** A packet was lost (at most once per window): halve. */
  onLoss(): void {
    this.#slowStart = false;
    this.window /= 2;
    this.#threshold = this.window;
    this.#clamp();
  }

  /** Nothing was acknowledged for a whole timeout: restart from one packet. */
  onTimeout(): void {
    this.#threshold = Math.max(this.window / 2, 2 * this.#minPacket);
    this.window = this.#minPacket;
    this.#slowStart = true;
  }

  #clamp(): void {
    this.window = Math.min(Math.max(this.window, this.#minPacket), MAX_WINDOW);
  }

  #addDelay(delay: number, nowMs: number): void {
    if (nowMs - this.#bucketStarted >= BASE_BUCKET_MS) {
      this.#buckets = [undefined, this.#buckets[0]];
      this.#bucketStarted = nowMs;
    }
    const current = this.#buckets[0];
    if (current === undefined || before(delay, current)) this.#buckets[0] = delay;
    const previous = this.#buckets[1];
    const base = previous !== undefined && before(previous, this.#buckets[0]!)
      ? previous
      : this.#buckets[0]!;
    this.#recent.push(delay);
    if (this.#recent.length > CURRENT_SAMPLES) this.#recent.shift();
    let lowest = this.#recent[0];
    for (const d of this.#recent) if (before(d, lowest)) lowest = d;
    this.ourDelay = before(lowest, base) ? 0 : (lowest - base) >>> 0;
  }
}
