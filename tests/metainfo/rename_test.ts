/**
 * `renamePath`: a file, a folder or the torrent itself renamed, everything else as it was, and
 * every rename that would lose or clash with a file refused.
 */
import {
  createTorrentFromBuffers,
  parseTorrent,
  renamePath,
  type Torrent,
  TorrentError,
} from "../../src/metainfo/mod.ts";
import { assertEquals, assertThrows } from "../assert.ts";

const data = new Uint8Array(100);
const album = parseTorrent(createTorrentFromBuffers("album", [
  { path: ["cd1", "a.flac"], data },
  { path: ["cd1", "b.flac"], data },
  { path: ["cd10", "c.flac"], data },
  { path: ["cover.jpg"], data },
], { pieceLength: 16384, creationDate: null }));
const paths = (t: Torrent) => t.files.map((f) => f.path.join("/"));

Deno.test("renamePath renames one file, and only it", () => {
  const { torrent, from, to } = renamePath(album, "album/cd1/a.flac", "01 intro.flac");
  assertEquals(paths(torrent), [
    "album/cd1/01 intro.flac",
    "album/cd1/b.flac",
    "album/cd10/c.flac",
    "album/cover.jpg",
  ]);
  assertEquals([from, to], [["album", "cd1", "a.flac"], ["album", "cd1", "01 intro.flac"]]);
  assertEquals(torrent.name, "album");
  assertEquals(torrent.infoHashHex, album.infoHashHex);
  assertEquals(
    torrent.files.map((f) => [f.offset, f.length]),
    album.files.map((f) => [f.offset, f.length]),
  );
  assertEquals(paths(album)[0], "album/cd1/a.flac", "the torrent given is not changed");
});

Deno.test("renamePath renames a folder, not its namesake's prefix; the top folder renames the torrent", () => {
  const folder = renamePath(album, "album/cd1/", "disc 1").torrent;
  assertEquals(paths(folder), [
    "album/disc 1/a.flac",
    "album/disc 1/b.flac",
    "album/cd10/c.flac",
    "album/cover.jpg",
  ]);
  const top = renamePath(folder, "album", "Album (2024)").torrent;
  assertEquals(top.name, "Album (2024)");
  assertEquals(paths(top)[3], "Album (2024)/cover.jpg");
  // A case-only rename is no clash with itself.
  assertEquals(
    renamePath(album, "album/cover.jpg", "Cover.jpg").torrent.files[3].path.at(-1),
    "Cover.jpg",
  );
});

Deno.test("renamePath of a single-file torrent renames the torrent", () => {
  const single = parseTorrent(
    createTorrentFromBuffers("movie.mkv", data, { pieceLength: 16384, creationDate: null }),
  );
  const { torrent } = renamePath(single, "movie.mkv", "Movie (1999).mkv");
  assertEquals([torrent.name, paths(torrent)], ["Movie (1999).mkv", ["Movie (1999).mkv"]]);
});

Deno.test("renamePath to the same name gives the torrent back", () => {
  assertEquals(renamePath(album, "album/cd1", "cd1").torrent, album);
});

Deno.test("renamePath refuses names that are no file names, paths it lacks, and clashes", () => {
  for (const name of ["", ".", "..", "a/b", "a\\b", "nul\0", "trailing."]) {
    assertThrows(() => renamePath(album, "album/cover.jpg", name), TorrentError, "usable");
  }
  for (const path of ["", "/", "other", "album/cd", "album/cd1/a", "album/cover.jpg/x"]) {
    assertThrows(() => renamePath(album, path, "x"), TorrentError, "no file or folder");
  }
  assertThrows(() => renamePath(album, "album/cd1", "CD10"), TorrentError, "taken");
  assertThrows(() => renamePath(album, "album/cover.jpg", "cd1"), TorrentError, "taken");
});

Deno.test("renamePath moves symlink targets along; pad files neither count nor block", () => {
  const linked: Torrent = {
    ...album,
    files: [
      ...album.files,
      {
        path: ["album", "cd1", "link"],
        length: 0,
        offset: 400,
        padding: false,
        symlink: ["album", "cd1", "a.flac"],
      },
      { path: ["album", ".pad", "7"], length: 7, offset: 400, padding: true },
    ],
  };
  const { torrent } = renamePath(linked, "album/cd1", "disc 1");
  assertEquals(torrent.files[4].symlink, ["album", "disc 1", "a.flac"]);
  assertThrows(() => renamePath(linked, "album/.pad", "x"), TorrentError, "no file or folder");
  assertEquals(paths(renamePath(linked, "album/cover.jpg", ".pad").torrent)[3], "album/.pad");
});
