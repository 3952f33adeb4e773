import { assertEquals } from "../assert.ts";
import { MetadataJob, PeerHub, TorrentJob } from "../../src/client/mod.ts";
import { Dht } from "../../src/dht/mod.ts";
import { createTorrentFromBuffers, magnetUri, parseMagnet } from "../../src/metainfo/mod.ts";
import {
  assertPayload,
  FAST_SESSION,
  LOOPBACK,
  openJob,
  patternBytes,
  torrentOf,
  within,
  writePayload,
} from "./helpers.ts";

const files = [
  { path: ["one.bin"], data: patternBytes(150_000, 81) },
  { path: ["two", "two.bin"], data: patternBytes(90_001, 82) },
];

/** A node of a loopback DHT, quick to time out, bootstrapping from `from`. */
async function node(from?: Dht): Promise<Dht> {
  const dht = new Dht({
    hostname: LOOPBACK,
    port: 0,
    bootstrap: from ? [`${LOOPBACK}:${from.port}`] : [],
    queryTimeoutMs: 500,
  });
  await dht.start();
  return dht;
}

Deno.test("a magnet link with no tracker and no x.pe: peers and metadata through our DHT alone", async () => {
  const torrent = torrentOf(
    createTorrentFromBuffers("dht-demo", files, { pieceLength: 16384, creationDate: null }),
  );
  const root = await Deno.makeTempDir();
  await writePayload(`${root}/seed`, torrent.name, files);
  // Three plain nodes; the seeder and the leecher each run one on their hub's port.
  const first = await node();
  const nodes = [first, await node(first), await node(first)];
  const dht = { bootstrap: [`${LOOPBACK}:${first.port}`], queryTimeoutMs: 500 };
  const jobs: { stop(): Promise<void> }[] = [];
  try {
    await Promise.all(nodes.map((n) => n.bootstrap()));
    const seeder = await openJob(torrent, `${root}/seed`, { seed: true, hub: { dht } });
    jobs.push(seeder);
    seeder.start(); // announces itself to the DHT at once
    const magnet = parseMagnet(magnetUri({ infoHashHex: torrent.infoHashHex }));
    assertEquals(magnet.trackers.length + magnet.peers.length, 0);

    // The leecher is one client for both phases, as the CLI is: one hub, port and DHT node.
    const hub = await PeerHub.open({ port: 0, hostname: LOOPBACK, utp: false, dht });
    jobs.push(hub);
    const started = performance.now();
    const metadata = MetadataJob.start({ magnet, hub });
    jobs.push(metadata);
    const fetched = await within("metadata through the DHT", 15_000, metadata.done);
    const metadataMs = performance.now() - started;
    await metadata.stop();
    const leecher = await TorrentJob.open({
      torrent: fetched.torrent,
      output: `${root}/leech`,
      hub,
      peers: fetched.peers,
      handed: fetched.handed,
      trackers: [],
      session: FAST_SESSION,
    });
    jobs.push(leecher);
    leecher.start();
    await within("download", 15_000, leecher.done);
    console.log(
      `dht magnet: metadata after ${metadataMs.toFixed(0)} ms, ` +
        `download done after ${(performance.now() - started).toFixed(0)} ms`,
    );
    await assertPayload(`${root}/leech`, torrent.name, files);
  } finally {
    for (const job of jobs.reverse()) await job.stop();
    for (const n of nodes) await n.stop();
    await Deno.remove(root, { recursive: true });
  }
});
