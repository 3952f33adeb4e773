/**
 * Resume, end to end on 127.0.0.1: a clean stop leaves a record the next start trusts (no
 * hashing); `kill -9` of the real CLI at several points loses at most what was in flight and the
 * restarts fetch about what was missing; a byte corrupted on disk while stopped is found on the
 * next start and fetched again.
 */
import { assert, assertEquals } from "../assert.ts";
import type { TorrentJob } from "../../src/client/mod.ts";
import { verifyData } from "../../src/cli/mod.ts";
import { createTorrentFromBuffers, parseTorrent, type Torrent } from "../../src/metainfo/mod.ts";
import { resumePath, Storage } from "../../src/storage/mod.ts";
import { startTracker } from "../../src/tracker/mod.ts";
import { TokenBucket } from "../../src/util/mod.ts";
import {
  addressOf,
  assertPayload,
  MemoryLog,
  openJob,
  patternBytes,
  torrentOf,
  waitFor,
  within,
  writePayload,
} from "./helpers.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const MAIN = decodeURIComponent(new URL("../../src/main.ts", import.meta.url).pathname);

/** Pieces of `torrent` verified on disk below `dir`, by hashing. */
async function piecesOnDisk(torrent: Torrent, dir: string): Promise<number> {
  const storage = await Storage.open(torrent, dir);
  try {
    return (await storage.verify()).count;
  } finally {
    await storage.close();
  }
}

Deno.test("resume: a clean stop, then a restart that trusts the record and finishes", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-resume-" });
  const PIECE = 32 * KiB;
  const data = patternBytes(2 * MiB, 71);
  const torrent = torrentOf(
    createTorrentFromBuffers("clean.bin", data, { pieceLength: PIECE, creationDate: null }),
  );
  const bucket = new TokenBucket(1 * MiB); // 2 s for everything: time to stop half-way
  let seeder: TorrentJob | undefined;
  let leecher: TorrentJob | undefined;
  try {
    await writePayload(`${root}/seed`, torrent.name, data);
    seeder = await openJob(torrent, `${root}/seed`, {
      seed: true,
      session: { uploadLimiter: bucket },
    });
    seeder.start();

    // Run 1: no record yet, so the (empty) folder is hashed; stopped cleanly part-way.
    let checks = 0;
    leecher = await openJob(torrent, `${root}/leech`, { onCheckProgress: () => checks++ });
    assert(!leecher.resumedFromRecord, "no record on a first start");
    assert(checks > 0, "the first start hashes the data");
    leecher.start();
    leecher.addPeers([addressOf(seeder)]);
    const first = leecher;
    await waitFor("a third of the pieces", () => first.stats().piecesDone >= 20, 10_000);
    await leecher.stop();
    const kept = leecher.stats().piecesDone;
    assert(kept < torrent.pieceCount, "stopped before the end");
    const record = resumePath(await Deno.realPath(`${root}/leech`), torrent.infoHash);
    assert((await Deno.stat(record)).isFile, "a record next to the download");
    const onDisk = await piecesOnDisk(torrent, `${root}/leech`);

    // Run 2: the record is trusted (no hashing at all) and names every piece on disk.
    bucket.setRate(0);
    checks = 0;
    leecher = await openJob(torrent, `${root}/leech`, { onCheckProgress: () => checks++ });
    assert(leecher.resumedFromRecord, "the clean stop's record is trusted");
    assertEquals(checks, 0, "no hashing on a clean restart");
    assertEquals(leecher.have.count, onDisk, "the record holds every written piece");
    assert(onDisk >= kept);
    leecher.start();
    leecher.addPeers([addressOf(seeder)]);
    await within("the rest of the download", 10_000, leecher.done);
    const missing = data.length - onDisk * PIECE;
    assertEquals(leecher.stats().downloaded, missing, "fetched exactly what was missing");
    await leecher.stop();
    await assertPayload(`${root}/leech`, torrent.name, data);

    // Run 3: complete and clean: trusted again, done at once without reading the data.
    checks = 0;
    leecher = await openJob(torrent, `${root}/leech`, { onCheckProgress: () => checks++ });
    assert(leecher.resumedFromRecord && leecher.session!.complete, "complete from the record");
    assertEquals(checks, 0);
    leecher.start();
    await within("an already complete job", 2_000, leecher.done);
    await leecher.stop();
  } finally {
    await leecher?.stop();
    await seeder?.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("resume: a byte corrupted while stopped is found on the next start and repaired", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-resume-" });
  const PIECE = 16 * KiB;
  const files = [
    { path: ["a.bin"], data: patternBytes(300 * KiB, 72) },
    { path: ["sub", "b.bin"], data: patternBytes(200 * KiB + 123, 73) },
  ];
  const torrent = torrentOf(
    createTorrentFromBuffers("corrupt", files, { pieceLength: PIECE, creationDate: null }),
  );
  const out = `${root}/leech`;
  const target = `${out}/corrupt/sub/b.bin`;
  let seeder: TorrentJob | undefined;
  let leecher: TorrentJob | undefined;
  try {
    await writePayload(`${root}/seed`, torrent.name, files);
    seeder = await openJob(torrent, `${root}/seed`, { seed: true });
    seeder.start();
    leecher = await openJob(torrent, out);
    leecher.start();
    leecher.addPeers([addressOf(seeder)]);
    await within("the download", 10_000, leecher.done);
    await leecher.stop();

    // Flip one byte in place: the file's modification time moves, so the record is stale.
    const flip = async (at: number) => {
      const f = await Deno.open(target, { read: true, write: true });
      const b = new Uint8Array(1);
      await f.seek(at, Deno.SeekMode.Start);
      await f.read(b);
      b[0] ^= 0x40;
      await f.seek(at, Deno.SeekMode.Start);
      await f.write(b);
      f.close();
    };
    await flip(100 * KiB + 5);
    const log = new MemoryLog();
    leecher = await openJob(torrent, out, { log });
    assert(!leecher.resumedFromRecord, "a changed file makes the record stale");
    assert(log.find("sub/b.bin changed").length > 0, log.lines.join("\n"));
    assertEquals(leecher.have.count, torrent.pieceCount - 1, "exactly one bad piece");
    leecher.start();
    leecher.addPeers([addressOf(seeder)]);
    await within("the repair", 10_000, leecher.done);
    assertEquals(leecher.stats().downloaded, PIECE, "only the bad piece was fetched again");
    await leecher.stop();
    await assertPayload(out, torrent.name, files);

    // Corruption that keeps size and time (bit rot) gets past the record by design; `verify`
    // always hashes, finds it, and refreshes the record so the next start fetches the piece.
    const { mtime } = await Deno.stat(target);
    await flip(7);
    await Deno.utime(target, new Date(), mtime!);
    const report = await verifyData(torrent, out);
    assert(!report.complete, "verify finds the hidden corruption");
    leecher = await openJob(torrent, out);
    assert(leecher.resumedFromRecord, "the refreshed record is trusted");
    assertEquals(leecher.have.count, torrent.pieceCount - 1);
    leecher.start();
    leecher.addPeers([addressOf(seeder)]);
    await within("the second repair", 10_000, leecher.done);
    await leecher.stop();
    await assertPayload(out, torrent.name, files);
  } finally {
    await leecher?.stop();
    await seeder?.stop();
    await Deno.remove(root, { recursive: true });
  }
});

interface Child {
  process: Deno.ChildProcess;
  result: Promise<{ code: number; signal: Deno.Signal | null; stdout: string; stderr: string }>;
}

function spawnCli(args: string[], cwd: string): Child {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, ...args],
    cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const result = process.output().then((o) => ({
    code: o.code,
    signal: o.signal,
    stdout: new TextDecoder().decode(o.stdout),
    stderr: new TextDecoder().decode(o.stderr),
  }));
  return { process, result };
}

Deno.test("resume: kill -9 of the CLI at 25 %, 75 % and in the last piece; restarts finish", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt-kill9-" });
  const tracker = await startTracker({ hostname: "127.0.0.1" });
  const PIECE = 32 * KiB;
  const SIZE = 4 * MiB;
  const data = patternBytes(SIZE, 74);
  const torrentBytes = createTorrentFromBuffers("kill9.bin", data, {
    pieceLength: PIECE,
    announce: [[tracker.httpUrl]],
    creationDate: null,
  });
  const torrent = parseTorrent(torrentBytes);
  await Deno.writeFile(`${dir}/t.torrent`, torrentBytes);
  await writePayload(`${dir}/seed`, torrent.name, data);
  const bucket = new TokenBucket(1 * MiB); // 4 s for everything
  const seeder = await openJob(torrent, `${dir}/seed`, {
    seed: true,
    trackers: true,
    announcer: { httpTimeoutMs: 2_000, stopTimeoutMs: 1_000 },
    session: { uploadLimiter: bucket },
  });
  const args = ["-i", "t.torrent", "-o", "out", "--port", "0", "--log-dir", "logs", "--no-dht"];
  const figures: string[] = [];
  try {
    seeder.start();
    await waitFor("the seeder on the tracker", () => {
      return tracker.swarm(torrent.infoHashHex).complete === 1;
    }, 10_000);

    let have = 0; // pieces verified on disk before the run
    // Each point: kill once this many bytes of the whole were served (over all runs so far).
    // Before the last piece the seeder slows down, so the kill lands inside it.
    const points = [
      { name: "25 %", goal: 0.25 * SIZE },
      { name: "75 %", goal: 0.75 * SIZE },
      { name: "the last piece", goal: SIZE - PIECE / 2, slowFrom: SIZE - 2 * PIECE },
    ];
    for (const point of points) {
      const servedBefore = seeder.stats().uploaded;
      const total = () => have * PIECE + seeder.stats().uploaded - servedBefore;
      const child = spawnCli(args, dir);
      let exited = false;
      child.result.then(() => exited = true);
      if (point.slowFrom !== undefined) {
        await waitFor("the last pieces", () => exited || total() >= point.slowFrom, 20_000);
        bucket.setRate(32 * KiB);
      }
      await waitFor(`${point.name} served`, () => exited || total() >= point.goal, 20_000);
      const exitedFirst = exited;
      if (!exitedFirst) child.process.kill("SIGKILL");
      const r = await child.result;
      bucket.setRate(1 * MiB);
      const served = seeder.stats().uploaded - servedBefore;
      const now = await piecesOnDisk(torrent, `${dir}/out`);
      figures.push(
        `killed in ${point.name}: ${served} B served this run, ` +
          `${now}/${torrent.pieceCount} pieces on disk` +
          (exitedFirst ? ` (it exited with ${r.code} first)` : ""),
      );
      assert(!exitedFirst, `the run ended before the kill: ${figures.join("; ")}\n${r.stderr}`);
      assert(now >= have, `a restart never loses verified pieces (${have} -> ${now})`);
      assert(now < torrent.pieceCount, `killed before the end: ${figures.join("; ")}`);
      // What the seeder sent but is not on disk was in flight (socket buffers, pieces not yet
      // complete): it must stay small.
      const lost = have * PIECE + served - now * PIECE;
      assert(lost <= 1 * MiB, `lost ${lost} bytes to the kill; ${figures.join("; ")}`);
      have = now;
    }

    // Last run at full speed: fetches what is missing, and little more.
    bucket.setRate(0);
    const servedBefore = seeder.stats().uploaded;
    const r = await spawnCli(args, dir).result;
    assertEquals(r.code, 0, `final run (stderr: ${r.stderr})`);
    assert(r.stdout.includes(`All ${torrent.pieceCount} pieces verified`), r.stdout);
    const served = seeder.stats().uploaded - servedBefore;
    const missing = SIZE - have * PIECE;
    figures.push(`final run: ${served} B served, ${missing} B were missing`);
    assert(served >= missing, `served ${served} < missing ${missing}`);
    assert(served <= missing + 2 * PIECE, `fetched too much: ${figures.join("; ")}`);
    assertEquals(await Deno.readFile(`${dir}/out/kill9.bin`), data, "byte-identical");
    console.log(`  ${figures.join("\n  ")}`);
  } finally {
    await seeder.stop();
    await tracker.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("resume: with a file selection (shared pieces in the part file) a clean restart trusts the record", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-resume-" });
  const PIECE = 16 * KiB;
  // File boundaries inside pieces, so the unchosen middle file shares pieces with both others.
  const files = [
    { path: ["a.bin"], data: patternBytes(3 * PIECE + 5_000, 75) },
    { path: ["b.bin"], data: patternBytes(2 * PIECE + 7, 76) },
    { path: ["c.bin"], data: patternBytes(2 * PIECE - 3_000, 77) },
  ];
  const torrent = torrentOf(
    createTorrentFromBuffers("sel", files, { pieceLength: PIECE, creationDate: null }),
  );
  const selected = [true, false, true];
  const out = `${root}/leech`;
  let seeder: TorrentJob | undefined;
  let leecher: TorrentJob | undefined;
  try {
    await writePayload(`${root}/seed`, torrent.name, files);
    seeder = await openJob(torrent, `${root}/seed`, { seed: true });
    seeder.start();
    leecher = await openJob(torrent, out, { selected });
    leecher.start();
    leecher.addPeers([addressOf(seeder)]);
    await within("the chosen files", 10_000, leecher.done);
    const have = leecher.have.count;
    await leecher.stop();
    const real = await Deno.realPath(out);
    assert((await Deno.stat(`${real}/.bittorrent/${torrent.infoHashHex}.parts`)).size > 0);

    let checks = 0;
    leecher = await openJob(torrent, out, { selected, onCheckProgress: () => checks++ });
    assert(leecher.resumedFromRecord, "trusted despite the missing unchosen file");
    assertEquals([checks, leecher.have.count], [0, have]);
    await leecher.stop();

    // The part file changed (e.g. truncated): stale, so the data is hashed again.
    await Deno.truncate(`${real}/.bittorrent/${torrent.infoHashHex}.parts`, PIECE);
    leecher = await openJob(torrent, out, { selected, onCheckProgress: () => checks++ });
    assert(!leecher.resumedFromRecord && checks > 0, "a changed part file makes it stale");
    assert(leecher.have.count < have, "the truncated slot's piece is gone");
    leecher.start();
    leecher.addPeers([addressOf(seeder)]);
    await within("the repair", 10_000, leecher.done);
    await leecher.stop();
    await assertPayload(out, torrent.name, [files[0], files[2]]);
  } finally {
    await leecher?.stop();
    await seeder?.stop();
    await Deno.remove(root, { recursive: true });
  }
});
