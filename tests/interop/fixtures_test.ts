/**
 * Proves the interop fixtures by running the real clients against each other on 127.0.0.1.
 * Each test skips when a tool is missing; CI installs them all, so they do run there.
 */
import { assert, assertEquals, assertRejects } from "../assert.ts";
import {
  aria2Download,
  filesEqual,
  freePort,
  freeTcpUdpPort,
  hasTool,
  infoHashHex,
  libtorrentDownload,
  magnetLink,
  mktorrent,
  startAria2Seeder,
  startLibtorrentDhtNode,
  startLibtorrentSeeder,
  startOpentracker,
  treesEqual,
} from "./fixtures.ts";
import { makePayload, type PayloadFile } from "../../testdata/payload.ts";

const MiB = 1 << 20;

/** About 8 MiB over several files, with sizes that do not line up with 256 KiB pieces. */
const FILES: PayloadFile[] = [
  { path: "payload/big.bin", size: 5 * MiB + 123 },
  { path: "payload/dir/a.bin", size: 3 * MiB - 77 },
  { path: "payload/dir/sub/tiny.txt", size: 1 },
  { path: "payload/odd.bin", size: 262_145 },
  { path: "payload/empty.txt", size: 0 }, // aria2 and libtorrent create it (Transmission would not)
];

const haveAria2 = await hasTool("aria2c");
const haveLt = await hasTool("libtorrent");
const haveTracker = await hasTool("opentracker");
const haveMktorrent = await hasTool("mktorrent");

interface Swarm {
  root: string;
  /** Save path of the complete data (holds `payload/`). */
  data: string;
  /** A fresh, empty folder for a downloader. */
  out: string;
  torrent: string;
  infoHash: string;
}

async function makeSwarm(announce: string[]): Promise<Swarm> {
  const root = await Deno.makeTempDir({ prefix: "interop-" });
  const data = `${root}/seed`;
  await makePayload(data, { files: FILES, seed: 42 });
  const torrent = `${root}/payload.torrent`;
  await mktorrent({ source: `${data}/payload`, out: torrent, announce });
  const out = `${root}/out`;
  await Deno.mkdir(out);
  return { root, data, out, torrent, infoHash: await infoHashHex(torrent) };
}

function timed(name: string, started: number): void {
  console.log(`  ${name}: ${((performance.now() - started) / 1000).toFixed(2)} s`);
}

Deno.test("makePayload is deterministic and the comparers see every difference", async () => {
  const root = await Deno.makeTempDir({ prefix: "payload-" });
  try {
    const files = [{ path: "x/a.bin", size: MiB + 5 }, { path: "b.bin", size: 3 }, {
      path: "e",
      size: 0,
    }];
    await makePayload(`${root}/one`, { files, seed: 9 });
    await makePayload(`${root}/two`, { files, seed: 9 });
    await makePayload(`${root}/three`, { files, seed: 10 });
    assert(await treesEqual(`${root}/one`, `${root}/two`), "same seed, same bytes");
    assert(!await treesEqual(`${root}/one`, `${root}/three`), "other seed, other bytes");
    assertEquals((await Deno.stat(`${root}/one/x/a.bin`)).size, MiB + 5);
    assertEquals((await Deno.stat(`${root}/one/e`)).size, 0);
    const a = await Deno.readFile(`${root}/one/x/a.bin`);
    assert(!a.subarray(0, 64).every((b) => b === 0), "bytes look random");
    // Flip one byte near the end: the streaming comparer must see it.
    a[a.length - 2] ^= 1;
    await Deno.writeFile(`${root}/two/x/a.bin`, a);
    assert(!await filesEqual(`${root}/one/x/a.bin`, `${root}/two/x/a.bin`));
    assert(!await treesEqual(`${root}/one`, `${root}/two`));
    assert(!await filesEqual(`${root}/one/b.bin`, `${root}/missing`));
    await assertRejects(
      () => makePayload(root, { files: [{ path: "../escape", size: 1 }] }),
      RangeError,
    );
    const p = freePort(), q = freePort();
    assert(p !== q && p > 0 && q > 0, "ports are distinct");
    assert((await freeTcpUdpPort()) > 0);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: "opentracker (HTTP) + libtorrent seeder -> aria2 download",
  ignore: !(haveAria2 && haveLt && haveTracker && haveMktorrent),
  async fn() {
    const started = performance.now();
    // The announce URL must be known before the torrent exists, and the tracker must know the
    // info-hash before it starts: make the torrent against a placeholder port first, then the
    // real one (the info-hash does not depend on the announce URL).
    const swarm = await makeSwarm(["http://127.0.0.1:1/announce"]);
    const tracker = await startOpentracker({ infoHashesHex: [swarm.infoHash] });
    try {
      await mktorrent({
        source: `${swarm.data}/payload`,
        out: swarm.torrent,
        announce: [tracker.httpUrl],
      });
      assertEquals(await infoHashHex(swarm.torrent), swarm.infoHash);
      const seeder = await startLibtorrentSeeder({ torrent: swarm.torrent, data: swarm.data });
      try {
        assertEquals((await tracker.scrape(swarm.infoHash)).complete, 1, "seeder announced");
        const { seconds } = await aria2Download({
          torrent: swarm.torrent,
          out: swarm.out,
          timeoutSec: 30,
        });
        console.log(`  aria2 download: ${seconds.toFixed(2)} s`);
        assert(await treesEqual(swarm.data, swarm.out), "aria2's copy equals the source");
      } finally {
        await seeder.stop();
      }
    } finally {
      await tracker.stop();
      await Deno.remove(swarm.root, { recursive: true });
    }
    timed("test", started);
  },
});

Deno.test({
  name: "aria2 seeder -> libtorrent download (peer given directly, then by magnet)",
  ignore: !(haveAria2 && haveLt && haveMktorrent),
  async fn() {
    const started = performance.now();
    // Nothing listens on the announce port: the clients may only find each other directly.
    const swarm = await makeSwarm([`http://127.0.0.1:${freePort()}/announce`]);
    try {
      const seeder = await startAria2Seeder({
        torrent: swarm.torrent,
        data: swarm.data,
        trackerOff: true,
      });
      try {
        const peers = [`127.0.0.1:${seeder.port}`];
        const byTorrent = await libtorrentDownload({
          torrent: swarm.torrent,
          out: swarm.out,
          peers,
          trackerOff: true,
          timeoutSec: 20,
        });
        console.log(`  libtorrent download (.torrent): ${byTorrent.seconds.toFixed(2)} s`);
        assert(await treesEqual(swarm.data, swarm.out), "libtorrent's copy equals the source");

        // Magnet: the info dictionary comes from aria2 over ut_metadata (BEP 9). A fresh
        // listen port each time (INTEROP.md).
        const out2 = `${swarm.root}/out2`;
        const byMagnet = await libtorrentDownload({
          magnet: magnetLink(swarm.infoHash, { name: "payload" }),
          out: out2,
          peers,
          trackerOff: true,
          timeoutSec: 20,
        });
        console.log(`  libtorrent download (magnet): ${byMagnet.seconds.toFixed(2)} s`);
        assert(await treesEqual(swarm.data, out2), "magnet copy equals the source");
      } finally {
        await seeder.stop();
      }
    } finally {
      await Deno.remove(swarm.root, { recursive: true });
    }
    timed("test", started);
  },
});

Deno.test({
  name: "opentracker UDP announce: libtorrent seeder -> aria2 download (udpTracker)",
  ignore: !(haveAria2 && haveLt && haveTracker && haveMktorrent),
  async fn() {
    const started = performance.now();
    const swarm = await makeSwarm(["udp://127.0.0.1:1/announce"]);
    const tracker = await startOpentracker({ infoHashesHex: [swarm.infoHash] });
    try {
      // Only the UDP URL: both clients can reach the tracker through BEP 15 alone.
      await mktorrent({
        source: `${swarm.data}/payload`,
        out: swarm.torrent,
        announce: [tracker.udpUrl],
      });
      const seeder = await startLibtorrentSeeder({ torrent: swarm.torrent, data: swarm.data });
      try {
        assertEquals((await tracker.scrape(swarm.infoHash)).complete, 1, "seeder announced (UDP)");
        // Watch the tracker while aria2 runs: it must show up as a leecher. (With
        // --seed-time=0 aria2 announces "stopped", never "completed", so the scrape's
        // `downloaded` stays 0 and cannot serve as proof.)
        let running = true, sawLeecher = false;
        const watch = (async () => {
          while (running && !sawLeecher) {
            sawLeecher = (await tracker.scrape(swarm.infoHash)).incomplete > 0;
            await new Promise((r) => setTimeout(r, 100));
          }
        })();
        try {
          const { seconds } = await aria2Download({
            torrent: swarm.torrent,
            out: swarm.out,
            udpTracker: true,
            timeoutSec: 30,
          });
          console.log(`  aria2 download (UDP tracker): ${seconds.toFixed(2)} s`);
        } finally {
          running = false;
          await watch;
        }
        assert(await treesEqual(swarm.data, swarm.out), "aria2's copy equals the source");
        assert(sawLeecher, "aria2 announced itself over UDP");
      } finally {
        await seeder.stop();
      }
    } finally {
      await tracker.stop();
      await Deno.remove(swarm.root, { recursive: true });
    }
    timed("test", started);
  },
});

Deno.test({
  name: "libtorrent DHT on loopback: magnet without trackers found through a bootstrap node",
  ignore: !(haveLt && haveMktorrent),
  async fn() {
    const started = performance.now();
    const swarm = await makeSwarm([`http://127.0.0.1:${freePort()}/announce`]);
    const node = await startLibtorrentDhtNode();
    try {
      const bootstrap = [`127.0.0.1:${node.port}`];
      const seedPort = await freeTcpUdpPort();
      const seeder = await startLibtorrentSeeder({
        torrent: swarm.torrent,
        data: swarm.data,
        port: seedPort,
        dhtPort: seedPort,
        dhtBootstrap: bootstrap,
        trackerOff: true,
      });
      try {
        const port = await freeTcpUdpPort();
        const { seconds } = await libtorrentDownload({
          magnet: magnetLink(swarm.infoHash),
          out: swarm.out,
          port,
          dhtPort: port,
          dhtBootstrap: bootstrap,
          trackerOff: true,
          timeoutSec: 20,
        });
        console.log(`  libtorrent download (DHT magnet): ${seconds.toFixed(2)} s`);
        assert(await treesEqual(swarm.data, swarm.out), "DHT copy equals the source");
      } finally {
        await seeder.stop();
      }
    } finally {
      await node.stop();
      await Deno.remove(swarm.root, { recursive: true });
    }
    timed("test", started);
  },
});
