/**
 * The most a user may ask of a client, on the command line or over the RPC alike: a setting
 * one of them changes is saved as the other reads it, so both must hold it to the same bounds.
 * It imports nothing, so that the command line's parser reads it without loading the client.
 *
 * @module
 */

/** Peers a torrent keeps unless its user says (`--max-peers`, `peer-limit-per-torrent`). */
export const DEFAULT_MAX_PEERS = 20;
/** Torrents downloading at once (`--max-active`, `download-queue-size`). */
export const MAX_ACTIVE_LIMIT = 10_000;
/** Peers of one torrent (`--max-peers`, `peer-limit-per-torrent`, `peer-limit`). */
export const MAX_PEERS_LIMIT = 1000;
/** Peer connections of every torrent together (`--max-connections`, `peer-limit-global`). */
export const MAX_CONNECTIONS_LIMIT = 1_000_000;
/** A rate limit, bytes a second (`--max-download-rate`, `speed-limit-down`...): 1 TiB/s. */
export const MAX_RATE_LIMIT = 1024 ** 4;
/** A share ratio to seed to (`--seed-ratio`, `seedRatioLimit`). */
export const MAX_SEED_RATIO = 10_000;
/** A seeding time (`--seed-time`, `--seed-idle`, `idle-seeding-limit`): a year, in ms. */
export const MAX_SEED_DURATION_MS = 365 * 86_400_000;
