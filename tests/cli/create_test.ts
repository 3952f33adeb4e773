/**
 * `bittorrent create` as a user runs it (through `main`, in-process): what goes into the
 * torrent and in which order, every option, JSON events, and the mistakes it refuses without
 * writing anything.
 */
import { main } from "../../src/main.ts";
import type { CommandIO } from "../../src/cli/mod.ts";
import { createTorrentFromBuffers, parseTorrent, type Torrent } from "../../src/metainfo/mod.ts";
import { sha1, toHex } from "../../src/util/mod.ts";
import { assert, assertEquals } from "../assert.ts";
import { xorshiftBytes } from "../random.ts";

interface Run {
  code: number;
  out: string;
  err: string;
}

async function run(...args: string[]): Promise<Run> {
  let out = "", err = "";
  const io: CommandIO = {
    out: (t) => out += t,
    err: (t) => err += t,
    isTTY: false,
    columns: () => 80,
  };
  const code = await main(args, io);
  return { code, out, err };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "bt-create-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function write(path: string, data: Uint8Array): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeFile(path, data);
}

/** SHA-1 of each piece of `data`, concatenated, as the torrent must list them. */
function pieceHashes(data: Uint8Array, pieceLength: number): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.length / pieceLength) * 20);
  for (let p = 0; p * pieceLength < data.length; p++) {
    out.set(sha1(data.subarray(p * pieceLength, (p + 1) * pieceLength)), p * 20);
  }
  return out;
}

async function torrentAt(path: string): Promise<Torrent> {
  return parseTorrent(await Deno.readFile(path));
}

Deno.test("create: visible files in byte order of their names, folder by folder; links and hidden names left out", async () => {
  await withDir(async (dir) => {
    const files: [string, Uint8Array][] = [
      ["album/b.bin", xorshiftBytes(40_000, 1)],
      ["album/C.bin", xorshiftBytes(1, 2)],
      ["album/a/z.bin", xorshiftBytes(20_001, 3)],
      ["album/a b/c.bin", xorshiftBytes(0, 4)],
      ["album/é.bin", xorshiftBytes(7, 5)],
    ];
    for (const [path, data] of files) await write(`${dir}/${path}`, data);
    await write(`${dir}/album/.DS_Store`, new Uint8Array(3));
    await write(`${dir}/album/.git/config`, new Uint8Array(3));
    await Deno.symlink(`${dir}/album/b.bin`, `${dir}/album/link.bin`);
    const r = await run(
      "create",
      `${dir}/album`,
      "-o",
      `${dir}/album.torrent`,
      "--piece-size",
      "16K",
      "--v1",
    );
    assertEquals(r.code, 0, r.err);
    const t = await torrentAt(`${dir}/album.torrent`);
    // As a v2 file tree orders them: by name within each folder ("a" before "a b").
    const order = ["C.bin", "a/z.bin", "a b/c.bin", "b.bin", "é.bin"];
    assertEquals(t.files.map((f) => f.path.slice(1).join("/")), order);
    const data = order.map((p) => files.find(([path]) => path === `album/${p}`)![1]);
    const all = new Uint8Array(data.reduce((n, d) => n + d.length, 0));
    let at = 0;
    for (const d of data) {
      all.set(d, at);
      at += d.length;
    }
    assertEquals(t.v1Pieces!.table, pieceHashes(all, 16384));
    assert(r.out.includes(`Created ${dir}/album.torrent: 5 files,`), r.out);
    assert(r.out.includes(`Info-hash: ${t.infoHashHex}`), r.out);
    // A hidden path given by name is taken, as it is.
    await write(`${dir}/.notes`, new Uint8Array(10));
    assertEquals((await run("create", `${dir}/.notes`, "-o", `${dir}/n.torrent`)).code, 0);
    assertEquals((await torrentAt(`${dir}/n.torrent`)).name, ".notes");
  });
});

Deno.test("create: trackers by tier, web seeds, private, comment, source; --no-date repeats itself", async () => {
  await withDir(async (dir) => {
    await write(`${dir}/movie.mkv`, xorshiftBytes(100_000, 9));
    const args = [
      "create",
      `${dir}/movie.mkv`,
      "--tracker",
      "http://127.0.0.1:1/announce",
      "--tracker",
      "udp://127.0.0.1:2",
      "--tracker",
      "",
      "--tracker",
      "https://127.0.0.1:3/announce",
      "--web-seed",
      "http://127.0.0.1:4/files/",
      "--private",
      "--comment",
      "a comment",
      "--source",
      "SRC",
      "--no-date",
    ];
    assertEquals((await run(...args, "-o", `${dir}/1.torrent`)).code, 0);
    assertEquals((await run(...args, "-o", `${dir}/2.torrent`)).code, 0);
    const one = await Deno.readFile(`${dir}/1.torrent`);
    assertEquals(one, await Deno.readFile(`${dir}/2.torrent`), "the same input, the same bytes");
    const t = parseTorrent(one);
    assertEquals(t.announce, [
      ["http://127.0.0.1:1/announce", "udp://127.0.0.1:2"],
      ["https://127.0.0.1:3/announce"],
    ]);
    assertEquals(t.urlList, ["http://127.0.0.1:4/files/"]);
    assertEquals([t.private, t.comment, t.creationDate], [true, "a comment", undefined]);
    assertEquals(t.createdBy, "bittorrent");
    assert(new TextDecoder().decode(t.infoBytes).includes("6:source3:SRC"), "source in info");
    // The default piece size follows the size: 100 000 bytes fit small pieces.
    assertEquals(t.pieceLength, 16384);
    // Without --source the info-hash differs: private trackers tell torrents apart by it.
    const plain = args.filter((a, i) => a !== "--source" && args[i - 1] !== "--source");
    assertEquals((await run(...plain, "-o", `${dir}/3.torrent`)).code, 0);
    assert((await torrentAt(`${dir}/3.torrent`)).infoHashHex !== t.infoHashHex);
  });
});

Deno.test("create --json: start, progress and done events, one JSON object a line", async () => {
  await withDir(async (dir) => {
    await write(`${dir}/d/a.bin`, xorshiftBytes(300_000, 11));
    await write(`${dir}/d/b.bin`, xorshiftBytes(5_000, 12));
    const r = await run("create", `${dir}/d`, "-o", `${dir}/d.torrent`, "--json");
    assertEquals(r.code, 0, r.err);
    const events = r.out.trimEnd().split("\n").map((l) => JSON.parse(l));
    // A progress event at the first run of pieces hashed, then at most one a second, and one
    // at the end.
    const kinds = events.map((e) => e.event);
    assertEquals([kinds[0], kinds.at(-1)], ["start", "done"]);
    assert(kinds.slice(1, -1).every((k) => k === "progress") && kinds.length >= 3, `${kinds}`);
    const last = events.at(-2);
    assertEquals([last.bytesDone, last.totalBytes], [305_000, 305_000]);
    const t = await torrentAt(`${dir}/d.torrent`);
    const done = events.at(-1);
    assertEquals([done.infoHash, done.infoHashV2], [t.infoHashHex, toHex(t.infoHashV2!)]);
    assertEquals(done.torrent, `${dir}/d.torrent`);
    assertEquals(done.files.map((f: { path: string }) => f.path), ["d/a.bin", "d/b.bin"]);
    assert(events.every((e) => typeof e.elapsed === "number"));
  });
});

Deno.test("create: a progress line while hashing, in a pipe too", async () => {
  await withDir(async (dir) => {
    await write(`${dir}/x.bin`, xorshiftBytes(50_000, 13));
    const r = await run("create", `${dir}/x.bin`, "-o", `${dir}/x.torrent`);
    assert(r.out.startsWith("[hashing] 100.0% | 48.8 KiB of 48.8 KiB"), r.out);
    const quiet = await run("create", `${dir}/x.bin`, "-o", `${dir}/y.torrent`, "-q");
    assertEquals([quiet.code, quiet.out], [0, ""]);
  });
});

Deno.test("create: mistakes are one line, and nothing is written or replaced", async () => {
  await withDir(async (dir) => {
    await write(`${dir}/x.bin`, new Uint8Array(100));
    await Deno.writeTextFile(`${dir}/taken.torrent`, "mine");
    await Deno.mkdir(`${dir}/empty`);
    await write(`${dir}/hidden-only/.secret`, new Uint8Array(5));
    const cases: [string[], number, string][] = [
      [
        ["create", `${dir}/x.bin`, "-o", `${dir}/taken.torrent`],
        1,
        "already exists; not replacing it",
      ],
      [
        ["create", `${dir}/nope`, "-o", `${dir}/n.torrent`],
        1,
        `cannot read ${dir}/nope: no such file or folder`,
      ],
      [["create", `${dir}/empty`, "-o", `${dir}/n.torrent`], 1, "holds no files"],
      [["create", `${dir}/hidden-only`, "-o", `${dir}/n.torrent`], 1, "holds no files"],
      [["create", `${dir}/x.bin`], 2, "missing -o <file.torrent>"],
      [["create", "-o", `${dir}/n.torrent`], 2, "missing the file or folder to share"],
      [
        ["create", `${dir}/x.bin`, "-o", `${dir}/n.torrent`, "--v1", "--v2"],
        2,
        "--v1 and --v2 do not go together: give one",
      ],
      [
        ["create", `${dir}/x.bin`, "-o", `${dir}/n.torrent`, "--piece-size", "100K"],
        2,
        "a power of two",
      ],
      [
        ["create", `${dir}/x.bin`, "-o", `${dir}/n.torrent`, "--piece-size", "8K"],
        2,
        "from 16K to 256M",
      ],
      [
        ["create", `${dir}/x.bin`, "-o", `${dir}/n.torrent`, "--tracker", "ftp://x/"],
        2,
        "not a http or https or udp URL",
      ],
      [
        ["create", `${dir}/x.bin`, "-o", `${dir}/n.torrent`, "--web-seed", "udp://x:1"],
        2,
        "not a http or https URL",
      ],
      [
        ["create", `${dir}/x.bin`, "-o", `${dir}/n.torrent`, "--seed"],
        2,
        "--seed does not apply to create",
      ],
    ];
    for (const [args, code, says] of cases) {
      const r = await run(...args);
      assertEquals(r.code, code, `${args.join(" ")}: ${r.err}`);
      const lines = r.err.trimEnd().split("\n");
      assertEquals(lines.length, 1, r.err);
      assert(lines[0].startsWith("bittorrent: ") && lines[0].includes(says), lines[0]);
    }
    assertEquals(await Deno.readTextFile(`${dir}/taken.torrent`), "mine");
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assertEquals(left, ["empty", "hidden-only", "taken.torrent", "x.bin"], "no torrent written");
  });
});

Deno.test("create: an output folder that cannot take the torrent fails before any hashing", async () => {
  await withDir(async (dir) => {
    await write(`${dir}/x.bin`, new Uint8Array(100));
    const cases: [string, string][] = [
      [`${dir}/nowhere/n.torrent`, "no such file or folder"],
      [`${dir}/x.bin/n.torrent`, "a part of the path is a file, not a folder"],
    ];
    for (const [output, says] of cases) {
      const r = await run("create", `${dir}/x.bin`, "-o", output);
      // No progress line: nothing was hashed.
      assertEquals([r.code, r.out], [1, ""], r.err);
      assertEquals(r.err, `bittorrent: error: cannot write ${output}: ${says}\n`);
    }
    const left = [...Deno.readDirSync(dir)].map((e) => e.name);
    assertEquals(left, ["x.bin"], "nothing left behind");
  });
});

Deno.test({
  name: "create: a name that is not UTF-8 is named in one line, in a folder below too",
  // Linux takes any bytes in a name; macOS and Windows file systems refuse such names.
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    await withDir(async (dir) => {
      for (const [folder, made] of [["top", "bad\\377name"], ["deep", "sub\\376/f.bin"]]) {
        await write(`${dir}/${folder}/ok.bin`, new Uint8Array(10));
        // Deno takes paths as UTF-8 text, so the shell makes the odd bytes.
        const { success } = await new Deno.Command("sh", {
          args: [
            "-c",
            `mkdir -p "$(dirname "$(printf '${made}')")" && printf x > "$(printf '${made}')"`,
          ],
          cwd: `${dir}/${folder}`,
        }).output();
        assert(success, `could not make ${made}`);
        const r = await run("create", `${dir}/${folder}`, "-o", `${dir}/${folder}.torrent`);
        assertEquals([r.code, r.out], [1, ""], r.err);
        const bad = made.startsWith("bad") ? "bad\uFFFDname" : "sub\uFFFD";
        assertEquals(
          r.err,
          `bittorrent: error: cannot read ${dir}/${folder}/${bad}: its name is not valid UTF-8, ` +
            "as a torrent's names must be; rename it\n",
        );
      }
    });
  },
});

Deno.test("create: hybrid by default, or --v2: the torrent the same files make in memory", async () => {
  await withDir(async (dir) => {
    const files: [string, Uint8Array][] = [
      ["set/a.bin", xorshiftBytes(100_000, 11)],
      ["set/b/c.bin", xorshiftBytes(16_384, 12)],
      ["set/b/d.txt", xorshiftBytes(5, 13)],
      ["set/e.empty", new Uint8Array(0)],
    ];
    for (const [path, data] of files) await write(`${dir}/${path}`, data);
    const inMemory = files.map(([path, data]) => ({ path: path.split("/").slice(1), data }));
    for (const flag of [[], ["--v2"], ["--hybrid"]]) {
      const out = `${dir}/set${flag.join("")}.torrent`;
      const r = await run(
        "create",
        `${dir}/set`,
        "-o",
        out,
        "--piece-size",
        "32K",
        "--no-date",
        ...flag,
      );
      assertEquals(r.code, 0, r.err);
      const version = flag[0] === "--v2" ? "v2" : "hybrid";
      const t = await torrentAt(out);
      assertEquals(t.version, version);
      const expected = createTorrentFromBuffers("set", inMemory, {
        pieceLength: 32768,
        creationDate: null,
        version,
      });
      assertEquals(await Deno.readFile(out), expected, `${version}: byte for byte`);
      assert(r.out.includes(`Info-hash v2: ${toHex(t.infoHashV2!)}`), r.out);
      assertEquals(r.out.includes("Info-hash: "), version === "hybrid", r.out);
    }
    const single = await run("create", `${dir}/set/a.bin`, "-o", `${dir}/a.torrent`, "--no-date");
    assertEquals(single.code, 0, single.err);
    assertEquals(
      await Deno.readFile(`${dir}/a.torrent`),
      createTorrentFromBuffers("a.bin", files[0][1], { creationDate: null, version: "hybrid" }),
      "a single file, hybrid",
    );
  });
});
