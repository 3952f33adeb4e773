import { assert, assertEquals } from "../assert.ts";
import { BufferPool, Session, type SessionEvents } from "../../src/engine/mod.ts";
import {
  createTorrentFromBuffers,
  parseInfo,
  parseTorrent,
  type Torrent,
} from "../../src/metainfo/mod.ts";
import { makePeerId, PeerNetwork, PeerRouter } from "../../src/peer/mod.ts";
import { Storage } from "../../src/storage/mod.ts";
import { TokenBucket } from "../../src/util/mod.ts";
import { MemoryTransport } from "../memory_transport.ts";
import { xorshiftBytes as randomBytes } from "../random.ts";
import { waitFor } from "../integration/helpers.ts";

interface Node {
  session: Session;
  storage: Storage;
  port: number;
  stop(): Promise<void>;
}

async function startNode(
  network: PeerNetwork,
  torrent: Torrent,
  dir: string,
  seed: boolean,
  tune: {
    writeDelayMs?: number;
    maxBufferedBytes?: number;
    /** Spoil the first byte of every block it serves (a peer sending bad data). */
    corrupt?: boolean;
    /** Upload limit, bytes a second. */
    uploadRate?: number;
    events?: SessionEvents;
    /** Its share of a process-wide connection budget. */
    peerShare?: () => number;
    sharedBuffers?: BufferPool;
  } = {},
): Promise<Node> {
  const storage = await Storage.open(torrent, dir);
  const have = await storage.verify();
  const peerId = makePeerId();
  const slow = tune.writeDelayMs;
  const store = {
    read: async (index: number, begin: number, length: number, into?: Uint8Array) => {
      const data = await storage.read(index, begin, length, into);
      if (tune.corrupt) {
        for (let at = Math.ceil(begin / 16384) * 16384; at < begin + length; at += 16384) {
          data[at - begin] ^= 0xff;
        }
      }
      return data;
    },
    writePiece: async (index: number, data: Uint8Array) => {
      if (slow !== undefined) await new Promise((r) => setTimeout(r, slow));
      await storage.writePiece(index, data);
    },
  };
  const session = new Session({
    torrent,
    storage: store,
    have,
    peerId,
    dial: network.dial,
    seed,
    tickMs: 200,
    maxBufferedBytes: tune.maxBufferedBytes,
    events: tune.events,
    peerShare: tune.peerShare,
    sharedBuffers: tune.sharedBuffers,
    uploadLimiter: tune.uploadRate ? new TokenBucket(tune.uploadRate) : undefined,
  });
  const router = new PeerRouter();
  router.add(torrent.infoHash, () => ({
    options: session.handshakeOptions,
    adopt: (peer) => session.addIncoming(peer),
  }));
  const listener = network.listen({ port: 0, router });
  session.start();
  return {
    session,
    storage,
    port: listener.port,
    async stop() {
      listener.close();
      await session.stop();
      await storage.close();
    },
  };
}

Deno.test("a leecher downloads a multi-file torrent from two seeders of our own", async () => {
  const files = [
    { path: ["a.bin"], data: randomBytes(300_000, 1) },
    { path: ["empty.txt"], data: new Uint8Array(0) },
    { path: ["sub", "b.bin"], data: randomBytes(700_001, 2) },
  ];
  const torrent = parseTorrent(
    createTorrentFromBuffers("swarm", files, { pieceLength: 32768, creationDate: null }),
  );
  const root = await Deno.makeTempDir();
  const seedDir = `${root}/seed`;
  await Deno.mkdir(`${seedDir}/swarm/sub`, { recursive: true });
  for (const f of files) await Deno.writeFile(`${seedDir}/swarm/${f.path.join("/")}`, f.data);

  // Over memory, encrypted: one seeder requires MSE, the other and the leecher prefer it.
  const memory = new MemoryTransport();
  const prefer = new PeerNetwork({ transport: memory });
  const seeders = [
    await startNode(
      new PeerNetwork({ transport: memory, encryption: "require" }),
      torrent,
      seedDir,
      true,
    ),
    await startNode(prefer, torrent, seedDir, true),
  ];
  assert(seeders[0].session.complete, "seeder should see its data as complete");
  const leecher = await startNode(prefer, torrent, `${root}/leech`, false);
  leecher.session.addPeers(seeders.map((s) => ({ host: "127.0.0.1", port: s.port })), "manual");
  await leecher.session.done;
  const stats = leecher.session.stats();
  assertEquals(stats.piecesDone, torrent.pieceCount);
  assertEquals(stats.peersEncrypted, stats.peersConnected, "every connection encrypted");
  for (const node of [leecher, ...seeders]) await node.stop();
  for (const f of files) {
    const got = await Deno.readFile(`${root}/leech/swarm/${f.path.join("/")}`);
    assertEquals(got, f.data, f.path.join("/"));
  }
  await Deno.remove(root, { recursive: true });
});

Deno.test("a disk slower than the network: the download goes on each time a write frees buffer room", async () => {
  const data = randomBytes(40 * 16384, 3);
  const torrent = parseTorrent(
    createTorrentFromBuffers("slow", [{ path: ["slow.bin"], data }], {
      pieceLength: 16384,
      creationDate: null,
    }),
  );
  const root = await Deno.makeTempDir();
  await Deno.mkdir(`${root}/seed/slow`, { recursive: true });
  await Deno.writeFile(`${root}/seed/slow/slow.bin`, data);
  const network = new PeerNetwork({ transport: new MemoryTransport(), encryption: "off" });
  const seeder = await startNode(network, torrent, `${root}/seed`, true);
  // Room for two pieces while every write takes 30 ms: the peer's answers arrive long before
  // the room comes back, so only the write's completion can start the next request.
  const leecher = await startNode(network, torrent, `${root}/leech`, false, {
    writeDelayMs: 30,
    maxBufferedBytes: 2 * 16384,
  });
  leecher.session.addPeers([{ host: "127.0.0.1", port: seeder.port }], "manual");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<string>((r) => timer = setTimeout(() => r("stalled"), 20_000));
  const outcome = await Promise.race([leecher.session.done.then(() => "done"), stalled]);
  clearTimeout(timer);
  await leecher.stop();
  await seeder.stop();
  assertEquals(outcome, "done");
  assertEquals(await Deno.readFile(`${root}/leech/slow/slow.bin`), data);
  await Deno.remove(root, { recursive: true });
});

Deno.test("v2 and hybrid torrents: downloaded whole, without asking peers for pad bytes", async () => {
  // Small files and large pieces: nine tenths of the pieces' bytes are pad files.
  const files = Array.from({ length: 6 }, (_, i) => ({
    path: [`f${i}.bin`],
    data: randomBytes(20_000 + i * 1000, 10 + i),
  }));
  const dataBytes = files.reduce((n, f) => n + f.data.length, 0);
  for (const version of ["v2", "hybrid"] as const) {
    const torrent = parseTorrent(
      createTorrentFromBuffers("small", files, {
        pieceLength: 262144,
        creationDate: null,
        version,
      }),
    );
    assert(torrent.totalLength > 10 * dataBytes, "mostly padding");
    const root = await Deno.makeTempDir();
    await Deno.mkdir(`${root}/seed/small`, { recursive: true });
    for (const f of files) await Deno.writeFile(`${root}/seed/small/${f.path[0]}`, f.data);
    const network = new PeerNetwork({ transport: new MemoryTransport(), encryption: "off" });
    const seeder = await startNode(network, torrent, `${root}/seed`, true);
    assert(seeder.session.complete, `${version}: the seeder checks its data as complete`);
    const leecher = await startNode(network, torrent, `${root}/leech`, false);
    leecher.session.addPeers([{ host: "127.0.0.1", port: seeder.port }], "manual");
    await leecher.session.done;
    const stats = leecher.session.stats();
    assertEquals(stats.piecesDone, torrent.pieceCount);
    // Each file's last block is fetched whole (16 KiB at most), its pad blocks not at all.
    assert(stats.downloaded <= dataBytes + files.length * 16384, `${version}: ${stats.downloaded}`);
    for (const node of [leecher, seeder]) await node.stop();
    for (const f of files) {
      assertEquals(await Deno.readFile(`${root}/leech/small/${f.path[0]}`), f.data, version);
    }
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a v2 torrent known only by its info dictionary gets its piece layers from the seeder", async () => {
  const files = [
    { path: ["big.bin"], data: randomBytes(40 * 32768 + 123, 21) },
    { path: ["small.bin"], data: randomBytes(5000, 22) },
  ];
  const torrent = parseTorrent(
    createTorrentFromBuffers("v2", files, {
      pieceLength: 32768,
      creationDate: null,
      version: "v2",
    }),
  );
  const fromMagnet = { ...parseInfo(torrent.infoBytes), announce: [], urlList: [] };
  assertEquals(fromMagnet.v2Pieces!.missingLayers(), [0]);
  const root = await Deno.makeTempDir();
  await Deno.mkdir(`${root}/seed/v2`, { recursive: true });
  for (const f of files) await Deno.writeFile(`${root}/seed/v2/${f.path[0]}`, f.data);
  const network = new PeerNetwork({ transport: new MemoryTransport(), encryption: "off" });
  const seeder = await startNode(network, torrent, `${root}/seed`, true);
  const leecher = await startNode(network, fromMagnet, `${root}/leech`, false);
  leecher.session.addPeers([{ host: "127.0.0.1", port: seeder.port }], "manual");
  await leecher.session.done;
  assertEquals(fromMagnet.v2Pieces!.missingLayers(), []);
  for (const node of [leecher, seeder]) await node.stop();
  for (const f of files) assertEquals(await Deno.readFile(`${root}/leech/v2/${f.path[0]}`), f.data);
  await Deno.remove(root, { recursive: true });
});

Deno.test("v2: a piece that fails is pinned to its bad blocks; the good blocks are kept", async () => {
  // One piece of 64 blocks, so both seeders send blocks of it.
  const data = randomBytes(1 << 20, 31);
  const torrent = parseTorrent(
    createTorrentFromBuffers("pin.bin", data, {
      pieceLength: 1 << 20,
      creationDate: null,
      version: "v2",
    }),
  );
  const root = await Deno.makeTempDir();
  for (const dir of ["honest", "liar"]) {
    await Deno.mkdir(`${root}/${dir}`, { recursive: true });
    await Deno.writeFile(`${root}/${dir}/pin.bin`, data);
  }
  const network = new PeerNetwork({ transport: new MemoryTransport(), encryption: "off" });
  const honest = await startNode(network, torrent, `${root}/honest`, true);
  // Every block it sends is spoilt, and so are the block hashes it gives.
  const liar = await startNode(network, torrent, `${root}/liar`, true, {
    corrupt: true,
    uploadRate: 256 * 1024,
  });
  const failed: number[] = [], banned: string[] = [];
  const leecher = await startNode(network, torrent, `${root}/leech`, false, {
    events: {
      pieceFailed: (index) => failed.push(index),
      peerBanned: (_address, reason) => banned.push(reason),
    },
  });
  // The liar first: it starts the piece, then the honest seeder joins in on it.
  leecher.session.addPeers([{ host: "127.0.0.1", port: liar.port }], "manual");
  while (leecher.session.stats().downloaded === 0) await new Promise((r) => setTimeout(r, 2));
  leecher.session.addPeers([{ host: "127.0.0.1", port: honest.port }], "manual");
  await leecher.session.done;
  const stats = leecher.session.stats();
  for (const node of [leecher, honest, liar]) await node.stop();
  assertEquals(await Deno.readFile(`${root}/leech/pin.bin`), data);
  assertEquals(failed, [0]);
  assertEquals(banned, ["sent blocks that failed their v2 hashes"]);
  // Only the liar's blocks were thrown away, not the whole piece.
  assert(stats.wasted > 0 && stats.wasted < 1 << 20, `wasted ${stats.wasted}`);
  assertEquals(stats.wasted % 16384, 0);
  await Deno.remove(root, { recursive: true });
});

Deno.test("a torrent whose share of connections shrinks closes its least useful peers", async () => {
  const data = randomBytes(1 << 20, 9);
  const torrent = parseTorrent(
    createTorrentFromBuffers("share.bin", data, { pieceLength: 16384, creationDate: null }),
  );
  const root = await Deno.makeTempDir();
  await Deno.mkdir(`${root}/seed`);
  await Deno.writeFile(`${root}/seed/share.bin`, data);
  const network = new PeerNetwork({ transport: new MemoryTransport() });
  let share = Infinity;
  // Slow, so the leechers stay leechers (two seeds would part at once).
  const seeder = await startNode(network, torrent, `${root}/seed`, true, {
    uploadRate: 20_000,
    peerShare: () => share,
  });
  const leechers = [];
  for (let i = 0; i < 9; i++) {
    const node = await startNode(network, torrent, `${root}/leech${i}`, false);
    node.session.addPeers([{ host: "127.0.0.1", port: seeder.port }], "manual");
    leechers.push(node);
  }
  const connected = () => seeder.session.stats().peersConnected;
  const until = async (what: string, ok: () => boolean) => {
    const deadline = performance.now() + 5000;
    while (!ok()) {
      if (performance.now() > deadline) throw new Error(`timed out: ${what} (${connected()})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    await until("nine leechers connected", () => connected() === 9);
    share = 1; // more torrents in the process: one peer, and five more that called
    await until("down to the share and its slack", () => connected() === 6);
    await new Promise((r) => setTimeout(r, 600));
    assertEquals(connected(), 6, "those closed are not let back in past the slack");
  } finally {
    for (const node of [seeder, ...leechers]) await node.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("torrents downloading together hold their pieces in flight within one shared pool", async () => {
  const L = 16384;
  const files = [randomBytes(1 << 20, 10), randomBytes(1 << 20, 11)];
  const torrents = files.map((data, i) =>
    parseTorrent(
      createTorrentFromBuffers(`p${i}.bin`, data, { pieceLength: L, creationDate: null }),
    )
  );
  const root = await Deno.makeTempDir();
  await Deno.mkdir(`${root}/seed`);
  for (let i = 0; i < 2; i++) await Deno.writeFile(`${root}/seed/p${i}.bin`, files[i]);
  const network = new PeerNetwork({ transport: new MemoryTransport() });
  const pool = new BufferPool(3 * L);
  const nodes = [];
  let most = 0;
  const watch = setInterval(() => most = Math.max(most, pool.used), 1);
  try {
    const seeders = await Promise.all(
      torrents.map((t) => startNode(network, t, `${root}/seed`, true)),
    );
    nodes.push(...seeders);
    // Slow disks keep pieces in flight, so the pool is what holds them back.
    const leechers = await Promise.all(
      torrents.map((t) =>
        startNode(network, t, `${root}/leech`, false, { sharedBuffers: pool, writeDelayMs: 5 })
      ),
    );
    nodes.push(...leechers);
    leechers.forEach((l, i) =>
      l.session.addPeers([{ host: "127.0.0.1", port: seeders[i].port }], "manual")
    );
    await Promise.all(leechers.map((l) => l.session.done));
    for (let i = 0; i < 2; i++) {
      assertEquals(await Deno.readFile(`${root}/leech/p${i}.bin`), files[i]);
    }
    // Each may go two pieces past the pool (never starved), no more.
    assert(most <= 3 * L + 2 * 2 * L, `at most ${most / L} pieces in flight`);
    assert(most >= 3 * L, `the pool was used: ${most / L} pieces at most`);
  } finally {
    clearInterval(watch);
    for (const node of nodes) await node.stop();
    await Deno.remove(root, { recursive: true });
  }
  assertEquals(pool.used, 0, "every byte given back");
});

Deno.test("availableBytes: the wanted bytes a connected peer has, all of them with a seed", async () => {
  const pieceLength = 32768, data = randomBytes(10 * pieceLength, 9);
  const torrent = parseTorrent(
    createTorrentFromBuffers("avail.bin", data, { pieceLength, creationDate: null }),
  );
  const root = await Deno.makeTempDir();
  await Deno.mkdir(`${root}/partial`);
  await Deno.mkdir(`${root}/seed`);
  const partialData = new Uint8Array(data.length);
  partialData.set(data.subarray(0, 4 * pieceLength));
  await Deno.writeFile(`${root}/partial/avail.bin`, partialData);
  await Deno.writeFile(`${root}/seed/avail.bin`, data);
  const network = new PeerNetwork({ transport: new MemoryTransport(), encryption: "off" });
  // Peers that serve a byte a second: what they have stays theirs while this is looked at.
  const partial = await startNode(network, torrent, `${root}/partial`, false, { uploadRate: 1 });
  const seeder = await startNode(network, torrent, `${root}/seed`, true, { uploadRate: 1 });
  const leecher = await startNode(network, torrent, `${root}/leech`, false);
  try {
    assertEquals(leecher.session.availableBytes(), 0, "no peer yet");
    leecher.session.addPeers([{ host: "127.0.0.1", port: partial.port }], "manual");
    await waitFor("the partial peer's 4 pieces", () => {
      return leecher.session.availableBytes() === 4 * pieceLength;
    }, 10_000);
    leecher.session.addPeers([{ host: "127.0.0.1", port: seeder.port }], "manual");
    await waitFor("every piece, from the seed", () => {
      return leecher.session.availableBytes() === 10 * pieceLength;
    }, 10_000);
  } finally {
    for (const node of [leecher, partial, seeder]) await node.stop();
    await Deno.remove(root, { recursive: true });
  }
});
