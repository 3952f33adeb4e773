/**
 * The download command as a user meets it, in-process through `main` or `runDownload` with the
 * output captured: `--json` events, `--peer`, and the rough edges a new user hit (a silent wait
 * with no way to find peers, a port taken, the order of the last lines, a magnet's metadata
 * fetched again on every run, what the log keeps).
 */
import { main } from "../../src/main.ts";
import { type CliOptions, type CommandIO, parseArgs, runDownload } from "../../src/cli/mod.ts";
import { PeerHub, TorrentJob } from "../../src/client/mod.ts";
import { createTorrentFromBuffers, magnetUri, parseTorrent } from "../../src/metainfo/mod.ts";
import { startTracker } from "../../src/tracker/mod.ts";
import { assert, assertEquals } from "../assert.ts";
import { xorshiftBytes } from "../random.ts";
import { actLikeASeeder, FakePeer, pieceMessage } from "../integration/fake_peer.ts";

interface Capture extends CommandIO {
  stdout: string;
  stderr: string;
}

function capture(): Capture {
  const c: Capture = {
    stdout: "",
    stderr: "",
    out: (t) => c.stdout += t,
    err: (t) => c.stderr += t,
    isTTY: false,
    columns: () => 120,
  };
  return c;
}

const PIECE = 32768;

/** A folder with `data` as `name`, its torrent, and a seeder of our own serving it. */
async function swarm(
  name: string,
  data: Uint8Array,
  opts: { announce?: string[][]; uploadRate?: number } = {},
): Promise<{ dir: string; torrentPath: string; seeder: TorrentJob; stop(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "bt-download-" });
  const bytes = createTorrentFromBuffers(name, data, {
    pieceLength: PIECE,
    announce: opts.announce,
    creationDate: null,
  });
  await Deno.mkdir(`${dir}/seed`);
  await Deno.writeFile(`${dir}/seed/${name}`, data);
  await Deno.writeFile(`${dir}/t.torrent`, bytes);
  const seeder = await TorrentJob.open({
    torrent: parseTorrent(bytes),
    output: `${dir}/seed`,
    hub: await PeerHub.open({
      hostname: "127.0.0.1",
      port: 0,
      utp: false,
      maxUploadRate: opts.uploadRate,
    }),
    ownsHub: true,
    seed: true,
    trackers: [],
  });
  seeder.start();
  return {
    dir,
    torrentPath: `${dir}/t.torrent`,
    seeder,
    async stop() {
      await seeder.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function events(stdout: string): { event: string; [key: string]: unknown }[] {
  return stdout.trimEnd().split("\n").map((line) => JSON.parse(line));
}

async function logText(dir: string): Promise<string> {
  let text = "";
  for (const e of Deno.readDirSync(dir)) text += await Deno.readTextFile(`${dir}/${e.name}`);
  return text;
}

Deno.test("--json: start, progress, tracker, piece-failed, peer-banned, complete and done events", async () => {
  const data = xorshiftBytes(16 * PIECE, 21);
  const tracker = await startTracker({ hostname: "127.0.0.1" });
  // A first tier whose tracker refuses at once: its failure is an event, with the retry time.
  const dead = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadUrl = `http://127.0.0.1:${dead.addr.port}/announce`;
  dead.close();
  const s = await swarm("j.bin", data, {
    announce: [[deadUrl], [tracker.httpUrl]],
    uploadRate: 256 * 1024,
  });
  // A peer that answers every request with wrong bytes: one failed piece gets it banned.
  const liar = new FakePeer(async (w) => {
    if (!(await actLikeASeeder(w, parseTorrent(await Deno.readFile(s.torrentPath))))) return;
    for (let r = await w.nextRequest(); r !== null; r = await w.nextRequest()) {
      const junk = new Uint8Array(r.length).fill(0x5a);
      if (!(await w.write(pieceMessage(r.index, r.begin, junk)))) return;
    }
  });
  try {
    const io = capture();
    const code = await main([
      s.torrentPath,
      "-o",
      `${s.dir}/out`,
      "--json",
      "--no-dht",
      "--port",
      "0",
      "--log-dir",
      `${s.dir}/logs`,
      "--peer",
      `127.0.0.1:${liar.port}`,
      "--peer",
      `127.0.0.1:${s.seeder.port}`,
    ], io);
    assertEquals(code, 0, io.stderr);
    assertEquals(io.stderr, "");
    const all = events(io.stdout);
    const kinds = all.map((e) => e.event);
    assertEquals(kinds[0], "start");
    assertEquals(kinds.at(-1), "done");
    for (const kind of ["progress", "tracker", "piece-failed", "peer-banned", "complete"]) {
      assert(kinds.includes(kind), `a ${kind} event in ${kinds.join(" ")}`);
    }
    const start = all[0];
    assertEquals([start.name, start.totalBytes, start.pieceCount], ["j.bin", data.length, 16]);
    const failed = all.find((e) => e.event === "tracker" && e.ok === false)!;
    assertEquals([failed.url, failed.message], [deadUrl, "could not connect: connection refused"]);
    // The next tier answered in the same round: no retry of the dead one is scheduled.
    assertEquals(failed.retryIn, null);
    const answered = all.find((e) => e.event === "tracker" && e.ok === true)!;
    assertEquals(answered.url, tracker.httpUrl);
    const banned = all.find((e) => e.event === "peer-banned")!;
    assertEquals(banned.peer, `127.0.0.1:${liar.port}`);
    const pieceFailed = all.find((e) => e.event === "piece-failed")!;
    assertEquals(pieceFailed.peers, [`127.0.0.1:${liar.port}`]);
    const progress = all.filter((e) => e.event === "progress");
    const last = progress.at(-1)!;
    for (const key of ["bytesDone", "totalBytes", "downloadRate", "uploadRate", "eta", "peers"]) {
      assert(key in last, `progress has ${key}`);
    }
    const done = all.at(-1)!;
    assertEquals([done.finished, done.verified, done.piecesDone], [true, true, 16]);
    assertEquals(await Deno.readFile(`${s.dir}/out/j.bin`), data);
    // The failure went to the log as a warning, said as soon as known, its URL once.
    const log = await logText(`${s.dir}/logs`);
    const warning = `WARN  [main] tracker ${deadUrl}: could not connect: connection refused\n`;
    assert(log.includes(warning), log);
  } finally {
    await liar.close();
    await tracker.close();
    await s.stop();
  }
});

Deno.test("no tracker, no DHT and no --peer: one line saying so and what would help", async () => {
  const s = await swarm("lonely.bin", xorshiftBytes(PIECE, 22));
  try {
    const io = capture();
    const code = await main([s.torrentPath, "-o", `${s.dir}/out`, "--no-dht"], io);
    assertEquals(code, 1);
    assertEquals(
      io.stderr,
      "bittorrent: error: no way to find peers: the torrent names no tracker, the DHT is " +
        "off, and no --peer was given; give a peer with --peer HOST:PORT or leave the DHT on\n",
    );
    assertEquals(io.stdout, "");
    const magnet = magnetUri({ infoHashHex: "ab".repeat(20) });
    const m = capture();
    assertEquals(await main([magnet, "--no-dht"], m), 1);
    assert(m.stderr.includes("the magnet link names no tracker and no peer"), m.stderr);
  } finally {
    await s.stop();
  }
});

/** `runDownload` of `args`, interrupted once `until` holds; the capture and the exit code. */
async function interrupted(
  args: string[],
  until: (io: Capture) => boolean | Promise<boolean>,
): Promise<{ io: Capture; code: number }> {
  const io = capture();
  const ac = new AbortController();
  const running = runDownload(parseArgs(args) as CliOptions, io, ac.signal);
  const deadline = performance.now() + 10_000;
  while (!(await until(io))) {
    if (performance.now() > deadline) throw new Error(`never happened; output: ${io.stdout}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  ac.abort();
  return { io, code: await running };
}

Deno.test("a taken --port is said once on stderr; no tracker: 'Stopping...' without trackers", async () => {
  const s = await swarm("p.bin", xorshiftBytes(PIECE, 23), { uploadRate: 1 });
  const taken = Deno.listen({ hostname: "0.0.0.0", port: 0 });
  try {
    const port = taken.addr.port;
    const { io, code } = await interrupted(
      [
        s.torrentPath,
        "-o",
        `${s.dir}/out`,
        "--no-dht",
        "--port",
        String(port),
        "--log-dir",
        `${s.dir}/logs`,
        "--peer",
        `127.0.0.1:${s.seeder.port}`,
      ],
      (io) => io.stdout.includes("[downloading]"),
    );
    assertEquals(code, 130);
    const warnings = io.stderr.trimEnd().split("\n");
    assertEquals(warnings.length, 1, io.stderr);
    assert(
      /^bittorrent: warning: port \d+ is taken; listening for peers on port \d+ instead$/.test(
        warnings[0],
      ),
      warnings[0],
    );
    assert(io.stdout.includes("\nStopping...\n"), io.stdout);
    assert(!io.stdout.includes("telling trackers"), io.stdout);
  } finally {
    taken.close();
    await s.stop();
  }
});

Deno.test("with --seed and no way to find peers it warns and waits for peers to call", async () => {
  const s = await swarm("w.bin", xorshiftBytes(PIECE, 24));
  try {
    const { io, code } = await interrupted(
      [s.torrentPath, "-o", `${s.dir}/seed`, "--no-dht", "--seed", "--port", "0", "-q"],
      (io) => io.stderr.length > 0,
    );
    assertEquals(code, 130);
    assertEquals(
      io.stderr,
      "bittorrent: warning: no way to find peers: the torrent names no tracker, the DHT is " +
        "off, and no --peer was given; waiting for peers to connect\n",
    );
  } finally {
    await s.stop();
  }
});

Deno.test("piped output: no checking line for an empty folder; 'Complete' before '[seeding]'", async () => {
  const data = xorshiftBytes(8 * PIECE, 25);
  const s = await swarm("o.bin", data);
  try {
    const { io } = await interrupted(
      [
        s.torrentPath,
        "-o",
        `${s.dir}/out`,
        "--no-dht",
        "--seed",
        "--port",
        "0",
        "--log-dir",
        `${s.dir}/logs`,
        "--peer",
        `127.0.0.1:${s.seeder.port}`,
      ],
      (io) => io.stdout.includes("[seeding]"),
    );
    assert(!io.stdout.includes("[checking]"), io.stdout);
    const complete = io.stdout.indexOf("Complete: o.bin. Seeding until Ctrl-C");
    const seeding = io.stdout.indexOf("[seeding]");
    assert(complete >= 0 && complete < seeding, io.stdout);
    assert(/Elapsed: \d+\.\ds/.test(io.stdout), io.stdout);
    // The log says what a seeder did, not "download complete" twice over.
    const log = await logText(`${s.dir}/logs`);
    assert(log.includes("INFO  [main] download complete"), log);
    assert(log.includes(`peer 127.0.0.1:${s.seeder.port} connected (manual`), log);
    // Run again on the complete data: it seeds at once, and says so.
    const seeded = async () => {
      try {
        return (await logText(`${s.dir}/logs2`)).includes("data complete: nothing to download");
      } catch {
        return false; // no log yet
      }
    };
    const again = await interrupted(
      [
        s.torrentPath,
        "-o",
        `${s.dir}/out`,
        "--no-dht",
        "--seed",
        "--port",
        "0",
        "-q",
        "--log-dir",
        `${s.dir}/logs2`,
      ],
      seeded,
    );
    assertEquals(again.code, 130);
  } finally {
    await s.stop();
  }
});

Deno.test("a magnet link's metadata is kept in the output folder and not fetched again", async () => {
  const data = xorshiftBytes(4 * PIECE, 26);
  const s = await swarm("m.bin", data);
  try {
    const torrent = parseTorrent(await Deno.readFile(s.torrentPath));
    const magnet = magnetUri({
      infoHashHex: torrent.infoHashHex,
      peers: [{ host: "127.0.0.1", port: s.seeder.port }],
    });
    const args = [magnet, "-o", `${s.dir}/out`, "--no-dht", "--port", "0", "-q"];
    assertEquals(await main([...args, "--log-dir", `${s.dir}/l1`], capture()), 0);
    const kept = `${s.dir}/out/.bittorrent/${torrent.infoHashHex}.torrent`;
    assertEquals(parseTorrent(await Deno.readFile(kept)).infoHashHex, torrent.infoHashHex);
    assert((await logText(`${s.dir}/l1`)).includes("fetching metadata"));
    assertEquals(await main([...args, "--log-dir", `${s.dir}/l2`], capture()), 0);
    const second = await logText(`${s.dir}/l2`);
    assert(!second.includes("fetching metadata"), second);
    assert(second.includes("metadata kept from an earlier run"), second);
    // A damaged copy is fetched again, not trusted.
    await Deno.writeTextFile(kept, "garbage");
    assertEquals(await main([...args, "--log-dir", `${s.dir}/l3`], capture()), 0);
    assert((await logText(`${s.dir}/l3`)).includes("fetching metadata"));
  } finally {
    await s.stop();
  }
});

Deno.test("the log keeps the error that ended a run; a log folder that fails is worded by us", async () => {
  const s = await swarm("e.bin", xorshiftBytes(PIECE, 27));
  try {
    await Deno.writeTextFile(`${s.dir}/plain-file`, "x");
    const io = capture();
    const code = await main([
      s.torrentPath,
      "-o",
      `${s.dir}/plain-file/out`,
      "--no-dht",
      "--port",
      "0",
      "--log-dir",
      `${s.dir}/logs`,
      "--peer",
      "127.0.0.1:9",
    ], io);
    assertEquals(code, 1);
    const log = await logText(`${s.dir}/logs`);
    assert(log.includes("ERROR [main] stopped by an error: cannot create output folder"), log);
    const m2 = capture();
    await main(
      [
        s.torrentPath,
        "-o",
        `${s.dir}/o2`,
        "-q",
        "--no-dht",
        "--port",
        "0",
        "--log-dir",
        `${s.dir}/plain-file/logs`,
        "--peer",
        `127.0.0.1:${s.seeder.port}`,
      ],
      m2,
    );
    assertEquals(
      m2.stderr,
      `bittorrent: warning: cannot create log folder ${s.dir}/plain-file/logs: a part of the ` +
        "path is a file, not a folder; logging is off\n",
    );
  } finally {
    await s.stop();
  }
});
