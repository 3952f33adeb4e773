/**
 * The small hand-made torrents and bad inputs in `testdata/torrents/`, and how each is made, so
 * they can be made again (`deno run -A testdata/torrents.ts`) and a test can check that the
 * committed files are still what this module makes.
 *
 * @module
 */
import { encode } from "../src/bencode/mod.ts";
import { createTorrentFromBuffers } from "../src/metainfo/mod.ts";

const text = new TextEncoder();

/** The bytes of the one file of `single.torrent` (`hello.txt`). */
export const HELLO: Uint8Array = text.encode("hello, torrent world\n".repeat(2000));

/** The files of `multi.torrent`, under its folder `album`. */
export const ALBUM: { path: string[]; data: Uint8Array }[] = [
  { path: ["01 intro.txt"], data: text.encode("intro\n".repeat(5000)) },
  { path: ["empty.txt"], data: new Uint8Array(0) },
  { path: ["disc 2", "02 outro.txt"], data: text.encode("outro\n".repeat(4000)) },
];

const date = 1_700_000_000;

/** Every test file: its name in `testdata/torrents/` and how it is made (README: what for). */
export const TEST_TORRENTS: { file: string; make(): Uint8Array }[] = [
  {
    file: "single.torrent",
    make: () =>
      createTorrentFromBuffers("hello.txt", HELLO, {
        pieceLength: 16384,
        announce: [["http://127.0.0.1:6969/announce", "udp://127.0.0.1:6969"], [
          "http://127.0.0.1:6970/announce",
        ]],
        urlList: ["http://127.0.0.1:8080/files/"],
        comment: "a small test torrent",
        createdBy: "testdata/torrents.ts",
        creationDate: date,
      }),
  },
  {
    file: "multi.torrent",
    make: () =>
      createTorrentFromBuffers("album", ALBUM, {
        pieceLength: 16384,
        private: true,
        creationDate: date,
      }),
  },
  {
    file: "path-escape.torrent",
    make: () =>
      encode(
        new Map([[
          "info",
          new Map<string, unknown>([
            [
              "files",
              [
                new Map<string, unknown>([["length", 3], ["path", ["..", "..", "etc", "x"]]]),
                new Map<string, unknown>([["length", 4], ["path", ["/abs", "a/b"]]]),
              ],
            ],
            ["name", text.encode("escape")],
            ["piece length", 16384],
            ["pieces", new Uint8Array(20)],
          ]),
        ]]) as never,
      ),
  },
  {
    file: "not-bencode.torrent",
    make: () => text.encode("hello, this is not a torrent\n"),
  },
  {
    file: "no-info.torrent",
    make: () => encode(new Map([["announce", text.encode("http://127.0.0.1:1/a")]])),
  },
  {
    file: "bad-piece-length.torrent",
    make: () =>
      encode(
        new Map([[
          "info",
          new Map<string, number | Uint8Array>([
            ["length", 5],
            ["name", text.encode("a.bin")],
            ["piece length", 0],
            ["pieces", new Uint8Array(20)],
          ]),
        ]]),
      ),
  },
  {
    file: "truncated.torrent",
    make: () => {
      const whole = TEST_TORRENTS[0].make();
      return whole.subarray(0, whole.length - 30);
    },
  },
];

/** Where the files live. */
export const TORRENTS_DIR: URL = new URL("./torrents/", import.meta.url);

if (import.meta.main) {
  for (const t of TEST_TORRENTS) await Deno.writeFile(new URL(t.file, TORRENTS_DIR), t.make());
}
