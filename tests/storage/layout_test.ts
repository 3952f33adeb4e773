import { StorageError } from "../../src/storage/mod.ts";
import { segmentsOf, type StorageLayout, validateLayout } from "../../src/storage/layout.ts";
import { pieceLengthAt, Sha1Pieces } from "../../src/util/mod.ts";
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { makeLayout, rng } from "./helpers.ts";

Deno.test("segmentsOf: ranges split at file boundaries, empty files skipped", () => {
  const layout = makeLayout(
    [
      { path: ["a"], length: 4 },
      { path: ["e"], length: 0 },
      { path: ["b"], length: 3 },
      { path: ["p"], length: 2, padding: true },
      { path: ["c"], length: 5 },
    ],
    5,
    new Uint8Array(14),
  );
  assertEquals(segmentsOf(layout, 0, 14), [
    { file: 0, fileOffset: 0, bufOffset: 0, length: 4 },
    { file: 2, fileOffset: 0, bufOffset: 4, length: 3 },
    { file: 3, fileOffset: 0, bufOffset: 7, length: 2 },
    { file: 4, fileOffset: 0, bufOffset: 9, length: 5 },
  ]);
  assertEquals(segmentsOf(layout, 4, 1), [{ file: 2, fileOffset: 0, bufOffset: 0, length: 1 }]);
  assertEquals(segmentsOf(layout, 3, 5), [
    { file: 0, fileOffset: 3, bufOffset: 0, length: 1 },
    { file: 2, fileOffset: 0, bufOffset: 1, length: 3 },
    { file: 3, fileOffset: 0, bufOffset: 4, length: 1 },
  ]);
  assertEquals(segmentsOf(layout, 13, 0), []);
  assertEquals(pieceLengthAt(layout, 0), 5);
  assertEquals(pieceLengthAt(layout, 2), 4);
});

function randomLayout(r: () => number): StorageLayout {
  const n = Math.floor(r() * 8);
  const files = [];
  let offset = 0;
  for (let i = 0; i < n; i++) {
    const length = r() < 0.3 ? 0 : Math.floor(r() * 100);
    files.push({ path: ["d", `f${i}`], length, offset, padding: r() < 0.15 });
    offset += length;
  }
  const pieceLength = 1 + Math.floor(r() * 40);
  const pieceCount = Math.ceil(offset / pieceLength);
  return {
    pieceLength,
    pieceCount,
    hashes: new Sha1Pieces(new Uint8Array(pieceCount * 20)),
    infoHash: new Uint8Array(20),
    totalLength: offset,
    files,
  };
}

const JUNK: unknown[] = [
  -1,
  0,
  1.5,
  NaN,
  Infinity,
  2 ** 53,
  "7",
  null,
  undefined,
  [],
  {},
  ["..", "x"],
  ["a/b"],
  [""],
  ["."],
  ["ok", "\0"],
  [7],
  [null],
  [{}],
  new Uint8Array(3),
];

/** Replaces one field (top level, or of one file) with junk or a nearby number. */
function mutate(layout: StorageLayout, r: () => number): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const junk = (old: unknown) =>
    typeof old === "number" && r() < 0.5 ? old + pick([-1, 1, 20, -20]) : pick(JUNK);
  const copy: Record<string, unknown> = { ...layout, files: layout.files.map((f) => ({ ...f })) };
  const files = copy.files as Record<string, unknown>[];
  if (files.length > 0 && r() < 0.6) {
    const f = pick(files);
    const key = pick(["path", "length", "offset", "padding"]);
    f[key] = junk(f[key]);
  } else {
    const key = pick(["pieceLength", "pieceCount", "hashes", "infoHash", "totalLength", "files"]);
    copy[key] = junk(copy[key]);
  }
  return copy;
}

Deno.test("fuzz: validateLayout only accepts consistent layouts or throws StorageError", () => {
  const r = rng(2024);
  let accepted = 0, rejected = 0;
  for (let k = 0; k < 5000; k++) {
    const base = randomLayout(r);
    const candidate = r() < 0.2 ? base : r() < 0.02 ? null : mutate(base, r);
    try {
      validateLayout(candidate as StorageLayout);
      accepted++;
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      assert(e.message.startsWith("invalid torrent layout: "), e.message);
      rejected++;
      continue;
    }
    // Accepted: every piece's segments tile the piece exactly, in order, inside their files.
    const L = candidate as StorageLayout;
    for (let i = 0; i < L.pieceCount; i++) {
      const size = pieceLengthAt(L, i);
      assert(size > 0 && size <= L.pieceLength, "piece size in range");
      let at = 0;
      for (const s of segmentsOf(L, i * L.pieceLength, size)) {
        assertEquals(s.bufOffset, at);
        assert(s.length > 0, "no empty segments");
        assert(s.fileOffset >= 0 && s.fileOffset + s.length <= L.files[s.file].length, "inside");
        assertEquals(L.files[s.file].offset + s.fileOffset, i * L.pieceLength + at);
        at += s.length;
      }
      assertEquals(at, size);
    }
  }
  assert(accepted > 500 && rejected > 2000, `both outcomes exercised: ${accepted}/${rejected}`);
});

Deno.test("validateLayout: piece length bounded so verify buffers stay small", () => {
  const huge = { ...randomLayout(rng(1)), pieceLength: 2 ** 31 };
  assertThrows(() => validateLayout(huge), StorageError, "piece length");
});
