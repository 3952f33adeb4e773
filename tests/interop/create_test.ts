/**
 * Torrents made by `bittorrent create` in real clients: libtorrent loads one of a folder with
 * awkward sizes, finds every piece of the data valid and seeds it, and our client then downloads
 * it from that seeder.
 */
import { assert, assertEquals } from "../assert.ts";
import { main } from "../../src/main.ts";
import type { CommandIO } from "../../src/cli/mod.ts";
import { parseTorrent } from "../../src/metainfo/mod.ts";
import { runOurClient, sameTree, startLibtorrentSeeder, toolGate } from "./fixtures.ts";
import { makePayload, type PayloadFile } from "../../testdata/payload.ts";

const missing = await toolGate(["libtorrent"]);

/** Sizes that do not line up with the 32 KiB pieces, an empty file, nested folders. */
const FILES: PayloadFile[] = [
  { path: "made/one.bin", size: 1_000_001 },
  { path: "made/empty.txt", size: 0 },
  { path: "made/deep/er/two.bin", size: 65_537 },
  { path: "made/three.bin", size: 3 * 32768 },
];

const quietIO: CommandIO = { out: () => {}, err: () => {}, isTTY: false, columns: () => 80 };

for (const flag of ["--hybrid", "--v2", "--v1"]) {
  Deno.test({
    name: `create ${flag}: libtorrent verifies our torrent against the data and seeds it; ` +
      "we download it",
    ignore: missing(`create ${flag} -> libtorrent`, "libtorrent"),
    async fn() {
      const root = await Deno.makeTempDir({ prefix: "interop-create-" });
      try {
        await makePayload(`${root}/data`, { files: FILES, seed: 31 });
        const torrentPath = `${root}/made.torrent`;
        const code = await main(
          ["create", `${root}/data/made`, "-o", torrentPath, "--piece-size", "32K", flag],
          quietIO,
        );
        assertEquals(code, 0);
        const torrent = parseTorrent(await Deno.readFile(torrentPath));
        assertEquals(torrent.version, flag.slice(2));
        assertEquals(torrent.files.filter((f) => !f.padding).length, FILES.length);
        // READY comes only once libtorrent has checked every piece and is seeding.
        const seeder = await startLibtorrentSeeder({
          torrent: torrentPath,
          data: `${root}/data`,
          trackerOff: true,
        });
        try {
          const ours = await runOurClient({
            torrent: torrentPath,
            out: `${root}/out`,
            extraArgs: ["--peer", `127.0.0.1:${seeder.port}`],
          });
          try {
            const { code } = await ours.wait(60_000);
            assertEquals(code, 0, await ours.diagnose());
          } finally {
            await ours.stop();
          }
          assert(await sameTree(`${root}/data`, `${root}/out`), "our copy equals the source");
        } finally {
          await seeder.stop();
        }
      } finally {
        await Deno.remove(root, { recursive: true });
      }
    },
  });
}
