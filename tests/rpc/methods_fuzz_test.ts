/**
 * Every method of the daemon, called thousands of times with arguments of every wrong shape
 * (seeded, so a failure names its case): each call answers or is refused with `RpcError`,
 * never another exception, and the daemon's torrents are still there to list afterwards.
 * Arguments that name files, folders or web addresses are left out: a random one could touch
 * the disk outside the test's folder or the network.
 */
import { Client, KeptTorrents } from "../../src/client/mod.ts";
import { createTorrentFromBuffers } from "../../src/metainfo/mod.ts";
import { RpcError } from "../../src/rpc/mod.ts";
import { methodsOver } from "./daemon_methods.ts";
import { encodeBase64 } from "../../src/util/mod.ts";
import { assert, assertEquals } from "../assert.ts";
import { LOOPBACK, patternBytes } from "../integration/helpers.ts";
import { mulberry32, type Random, randomInt } from "../random.ts";

const KEYS = [
  "ids",
  "fields",
  "format",
  "paused",
  "metainfo",
  "files-wanted",
  "files-unwanted",
  "priority-high",
  "priority-normal",
  "priority-low",
  "downloadLimit",
  "downloadLimited",
  "uploadLimit",
  "uploadLimited",
  "bandwidthPriority",
  "honorsSessionLimits",
  "seedRatioLimit",
  "seedRatioMode",
  "seedIdleLimit",
  "seedIdleMode",
  "queuePosition",
  "labels",
  "trackerAdd",
  "trackerRemove",
  "trackerReplace",
  "trackerList",
  "delete-local-data",
  "move",
  "speed-limit-down",
  "speed-limit-down-enabled",
  "speed-limit-up",
  "peer-limit-global",
  "peer-limit-per-torrent",
  "encryption",
  "download-queue-size",
  "start-added-torrents",
  "idle-seeding-limit",
  "seedRatioLimited",
  "peer-port",
  "dht-enabled",
  "incomplete-dir",
  "incomplete-dir-enabled",
  "script-torrent-done-filename",
];
const FIELDS = [
  "id",
  "name",
  "status",
  "files",
  "fileStats",
  "wanted",
  "priorities",
  "trackers",
  "trackerStats",
  "trackerList",
  "peers",
  "peersFrom",
  "pieces",
  "availability",
  "primary-mime-type",
  "magnetLink",
  "labels",
  "queuePosition",
  "percentDone",
  "percentComplete",
  "eta",
  "etaIdle",
  "editDate",
  "manualAnnounceTime",
  "sequentialDownload",
  "torrentFile",
  "uploadRatio",
  "doneDate",
];
/** Methods whose arguments name paths or addresses (see above) are called with none. */
const PATHS = new Set(["torrent-set-location", "free-space"]);

function value(r: Random, hash: string, depth = 0): unknown {
  const atoms = [
    0,
    1,
    2,
    -1,
    1.5,
    1e300,
    NaN,
    Number.MAX_SAFE_INTEGER,
    "",
    "x",
    "all",
    "recently-active",
    "required",
    hash,
    "udp://127.0.0.1:9/announce",
    "a,b",
    true,
    false,
    null,
  ];
  const kind = randomInt(r, depth > 2 ? 1 : 4);
  if (kind === 0) return atoms[randomInt(r, atoms.length)];
  if (kind === 1) return Array.from({ length: randomInt(r, 4) }, () => value(r, hash, depth + 1));
  if (kind === 2) return Array.from({ length: randomInt(r, 3) }, () => randomInt(r, 5));
  return { [KEYS[randomInt(r, KEYS.length)]]: value(r, hash, depth + 1) };
}

Deno.test("daemon methods: random arguments are answered or refused with RpcError, never a crash", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-fuzz-" });
  const client = await Client.open({ port: 0, hostname: LOOPBACK, utp: false });
  const kept = await KeptTorrents.open({ client, maxActive: 2 });
  try {
    const methods = methodsOver(kept, root);
    const torrents = [41, 42].map((seed) =>
      createTorrentFromBuffers(`f${seed}.bin`, patternBytes(50_000, seed), { pieceLength: 16384 })
    );
    const metainfo = torrents.map((bytes) => encodeBase64(bytes));
    for (const m of metainfo) await methods["torrent-add"]({ metainfo: m });
    const hash = client.get(1)!.infoHashHex;
    const names = Object.keys(methods);
    const r = mulberry32(0xf022);
    for (let i = 0; i < 3000; i++) {
      const name = names[randomInt(r, names.length)];
      const args: Record<string, unknown> = {};
      if (!PATHS.has(name)) {
        for (let k = randomInt(r, 4); k > 0; k--) {
          args[KEYS[randomInt(r, KEYS.length)]] = value(r, hash);
        }
        if (name === "torrent-add" && r() < 0.5) args.metainfo = metainfo[randomInt(r, 2)];
        if (name === "torrent-get" && r() < 0.7) {
          args.fields = FIELDS.filter(() => r() < 0.5);
        }
      }
      try {
        const result = await methods[name](args);
        assert(typeof result === "object" && result !== null, `${name}: ${typeof result}`);
      } catch (e) {
        if (!(e instanceof RpcError)) {
          throw new Error(`case ${i}: ${name} ${JSON.stringify(args)} threw ${e}`);
        }
      }
    }
    const listed = await methods["torrent-get"]({ fields: ["id", "name"] });
    assert(Array.isArray(listed.torrents), "the daemon still lists its torrents");
    assertEquals(typeof (await methods["session-get"]({}))["rpc-version"], "number");
  } finally {
    await kept.close();
    await client.stop();
    await Deno.remove(root, { recursive: true });
  }
});
