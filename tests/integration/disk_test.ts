/**
 * Disk faults seen from the command line: a disk that fills up mid-download (a small tmpfs, or
 * a file size limit where mounting is not allowed), `--prealloc` on a disk that is too small,
 * and a file deleted mid-download. The CLI runs as a subprocess; the seeder and the tracker run
 * in the test process on 127.0.0.1.
 */
import { assert, assertEquals } from "../assert.ts";
import type { TorrentJob } from "../../src/client/mod.ts";
import { createTorrentFromBuffers, parseTorrent, type Torrent } from "../../src/metainfo/mod.ts";
import { loadResume, Storage } from "../../src/storage/mod.ts";
import { startTracker } from "../../src/tracker/mod.ts";
import { TokenBucket } from "../../src/util/mod.ts";
import { openJob, patternBytes, waitFor, writePayload } from "./helpers.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const MAIN = decodeURIComponent(new URL("../../src/main.ts", import.meta.url).pathname);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in `cwd` (state kept in `cwd/state`); `fileLimitKiB` adds `ulimit -f`. */
function spawnCli(args: string[], cwd: string, fileLimitKiB?: number) {
  const deno = [Deno.execPath(), "run", "-A", "--quiet", MAIN, "--no-dht", ...args];
  const quoted = deno.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
  const [cmd, cmdArgs] = fileLimitKiB === undefined
    ? [deno[0], deno.slice(1)]
    : ["bash", ["-c", `trap '' XFSZ; ulimit -f ${fileLimitKiB}; exec ${quoted}`]];
  const process = new Deno.Command(cmd, {
    args: cmdArgs,
    cwd,
    env: { NO_COLOR: "1", XDG_STATE_HOME: `${cwd}/state` },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const result: Promise<Result> = process.output().then((o) => ({
    code: o.code,
    stdout: new TextDecoder().decode(o.stdout),
    stderr: new TextDecoder().decode(o.stderr),
  }));
  return { process, result };
}

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; err: string }> {
  try {
    const o = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
    return { ok: o.success, err: new TextDecoder().decode(o.stderr).trim() };
  } catch (e) {
    return { ok: false, err: e instanceof Error ? e.message : String(e) };
  }
}

/** Mounts a tmpfs of `size` on `dir`; the reason it could not, or null on success. */
async function mountTmpfs(dir: string, size: string): Promise<string | null> {
  await Deno.mkdir(dir, { recursive: true });
  const r = await run("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
  return r.ok ? null : `mount failed: ${r.err}`;
}

/** Pieces verified on disk (by hashing) and the pieces the resume record claims, if any. */
async function claimed(torrent: Torrent, out: string) {
  const storage = await Storage.open(torrent, out);
  try {
    const record = await loadResume(storage, torrent.infoHash);
    return { onDisk: await storage.verify(), record };
  } finally {
    await storage.close();
  }
}

/** A seeder of `data` behind our own tracker, slowed by `bucket`. */
async function startSwarm(dir: string, name: string, data: Uint8Array, rate: number) {
  const tracker = await startTracker({ hostname: "127.0.0.1" });
  const bytes = createTorrentFromBuffers(name, data, {
    pieceLength: 32 * KiB,
    announce: [[tracker.httpUrl]],
    creationDate: null,
  });
  const torrent = parseTorrent(bytes);
  await Deno.writeFile(`${dir}/t.torrent`, bytes);
  await writePayload(`${dir}/seed`, torrent.name, data);
  const bucket = new TokenBucket(rate);
  let seeder: TorrentJob | undefined;
  try {
    seeder = await openJob(torrent, `${dir}/seed`, {
      seed: true,
      trackers: true,
      announcer: { httpTimeoutMs: 2_000, stopTimeoutMs: 1_000 },
      session: { uploadLimiter: bucket },
    });
    seeder.start();
    await waitFor("the seeder on the tracker", () => {
      return tracker.swarm(torrent.infoHashHex).complete === 1;
    }, 10_000);
  } catch (e) {
    await seeder?.stop();
    await tracker.close();
    throw e;
  }
  const s = seeder;
  return {
    torrent,
    bucket,
    seeder: s,
    async close() {
      await s.stop();
      await tracker.close();
    },
  };
}

const ARGS = ["-i", "t.torrent", "-o", "out", "--port", "0", "--log-dir", "logs"];

/** The lines of `stderr` that are errors. */
function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l.trim() !== "");
}

Deno.test("disk: a full disk mid-download is one clear error; verified pieces stay; a rerun with space finishes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt-disk-" });
  const out = `${dir}/out`;
  const data = patternBytes(6 * MiB, 91);
  const swarm = await startSwarm(dir, "full.bin", data, 0);
  let mounted = false;
  try {
    const why = await mountTmpfs(out, "3m");
    mounted = why === null;
    if (!mounted) console.log(`  no tmpfs (${why}): using ulimit -f instead`);
    const limit = mounted ? undefined : 3 * 1024;
    const r1 = await spawnCli(ARGS, dir, limit).result;
    const lines = errorLines(r1.stderr);
    assertEquals(r1.code, 1, `exit code (stderr: ${r1.stderr})`);
    assertEquals(lines.length, 1, `exactly one line on stderr: ${r1.stderr}`);
    const expected = mounted ? "disk full" : "file too large";
    assert(
      lines[0].startsWith("bittorrent: error: cannot write ") && lines[0].includes(expected) &&
        lines[0].includes("full.bin"),
      lines[0],
    );
    assert(!r1.stderr.includes("unexpected"), "no crash");

    // Every piece on disk verifies; what the record claims (if it could be saved) is on disk.
    const { onDisk, record } = await claimed(swarm.torrent, out);
    assert(onDisk.count > 0 && onDisk.count < swarm.torrent.pieceCount, `${onDisk.count} pieces`);
    if (record) {
      for (let i = 0; i < record.size; i++) {
        assert(!record.has(i) || onDisk.has(i), `record claims piece ${i}, not on disk`);
      }
    }
    console.log(
      `  disk full after ${onDisk.count}/${swarm.torrent.pieceCount} pieces; resume record: ` +
        (record ? `${record.count} pieces` : "not saved (no space), data is hashed instead"),
    );

    // Make room (grow the tmpfs, keeping its data, or drop the limit) and finish.
    if (mounted) {
      const grow = await run("mount", ["-o", "remount,size=16m", out]);
      assert(grow.ok, `remount: ${grow.err}`);
    }
    const servedBefore = swarm.seeder.stats().uploaded;
    const r2 = await spawnCli(ARGS, dir).result;
    assertEquals(r2.code, 0, `second run (stderr: ${r2.stderr})`);
    assertEquals(await Deno.readFile(`${out}/full.bin`), data, "byte-identical");
    const served = swarm.seeder.stats().uploaded - servedBefore;
    const missing = data.length - onDisk.count * 32 * KiB;
    assert(served <= missing + 2 * 32 * KiB, `served ${served}, missing ${missing}`);
  } finally {
    await swarm.close();
    if (mounted) await run("umount", [out]);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("disk: --prealloc reserves the file at once, or fails before downloading when it cannot", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt-disk-" });
  const out = `${dir}/out`;
  const data = patternBytes(4 * MiB, 92);
  const swarm = await startSwarm(dir, "pre.bin", data, 0);
  let mounted = false;
  try {
    const why = await mountTmpfs(out, "3m");
    mounted = why === null;
    if (!mounted) {
      console.log(`  skipping the no-space case: ${why}`);
    } else {
      const before = swarm.seeder.stats().uploaded;
      const r = await spawnCli([...ARGS, "--prealloc"], dir).result;
      assertEquals(r.code, 1, `exit code (stderr: ${r.stderr})`);
      const lines = errorLines(r.stderr);
      assertEquals(lines.length, 1, r.stderr);
      assert(
        lines[0].startsWith("bittorrent: error: not enough space for 4.0 MiB in ") &&
          lines[0].includes(out),
        lines[0],
      );
      assertEquals(swarm.seeder.stats().uploaded, before, "nothing was downloaded");
      assertEquals((await Deno.stat(`${out}/pre.bin`)).size, 0, "space given back");
      await run("umount", [out]);
      mounted = false;
    }
    const r = await spawnCli([...ARGS, "--prealloc"], dir).result;
    assertEquals(r.code, 0, `with room (stderr: ${r.stderr})`);
    assertEquals(await Deno.readFile(`${out}/pre.bin`), data, "byte-identical");
  } finally {
    await swarm.close();
    if (mounted) await run("umount", [out]);
    await Deno.remove(dir, { recursive: true });
  }
});
