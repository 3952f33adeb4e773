/**
 * BitTorrent v2 (BEP 52) against libtorrent, on 127.0.0.1: libtorrent makes v2-only and hybrid
 * torrents and seeds them to our client, and downloads them from our client seeding alone, each
 * from the .torrent and from a `urn:btmh` magnet link (then the piece layers come through hash
 * requests, answered by the seeder). The torrents name no tracker; peers are given directly
 * (`--peer` or `x.pe` for ours, `connect_peer` for libtorrent).
 */
import { assert, assertEquals } from "../assert.ts";
import {
  delay,
  libtorrentCreate,
  libtorrentDownload,
  runOurClient,
  sameTree,
  startLibtorrentSeeder,
  tcpAccepts,
  toolGate,
  treesEqual,
} from "./fixtures.ts";
import { makePayload, type PayloadFile } from "../../testdata/payload.ts";
import { parseTorrent } from "../../src/metainfo/mod.ts";

const KiB = 1024, MiB = 1 << 20;
const PIECE = 256 * KiB;

/**
 * Files that exercise v2's layout: one spanning many pieces (checked by its piece layer), one of
 * exactly a piece and one far smaller (checked by their roots), an empty one, nested folders.
 */
const FILES: PayloadFile[] = [
  { path: "v2set/big.bin", size: 5 * MiB + 12_345 },
  { path: "v2set/dir/exact.bin", size: PIECE },
  { path: "v2set/dir/small.txt", size: 1000 },
  { path: "v2set/empty.txt", size: 0 },
  { path: "v2set/z.bin", size: 700_001 },
];

const missing = await toolGate(["libtorrent"]);

/** What `withTorrent` makes: folders, the .torrent, and its v2 magnet link. */
interface Made {
  root: string;
  data: string;
  out: string;
  torrent: string;
  /** `magnet:?xt=urn:btmh:1220<v2 hash>`. */
  magnet: string;
}

/** A payload and libtorrent's torrent of it, in a temp folder removed after `fn`. */
async function withTorrent(
  version: "v2" | "hybrid",
  seed: number,
  fn: (t: Made) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: `interop-${version}-` });
  try {
    const data = `${root}/seed`, out = `${root}/out`, torrent = `${root}/${version}.torrent`;
    await makePayload(data, { files: FILES, seed });
    await Deno.mkdir(out);
    const hashes = await libtorrentCreate({
      source: `${data}/v2set`,
      out: torrent,
      pieceLength: PIECE,
      version,
    });
    assertEquals([hashes.v1 !== null, hashes.v2 !== null], [version === "hybrid", true]);
    await fn({ root, data, out, torrent, magnet: `magnet:?xt=urn:btmh:1220${hashes.v2}` });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** Our client downloads `input` (a .torrent or magnet link) to `out`; checks exit and summary. */
async function ourDownload(input: string, out: string, extraArgs: string[], label: string) {
  const ours = await runOurClient({ torrent: input, out, extraArgs });
  try {
    const { code, seconds } = await ours.wait(60_000);
    const why = await ours.diagnose();
    assertEquals(code, 0, `our client's exit code; ${why}`);
    assert(/All \d+ pieces verified/.test(ours.stdout()), why);
    console.log(`  ours (${label}): ${seconds.toFixed(2)} s`);
    return await ours.logTail(1 << 20);
  } finally {
    await ours.stop();
  }
}

for (const [version, seed] of [["v2", 521], ["hybrid", 522]] as const) {
  for (const from of ["torrent", "magnet"] as const) {
    Deno.test({
      name: `libtorrent seeds a ${version} torrent -> our client downloads it from the ${from}`,
      ignore: missing(`lt ${version} -> ours (${from})`, "libtorrent"),
      fn: () =>
        withTorrent(version, seed, async ({ data, out, torrent, magnet }) => {
          const seeder = await startLibtorrentSeeder({ torrent, data, trackerOff: true });
          try {
            const peer = `127.0.0.1:${seeder.port}`;
            const input = from === "torrent" ? torrent : `${magnet}&x.pe=${peer}`;
            const log = await ourDownload(input, out, ["--peer", peer], `${version} ${from}`);
            // A v2-only torrent's pieces wait for its piece layers, asked of the seeder; a
            // hybrid one's are checked by their SHA-1s (libtorrent takes no hash requests on
            // its v1 connections).
            if (from === "magnet" && version === "v2") {
              assert(log.includes("piece layer received; 0 still to fetch"), log.slice(-3000));
              // The layers are kept with the fetched metadata for the next run.
              const hash = magnet.slice("magnet:?xt=urn:btmh:1220".length, -24);
              const kept = parseTorrent(await Deno.readFile(`${out}/.bittorrent/${hash}.torrent`));
              assertEquals(kept.v2Pieces!.missingLayers(), []);
            }
            assert(await sameTree(data, out), "our copy equals the source, nothing more");
          } finally {
            await seeder.stop();
          }
        }),
    });

    Deno.test({
      name:
        `our client seeds a ${version} torrent alone -> libtorrent downloads it from the ${from}`,
      ignore: missing(`ours ${version} -> lt (${from})`, "libtorrent"),
      fn: () =>
        withTorrent(version, seed + 10, async ({ root, data, out, torrent, magnet }) => {
          // Ours seeds a copy of its own, so the source stays the pristine reference.
          await makePayload(`${root}/ours`, { files: FILES, seed: seed + 10 });
          const ours = await runOurClient({ torrent, out: `${root}/ours`, seed: true });
          try {
            // It listens once its check of the data is done.
            for (let i = 0; i < 300 && !await tcpAccepts(ours.port); i++) await delay(100);
            const { seconds } = await libtorrentDownload({
              ...(from === "torrent" ? { torrent } : { magnet }),
              out,
              peers: [`127.0.0.1:${ours.port}`],
              timeoutSec: 30,
              trackerOff: true,
            }).catch(async (e) => {
              throw new Error(`${e instanceof Error ? e.message : e}; ${await ours.diagnose()}`);
            });
            console.log(`  libtorrent (${version} ${from} from ours): ${seconds.toFixed(2)} s`);
            assert(await treesEqual(data, out), "libtorrent's copy equals the source");
          } finally {
            await ours.stop();
          }
        }),
    });
  }
}
