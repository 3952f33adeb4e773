/**
 * uTP (BEP 29) against libtorrent made uTP-only (no TCP either way), on 127.0.0.1: our client
 * downloads from its lone seeder (plain and RC4-encrypted) and seeds to its downloader, both
 * over plain loopback and through a relay that delays each datagram 25 ms each way and drops
 * about 1 %; and our client to our client, over uTP by default and over TCP with `--no-utp`.
 * The torrents name no tracker; peers are given directly (`--peer` for ours, `connect_peer` for
 * libtorrent), and each log says what the connection ran over.
 */
import { assert, assertEquals } from "../assert.ts";
import {
  delay,
  libtorrentCreate,
  libtorrentDownload,
  type OurClient,
  runOurClient,
  sameTree,
  startLibtorrentSeeder,
  tcpAccepts,
  toolGate,
  treesEqual,
} from "./fixtures.ts";
import { makePayload, type PayloadFile } from "../../testdata/payload.ts";
import { startUdpRelay } from "../udp_relay.ts";

const MiB = 1 << 20;
const FILES: PayloadFile[] = [
  { path: "utpset/a.bin", size: 3 * MiB + 4321 },
  { path: "utpset/b.txt", size: 777 },
];
/** Little enough to cross the lossy relay in seconds (it runs near 0.5 MB/s). */
const RELAY_FILES: PayloadFile[] = [{ path: "utpset/a.bin", size: MiB + 99 }];

const missing = await toolGate(["libtorrent"]);

interface Made {
  root: string;
  data: string;
  out: string;
  torrent: string;
}

/** A payload and libtorrent's v1 torrent of it, in a temp folder removed after `fn`. */
async function withTorrent(
  files: PayloadFile[],
  seed: number,
  fn: (t: Made) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "interop-utp-" });
  try {
    const data = `${root}/seed`, out = `${root}/out`, torrent = `${root}/utp.torrent`;
    await makePayload(data, { files, seed });
    await Deno.mkdir(out);
    await libtorrentCreate({
      source: `${data}/utpset`,
      out: torrent,
      pieceLength: 1 << 18,
      version: "v1",
    });
    await fn({ root, data, out, torrent });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** Our client downloads `torrent` from `peer`; returns its log. */
async function ourDownload(torrent: string, out: string, peer: string, extra: string[] = []) {
  const ours = await runOurClient({ torrent, out, extraArgs: ["--peer", peer, ...extra] });
  try {
    const { code, seconds } = await ours.wait(90_000);
    const why = await ours.diagnose();
    assertEquals(code, 0, `our client's exit code; ${why}`);
    console.log(`  ours: ${seconds.toFixed(2)} s`);
    return await ours.logTail(1 << 20);
  } finally {
    await ours.stop();
  }
}

/** A uTP-only libtorrent downloads `torrent` into `out` from our client, dialled at `port`. */
async function libtorrentFromOurs(ours: OurClient, torrent: string, out: string, port: number) {
  const { seconds } = await libtorrentDownload({
    torrent,
    out,
    peers: [`127.0.0.1:${port}`],
    timeoutSec: 60,
    trackerOff: true,
    transport: "utp",
  }).catch(async (e) => {
    throw new Error(`${e instanceof Error ? e.message : e}; ${await ours.diagnose()}`);
  });
  console.log(`  libtorrent from ours: ${seconds.toFixed(2)} s`);
}

/** Our client's log once it holds a line matching `pattern` (its log is written in batches). */
async function logWith(ours: OurClient, pattern: RegExp): Promise<string> {
  let log = "";
  for (let i = 0; i < 50 && !pattern.test(log); i++) {
    log = await ours.logTail(1 << 20);
    if (!pattern.test(log)) await delay(100);
  }
  return log;
}

/** Our client seeding a copy of the payload alone, once it listens. */
async function ourSeeder(root: string, files: PayloadFile[], seed: number, torrent: string) {
  await makePayload(`${root}/ours`, { files, seed });
  const ours = await runOurClient({ torrent, out: `${root}/ours`, seed: true });
  for (let i = 0; i < 300 && !await tcpAccepts(ours.port); i++) await delay(100);
  return ours;
}

for (const encryption of ["enabled", "forced"] as const) {
  Deno.test({
    name: `a uTP-only libtorrent seeder (encryption ${encryption}) -> our client downloads`,
    ignore: missing(`lt utp -> ours (${encryption})`, "libtorrent"),
    fn: () =>
      withTorrent(FILES, 601, async ({ data, out, torrent }) => {
        const seeder = await startLibtorrentSeeder({
          torrent,
          data,
          trackerOff: true,
          transport: "utp",
          encryption,
        });
        try {
          const log = await ourDownload(torrent, out, `127.0.0.1:${seeder.port}`);
          const over = encryption === "forced" ? "encrypted, uTP" : "uTP";
          assert(log.includes(`connected (manual, ${over})`), log.slice(-3000));
          assert(await sameTree(data, out), "our copy equals the source, nothing more");
        } finally {
          await seeder.stop();
        }
      }),
  });
}

Deno.test({
  name: "our client seeds alone -> a uTP-only libtorrent downloads",
  ignore: missing("ours -> lt utp", "libtorrent"),
  fn: () =>
    withTorrent(FILES, 602, async ({ root, data, out, torrent }) => {
      const ours = await ourSeeder(root, FILES, 602, torrent);
      try {
        await libtorrentFromOurs(ours, torrent, out, ours.port);
        assert(await treesEqual(data, out), "libtorrent's copy equals the source");
        const log = await logWith(ours, /connected \(incoming(, encrypted)?, uTP\)/);
        assert(/connected \(incoming(, encrypted)?, uTP\)/.test(log), log.slice(-3000));
      } finally {
        await ours.stop();
      }
    }),
});

Deno.test({
  name: "through a relay (25 ms each way, 1 % loss): libtorrent -> ours and ours -> libtorrent",
  ignore: missing("utp relay", "libtorrent"),
  fn: () =>
    withTorrent(RELAY_FILES, 603, async ({ root, data, out, torrent }) => {
      const seeder = await startLibtorrentSeeder({
        torrent,
        data,
        trackerOff: true,
        transport: "utp",
      });
      const toSeeder = await startUdpRelay(seeder.port, { seed: 603 });
      try {
        const log = await ourDownload(torrent, out, `127.0.0.1:${toSeeder.port}`);
        assert(log.includes("connected (manual, uTP)"), log.slice(-3000));
        assert(await sameTree(data, out), "our copy through the relay equals the source");
        assert(toSeeder.stats.dropped > 0, "the relay dropped nothing");
      } finally {
        await toSeeder.close();
        await seeder.stop();
      }

      const ours = await ourSeeder(root, RELAY_FILES, 603, torrent);
      const toOurs = await startUdpRelay(ours.port, { seed: 604 });
      try {
        const ltOut = `${root}/lt`;
        await Deno.mkdir(ltOut);
        await libtorrentFromOurs(ours, torrent, ltOut, toOurs.port);
        assert(await treesEqual(data, ltOut), "libtorrent's copy through the relay is the source");
        assert(toOurs.stats.dropped > 0, "the relay dropped nothing");
      } finally {
        await toOurs.close();
        await ours.stop();
      }
    }),
});

Deno.test({
  name: "our client -> our client: over uTP by default, over TCP with --no-utp",
  ignore: missing("ours -> ours utp", "libtorrent"),
  fn: () =>
    withTorrent(FILES, 605, async ({ root, data, out, torrent }) => {
      const seeder = await ourSeeder(root, FILES, 605, torrent);
      try {
        const log = await ourDownload(torrent, out, `127.0.0.1:${seeder.port}`);
        assert(log.includes("connected (manual, encrypted, uTP)"), log.slice(-3000));
        assert(await sameTree(data, out), "our copy equals the source");
        const tcpOut = `${root}/tcp`;
        await Deno.mkdir(tcpOut);
        const tcpLog = await ourDownload(torrent, tcpOut, `127.0.0.1:${seeder.port}`, [
          "--no-utp",
        ]);
        assert(tcpLog.includes("connected (manual, encrypted)\n"), tcpLog.slice(-3000));
        assert(await sameTree(data, tcpOut), "our TCP copy equals the source");
      } finally {
        await seeder.stop();
      }
    }),
});
