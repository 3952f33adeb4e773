/**
 * The daemon's methods in one process, over a real client on 127.0.0.1: with one download
 * allowed at a time the second torrent waits (Transmission's status 3), then runs when the first
 * is done, however often it is stopped and started while it waits.
 */
import { Client, KeptTorrents, SavedTorrents, SessionBlocklist } from "../../src/client/mod.ts";
import { createTorrentFromBuffers, parseTorrent } from "../../src/metainfo/mod.ts";
import { RpcError, type SessionCounts, type SessionValues } from "../../src/rpc/mod.ts";
import { startTracker } from "../../src/tracker/mod.ts";
import { methodsOver } from "./daemon_methods.ts";
import { decodeBase64, encodeBase64 } from "../../src/util/mod.ts";
import { assert, assertEquals, assertRejects } from "../assert.ts";
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
} from "../integration/helpers.ts";
import { serveFiles } from "../web_server.ts";

const DATA = [patternBytes(400_000, 31), patternBytes(400_000, 32)];
const FILES = DATA.map((data, i) =>
  createTorrentFromBuffers(`q${i}.bin`, data, { pieceLength: 16384, creationDate: null })
);
/** A torrent no one seeds, but for its own tests. */
const THIRD_DATA = patternBytes(40_000, 33);
const THIRD = createTorrentFromBuffers("q2.bin", THIRD_DATA, {
  pieceLength: 16384,
  creationDate: null,
});

/** Whether a file (or anything) is at `path`. */
function there(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("daemon methods: --max-active 1 queues the second download until the first is done", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-queue-" });
  const seeders = [];
  const client = await Client.open({ port: 0, hostname: LOOPBACK, utp: false });
  let kept: KeptTorrents | undefined;
  try {
    for (let i = 0; i < 2; i++) {
      await writePayload(`${root}/seed`, `q${i}.bin`, DATA[i]);
      // Slow seeders (about a second each), so the queue can be seen at work.
      const seeder = await openJob(torrentOf(FILES[i]), `${root}/seed`, {
        seed: true,
        hub: { maxUploadRate: 400_000 },
      });
      seeders.push(seeder);
      seeder.start();
    }
    kept = await KeptTorrents.open({ client, maxActive: 1 });
    const methods = methodsOver(kept, `${root}/out`);
    for (const bytes of FILES) {
      await methods["torrent-add"]({ metainfo: encodeBase64(bytes) });
    }
    assertEquals(client.list().map((t) => t.id), [1, 2]);
    const status = async () => {
      const got = await methods["torrent-get"]({ fields: ["status"] });
      return (got.torrents as { status: number }[]).map((t) => t.status);
    };
    // The torrents name no tracker: each job is told of its seeder once it runs.
    await waitFor("the first downloading", () => client.get(1)!.job !== undefined);
    client.get(1)!.job!.addPeers([addressOf(seeders[0])]);
    assertEquals((await status())[1], 3, "the second waits for a download slot");
    // Stopped and started again while it waits: still one place in the queue.
    await methods["torrent-stop"]({ ids: [2] });
    assertEquals((await status())[1], 0, "stopped");
    await methods["torrent-start"]({ ids: [2] });
    await methods["torrent-start"]({ ids: [2] });
    assertEquals((await status())[1], 3, "waiting again");
    // Started now, the third goes past the queue; the second still waits its turn.
    await methods["torrent-add"]({ metainfo: encodeBase64(THIRD), paused: true });
    await methods["torrent-start-now"]({ ids: [3] });
    await waitFor("the third running", () => client.get(3)!.job !== undefined);
    assertEquals((await status()).slice(1), [3, 4]);
    await methods["torrent-remove"]({ ids: [3] });
    await waitFor("the second running", () => client.get(2)!.job !== undefined, 20_000);
    client.get(2)!.job!.addPeers([addressOf(seeders[1])]);
    assertEquals(client.get(1)!.state, "seeding", "it got its slot when the first was done");
    await waitFor("both done", () => client.get(2)!.state === "seeding", 20_000);
    await assertPayload(`${root}/out`, "q0.bin", DATA[0]);
    await assertPayload(`${root}/out`, "q1.bin", DATA[1]);
    const session = await methods["session-get"]({});
    assertEquals([session["download-queue-enabled"], session["download-queue-size"]], [true, 1]);
  } finally {
    await kept?.close();
    await client.stop();
    for (const s of seeders) await s.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("daemon methods: a verify or a change of files keeps the download's slot; its end sets doneDate", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-slot-" });
  await writePayload(`${root}/seed`, "q0.bin", DATA[0]);
  const seeder = await openJob(torrentOf(FILES[0]), `${root}/seed`, { seed: true });
  seeder.start();
  const client = await Client.open({ port: 0, hostname: LOOPBACK, utp: false });
  const kept = await KeptTorrents.open({ client, maxActive: 1 });
  try {
    const methods = methodsOver(kept, `${root}/out`);
    for (const bytes of FILES) await methods["torrent-add"]({ metainfo: encodeBase64(bytes) });
    const get = async (fields: string[]) =>
      (await methods["torrent-get"]({ fields })).torrents as Record<string, number>[];
    await waitFor("the first running", () => client.get(1)!.job !== undefined);
    // No peer yet: the first downloads nothing and keeps its slot through each reopen.
    await methods["torrent-verify"]({ ids: [1] });
    await waitFor("checked again", () => client.get(1)!.state === "downloading");
    await methods["torrent-set"]({ ids: [1], "files-wanted": [0] });
    await waitFor("opened again", () => client.get(1)!.state === "downloading");
    await new Promise((r) => setTimeout(r, 100));
    assertEquals((await get(["status"])).map((t) => t.status), [4, 3], "the second still waits");
    assertEquals(client.get(2)!.job, undefined);
    client.get(1)!.job!.addPeers([addressOf(seeder)]);
    // The reopened job's completion (its files flushed, its record saved) dates the torrent.
    await waitFor("the first dated done", () => kept.record(client.get(1)!).doneDate > 0, 10_000);
    assert((await get(["doneDate"]))[0].doneDate > 0);
    await waitFor("the second given the slot", () => client.get(2)!.job !== undefined, 10_000);
  } finally {
    await kept.close();
    await client.stop();
    await seeder.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("daemon methods: queue-move-* and queuePosition decide which waiting torrent starts next", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-order-" });
  const client = await Client.open({ port: 0, hostname: LOOPBACK, utp: false });
  const kept = await KeptTorrents.open({ client, maxActive: 1 });
  try {
    const methods = methodsOver(kept, `${root}/out`);
    // No one seeds these: the first keeps its slot, the others wait in the queue.
    const torrents = [31, 32, 33, 34].map((seed) =>
      createTorrentFromBuffers(`w${seed}.bin`, patternBytes(20_000, seed), { pieceLength: 16384 })
    );
    for (const bytes of torrents) {
      await methods["torrent-add"]({ metainfo: encodeBase64(bytes), labels: ["tv", " hd "] });
    }
    // Labels: given at add, replaced by torrent-set, a bad list refused whole.
    const labels = async () =>
      ((await methods["torrent-get"]({ ids: [1, 2], fields: ["labels"] })).torrents as {
        labels: string[];
      }[]).map((t) => t.labels);
    assertEquals(await labels(), [["tv", "hd"], ["tv", "hd"]]);
    await methods["torrent-set"]({ ids: [2], labels: [] });
    for (const bad of [["a,b"], [""], "tv", [7]]) {
      await assertRejects(
        async () => await methods["torrent-set"]({ ids: [1], labels: bad }),
        RpcError,
        "labels",
      );
    }
    assertEquals(await labels(), [["tv", "hd"], []]);
    const positions = async () =>
      ((await methods["torrent-get"]({ fields: ["id", "queuePosition"] })).torrents as {
        queuePosition: number;
      }[]).map((t) => t.queuePosition);
    assertEquals(await positions(), [0, 1, 2, 3]);
    await methods["queue-move-top"]({ ids: [4] });
    await methods["queue-move-up"]({ ids: [3] });
    assertEquals(await positions(), [1, 3, 2, 0]);
    await methods["torrent-set"]({ ids: [2], queuePosition: 0 });
    assertEquals(await positions(), [2, 0, 3, 1]);
    await methods["queue-move-bottom"]({ ids: [2] });
    await methods["queue-move-down"]({ ids: [4] });
    assertEquals(await positions(), [0, 3, 2, 1]);
    await assertRejects(
      async () => await methods["torrent-set"]({ ids: [2], queuePosition: -1 }),
      RpcError,
    );
    // Torrent 1 holds the slot; removed, the first in the queue of those waiting runs.
    await waitFor("the first running", () => client.get(1)!.job !== undefined);
    await methods["torrent-remove"]({ ids: [1] });
    // A remote asking what changed learns of the removal.
    const changed = await methods["torrent-get"]({ ids: "recently-active", fields: ["id"] });
    assertEquals([changed.removed, (changed.torrents as unknown[]).length], [[1], 3]);
    await waitFor("the next running", () => client.list().some((t) => t.job !== undefined));
    assertEquals(client.list().filter((t) => t.job).map((t) => t.id), [4]);
  } finally {
    await kept.close();
    await client.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("daemon methods: primary-mime-type is the kind most of a torrent's bytes are; no groups; editDate", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-mime-" });
  const client = await Client.open({ port: 0, hostname: LOOPBACK, utp: false });
  const kept = await KeptTorrents.open({ client, maxActive: 5 });
  try {
    const methods = methodsOver(kept, root);
    const kinds = [
      [["Film.MKV", 30_000], ["subs.srt", 2_000], ["cover.jpg", 10_000]],
      [["a.txt", 5_000], ["b.srt", 5_000], ["c.mkv", 8_000]],
      [["data", 1_000]],
    ] as const;
    for (const [n, files] of kinds.entries()) {
      const torrent = createTorrentFromBuffers(
        `kind${n}`,
        files.map(([name, size]) => ({ path: [name], data: new Uint8Array(size) })),
        { pieceLength: 16384, creationDate: null },
      );
      await methods["torrent-add"]({ metainfo: encodeBase64(torrent), paused: true });
    }
    const got = await methods["torrent-get"]({ fields: ["primary-mime-type", "group"] });
    assertEquals(got.torrents, [
      { "primary-mime-type": "video/x-matroska", group: "" },
      { "primary-mime-type": "text/plain", group: "" },
      { "primary-mime-type": "application/octet-stream", group: "" },
    ]);
    // editDate: 0 until a user changes a torrent's settings, then when they did.
    const editDates = async () =>
      ((await methods["torrent-get"]({ fields: ["editDate"] })).torrents as { editDate: number }[])
        .map((t) => t.editDate);
    assertEquals(await editDates(), [0, 0, 0]);
    const before = Math.floor(Date.now() / 1000);
    await methods["torrent-set"]({ ids: [2], labels: ["edited"] });
    const [one, two, three] = await editDates();
    assert(two >= before && two <= Date.now() / 1000, `editDate ${two}, edited at ${before}`);
    assertEquals([one, three], [0, 0]);
  } finally {
    await kept.close();
    await client.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("daemon methods: a torrent's own rate limit holds it back; a seed ratio met stops it", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-limits-" });
  await writePayload(`${root}/seed`, "q0.bin", DATA[0]);
  const seeder = await openJob(torrentOf(FILES[0]), `${root}/seed`, { seed: true });
  seeder.start();
  const client = await Client.open({ port: 0, hostname: LOOPBACK, utp: false });
  const kept = await KeptTorrents.open({ client, maxActive: 5 });
  try {
    const methods = methodsOver(kept, `${root}/out`);
    await methods["torrent-add"]({ metainfo: encodeBase64(FILES[0]), paused: true });
    await methods["torrent-set"]({
      ids: [1],
      downloadLimit: 50,
      downloadLimited: true,
      sequentialDownload: true,
    });
    const get = async (fields: string[]) =>
      ((await methods["torrent-get"]({ ids: [1], fields })).torrents as Record<string, unknown>[])[
        0
      ];
    assertEquals(await get(["downloadLimit", "downloadLimited", "uploadLimited"]), {
      downloadLimit: 50,
      downloadLimited: true,
      uploadLimited: false,
    });
    await methods["torrent-start"]({ ids: [1] });
    await waitFor("it running", () => client.get(1)!.job !== undefined);
    client.get(1)!.job!.addPeers([addressOf(seeder)]);
    // Unlimited, 400 kB from a seeder on this machine take a few milliseconds.
    await new Promise((r) => setTimeout(r, 1500));
    const early = (await get(["downloadedEver"])).downloadedEver as number;
    assert(early < 250_000, `held to about 50 kB/s: ${early} bytes after 1.5 s`);
    const { peers, peersFrom } = await get(["peers", "peersFrom"]) as {
      peers: Record<string, unknown>[];
      peersFrom: Record<string, number>;
    };
    assertEquals(peers.length, 1, "the seeder is listed");
    assertEquals([peers[0].address, peers[0].port], ["127.0.0.1", seeder.port]);
    assertEquals([peers[0].isDownloadingFrom, peers[0].progress], [true, 1]);
    assert(String(peers[0].clientName).startsWith("bittorrent"), String(peers[0].clientName));
    assertEquals(peersFrom.fromTracker, 1, "given to the job as if by a tracker");
    // In order (sequentialDownload): what it has is the first pieces, none past a gap.
    const have = client.get(1)!.job!.have;
    const gap = Array.from({ length: have.size }, (_, i) => i).find((i) => !have.has(i));
    assert(gap !== undefined && gap > 0, `some pieces had, not all: first missing ${gap}`);
    for (let i = gap; i < have.size; i++) assert(!have.has(i), `piece ${i} had past ${gap}`);
    assertEquals((await get(["sequentialDownload"])).sequentialDownload, true);
    // Held back, some pieces are had (-1) and the rest are the seeder's alone (1).
    const during = (await get(["availability"])).availability as number[];
    assertEquals(during.length, Math.ceil(DATA[0].length / 16384));
    assert(during.every((n) => n === -1 || n === 1), `availability ${during}`);
    assert(during.includes(1), `some pieces still to come: ${during}`);
    // Rarest first again: the running torrent reopens with the choice and goes on.
    await methods["torrent-set"]({ ids: [1], downloadLimited: false, sequentialDownload: false });
    assertEquals((await get(["sequentialDownload"])).sequentialDownload, false);
    await waitFor("done once the limit is off", () => client.get(1)!.state === "seeding", 10_000);
    // Every byte counted once across the reopen, those that came in while the first job
    // stopped too (the limit just lifted, they often do).
    assertEquals((await get(["downloadedEver"])).downloadedEver, DATA[0].length);
    // What UIs show of a complete torrent: its piece map, share, magnet link, file count.
    const shown = await get(["pieces", "percentComplete", "magnetLink", "file-count", "comment"]);
    const pieceCount = Math.ceil(DATA[0].length / 16384);
    assertEquals(
      (await get(["availability"])).availability,
      new Array(pieceCount).fill(-1),
      "every piece had",
    );
    const bits = decodeBase64(shown.pieces as string)!;
    assertEquals(bits.length, Math.ceil(pieceCount / 8));
    assertEquals(bits[0], 0xff, "every piece had");
    assertEquals([shown.percentComplete, shown["file-count"], shown.comment], [1, 1, ""]);
    assert(
      String(shown.magnetLink).startsWith(`magnet:?xt=urn:btih:${client.get(1)!.infoHashHex}`),
      String(shown.magnetLink),
    );

    // An idle limit of its own: etaIdle counts down to it once the check watches the torrent.
    assertEquals((await get(["etaIdle"])).etaIdle, -1, "no idle limit");
    await methods["torrent-set"]({ ids: [1], seedIdleLimit: 10, seedIdleMode: 1 });
    let etaIdle = -1;
    for (const end = Date.now() + 5_000; etaIdle === -1 && Date.now() < end;) {
      await new Promise((r) => setTimeout(r, 100));
      etaIdle = (await get(["etaIdle"])).etaIdle as number;
    }
    assert(etaIdle > 590 && etaIdle <= 600, `etaIdle ${etaIdle}`);

    // A ratio of 0 is met at once: the torrent stops, finished.
    await methods["torrent-set"]({ ids: [1], seedRatioLimit: 0, seedRatioMode: 1 });
    await waitFor("stopped by its ratio", () => client.get(1)!.state === "paused", 5_000);
    assertEquals(
      await get(["status", "isFinished", "seedRatioMode", "seedRatioLimit", "etaIdle"]),
      {
        status: 0,
        isFinished: true,
        seedRatioMode: 1,
        seedRatioLimit: 0,
        etaIdle: -1,
      },
    );
    const bad = methods["torrent-set"]({ ids: [1], seedRatioMode: 7, downloadLimit: 5 });
    await assertRejects(() => Promise.resolve(bad), RpcError, "seedRatioMode");
    assertEquals((await get(["downloadLimit"])).downloadLimit, 50, "a bad request changes nothing");

    // Session statistics: this run's bytes, a removed torrent's included; with earlier runs'.
    await methods["torrent-remove"]({ ids: [1] });
    const earlierRuns = {
      uploadedBytes: 1,
      downloadedBytes: 2,
      filesAdded: 3,
      sessionCount: 4,
      secondsActive: 5,
    };
    const withEarlier = methodsOver(kept, root, { earlierRuns });
    const stats = await withEarlier["session-stats"]({});
    const current = stats["current-stats"] as SessionCounts;
    const cumulative = stats["cumulative-stats"] as SessionCounts;
    assertEquals([stats.torrentCount, current.downloadedBytes, current.filesAdded], [
      0,
      DATA[0].length,
      1,
    ]);
    assertEquals(
      [cumulative.downloadedBytes, cumulative.filesAdded, cumulative.sessionCount],
      [DATA[0].length + 2, 4, 5],
    );
  } finally {
    await kept.close();
    await client.stop();
    await seeder.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("daemon methods: torrent-set-location moves the data of a seeding torrent, never over a file", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-move-" });
  await writePayload(`${root}/a`, "q0.bin", DATA[0]);
  const client = await Client.open({ port: 0, hostname: LOOPBACK, utp: false });
  const kept = await KeptTorrents.open({ client, maxActive: 5 });
  try {
    const methods = methodsOver(kept, `${root}/a`);
    await methods["torrent-add"]({ metainfo: encodeBase64(FILES[0]) });
    await waitFor("seeding what it found", () => client.get(1)!.state === "seeding");
    assertEquals(kept.activity.editDate(1), 0);
    await methods["torrent-set-location"]({ ids: [1], location: `${root}/b`, move: true });
    assert(kept.activity.editDate(1) > 0, "a move is an edit");
    await assertPayload(`${root}/b`, "q0.bin", DATA[0]);
    assertEquals(there(`${root}/a/q0.bin`), false);
    assertEquals(client.get(1)!.state, "seeding", "seeding on from the new place, unchecked");
    assertEquals(client.get(1)!.job!.resumedFromRecord, true, "its resume record moved too");
    const dir = async () =>
      ((await methods["torrent-get"]({ ids: [1], fields: ["downloadDir"] })).torrents as {
        downloadDir: string;
      }[])[0].downloadDir;
    assertEquals(await dir(), `${root}/b`);

    await writePayload(`${root}/c`, "q0.bin", new Uint8Array([1, 2, 3]));
    await assertRejects(
      async () =>
        await methods["torrent-set-location"]({ ids: [1], location: `${root}/c`, move: true }),
      RpcError,
      "already exists",
    );
    assertEquals(await dir(), `${root}/b`, "a failed move changes nothing");
    await assertPayload(`${root}/b`, "q0.bin", DATA[0]);
    assertEquals(client.get(1)!.state, "seeding");
  } finally {
    await kept.close();
    await client.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("daemon methods: torrent-get tells a torrent's times, its check and what it threw away", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-times-" });
  await writePayload(root, "q0.bin", DATA[0]);
  const client = await Client.open({ port: 0, hostname: LOOPBACK, utp: false });
  const kept = await KeptTorrents.open({ client, maxActive: 5 });
  try {
    const methods = methodsOver(kept, root);
    const before = Math.floor(Date.now() / 1000);
    await methods["torrent-add"]({ metainfo: encodeBase64(FILES[0]) });
    await waitFor("seeding what it found", () => client.get(1)!.state === "seeding");
    const got = await methods["torrent-get"]({
      ids: [1],
      fields: [
        "startDate",
        "activityDate",
        "secondsDownloading",
        "isStalled",
        "recheckProgress",
        "corruptEver",
        "haveUnchecked",
        "webseeds",
        "desiredAvailable",
      ],
    });
    const [t] = got.torrents as Record<string, unknown>[];
    assert((t.startDate as number) >= before && (t.startDate as number) <= Date.now() / 1000);
    assertEquals(
      [t.activityDate, t.secondsDownloading, t.isStalled, t.recheckProgress, t.corruptEver],
      [0, 0, false, 0, 0],
    );
    assertEquals([t.haveUnchecked, t.webseeds, t.desiredAvailable], [0, [], 0]);
    // Its data was hashed on open: the check's progress went all the way.
    assertEquals(kept.activity.checkProgress(1), 1);
  } finally {
    await kept.close();
    await client.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("daemon methods: a torrent's own peer-limit holds over the session's", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-peer-limit-" });
  await writePayload(root, "q0.bin", DATA[0]);
  await writePayload(root, "q1.bin", DATA[1]);
  const client = await Client.open({ port: 0, hostname: LOOPBACK, utp: false });
  const kept = await KeptTorrents.open({ client, maxActive: 5, maxPeers: 20 });
  try {
    const methods = methodsOver(kept, root);
    for (const bytes of FILES) await methods["torrent-add"]({ metainfo: encodeBase64(bytes) });
    await waitFor("both seeding", () => client.list().every((t) => t.state === "seeding"));
    await methods["torrent-set"]({ ids: [1], "peer-limit": 7 });
    await methods["session-set"]({ "peer-limit-per-torrent": 9 });
    const limits = async () =>
      ((await methods["torrent-get"]({ fields: ["peer-limit"] })).torrents as {
        "peer-limit": number;
      }[]).map((t) => t["peer-limit"]);
    assertEquals(await limits(), [7, 9]);
    const held = await client.get(1)!.job!.hold();
    assertEquals(held.session.maxPeers, 7, "the running session's too");
    held.release();
    assertEquals(kept.record(client.get(1)!).peerLimit, 7, "kept in its record");
    await assertRejects(
      async () => await methods["torrent-set"]({ ids: [1], "peer-limit": 0 }),
      RpcError,
    );
  } finally {
    await kept.close();
    await client.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("daemon methods: a high bandwidthPriority torrent has the session's download limit first", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-bandwidth-" });
  const seeders: Awaited<ReturnType<typeof openJob>>[] = [];
  for (const [i, data] of DATA.entries()) {
    await writePayload(`${root}/seed`, `q${i}.bin`, data);
    seeders.push(await openJob(torrentOf(FILES[i]), `${root}/seed`, { seed: true }));
  }
  seeders.forEach((s) => s.start());
  const saved = new SavedTorrents(`${root}/state`);
  const client = await Client.open({
    port: 0,
    hostname: LOOPBACK,
    utp: false,
    maxDownloadRate: 300_000,
  });
  const kept = await KeptTorrents.open({ client, maxActive: 5, saved });
  try {
    const methods = methodsOver(kept, `${root}/out`);
    await methods["torrent-add"]({ metainfo: encodeBase64(FILES[0]), paused: true });
    await methods["torrent-add"]({
      metainfo: encodeBase64(FILES[1]),
      paused: true,
      bandwidthPriority: 1,
    });
    const shown = async () =>
      ((await methods["torrent-get"]({ fields: ["bandwidthPriority", "honorsSessionLimits"] }))
        .torrents as Record<string, unknown>[]).map((t) => [
          t.bandwidthPriority,
          t.honorsSessionLimits,
        ]);
    assertEquals(await shown(), [[0, true], [1, true]]);
    for (const bad of [{ bandwidthPriority: 2 }, { honorsSessionLimits: 1 }]) {
      await assertRejects(async () => await methods["torrent-set"]({ ids: [1], ...bad }), RpcError);
    }
    assertEquals(await shown(), [[0, true], [1, true]], "a bad request changes nothing");

    await methods["torrent-start"]({ ids: [1, 2] });
    await waitFor("both running", () => client.list().every((t) => t.job !== undefined));
    client.list().forEach((t, i) => t.job!.addPeers([addressOf(seeders[i])]));
    await waitFor("the high one done", () => client.get(2)!.state === "seeding", 10_000);
    const normal = client.get(1)!.totals().downloaded;
    // Sharing the limit evenly, the other would be as far along (the two run side by side).
    assert(normal < 200_000, `the high one went first: ${normal} bytes of the other by then`);

    await methods["torrent-set"]({
      ids: [1],
      honorsSessionLimits: false,
      bandwidthPriority: -1,
      sequentialDownload: true,
    });
    assertEquals(await shown(), [[-1, false], [1, true]]);
    const { loaded } = await saved.loadAll();
    const record = loaded.find((r) => r.record.hash === client.get(1)!.infoHashHex);
    const [{ torrentFile }] = (await methods["torrent-get"]({ ids: [1], fields: ["torrentFile"] }))
      .torrents as { torrentFile: string }[];
    assertEquals(torrentFile, `${root}/state/${client.get(1)!.infoHashHex}.torrent`);
    assertEquals(
      parseTorrent(await Deno.readFile(torrentFile)).infoHashHex,
      client.get(1)!.infoHashHex,
      "the torrent is there",
    );
    assertEquals(
      [
        record?.record.bandwidthPriority,
        record?.record.ignoresSessionLimits,
        record?.record.sequential,
      ],
      [-1, true, true],
      "kept in its record for the next run",
    );
    await waitFor("the other done", () => client.get(1)!.state === "seeding", 10_000);
  } finally {
    await kept.close();
    await client.stop();
    for (const s of seeders) await s.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("daemon methods: an incomplete folder holds a download until it is complete", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-incomplete-" });
  await writePayload(`${root}/seed`, "q0.bin", DATA[0]);
  const seeder = await openJob(torrentOf(FILES[0]), `${root}/seed`, {
    seed: true,
    hub: { maxUploadRate: 400_000 }, // about a second: the download is seen where it is
  });
  seeder.start();
  await writePayload(`${root}/out`, "q1.bin", DATA[1]); // already where it belongs
  const saved = new SavedTorrents(`${root}/state`);
  const client = await Client.open({ port: 0, hostname: LOOPBACK, utp: false });
  const finished: string[] = [];
  const kept = await KeptTorrents.open({
    client,
    maxActive: 5,
    saved,
    onDownloaded: (t, record) => finished.push(`${t.id}:${record.incompleteDir ?? "moved"}`),
  });
  try {
    const methods = methodsOver(kept, `${root}/out`);
    await assertRejects(
      async () => await methods["session-set"]({ "incomplete-dir-enabled": true }),
      RpcError,
      "needs an incomplete-dir",
    );
    const incomplete = `${root}/incomplete`;
    await methods["session-set"]({ "incomplete-dir": incomplete, "incomplete-dir-enabled": true });
    const session = await methods["session-get"]({
      fields: ["incomplete-dir", "incomplete-dir-enabled"],
    });
    assertEquals(session, { "incomplete-dir": incomplete, "incomplete-dir-enabled": true });

    await methods["torrent-add"]({ metainfo: encodeBase64(FILES[0]) });
    await methods["torrent-add"]({ metainfo: encodeBase64(FILES[1]) });
    await waitFor("both running", () => client.list().every((t) => t.job !== undefined));
    assertEquals(client.get(2)!.state, "seeding", "found complete in its download folder");
    client.get(1)!.job!.addPeers([addressOf(seeder)]);
    await waitFor("downloading in the incomplete folder", () => there(`${incomplete}/q0.bin`));
    assert(!there(`${root}/out/q0.bin`), "not in the download folder while incomplete");
    await waitFor("moved once complete", () => finished.length === 1, 10_000);
    assertEquals(finished, ["1:moved"], "the done hook runs after the move, for the download only");
    await assertPayload(`${root}/out`, "q0.bin", DATA[0]);
    assert(!there(`${incomplete}/q0.bin`));
    await waitFor("seeding from there", () => client.get(1)!.state === "seeding");
    const dirs = await methods["torrent-get"]({ fields: ["downloadDir"] });
    assertEquals(
      (dirs.torrents as { downloadDir: string }[]).map((t) => t.downloadDir),
      [`${root}/out`, `${root}/out`],
    );
    const { loaded } = await saved.loadAll();
    assertEquals(loaded.map((l) => l.record.incompleteDir), [undefined, undefined]);

    // A magnet link's data already in the download folder: looked for once its name is known.
    const third = torrentOf(THIRD);
    await writePayload(`${root}/seed3`, "q2.bin", THIRD_DATA);
    await writePayload(`${root}/out`, "q2.bin", THIRD_DATA);
    const metadataSeeder = await openJob(third, `${root}/seed3`, { seed: true });
    metadataSeeder.start();
    try {
      const magnet =
        `magnet:?xt=urn:btih:${third.infoHashHex}&x.pe=${LOOPBACK}:${metadataSeeder.port}`;
      await methods["torrent-add"]({ filename: magnet });
      await waitFor(
        "the magnet's torrent seeding",
        () => client.get(3)?.state === "seeding",
        10_000,
      );
      assertEquals(kept.record(client.get(3)!).incompleteDir, undefined);
      assert(!there(`${incomplete}/q2.bin`));
      // Its metadata arrived in this run: its editDate says when (a UI fetches its files then).
      const { torrents } = await methods["torrent-get"]({ ids: [3], fields: ["editDate"] });
      const editDate = (torrents as { editDate: number }[])[0].editDate;
      assert(Math.abs(editDate - Date.now() / 1000) < 15, `editDate ${editDate}`);
      assertEquals(finished, ["1:moved"], "nothing was downloaded: no done hook");
    } finally {
      await metadataSeeder.stop();
    }
  } finally {
    await kept.close();
    await client.stop();
    await seeder.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("daemon methods: session-set peer-port moves the listener; torrents reopen on it", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-peer-port-" });
  await writePayload(root, "q0.bin", DATA[0]);
  const client = await Client.open({ port: 0, hostname: LOOPBACK });
  const kept = await KeptTorrents.open({ client, maxActive: 5 });
  const busy = Deno.listen({ hostname: LOOPBACK, port: 0 });
  try {
    const savedValues: SessionValues[] = [];
    const methods = methodsOver(kept, root, {
      saveSession: (values) => Promise.resolve(void savedValues.push(values)),
    });
    await methods["torrent-add"]({ metainfo: encodeBase64(FILES[0]) });
    await waitFor("seeding", () => client.get(1)!.state === "seeding");
    const old = client.hub.port;
    assertEquals(client.get(1)!.job!.port, old);
    const probe = await Client.open({ port: 0, hostname: LOOPBACK });
    const next = probe.hub.port;
    await probe.stop();

    await methods["session-set"]({ "peer-port": next });
    const port = async () => (await methods["session-get"]({ fields: ["peer-port"] }))["peer-port"];
    assertEquals(await port(), next);
    assertEquals(savedValues.at(-1)?.peerPort, next, "kept for the next start");
    await waitFor("the torrent reopened on it", () => client.get(1)!.job?.port === next, 10_000);
    (await Deno.connect({ hostname: LOOPBACK, port: next })).close();
    await assertRejects(() => Deno.connect({ hostname: LOOPBACK, port: old }));

    const taken = (busy.addr as Deno.NetAddr).port;
    await assertRejects(
      async () => await methods["session-set"]({ "peer-port": taken, "download-queue-size": 2 }),
      RpcError,
      "in use",
    );
    assertEquals(await port(), next, "a port that cannot be had changes nothing");
    assertEquals(kept.maxActive, 5, "nor anything else the request asked");
  } finally {
    busy.close();
    await kept.close();
    await client.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("daemon methods: the blocklist's address, switch and update over the RPC", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-rpc-blocklist-" });
  await Deno.mkdir(`${root}/www`);
  await Deno.writeTextFile(`${root}/www/list.p2p`, "a:203.0.113.0-203.0.113.255\n");
  const server = serveFiles(`${root}/www`);
  const client = await Client.open({ port: 0, hostname: LOOPBACK, utp: false });
  const kept = await KeptTorrents.open({ client, maxActive: 5 });
  const quiet = { info() {}, warn() {} };
  try {
    const blocklist = await SessionBlocklist.open(
      client.hub.network,
      `${root}/state`,
      undefined,
      quiet,
    );
    const saved: SessionValues[] = [];
    const methods = methodsOver(kept, root, {
      blocklist,
      saveSession: (values) => Promise.resolve(void saved.push(values)),
    });
    const fields = ["blocklist-enabled", "blocklist-size", "blocklist-url"];
    assertEquals(await methods["session-get"]({ fields }), {
      "blocklist-enabled": false,
      "blocklist-size": 0,
      "blocklist-url": "",
    });
    await assertRejects(async () => await methods["blocklist-update"]({}), RpcError, "address");
    const url = `${server.url}list.p2p`;
    await methods["session-set"]({ "blocklist-url": url, "blocklist-enabled": true });
    assertEquals(saved.at(-1)?.blocklistUrl, url, "kept in the settings");
    assertEquals(await methods["blocklist-update"]({}), { "blocklist-size": 1 });
    assert(client.hub.network.blocklist.blocks("203.0.113.5"));
    assertEquals((await methods["session-get"]({ fields }))["blocklist-size"], 1);
    // A remote names a web address, never a file of this machine.
    await assertRejects(
      async () => await methods["session-set"]({ "blocklist-url": "/etc/passwd" }),
      RpcError,
      "http or https",
    );
    await methods["session-set"]({ "blocklist-url": "" });
    assertEquals((await methods["session-get"]({ fields }))["blocklist-url"], "", "none");
    const bare = methodsOver(kept, root);
    await assertRejects(async () => await bare["blocklist-update"]({}), RpcError, "no blocklist");
  } finally {
    await kept.close();
    await client.stop();
    await server.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("daemon methods: torrent-rename-path renames a folder and the torrent, on disk and after a restart", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-rename-" });
  const files = [
    { path: ["cd1", "a.bin"], data: patternBytes(50_000, 51) },
    { path: ["cd1", "b.bin"], data: patternBytes(30_000, 52) },
    { path: ["c.bin"], data: patternBytes(20_000, 53) },
  ];
  const bytes = createTorrentFromBuffers("album", files, {
    pieceLength: 16384,
    creationDate: null,
  });
  await writePayload(`${root}/dl`, "album", files);
  const saved = new SavedTorrents(`${root}/state`);
  const open = async () => {
    const client = await Client.open({ port: 0, hostname: LOOPBACK, utp: false });
    const kept = await KeptTorrents.open({ client, maxActive: 5, saved });
    return { client, kept, methods: methodsOver(kept, `${root}/dl`) };
  };
  const names = async (methods: ReturnType<typeof methodsOver>) => {
    const got = await methods["torrent-get"]({ ids: [1], fields: ["name", "files"] });
    const [t] = got.torrents as { name: string; files: { name: string }[] }[];
    return [t.name, ...t.files.map((f) => f.name)];
  };
  let { client, kept, methods } = await open();
  try {
    await methods["torrent-add"]({ metainfo: encodeBase64(bytes) });
    await methods["torrent-add"]({ metainfo: encodeBase64(FILES[0]) });
    await waitFor("seeding what it found", () => client.get(1)!.state === "seeding");
    const rename = async (path: string, name: string, ids = [1]) =>
      await methods["torrent-rename-path"]({ ids, path, name });
    assertEquals(await rename("album/cd1", "disc 1"), { id: 1, path: "album/cd1", name: "disc 1" });
    assertEquals(await rename("album", "Album"), { id: 1, path: "album", name: "Album" });
    const renamed = ["Album", "Album/disc 1/a.bin", "Album/disc 1/b.bin", "Album/c.bin"];
    assertEquals(await names(methods), renamed);
    await assertPayload(`${root}/dl`, "Album", [
      { path: ["disc 1", "a.bin"], data: files[0].data },
      { path: ["disc 1", "b.bin"], data: files[1].data },
      files[2],
    ]);
    await waitFor("seeding again", () => client.get(1)!.state === "seeding");
    assertEquals(client.get(1)!.job!.resumedFromRecord, true, "its resume record follows");
    // Refused, and nothing changes: a name that is no file name, a path the torrent does not
    // have, a name another of its files holds, two torrents at once.
    for (
      const [path, name, why] of [
        ["Album/c.bin", "x/y", "not a usable file name"],
        ["Album/c.bin", "..", "not a usable file name"],
        ["Album/cd1", "x", "no file or folder"],
        ["Album/c.bin", "DISC 1", "taken by another file"],
      ]
    ) await assertRejects(() => rename(path, name), RpcError, why);
    await assertRejects(() => rename("Album", "x", [1, 2]), RpcError, "one id");
    await Deno.writeFile(`${root}/dl/Album/d.bin`, new Uint8Array(1));
    await assertRejects(() => rename("Album/c.bin", "d.bin"), RpcError, "already exists");
    assertEquals(await names(methods), renamed);
    await kept.close();
    await client.stop();

    ({ client, kept, methods } = await open());
    await waitFor("seeding after a restart", () => client.get(1)?.state === "seeding");
    assertEquals(await names(methods), renamed, "the renames are kept");
    assertEquals(client.get(1)!.job!.resumedFromRecord, true);
  } finally {
    await kept.close();
    await client.stop();
    await Deno.remove(root, { recursive: true });
  }
});

type FileStats = { bytesCompleted: number; priority: number }[];

/**
 * Two files of 300,000 bytes from a seeder slow enough (about two seconds for both) that their
 * order shows, added with `priorities` (torrent-add's `priority-*` arguments). Checks the
 * priorities torrent-get shows, then resolves with the bytes of file 0 done when file 1 was
 * done, after `then` ran on the daemon's methods.
 */
async function doneBeforeTheOther(
  priorities: Record<string, number[]>,
  shown: number[],
  then: (
    methods: ReturnType<typeof methodsOver>,
    fileStats: () => Promise<FileStats>,
  ) => Promise<void>,
): Promise<number> {
  const root = await Deno.makeTempDir({ prefix: "bt-priority-" });
  const files = [
    { path: ["first.bin"], data: patternBytes(300_000, 41) },
    { path: ["second.bin"], data: patternBytes(300_000, 42) },
  ];
  const bytes = createTorrentFromBuffers("pair", files, { pieceLength: 16384, creationDate: null });
  await writePayload(`${root}/seed`, "pair", files);
  const seeder = await openJob(torrentOf(bytes), `${root}/seed`, {
    seed: true,
    hub: { maxUploadRate: 300_000 },
  });
  seeder.start();
  const client = await Client.open({ port: 0, hostname: LOOPBACK, utp: false });
  const kept = await KeptTorrents.open({ client, maxActive: 5 });
  try {
    const methods = methodsOver(kept, `${root}/out`);
    await methods["torrent-add"]({ metainfo: encodeBase64(bytes), ...priorities });
    const fileStats = async () =>
      ((await methods["torrent-get"]({ ids: [1], fields: ["fileStats"] }))
        .torrents as { fileStats: FileStats }[])[0].fileStats;
    assertEquals((await fileStats()).map((f) => f.priority), shown);
    await waitFor("it running", () => client.get(1)!.job !== undefined);
    client.get(1)!.job!.addPeers([addressOf(seeder)]);
    const other = await within(
      "file 1 done",
      20_000,
      (async () => {
        for (;;) {
          const stats = await fileStats();
          if (stats[1].bytesCompleted === 300_000) return stats[0].bytesCompleted;
          await new Promise((r) => setTimeout(r, 20));
        }
      })(),
    );
    await then(methods, fileStats);
    await waitFor("all done", () => client.get(1)!.state === "seeding", 10_000);
    return other;
  } finally {
    await kept.close();
    await client.stop();
    await seeder.stop();
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("daemon methods: a high-priority file is fetched before the others", async () => {
  const other = await doneBeforeTheOther(
    { "priority-high": [1] },
    [0, 1],
    async (methods, fileStats) => {
      await methods["torrent-set"]({ ids: [1], "priority-normal": [] });
      assertEquals((await fileStats()).map((f) => f.priority), [0, 0]);
      // An empty list is every file (Transmission's spec). Each change reopens the torrent,
      // which dials the peer it was given again.
      await methods["torrent-set"]({ ids: [1], "files-unwanted": [] });
      const wanted = await methods["torrent-get"]({ ids: [1], fields: ["wanted"] });
      assertEquals((wanted.torrents as { wanted: number[] }[])[0].wanted, [0, 0]);
      await methods["torrent-set"]({ ids: [1], "files-wanted": [] });
    },
  );
  assert(other < 150_000, `the high file came first: ${other} bytes of the other by then`);
});

Deno.test("daemon methods: a low-priority file is fetched after the others", async () => {
  const low = await doneBeforeTheOther({ "priority-low": [0] }, [-1, 0], () => Promise.resolve());
  // Pieces are started last, so a few are in flight while the other file ends.
  assert(low < 150_000, `the low file came last: ${low} bytes of it by then`);
});

Deno.test("daemon methods: the daemon's seeding limits and --paused hold from the start", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-start-limits-" });
  const client = await Client.open({ port: 0, hostname: LOOPBACK, utp: false });
  const kept = await KeptTorrents.open({ client, maxActive: 5 });
  try {
    const methods = methodsOver(kept, root, {
      seeding: { ratio: 0.5, idleMinutes: 20 },
      startAdded: false,
    });
    assertEquals(kept.seedLimits, { ratio: 0.5, idleMs: 1_200_000 });
    const got = await methods["session-get"]({
      fields: [
        "seedRatioLimit",
        "seedRatioLimited",
        "idle-seeding-limit",
        "idle-seeding-limit-enabled",
        "start-added-torrents",
      ],
    });
    assertEquals(got, {
      seedRatioLimit: 0.5,
      seedRatioLimited: true,
      "idle-seeding-limit": 20,
      "idle-seeding-limit-enabled": true,
      "start-added-torrents": false,
    });
    await methods["torrent-add"]({ metainfo: encodeBase64(FILES[0]) });
    const status = await methods["torrent-get"]({ ids: [1], fields: ["status"] });
    assertEquals(status.torrents, [{ status: 0 }], "added stopped");
  } finally {
    await kept.close();
    await client.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("daemon methods: the session's ratio limit stops the torrents that follow it, not the others", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-session-ratio-" });
  await writePayload(root, "q0.bin", DATA[0]);
  await writePayload(root, "q1.bin", DATA[1]);
  const client = await Client.open({ port: 0, hostname: LOOPBACK, utp: false });
  const kept = await KeptTorrents.open({ client, maxActive: 5 });
  try {
    const methods = methodsOver(kept, root);
    for (const file of FILES) await methods["torrent-add"]({ metainfo: encodeBase64(file) });
    const seeding = () => [1, 2].map((id) => client.get(id)!.state === "seeding");
    await waitFor("both seeding", () => seeding().every((s) => s), 10_000);
    // Torrent 2 seeds without a ratio limit, the session's included.
    await methods["torrent-set"]({ ids: [2], seedRatioMode: 2 });
    await methods["session-set"]({ seedRatioLimited: true, seedRatioLimit: 0 });
    await waitFor("torrent 1 stopped by the session's ratio", () => !seeding()[0], 5_000);
    await new Promise((r) => setTimeout(r, 1500));
    assertEquals(seeding(), [false, true]);
    const finished = await methods["torrent-get"]({ ids: [1], fields: ["isFinished"] });
    assertEquals(finished.torrents, [{ isFinished: true }]);
    // The session's limit off, torrent 2 follows the session again and seeds on.
    await methods["session-set"]({ seedRatioLimited: false });
    await methods["torrent-set"]({ ids: [2], seedRatioMode: 0 });
    await new Promise((r) => setTimeout(r, 1500));
    assertEquals(seeding(), [false, true]);
  } finally {
    await kept.close();
    await client.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("daemon methods: manualAnnounceTime says when a reannounce is taken at once; -1 stopped", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-reannounce-" });
  const tracker = await startTracker({ hostname: LOOPBACK });
  const data = patternBytes(40_000, 34);
  const torrent = createTorrentFromBuffers("r.bin", data, {
    pieceLength: 16384,
    announce: [[tracker.httpUrl]],
    creationDate: null,
  });
  await writePayload(root, "r.bin", data);
  const client = await Client.open({ port: 0, hostname: LOOPBACK, utp: false });
  const kept = await KeptTorrents.open({ client, maxActive: 5 });
  try {
    const methods = methodsOver(kept, root);
    await methods["torrent-add"]({ metainfo: encodeBase64(torrent) });
    const allowedAt = async () =>
      ((await methods["torrent-get"]({ ids: [1], fields: ["manualAnnounceTime"] })).torrents as {
        manualAnnounceTime: number;
      }[])[0].manualAnnounceTime;
    // Our tracker's minimum interval is 30 s: once it answered, a reannounce waits that long.
    let at = -1;
    for (const end = Date.now() + 5_000; at <= Date.now() / 1000 && Date.now() < end;) {
      await new Promise((r) => setTimeout(r, 50));
      at = await allowedAt();
    }
    const wait = at - Date.now() / 1000;
    assert(wait > 25 && wait <= 31, `a reannounce taken in ${wait} s`);
    await methods["torrent-stop"]({ ids: [1] });
    assertEquals(await allowedAt(), -1, "a stopped torrent announces nothing");
  } finally {
    await kept.close();
    await client.stop();
    await tracker.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("daemon methods: session-set changes peer limits and encryption at once", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-limits-" });
  const bytes = FILES[0];
  await writePayload(root, "q0.bin", DATA[0]);
  const client = await Client.open({
    port: 0,
    hostname: LOOPBACK,
    utp: false,
    maxConnections: 600,
    encryption: "prefer",
  });
  const kept = await KeptTorrents.open({ client, maxActive: 5, maxPeers: 20 });
  const saved: SessionValues[] = [];
  try {
    const methods = methodsOver(kept, root, {
      saveSession: (values) => Promise.resolve(void saved.push(values)),
    });
    await methods["torrent-add"]({ metainfo: encodeBase64(bytes) });
    await waitFor("seeding", () => client.get(1)!.state === "seeding");
    const get = () => methods["session-get"]({});
    assertEquals(
      [(await get())["peer-limit-global"], (await get())["peer-limit-per-torrent"]],
      [600, 20],
    );
    assertEquals((await get()).encryption, "preferred");
    assertEquals([(await get())["pex-enabled"], client.hub.pex], [true, true]);
    await methods["session-set"]({
      "peer-limit-global": 50,
      "peer-limit-per-torrent": 7,
      encryption: "required",
      "pex-enabled": false,
    });
    const now = await get();
    assertEquals(
      [now["peer-limit-global"], now["peer-limit-per-torrent"], now.encryption, now["pex-enabled"]],
      [50, 7, "required", false],
    );
    assertEquals(
      [client.hub.maxConnections, client.hub.network.encryption, client.hub.pex],
      [50, "require", false],
    );
    // A running torrent takes the new limit at once, a resting one when it wakes.
    const job = client.get(1)!.job!;
    const held = await job.hold();
    assertEquals(held.session.maxPeers, 7);
    held.release();
    assertEquals(saved.at(-1), {
      downloadDir: root,
      dht: false,
      utp: false,
      pex: false,
      maxActive: 5,
      maxDownloadRate: 0,
      maxUploadRate: 0,
      maxConnections: 50,
      maxPeers: 7,
      encryption: "require",
      startAdded: true,
      altDownloadRate: 50 * 1024,
      altUploadRate: 50 * 1024,
      altSpeed: false,
    });
    // The alternative limits ("turtle mode"): switched on, they are the hub's; the usual ones
    // are still what session-get says of speed-limit-*.
    await methods["session-set"]({
      "speed-limit-down": 400,
      "speed-limit-down-enabled": true,
      "alt-speed-down": 20,
      "alt-speed-up": 5,
      "alt-speed-enabled": true,
      "alt-speed-time-begin": 1380,
      "alt-speed-time-end": 360,
      "alt-speed-time-day": 62,
    });
    assertEquals([client.hub.downloadLimiter.rate, client.hub.uploadLimiter.rate], [20_480, 5120]);
    const turtle = await methods["session-get"]({
      fields: [
        "speed-limit-down",
        "speed-limit-down-enabled",
        "alt-speed-down",
        "alt-speed-enabled",
        "alt-speed-time-begin",
        "alt-speed-time-end",
        "alt-speed-time-day",
        "alt-speed-time-enabled",
      ],
    });
    assertEquals(turtle, {
      "speed-limit-down": 400,
      "speed-limit-down-enabled": true,
      "alt-speed-down": 20,
      "alt-speed-enabled": true,
      "alt-speed-time-begin": 1380,
      "alt-speed-time-end": 360,
      "alt-speed-time-day": 62,
      "alt-speed-time-enabled": false,
    });
    assertEquals(
      [saved.at(-1)?.altDownloadRate, saved.at(-1)?.altSpeed, saved.at(-1)?.altSchedule],
      [20_480, true, undefined],
    );
    await methods["session-set"]({ "alt-speed-enabled": false });
    assertEquals(client.hub.downloadLimiter.rate, 409_600, "the usual limit again");
    for (
      const bad of [
        { "alt-speed-time-begin": 1440 },
        { "alt-speed-time-day": 128 },
        { "alt-speed-down": -1 },
        { "speed-limit-up": 2 * 1024 ** 3 },
        { "peer-limit-per-torrent": 1001 },
        { "download-queue-size": 10_001 },
      ]
    ) await assertRejects(async () => await methods["session-set"](bad), RpcError);
    await methods["session-set"]({ "speed-limit-down-enabled": false });
    // The session's seeding limits and added-paused choice are kept too, each while on.
    await methods["session-set"]({
      seedRatioLimit: 1.5,
      seedRatioLimited: true,
      "idle-seeding-limit": 45,
      "start-added-torrents": false,
    });
    assertEquals(
      [saved.at(-1)?.seedRatio, saved.at(-1)?.seedIdleMinutes, saved.at(-1)?.startAdded],
      [1.5, undefined, false],
    );
    assertEquals(kept.seedLimits, { ratio: 1.5, idleMs: undefined });
    await methods["session-set"]({ seedRatioLimited: false, "start-added-torrents": true });
    for (
      const bad of [{ seedRatioLimit: 10_001 }, { "idle-seeding-limit": 366 * 24 * 60 }]
    ) await assertRejects(async () => await methods["session-set"](bad), RpcError, "to ");
    for (
      const bad of [
        { "peer-limit-per-torrent": 9, "peer-limit-global": 0 },
        { "peer-limit-global": 70, "peer-limit-per-torrent": 2.5 },
        { "peer-limit-per-torrent": 9, encryption: "sometimes" },
        { "download-queue-size": 3, "speed-limit-down": -1 },
        { "download-queue-size": 3, "start-added-torrents": "yes" },
        { "download-queue-size": 3, "pex-enabled": 1 },
      ]
    ) {
      await assertRejects(async () => await methods["session-set"](bad), RpcError);
    }
    await assertRejects(
      async () => await methods["session-close"]({}),
      RpcError,
      "cannot be closed",
    );
    const after = await get();
    assertEquals(
      [after["peer-limit-per-torrent"], after["peer-limit-global"], after["download-queue-size"]],
      [7, 50, 5],
      "a request with one bad argument changes nothing",
    );
    // session-get's fields keep the answer to the keys asked for.
    const some = await methods["session-get"]({ fields: ["peer-limit-global", "no-such-key"] });
    assertEquals(some, { "peer-limit-global": 50 });
    await assertRejects(async () => await methods["session-get"]({ fields: "all" }), RpcError);
    // What is fixed for the run passes unchanged and is refused changed, never ignored.
    const fixed = await get();
    await methods["session-set"]({
      "dht-enabled": fixed["dht-enabled"],
      "utp-enabled": fixed["utp-enabled"],
      "pex-enabled": fixed["pex-enabled"],
      "rename-partial-files": fixed["rename-partial-files"],
      "peer-port": fixed["peer-port"],
    });
    for (
      const change of [
        { "lpd-enabled": true },
        { "rename-partial-files": true },
        { "trash-original-torrent-files": true },
        // Whoever may call the RPC must not choose a program for the daemon to run.
        { "script-torrent-done-enabled": true, "script-torrent-done-filename": "/bin/sh" },
      ]
    ) {
      await assertRejects(
        async () => await methods["session-set"](change),
        RpcError,
        "cannot change",
      );
    }
    const withScript = methodsOver(kept, root, { doneScript: "/srv/hooks/done.sh" });
    const shown = await withScript["session-get"]({
      fields: ["script-torrent-done-enabled", "script-torrent-done-filename"],
    });
    assertEquals(shown, {
      "script-torrent-done-enabled": true,
      "script-torrent-done-filename": "/srv/hooks/done.sh",
    });
  } finally {
    await kept.close();
    await client.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("daemon methods: a magnet link fetching its metadata shows its name, stops and starts", async () => {
  const client = await Client.open({ port: 0, hostname: LOOPBACK, utp: false });
  const kept = await KeptTorrents.open({ client, maxActive: 5 });
  try {
    const methods = methodsOver(kept, "/nonexistent");
    // No tracker, no peer, no DHT: it looks for its metadata until told otherwise.
    const hash = "ab".repeat(20);
    const added = await methods["torrent-add"]({ filename: `magnet:?xt=urn:btih:${hash}&dn=Film` });
    assertEquals(added["torrent-added"], { id: 1, name: "Film", hashString: hash });
    const get = async () =>
      ((await methods["torrent-get"]({ fields: ["name", "hashString", "status"] })).torrents as {
        name: string;
        hashString: string;
        status: number;
      }[])[0];
    assertEquals(await get(), { name: "Film", hashString: hash, status: 4 });
    await methods["torrent-stop"]({ ids: [1] });
    assertEquals([(await get()).status, client.get(1)!.state], [0, "paused"]);
    assertEquals(client.get(1)!.metadataStats(), undefined, "the metadata phase stopped");
    await methods["torrent-start"]({ ids: [hash] });
    assertEquals([(await get()).status, client.get(1)!.state], [4, "metadata"]);
  } finally {
    await kept.close();
    await client.stop();
  }
});

Deno.test("daemon methods: torrent-add fetches a .torrent from a web address, bad answers refused", async () => {
  const server = Deno.serve({ hostname: LOOPBACK, port: 0, onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/q0.torrent") return new Response(FILES[0].slice());
    if (path === "/junk.torrent") return new Response("<html>not a torrent</html>");
    return new Response("gone", { status: 404 });
  });
  const client = await Client.open({ port: 0, hostname: LOOPBACK, utp: false });
  const kept = await KeptTorrents.open({ client, maxActive: 5 });
  try {
    const methods = methodsOver(kept, "/nonexistent");
    const base = `http://${LOOPBACK}:${server.addr.port}`;
    const added = await methods["torrent-add"]({ filename: `${base}/q0.torrent`, paused: true });
    assertEquals((added["torrent-added"] as { name: string }).name, "q0.bin");
    await assertRejects(
      async () => await methods["torrent-add"]({ filename: `${base}/missing.torrent` }),
      RpcError,
      "answered 404",
    );
    await assertRejects(
      async () => await methods["torrent-add"]({ filename: `${base}/junk.torrent` }),
      RpcError,
      "invalid or corrupt torrent",
    );
    assertEquals(client.list().length, 1);
  } finally {
    await kept.close();
    await client.stop();
    await server.shutdown();
  }
});
