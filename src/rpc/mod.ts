/**
 * Transmission's RPC protocol, served by the daemon: the HTTP endpoint with its guards
 * (Host allow-list, Basic authentication, the session-id handshake, size and rate limits) and
 * the methods over a `Client`, so `transmission-remote` and other Transmission tools drive us;
 * and the calling side the remote commands use.
 *
 * @example
 * ```ts
 * import { RPC_PATH } from "./mod.ts";
 * console.log(RPC_PATH); // "/transmission/rpc"
 * ```
 *
 * @module
 */
export { DEFAULT_RPC_URL, RpcCallError, RpcClient } from "./client.ts";
export { RPC_PATH } from "./protocol.ts";
export {
  addCounts,
  type MethodContext,
  type SessionCounts,
  type SessionValues,
  thisRunCounts,
  transmissionMethods,
} from "./methods.ts";
export {
  DEFAULT_RPC_PORT,
  type MethodResult,
  type PageHandler,
  RpcError,
  type RpcMethods,
  RpcServer,
  type RpcServerOptions,
  textResponse,
} from "./server.ts";
