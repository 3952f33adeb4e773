/**
 * v2 and hybrid torrents in a whole job on 127.0.0.1: a hybrid torrent in both of its swarms,
 * and a v2 download with a file selection that resumes from its record and verifies.
 */
import { assert, assertEquals } from "../assert.ts";
import { main } from "../../src/main.ts";
import type { CommandIO } from "../../src/cli/mod.ts";
import { createTorrentFromBuffers, swarmHashes } from "../../src/metainfo/mod.ts";
import { startTracker } from "../../src/tracker/mod.ts";
import { toHex } from "../../src/util/mod.ts";
import {
  addressOf,
  openJob,
  patternBytes,
  torrentOf,
  waitFor,
  within,
  writePayload,
} from "./helpers.ts";

const P = 32_768;
const FILES = [
  { path: ["a.bin"], data: patternBytes(5 * P + 100, 1) },
  { path: ["b.bin"], data: patternBytes(3 * P, 2) },
  { path: ["c.bin"], data: patternBytes(1_000, 3) },
];

Deno.test("hybrid: a seed announces both swarms' hashes, and takes peers from either", async () => {
  const tracker = await startTracker({ hostname: "127.0.0.1" });
  const root = await Deno.makeTempDir();
  try {
    const torrent = torrentOf(createTorrentFromBuffers("h", FILES, {
      pieceLength: P,
      announce: [[tracker.httpUrl]],
      version: "hybrid",
    }));
    const [v1, v2] = swarmHashes(torrent);
    assertEquals(toHex(v2), toHex(torrent.infoHashV2!).slice(0, 40));
    await writePayload(`${root}/seed`, "h", FILES);
    const seed = await openJob(torrent, `${root}/seed`, {
      seed: true,
      trackers: true,
      announcer: { httpTimeoutMs: 2_000, stopTimeoutMs: 1_000 },
    });
    seed.start();
    try {
      await waitFor(
        "the seed in both swarms",
        () => tracker.swarm(toHex(v1)).complete === 1 && tracker.swarm(toHex(v2)).complete === 1,
      );
      // A peer that dials with the v2 hash (cut to 20 bytes) is taken in as well.
      const leech = await openJob(
        { ...torrent, infoHash: v2, infoHashHex: toHex(v2) },
        `${root}/out`,
        {
          peers: [addressOf(seed)],
        },
      );
      leech.start();
      try {
        await within("the download over the v2 hash", 10_000, leech.done);
      } finally {
        await leech.stop();
      }
      for (const f of FILES) {
        assertEquals(await Deno.readFile(`${root}/out/h/${f.path[0]}`), f.data);
      }
    } finally {
      await seed.stop();
    }
  } finally {
    await tracker.close();
    await Deno.remove(root, { recursive: true });
  }
});

const quiet: CommandIO = { out: () => {}, err: () => {}, isTTY: false, columns: () => 80 };

Deno.test("v2: a selected file downloads, the record resumes it, and verify checks it", async () => {
  const root = await Deno.makeTempDir();
  try {
    const torrent = torrentOf(
      createTorrentFromBuffers("s", FILES, { pieceLength: P, version: "v2" }),
    );
    await writePayload(`${root}/seed`, "s", FILES);
    const seed = await openJob(torrent, `${root}/seed`, { seed: true });
    seed.start();
    try {
      const selected = torrent.files.map((f) => f.path.at(-1) === "b.bin");
      const leech = await openJob(torrent, `${root}/out`, { selected, peers: [addressOf(seed)] });
      leech.start();
      try {
        await within("the selected file", 10_000, leech.completed);
      } finally {
        await leech.stop();
      }
      assertEquals(await Deno.readFile(`${root}/out/s/b.bin`), FILES[1].data);
      const again = await openJob(torrent, `${root}/out`, { selected });
      try {
        assert(again.resumedFromRecord, "the resume record is trusted");
        assert(again.session!.finished, "nothing left to fetch of the selection");
      } finally {
        await again.stop();
      }
    } finally {
      await seed.stop();
    }
    const torrentPath = `${root}/s.torrent`;
    await Deno.writeFile(
      torrentPath,
      createTorrentFromBuffers("s", FILES, { pieceLength: P, version: "v2" }),
    );
    // b.bin's pieces verify; a.bin and c.bin are missing.
    assertEquals(await main(["verify", "-i", torrentPath, "-o", `${root}/out`], quiet), 1);
    assertEquals(await main(["verify", "-i", torrentPath, "-o", `${root}/seed`], quiet), 0);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
