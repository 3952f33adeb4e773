/**
 * Interop tests of magnet links (BEP 9 metadata, BEP 10 extensions, BEP 11 PEX, BEP 5 DHT)
 * between OUR client (`src/main.ts`, run as a user runs it) and real clients from Debian's
 * packages, all on 127.0.0.1 with no tracker at all: peers come from the magnet's `x.pe`
 * addresses, from PEX, or from a loopback DHT of libtorrent nodes.
 *
 * 1. x.pe -> libtorrent seeder (metadata in two ut_metadata pieces), `--save-torrent`;
 * 2. x.pe -> aria2 seeder; 3. libtorrent fetches a magnet's metadata and data from our seeder;
 * 4. a magnet with no peers at all, found through a DHT of libtorrent nodes; 5. PEX: our client
 *    is told only of a libtorrent downloader and learns its (rate-capped) aria2 seeder from it.
 * Printed figures come from our log's clock (metadata verified, download complete) and the
 * process's wall time; no test asserts a timing.
 *
 * Our client never touches the public DHT: `runOurClient` passes `--no-dht` unless it is given
 * loopback bootstrap nodes, and points `XDG_STATE_HOME` at a temp folder (no saved nodes).
 * Each test skips (with the reason printed) only when a tool it needs is missing.
 */
import { assert, assertEquals } from "../assert.ts";
import {
  freeTcpUdpPort,
  infoHashHex,
  libtorrentDownload,
  magnetLink,
  mktorrent,
  type OurClient,
  type Running,
  runOurClient,
  sameTree,
  startAria2Seeder,
  startLibtorrentDhtNode,
  startLibtorrentSeeder,
  toolGate,
  treesEqual,
} from "./fixtures.ts";
import { makePayload, type PayloadFile } from "../../testdata/payload.ts";

const MiB = 1 << 20;

/** Timeout of our client's whole run (metadata and download; normally a second or two). */
const OUR_TIMEOUT_MS = 45_000;
/** Timeout of a libtorrent download from our client. */
const PEER_TIMEOUT_S = 30;
/** Nobody listens on port 1: the announce URL that mktorrent insists on, never answered. */
const DEAD_TRACKER = "http://127.0.0.1:1/announce";

/** `ignore` value for a test needing these tools; prints why when one is missing. */
const missing = await toolGate(["aria2c", "libtorrent", "mktorrent"]);

/** A payload on disk, its torrent, and an empty folder for a downloader. */
interface Fixture {
  root: string;
  /** Save path of the pristine complete data. */
  data: string;
  /** A fresh, empty folder for a downloader. */
  out: string;
  torrent: string;
  infoHash: string;
  /** Name of the torrent's root file or folder (the magnet's `dn`). */
  name: string;
}

async function makeFixture(
  files: PayloadFile[],
  seed: number,
  pieceLengthExp = 18,
): Promise<Fixture> {
  const root = await Deno.makeTempDir({ prefix: "interop-magnet-" });
  try {
    const data = `${root}/seed`;
    await makePayload(data, { files, seed });
    const name = files[0].path.split("/")[0];
    const torrent = `${root}/payload.torrent`;
    await mktorrent({
      source: `${data}/${name}`,
      out: torrent,
      announce: [DEAD_TRACKER],
      pieceLengthExp,
    });
    const out = `${root}/out`;
    await Deno.mkdir(out);
    return { root, data, out, torrent, infoHash: await infoHashHex(torrent), name };
  } catch (e) {
    await Deno.remove(root, { recursive: true });
    throw e;
  }
}

/** What a finished run of our client left behind. */
interface OurRun {
  seconds: number;
  log: string;
  stdout: string;
}

/**
 * Runs our client on a magnet link to completion; asserts exit code 0, the verified summary
 * and the verified metadata in its log.
 */
async function ourMagnetDownload(
  magnet: string,
  out: string,
  opts: { dhtBootstrap?: string[]; extraArgs?: string[] } = {},
): Promise<OurRun> {
  const ours = await runOurClient({ torrent: magnet, out, ...opts });
  try {
    const { code, seconds } = await ours.wait(OUR_TIMEOUT_MS);
    const why = await ours.diagnose();
    assertEquals(code, 0, `our client's exit code; ${why}`);
    assert(/All \d+ pieces verified/.test(ours.stdout()), `summary says verified; ${why}`);
    const log = await ours.logTail(1 << 20);
    assert(log.includes("metadata received and verified"), `metadata verified; ${why}`);
    return { seconds, log, stdout: ours.stdout() };
  } finally {
    await ours.stop();
  }
}

/** Milliseconds from the log's first line to the first line containing `text`, if any. */
function logMs(log: string, text: string): number | undefined {
  const stamp = (line: string) => Date.parse(line.slice(0, line.indexOf(" ")));
  const lines = log.split("\n").filter((l) => l.length > 0);
  const first = lines.length > 0 ? stamp(lines[0]) : NaN;
  const hit = lines.find((l) => l.includes(text));
  const at = hit === undefined ? NaN : stamp(hit);
  return Number.isFinite(first) && Number.isFinite(at) ? at - first : undefined;
}

/** Prints how long the phases took by our log's clock, and the process's wall time. */
function report(what: string, run: OurRun): void {
  const ms = (v: number | undefined) => v === undefined ? "?" : `${v} ms`;
  console.log(
    `  ${what}: metadata after ${ms(logMs(run.log, "metadata received and verified"))}, ` +
      `complete after ${ms(logMs(run.log, "download complete"))} (by our log); ` +
      `process ${run.seconds.toFixed(2)} s`,
  );
}

/** Runs `fn`; when it fails, adds our client's state and log to the error. */
async function explained<T>(ours: OurClient, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : e}\nOUR CLIENT: ${await ours.diagnose()}`);
  }
}

/** Stops everything started so far, last first, even when some stops fail. */
async function stopAll(running: { stop(): Promise<void> }[]): Promise<void> {
  for (const r of running.reverse()) await r.stop().catch(() => {});
}

/**
 * About 34 MiB in 32 KiB pieces: over 1000 piece hashes make the info dictionary larger than
 * 16 KiB, so its metadata comes in two ut_metadata pieces, the last one short.
 */
const TWO_METADATA_PIECES: PayloadFile[] = [
  { path: "lt-magnet/a.bin", size: 21 * MiB + 12_345 },
  { path: "lt-magnet/sub/b.bin", size: 13 * MiB - 999 },
  { path: "lt-magnet/sub/one.txt", size: 1 },
];

Deno.test({
  name: "magnet with x.pe only: metadata and data from a libtorrent seeder; --save-torrent",
  ignore: missing("magnet lt -> ours", "libtorrent", "mktorrent"),
  async fn() {
    const fx = await makeFixture(TWO_METADATA_PIECES, 11, 15);
    try {
      const seeder = await startLibtorrentSeeder({
        torrent: fx.torrent,
        data: fx.data,
        trackerOff: true,
      });
      try {
        const saved = `${fx.root}/saved.torrent`;
        const magnet = magnetLink(fx.infoHash, {
          name: fx.name,
          peers: [`127.0.0.1:${seeder.port}`],
        });
        const run = await ourMagnetDownload(magnet, fx.out, {
          extraArgs: ["--save-torrent", saved],
        });
        report("ours from libtorrent (x.pe)", run);
        assert(await sameTree(fx.data, fx.out), "our copy equals the source, nothing more");
        assertEquals(await infoHashHex(saved), fx.infoHash, "the saved torrent's info-hash");
        const size = Number(/metadata received and verified \((\d+) bytes\)/.exec(run.log)?.[1]);
        assert(size > 16 * 1024, `the info dictionary spans two metadata pieces: ${size} bytes`);
      } finally {
        await seeder.stop();
      }
    } finally {
      await Deno.remove(fx.root, { recursive: true });
    }
  },
});

/** A few MiB over nested folders with sizes off the piece grid and an empty file. */
const MULTI: PayloadFile[] = [
  { path: "aria-magnet/big.bin", size: 5 * MiB + 4321 },
  { path: "aria-magnet/dir/a.bin", size: 2 * MiB - 777 },
  { path: "aria-magnet/dir/sub/tiny.txt", size: 1 },
  { path: "aria-magnet/empty.txt", size: 0 },
];

Deno.test({
  name: "magnet with x.pe only: metadata and data from an aria2 seeder",
  ignore: missing("magnet aria2 -> ours", "aria2c", "mktorrent"),
  async fn() {
    const fx = await makeFixture(MULTI, 22);
    try {
      const seeder = await startAria2Seeder({
        torrent: fx.torrent,
        data: fx.data,
        trackerOff: true,
      });
      try {
        const magnet = magnetLink(fx.infoHash, { peers: [`127.0.0.1:${seeder.port}`] });
        const run = await ourMagnetDownload(magnet, fx.out);
        report("ours from aria2 (x.pe)", run);
        assert(await sameTree(fx.data, fx.out), "our copy equals the source, nothing more");
        assert(await seeder.uploadedBytes() > 0, "aria2 reports the upload");
      } finally {
        await seeder.stop();
      }
    } finally {
      await Deno.remove(fx.root, { recursive: true });
    }
  },
});

/** Files for the test where we serve metadata (info dictionary above 16 KiB too). */
const OURS_SERVES: PayloadFile[] = [
  { path: "ours-magnet/x.bin", size: 19 * MiB + 3 },
  { path: "ours-magnet/y/z.bin", size: 15 * MiB + 65_537 },
];

Deno.test({
  name: "our client seeds a .torrent -> libtorrent fetches the magnet's metadata and data from us",
  ignore: missing("ours -> magnet libtorrent", "libtorrent", "mktorrent"),
  async fn() {
    const fx = await makeFixture(OURS_SERVES, 33, 15);
    try {
      // Our seeder gets its own copy, so the pristine source stays the reference.
      const ourData = `${fx.root}/ours`;
      await makePayload(ourData, { files: OURS_SERVES, seed: 33 });
      const ours = await runOurClient({ torrent: fx.torrent, out: ourData, seed: true });
      try {
        // libtorrent redials until connected, so it may start before we listen.
        const { seconds } = await explained(ours, () =>
          libtorrentDownload({
            magnet: magnetLink(fx.infoHash, { name: fx.name }),
            out: fx.out,
            peers: [`127.0.0.1:${ours.port}`],
            timeoutSec: PEER_TIMEOUT_S,
          }));
        console.log(`  libtorrent magnet download from ours: ${seconds.toFixed(2)} s`);
        assert(
          await treesEqual(fx.data, fx.out),
          `libtorrent's copy equals the source; ${await ours.diagnose()}`,
        );
      } finally {
        await ours.stop();
      }
    } finally {
      await Deno.remove(fx.root, { recursive: true });
    }
  },
});

const DHT_FILES: PayloadFile[] = [
  { path: "dht-magnet/data.bin", size: 6 * MiB + 1234 },
  { path: "dht-magnet/more/b.bin", size: 3 * MiB - 1 },
];

Deno.test({
  name: "magnet without x.pe or tracker: our client finds a libtorrent seeder through a " +
    "libtorrent DHT",
  ignore: missing("magnet DHT lt -> ours", "libtorrent", "mktorrent"),
  async fn() {
    const fx = await makeFixture(DHT_FILES, 44);
    const running: Running[] = [];
    try {
      const hub = await startLibtorrentDhtNode();
      running.push(hub);
      const hubAddr = `127.0.0.1:${hub.port}`;
      const second = await startLibtorrentDhtNode({ dhtBootstrap: [hubAddr] });
      running.push(second);
      const nodes = [hubAddr, `127.0.0.1:${second.port}`];
      // The seeder's DHT shares its listen port, so an implied-port announce names the right one.
      const port = await freeTcpUdpPort();
      const seeder = await startLibtorrentSeeder({
        torrent: fx.torrent,
        data: fx.data,
        trackerOff: true,
        port,
        dhtPort: port,
        dhtBootstrap: nodes,
      });
      running.push(seeder);
      const magnet = magnetLink(fx.infoHash, { name: fx.name });
      const run = await ourMagnetDownload(magnet, fx.out, { dhtBootstrap: nodes });
      report("ours through the libtorrent DHT", run);
      assert(await sameTree(fx.data, fx.out), "our copy equals the source, nothing more");
      // No tracker, no x.pe: the seeder's address can only have come from a DHT lookup.
      assert(
        /DHT lookup [0-9a-f]{40}: [1-9]\d* peers/.test(run.log),
        `a DHT lookup found the seeder; log: ${run.log.slice(-3000)}`,
      );
      // libtorrent's nodes took our announce_peer (our token round-trip works with theirs).
      assert(
        /DHT lookup [0-9a-f]{40}: .*announced to [1-9]/.test(run.log),
        `libtorrent nodes accepted our announce; log: ${run.log.slice(-3000)}`,
      );
    } finally {
      await stopAll(running);
      await Deno.remove(fx.root, { recursive: true });
    }
  },
});

const PEX_FILES: PayloadFile[] = [
  { path: "pex-magnet/one.bin", size: 4 * MiB + 99 },
  { path: "pex-magnet/two/two.bin", size: 2 * MiB - 99 },
];
/** aria2's upload cap, so libtorrent is still downloading from it when our client arrives. */
const PEX_SEED_LIMIT = "1M";

Deno.test({
  name: "PEX: our client knows one libtorrent peer mid-download and learns its aria2 seeder " +
    "from libtorrent's ut_pex",
  ignore: missing("PEX lt -> ours", "libtorrent", "aria2c", "mktorrent"),
  async fn() {
    const fx = await makeFixture(PEX_FILES, 55);
    try {
      // B: an aria2 seeder capped at 1 MiB/s (aria2 sends no PEX of its own: it is off).
      const seeder = await startAria2Seeder({
        torrent: fx.torrent,
        data: fx.data,
        trackerOff: true,
        uploadLimit: PEX_SEED_LIMIT,
      });
      // A: a libtorrent downloader that dials B; the only peer our client is told about.
      const aOut = `${fx.root}/lt-out`;
      await Deno.mkdir(aOut);
      const aPort = await freeTcpUdpPort();
      const aDone = libtorrentDownload({
        torrent: fx.torrent,
        out: aOut,
        port: aPort,
        trackerOff: true,
        peers: [`127.0.0.1:${seeder.port}`],
        timeoutSec: 40,
      });
      aDone.catch(() => {}); // awaited below; this only keeps a rejection from going unhandled
      try {
        await waitFor(
          async () => await seeder.uploadedBytes() > 0,
          15_000,
          () => `libtorrent never started downloading from aria2; ${seeder.diagnosis()}`,
        );
        const magnet = magnetLink(fx.infoHash, { peers: [`127.0.0.1:${aPort}`] });
        const run = await ourMagnetDownload(magnet, fx.out);
        report("ours from libtorrent + aria2 found by PEX", run);
        assert(await sameTree(fx.data, fx.out), "our copy equals the source, nothing more");
        const toB = new RegExp(`peer 127\\.0\\.0\\.1:${seeder.port} connected \\((\\w+)\\)`)
          .exec(run.log);
        // Nothing else could have told us aria2's port: no tracker, no DHT, aria2's PEX is
        // off and it never dials us. (Learnt during the download phase the source says "pex";
        // peers learnt during the metadata phase are handed on as "manual".)
        assert(toB !== null, `our client connected to aria2; log: ${run.log.slice(-4000)}`);
        console.log(`  aria2 (${seeder.port}) reached as a "${toB[1]}" peer`);
        await aDone;
        assert(await treesEqual(fx.data, aOut), "libtorrent's copy equals the source");
      } finally {
        await aDone.catch(() => {}); // it ends on its own: done, or its timeout
        await seeder.stop();
      }
    } finally {
      await Deno.remove(fx.root, { recursive: true });
    }
  },
});

/** Polls `check` every 100 ms until true; throws `message()` after `timeoutMs`. */
async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  message: () => string,
): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!await check()) {
    if (performance.now() > end) throw new Error(message());
    await new Promise((r) => setTimeout(r, 100));
  }
}
