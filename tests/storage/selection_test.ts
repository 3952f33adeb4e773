/**
 * Storage with a file selection: only chosen files are created and written, pieces shared with
 * unchosen files keep those bytes in the part file, and a later run with another selection
 * takes them up from there.
 */
import { sharedPieces, Storage, StorageError, wantedPieces } from "../../src/storage/mod.ts";
import { toHex } from "../../src/util/mod.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../assert.ts";
import {
  exists,
  type FileSpec,
  makeLayout,
  pieceOf,
  randomBytes,
  rng,
  withTempDir,
} from "./helpers.ts";

// Pieces of 8 bytes over a(10) b(7) c(20) d(3): piece 1 is a|b, 2 is b|c, 4 is c|d.
const FILES: FileSpec[] = [
  { path: ["t", "a.bin"], length: 10 },
  { path: ["t", "sub", "b.bin"], length: 7 },
  { path: ["t", "c.bin"], length: 20 },
  { path: ["t", "d", "d.bin"], length: 3 },
];
const TOTAL = 40;
const B_AND_D = [false, true, false, true];
const A_AND_C = [true, false, true, false];

function ones(bits: { has(i: number): boolean; size: number }): number[] {
  const out: number[] = [];
  for (let i = 0; i < bits.size; i++) if (bits.has(i)) out.push(i);
  return out;
}

/** Bytes of file `k` of FILES within `data`. */
function fileBytes(data: Uint8Array, k: number): Uint8Array {
  const offset = FILES.slice(0, k).reduce((n, f) => n + f.length, 0);
  return data.subarray(offset, offset + FILES[k].length);
}

Deno.test("sharedPieces and wantedPieces follow the file boundaries", () => {
  const layout = makeLayout(FILES, 8, randomBytes(TOTAL, 1));
  assertEquals(sharedPieces(layout), [1, 2, 4]);
  assertEquals(ones(wantedPieces(layout, B_AND_D)), [1, 2, 4]);
  assertEquals(ones(wantedPieces(layout, A_AND_C)), [0, 1, 2, 3, 4]);
  assertEquals(ones(wantedPieces(layout, [false, false, false, true])), [4]);
  assertEquals(ones(wantedPieces(layout)), [0, 1, 2, 3, 4]);
  assertThrows(() => wantedPieces(layout, [true]), StorageError, "1 entries");
  // Pad files and empty files touch no piece of their own.
  const padded = makeLayout(
    [
      { path: ["x"], length: 5 },
      { path: [".pad", "3"], length: 3, padding: true },
      { path: ["empty"], length: 0 },
      { path: ["y"], length: 8 },
    ],
    8,
    randomBytes(16, 2),
  );
  assertEquals(sharedPieces(padded), []);
  assertEquals(ones(wantedPieces(padded, [false, true, true, false])), []);
  assertEquals(ones(wantedPieces(padded, [false, false, false, true])), [1]);
});

Deno.test("selection: only chosen files appear; shared pieces live in the part file", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(TOTAL, 3);
    const layout = makeLayout(FILES, 8, data);
    const s = await Storage.open(layout, dir, { selected: B_AND_D });
    assertEquals(ones(s.wantedPieces()), [1, 2, 4]);
    assert(!(await exists(`${dir}/t/a.bin`)), "a is not chosen");
    assert(!(await exists(`${dir}/t/c.bin`)), "c is not chosen");
    assert(await exists(`${dir}/t/sub/b.bin`));
    assert(await exists(`${dir}/t/d/d.bin`));
    assert(!(await exists(s.partFilePath)), "no part file before a shared piece is written");
    assert(s.partFilePath.startsWith(`${await Deno.realPath(dir)}/.bittorrent/`));

    await assertRejects(
      () => s.writePiece(0, pieceOf(layout, data, 0)),
      StorageError,
      "not chosen",
    );
    await assertRejects(
      () => s.writePiece(3, pieceOf(layout, data, 3)),
      StorageError,
      "not chosen",
    );
    for (const i of [4, 1, 2]) await s.writePiece(i, pieceOf(layout, data, i));
    assert(await exists(s.partFilePath));
    for (const i of [1, 2, 4]) assert(s.inPartFile(i), `piece ${i} is read from the part file`);
    assertEquals(ones(await s.verify()), [1, 2, 4]);
    // Uploads of shared pieces come back whole, across the unchosen bytes.
    assertEquals(await s.read(1, 0, 8), pieceOf(layout, data, 1));
    assertEquals(await s.read(2, 3, 5), data.subarray(19, 24));
    assertEquals(await s.read(4, 0, 8), pieceOf(layout, data, 4));
    await assertRejects(() => s.read(0, 0, 8), StorageError, "not on disk");
    await s.finish();
    await s.close();

    assertEquals(await Deno.readFile(`${dir}/t/sub/b.bin`), fileBytes(data, 1));
    assertEquals(await Deno.readFile(`${dir}/t/d/d.bin`), fileBytes(data, 3));
    assert(!(await exists(`${dir}/t/a.bin`)) && !(await exists(`${dir}/t/c.bin`)));
    // The part file holds the shared pieces only, not the unchosen files' other bytes.
    assert((await Deno.stat(s.partFilePath)).size <= 3 * 8);

    // The same selection again: the part file is believed (it is checked by hashing).
    const again = await Storage.open(layout, dir, { selected: B_AND_D });
    assertEquals(ones(await again.verify()), [1, 2, 4]);
    assertEquals(await again.read(2, 0, 8), pieceOf(layout, data, 2));
    await again.close();
  });
});

Deno.test("selection: a later run choosing the rest takes the shared bytes from the part file", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(TOTAL, 4);
    const layout = makeLayout(FILES, 8, data);
    const first = await Storage.open(layout, dir, { selected: B_AND_D });
    for (const i of [1, 2, 4]) await first.writePiece(i, pieceOf(layout, data, i));
    await first.close();

    const rest = await Storage.open(layout, dir, { selected: A_AND_C });
    assertEquals(ones(rest.wantedPieces()), [0, 1, 2, 3, 4]);
    // The shared pieces are had already: only 0 and 3 remain to download.
    assertEquals(ones(await rest.verify()), [1, 2, 4]);
    for (const i of [0, 3]) await rest.writePiece(i, pieceOf(layout, data, i));
    assertEquals(ones(await rest.verify()), [0, 1, 2, 3, 4]);
    await rest.finish();
    await rest.close();
    for (let k = 0; k < FILES.length; k++) {
      assertEquals(await Deno.readFile(`${dir}/${FILES[k].path.join("/")}`), fileBytes(data, k));
    }

    // Every file chosen: the files hold everything, so the part file and its folder go.
    const all = await Storage.open(layout, dir);
    assert(!(await exists(all.partFilePath)), "part file removed once every file is chosen");
    assert(!(await exists(`${dir}/.bittorrent`)), "empty .bittorrent folder removed");
    assert((await all.verify()).complete);
    await all.close();
  });
});

Deno.test("selection: a damaged part file loses only its pieces; a damaged chosen file is repaired", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(TOTAL, 5);
    const layout = makeLayout(FILES, 8, data);
    const s = await Storage.open(layout, dir, { selected: B_AND_D });
    for (const i of [1, 2, 4]) await s.writePiece(i, pieceOf(layout, data, i));
    await s.close();

    // Slot 0 holds piece 1: damage a byte of it. Damage b.bin's bytes of piece 2 too.
    const parts = await Deno.open(s.partFilePath, { read: true, write: true });
    await parts.seek(3, Deno.SeekMode.Start);
    await parts.write(new Uint8Array([data[8 + 3] ^ 0xff]));
    parts.close();
    const b = await Deno.open(`${dir}/t/sub/b.bin`, { read: true, write: true });
    await b.seek(6, Deno.SeekMode.Start); // torrent byte 16: piece 2
    await b.write(new Uint8Array([data[16] ^ 0xff]));
    b.close();

    const again = await Storage.open(layout, dir, { selected: B_AND_D });
    // Piece 1 must be fetched again; piece 2's copy in the part file repaired b.bin.
    assertEquals(ones(await again.verify()), [2, 4]);
    assert(!again.inPartFile(1));
    assertEquals(await Deno.readFile(`${dir}/t/sub/b.bin`).then((x) => x[6]), data[16]);
    await again.writePiece(1, pieceOf(layout, data, 1));
    assertEquals(ones(await again.verify()), [1, 2, 4]);
    await again.close();
    assertEquals(await Deno.readFile(`${dir}/t/sub/b.bin`), fileBytes(data, 1));
  });
});

Deno.test("selection: unchosen files left by an earlier run are read, never written", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(TOTAL, 6);
    const layout = makeLayout(FILES, 8, data);
    const all = await Storage.open(layout, dir);
    for (let i = 0; i < layout.pieceCount; i++) await all.writePiece(i, pieceOf(layout, data, i));
    await all.close();
    const before = await Deno.stat(`${dir}/t/c.bin`);

    const some = await Storage.open(layout, dir, { selected: B_AND_D });
    // Everything is still on disk, so everything verifies and can be served.
    assert((await some.verify()).complete);
    assertEquals(await some.read(3, 0, 8), pieceOf(layout, data, 3));
    await some.writePiece(2, pieceOf(layout, data, 2)); // shared: b.bin and the part file
    await some.finish();
    await some.close();
    const after = await Deno.stat(`${dir}/t/c.bin`);
    assertEquals(after.mtime?.getTime(), before.mtime?.getTime(), "c.bin untouched");
    assertEquals(await Deno.readFile(`${dir}/t/c.bin`), fileBytes(data, 2));
  });
});

Deno.test("selection: bad selections and a torrent owning the part file's path are refused", async () => {
  await withTempDir(async (dir) => {
    const layout = makeLayout(FILES, 8, randomBytes(TOTAL, 7));
    await assertRejects(
      () => Storage.open(layout, dir, { selected: [true, false] }),
      StorageError,
      "2 entries",
    );
    // The part file is named after the info-hash.
    const infoHash = makeLayout([{ path: ["a"], length: 10 }], 8, randomBytes(10, 8)).infoHash;
    const name = `${toHex(infoHash)}.parts`;
    const owning = makeLayout(
      [
        { path: ["a"], length: 5 },
        { path: [".bittorrent", name], length: 5 },
      ],
      8,
      randomBytes(10, 8),
    );
    // Same data, so the same info-hash here and part file name: the torrent's own file is in
    // the way.
    await assertRejects(
      () => Storage.open(owning, `${dir}/own`, { selected: [true, false] }),
      StorageError,
      "part file",
    );
  });
});

Deno.test("randomised: three selections in a row end with every chosen byte right", async () => {
  const r = rng(99);
  for (let trial = 0; trial < 40; trial++) {
    await withTempDir(async (dir) => {
      const count = 2 + Math.floor(r() * 6);
      const specs: FileSpec[] = Array.from({ length: count }, (_, k) => ({
        path: [`f${k}.bin`],
        length: Math.floor(r() * 30),
      }));
      const total = specs.reduce((n, f) => n + f.length, 0);
      if (total === 0) return;
      const data = randomBytes(total, trial + 100);
      const pieceLength = 1 + Math.floor(r() * 12);
      const layout = makeLayout(specs, pieceLength, data);
      const pick = () => specs.map(() => r() < 0.5);
      for (let run = 0; run < 3; run++) {
        const selected = pick();
        const s = await Storage.open(layout, dir, { selected });
        const wanted = s.wantedPieces();
        const have = await s.verify();
        for (const i of wanted.ones()) {
          if (!have.has(i)) await s.writePiece(i, pieceOf(layout, data, i));
        }
        const after = await s.verify();
        for (const i of wanted.ones()) assert(after.has(i), `trial ${trial}: piece ${i} had`);
        for (const i of after.ones()) {
          assertEquals(await s.read(i, 0, s.pieceSize(i)), pieceOf(layout, data, i));
        }
        await s.finish();
        await s.close();
        let offset = 0;
        for (let k = 0; k < specs.length; k++) {
          const path = `${dir}/${specs[k].path[0]}`;
          if (selected[k]) {
            assertEquals(
              await Deno.readFile(path),
              data.subarray(offset, offset + specs[k].length),
              `trial ${trial} run ${run}: file ${k}`,
            );
          }
          offset += specs[k].length;
        }
      }
    });
  }
});
