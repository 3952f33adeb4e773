import { assert, assertEquals } from "../assert.ts";
import { Session } from "../../src/engine/mod.ts";
import { createTorrentFromBuffers, parseTorrent, type Torrent } from "../../src/metainfo/mod.ts";
import { listenForPeers, makePeerId } from "../../src/peer/mod.ts";
import { Storage } from "../../src/storage/mod.ts";
import { xorshiftBytes as randomBytes } from "../random.ts";

interface Node {
  session: Session;
  storage: Storage;
  port: number;
  stop(): Promise<void>;
}

async function startNode(torrent: Torrent, dir: string, seed: boolean): Promise<Node> {
  const storage = await Storage.open(torrent, dir);
  const have = await storage.verify();
  const peerId = makePeerId();
  const session = new Session({ torrent, storage, have, peerId, seed, tickMs: 200 });
  const listener = listenForPeers({
    hostname: "127.0.0.1",
    port: 0,
    route: () => ({
      options: {
        infoHash: torrent.infoHash,
        peerId,
        timeoutMs: 5000,
        maxMessageLength: 1 << 20,
      },
      adopt: (peer) => session.addIncoming(peer),
    }),
  });
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

  const seeders = [
    await startNode(torrent, seedDir, true),
    await startNode(torrent, seedDir, true),
  ];
  assert(seeders[0].session.complete, "seeder should see its data as complete");
  const leecher = await startNode(torrent, `${root}/leech`, false);
  leecher.session.addPeers(seeders.map((s) => ({ host: "127.0.0.1", port: s.port })), "manual");
  await leecher.session.done;
  const stats = leecher.session.stats();
  assertEquals(stats.piecesDone, torrent.pieceCount);
  for (const node of [leecher, ...seeders]) await node.stop();
  for (const f of files) {
    const got = await Deno.readFile(`${root}/leech/swarm/${f.path.join("/")}`);
    assertEquals(got, f.data, f.path.join("/"));
  }
  await Deno.remove(root, { recursive: true });
});
