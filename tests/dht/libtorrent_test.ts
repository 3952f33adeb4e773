/**
 * Interop: our DHT against libtorrent's (python3-libtorrent through tests/interop/lt_client.py),
 * all on 127.0.0.1. Skipped when libtorrent or mktorrent is missing.
 */
import { Dht, type PeerAddress } from "../../src/dht/mod.ts";
import { fromHex } from "../../src/util/mod.ts";
import { assert } from "../assert.ts";
import {
  freePort,
  freeTcpUdpPort,
  hasTool,
  infoHashHex,
  mktorrent,
  startLibtorrentDhtNode,
  startLibtorrentSeeder,
} from "../interop/fixtures.ts";
import { makePayload } from "../../testdata/payload.ts";

const haveLt = await hasTool("libtorrent");
const haveMktorrent = await hasTool("mktorrent");
const LOOP = "127.0.0.1";

/** Repeats lookups until `want` is among the peers found or `ms` pass. */
async function findPeer(dht: Dht, infoHash: Uint8Array, port: number, ms: number) {
  const deadline = performance.now() + ms;
  const seen: PeerAddress[] = [];
  while (performance.now() < deadline) {
    await dht.lookup(infoHash, (peers) => seen.push(...peers));
    if (seen.some((p) => p.host === LOOP && p.port === port)) return seen;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`peer ${LOOP}:${port} not found in ${ms} ms; saw ${JSON.stringify(seen)}`);
}

Deno.test({
  name: "dht interop: bootstrap from libtorrent nodes, find a libtorrent seeder, announce to them",
  ignore: !(haveLt && haveMktorrent),
  async fn() {
    const started = performance.now();
    const root = await Deno.makeTempDir({ prefix: "dht-interop-" });
    const ours: Dht[] = [];
    const stops: Array<() => Promise<void>> = [];
    try {
      await makePayload(`${root}/seed`, {
        files: [{ path: "payload/a.bin", size: 200_000 }],
        seed: 5,
      });
      const torrent = `${root}/p.torrent`;
      await mktorrent({
        source: `${root}/seed/payload`,
        out: torrent,
        announce: [`http://${LOOP}:${freePort()}/announce`],
      });
      const infoHash = fromHex(await infoHashHex(torrent));

      // Two bare libtorrent DHT nodes (they bootstrap from each other), then the seeder.
      const ltA = await startLibtorrentDhtNode();
      stops.push(ltA.stop);
      const ltB = await startLibtorrentDhtNode({ dhtBootstrap: [`${LOOP}:${ltA.port}`] });
      stops.push(ltB.stop);
      const bootstrap = [`${LOOP}:${ltA.port}`, `${LOOP}:${ltB.port}`];
      const seedPort = await freeTcpUdpPort();
      const seeder = await startLibtorrentSeeder({
        torrent,
        data: `${root}/seed`,
        port: seedPort,
        dhtPort: seedPort,
        dhtBootstrap: bootstrap,
        trackerOff: true,
      });
      stops.push(seeder.stop);

      // Our node joins through libtorrent's nodes and finds the seeder's address.
      const finder = new Dht({ hostname: LOOP, port: 0, queryTimeoutMs: 500, bootstrap });
      ours.push(finder);
      await finder.start();
      await finder.bootstrap();
      assert(finder.nodeCount >= 1, `bootstrapped from libtorrent (${finder.nodeCount} nodes)`);
      await findPeer(finder, infoHash, seedPort, 12_000);

      // Our announce_peer (with libtorrent's token) is stored by libtorrent: with the finder
      // gone, only libtorrent nodes can hand the announced port to a third node of ours (our
      // nodes never store their own announces).
      await finder.stop();
      const announcePort = freePort();
      const announcer = new Dht({ hostname: LOOP, port: 0, queryTimeoutMs: 500, bootstrap });
      ours.push(announcer);
      await announcer.start();
      await announcer.bootstrap();
      const summary = await announcer.lookup(infoHash, () => {}, { announcePort });
      assert(summary.announced >= 1, `announced to ${summary.announced} nodes`);
      const checker = new Dht({ hostname: LOOP, port: 0, queryTimeoutMs: 500, bootstrap });
      ours.push(checker);
      await checker.start();
      await checker.bootstrap();
      await findPeer(checker, infoHash, announcePort, 5_000);
    } finally {
      await Promise.all(ours.map((d) => d.stop()));
      for (const stop of stops.reverse()) await stop();
      await Deno.remove(root, { recursive: true });
    }
    console.log(`  dht interop: ${((performance.now() - started) / 1000).toFixed(2)} s`);
  },
});
