/**
 * Renaming a file or folder of a torrent (Transmission's `torrent-rename-path`): the same
 * torrent, the same pieces and info-hash, its files at other paths below the output folder.
 * Peers never see file names we keep, so a rename is the local layout's alone.
 *
 * @module
 */
import { TorrentError } from "./error.ts";
import { sanitizePathComponent } from "./paths.ts";
import type { Torrent, TorrentFile } from "./torrent.ts";

/** A torrent renamed, and what moved: the path below the output folder, before and after. */
export interface Renamed {
  torrent: Torrent;
  from: string[];
  to: string[];
}

/**
 * Gives the file or folder at `path` ("/"-separated below the output folder, starting with the
 * torrent's name) the name `name`; renaming the torrent's top folder (or its single file)
 * renames the torrent. Throws `TorrentError` for a name that is not a safe file name, a path
 * that names no file or folder of the torrent, or a new path another of its files holds.
 * Renaming to the same name returns the torrent as it is.
 *
 * @example
 * ```ts
 * import { createTorrentFromBuffers, parseTorrent, renamePath } from "./mod.ts";
 * const data = new Uint8Array(4);
 * const t = parseTorrent(createTorrentFromBuffers("album", [
 *   { path: ["cd1", "a.flac"], data }, { path: ["cd1", "b.flac"], data },
 * ], { pieceLength: 16384 }));
 * const { torrent, from, to } = renamePath(t, "album/cd1", "disc 1");
 * console.log(torrent.files.map((f) => f.path.join("/")), from, to);
 * // [ "album/disc 1/a.flac", "album/disc 1/b.flac" ] [ "album", "cd1" ] [ "album", "disc 1" ]
 * console.log(renamePath(t, "album", "Album").torrent.name); // Album
 * ```
 */
export function renamePath(torrent: Torrent, path: string, name: string): Renamed {
  if (name === "" || sanitizePathComponent(name) !== name) {
    throw new TorrentError(`"${name}" is not a usable file name`);
  }
  const from = path.split("/").filter((c) => c !== "");
  const under = (f: TorrentFile) => startsWith(f.path, from);
  if (from.length === 0 || !torrent.files.some((f) => !f.padding && under(f))) {
    throw new TorrentError(`"${path}" is no file or folder of this torrent`);
  }
  const to = [...from.slice(0, -1), name];
  if (to.at(-1) === from.at(-1)) return { torrent, from, to };
  const moved = (p: string[]) => startsWith(p, from) ? [...to, ...p.slice(from.length)] : p;
  const lower = (p: string[]) => p.map((c) => c.toLowerCase());
  // Paths are unique ignoring case (file systems that ignore it hold them too).
  const taken = torrent.files.find((f) =>
    !f.padding && !under(f) && startsWith(lower(f.path), lower(to))
  );
  if (taken) throw new TorrentError(`"${to.join("/")}" is taken by another file of the torrent`);
  const files = torrent.files.map((f) => ({
    ...f,
    path: moved(f.path),
    ...(f.symlink ? { symlink: moved(f.symlink) } : {}),
  }));
  const renamed = { ...torrent, files, ...(from.length === 1 ? { name } : {}) };
  return { torrent: renamed, from, to };
}

function startsWith(path: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((c, i) => path[i] === c);
}
