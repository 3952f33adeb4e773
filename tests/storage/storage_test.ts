import type { TorrentInfo } from "../../src/metainfo/mod.ts";
import { Storage, StorageError, type StorageLayout } from "../../src/storage/mod.ts";
import { sha1, Sha1Pieces } from "../../src/util/mod.ts";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import {
  exists,
  type FileSpec,
  makeLayout,
  pieceOf,
  randomBytes,
  rng,
  withTempDir,
} from "./helpers.ts";

const MIXED: FileSpec[] = [
  { path: ["t", "a.bin"], length: 10 },
  { path: ["t", "empty1"], length: 0 },
  { path: ["t", "sub", "b.bin"], length: 3 },
  { path: [".pad", "5"], length: 5, padding: true },
  { path: ["t", "sub", "empty2"], length: 0 },
  { path: ["t", "c.bin"], length: 1 },
  { path: ["t", "d", "e", "f.bin"], length: 20 },
  { path: [".pad", "2"], length: 2, padding: true },
  { path: ["t", "g.bin"], length: 9 },
];
const MIXED_TOTAL = 50;

function ones(bits: { has(i: number): boolean; size: number }): number[] {
  const out: number[] = [];
  for (let i = 0; i < bits.size; i++) if (bits.has(i)) out.push(i);
  return out;
}

Deno.test("single file: write every piece, verify, read back, bytes on disk", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(100_000, 1);
    const layout = makeLayout([{ path: ["one.bin"], length: data.length }], 16384, data);
    const s = await Storage.open(layout, dir);
    assertEquals((await s.verify()).count, 0);
    for (let i = layout.pieceCount - 1; i >= 0; i--) {
      await s.writePiece(i, pieceOf(layout, data, i));
    }
    const have = await s.verify();
    assert(have.complete, "all pieces verified");
    assertEquals(await s.read(3, 100, 5000), data.subarray(3 * 16384 + 100, 3 * 16384 + 5100));
    assertEquals(await s.read(6, 0, s.pieceSize(6)), data.subarray(6 * 16384));
    await s.finish();
    await s.close();
    assertEquals(await Deno.readFile(`${dir}/one.bin`), data);
  });
});

Deno.test("multi-file with empty and pad files: pieces span files, pads never created", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(MIXED_TOTAL, 2);
    const layout = makeLayout(MIXED, 7, data);
    const s = await Storage.open(layout, dir);
    // Files exist from the start, empty; pad files do not.
    assert(await exists(`${dir}/t/empty1`));
    assert(await exists(`${dir}/t/sub/empty2`));
    assert(await exists(`${dir}/t/d/e/f.bin`));
    assert(!(await exists(`${dir}/.pad`)), "pad folder must not be created");
    await Promise.all(
      Array.from(
        { length: layout.pieceCount },
        (_, i) => s.writePiece(i, pieceOf(layout, data, i)),
      ),
    );
    assert((await s.verify()).complete);
    // Every (piece, begin, length) read across file boundaries matches.
    for (let i = 0; i < layout.pieceCount; i++) {
      const size = s.pieceSize(i);
      for (let b = 0; b <= size; b++) {
        for (let n = 0; b + n <= size; n++) {
          const at = i * 7 + b;
          assertEquals(await s.read(i, b, n), data.subarray(at, at + n), `read ${i} ${b} ${n}`);
        }
      }
      // Into reused memory (the upload cache's), pad bytes come out as zeros too.
      const into = new Uint8Array(size).fill(0xee);
      const got = await s.read(i, 0, size, into);
      assert(got === into, "read into the memory given");
      assertEquals(got, data.subarray(i * 7, i * 7 + size), `read ${i} into used memory`);
    }
    await assertRejects(() => s.read(0, 0, 7, new Uint8Array(6)), RangeError);
    await s.close();
    assertEquals(await Deno.readFile(`${dir}/t/a.bin`), data.subarray(0, 10));
    assertEquals(await Deno.readFile(`${dir}/t/sub/b.bin`), data.subarray(10, 13));
    assertEquals((await Deno.readFile(`${dir}/t/empty1`)).length, 0);
    assertEquals(await Deno.readFile(`${dir}/t/c.bin`), data.subarray(18, 19));
    assertEquals(await Deno.readFile(`${dir}/t/d/e/f.bin`), data.subarray(19, 39));
    assertEquals(await Deno.readFile(`${dir}/t/g.bin`), data.subarray(41, 50));
    assert(!(await exists(`${dir}/.pad`)));
  });
});

Deno.test("write(): blocks of a piece land at the right place", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(MIXED_TOTAL, 3);
    const layout = makeLayout(MIXED, 16, data);
    const s = await Storage.open(layout, dir);
    for (let i = 0; i < layout.pieceCount; i++) {
      const p = pieceOf(layout, data, i);
      const cut = Math.min(5, p.length);
      await s.write(i, cut, p.subarray(cut));
      await s.write(i, 0, p.subarray(0, cut));
    }
    assert((await s.verify()).complete);
    await s.close();
  });
});

Deno.test("verify: partial, corrupted, short and missing data", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(MIXED_TOTAL, 4);
    const layout = makeLayout(MIXED, 7, data); // 8 pieces
    const s = await Storage.open(layout, dir);
    for (const i of [0, 2, 3, 4, 5, 6, 7]) await s.writePiece(i, pieceOf(layout, data, i));
    assertEquals(ones(await s.verify()), [0, 2, 3, 4, 5, 6, 7]);

    // Corrupt one byte of f.bin at torrent offset 30 (piece 4).
    const f = await Deno.open(`${dir}/t/d/e/f.bin`, { read: true, write: true });
    await f.seek(30 - 19, Deno.SeekMode.Start);
    await f.write(new Uint8Array([data[30] ^ 0xff]));
    f.close();
    assertEquals(ones(await s.verify()), [0, 2, 3, 5, 6, 7]);

    // Truncate g.bin (41..50) to 4 bytes: pieces 6 (42..49) and 7 (49..50) lose bytes.
    await Deno.truncate(`${dir}/t/g.bin`, 4);
    assertEquals(ones(await s.verify()), [0, 2, 3, 5]);

    // Delete a.bin (0..10): pieces 0 and 1 need it.
    await Deno.remove(`${dir}/t/a.bin`);
    assertEquals(ones(await s.verify()), [2, 3, 5]);
    await assertRejects(() => s.read(6, 0, 7), StorageError, "shorter than expected");
    await s.close();
  });
});

Deno.test("verify: progress is monotonic and ends at the total; large piece counts batch", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(3 * 1024 * 1024 + 123, 5);
    const layout = makeLayout(
      [{ path: ["x", "a"], length: 1_000_000 }, { path: ["x", "b"], length: data.length - 1e6 }],
      16384,
      data,
    );
    const s = await Storage.open(layout, dir, { maxOpenFiles: 1 });
    for (let i = 0; i < layout.pieceCount; i += 2) await s.writePiece(i, pieceOf(layout, data, i));
    const seen: number[] = [];
    const have = await s.verify((checked, total) => {
      assertEquals(total, layout.pieceCount);
      seen.push(checked);
    });
    assertEquals(seen[seen.length - 1], layout.pieceCount);
    for (let k = 1; k < seen.length; k++) assert(seen[k] > seen[k - 1], "monotonic progress");
    assertEquals(have.count, Math.ceil(layout.pieceCount / 2));
    for (let i = 0; i < layout.pieceCount; i++) assertEquals(have.has(i), i % 2 === 0);
    await s.close();
  });
});

Deno.test("existing data is preserved and verified; finish trims leftovers", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(MIXED_TOTAL, 6);
    const layout = makeLayout(MIXED, 8, data);
    await Deno.mkdir(`${dir}/t/sub`, { recursive: true });
    await Deno.mkdir(`${dir}/t/d/e`, { recursive: true });
    await Deno.writeFile(`${dir}/t/a.bin`, data.subarray(0, 10));
    await Deno.writeFile(`${dir}/t/sub/b.bin`, data.subarray(10, 13));
    await Deno.writeFile(`${dir}/t/c.bin`, data.subarray(18, 19));
    await Deno.writeFile(`${dir}/t/d/e/f.bin`, data.subarray(19, 39));
    // g.bin is longer than it should be: a leftover tail that must survive until finish().
    const long = new Uint8Array(20);
    long.set(data.subarray(41, 50));
    long.fill(0xee, 9);
    await Deno.writeFile(`${dir}/t/g.bin`, long);
    const s = await Storage.open(layout, dir);
    assertEquals(await Deno.readFile(`${dir}/t/g.bin`), long, "open must not truncate");
    assert((await s.verify()).complete, "existing data verifies complete");
    await s.finish();
    assertEquals(await Deno.readFile(`${dir}/t/g.bin`), data.subarray(41, 50));
    assertEquals(await Deno.readFile(`${dir}/t/a.bin`), data.subarray(0, 10));
    await s.close();
    // Opening again changes nothing.
    const again = await Storage.open(layout, dir);
    assert((await again.verify()).complete);
    await again.close();
  });
});

Deno.test("out-of-bounds reads and writes are rejected with StorageError", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(MIXED_TOTAL, 7);
    const layout = makeLayout(MIXED, 16, data); // pieces 16,16,16,2
    const s = await Storage.open(layout, dir);
    const p = new Uint8Array(16);
    await assertRejects(() => s.writePiece(-1, p), StorageError, "does not exist");
    await assertRejects(() => s.writePiece(4, p), StorageError, "does not exist");
    await assertRejects(() => s.writePiece(0.5, p), StorageError, "does not exist");
    await assertRejects(() => s.writePiece(NaN, p), StorageError, "does not exist");
    await assertRejects(() => s.writePiece(3, p), StorageError, "2 bytes long");
    await assertRejects(() => s.writePiece(0, new Uint8Array(15)), StorageError);
    await assertRejects(() => s.write(0, 10, new Uint8Array(7)), StorageError, "outside piece");
    await assertRejects(() => s.write(0, -1, new Uint8Array(1)), StorageError, "outside piece");
    await assertRejects(() => s.read(3, 0, 3), StorageError, "outside piece");
    await assertRejects(() => s.read(3, 3, 0), StorageError, "outside piece");
    await assertRejects(() => s.read(0, 0, -1), StorageError, "outside piece");
    await assertRejects(() => s.read(0, 0, Infinity), StorageError, "outside piece");
    await assertRejects(() => s.read(0, 2 ** 53, 1), StorageError, "outside piece");
    await assertRejects(() => s.read(9, 0, 1), StorageError, "does not exist");
    assertEquals(await s.read(3, 2, 0), new Uint8Array(0));
    // Nothing was written by the rejected calls.
    assertEquals((await Deno.stat(`${dir}/t/a.bin`)).size, 0);
    await s.close();
  });
});

Deno.test("unusable output folder or paths give StorageError", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(MIXED_TOTAL, 8);
    const layout = makeLayout(MIXED, 16, data);
    await Deno.writeFile(`${dir}/file`, new Uint8Array(1));
    await assertRejects(
      () => Storage.open(layout, `${dir}/file/out`),
      StorageError,
      "cannot create output folder",
    );
    await assertRejects(() => Storage.open(layout, `${dir}/file`), StorageError, "not a folder");
    // A folder where a file should be, and a file where a folder should be.
    await Deno.mkdir(`${dir}/o1/t/a.bin`, { recursive: true });
    await assertRejects(() => Storage.open(layout, `${dir}/o1`), StorageError, "is a folder");
    await Deno.mkdir(`${dir}/o2/t`, { recursive: true });
    await Deno.writeFile(`${dir}/o2/t/sub`, new Uint8Array(0));
    await assertRejects(
      () => Storage.open(layout, `${dir}/o2`),
      StorageError,
      "file is in the way",
    );
  });
});

Deno.test("symbolic links: inside the folder followed, leading outside refused", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(MIXED_TOTAL, 9);
    const layout = makeLayout(MIXED, 16, data);
    await Deno.mkdir(`${dir}/outside`);
    await Deno.mkdir(`${dir}/out1`);
    await Deno.symlink(`${dir}/outside`, `${dir}/out1/t`);
    await assertRejects(() => Storage.open(layout, `${dir}/out1`), StorageError, "outside");
    assertEquals([...Deno.readDirSync(`${dir}/outside`)].length, 0, "nothing created outside");

    await Deno.mkdir(`${dir}/out2/t/d`, { recursive: true });
    await Deno.symlink(`${dir}/outside`, `${dir}/out2/t/d/e`);
    await assertRejects(() => Storage.open(layout, `${dir}/out2`), StorageError, "outside");
    assertEquals([...Deno.readDirSync(`${dir}/outside`)].length, 0, "nothing created outside");

    await Deno.mkdir(`${dir}/out3/t`, { recursive: true });
    await Deno.writeFile(`${dir}/outside/secret`, new Uint8Array([1, 2, 3]));
    await Deno.symlink(`${dir}/outside/secret`, `${dir}/out3/t/a.bin`);
    await assertRejects(() => Storage.open(layout, `${dir}/out3`), StorageError, "outside");
    assertEquals(await Deno.readFile(`${dir}/outside/secret`), new Uint8Array([1, 2, 3]));

    // A link that stays inside the output folder is fine.
    await Deno.mkdir(`${dir}/out4/real`, { recursive: true });
    await Deno.symlink(`${dir}/out4/real`, `${dir}/out4/t`);
    const s = await Storage.open(layout, `${dir}/out4`);
    for (let i = 0; i < layout.pieceCount; i++) await s.writePiece(i, pieceOf(layout, data, i));
    assert((await s.verify()).complete);
    await s.close();
    assertEquals(await Deno.readFile(`${dir}/out4/real/a.bin`), data.subarray(0, 10));
  });
});

Deno.test("invalid layouts are rejected before touching the disk", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(20, 10);
    const good = makeLayout([{ path: ["a"], length: 10 }, { path: ["b"], length: 10 }], 8, data);
    const cases: [string, unknown][] = [
      ["unsafe", { ...good, files: [{ ...good.files[0], path: [".."] }, good.files[1]] }],
      ["unsafe", { ...good, files: [{ ...good.files[0], path: ["x/y"] }, good.files[1]] }],
      ["unsafe", { ...good, files: [{ ...good.files[0], path: [""] }, good.files[1]] }],
      ["no path", { ...good, files: [{ ...good.files[0], path: [] }, good.files[1]] }],
      ["twice", { ...good, files: [good.files[0], { ...good.files[1], path: ["a"] }] }],
      ["offset", { ...good, files: [good.files[0], { ...good.files[1], offset: 9 }] }],
      ["piece count", { ...good, pieceCount: 2 }],
      ["no piece hashes", { ...good, hashes: {} }],
      ["info-hash", { ...good, infoHash: new Uint8Array(19) }],
      ["piece length", { ...good, pieceLength: 0 }],
      ["add up", { ...good, totalLength: 21, pieceCount: 3 }],
    ];
    for (const [why, layout] of cases) {
      await assertRejects(
        () => Storage.open(layout as typeof good, `${dir}/out`),
        StorageError,
        why,
      );
    }
    assert(!(await exists(`${dir}/out`)), "nothing created for invalid layouts");
    await assertRejects(() => Storage.open(good, dir, { maxOpenFiles: 0 }), StorageError);
  });
});

Deno.test("many files with maxOpenFiles=2: concurrent writes, bounded handles", async () => {
  await withTempDir(async (dir) => {
    const specs: FileSpec[] = [];
    for (let i = 0; i < 300; i++) specs.push({ path: ["many", `f${i}`], length: (i * 37) % 101 });
    const total = specs.reduce((n, f) => n + f.length, 0);
    const data = randomBytes(total, 11);
    const layout = makeLayout(specs, 512, data);
    const s = await Storage.open(layout, dir, { maxOpenFiles: 2 });
    await Promise.all(
      Array.from(
        { length: layout.pieceCount },
        (_, i) => s.writePiece(i, pieceOf(layout, data, i)),
      ),
    );
    assert(s.openFiles <= 2, `at most 2 handles open, got ${s.openFiles}`);
    assert((await s.verify()).complete);
    assert(s.openFiles <= 2, `at most 2 handles open after verify, got ${s.openFiles}`);
    const reads = await Promise.all(
      Array.from({ length: layout.pieceCount }, (_, i) => s.read(i, 0, s.pieceSize(i))),
    );
    for (let i = 0; i < reads.length; i++) assertEquals(reads[i], pieceOf(layout, data, i));
    await s.finish();
    await s.close();
    assertEquals(await Deno.readFile(`${dir}/many/f299`), data.subarray(total - specs[299].length));
  });
});

Deno.test("writes to an open handle go straight to it; evicting it waits for them", async () => {
  await withTempDir(async (dir) => {
    const specs: FileSpec[] = [{ path: ["a"], length: 4096 }, { path: ["b"], length: 4096 }];
    const data = randomBytes(8192, 15);
    const layout = makeLayout(specs, 1024, data);
    const s = await Storage.open(layout, dir, { maxOpenFiles: 1 });
    await s.writePiece(0, pieceOf(layout, data, 0)); // opens a
    // Pieces 1-3 go to a's open handle at once; piece 4 opens b, which evicts a while a's
    // writes may still be in flight.
    const order = [1, 2, 3, 4, 5, 6, 7];
    await Promise.all(order.map((i) => s.writePiece(i, pieceOf(layout, data, i))));
    assert(s.openFiles <= 1, `at most 1 handle open, got ${s.openFiles}`);
    assert((await s.verify()).complete);
    await s.close();
    assertEquals(await Deno.readFile(`${dir}/a`), data.subarray(0, 4096));
    assertEquals(await Deno.readFile(`${dir}/b`), data.subarray(4096));
  });
});

Deno.test("randomised: shuffled concurrent block writes match an in-memory model", async () => {
  const r = rng(12345);
  for (let round = 0; round < 6; round++) {
    await withTempDir(async (dir) => {
      const specs: FileSpec[] = [];
      const n = 1 + Math.floor(r() * 12);
      for (let i = 0; i < n; i++) {
        const kind = r();
        const length = kind < 0.2 ? 0 : Math.floor(r() * 300);
        specs.push({ path: [`d${i % 3}`, `f${i}`], length, padding: kind > 0.85 });
      }
      if (specs.every((f) => f.length === 0)) specs.push({ path: ["last"], length: 1 });
      const total = specs.reduce((t, f) => t + f.length, 0);
      const data = randomBytes(total, round + 100);
      const pieceLength = 1 + Math.floor(r() * 64);
      const layout = makeLayout(specs, pieceLength, data);
      const s = await Storage.open(layout, dir, { maxOpenFiles: 1 + Math.floor(r() * 3) });
      // Write each piece as two or three blocks, all blocks in random order, concurrently.
      const jobs: (() => Promise<void>)[] = [];
      for (let i = 0; i < layout.pieceCount; i++) {
        const p = pieceOf(layout, data, i);
        const cut = Math.floor(r() * (p.length + 1));
        jobs.push(() => s.write(i, 0, p.subarray(0, cut)));
        jobs.push(() => s.write(i, cut, p.subarray(cut)));
      }
      for (let i = jobs.length - 1; i > 0; i--) {
        const j = Math.floor(r() * (i + 1));
        [jobs[i], jobs[j]] = [jobs[j], jobs[i]];
      }
      await Promise.all(jobs.map((j) => j()));
      assert((await s.verify()).complete, `round ${round} complete`);
      for (let k = 0; k < 50; k++) {
        const i = Math.floor(r() * layout.pieceCount);
        const size = s.pieceSize(i);
        const b = Math.floor(r() * (size + 1));
        const len = Math.floor(r() * (size - b + 1));
        const at = i * pieceLength + b;
        assertEquals(await s.read(i, b, len), data.subarray(at, at + len));
      }
      await s.close();
    });
  }
});

Deno.test("close is idempotent, waits for writes, and later calls reject", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(MIXED_TOTAL, 13);
    const layout = makeLayout(MIXED, 16, data);
    const s = await Storage.open(layout, dir);
    const w = s.writePiece(0, pieceOf(layout, data, 0));
    const c1 = s.close();
    const c2 = s.close();
    assert(c1 === c2, "same promise");
    await w;
    await c1;
    await s.close();
    await assertRejects(() => s.read(0, 0, 1), StorageError, "closed");
    await assertRejects(() => s.writePiece(0, pieceOf(layout, data, 0)), StorageError, "closed");
    await assertRejects(() => s.verify(), StorageError, "closed");
    assertEquals(await Deno.readFile(`${dir}/t/a.bin`), data.subarray(0, 10));
  });
});

Deno.test("a file deleted during the download makes the write fail clearly", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(MIXED_TOTAL, 14);
    const layout = makeLayout(MIXED, 16, data);
    const s = await Storage.open(layout, dir, { maxOpenFiles: 1 });
    await Deno.remove(`${dir}/t/a.bin`);
    await assertRejects(
      () => s.writePiece(0, pieceOf(layout, data, 0)),
      StorageError,
      "a.bin: no such file or folder",
    );
    await s.close();
  });
});

Deno.test("metainfo's Torrent is a StorageLayout; symlink entries are never created", async () => {
  const asLayout = (t: TorrentInfo): StorageLayout => t;
  assert(typeof asLayout === "function");
  await withTempDir(async (dir) => {
    const data = randomBytes(12, 15);
    const layout = makeLayout(
      [{ path: ["t", "a"], length: 6 }, { path: ["t", "link"], length: 0 }, {
        path: ["t", "b"],
        length: 6,
      }],
      4,
      data,
    );
    const files = layout.files.map((f, i) => i === 1 ? { ...f, symlink: ["t", "a"] } : f);
    const s = await Storage.open({ ...layout, files }, dir);
    for (let i = 0; i < layout.pieceCount; i++) await s.writePiece(i, pieceOf(layout, data, i));
    assert((await s.verify()).complete);
    await s.finish();
    await s.close();
    assert(!(await exists(`${dir}/t/link`)), "symlink entry not created");
    await assertRejects(
      () => Storage.open({ ...layout, files: files.map((f) => ({ ...f, symlink: ["x"] })) }, dir),
      StorageError,
      "symlink entry 0 holds data",
    );
  });
});

Deno.test("verify with pieces too large to double-buffer (sparse files)", async () => {
  await withTempDir(async (dir) => {
    const pieceLength = 64 * 1024 * 1024 + 16384;
    const totalLength = 2 * pieceLength + 100;
    const zeros = new Uint8Array(pieceLength);
    const pieceHashes = new Uint8Array(60);
    pieceHashes.set(sha1(zeros), 0);
    pieceHashes.set(sha1(new Uint8Array([1])), 20); // piece 1 will not match
    pieceHashes.set(sha1(zeros.subarray(0, 100)), 40);
    const layout = {
      pieceLength,
      pieceCount: 3,
      hashes: new Sha1Pieces(pieceHashes),
      infoHash: new Uint8Array(20),
      totalLength,
      files: [{ path: ["sparse"], length: totalLength, offset: 0 }],
    };
    const s = await Storage.open(layout, dir);
    await Deno.truncate(`${dir}/sparse`, totalLength);
    const progress: number[] = [];
    assertEquals(ones(await s.verify((n) => progress.push(n))), [0, 2]);
    assertEquals(progress, [1, 2, 3]);
    await s.close();
  });
});
