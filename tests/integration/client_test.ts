/**
 * A `Client` holding several torrents on one peer hub, on 127.0.0.1: one listener takes the
 * peers of both torrents it seeds, each to the torrent it names; a magnet link goes through its
 * states (metadata, queued, checking, downloading, complete); a torrent added twice is one
 * torrent; a torrent whose folder cannot be opened is in error, and removing leaves nothing.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "../assert.ts";
import {
  Client,
  type ClientTorrent,
  DuplicateTorrentError,
  SavedTorrents,
  type TorrentJob,
} from "../../src/client/mod.ts";
import { createTorrentFromBuffers, magnetUri, parseMagnet } from "../../src/metainfo/mod.ts";
import {
  addressOf,
  assertPayload,
  FAST_SESSION,
  LOOPBACK,
  openJob,
  patternBytes,
  torrentOf,
  waitFor,
  within,
  writePayload,
} from "./helpers.ts";

const ONE = patternBytes(300_000, 91), TWO = patternBytes(170_001, 92);
const torrentOne = torrentOf(
  createTorrentFromBuffers("one.bin", ONE, { pieceLength: 32768, creationDate: null }),
);
const torrentTwo = torrentOf(
  createTorrentFromBuffers("two.bin", TWO, { pieceLength: 16384, creationDate: null }),
);

function openClient(): Promise<Client> {
  return Client.open({ port: 0, hostname: LOOPBACK, utp: false });
}

/** Opens, starts and waits for the download of `t` under `output`. */
async function run(t: ClientTorrent, output: string, seed = false): Promise<void> {
  await t.open({ output, seed, trackers: [], session: FAST_SESSION });
  t.start();
  if (!seed) await within(`torrent ${t.id}`, 15_000, t.job!.completed);
}

Deno.test("client: one listener serves two torrents, each peer to the torrent it names", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-client-" });
  await writePayload(`${root}/seed`, "one.bin", ONE);
  await writePayload(`${root}/seed`, "two.bin", TWO);
  const client = await openClient();
  const leechers = [];
  try {
    const one = client.add({ torrent: torrentOne });
    const two = client.add({ torrent: torrentTwo });
    assertEquals([one.id, two.id, one.state, two.state], [1, 2, "queued", "queued"]);
    await run(one, `${root}/seed`, true);
    await run(two, `${root}/seed`, true);
    assertEquals([one.state, two.state], ["seeding", "seeding"]);
    assertEquals([one.job!.port, two.job!.port], [client.hub.port, client.hub.port]);
    const at = { host: LOOPBACK, port: client.hub.port };
    for (const [torrent, name] of [[torrentOne, "one"], [torrentTwo, "two"]] as const) {
      const leecher = await openJob(torrent, `${root}/${name}`, { peers: [at] });
      leechers.push(leecher);
      leecher.start();
    }
    await within("both downloads", 15_000, Promise.all(leechers.map((l) => l.done)));
    await assertPayload(`${root}/one`, "one.bin", ONE);
    await assertPayload(`${root}/two`, "two.bin", TWO);
    assertEquals(client.list().map((t) => t.id), [1, 2]);
    assertEquals(client.byInfoHash(torrentTwo.infoHashHex.toUpperCase()), two);
    assertEquals(client.get(1), one);
  } finally {
    for (const l of leechers) await l.stop();
    await client.stop();
    await Deno.remove(root, { recursive: true });
  }
});

/** A seeder of `torrentOne` and a client, in a temp folder, for `fn`; all gone after. */
async function withSeeder(
  fn: (root: string, seeder: TorrentJob, client: Client) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "bt-client-" });
  await writePayload(`${root}/seed`, "one.bin", ONE);
  const seeder = await openJob(torrentOne, `${root}/seed`, { seed: true });
  const client = await openClient();
  try {
    seeder.start();
    await fn(root, seeder, client);
  } finally {
    await client.stop();
    await seeder.stop();
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("client: a magnet link's states, from its metadata to complete", async () => {
  await withSeeder(async (root, seeder, client) => {
    const uri = magnetUri({ infoHashHex: torrentOne.infoHashHex }) +
      `&x.pe=${LOOPBACK}:${addressOf(seeder).port}`;
    const t = client.add({ magnet: parseMagnet(uri) });
    assertEquals([t.state, t.torrent], ["metadata", undefined]);
    const fetched = await within("metadata", 10_000, t.metadata);
    assertEquals([t.state, fetched.torrent.infoHashHex], ["queued", torrentOne.infoHashHex]);
    const opening = t.open({ output: `${root}/out`, trackers: [], session: FAST_SESSION });
    assertEquals(t.state, "checking");
    await opening;
    t.start();
    await waitFor("downloading or done", () => t.state !== "queued");
    await within("download", 15_000, t.job!.completed);
    assertEquals(t.state, "complete");
    await assertPayload(`${root}/out`, "one.bin", ONE);
  });
});

Deno.test("client: a torrent added twice is one torrent; removing forgets it", async () => {
  const client = await openClient();
  try {
    const first = client.add({ torrent: torrentOne });
    const again = () => client.add({ magnet: parseMagnet(magnetUri(torrentOne)) });
    const e = assertThrows(() => again(), DuplicateTorrentError);
    assertEquals((e as DuplicateTorrentError).existing, first);
    await first.remove();
    assertEquals([first.state, client.list().length], ["removed", 0]);
    assert(again().id === 2, "added anew once the first is gone");
  } finally {
    await client.stop();
  }
  assertEquals(client.list().length, 0, "stop removes every torrent");
});

Deno.test("client: a folder that cannot be opened puts the torrent in error", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-client-" });
  await Deno.writeTextFile(`${root}/file`, "not a folder");
  const client = await openClient();
  try {
    const t = client.add({ torrent: torrentOne });
    await assertRejects(() => t.open({ output: `${root}/file`, trackers: [] }));
    assertEquals(t.state, "error");
    assert(t.error !== undefined && t.error.length > 0);
  } finally {
    await client.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("client: pause keeps the torrent, resume goes on, verify finds a damaged piece", async () => {
  await withSeeder(async (root, seeder, client) => {
    const t = client.add({ torrent: torrentOne }, { peers: [addressOf(seeder)] });
    await run(t, `${root}/out`);
    assertEquals(t.state, "complete");

    await t.pause();
    assertEquals([t.state, t.job], ["paused", undefined]);
    await t.resume();
    assertEquals(t.state, "complete", "the resume record spares a check");

    // One byte of the first piece is spoiled on disk: a verify hashes everything again, finds
    // it, and fetches the piece again from the seeder.
    const file = await Deno.open(`${root}/out/one.bin`, { write: true });
    await file.write(new Uint8Array([ONE[0] ^ 0xff]));
    file.close();
    await t.verify();
    assert(t.job!.stats().piecesDone < torrentOne.pieceCount, "the damaged piece is not had");
    await within("the piece fetched again", 15_000, t.job!.completed);
    await assertPayload(`${root}/out`, "one.bin", ONE);

    // A paused torrent is verified and stays paused, files closed; it resumes as any other.
    await t.pause();
    await t.verify();
    assertEquals([t.state, t.job], ["paused", undefined]);
    await t.resume();
    assertEquals(t.state, "complete");
  });
});

Deno.test("saved torrents: the .torrent is preferred to the magnet, damaged records skipped", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt-saved-" });
  try {
    const saved = new SavedTorrents(dir);
    const hash = torrentOne.infoHashHex;
    const record = { hash, downloadDir: "/d", addedDate: 2, doneDate: 0, paused: true };
    await saved.save({ ...record, magnet: magnetUri(torrentOne) });
    let { loaded } = await saved.loadAll();
    assert("magnet" in loaded[0].source, "only the link is known yet");
    await saved.saveTorrent(hash, torrentOne);
    ({ loaded } = await saved.loadAll());
    assert("torrent" in loaded[0].source && loaded[0].source.torrent.infoHashHex === hash);
    assertEquals(loaded[0].record.paused, true);

    await Deno.writeTextFile(`${dir}/${"1".repeat(40)}.json`, "{ half a rec");
    await Deno.writeTextFile(`${dir}/${"2".repeat(40)}.json`, JSON.stringify({ ...record }));
    await Deno.writeTextFile(`${dir}/notes.txt`, "not ours");
    const again = await saved.loadAll();
    assertEquals(again.loaded.length, 1);
    assertEquals(again.skipped.length, 2, again.skipped.join("; "));
    // Queue order first, where saved: a newer torrent moved to the top comes back first.
    const other = {
      ...record,
      hash: "3".repeat(40),
      magnet: `magnet:?xt=urn:btih:${"3".repeat(40)}`,
    };
    await saved.save({ ...other, addedDate: 5, queueRank: -1, trackers: [["udp://x.test:1"]] });
    const ordered = (await saved.loadAll()).loaded;
    assertEquals(ordered.map((l) => l.record.hash), [other.hash, hash]);
    assertEquals(ordered[0].record.trackers, [["udp://x.test:1"]], "a user's trackers kept");
    await saved.remove(other.hash);
    await saved.remove(hash);
    assertEquals((await saved.loadAll()).loaded, []);
    assertEquals([...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".tmp")), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
