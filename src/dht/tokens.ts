/**
 * Write tokens for `announce_peer` (BEP 5): a token is SHA-1(secret + IP of the querier). The
 * secret changes every 5 minutes and the previous one is still accepted, so a token stays
 * valid for 5 to 10 minutes and only at the address it was given to. No timers: rotation
 * happens lazily when the clock says it is due.
 *
 * @module
 */
import { sha1 } from "../util/mod.ts";

/** How often the secret changes (BEP 5: every five minutes). */
export const TOKEN_ROTATE_MS = 5 * 60_000;
const SECRET_BYTES = 16;

/** Options of a {@link TokenManager}. */
export interface TokenOptions {
  /** Rotation interval; default {@link TOKEN_ROTATE_MS}. */
  rotateMs?: number;
  /** Clock in milliseconds; default `Date.now`. */
  now?: () => number;
}

const encoder = new TextEncoder();
const freshSecret = () => crypto.getRandomValues(new Uint8Array(SECRET_BYTES));

/**
 * Issues and checks announce tokens.
 *
 * @example
 * ```ts
 * import { TokenManager } from "./tokens.ts";
 * const tokens = new TokenManager();
 * const token = tokens.issue("127.0.0.1");
 * console.log(tokens.check(token, "127.0.0.1"), tokens.check(token, "127.0.0.2")); // true false
 * ```
 */
export class TokenManager {
  readonly #rotateMs: number;
  readonly #now: () => number;
  #current = freshSecret();
  #previous = freshSecret();
  #rotatedAt: number;

  /** Starts with two fresh random secrets. */
  constructor(opts: TokenOptions = {}) {
    this.#rotateMs = opts.rotateMs ?? TOKEN_ROTATE_MS;
    this.#now = opts.now ?? Date.now;
    this.#rotatedAt = this.#now();
  }

  /** The token for a querier at `host` (an IP literal). */
  issue(host: string): Uint8Array {
    this.#rotate();
    return tokenFor(this.#current, host);
  }

  /** Whether `token` was issued to `host` under the current or the previous secret. */
  check(token: Uint8Array, host: string): boolean {
    this.#rotate();
    return equal(token, tokenFor(this.#current, host)) ||
      equal(token, tokenFor(this.#previous, host));
  }

  #rotate(): void {
    const steps = Math.floor((this.#now() - this.#rotatedAt) / this.#rotateMs);
    if (steps <= 0) return;
    this.#previous = steps === 1 ? this.#current : freshSecret();
    this.#current = freshSecret();
    this.#rotatedAt += steps * this.#rotateMs;
  }
}

function tokenFor(secret: Uint8Array, host: string): Uint8Array {
  return sha1(secret, encoder.encode(host));
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
