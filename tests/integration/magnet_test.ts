import { assert, assertEquals } from "../assert.ts";
import { Client, MetadataJob, PeerHub } from "../../src/client/mod.ts";
import {
  createTorrentFromBuffers,
  magnetUri,
  parseMagnet,
  parseTorrent,
  torrentFileFromInfo,
} from "../../src/metainfo/mod.ts";
import {
  addressOf,
  assertPayload,
  FAST_SESSION,
  LOOPBACK,
  MemoryLog,
  openJob,
  patternBytes,
  torrentOf,
  within,
  writePayload,
} from "./helpers.ts";

const files = [
  { path: ["a.bin"], data: patternBytes(200_000, 71) },
  { path: ["dir", "b.bin"], data: patternBytes(333_333, 72) },
];

Deno.test("a magnet link with only x.pe peers: metadata from two seeders, then the download", async () => {
  const torrent = torrentOf(
    createTorrentFromBuffers("magnet-demo", files, { pieceLength: 32768, creationDate: null }),
  );
  const root = await Deno.makeTempDir();
  await writePayload(`${root}/seed`, torrent.name, files);
  const seeders = [
    await openJob(torrent, `${root}/seed`, { seed: true }),
    await openJob(torrent, `${root}/seed`, { seed: true }),
  ];
  for (const s of seeders) s.start();
  const uri = magnetUri({ infoHashHex: torrent.infoHashHex, name: "magnet-demo" }) +
    seeders.map((s) => `&x.pe=${LOOPBACK}:${addressOf(s).port}`).join("");
  const hub = await PeerHub.open({ port: 0, hostname: LOOPBACK, utp: false });
  const metadata = MetadataJob.start({ magnet: parseMagnet(uri), hub });
  try {
    const fetched = await within("metadata", 10_000, metadata.done);
    await metadata.stop();
    assertEquals(fetched.torrent.infoHashHex, torrent.infoHashHex);
    assertEquals(fetched.torrent.files.map((f) => f.path), torrent.files.map((f) => f.path));
    assertEquals(fetched.peers.length, 2, "both x.pe peers are handed to the download");
    const saved = parseTorrent(torrentFileFromInfo(fetched.torrent.infoBytes, []));
    assertEquals(saved.infoHashHex, torrent.infoHashHex, ".torrent rebuilt from the metadata");

    // This download has a hub of its own: the phase's connections are not for it.
    for (const h of fetched.handed) h.conn.close("another hub downloads");
    const leecher = await openJob(fetched.torrent, `${root}/leech`, { peers: fetched.peers });
    leecher.start();
    await within("download", 10_000, leecher.done);
    await leecher.stop();
    await assertPayload(`${root}/leech`, torrent.name, files);
  } finally {
    await metadata.stop();
    await hub.stop();
    for (const s of seeders) await s.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a magnet link's download takes over the metadata phase's connections", async () => {
  const torrent = torrentOf(
    createTorrentFromBuffers("handoff", files, { pieceLength: 16384, creationDate: null }),
  );
  const root = await Deno.makeTempDir();
  await writePayload(`${root}/seed`, torrent.name, files);
  const log = new MemoryLog();
  // Slow enough that the download is still going when the metadata phase ends.
  const seeder = await openJob(torrent, `${root}/seed`, {
    seed: true,
    log,
    hub: { maxUploadRate: 400_000 },
  });
  seeder.start();
  const client = await Client.open({ port: 0, hostname: LOOPBACK, utp: false });
  try {
    const uri = magnetUri({ infoHashHex: torrent.infoHashHex }) +
      `&x.pe=${LOOPBACK}:${addressOf(seeder).port}`;
    const t = client.add({ magnet: parseMagnet(uri) });
    await within("metadata", 10_000, t.metadata);
    const job = await t.open({ output: `${root}/leech`, session: FAST_SESSION });
    assertEquals(job.stats().peersConnected, 1, "the seeder's connection handed, before any dial");
    t.start();
    await within("download", 15_000, job.completed);
    await assertPayload(`${root}/leech`, torrent.name, files);
    const connections = log.find("connected (incoming");
    assertEquals(connections.length, 1, `one connection for both phases: ${connections}`);
  } finally {
    await client.stop();
    await seeder.stop();
    await Deno.remove(root, { recursive: true });
  }
});

/**
 * Two seeders, a slow leecher ("middle") connected to both, and a leecher that is told only of
 * the middle: PEX (every 100 ms here) is how it can learn of the seeders. `off` names whose
 * hub has PEX off.
 */
async function pexSwarm(root: string, off?: "middle" | "leecher") {
  const torrent = torrentOf(
    createTorrentFromBuffers("pex-demo", files, { pieceLength: 16384, creationDate: null }),
  );
  await writePayload(`${root}/seed`, torrent.name, files);
  const pex = { pexIntervalMs: 100 };
  const seeders = [
    await openJob(torrent, `${root}/seed`, { seed: true, session: pex }),
    await openJob(torrent, `${root}/seed`, { seed: true, session: pex }),
  ];
  // Slow, so it stays a leecher for a while.
  const middle = await openJob(torrent, `${root}/hub`, {
    peers: seeders.map(addressOf),
    hub: { maxDownloadRate: 64 * 1024, pex: off !== "middle" },
    session: pex,
  });
  const leecher = await openJob(torrent, `${root}/leech`, {
    hub: { pex: off !== "leecher" },
    session: pex,
  });
  for (const job of [...seeders, middle]) job.start();
  leecher.start();
  leecher.addPeers([addressOf(middle)]);
  return {
    torrent,
    leecher,
    stop: async () => {
      for (const job of [leecher, middle, ...seeders]) await job.stop();
    },
  };
}

Deno.test("PEX: a leecher that knows one peer learns the rest of the swarm", async () => {
  const root = await Deno.makeTempDir();
  const swarm = await pexSwarm(root);
  try {
    await within("download", 15_000, swarm.leecher.done);
    const stats = swarm.leecher.stats();
    assert(stats.peersKnown >= 3, `learnt only ${stats.peersKnown} peers`);
    await assertPayload(`${root}/leech`, swarm.torrent.name, files);
  } finally {
    await swarm.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("PEX off (--no-pex): a peer neither tells its peers nor takes what it is told", async () => {
  for (const off of ["middle", "leecher"] as const) {
    const root = await Deno.makeTempDir();
    const swarm = await pexSwarm(root, off);
    try {
      // Ten PEX rounds: with PEX on, the seeders are known after the first.
      await new Promise((r) => setTimeout(r, 1000));
      assertEquals(swarm.leecher.stats().peersKnown, 1, `PEX off at the ${off}`);
    } finally {
      await swarm.stop();
      await Deno.remove(root, { recursive: true });
    }
  }
});
