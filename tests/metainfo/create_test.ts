import { decode, getDict, getList, isDict } from "../../src/bencode/mod.ts";
import {
  type BufferFile,
  createTorrentFromBuffers,
  createTorrentFromPath,
  defaultPieceLength,
  parseTorrent,
  PieceHasher,
  TorrentError,
} from "../../src/metainfo/mod.ts";
import { concatBytes, pieceLengthAt, sha1 } from "../../src/util/mod.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../assert.ts";
import { xorshiftBytes as bytes } from "../random.ts";

function concat(parts: Uint8Array[]): Uint8Array {
  return concatBytes(...parts);
}

/** Checks every piece hash of `t` against the payload. */
function assertPiecesMatch(bytesOfTorrent: Uint8Array, payload: Uint8Array): void {
  const t = parseTorrent(bytesOfTorrent);
  assertEquals(t.totalLength, payload.length);
  for (let i = 0; i < t.pieceCount; i++) {
    const start = i * t.pieceLength;
    assertEquals(
      t.v1Pieces!.table.subarray(i * 20, i * 20 + 20),
      sha1(payload.subarray(start, start + pieceLengthAt(t, i))),
      `piece ${i}`,
    );
    assert(t.hashes.verify(i, payload.subarray(start, start + pieceLengthAt(t, i))));
  }
}

/** Listed in the byte order of their paths, as a folder walk yields them. */
const FILES: BufferFile[] = [
  { path: ["a.txt"], data: bytes(10_000, 1) },
  { path: ["empty"], data: new Uint8Array() },
  { path: ["sub", "c"], data: bytes(5, 3) },
  { path: ["sub", "deep", "b.bin"], data: bytes(30_000, 2) },
  { path: ["z", "exact"], data: bytes(16_384, 4) },
];

Deno.test("round trip: multi-file buffers give back the same layout and hashes", () => {
  const torrent = createTorrentFromBuffers("pack", FILES, {
    pieceLength: 16384,
    creationDate: null,
  });
  const t = parseTorrent(torrent);
  assertEquals(t.name, "pack");
  assertEquals(t.multiFile, true);
  let offset = 0;
  assertEquals(
    t.files,
    FILES.map((f) => {
      const file = { path: ["pack", ...f.path], length: f.data.length, offset, padding: false };
      offset += f.data.length;
      return file;
    }),
  );
  assertEquals(t.pieceCount, Math.ceil(offset / 16384));
  assertPiecesMatch(torrent, concat(FILES.map((f) => f.data)));
});

Deno.test("round trip: single-file buffer", () => {
  const data = bytes(50_000, 9);
  const torrent = createTorrentFromBuffers("one.bin", data, { pieceLength: 32768 });
  const t = parseTorrent(torrent);
  assertEquals(t.multiFile, false);
  assertEquals(t.files, [{ path: ["one.bin"], length: 50_000, offset: 0, padding: false }]);
  assertPiecesMatch(torrent, data);
});

Deno.test("metadata options: trackers, private flag, comment, web seeds, dates", () => {
  const torrent = createTorrentFromBuffers("x", bytes(10, 1), {
    pieceLength: 16384,
    announce: [["http://127.0.0.1:1/a", ""], [], ["udp://127.0.0.1:2"]],
    private: true,
    comment: "made in a test",
    createdBy: "tests",
    creationDate: 1_700_000_000,
    urlList: ["http://127.0.0.1:3/x"],
  });
  const t = parseTorrent(torrent);
  assertEquals(t.announce, [["http://127.0.0.1:1/a"], ["udp://127.0.0.1:2"]]);
  assertEquals(t.private, true);
  assertEquals(t.comment, "made in a test");
  assertEquals(t.createdBy, "tests");
  assertEquals(t.creationDate, 1_700_000_000);
  assertEquals(t.urlList, ["http://127.0.0.1:3/x"]);
  const top = decode(torrent);
  assert(isDict(top));
  assertEquals(new TextDecoder().decode(top.get("announce") as Uint8Array), "http://127.0.0.1:1/a");

  // One tracker: plain `announce`, no announce-list; no date when asked for reproducible output.
  const plain = decode(createTorrentFromBuffers("x", bytes(10, 1), {
    announce: [["http://127.0.0.1:1/a"]],
    creationDate: null,
  }));
  assert(isDict(plain));
  assertEquals(getList(plain, "announce-list"), undefined);
  assertEquals(plain.has("creation date"), false);
  assertEquals(getDict(plain, "info")?.has("private"), false);
  const now = parseTorrent(createTorrentFromBuffers("x", bytes(10, 1))).creationDate!;
  assert(Math.abs(now - Date.now() / 1000) < 60);
});

Deno.test("creation is deterministic without a date", () => {
  const a = createTorrentFromBuffers("p", FILES, { creationDate: null });
  const b = createTorrentFromBuffers("p", FILES, { creationDate: null });
  assertEquals(a, b);
});

Deno.test("invalid input to the creators is refused with TorrentError", () => {
  const data = bytes(10, 1);
  for (const name of ["", ".", "..", "a/b", "a\\b", "a\0"]) {
    assertThrows(() => createTorrentFromBuffers(name, data), TorrentError, "invalid file name");
  }
  assertThrows(
    () => createTorrentFromBuffers("x", [{ path: ["ok", ".."], data }]),
    TorrentError,
    "invalid file name",
  );
  assertThrows(
    () => createTorrentFromBuffers("x", [{ path: [], data }]),
    TorrentError,
    "needs a path",
  );
  assertThrows(() => createTorrentFromBuffers("x", []), TorrentError, "at least one file");
  assertThrows(
    () => createTorrentFromBuffers("x", new Uint8Array()),
    TorrentError,
    "nothing to share",
  );
  assertThrows(
    () => createTorrentFromBuffers("x", [{ path: ["e"], data: new Uint8Array() }]),
    TorrentError,
    "nothing to share",
  );
  for (const pieceLength of [0, -1, 1.5, 2 ** 30, NaN]) {
    assertThrows(
      () => createTorrentFromBuffers("x", data, { pieceLength }),
      TorrentError,
      "piece length",
    );
  }
});

Deno.test("defaultPieceLength aims at no more than ~2000 pieces within 16 KiB..16 MiB", () => {
  assertEquals(defaultPieceLength(0), 16 * 1024);
  assertEquals(defaultPieceLength(1), 16 * 1024);
  assertEquals(defaultPieceLength(2000 * 16 * 1024), 16 * 1024);
  assertEquals(defaultPieceLength(2000 * 16 * 1024 + 1), 32 * 1024);
  assertEquals(defaultPieceLength(300 * 2 ** 20), 256 * 1024);
  assertEquals(defaultPieceLength(2 ** 30), 2 ** 20);
  assertEquals(defaultPieceLength(2 ** 50), 16 * 2 ** 20);
  for (let size = 1; size < 2 ** 45; size *= 3) {
    const p = defaultPieceLength(size);
    assert((p & (p - 1)) === 0);
    assert(size / p <= 2000 || p === 16 * 2 ** 20);
  }
});

Deno.test("PieceHasher: chunks of any size give the hashes of the whole, pieces cross them", () => {
  const data = bytes(100_003, 5);
  const a = new PieceHasher(1000);
  for (let at = 0; at < data.length; at += 777) a.update(data.subarray(at, at + 777));
  const b = new PieceHasher(1000);
  for (let at = 0; at < data.length; at += 2500) b.update(data.subarray(at, at + 2500));
  const c = new PieceHasher(1000);
  c.update(data);
  const ha = a.finish(), hb = b.finish(), hc = c.finish();
  assertEquals(ha.length, 101 * 20);
  assertEquals(ha, hb);
  assertEquals(ha, hc);
  assertEquals(ha.subarray(100 * 20), sha1(data.subarray(100_000)));
  assertEquals(a.length, data.length);
  assertEquals(new PieceHasher(16).finish(), new Uint8Array());
});

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "metainfo_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("createTorrentFromPath: a folder streams to the same torrent as its buffers", async () => {
  await withTempDir(async (dir) => {
    const root = `${dir}/pack`;
    for (const f of FILES) {
      await Deno.mkdir([root, ...f.path.slice(0, -1)].join("/"), { recursive: true });
      await Deno.writeFile([root, ...f.path].join("/"), f.data);
    }
    await Deno.mkdir(`${root}/empty-dir`);
    if (Deno.build.os !== "windows") await Deno.symlink(`${root}/a.txt`, `${root}/link`);
    const fromDisk = await createTorrentFromPath(root, { pieceLength: 16384, creationDate: null });
    const fromBuffers = createTorrentFromBuffers("pack", FILES, {
      pieceLength: 16384,
      creationDate: null,
    });
    assertEquals(fromDisk, fromBuffers);
    assertEquals(
      await createTorrentFromPath(`${root}/`, { pieceLength: 16384, creationDate: null }),
      fromBuffers,
    );
    const renamed = parseTorrent(await createTorrentFromPath(root, { name: "other" }));
    assertEquals(renamed.name, "other");
  });
});

Deno.test("createTorrentFromPath: folder entries are sorted by path bytes", async () => {
  await withTempDir(async (dir) => {
    for (const name of ["b", "a.txt", "C", "a"]) await Deno.mkdir(`${dir}/${name}.d`);
    for (const name of ["b", "a.txt", "C", "a"]) {
      await Deno.writeTextFile(`${dir}/${name}.d/f`, name);
    }
    await Deno.writeTextFile(`${dir}/a`, "top");
    const t = parseTorrent(await createTorrentFromPath(dir));
    assertEquals(t.files.map((f) => f.path.slice(1).join("/")), [
      "C.d/f",
      "a",
      "a.d/f",
      "a.txt.d/f",
      "b.d/f",
    ]);
  });
});

Deno.test("createTorrentFromPath: a single file, a multi-MiB payload, and bad paths", async () => {
  await withTempDir(async (dir) => {
    const data = bytes(3 * 1024 * 1024 + 123, 11);
    await Deno.writeFile(`${dir}/big.bin`, data);
    const torrent = await createTorrentFromPath(`${dir}/big.bin`, { pieceLength: 65536 });
    const t = parseTorrent(torrent);
    assertEquals(t.name, "big.bin");
    assertEquals(t.multiFile, false);
    assertPiecesMatch(torrent, data);
    assertEquals(
      parseTorrent(await createTorrentFromPath(`${dir}/big.bin`)).pieceLength,
      16384,
    );

    await Deno.mkdir(`${dir}/nothing/inner`, { recursive: true });
    await assertRejects(
      () => createTorrentFromPath(`${dir}/nothing`),
      TorrentError,
      "holds no files",
    );
    await Deno.writeFile(`${dir}/nothing/inner/zero`, new Uint8Array());
    await assertRejects(
      () => createTorrentFromPath(`${dir}/nothing`),
      TorrentError,
      "nothing to share",
    );
    await assertRejects(() => createTorrentFromPath(`${dir}/missing`), Deno.errors.NotFound);
  });
});
