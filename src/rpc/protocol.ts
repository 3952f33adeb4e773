/**
 * What both ends of Transmission's RPC agree on: the path requests go to, the header that
 * carries the session id (the server's guard against cross-site requests), and HTTP Basic's
 * login. A module of its own so that the calling side loads none of the server.
 *
 * @module
 */
import { encodeBase64 } from "../util/mod.ts";

/** The path every RPC request goes to. */
export const RPC_PATH = "/transmission/rpc";

/** The header a request carries its session id in, and a 409 answer hands out a new one in. */
export const SESSION_HEADER = "X-Transmission-Session-Id";

/**
 * The `Authorization` value of HTTP Basic for `user:password`, its bytes UTF-8 (RFC 7617):
 * `btoa` would refuse a character past Latin-1, and send Latin-1 for the others.
 *
 * @example
 * ```ts
 * import { basicAuthorization } from "./protocol.ts";
 * console.log(basicAuthorization("u:€")); // Basic dTrigqw=
 * ```
 */
export function basicAuthorization(login: string): string {
  return `Basic ${encodeBase64(new TextEncoder().encode(login))}`;
}
