/**
 * File selection, sequential order and seeding limits on 127.0.0.1, with seeders and leechers
 * of our own: in-process jobs and the real CLI in a subprocess.
 */
import { assert, assertEquals } from "../assert.ts";
import type { TorrentJob } from "../../src/client/mod.ts";
import { type PieceStore, Session } from "../../src/engine/mod.ts";
import { type BufferFile, createTorrentFromBuffers, type Torrent } from "../../src/metainfo/mod.ts";
import { makePeerId, PeerNetwork } from "../../src/peer/mod.ts";
import { type CommandIO, parseArgs, runDownload } from "../../src/cli/mod.ts";
import { magnetUri } from "../../src/metainfo/mod.ts";
import { Storage } from "../../src/storage/mod.ts";
import { startTracker, type TrackerServer } from "../../src/tracker/mod.ts";
import {
  addressOf,
  assertPayload,
  LOOPBACK,
  openJob,
  patternBytes,
  torrentOf,
  waitFor,
  within,
  writePayload,
} from "./helpers.ts";

const MAIN = decodeURIComponent(new URL("../../src/main.ts", import.meta.url).pathname);
const P = 16_384;
const FAST_ANNOUNCER = { httpTimeoutMs: 2_000, stopTimeoutMs: 1_000 };

/** Five files whose boundaries fall inside pieces (and two inside the same piece). */
const FILES: BufferFile[] = [
  { path: ["a.bin"], data: patternBytes(3 * P + 5_000, 1) },
  { path: ["sub", "b.bin"], data: patternBytes(P + 7, 2) },
  { path: ["sub", "c.bin"], data: patternBytes(4 * P - 3_000, 3) },
  { path: ["d.bin"], data: patternBytes(2_000, 4) },
  { path: ["e.bin"], data: patternBytes(2 * P + 999, 5) },
];

function makeTorrent(announce: string[][] = []): Torrent {
  return torrentOf(
    createTorrentFromBuffers("sel", FILES, { pieceLength: P, announce, creationDate: null }),
  );
}

/** One flag per torrent file: true for the 1-based indexes given. */
function choose(...indexes: number[]): boolean[] {
  return FILES.map((_, i) => indexes.includes(i + 1));
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Pieces touched by the files given by 1-based index. */
function piecesOf(torrent: Torrent, ...indexes: number[]): Set<number> {
  const out = new Set<number>();
  for (const k of indexes) {
    const f = torrent.files[k - 1];
    if (f.length === 0) continue;
    for (let p = Math.floor(f.offset / P); p <= Math.floor((f.offset + f.length - 1) / P); p++) {
      out.add(p);
    }
  }
  return out;
}

async function withSeeder(
  torrent: Torrent,
  fn: (seeder: TorrentJob, root: string) => Promise<void>,
  trackers = false,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "bt-select-" });
  await writePayload(`${root}/seed`, torrent.name, FILES);
  const seeder = await openJob(torrent, `${root}/seed`, {
    seed: true,
    trackers: trackers || [],
    announcer: FAST_ANNOUNCER,
  });
  try {
    assert(seeder.session!.complete, "the seeder has everything");
    seeder.start();
    await fn(seeder, root);
  } finally {
    await seeder.stop();
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("selection: only chosen files are fetched and written; a later run fetches the rest", async () => {
  const torrent = makeTorrent();
  await withSeeder(torrent, async (seeder, root) => {
    const out = `${root}/leech`;
    const dir = `${out}/${torrent.name}`;
    const wanted1 = piecesOf(torrent, 2, 4);

    // Run 1: b.bin and d.bin only.
    const first = await openJob(torrent, out, { selected: choose(2, 4) });
    try {
      first.addPeers([addressOf(seeder)]);
      first.start();
      await within("selected download", 15_000, first.done);
      const s = first.stats();
      assertEquals(s.pieceCount, wanted1.size, "progress counts the chosen files' pieces");
      assertEquals(s.piecesDone, wanted1.size);
      assert(first.session!.finished && !first.session!.complete, "finished, but not a seed");
      assertEquals(
        [...first.have.ones()].sort((x, y) => x - y),
        [...wanted1].sort((x, y) => x - y),
      );
      assertEquals(s.left, torrent.totalLength - s.bytesDone, "trackers hear what is left of all");
      assert(s.downloaded - s.wasted <= wanted1.size * P, `fetched ${s.downloaded} bytes`);
    } finally {
      await first.stop();
    }
    await assertPayload(out, torrent.name, [FILES[1], FILES[3]]);
    for (const name of ["a.bin", "sub/c.bin", "e.bin"]) {
      assert(!(await exists(`${dir}/${name}`)), `${name} must not exist`);
    }
    const parts = [...Deno.readDirSync(`${out}/.bittorrent`)].map((e) => e.name);
    assert(parts.includes(`${torrent.infoHashHex}.parts`), `part file in ${parts}`);

    // Run 2: the rest. The shared pieces come from the part file, not from the network.
    const second = await openJob(torrent, out, { selected: choose(1, 3, 5) });
    try {
      for (const p of wanted1) assert(second.have.has(p), `piece ${p} had at start`);
      const haveAtStart = second.have.count;
      assert(haveAtStart < torrent.pieceCount, "the rest is missing");
      second.addPeers([addressOf(seeder)]);
      second.start();
      await within("rest of the download", 15_000, second.done);
      const s = second.stats();
      assert(second.session!.complete, "every piece had now");
      const missing = (torrent.pieceCount - haveAtStart) * P;
      assert(s.downloaded - s.wasted <= missing, `fetched ${s.downloaded}, missing ${missing}`);
    } finally {
      await second.stop();
    }
    await assertPayload(out, torrent.name, FILES);

    // Every file chosen: nothing left for the part file to hold.
    const third = await openJob(torrent, out, {});
    try {
      assert(third.session!.complete);
      assert(!(await exists(`${out}/.bittorrent/${torrent.infoHashHex}.parts`)));
    } finally {
      await third.stop();
    }
  });
});

Deno.test("sequential: pieces complete in index order; a selection's pieces only", async () => {
  const torrent = makeTorrent();
  await withSeeder(torrent, async (seeder, root) => {
    for (const selected of [undefined, choose(3, 5)]) {
      const out = `${root}/seq-${selected ? "some" : "all"}`;
      const storage = await Storage.open(torrent, out, { selected });
      const order: number[] = [];
      const recorder: PieceStore = {
        writePiece: (index, data) => {
          order.push(index);
          return storage.writePiece(index, data);
        },
        read: (index, begin, length) => storage.read(index, begin, length),
      };
      const wanted = storage.wantedPieces();
      const session = new Session({
        torrent,
        storage: recorder,
        have: await storage.verify(),
        peerId: makePeerId(),
        dial: new PeerNetwork().dial,
        wanted,
        sequential: true,
        tickMs: 100,
      });
      try {
        session.addPeers([addressOf(seeder)], "manual");
        session.start();
        await within("sequential download", 15_000, session.done);
      } finally {
        await session.stop();
        await storage.close();
      }
      assertEquals(order, [...wanted.ones()], "written in index order, wanted pieces only");
    }
  });
});

// ---- the CLI in a subprocess ------------------------------------------------------------------

interface Cli {
  child: Deno.ChildProcess;
  output: Promise<{ code: number; stdout: string; stderr: string }>;
}

function startCli(args: string[], cwd: string): Cli {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, "--no-dht", "--log-dir", `${cwd}/logs`, ...args],
    cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output().then((o) => ({
    code: o.code,
    stdout: new TextDecoder().decode(o.stdout),
    stderr: new TextDecoder().decode(o.stderr),
  }));
  return { child, output };
}

async function finished(cli: Cli, ms: number) {
  try {
    return await within("the CLI", ms, cli.output);
  } catch (e) {
    try {
      cli.child.kill("SIGKILL");
    } catch { /* gone */ }
    await cli.output.catch(() => {});
    throw e;
  }
}

Deno.test("cli: --files lists the files; a bad --select is a usage error", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-select-cli-" });
  try {
    const torrent = `${root}/sel.torrent`;
    await Deno.writeFile(
      torrent,
      createTorrentFromBuffers("sel", FILES, { pieceLength: P, creationDate: null }),
    );
    const list = await finished(startCli(["--files", torrent], root), 20_000);
    assertEquals(list.code, 0, list.stderr);
    const lines = list.stdout.trimEnd().split("\n");
    assertEquals(lines.length, 1 + FILES.length, list.stdout);
    assert(lines[0].startsWith("sel: 5 files"), lines[0]);
    assert(/^\s*3\s+61\.1 KiB\s+sel\/sub\/c\.bin$/.test(lines[3]), lines[3]);
    assert(!(await exists(`${root}/logs`)), "listing writes no log");

    const bad = await finished(startCli(["--select", "2,9", torrent], root), 20_000);
    assertEquals(bad.code, 2, bad.stderr);
    assertEquals(
      bad.stderr.trim(),
      "bittorrent: --select: there is no file 9; the torrent has 5 files (see --files)",
    );
    assert(!(await exists(`${root}/sel`)), "nothing created");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("cli: --select --sequential downloads the chosen files from a tracker's seeder", async () => {
  const tracker = await startTracker({ hostname: LOOPBACK });
  try {
    const torrent = makeTorrent([[tracker.httpUrl]]);
    await withSeeder(torrent, async (_seeder, root) => {
      await waitFor(
        "seeder on the tracker",
        () => tracker.swarm(torrent.infoHashHex).complete >= 1,
      );
      await Deno.writeFile(
        `${root}/sel.torrent`,
        createTorrentFromBuffers("sel", FILES, {
          pieceLength: P,
          announce: [[tracker.httpUrl]],
          creationDate: null,
        }),
      );
      const run = await finished(
        startCli(
          ["-o", "out", "--port", "0", "--select", "1,4-5", "--sequential", "sel.torrent"],
          root,
        ),
        30_000,
      );
      assertEquals(run.code, 0, `${run.stdout}\n${run.stderr}`);
      await assertPayload(`${root}/out`, torrent.name, [FILES[0], FILES[3], FILES[4]]);
      assert(!(await exists(`${root}/out/sel/sub`)), "no folder for unchosen files");
    }, true);
  } finally {
    await tracker.close();
  }
});

async function seedRatioRun(tracker: TrackerServer, extra: string[]): Promise<void> {
  const torrent = makeTorrent([[tracker.httpUrl]]);
  const root = await Deno.makeTempDir({ prefix: "bt-seed-cli-" });
  try {
    await writePayload(`${root}/data`, torrent.name, FILES);
    await Deno.writeFile(
      `${root}/sel.torrent`,
      createTorrentFromBuffers("sel", FILES, {
        pieceLength: P,
        announce: [[tracker.httpUrl]],
        creationDate: null,
      }),
    );
    const cli = startCli(["-o", "data", "--port", "0", ...extra, "sel.torrent"], root);
    try {
      await waitFor(
        "our CLI seeding on the tracker",
        () => tracker.swarm(torrent.infoHashHex).complete >= 1,
        20_000,
      );
    } catch (e) {
      cli.child.kill("SIGKILL");
      const out = await cli.output;
      throw new Error(`${e}: ${out.stdout} ${out.stderr}`);
    }
    const leecher = await openJob(torrent, `${root}/leech`, {
      trackers: true,
      announcer: FAST_ANNOUNCER,
    });
    try {
      leecher.start();
      await within("download from the CLI", 20_000, leecher.done);
    } finally {
      await leecher.stop();
    }
    await assertPayload(`${root}/leech`, torrent.name, FILES);
    const run = await finished(cli, 15_000);
    assertEquals(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert(/Seeding done: ratio \d+\.\d\d reached/.test(run.stdout), run.stdout);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("cli: seeding stops with exit 0 once a leecher of ours brings the ratio to 1", async () => {
  const tracker = await startTracker({ hostname: LOOPBACK });
  try {
    await seedRatioRun(tracker, ["--seed-ratio", "1"]);
  } finally {
    await tracker.close();
  }
});

Deno.test("cli: --seed-time ends seeding with exit 0", async () => {
  const torrent = makeTorrent();
  const root = await Deno.makeTempDir({ prefix: "bt-seed-time-" });
  try {
    await writePayload(`${root}/data`, torrent.name, FILES);
    await Deno.writeFile(
      `${root}/sel.torrent`,
      createTorrentFromBuffers("sel", FILES, { pieceLength: P, creationDate: null }),
    );
    const started = performance.now();
    const run = await finished(
      startCli(["-o", "data", "--port", "0", "--seed-time", "1s", "sel.torrent"], root),
      20_000,
    );
    assertEquals(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert(performance.now() - started >= 1_000, "seeded at least a second");
    assert(/Seeding done: seeded for/.test(run.stdout), run.stdout);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("cli: a magnet link with --files lists after the metadata; --select then downloads", async () => {
  const torrent = makeTorrent();
  await withSeeder(torrent, async (seeder, root) => {
    const uri = magnetUri({ infoHashHex: torrent.infoHashHex, peers: [addressOf(seeder)] });
    let stdout = "";
    const io: CommandIO = {
      out: (t) => stdout += t,
      err: (t) => stdout += t,
      isTTY: false,
      columns: () => 100,
    };
    const run = (...args: string[]) => {
      const parsed = parseArgs(["--no-dht", "--port", "0", "--log-dir", `${root}/logs`, ...args]);
      assert("input" in parsed);
      return within("the command", 20_000, runDownload(parsed, io));
    };
    assertEquals(await run("--files", "-o", `${root}/none`, uri), 0);
    const listing = stdout.slice(stdout.indexOf("sel: 5 files"));
    assert(/\n\s+4\s+2\.0 KiB\s+sel\/d\.bin\n/.test(listing), JSON.stringify(stdout));
    assert(!(await exists(`${root}/none`)), "listing creates no output folder");

    stdout = "";
    assertEquals(await run("--select", "4", "-o", `${root}/out`, uri), 0, stdout);
    await assertPayload(`${root}/out`, torrent.name, [FILES[3]]);
    for (const name of ["a.bin", "sub", "e.bin"]) {
      assert(!(await exists(`${root}/out/sel/${name}`)), `${name} must not exist`);
    }
  });
});
