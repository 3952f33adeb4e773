/**
 * Resting seeds (`rest`): a seeding torrent no peer is connected to closes its files and drops
 * its session, keeping its route and announces, and takes them up again when a peer calls, when
 * peers are named, or when a reader holds it; its numbers count on across the rests.
 */
import { assert, assertEquals } from "../assert.ts";
import { Client } from "../../src/client/mod.ts";
import { createTorrentFromBuffers } from "../../src/metainfo/mod.ts";
import {
  addressOf,
  assertPayload,
  LOOPBACK,
  openJob,
  patternBytes,
  torrentOf,
  waitFor,
  within,
  writePayload,
} from "./helpers.ts";

const DATA = patternBytes(8 * 32768 + 1000, 91);
const TORRENT = torrentOf(
  createTorrentFromBuffers("rest.bin", DATA, { pieceLength: 32768, creationDate: null }),
);

/**
 * Descriptors this process holds open on `path` (Linux; -1 elsewhere), counted by `find` as
 * reading /proc/self needs more permissions than the tests have.
 */
async function openHandles(path: string): Promise<number> {
  if (Deno.build.os !== "linux") return -1;
  const out = await new Deno.Command("find", {
    args: [`/proc/${Deno.pid}/fd`, "-lname", path],
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "").length;
}

Deno.test("rest: a complete seed rests at start, a leecher calling wakes it, then it rests again", async () => {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "bt-rest-" }));
  await writePayload(`${root}/seed`, TORRENT.name, DATA);
  const seeder = await openJob(TORRENT, `${root}/seed`, {
    seed: true,
    rest: true,
    restAfterMs: 300,
  });
  const leecher = await openJob(TORRENT, `${root}/leech`);
  try {
    // The count can see an open file (else the check below would prove nothing).
    const payload = `${root}/seed/rest.bin`;
    {
      using _mine = await Deno.open(payload);
      assert((await openHandles(payload)) !== 0, "find sees open files");
    }
    seeder.start();
    assert(seeder.resting, "complete with no peer: resting from the start");
    assertEquals([seeder.session, seeder.phase, seeder.have.complete], [
      undefined,
      "seeding",
      true,
    ]);
    assertEquals(seeder.stats().peersConnected, 0);
    for (let i = 0; (await openHandles(payload)) > 0; i++) {
      assert(i < 100, "the files closed while resting");
      await new Promise((r) => setTimeout(r, 20));
    }

    leecher.addPeers([addressOf(seeder)]);
    leecher.start();
    await within("the download from a resting seed", 10_000, leecher.done);
    await assertPayload(`${root}/leech`, TORRENT.name, DATA);
    assertEquals(seeder.stats().uploaded >= DATA.length, true, "the upload counted");
    await leecher.stop();

    await waitFor("a rest once the leecher left", () => seeder.resting, 5_000);
    assert(seeder.stats().uploaded >= DATA.length, "totals count on while resting");
    assertEquals(seeder.stats().uploadRate, 0);
    assertEquals(seeder.peers(), []);
  } finally {
    await leecher.stop();
    await seeder.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("rest: a reader's hold wakes a resting seed and keeps it awake until released", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-rest-" });
  await writePayload(root, TORRENT.name, DATA);
  const seeder = await openJob(TORRENT, root, { seed: true, rest: true, restAfterMs: 100 });
  try {
    seeder.start();
    assert(seeder.resting);
    const held = await seeder.hold();
    assert(!seeder.resting && seeder.session === held.session, "awake for the reader");
    assertEquals(await held.storage.read(1, 5, 10), DATA.subarray(32768 + 5, 32768 + 15));
    await new Promise((r) => setTimeout(r, 400));
    assert(!seeder.resting, "held: no rest, however long");
    held.release();
    held.release(); // a second release changes nothing
    await waitFor("a rest after the release", () => seeder.resting, 3_000);
    // Stopping a resting job settles it.
    await within("a stop while resting", 3_000, seeder.stop());
    await within("done after the stop", 1_000, seeder.done);
    await seeder.hold().then(
      () => assert(false, "a stopped job cannot be held"),
      (e) => assert(e instanceof Error),
    );
  } finally {
    await seeder.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("rest: data changed while resting is checked again when the seed wakes", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-rest-" });
  await writePayload(root, TORRENT.name, DATA);
  const seeder = await openJob(TORRENT, root, { seed: true, rest: true });
  try {
    seeder.start();
    assert(seeder.resting);
    await waitFor("the resume record saved", () => {
      try {
        return Deno.readDirSync(`${root}/.bittorrent`).some((e) => e.isFile);
      } catch {
        return false;
      }
    });
    // Someone overwrites the middle of the file while the torrent rests.
    await new Promise((r) => setTimeout(r, 20));
    using file = await Deno.open(`${root}/${TORRENT.name}`, { write: true });
    await file.seek(3 * 32768, Deno.SeekMode.Start);
    await file.write(new Uint8Array(100).fill(0xee));
    // Peers named (by a tracker, the DHT, a user) wake it; nobody listens there.
    seeder.addPeers([{ host: "127.0.0.1", port: 9 }]);
    await waitFor("awake and checked", () => !seeder.resting && !seeder.have.complete, 5_000);
    assertEquals(seeder.have.count, TORRENT.pieceCount - 1, "the changed piece is missing");
    assertEquals(seeder.phase, "downloading");
  } finally {
    await seeder.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("rest: a seed at rest takes no part of the connection budget", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-rest-" });
  await writePayload(`${root}/seed`, TORRENT.name, DATA);
  const other = torrentOf(
    createTorrentFromBuffers("other.bin", patternBytes(40_000, 92), { pieceLength: 16384 }),
  );
  const client = await Client.open({ port: 0, hostname: LOOPBACK, utp: false, maxConnections: 10 });
  try {
    const seed = client.add({ torrent: TORRENT });
    const job = await seed.open({ output: `${root}/seed`, seed: true, rest: true });
    seed.start();
    assert(job.resting);
    const download = client.add({ torrent: other });
    await download.open({ output: `${root}/other` });
    download.start();
    assertEquals(client.hub.peerShare(), 10, "the whole budget for the one downloading");
    await job.hold().then((held) => {
      assertEquals(client.hub.peerShare(), 5, "awake, the seed has its share again");
      held.release();
    });
  } finally {
    await client.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("rest: files that cannot be opened again fail the job once, not at every wake", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-rest-" });
  await writePayload(`${root}/seed`, TORRENT.name, DATA);
  const seeder = await openJob(TORRENT, `${root}/seed`, { seed: true, rest: true });
  try {
    seeder.start();
    await waitFor("files closed", () => seeder.resting);
    await new Promise((r) => setTimeout(r, 50));
    // The folder is replaced by a file while the seed rests.
    await Deno.remove(`${root}/seed`, { recursive: true });
    await Deno.writeTextFile(`${root}/seed`, "not a folder");
    const first = await seeder.hold().then(() => undefined, (e) => e);
    assert(first instanceof Error, "the wake failed");
    await seeder.done.then(() => assert(false, "done rejects"), () => {});
    const again = await seeder.hold().then(() => undefined, (e) => e);
    assertEquals(again, first, "the same failure, without opening anything again");
  } finally {
    await seeder.stop();
    await Deno.remove(root, { recursive: true });
  }
});
