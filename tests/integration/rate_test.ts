/**
 * Rate limits, end to end: a whole download over loopback (which could run at GB/s) must average
 * the configured limit. The token bucket's burst is small (about 50 ms of traffic), so over
 * ~3 s of transfer the average is within a few per cent; the tests allow 10 %.
 */
import { assert, assertEquals } from "../assert.ts";
import type { TorrentJob } from "../../src/client/mod.ts";
import { createTorrentFromBuffers } from "../../src/metainfo/mod.ts";
import {
  addressOf,
  assertPayload,
  openJob,
  patternBytes,
  torrentOf,
  within,
  writePayload,
} from "./helpers.ts";

const MiB = 1024 * 1024;
const SIZE = 6 * MiB;
const LIMIT = 2 * MiB;

/** Downloads SIZE bytes from one seeder with the given limits; returns bytes per second. */
async function measure(limits: { download?: number; upload?: number }): Promise<number> {
  const root = await Deno.makeTempDir({ prefix: "bt-rate-" });
  const data = patternBytes(SIZE, 61);
  const torrent = torrentOf(
    createTorrentFromBuffers("rate.bin", data, { pieceLength: 256 * 1024, creationDate: null }),
  );
  let seeder: TorrentJob | undefined;
  let leecher: TorrentJob | undefined;
  try {
    await writePayload(`${root}/seed`, torrent.name, data);
    seeder = await openJob(torrent, `${root}/seed`, {
      seed: true,
      hub: { maxUploadRate: limits.upload ?? 0 },
    });
    leecher = await openJob(torrent, `${root}/leech`, {
      hub: { maxDownloadRate: limits.download ?? 0 },
    });
    seeder.start();
    leecher.start();
    const started = performance.now();
    leecher.addPeers([addressOf(seeder)]);
    await within("download", 10_000, leecher.done);
    const seconds = (performance.now() - started) / 1000;
    assertEquals(leecher.stats().piecesDone, torrent.pieceCount);
    await leecher.stop();
    await assertPayload(`${root}/leech`, torrent.name, data);
    return SIZE / seconds;
  } finally {
    await leecher?.stop();
    await seeder?.stop();
    await Deno.remove(root, { recursive: true });
  }
}

function assertNear(rate: number, limit: number, what: string): void {
  const ratio = rate / limit;
  assert(
    ratio > 0.9 && ratio < 1.1,
    `${what}: averaged ${(rate / MiB).toFixed(3)} MiB/s against a limit of ` +
      `${(limit / MiB).toFixed(3)} MiB/s (ratio ${ratio.toFixed(3)})`,
  );
}

Deno.test("--max-download-rate: a 6 MiB download averages 2 MiB/s within 10 %", async () => {
  assertNear(await measure({ download: LIMIT }), LIMIT, "download limit");
});

Deno.test("--max-upload-rate: a seeder serving 6 MiB averages 2 MiB/s within 10 %", async () => {
  assertNear(await measure({ upload: LIMIT }), LIMIT, "upload limit");
});
