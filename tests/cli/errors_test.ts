/**
 * The real executable as a user meets it: `deno run -A src/main.ts` in a subprocess. Every
 * mistake must end with a non-zero exit code and exactly one line on stderr naming the problem,
 * never a stack trace; Ctrl-C must exit 130 and leave only verified pieces behind.
 */
import { assert, assertEquals } from "../assert.ts";
import { PeerHub, TorrentJob } from "../../src/client/mod.ts";
import { createTorrentFromBuffers, parseTorrent } from "../../src/metainfo/mod.ts";
import { Storage } from "../../src/storage/mod.ts";
import { startTracker } from "../../src/tracker/mod.ts";
import { TORRENTS_DIR } from "../../testdata/torrents.ts";
import { TokenBucket } from "../../src/util/mod.ts";

const MAIN = decodeURIComponent(new URL("../../src/main.ts", import.meta.url).pathname);

/** The path of one of the shared bad inputs in testdata/torrents/. */
function testTorrent(name: string): string {
  return decodeURIComponent(new URL(name, TORRENTS_DIR).pathname);
}
const VERSION: string = (JSON.parse(
  await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
) as { version: string }).version;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** A folder for one test; the CLI runs inside it, with its state (default logs) there too. */
async function workdir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "bt-cli-" });
}

function command(args: string[], cwd: string): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    // --no-dht: a test never contacts the public DHT routers (the default for users).
    args: ["run", "-A", "--quiet", MAIN, ...args, "--no-dht"],
    cwd,
    env: { NO_COLOR: "1", XDG_STATE_HOME: `${cwd}/state` },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

async function run(args: string[], cwd: string): Promise<Run> {
  const out = await command(args, cwd).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/** Fails unless `r` exited with `code` and printed one clean line on stderr matching `names`. */
function assertOneLineError(r: Run, code: number, names: RegExp): void {
  const lines = r.stderr.split("\n").filter((l) => l.trim() !== "");
  assertEquals(r.code, code, `exit code (stderr: ${r.stderr})`);
  assertEquals(lines.length, 1, `exactly one line on stderr, got:\n${r.stderr}`);
  const line = lines[0];
  assert(line.startsWith("bittorrent: "), `prefixed with the program name: ${line}`);
  assert(names.test(line), `"${line}" should match ${names}`);
  assert(!/^\s+at |\w+Error:|unexpected error/m.test(r.stderr), `no stack trace: ${r.stderr}`);
}

const ERROR_CASES: {
  name: string;
  args: (dir: string) => string[] | Promise<string[]>;
  code: number;
  names: RegExp;
  unixOnly?: boolean;
}[] = [
  {
    name: "missing torrent file",
    args: () => ["-i", "no-such.torrent"],
    code: 1,
    names: /error: cannot read torrent file no-such\.torrent: no such file/,
  },
  {
    name: "a folder as the torrent",
    args: async (dir) => {
      await Deno.mkdir(`${dir}/folder.torrent`);
      return ["-i", "folder.torrent"];
    },
    code: 1,
    names: /error: folder\.torrent is a folder/,
  },
  {
    name: "not bencode",
    args: () => ["-i", testTorrent("not-bencode.torrent")],
    code: 1,
    names: /error: .*not-bencode\.torrent: not a torrent file/,
  },
  {
    name: "bencode without 'info'",
    args: () => ["-i", testTorrent("no-info.torrent")],
    code: 1,
    names: /error: .*no-info\.torrent: .*'info'/,
  },
  {
    name: "a bad piece length",
    args: () => ["-i", testTorrent("bad-piece-length.torrent")],
    code: 1,
    names: /error: .*bad-piece-length\.torrent: 'piece length'/,
  },
  {
    name: "a torrent cut short",
    args: () => ["-i", testTorrent("truncated.torrent")],
    code: 1,
    names: /error: .*truncated\.torrent: not a torrent file: .*past end of input/,
  },
  {
    // stat() says 0 bytes for a device: the read itself must be bounded.
    name: "an endless device as the torrent",
    args: () => ["-i", "/dev/zero"],
    code: 1,
    names: /error: \/dev\/zero is too large to be a torrent file/,
    unixOnly: true,
  },
  {
    name: "a malformed magnet link",
    args: () => ["magnet:?xt=urn:btih:0123456789abcdef"],
    code: 1,
    names: /error: .*info-hash/,
  },
  {
    name: "an unknown flag",
    args: () => ["--frobnicate", "a.torrent"],
    code: 2,
    names: /unknown option --frobnicate/,
  },
  {
    name: "a bad rate",
    args: () => ["--max-download-rate", "2X", "a.torrent"],
    code: 2,
    names: /--max-download-rate: invalid rate "2X"/,
  },
  {
    name: "no input at all",
    args: () => [],
    code: 2,
    names: /missing -i/,
  },
  {
    name: "an output folder that cannot be created",
    args: async (dir) => {
      await Deno.writeFile(
        `${dir}/ok.torrent`,
        createTorrentFromBuffers("x.bin", new Uint8Array(1000), { creationDate: null }),
      );
      await Deno.writeTextFile(`${dir}/plain-file`, "I am a file");
      return ["-i", "ok.torrent", "-o", "plain-file/sub", "--port", "0", "--peer", "127.0.0.1:9"];
    },
    code: 1,
    names: /error: cannot create output folder .*plain-file\/sub/,
  },
  {
    name: "a blocklist that is not there",
    args: async (dir) => {
      await Deno.writeFile(
        `${dir}/ok.torrent`,
        createTorrentFromBuffers("x.bin", new Uint8Array(1000), { creationDate: null }),
      );
      return [
        "-i",
        "ok.torrent",
        "--port",
        "0",
        "--peer",
        "127.0.0.1:9",
        "--blocklist",
        "no-such.p2p",
      ];
    },
    code: 1,
    names: /error: cannot read the blocklist no-such\.p2p: no such file or folder/,
  },
];

for (const c of ERROR_CASES) {
  Deno.test({
    name: `cli error: ${c.name} → exit ${c.code}, one line on stderr`,
    ignore: c.unixOnly === true && Deno.build.os === "windows",
  }, async () => {
    const dir = await workdir();
    try {
      const r = await run(await c.args(dir), dir);
      assertOneLineError(r, c.code, c.names);
      assertEquals(r.stdout, "", "nothing on stdout");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test({
  name: "cli: an output folder in /proc, with the executable's own permissions: no Deno wording",
  ignore: Deno.build.os !== "linux",
}, async () => {
  const dir = await workdir();
  try {
    await Deno.writeFile(
      `${dir}/ok.torrent`,
      createTorrentFromBuffers("x.bin", new Uint8Array(1000), { creationDate: null }),
    );
    // The permissions of the `download` task and of the compiled executable, not -A: Deno keeps
    // /proc, /sys and /dev for --allow-all, and its refusal used to reach the user as it was.
    const task = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
    const flags = (task.tasks.download as string).split(" ").filter((w) => w.startsWith("--allow"));
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...flags,
        "--quiet",
        MAIN,
        "ok.torrent",
        "-o",
        "/proc/bt-test/out",
        "--no-dht",
        "--peer",
        "127.0.0.1:9",
      ],
      cwd: dir,
      env: { NO_COLOR: "1", XDG_STATE_HOME: `${dir}/state` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const r = { code: out.code, stdout: "", stderr: new TextDecoder().decode(out.stderr) };
    assertOneLineError(
      r,
      1,
      /cannot create output folder \/proc\/bt-test\/out: permission denied$/,
    );
    assert(!/allow-all|Requires/i.test(r.stderr), r.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: --help exits 0 with the usage on stdout", async () => {
  const dir = await workdir();
  try {
    const r = await run(["--help"], dir);
    assertEquals(r.code, 0);
    assertEquals(r.stderr, "");
    assert(r.stdout.includes("Usage:"), r.stdout);
    assert(r.stdout.includes("--max-download-rate"), r.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: --version exits 0 and prints the version from deno.json", async () => {
  const dir = await workdir();
  try {
    const r = await run(["--version"], dir);
    assertEquals(r.code, 0);
    assertEquals(r.stderr, "");
    assertEquals(r.stdout.trim(), `bittorrent ${VERSION}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Polls until `check` holds or `ms` pass. */
async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

Deno.test("cli: SIGINT exits 130 and keeps only written pieces; a rerun resumes", async () => {
  const dir = await workdir();
  const tracker = await startTracker({ hostname: "127.0.0.1" });
  const PIECE = 32 * 1024;
  const data = new Uint8Array(2 * 1024 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  const torrentBytes = createTorrentFromBuffers("resume.bin", data, {
    pieceLength: PIECE,
    announce: [[tracker.httpUrl]],
    creationDate: null,
  });
  const torrent = parseTorrent(torrentBytes);
  await Deno.writeFile(`${dir}/t.torrent`, torrentBytes);
  await Deno.mkdir(`${dir}/seed`);
  await Deno.writeFile(`${dir}/seed/resume.bin`, data);
  // A slow seeder (256 KiB/s: 8 s for everything) so the interrupt lands mid-download.
  const bucket = new TokenBucket(256 * 1024);
  const seeder = await TorrentJob.open({
    torrent,
    output: `${dir}/seed`,
    hub: await PeerHub.open({ hostname: "127.0.0.1", port: 0, utp: false }),
    ownsHub: true,
    seed: true,
    announcer: { httpTimeoutMs: 2_000, stopTimeoutMs: 1_000 },
    session: { uploadLimiter: bucket, tickMs: 200 },
  });
  const args = ["-i", "t.torrent", "-o", "out", "--port", "0", "--log-dir", "logs"];
  try {
    seeder.start();
    await until(
      "the seeder on the tracker",
      () => tracker.swarm(torrent.infoHashHex).complete === 1,
    );

    // Run 1: interrupted once a good part (but not all) has been served.
    const child = command(args, dir).spawn();
    const first = (async () => {
      const out = await child.output();
      const text = new TextDecoder();
      return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
    })();
    await until("a few pieces served", () => seeder.stats().uploaded >= 8 * PIECE, 15_000);
    child.kill("SIGINT");
    const r1 = await first;
    assertEquals(r1.code, 130, `exit code after SIGINT (stderr: ${r1.stderr})`);
    assertEquals(r1.stderr.trim(), "", "an interrupt is not an error");
    const claimed = /Incomplete: (\d+) of (\d+) pieces verified/.exec(r1.stdout);
    assert(claimed, `a summary with the verified count:\n${r1.stdout}`);
    const claimedCount = Number(claimed[1]);
    assertEquals(Number(claimed[2]), torrent.pieceCount);
    assert(claimedCount > 0 && claimedCount < torrent.pieceCount, `partial: ${claimed[0]}`);
    // The graceful stop told the tracker we left.
    await until("the stopped announce", () => tracker.swarm(torrent.infoHashHex).incomplete === 0);

    // Every piece the run claimed is on disk and verifies.
    const storage = await Storage.open(torrent, `${dir}/out`);
    const onDisk = await storage.verify();
    await storage.close();
    assert(
      onDisk.count >= claimedCount,
      `claimed ${claimedCount} verified pieces, only ${onDisk.count} are on disk`,
    );
    assert(onDisk.count < torrent.pieceCount, "the interrupt came before the end");

    // Run 2: the seeder at full speed; the check on start keeps what run 1 wrote.
    bucket.setRate(0);
    const servedBefore = seeder.stats().uploaded;
    const r2 = await run(args, dir);
    assertEquals(r2.code, 0, `second run (stderr: ${r2.stderr})`);
    assert(r2.stdout.includes(`All ${torrent.pieceCount} pieces verified`), r2.stdout);
    const served = seeder.stats().uploaded - servedBefore;
    assert(served < data.length, `the rerun fetched ${served} of ${data.length} bytes`);
    assert(
      served <= data.length - onDisk.count * PIECE,
      `the rerun fetched ${served} bytes; only ${data.length - onDisk.count * PIECE} were missing`,
    );
    assertEquals(await Deno.readFile(`${dir}/out/resume.bin`), data);
  } finally {
    await seeder.stop();
    await tracker.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: a closed standard output ends a run quietly with 141; a download stops cleanly", async () => {
  const dir = await workdir();
  try {
    const data = new Uint8Array(64 * 1024).fill(7);
    await Deno.writeFile(`${dir}/a.bin`, data);
    await Deno.writeFile(`${dir}/a.torrent`, createTorrentFromBuffers("a.bin", data));
    const runs = [
      ["completions", "bash"],
      ["create", `${dir}/a.bin`, "-o", `${dir}/b.torrent`, "--json"],
      // Its one peer is a closed port: the download runs until something stops it.
      ["-i", `${dir}/a.torrent`, "-o", `${dir}/out`, "--peer", "127.0.0.1:9", "--no-dht", "--json"],
    ];
    for (const args of runs) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", MAIN, ...args],
        cwd: dir,
        env: { NO_COLOR: "1", XDG_STATE_HOME: `${dir}/state` },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      await child.stdout.cancel(); // the reader is gone before the first line is written
      const [status, stderr] = await Promise.all([child.status, new Response(child.stderr).text()]);
      assertEquals(status.code, 141, `${args.join(" ")}: stderr: ${stderr}`);
      assertEquals(stderr, "", args.join(" "));
    }
    // create ends before hashing, as SIGPIPE would end it: no torrent is written.
    assert(!(await Deno.stat(`${dir}/b.torrent`).then(() => true, () => false)), "no b.torrent");
    // The download stopped as for Ctrl-C, through its log's last line.
    const logs = `${dir}/state/bittorrent/logs`;
    const [log] = await Array.fromAsync(Deno.readDir(logs));
    const lines = (await Deno.readTextFile(`${logs}/${log.name}`)).trimEnd().split("\n");
    assert(lines.at(-1)!.includes("finished (interrupted)"), lines.at(-1));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
