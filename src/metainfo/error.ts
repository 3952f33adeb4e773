/**
 * The metainfo domain's error type.
 *
 * @module
 */

/**
 * Raised for a .torrent (or info dictionary) that cannot be used, for a file path that would
 * escape the output folder, and for torrents that cannot be created; the message is one line
 * meant for the end user.
 */
export class TorrentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TorrentError";
  }
}
