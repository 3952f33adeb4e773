/**
 * Whole swarms of our own on 127.0.0.1: our tracker (HTTP and UDP), two or three seeders and a
 * leecher, all `TorrentJob`s, and byte-for-byte comparison of what the leecher wrote.
 */
import { assert, assertEquals } from "../assert.ts";
import type { TorrentJob } from "../../src/client/mod.ts";
import { type BufferFile, createTorrentFromBuffers, type Torrent } from "../../src/metainfo/mod.ts";
import { startTracker, type TrackerServer } from "../../src/tracker/mod.ts";
import {
  assertPayload,
  MemoryLog,
  openJob,
  patternBytes,
  torrentOf,
  waitFor,
  within,
  writePayload,
} from "./helpers.ts";

/** Announcer settings for tests: quick give-up, quick `stopped`. */
const FAST_ANNOUNCER = { httpTimeoutMs: 2_000, stopTimeoutMs: 1_000 };

interface Swarm {
  tracker: TrackerServer;
  seeders: TorrentJob[];
  root: string;
}

/** Starts our tracker and `count` seeders of `payload`, each announced before this returns. */
async function startSwarm(
  torrent: Torrent,
  tracker: TrackerServer,
  payload: Uint8Array | readonly BufferFile[],
  count: number,
): Promise<Swarm> {
  const root = await Deno.makeTempDir({ prefix: "bt-swarm-" });
  const seeders: TorrentJob[] = [];
  const swarm = { tracker, seeders, root };
  try {
    for (let i = 0; i < count; i++) {
      // Each seeder has its own copy, as separate machines would.
      const dir = `${root}/seed${i}`;
      await writePayload(dir, torrent.name, payload);
      const job = await openJob(torrent, dir, {
        seed: true,
        trackers: true,
        announcer: FAST_ANNOUNCER,
      });
      seeders.push(job);
      assert(job.have.complete, `seeder ${i} should find its data complete`);
      job.start();
    }
    await waitFor(
      `${count} seeders on the tracker`,
      () => tracker.swarm(torrent.infoHashHex).complete >= count,
    );
  } catch (e) {
    await stopSwarm(swarm);
    throw e;
  }
  return swarm;
}

async function stopSwarm(swarm: Swarm, leecher?: TorrentJob): Promise<void> {
  await leecher?.stop();
  await Promise.all(swarm.seeders.map((s) => s.stop()));
  await swarm.tracker.close();
  await Deno.remove(swarm.root, { recursive: true });
}

/** Downloads through the tracker and checks the result; returns the leecher's stats. */
async function leechThroughTracker(
  torrent: Torrent,
  swarm: Swarm,
  payload: Uint8Array | readonly BufferFile[],
) {
  const out = `${swarm.root}/leech`;
  const log = new MemoryLog();
  const leecher = await openJob(torrent, out, {
    trackers: true,
    announcer: FAST_ANNOUNCER,
    log,
  });
  try {
    assertEquals(leecher.stats().piecesDone, 0, "leecher starts empty");
    leecher.start();
    await within("download", 15_000, leecher.done);
    const stats = leecher.stats();
    assertEquals(stats.piecesDone, torrent.pieceCount);
    assertEquals(stats.bytesDone, torrent.totalLength);
    assertEquals(stats.hashFailures, 0);
    assert(stats.peersKnown >= swarm.seeders.length, "the tracker handed out every seeder");
    // The leecher told the tracker it completed.
    await waitFor(
      "completed announce",
      () => swarm.tracker.swarm(torrent.infoHashHex).downloaded >= 1,
    );
    await leecher.stop();
    await assertPayload(out, torrent.name, payload);
    assertEquals(log.find("banning").length, 0, "nobody banned");
    return stats;
  } finally {
    await leecher.stop();
  }
}

Deno.test("single file with a short last piece, three seeders, HTTP tracker", async () => {
  const tracker = await startTracker({ hostname: "127.0.0.1" });
  const data = patternBytes(1_000_003, 11); // 16 pieces of 64 KiB, the last one 16_963 bytes
  const torrent = torrentOf(createTorrentFromBuffers("single.bin", data, {
    pieceLength: 65_536,
    announce: [[tracker.httpUrl]],
    creationDate: null,
  }));
  assertEquals(torrent.pieceCount, 16);
  assert(torrent.totalLength % torrent.pieceLength !== 0, "last piece is short");
  const swarm = await startSwarm(torrent, tracker, data, 3);
  try {
    const stats = await leechThroughTracker(torrent, swarm, data);
    assert(stats.downloaded >= data.length, "every byte came over the wire");
  } finally {
    await stopSwarm(swarm);
  }
});

Deno.test("multi-file: nested folders, empty files, files across piece boundaries, UDP tracker", async () => {
  const tracker = await startTracker({ hostname: "127.0.0.1" });
  const P = 32_768;
  const files: BufferFile[] = [
    { path: ["empty-first.txt"], data: new Uint8Array(0) },
    // Ends 100 bytes before the first boundary after piece 1...
    { path: ["a", "b", "c", "deep.bin"], data: patternBytes(2 * P - 100, 21) },
    // ...so this one ends exactly on it.
    { path: ["a", "exactly-to-boundary.bin"], data: patternBytes(100, 22) },
    { path: ["a", "empty-middle"], data: new Uint8Array(0) },
    { path: ["tiny.txt"], data: patternBytes(1, 23) },
    // Spans three piece boundaries.
    { path: ["x", "y", "big.bin"], data: patternBytes(3 * P + 12_345, 24) },
    { path: ["x", "small.bin"], data: patternBytes(777, 25) },
    { path: ["z", "empty-last"], data: new Uint8Array(0) },
  ];
  const torrent = torrentOf(createTorrentFromBuffers("multi", files, {
    pieceLength: P,
    announce: [[tracker.udpUrl]],
    creationDate: null,
  }));
  const total = files.reduce((n, f) => n + f.data.length, 0);
  assertEquals(torrent.totalLength, total);
  assert(total % P !== 0, "last piece is short");
  const swarm = await startSwarm(torrent, tracker, files, 2);
  try {
    await leechThroughTracker(torrent, swarm, files);
  } finally {
    await stopSwarm(swarm);
  }
});

Deno.test("a leecher that joins with part of the data fetches only the rest", async () => {
  const tracker = await startTracker({ hostname: "127.0.0.1" });
  const data = patternBytes(600_000, 31);
  const torrent = torrentOf(createTorrentFromBuffers("partial.bin", data, {
    pieceLength: 65_536,
    announce: [[tracker.httpUrl]],
    creationDate: null,
  }));
  const swarm = await startSwarm(torrent, tracker, data, 2);
  try {
    // The first half on disk, the rest zeros: verify on start must keep pieces 0..3 only.
    const out = `${swarm.root}/leech`;
    const partial = new Uint8Array(data.length);
    partial.set(data.subarray(0, 4 * 65_536 + 100));
    await writePayload(out, torrent.name, partial);
    const leecher = await openJob(torrent, out, { trackers: true, announcer: FAST_ANNOUNCER });
    try {
      assertEquals(leecher.stats().piecesDone, 4);
      leecher.start();
      await within("download", 15_000, leecher.done);
      const stats = leecher.stats();
      assertEquals(stats.piecesDone, torrent.pieceCount);
      // Endgame may fetch a block twice (counted as wasted); the useful bytes are the gap.
      const missing = data.length - 4 * 65_536;
      assert(
        stats.downloaded - stats.wasted <= missing && stats.downloaded < data.length,
        `downloaded ${stats.downloaded} bytes (${stats.wasted} wasted), missing only ${missing}`,
      );
    } finally {
      await leecher.stop();
    }
    await assertPayload(out, torrent.name, data);
  } finally {
    await stopSwarm(swarm);
  }
});
