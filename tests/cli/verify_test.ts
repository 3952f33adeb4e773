/**
 * `bittorrent verify`: per-file completeness and the exit code for complete, partial and
 * missing data; it never creates or changes data files; the subcommand's argument parsing.
 */
import { assert, assertEquals, assertThrows } from "../assert.ts";
import {
  type CliOptions,
  type CommandIO,
  parseArgs,
  runVerify,
  UsageError,
} from "../../src/cli/mod.ts";
import { createTorrentFromBuffers, parseTorrent } from "../../src/metainfo/mod.ts";
import { loadResume, resumePath, saveResume, Storage } from "../../src/storage/mod.ts";
import { Bitfield } from "../../src/util/mod.ts";
import { xorshiftBytes } from "../random.ts";

const MAIN = decodeURIComponent(new URL("../../src/main.ts", import.meta.url).pathname);
const KiB = 1024;
const PIECE = 16 * KiB;
const LINUX = { os: "linux", env: { HOME: "/home/u" } };

/** A two-file torrent (a piece spans both) plus an empty file, written to `<dir>/t.torrent`. */
async function fixture(dir: string) {
  const files = [
    { path: ["a.bin"], data: xorshiftBytes(40 * KiB, 81) }, // pieces 0-2 (2 shared with b)
    { path: ["sub", "b.bin"], data: xorshiftBytes(30 * KiB + 7, 82) }, // pieces 2-4
    { path: ["empty.txt"], data: new Uint8Array(0) },
  ];
  const bytes = createTorrentFromBuffers("pack", files, { pieceLength: PIECE, creationDate: null });
  await Deno.writeFile(`${dir}/t.torrent`, bytes);
  const torrent = parseTorrent(bytes);
  const writeAll = async (out: string) => {
    for (const f of files) {
      const path = `${out}/pack/${f.path.join("/")}`;
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      await Deno.writeFile(path, f.data);
    }
  };
  return { torrent, files, writeAll };
}

function captureIO(): CommandIO & { text: () => string } {
  let out = "";
  return {
    out: (t) => out += t,
    err: (t) => out += t,
    isTTY: false,
    columns: () => 80,
    text: () => out,
  };
}

function options(input: string, output: string, quiet = false): CliOptions {
  const parsed = parseArgs(["verify", "-i", input, "-o", output, ...(quiet ? ["-q"] : [])], LINUX);
  if (!("input" in parsed)) throw new Error("not options");
  return parsed;
}

/** Everything below `dir`, as sorted relative paths (folders end with "/"). */
async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(rel ? `${dir}/${rel}` : dir)) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      out.push(e.isDirectory ? `${p}/` : p);
      if (e.isDirectory) await walk(p);
    }
  };
  await walk("");
  return out.sort();
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "bt-verify-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("verify: complete data prints 100 % per file and exits 0", async () => {
  await withDir(async (dir) => {
    const { writeAll } = await fixture(dir);
    await writeAll(`${dir}/out`);
    const io = captureIO();
    assertEquals(await runVerify(options(`${dir}/t.torrent`, `${dir}/out`), io), 0);
    const lines = io.text().trim().split("\n");
    assertEquals(lines, [
      "100.0%   40.0 KiB  pack/a.bin",
      "100.0%   30.0 KiB  pack/sub/b.bin",
      "100.0%        0 B  pack/empty.txt",
      "Total: 100.0% of 70.0 KiB verified, 5/5 pieces: complete",
    ]);
  });
});

Deno.test("verify: the total counts the files' bytes, not the pad files of a hybrid torrent", async () => {
  await withDir(async (dir) => {
    const files = Array.from({ length: 20 }, (_, i) => ({
      path: [`f${i}.txt`],
      data: xorshiftBytes(1000, 90 + i),
    }));
    const bytes = createTorrentFromBuffers("small", files, {
      pieceLength: PIECE,
      creationDate: null,
      version: "hybrid",
    });
    await Deno.writeFile(`${dir}/t.torrent`, bytes);
    await Deno.mkdir(`${dir}/out/small`, { recursive: true });
    for (const f of files) await Deno.writeFile(`${dir}/out/small/${f.path[0]}`, f.data);
    await Deno.remove(`${dir}/out/small/f3.txt`);
    const io = captureIO();
    assertEquals(await runVerify(options(`${dir}/t.torrent`, `${dir}/out`, true), io), 1);
    assertEquals(
      io.text(),
      "Total: 95.0% of 19.5 KiB verified, 19/20 pieces, 1 of 20 files missing: incomplete\n",
    );
  });
});

Deno.test("verify: a damaged piece makes both files it spans partial; exit 1", async () => {
  await withDir(async (dir) => {
    const { writeAll } = await fixture(dir);
    await writeAll(`${dir}/out`);
    // Byte 33 KiB of a.bin lies in piece 2, which also holds the first 8 KiB of b.bin.
    const f = await Deno.open(`${dir}/out/pack/a.bin`, { write: true });
    await f.seek(33 * KiB, Deno.SeekMode.Start);
    await f.write(new Uint8Array([0xee]));
    f.close();
    const io = captureIO();
    assertEquals(await runVerify(options(`${dir}/t.torrent`, `${dir}/out`), io), 1);
    const text = io.text();
    assert(text.includes(" 80.0%   40.0 KiB  pack/a.bin"), text); // 32 of 40 KiB
    assert(text.includes(" 73.3%   30.0 KiB  pack/sub/b.bin"), text); // 22 KiB + 7 of 30 KiB
    assert(text.includes("Total: 77.1% of 70.0 KiB verified, 4/5 pieces: incomplete"), text);
  });
});

Deno.test("verify: missing files are reported, and nothing is created", async () => {
  await withDir(async (dir) => {
    const { writeAll } = await fixture(dir);
    await writeAll(`${dir}/out`);
    await Deno.remove(`${dir}/out/pack/sub`, { recursive: true });
    await Deno.remove(`${dir}/out/pack/empty.txt`);
    const before = await listing(`${dir}/out`);
    const io = captureIO();
    assertEquals(await runVerify(options(`${dir}/t.torrent`, `${dir}/out`), io), 1);
    const text = io.text();
    assert(text.includes(" 80.0%   40.0 KiB  pack/a.bin\n"), text);
    assert(text.includes("  0.0%   30.0 KiB  pack/sub/b.bin  (missing)"), text);
    assert(text.includes("  0.0%        0 B  pack/empty.txt  (missing)"), text);
    assert(text.includes("2/5 pieces, 2 of 3 files missing: incomplete"), text);
    assertEquals(await listing(`${dir}/out`), before, "verify created nothing");

    // No output folder at all: everything missing, and the folder is not created.
    const io2 = captureIO();
    assertEquals(await runVerify(options(`${dir}/t.torrent`, `${dir}/nowhere`, true), io2), 1);
    assertEquals(
      io2.text(),
      "Total: 0.0% of 70.0 KiB verified, 0/5 pieces, 3 of 3 files missing: incomplete\n",
    );
    assert(!(await listing(dir)).includes("nowhere/"), "the output folder was not created");
  });
});

Deno.test("verify: refreshes an existing resume record, and writes none otherwise", async () => {
  await withDir(async (dir) => {
    const { torrent, writeAll } = await fixture(dir);
    await writeAll(`${dir}/out`);
    const root = await Deno.realPath(`${dir}/out`);
    assertEquals(await runVerify(options(`${dir}/t.torrent`, root), captureIO()), 0);
    assert(!(await listing(root)).includes(".bittorrent/"), "no record where none was");

    const storage = await Storage.open(torrent, root);
    await storage.close();
    await saveResume(storage, torrent.infoHash, new Bitfield(torrent.pieceCount)); // says: none
    assertEquals(await runVerify(options(`${dir}/t.torrent`, root), captureIO()), 0);
    const have = await loadResume(storage, torrent.infoHash);
    assertEquals(have?.count, torrent.pieceCount, "the record now names every piece");
    assert((await Deno.stat(resumePath(root, torrent.infoHash))).isFile);
  });
});

/** Runs the real executable in `cwd`. */
async function cli(args: string[], cwd: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, ...args],
    cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

Deno.test("verify: the executable's exit codes and messages", async () => {
  await withDir(async (dir) => {
    const { writeAll } = await fixture(dir);
    await writeAll(`${dir}/out`);
    const ok = await cli(["verify", "t.torrent", "-o", "out"], dir);
    assertEquals(ok.code, 0, ok.stderr);
    assert(ok.stdout.includes("5/5 pieces: complete"), ok.stdout);
    assertEquals(ok.stderr, "");

    await Deno.truncate(`${dir}/out/pack/sub/b.bin`, 10 * KiB);
    const partial = await cli(["verify", "-i", "t.torrent", "-o", "out", "-q"], dir);
    assertEquals(partial.code, 1);
    assertEquals(
      partial.stdout,
      "Total: 68.5% of 70.0 KiB verified, 3/5 pieces: incomplete\n",
      "with -q only the total",
    );
    assertEquals(partial.stderr, "", "incomplete data is a result, not an error");

    const magnet = await cli(["verify", `magnet:?xt=urn:btih:${"ab".repeat(20)}`], dir);
    assertEquals(magnet.code, 1);
    assertEquals(
      magnet.stderr.trim(),
      "bittorrent: error: verify needs a .torrent file, not a magnet link",
    );

    const usage = await cli(["verify", "t.torrent", "--seed"], dir);
    assertEquals(usage.code, 2);
    assertEquals(
      usage.stderr.trim(),
      "bittorrent: --seed does not apply to verify (see bittorrent help verify)",
    );

    const notFolder = await cli(["verify", "t.torrent", "-o", "t.torrent"], dir);
    assertEquals(notFolder.code, 1);
    assertEquals(notFolder.stderr.trim(), "bittorrent: error: t.torrent is not a folder");
    assertEquals(await listing(dir).then((l) => l.includes("logs/")), false, "verify logs nothing");
  });
});

Deno.test("parseArgs: a leading command word; download is the default", () => {
  const verify = parseArgs(["verify", "-o", "d", "x.torrent"], LINUX);
  assert("input" in verify);
  assertEquals([verify.command, verify.input, verify.output], ["verify", "x.torrent", "d"]);
  const download = parseArgs(["download", "x.torrent"], LINUX);
  assert("input" in download && download.command === "download");
  const plain = parseArgs(["x.torrent"], LINUX);
  assert("input" in plain && !("command" in plain), "no command key when none was named");
  // Only the first word is a command: later "verify" is the input.
  const later = parseArgs(["-o", "d", "verify"], LINUX);
  assert("input" in later && later.input === "verify" && later.command === undefined);
  assertEquals(parseArgs(["verify", "--help"], LINUX), { help: true, topic: "verify" });
  for (const flag of [["--max-peers", "5"], ["--port", "1"], ["--log-dir", "l"], ["-v"]]) {
    assertThrows(
      () => parseArgs(["verify", ...flag, "x.torrent"], LINUX),
      UsageError,
      "does not apply to verify",
    );
  }
  assertThrows(
    () => parseArgs(["verify"], LINUX),
    UsageError,
    "missing the .torrent file to verify (see bittorrent help verify)",
  );
});
