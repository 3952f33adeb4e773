/**
 * The DHT's error type.
 *
 * @module
 */

/**
 * Raised for anything that goes wrong in the DHT: a malformed KRPC packet, a query that timed
 * out or was answered with a KRPC error, a bad option, a node that is not running. Messages are
 * one line, meant for end users.
 *
 * @example
 * ```ts
 * import { DhtError } from "./error.ts";
 * const e = new DhtError("query timed out");
 * console.log(e.name, e.message); // DhtError query timed out
 * ```
 */
export class DhtError extends Error {
  /**
   * Transaction id of the packet that failed to decode, when it was a query whose `t` could
   * be read: the node answers those with KRPC error 203 instead of dropping them silently.
   */
  readonly transactionId?: Uint8Array;
  /** KRPC error code (201 generic, 202 server, 203 protocol, 204 method unknown), if any. */
  readonly code?: number;

  /** A one-line message, optionally with the transaction id and KRPC code it concerns. */
  constructor(message: string, opts: { transactionId?: Uint8Array; code?: number } = {}) {
    super(message);
    this.name = "DhtError";
    if (opts.transactionId !== undefined) this.transactionId = opts.transactionId;
    if (opts.code !== undefined) this.code = opts.code;
  }
}
