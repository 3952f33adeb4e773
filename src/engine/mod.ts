/**
 * The torrent engine: one session per torrent owning the peer set, piece picker, request
 * scheduler and choker.
 *
 * @example
 * ```ts
 * import { PiecePicker } from "./mod.ts";
 * const picker = new PiecePicker(8);
 * console.log(picker.remaining); // 8
 * ```
 *
 * @module
 */
export { allowedFastSet } from "./allowed_fast.ts";
export { type ChokeCandidate, type ChokeDecision, choose } from "./choker.ts";
export { BufferPool } from "./buffer_pool.ts";
export { type PickerOptions, type PickOrder, PiecePicker, type PieceRange } from "./picker.ts";
export {
  type BookEntry,
  type PeerAddress,
  PeerBook,
  type PeerBookOptions,
  type PeerSource,
  type SourcedAddress,
  splitAddressKey,
} from "./peer_book.ts";
export { ActivePiece } from "./piece.ts";
export { RateMeter } from "./rate.ts";
export {
  type PeerView,
  type PieceStore,
  Session,
  type SessionEvents,
  type SessionLog,
  type SessionOptions,
  type SessionStats,
  type SessionTorrent,
} from "./session.ts";
export { every } from "./ticker.ts";
export { HandedPeer } from "./handed_peer.ts";
export {
  MetadataFetcher,
  type MetadataFetcherOptions,
  type MetadataStats,
} from "./metadata_fetcher.ts";
