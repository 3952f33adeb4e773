import { assert, assertEquals } from "../assert.ts";
import { Session } from "../../src/engine/mod.ts";
import { createTorrentFromBuffers, parseTorrent, type Torrent } from "../../src/metainfo/mod.ts";
import { makePeerId, PeerNetwork, PeerRouter } from "../../src/peer/mod.ts";
import { Storage } from "../../src/storage/mod.ts";
import { MemoryTransport } from "../memory_transport.ts";
import { xorshiftBytes as randomBytes } from "../random.ts";

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
  tune: { writeDelayMs?: number; maxBufferedBytes?: number } = {},
): Promise<Node> {
  const storage = await Storage.open(torrent, dir);
  const have = await storage.verify();
  const peerId = makePeerId();
  const slow = tune.writeDelayMs;
  const store = slow === undefined ? storage : {
    read: storage.read.bind(storage),
    writePiece: async (index: number, data: Uint8Array) => {
      await new Promise((r) => setTimeout(r, slow));
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
