/**
 * Reading the command's input: a .torrent file (bounded in size, every failure one clear line)
 * or a magnet link.
 *
 * @module
 */
import {
  type Magnet,
  MAX_TORRENT_FILE_BYTES,
  parseMagnet,
  parseTorrent,
  type Torrent,
  TorrentError,
} from "../metainfo/mod.ts";
import { fsReason, readFileAtMost } from "../util/mod.ts";
import { CommandError } from "./io.ts";

/**
 * Reads and parses a .torrent file, turning every failure into one clear `CommandError` line.
 *
 * @example
 * ```ts
 * import { loadTorrent } from "./input.ts";
 * import { CommandError } from "./io.ts";
 * try {
 *   await loadTorrent("/no/such/file.torrent");
 * } catch (e) {
 *   console.log(e instanceof CommandError); // true
 * }
 * ```
 */
export async function loadTorrent(input: string): Promise<Torrent> {
  let bytes: Uint8Array;
  try {
    const info = await Deno.stat(input);
    if (info.isDirectory) throw new CommandError(`${input} is a folder, not a torrent file`);
    if (info.size > MAX_TORRENT_FILE_BYTES) {
      throw new CommandError(`${input} is too large to be a torrent file (${info.size} bytes)`);
    }
    // Devices and pipes report size 0: read with a bound rather than trusting `stat`.
    const read = await readFileAtMost(input, MAX_TORRENT_FILE_BYTES);
    if (read === null) {
      throw new CommandError(
        `${input} is too large to be a torrent file (over ${MAX_TORRENT_FILE_BYTES} bytes)`,
      );
    }
    bytes = read;
  } catch (e) {
    if (e instanceof CommandError) throw e;
    throw new CommandError(`cannot read torrent file ${input}: ${fsReason(e)}`);
  }
  try {
    return parseTorrent(bytes);
  } catch (e) {
    if (e instanceof TorrentError) throw new CommandError(`${input}: ${e.message}`);
    throw e;
  }
}

/** A magnet link (`magnet:?...`) or the path of a .torrent file, loaded and checked. */
export async function loadInput(
  input: string,
): Promise<{ magnet: Magnet } | { torrent: Torrent }> {
  if (!/^magnet:/i.test(input)) return { torrent: await loadTorrent(input) };
  try {
    return { magnet: parseMagnet(input) };
  } catch (e) {
    if (e instanceof TorrentError) throw new CommandError(e.message);
    throw e;
  }
}
