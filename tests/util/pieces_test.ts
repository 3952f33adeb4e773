import {
  fileMerkle,
  HybridPieces,
  MerklePieces,
  paddedPieces,
  pieceLengthAt,
  sha1,
  Sha1Pieces,
} from "../../src/util/mod.ts";
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { mulberry32, randomInt } from "../random.ts";

function randomBytes(rand: () => number, n: number): Uint8Array {
  return new Uint8Array(n).map(() => randomInt(rand, 256));
}

Deno.test("Sha1Pieces and pieceLengthAt: a v1 table checks each piece; the last piece is short", () => {
  const data = new Uint8Array(40_000).map((_, i) => i % 251);
  const g = { pieceLength: 16384, pieceCount: 3, totalLength: data.length };
  const table = new Uint8Array(60);
  for (let i = 0; i < 3; i++) {
    table.set(sha1(data.subarray(i * 16384, i * 16384 + pieceLengthAt(g, i))), i * 20);
  }
  const hashes = new Sha1Pieces(table);
  assertEquals([pieceLengthAt(g, 0), pieceLengthAt(g, 2)], [16384, 40_000 - 32768]);
  assertEquals(hashes.count, 3);
  assert(hashes.verify(2, data.subarray(32768)));
  assert(!hashes.verify(1, data.subarray(32768)), "another piece's bytes");
  assert(!hashes.verify(3, data.subarray(32768)), "no such piece");
});

/** Two files of a v2 torrent with 32 KiB pieces: 80 000 bytes (3 pieces) and 5 000 (1 piece). */
function twoFiles() {
  const rand = mulberry32(9);
  const big = randomBytes(rand, 80_000), small = randomBytes(rand, 5_000);
  const L = 32768;
  const mBig = fileMerkle(big, L), mSmall = fileMerkle(small, L);
  const hashes = new MerklePieces(L, [
    { firstPiece: 0, length: big.length, root: mBig.root },
    { firstPiece: 3, length: small.length, root: mSmall.root },
  ]);
  return { big, small, L, mBig, hashes };
}

Deno.test("MerklePieces: pieces check against the layer or the root; tails and pads are ignored", () => {
  const { big, small, L, mBig, hashes } = twoFiles();
  assertEquals(hashes.missingLayers(), [0]);
  assert(!hashes.knows(0) && hashes.knows(3), "a file of one piece needs no layer");
  assert(!hashes.verify(0, big.subarray(0, L)), "no layer yet: nothing checks");
  assert(!hashes.setLayer(0, mBig.layer!.subarray(32)), "a short layer");
  const wrong = mBig.layer!.slice();
  wrong[5] ^= 1;
  assert(!hashes.setLayer(0, wrong), "a layer that does not lead to the root");
  assert(!hashes.setLayer(1, mBig.layer!), "a file that needs none");
  assert(hashes.setLayer(0, mBig.layer!));
  assertEquals(hashes.missingLayers(), []);

  // The last piece of the big file: 14 464 bytes of data, then the pad up to the piece's end.
  const tail = new Uint8Array(L);
  tail.set(big.subarray(2 * L));
  for (let p = 0; p < 2; p++) assert(hashes.verify(p, big.subarray(p * L, (p + 1) * L)));
  assert(hashes.verify(2, tail));
  tail[L - 1] = 7;
  assert(hashes.verify(2, tail), "bytes past the file's end are not the file's");
  assert(!hashes.verify(2, tail.subarray(0, 1000)), "a piece cut short");
  assert(hashes.verify(3, small));
  const flipped = small.slice();
  flipped[4999] ^= 1;
  assert(!hashes.verify(3, flipped));
  assert(!hashes.verify(1, big.subarray(0, L)), "another piece's bytes");
  assert(!hashes.verify(4, small) && hashes.fileAt(4) === -1, "no such piece");
  assertThrows(() => new MerklePieces(3 * 16384, []), RangeError);
  assertThrows(() => new MerklePieces(8192, []), RangeError);
});

Deno.test("HybridPieces: both halves must pass, the v2 half once its hashes are known", () => {
  const { big, L, mBig, hashes } = twoFiles();
  const piece0 = big.subarray(0, L);
  const v1 = new Sha1Pieces(new Uint8Array([...sha1(piece0), ...new Uint8Array(60)]));
  const hybrid = new HybridPieces(v1, hashes);
  assert(hybrid.verify(0, piece0), "v1 alone while the layer is unknown");
  hashes.setLayer(0, mBig.layer!);
  assert(hybrid.verify(0, piece0));
  const lying = new Sha1Pieces(new Uint8Array([...sha1(new Uint8Array(L)), ...new Uint8Array(60)]));
  assert(!new HybridPieces(lying, hashes).verify(0, new Uint8Array(L)), "v1 passes, v2 does not");
  assert(!hybrid.verify(0, new Uint8Array(L)));
});

Deno.test("paddedPieces: pieces that end in pad files, and how much data comes first", () => {
  const g = (total: number) => ({
    pieceLength: 100,
    pieceCount: Math.ceil(total / 100),
    totalLength: total,
  });
  const span = (offset: number, length: number, padding = false) => ({ offset, length, padding });
  // A file, its pad, a file across two pieces, its pad, an empty file, a file ending the torrent.
  const files = [
    span(0, 30),
    span(30, 70, true),
    span(100, 150),
    span(250, 50, true),
    span(300, 0),
    span(300, 40),
  ];
  assertEquals([...paddedPieces(g(340), files)], [[0, 30], [2, 50]]);
  // A pad between two files in one piece (legacy): the later file ends the piece's data.
  assertEquals([...paddedPieces(g(100), [span(0, 10), span(10, 20, true), span(30, 70)])], []);
  assertEquals([
    ...paddedPieces(g(100), [span(0, 10), span(10, 20, true), span(30, 20), span(50, 50, true)]),
  ], [[0, 50]]);
  // A piece of nothing but padding is fetched as it always was.
  assertEquals([...paddedPieces(g(300), [span(0, 100), span(100, 150, true), span(250, 50)])], []);
  assertEquals([...paddedPieces(g(50), [span(0, 50)])], [], "the short last piece is all data");
});
