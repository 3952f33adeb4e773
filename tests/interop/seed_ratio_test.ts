/**
 * Seeding limits against real clients on 127.0.0.1: our client (`src/main.ts` in a subprocess)
 * seeds to aria2 or libtorrent after completing, until `--seed-ratio` is met, then exits 0.
 * Each test skips (saying why) only when a tool it needs is missing.
 */
import { assert, assertEquals } from "../assert.ts";
import {
  aria2Download,
  dropSwarm,
  libtorrentDownload,
  makeSwarm,
  type OurClient,
  runOurClient,
  startLibtorrentSeeder,
  toolGate,
  treesEqual,
} from "./fixtures.ts";
import { type PayloadFile } from "../../testdata/payload.ts";

const MiB = 1 << 20;

/** About 9 MiB over files whose sizes do not line up with the pieces. */
const FILES: PayloadFile[] = [
  { path: "ratio/a.bin", size: 5 * MiB + 4321 },
  { path: "ratio/sub/b.bin", size: 3 * MiB - 17 },
  { path: "ratio/c.txt", size: 1 },
  { path: "ratio/d.bin", size: MiB + 999 },
];

const missing = await toolGate(["aria2c", "libtorrent", "opentracker", "mktorrent"]);

const makeRatioSwarm = (seed: number) => makeSwarm(FILES, seed, "interop-ratio-");

async function until(what: string, check: () => boolean | Promise<boolean>, ms: number) {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits for our client's exit and checks it stopped seeding because of the ratio. */
async function expectRatioExit(ours: OurClient): Promise<void> {
  const { code, seconds } = await ours.wait(20_000);
  const why = await ours.diagnose();
  assertEquals(code, 0, `exit code once the ratio is met; ${why}`);
  assert(/Seeding done: ratio \d+\.\d\d reached/.test(ours.stdout()), `says why; ${why}`);
  console.log(`  ours: ran ${seconds.toFixed(2)} s in all`);
}

Deno.test({
  name: "ours downloads from libtorrent, then seeds to aria2 until ratio 1, then exits 0",
  ignore: missing("ratio: lt -> ours -> aria2", "libtorrent", "aria2c", "opentracker", "mktorrent"),
  async fn() {
    const swarm = await makeRatioSwarm(501);
    try {
      const seeder = await startLibtorrentSeeder({ torrent: swarm.httpTorrent, data: swarm.data });
      const ours = await runOurClient({
        torrent: swarm.httpTorrent,
        out: `${swarm.root}/ours`,
        extraArgs: ["--seed-ratio", "1"],
      });
      try {
        try {
          await swarm.tracker.waitForSeeders(swarm.infoHash, 1);
          await until("our download", () => ours.stdout().includes("Complete: "), 60_000);
        } finally {
          await seeder.stop();
        }
        assert(await treesEqual(swarm.data, `${swarm.root}/ours`), "our copy equals the source");
        // Now we are the only seeder left: aria2's copy is what we uploaded.
        await aria2Download({
          torrent: swarm.httpTorrent,
          out: `${swarm.root}/aria2`,
          timeoutSec: 30,
        });
        assert(
          await treesEqual(swarm.data, `${swarm.root}/aria2`),
          "aria2's copy equals the source",
        );
        await expectRatioExit(ours);
      } catch (e) {
        throw new Error(`${e instanceof Error ? e.message : e}\nOURS: ${await ours.diagnose()}`);
      } finally {
        await ours.stop();
      }
    } finally {
      await dropSwarm(swarm);
    }
  },
});

Deno.test({
  name: "ours seeds complete data to libtorrent until ratio 1, then exits 0",
  ignore: missing("ratio: ours -> lt", "libtorrent", "opentracker", "mktorrent"),
  async fn() {
    const swarm = await makeRatioSwarm(502);
    try {
      const ours = await runOurClient({
        torrent: swarm.httpTorrent,
        out: swarm.data,
        extraArgs: ["--seed-ratio", "1.0"],
      });
      try {
        await swarm.tracker.waitForSeeders(swarm.infoHash, 1, 30_000);
        await libtorrentDownload({
          torrent: swarm.httpTorrent,
          out: `${swarm.root}/lt`,
          timeoutSec: 30,
        });
        // Compare the payload only: our client keeps its own state in `.bittorrent/` beside it.
        assert(
          await treesEqual(`${swarm.data}/ratio`, `${swarm.root}/lt/ratio`),
          "libtorrent's copy is right",
        );
        await expectRatioExit(ours);
      } catch (e) {
        throw new Error(`${e instanceof Error ? e.message : e}\nOURS: ${await ours.diagnose()}`);
      } finally {
        await ours.stop();
      }
    } finally {
      await dropSwarm(swarm);
    }
  },
});
