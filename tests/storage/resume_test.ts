/**
 * The resume record: round trip, staleness on any file change, and records that are corrupt,
 * oversized or hostile are treated as stale (never trusted, never a crash).
 */
import {
  loadResume,
  RESUME_VERSION,
  resumePath,
  saveResume,
  Storage,
  StorageError,
  type StorageLayout,
} from "../../src/storage/mod.ts";
import { Bitfield, isValidBitfield, Sha1Pieces, toHex } from "../../src/util/mod.ts";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { randomInt } from "../random.ts";
import { type FileSpec, makeLayout, pieceOf, randomBytes, rng, withTempDir } from "./helpers.ts";

const INFO_HASH = new Uint8Array(20).map((_, i) => i * 7);

/** Three files (one empty) and a pad file; 8 pieces of 16 bytes. */
const SPECS: FileSpec[] = [
  { path: ["t", "a.bin"], length: 40 },
  { path: ["t", "empty"], length: 0 },
  { path: [".pad", "8"], length: 8, padding: true },
  { path: ["t", "sub", "b.bin"], length: 80 },
];

/** A folder with the layout's files written in full (so every piece is on disk). */
async function prepared(dir: string): Promise<{ root: string; layout: StorageLayout }> {
  const data = randomBytes(128, 3);
  const layout = makeLayout(SPECS, 16, data);
  const storage = await Storage.open(layout, dir);
  for (let i = 0; i < layout.pieceCount; i++) {
    await storage.writePiece(i, pieceOf(layout, data, i));
  }
  await storage.close();
  return { root: storage.root, layout };
}

function bits(size: number, ...set: number[]): Bitfield {
  const b = new Bitfield(size);
  for (const i of set) b.set(i);
  return b;
}

/** Loads and also returns the reason given for a stale record. */
async function load(
  target: { root: string; layout: StorageLayout },
): Promise<{ have?: Bitfield; why?: string }> {
  let why: string | undefined;
  const have = await loadResume(target, INFO_HASH, (w) => why = w);
  return { have, why };
}

async function writeRecord(root: string, doc: unknown): Promise<void> {
  const path = resumePath(root, INFO_HASH);
  if (doc instanceof Uint8Array) return await Deno.writeFile(path, doc);
  await Deno.writeTextFile(path, typeof doc === "string" ? doc : JSON.stringify(doc));
}

async function readRecord(root: string): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(resumePath(root, INFO_HASH)));
}

Deno.test("resume: round trip keeps the bitfield; the record is small JSON in .bittorrent", async () => {
  await withTempDir(async (dir) => {
    const target = await prepared(dir);
    const have = bits(target.layout.pieceCount, 0, 3, 7);
    await saveResume(target, INFO_HASH, have);
    const path = resumePath(target.root, INFO_HASH);
    assertEquals(path, `${target.root}/.bittorrent/${toHex(INFO_HASH)}.resume`);
    const doc = await readRecord(target.root);
    assertEquals(doc.version, RESUME_VERSION);
    assertEquals(doc.infoHash, toHex(INFO_HASH));
    assertEquals(doc.pieceCount, 8);
    assertEquals((doc.files as unknown[]).length, 3, "stored files only (no pad file)");
    const got = await load(target);
    assertEquals(got.why, undefined);
    assertEquals(got.have?.bytes, have.bytes);
    // Saving again replaces the record atomically and leaves no temporary file behind.
    await saveResume(target, INFO_HASH, bits(8, 1));
    assertEquals([...(await load(target)).have!.ones()], [1]);
    const names = [...Deno.readDirSync(`${target.root}/.bittorrent`)].map((e) => e.name);
    assertEquals(names, [`${toHex(INFO_HASH)}.resume`]);
  });
});

Deno.test("resume: no record, another torrent, or a wrong piece count is no record", async () => {
  await withTempDir(async (dir) => {
    const target = await prepared(dir);
    assertEquals((await load(target)).why, "no resume record");
    await saveResume(target, INFO_HASH, bits(8, 0));
    const other = new Uint8Array(20).fill(9);
    assertEquals(await loadResume(target, other), undefined, "other info-hash: other file");
    // The same file name but a layout with another piece length is another torrent.
    const layout = { ...target.layout, pieceLength: 32, pieceCount: 4 };
    const why = (await load({
      root: target.root,
      layout: { ...layout, hashes: new Sha1Pieces(new Uint8Array(80)) },
    }))
      .why;
    assertEquals(why, "the resume record belongs to another torrent");
    await assertRejects(
      () => saveResume(target, INFO_HASH, bits(9)),
      StorageError,
      "9 pieces given",
    );
  });
});

Deno.test("resume: stale when a file's size or modification time changed", async () => {
  await withTempDir(async (dir) => {
    const target = await prepared(dir);
    const file = `${target.root}/t/sub/b.bin`;
    await saveResume(target, INFO_HASH, bits(8, 0, 7));

    // Same size, other mtime (a rewrite in place, as a kill -9 after more writes leaves it).
    const { mtime } = await Deno.stat(file);
    await Deno.utime(file, new Date(), new Date(mtime!.getTime() + 5000));
    assert((await load(target)).why?.includes("t/sub/b.bin changed"));
    await Deno.utime(file, new Date(), mtime!);
    assert((await load(target)).have, "the old time back: trusted again");

    // One byte longer.
    const f = await Deno.open(file, { write: true, append: true });
    await f.write(new Uint8Array([1]));
    f.close();
    assert((await load(target)).why?.includes("t/sub/b.bin changed"));

    // Deleted.
    await saveResume(target, INFO_HASH, bits(8, 0, 7));
    assert((await load(target)).have);
    await Deno.remove(`${target.root}/t/a.bin`);
    assert((await load(target)).why?.includes("t/a.bin changed"));
  });
});

Deno.test("resume: a missing file recorded as missing matches the empty file storage creates", async () => {
  await withTempDir(async (dir) => {
    const target = await prepared(dir);
    await Deno.remove(`${target.root}/t/empty`);
    await Deno.truncate(`${target.root}/t/a.bin`, 0); // pieces 0-2 lost
    await saveResume(target, INFO_HASH, bits(8, 4, 5, 6, 7));
    const storage = await Storage.open(target.layout, dir); // creates t/empty again
    await storage.close();
    assertEquals([...(await load(target)).have!.ones()], [4, 5, 6, 7]);
  });
});

Deno.test("resume: a record claiming bytes no file holds is not believed", async () => {
  await withTempDir(async (dir) => {
    const target = await prepared(dir);
    await Deno.truncate(`${target.root}/t/sub/b.bin`, 20); // b.bin is 80 bytes at offset 48
    // Saved honestly, then the bitfield is edited to claim the last piece.
    await saveResume(target, INFO_HASH, bits(8, 0));
    const doc = await readRecord(target.root);
    doc.have = btoa(String.fromCharCode(0b1000_1000));
    await writeRecord(target.root, doc);
    assertEquals(
      (await load(target)).why,
      "the resume record claims piece 4, which is not on disk",
    );
  });
});

Deno.test("resume: corrupt and hostile records are stale, never errors", async () => {
  await withTempDir(async (dir) => {
    const target = await prepared(dir);
    await saveResume(target, INFO_HASH, bits(8, 0, 1));
    const good = await readRecord(target.root);
    const cases: [string, unknown][] = [
      ["empty", ""],
      ["not JSON", "{version: 1"],
      ["invalid UTF-8", new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])],
      ["null", "null"],
      ["an array", "[1,2,3]"],
      ["a number", "1e999"],
      ["deep nesting", "[".repeat(5000)],
      ["other version", { ...good, version: 2 }],
      ["version as text", { ...good, version: "1" }],
      ["no info-hash", { ...good, infoHash: undefined }],
      ["piece count as text", { ...good, pieceCount: "8" }],
      ["have missing", { ...good, have: undefined }],
      ["have not base64", { ...good, have: "!!!!" }],
      ["have too long", { ...good, have: btoa("\xff\xff") }],
      ["have too short", { ...good, have: "" }],
      ["have as number", { ...good, have: 255 }],
      ["files missing", { ...good, files: undefined }],
      ["files as object", { ...good, files: { length: 3 } }],
      ["one file less", { ...good, files: (good.files as unknown[]).slice(1) }],
      ["file renamed", {
        ...good,
        files: (good.files as Record<string, unknown>[]).map((f, i) =>
          i === 0 ? { ...f, path: "../../etc/passwd" } : f
        ),
      }],
      ["negative size", {
        ...good,
        files: (good.files as Record<string, unknown>[]).map((f) => ({ ...f, size: -1 })),
      }],
      ["huge size", {
        ...good,
        files: (good.files as Record<string, unknown>[]).map((f) => ({ ...f, size: 2 ** 60 })),
      }],
      ["mtime as text", {
        ...good,
        files: (good.files as Record<string, unknown>[]).map((f) => ({ ...f, mtimeMs: "now" })),
      }],
      ["bad inode", {
        ...good,
        files: (good.files as Record<string, unknown>[]).map((f) => ({ ...f, ino: -5 })),
      }],
      [
        "__proto__ keys",
        JSON.stringify(good).replace('{"version"', '{"__proto__":{"x":1},"version"'),
      ],
    ];
    for (const [name, doc] of cases) {
      await writeRecord(target.root, doc);
      const got = await load(target);
      if (name === "__proto__ keys") {
        assert(got.have !== undefined, "an extra key is harmless");
        continue;
      }
      assertEquals(got.have, undefined, name);
      assert(typeof got.why === "string" && got.why.length > 0, `${name}: a reason`);
    }
  });
});

Deno.test("resume: oversized, non-regular and symlinked records are stale", async () => {
  await withTempDir(async (dir) => {
    const target = await prepared(dir);
    await saveResume(target, INFO_HASH, bits(8, 0));
    const path = resumePath(target.root, INFO_HASH);

    await Deno.writeTextFile(path, " ".repeat(2 * 1024 * 1024)); // far beyond any genuine size
    assertEquals((await load(target)).why, "the resume record is too large");

    await Deno.remove(path);
    await Deno.mkdir(path);
    assertEquals((await load(target)).why, "the resume record is not a regular file");
    await Deno.remove(path);

    // A symlinked record (even to a valid record) is refused.
    await saveResume(target, INFO_HASH, bits(8, 0));
    await Deno.rename(path, `${dir}/elsewhere.resume`);
    await Deno.symlink(`${dir}/elsewhere.resume`, path);
    assertEquals((await load(target)).why, "the resume record is not a regular file");
  });
});

Deno.test("resume: a .bittorrent that is a symlink or a file is never written through", async () => {
  await withTempDir(async (dir) => {
    const target = await prepared(dir);
    const outside = await Deno.makeTempDir({ prefix: "bt-outside-" });
    try {
      await Deno.symlink(outside, `${target.root}/.bittorrent`);
      await assertRejects(
        () => saveResume(target, INFO_HASH, bits(8)),
        StorageError,
        "is not a plain folder",
      );
      assertEquals([...Deno.readDirSync(outside)].length, 0, "nothing written outside");
      assertEquals((await load(target)).why, ".bittorrent is not a plain folder");
      await Deno.remove(`${target.root}/.bittorrent`);
      await Deno.writeTextFile(`${target.root}/.bittorrent`, "a file in the way");
      await assertRejects(() => saveResume(target, INFO_HASH, bits(8)), StorageError);
      assertEquals((await load(target)).have, undefined);
    } finally {
      await Deno.remove(outside, { recursive: true });
    }
  });
});

Deno.test("resume: a torrent with its own .bittorrent entry keeps no record", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(32, 5);
    const layout = makeLayout(
      [{ path: [".bittorrent", `${toHex(INFO_HASH)}.resume`], length: 32 }],
      16,
      data,
    );
    const storage = await Storage.open(layout, dir);
    await storage.writePiece(0, pieceOf(layout, data, 0));
    await storage.writePiece(1, pieceOf(layout, data, 1));
    await storage.close();
    await assertRejects(
      () => saveResume(storage, INFO_HASH, bits(2, 0, 1)),
      StorageError,
      "has a .bittorrent entry",
    );
    assertEquals(
      await Deno.readFile(`${storage.root}/.bittorrent/${toHex(INFO_HASH)}.resume`),
      data,
    );
    assertEquals((await load(storage)).have, undefined);
  });
});

Deno.test("fuzz: mutated records only ever load as stale or as a well-formed bitfield", async () => {
  await withTempDir(async (dir) => {
    const target = await prepared(dir);
    await saveResume(target, INFO_HASH, bits(8, 0, 2, 5));
    const path = resumePath(target.root, INFO_HASH);
    const original = await Deno.readFile(path);
    const r = rng(20240601);
    let trusted = 0;
    for (let round = 0; round < 2000; round++) {
      const bytes = original.slice(
        0,
        randomInt(r, 4) === 0 ? randomInt(r, original.length) : undefined,
      );
      const edits = 1 + randomInt(r, 4);
      for (let k = 0; k < edits && bytes.length > 0; k++) {
        const at = randomInt(r, bytes.length);
        bytes[at] = randomInt(r, 2) === 0 ? randomInt(r, 256) : bytes[at] ^ (1 << randomInt(r, 8));
      }
      await Deno.writeFile(path, bytes);
      let got: Bitfield | undefined;
      try {
        got = await loadResume(target, INFO_HASH);
      } catch (e) {
        throw new Error(`round ${round}: loadResume threw ${e}`);
      }
      if (got === undefined) continue;
      trusted++;
      assertEquals(got.size, 8, `round ${round}`);
      assert(isValidBitfield(got.bytes, 8), `round ${round}`);
    }
    assert(trusted < 2000, "most mutations make the record stale");
  });
});

Deno.test("resume: pieces with spare bits set in the last byte are refused", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(100, 8);
    const layout = makeLayout([{ path: ["x.bin"], length: 100 }], 16, data); // 7 pieces
    const storage = await Storage.open(layout, dir);
    await storage.close();
    await Deno.writeFile(`${storage.root}/x.bin`, data);
    await saveResume(storage, INFO_HASH, bits(7, 0));
    const doc = await readRecord(storage.root);
    doc.have = btoa(String.fromCharCode(0b1000_0001)); // bit 7 is past the last piece
    await writeRecord(storage.root, doc);
    assertEquals((await load(storage)).why, "the resume record's piece list is corrupt");
  });
});

Deno.test("resume: the part file is stamped like a data file", async () => {
  await withTempDir(async (dir) => {
    const { root, layout } = await prepared(dir);
    const partFilePath = `${root}/.bittorrent/${toHex(INFO_HASH)}.parts`;
    const target = { root, layout, partFilePath };
    // No part file yet: a record without one still loads while there is none.
    await saveResume({ root, layout }, INFO_HASH, bits(8, 2));
    assert((await load(target)).have?.has(2));
    await Deno.writeFile(partFilePath, new Uint8Array(32));
    assertEquals(
      (await load(target)).why,
      "the part file changed since the resume record was saved",
    );

    await saveResume(target, INFO_HASH, bits(8, 2));
    assert((await load(target)).have?.has(2));
    await Deno.writeFile(partFilePath, new Uint8Array(48));
    assertEquals(
      (await load(target)).why,
      "the part file changed since the resume record was saved",
    );
  });
});

Deno.test("resume: a shared piece may be claimed while its unchosen file is missing", async () => {
  await withTempDir(async (dir) => {
    // a.bin ends inside piece 2, where b.bin begins: piece 2 is shared.
    const data = randomBytes(128, 9);
    const layout = makeLayout(
      [{ path: ["a.bin"], length: 40 }, { path: ["b.bin"], length: 88 }],
      16,
      data,
    );
    const storage = await Storage.open(layout, dir);
    await storage.close();
    const root = storage.root;
    await Deno.writeFile(`${root}/a.bin`, data.subarray(0, 40));
    await Deno.remove(`${root}/b.bin`);
    const partFilePath = `${root}/.bittorrent/${toHex(INFO_HASH)}.parts`;
    await Deno.mkdir(`${root}/.bittorrent`, { recursive: true });
    await Deno.writeFile(partFilePath, pieceOf(layout, data, 2));
    const target = { root, layout, partFilePath };
    await saveResume(target, INFO_HASH, bits(8, 0, 1, 2));
    assertEquals([...(await load(target)).have!.ones()], [0, 1, 2]);
    // A piece of b.bin alone cannot be in the part file: not believed.
    const doc = await readRecord(root);
    doc.have = btoa(String.fromCharCode(0b1110_1000)); // pieces 0, 1, 2 and 4
    await writeRecord(root, doc);
    assertEquals(
      (await load(target)).why,
      "the resume record claims piece 4, which is not on disk",
    );
    // Without a part file the shared piece is not believed either.
    await saveResume({ root, layout }, INFO_HASH, bits(8, 0, 1, 2));
    assertEquals(
      (await load({ root, layout })).why,
      "the resume record claims piece 2, which is not on disk",
    );
  });
});
