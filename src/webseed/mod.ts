/**
 * Web seeds (BEP 19): HTTP(S) mirrors of a torrent's files, fetched with Range requests beside
 * the peers, every piece checked like a peer's.
 *
 * @module
 */
export { fileUrl, isWebSeedUrl, type WebSeedFiles } from "./urls.ts";
export {
  type ClaimedPiece,
  type PieceSource,
  WebSeed,
  type WebSeedLayout,
  type WebSeedLog,
  type WebSeedOptions,
  type WebSeedState,
} from "./web_seed.ts";
