/**
 * Reading the command's input: a .torrent file (bounded in size, every failure one clear line)
 * or a magnet link.
 *
 * @module
 */
import {
  type Magnet,
  parseMagnet,
  parseTorrent,
  type Torrent,
  TorrentError,
} from "../metainfo/mod.ts";
import { fsReason } from "../storage/mod.ts";
import { concatBytes } from "../util/mod.ts";
import { CommandError } from "./io.ts";

/** The largest file we will read as a torrent (real ones are well under a few MiB). */
const MAX_TORRENT_FILE = 64 * 1024 * 1024;

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
    if (info.size > MAX_TORRENT_FILE) {
      throw new CommandError(`${input} is too large to be a torrent file (${info.size} bytes)`);
    }
    // Devices and pipes report size 0: read with a bound rather than trusting `stat`.
    bytes = await readAtMost(input, MAX_TORRENT_FILE);
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

/** The whole file, or a `CommandError` once it passes `max` bytes (e.g. `/dev/zero`). */
async function readAtMost(path: string, max: number): Promise<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const chunk = new Uint8Array(Math.min(1 << 20, max + 1 - total));
    const n = await file.read(chunk);
    if (n === null) break;
    total += n;
    if (total > max) {
      throw new CommandError(`${path} is too large to be a torrent file (over ${max} bytes)`);
    }
    chunks.push(chunk.subarray(0, n));
  }
  return chunks.length === 1 ? chunks[0] : concatBytes(...chunks);
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
