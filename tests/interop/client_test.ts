/**
 * Interop tests of OUR client (`src/main.ts`, run as a user runs it) against real clients from
 * Debian's packages, all on 127.0.0.1: libtorrent and aria2 seed to us, we seed to them, through
 * opentracker over HTTP and UDP. Each test skips (with the reason printed) only when a tool it
 * needs is missing; CI installs them all, so they do run there.
 *
 * Timings printed per test: "ours" is the wall time of our process from spawn to exit (Deno's
 * start-up included), the others are the fixtures' own measures (see fixtures_test.ts).
 */
import { assert, assertEquals } from "../assert.ts";
import {
  aria2Download,
  dropSwarm,
  freeDiskBytes,
  type LibtorrentCommon,
  libtorrentDownload,
  makeSwarm,
  type OurClient,
  runOurClient,
  sameTree,
  type Seeder,
  startAria2Seeder,
  startLibtorrentSeeder,
  type Swarm,
  toolGate,
  treesEqual,
} from "./fixtures.ts";
import { makePayload, type PayloadFile } from "../../testdata/payload.ts";

const MiB = 1 << 20;

/**
 * About 24 MiB over several files in nested folders, with sizes that do not line up with
 * 256 KiB pieces, a one-byte file and an empty file.
 */
const MULTI: PayloadFile[] = [
  { path: "payload/big.bin", size: 13 * MiB + 12_345 },
  { path: "payload/dir/a.bin", size: 7 * MiB - 777 },
  { path: "payload/dir/sub/deeper/tiny.txt", size: 1 },
  { path: "payload/dir/sub/odd.bin", size: 3 * MiB + 262_145 },
  { path: "payload/empty.txt", size: 0 },
];

/** One file of 24 MiB plus a bit: a single-file torrent. */
const SINGLE: PayloadFile[] = [{ path: "single.bin", size: 24 * MiB + 4321 }];

/** Download cap (MiB/s) of the two-seeder test. */
const RATE_CAP_MIB = 8;

/** Timeout of our client's download (normally done in 0.2 s to 3.5 s). */
const DOWNLOAD_TIMEOUT_MS = 60_000;
/** Timeout of a real client downloading from ours (normally done in 0.2 s to 6 s). */
const PEER_TIMEOUT_S = 30;
/** How long our client may take to exit after SIGINT (its `stopped` announce is capped at 1 s). */
const SHUTDOWN_MS = 5_000;

/** `ignore` value for a test needing these tools; prints why when one is missing. */
const missing = await toolGate(["aria2c", "libtorrent", "opentracker", "mktorrent"]);

const makeOursSwarm = (files: PayloadFile[], seed: number) =>
  makeSwarm(files, seed, "interop-ours-");

/**
 * Runs our client to completion as a downloader and checks exit code and summary. Returns its
 * wall time and its log.
 */
async function ourDownload(
  torrent: string,
  out: string,
  extraArgs?: string[],
): Promise<{ seconds: number; log: string }> {
  const ours = await runOurClient({ torrent, out, extraArgs });
  try {
    const { code, seconds } = await ours.wait(DOWNLOAD_TIMEOUT_MS);
    const why = await ours.diagnose();
    assertEquals(code, 0, `our client's exit code; ${why}`);
    assert(/All \d+ pieces verified/.test(ours.stdout()), `summary says verified; ${why}`);
    return { seconds, log: await ours.logTail(1 << 20) };
  } finally {
    await ours.stop();
  }
}

/** Starts our client seeding the data already under `data`; ready once the tracker lists it. */
async function ourSeeder(swarm: Swarm, data: string): Promise<OurClient> {
  const before = (await swarm.tracker.scrape(swarm.infoHash)).complete;
  const ours = await runOurClient({ torrent: swarm.httpTorrent, out: data, seed: true });
  try {
    await swarm.tracker.waitForSeeders(swarm.infoHash, before + 1, 30_000);
  } catch (e) {
    const why = await ours.diagnose();
    await ours.stop();
    throw new Error(`our seeder never announced: ${e instanceof Error ? e.message : e}; ${why}`);
  }
  return ours;
}

/** Ctrl-C: our client must exit with 130 within a few seconds. Returns the seconds it took. */
async function interruptOurs(ours: OurClient): Promise<number> {
  const started = performance.now();
  ours.interrupt();
  const { code } = await ours.wait(SHUTDOWN_MS + 10_000);
  const seconds = (performance.now() - started) / 1000;
  const why = await ours.diagnose();
  assertEquals(code, 130, `exit code after SIGINT; ${why}`);
  assert(seconds * 1000 < SHUTDOWN_MS, `exited ${seconds.toFixed(2)} s after SIGINT; ${why}`);
  return seconds;
}

/** Runs `fn`; when it fails, adds our client's state and log to the error (the likely culprit). */
async function explained<T>(ours: OurClient, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : e}\nOUR CLIENT: ${await ours.diagnose()}`);
  }
}

/** Our client's log once it holds `text` (it is flushed every 500 ms), or at the deadline. */
async function logWith(ours: OurClient, text: string, timeoutMs = 5_000): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const log = await ours.logTail(1 << 20);
    if (log.includes(text) || performance.now() > deadline) return log;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function report(name: string, seconds: number): void {
  console.log(`  ${name}: ${seconds.toFixed(2)} s`);
}

/** Runs `fn` against a swarm of `files` whose one seeder is libtorrent, listed by the tracker. */
async function withLibtorrentSeeder(
  files: PayloadFile[],
  seed: number,
  options: Pick<LibtorrentCommon, "encryption">,
  fn: (swarm: Swarm, seeder: Seeder) => Promise<void>,
): Promise<void> {
  const swarm = await makeOursSwarm(files, seed);
  try {
    const seeder = await startLibtorrentSeeder({
      torrent: swarm.httpTorrent,
      data: swarm.data,
      ...options,
    });
    try {
      await swarm.tracker.waitForSeeders(swarm.infoHash, 1);
      await fn(swarm, seeder);
    } finally {
      await seeder.stop();
    }
  } finally {
    await dropSwarm(swarm);
  }
}

/**
 * Runs `fn` against a swarm of `files` whose one seeder is our client, seeding its own copy of
 * the data (`ourData`), so the pristine source stays the reference.
 */
async function withOurSeeder(
  files: PayloadFile[],
  seed: number,
  fn: (swarm: Swarm, ours: OurClient, ourData: string) => Promise<void>,
): Promise<void> {
  const swarm = await makeOursSwarm(files, seed);
  try {
    const ourData = `${swarm.root}/ours`;
    await makePayload(ourData, { files, seed });
    const ours = await ourSeeder(swarm, ourData);
    try {
      await fn(swarm, ours, ourData);
    } finally {
      await ours.stop();
    }
  } finally {
    await dropSwarm(swarm);
  }
}

Deno.test({
  name: "opentracker (HTTP) + libtorrent seeder -> our client downloads",
  ignore: missing("HTTP libtorrent -> ours", "libtorrent", "opentracker", "mktorrent"),
  fn: () =>
    withLibtorrentSeeder(MULTI, 101, {}, async (swarm, seeder) => {
      report("ours (download)", (await ourDownload(swarm.httpTorrent, swarm.out)).seconds);
      assert(await sameTree(swarm.data, swarm.out), "our copy equals the source, nothing more");
      assert(await waitUploaded(seeder) > 0, "libtorrent reports the upload");
    }),
});

Deno.test({
  name: "an encryption-only libtorrent seeder -> our client downloads with no flag, encrypted",
  ignore: missing("lt (forced MSE) -> ours", "libtorrent", "opentracker", "mktorrent"),
  fn: () =>
    withLibtorrentSeeder(SINGLE, 606, { encryption: "forced" }, async (swarm) => {
      const { seconds, log } = await ourDownload(swarm.httpTorrent, swarm.out);
      report("ours (download from an encryption-only seeder)", seconds);
      assert(await sameTree(swarm.data, swarm.out), "our copy equals the source, nothing more");
      assert(
        log.includes(`connected (tracker, encrypted)`),
        `the connection was encrypted; log: ${log.slice(-3000)}`,
      );
    }),
});

Deno.test({
  name: "opentracker (UDP announce URL) + aria2 seeder -> our client downloads",
  ignore: missing("UDP aria2 -> ours", "aria2c", "opentracker", "mktorrent"),
  async fn() {
    const swarm = await makeOursSwarm(MULTI, 202);
    try {
      // aria2 can only announce over UDP through its DHT socket, so it seeds the HTTP twin of
      // the torrent (same info-hash, same swarm in opentracker); our client gets the UDP one.
      const seeder = await startAria2Seeder({ torrent: swarm.httpTorrent, data: swarm.data });
      try {
        await swarm.tracker.waitForSeeders(swarm.infoHash, 1);
        const { seconds, log } = await ourDownload(swarm.udpTorrent, swarm.out);
        report("ours (download, UDP tracker)", seconds);
        // The UDP tracker was the only source of peers; the log shows its answer.
        const answered = `tracker ${swarm.tracker.udpUrl}: `;
        assert(
          log.split("\n").some((l) => l.includes(answered) && /\d+ peers$/.test(l)),
          `our client got peers over UDP; log: ${log.slice(-3000)}`,
        );
        assert(await sameTree(swarm.data, swarm.out), "our copy equals the source, nothing more");
      } finally {
        await seeder.stop();
      }
    } finally {
      await dropSwarm(swarm);
    }
  },
});

Deno.test({
  name: "our client seeds -> libtorrent downloads through opentracker; SIGINT exits with 130",
  ignore: missing("ours -> libtorrent", "libtorrent", "opentracker", "mktorrent"),
  fn: () =>
    withOurSeeder(MULTI, 303, async (swarm, ours, ourData) => {
      const { seconds } = await explained(
        ours,
        () =>
          libtorrentDownload({
            torrent: swarm.httpTorrent,
            out: swarm.out,
            timeoutSec: PEER_TIMEOUT_S,
          }),
      );
      report("libtorrent download from ours", seconds);
      assert(
        await treesEqual(swarm.data, swarm.out),
        `libtorrent's copy equals the source; ${await ours.diagnose()}`,
      );
      const seeders = (await swarm.tracker.scrape(swarm.infoHash)).complete;
      report("ours: exit after SIGINT", await interruptOurs(ours));
      // Its graceful stop told the tracker it left.
      assertEquals(
        (await swarm.tracker.scrape(swarm.infoHash)).complete,
        seeders - 1,
        "our client announced stopped",
      );
      assert(await treesEqual(swarm.data, ourData), "seeding left our data untouched");
    }),
});

Deno.test({
  name: "our client seeds -> an encryption-only libtorrent downloader fetches from it",
  ignore: missing("ours -> lt (forced MSE)", "libtorrent", "opentracker", "mktorrent"),
  fn: () =>
    withOurSeeder(SINGLE, 707, async (swarm, ours) => {
      const { seconds } = await explained(
        ours,
        () =>
          libtorrentDownload({
            torrent: swarm.httpTorrent,
            out: swarm.out,
            timeoutSec: PEER_TIMEOUT_S,
            encryption: "forced",
          }),
      );
      report("encryption-only libtorrent download from ours", seconds);
      assert(await treesEqual(swarm.data, swarm.out), "libtorrent's copy equals the source");
      const log = await logWith(ours, "connected (incoming, encrypted)");
      assert(
        log.includes("connected (incoming, encrypted)"),
        `libtorrent's connection was encrypted; log: ${log.slice(-3000)}`,
      );
    }),
});

Deno.test({
  name: "our client seeds -> aria2 downloads through opentracker, encrypted at once",
  ignore: missing("ours -> aria2", "aria2c", "opentracker", "mktorrent"),
  fn: () =>
    withOurSeeder(MULTI, 404, async (swarm, ours) => {
      const { seconds } = await explained(
        ours,
        () =>
          aria2Download({
            torrent: swarm.httpTorrent,
            out: swarm.out,
            timeoutSec: PEER_TIMEOUT_S,
          }),
      );
      report("aria2 download from ours", seconds);
      assert(
        await treesEqual(swarm.data, swarm.out),
        `aria2's copy equals the source; ${await ours.diagnose()}`,
      );
      // aria2 dials with MSE first: each of its connections is encrypted from the start,
      // with no refused attempt and no plaintext retry.
      const log = await logWith(ours, "connected (incoming");
      const incoming = log.split("\n").filter((l) => l.includes("connected (incoming"));
      assert(incoming.length > 0, `aria2 connected to us; log: ${log.slice(-3000)}`);
      assert(
        incoming.every((l) => l.includes("connected (incoming, encrypted)")),
        `every aria2 connection encrypted: ${incoming.join("; ")}`,
      );
      assert(!log.includes("handshake refused"), "no refused handshake");
      // aria2 (--seed-time=0) never announces `completed`, and our seeder started complete,
      // so it must not have announced `completed` either (BEP 3): nothing was downloaded
      // as far as the tracker knows.
      assertEquals((await swarm.tracker.scrape(swarm.infoHash)).downloaded, 0, "no completed");
      report("ours: exit after SIGINT", await interruptOurs(ours));
    }),
});

Deno.test({
  name: "single-file torrent: libtorrent + aria2 seeders together -> our client uses both",
  ignore: missing("lt + aria2 -> ours", "libtorrent", "aria2c", "opentracker", "mktorrent"),
  async fn() {
    const swarm = await makeOursSwarm(SINGLE, 505);
    try {
      const lt = await startLibtorrentSeeder({ torrent: swarm.httpTorrent, data: swarm.data });
      try {
        const aria2 = await startAria2Seeder({ torrent: swarm.httpTorrent, data: swarm.data });
        try {
          await swarm.tracker.waitForSeeders(swarm.infoHash, 2);
          // aria2 unchokes on its one-second tick while libtorrent alone would deliver all
          // 24 MiB in a fraction of a second: capping our rate keeps both in the game (and
          // checks the cap holds against real peers).
          const { seconds } = await ourDownload(swarm.httpTorrent, swarm.out, [
            "--max-download-rate",
            `${RATE_CAP_MIB}M`,
          ]);
          report(`ours (download from two seeders, capped at ${RATE_CAP_MIB} MiB/s)`, seconds);
          const floor = (SINGLE[0].size / MiB - RATE_CAP_MIB) / RATE_CAP_MIB; // one burst allowed
          assert(seconds >= floor, `the rate cap holds: ${seconds.toFixed(2)} s < ${floor} s`);
          assert(await sameTree(swarm.data, swarm.out), "our copy equals the source, nothing more");
          const fromLt = await waitUploaded(lt);
          const fromAria2 = await waitUploaded(aria2);
          console.log(`  libtorrent sent ${fromLt} bytes, aria2 sent ${fromAria2} bytes`);
          assert(fromLt > 0 && fromAria2 > 0, "both seeders sent us pieces");
        } finally {
          await aria2.stop();
        }
      } finally {
        await lt.stop();
      }
    } finally {
      await dropSwarm(swarm);
    }
  },
});

/**
 * 300 MiB over four files of a folder (sizes not multiples of the 256 KiB piece), for the
 * "few hundred MiB from libtorrent and aria2 seeders" goal and a speed comparison.
 */
const BIG: PayloadFile[] = [
  { path: "big/video.bin", size: 137 * MiB + 4097 },
  { path: "big/disc/part1.bin", size: 89 * MiB - 12_345 },
  { path: "big/disc/part2.bin", size: 53 * MiB + 777 },
  { path: "big/extra/notes.bin", size: 21 * MiB + 12_345 - 4097 - 777 },
];
const BIG_BYTES = BIG.reduce((n, f) => n + f.size, 0);
/** Peak disk use of the big test: the source plus one downloaded copy, plus a margin. */
const BIG_DISK_NEED = 2 * BIG_BYTES + 256 * MiB;
/** Timeout of each client's download of the big payload (normally a few seconds). */
const BIG_TIMEOUT_S = 60;

/** `ignore` value for the big test: true (and says why) when the temp disk is too small. */
async function lowDisk(test: string): Promise<boolean> {
  const tmp = Deno.env.get("TMPDIR") || "/tmp";
  const free = await freeDiskBytes(tmp);
  if (free === null || free >= BIG_DISK_NEED) return false; // unknown: just try
  console.log(
    `skipping "${test}": ${(free / MiB).toFixed(0)} MiB free in ${tmp}, ` +
      `${(BIG_DISK_NEED / MiB).toFixed(0)} MiB needed`,
  );
  return true;
}

/** Prints one comparable figure line: wall time and decimal MB/s over the whole payload. */
function reportBig(client: string, seconds: number): void {
  const rate = BIG_BYTES / 1e6 / seconds;
  console.log(`interop 300MiB: ${client} ${seconds.toFixed(2)} s ${rate.toFixed(1)} MB/s`);
}

/** Empties a downloader's folder so the next client starts from nothing and the disk stays small. */
async function resetFolder(dir: string): Promise<void> {
  await Deno.remove(dir, { recursive: true });
  await Deno.mkdir(dir);
}

Deno.test({
  name: "300 MiB multi-file torrent: libtorrent + aria2 seeders -> ours, aria2, libtorrent; " +
    "aria2 alone -> ours",
  ignore: missing("300 MiB", "libtorrent", "aria2c", "opentracker", "mktorrent") ||
    await lowDisk("300 MiB"),
  async fn() {
    const swarm = await makeOursSwarm(BIG, 606);
    try {
      // Both seeders hash-check the whole payload before they serve: do it at the same time.
      const [lt, aria2] = await Promise.allSettled([
        startLibtorrentSeeder({
          torrent: swarm.httpTorrent,
          data: swarm.data,
          readyTimeoutMs: 60_000,
        }),
        startAria2Seeder({ torrent: swarm.httpTorrent, data: swarm.data, readyTimeoutMs: 60_000 }),
      ]);
      try {
        if (lt.status === "rejected") throw lt.reason;
        if (aria2.status === "rejected") throw aria2.reason;
        await swarm.tracker.waitForSeeders(swarm.infoHash, 2, 30_000);

        // Ours: wall time of the process, Deno's start-up and the final flush included.
        const ours = await ourDownload(swarm.httpTorrent, swarm.out);
        reportBig("ours", ours.seconds);
        assert(await sameTree(swarm.data, swarm.out), "our copy equals the source, nothing more");
        const fromLt = await waitUploaded(lt.value);
        const fromAria2 = await waitUploaded(aria2.value);
        console.log(`  to ours: libtorrent sent ${fromLt} bytes, aria2 sent ${fromAria2} bytes`);

        // The same download by the real clients, from the same two seeders, each on a fresh
        // port (a libtorrent seeder does not dial a peer again that finished as a seed).
        await resetFolder(swarm.out);
        const a = await aria2Download({
          torrent: swarm.httpTorrent,
          out: swarm.out,
          timeoutSec: BIG_TIMEOUT_S,
        });
        reportBig("aria2", a.seconds);
        assert(await treesEqual(swarm.data, swarm.out), "aria2's copy equals the source");

        await resetFolder(swarm.out);
        const started = performance.now();
        const l = await libtorrentDownload({
          torrent: swarm.httpTorrent,
          out: swarm.out,
          timeoutSec: BIG_TIMEOUT_S,
        });
        reportBig("libtorrent", (performance.now() - started) / 1000);
        console.log(
          `  libtorrent's own measure (torrent added -> done): ${l.seconds.toFixed(2)} s`,
        );
        assert(await treesEqual(swarm.data, swarm.out), "libtorrent's copy equals the source");

        // libtorrent serves everything before aria2's one-second tick unchokes anyone, so aria2
        // sent little or nothing above: ours downloads once more with aria2 as the only seeder.
        await lt.value.stop();
        await resetFolder(swarm.out);
        const aria2Before = await aria2.value.uploadedBytes();
        const alone = await ourDownload(swarm.httpTorrent, swarm.out);
        reportBig("ours-from-aria2-only", alone.seconds);
        assert(await sameTree(swarm.data, swarm.out), "our copy from aria2 equals the source");
        const aria2Sent = await aria2.value.uploadedBytes() - aria2Before;
        console.log(`  to ours: aria2 alone sent ${aria2Sent} bytes`);
        assert(aria2Sent >= BIG_BYTES, `aria2 sent the whole payload: ${aria2Sent} bytes`);
      } finally {
        await Promise.all(
          [lt, aria2].map((r) => r.status === "fulfilled" ? r.value.stop() : undefined),
        );
      }
    } finally {
      await dropSwarm(swarm);
    }
  },
});

/** A seeder's upload count once it is non-zero (it may report with a short lag), or 0. */
async function waitUploaded(seeder: { uploadedBytes(): Promise<number> }): Promise<number> {
  const end = performance.now() + 3000;
  while (true) {
    const n = await seeder.uploadedBytes();
    if (n > 0 || performance.now() > end) return n;
    await new Promise((r) => setTimeout(r, 100));
  }
}
