import { createHash } from "node:crypto";
import {
  blocksRoot,
  fileMerkle,
  leafHashes,
  MERKLE_BLOCK,
  merkleRoot,
  merkleRows,
  nextPowerOfTwo,
  padHash,
} from "../../src/util/mod.ts";
import { assertEquals, assertThrows } from "../assert.ts";
import { mulberry32, randomInt } from "../random.ts";

/** BEP 52's tree, straight from its definition, with node:crypto: the reference. */
function referenceRoot(data: Uint8Array, leaves: number): Uint8Array {
  const h = (...parts: Uint8Array[]) => {
    const hash = createHash("sha256");
    for (const p of parts) hash.update(p);
    return new Uint8Array(hash.digest());
  };
  let row: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += MERKLE_BLOCK) {
    row.push(h(data.subarray(at, at + MERKLE_BLOCK)));
  }
  while (row.length < leaves) row.push(new Uint8Array(32));
  while (row.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < row.length; i += 2) next.push(h(row[i], row[i + 1]));
    row = next;
  }
  return row[0];
}

function randomBytes(rand: () => number, n: number): Uint8Array {
  return new Uint8Array(n).map(() => randomInt(rand, 256));
}

Deno.test("merkle: roots of files of every shape agree with the tree built from its definition", () => {
  const rand = mulberry32(52);
  const sizes = [1, 100, 16383, 16384, 16385, 32768, 49152, 65536, 65537, 200_000, 300_001];
  for (const size of sizes) {
    const data = randomBytes(rand, size);
    const blocks = Math.ceil(size / MERKLE_BLOCK);
    for (const pieceLength of [16384, 32768, 65536, 262144]) {
      const m = fileMerkle(data, pieceLength);
      assertEquals(m.root, referenceRoot(data, nextPowerOfTwo(blocks)), `${size} @ ${pieceLength}`);
      const pieces = Math.ceil(size / pieceLength);
      assertEquals(m.layer?.length, pieces > 1 ? pieces * 32 : undefined, "layer size");
      for (let p = 0; pieces > 1 && p < pieces; p++) {
        const piece = data.subarray(p * pieceLength, (p + 1) * pieceLength);
        assertEquals(
          m.layer!.subarray(p * 32, p * 32 + 32),
          referenceRoot(piece, pieceLength / MERKLE_BLOCK),
          `layer entry ${p} of ${size} @ ${pieceLength}`,
        );
      }
    }
  }
});

Deno.test("merkle: pad hashes are the roots of all-zero subtrees; bad rows are refused", () => {
  assertEquals(padHash(0), new Uint8Array(32));
  assertEquals(padHash(3), referenceRoot(new Uint8Array(0), 8));
  assertEquals(merkleRoot(padHash(2), 4, 2), padHash(4), "a row of pad hashes, padded");
  assertThrows(() => merkleRoot(new Uint8Array(64), 1), RangeError);
  assertThrows(() => merkleRoot(new Uint8Array(32), 3), RangeError);
  assertThrows(() => merkleRoot(new Uint8Array(31), 2), RangeError);
  assertThrows(() => blocksRoot(new Uint8Array(0), 1), RangeError);
});

Deno.test("merkle: leafHashes and merkleRows give every row, up to the reference root", () => {
  const rand = mulberry32(53);
  for (const size of [1, 16384, 50_000, 200_001]) {
    const data = randomBytes(rand, size);
    const leaves = leafHashes(data);
    const width = nextPowerOfTwo(leaves.length / 32);
    const rows = merkleRows(leaves, width);
    assertEquals(rows.length, Math.log2(width) + 1);
    assertEquals(rows.at(-1), referenceRoot(data, width));
    assertEquals(rows[0].subarray(0, leaves.length), leaves);
    rows.forEach((row, k) => assertEquals(row.length, (width / 2 ** k) * 32));
    if (width === 1) continue;
    // Rows from a higher layer: padding there is the all-zero subtree of that height.
    const upper = merkleRows(rows[1].subarray(0, Math.ceil(leaves.length / 64) * 32), width / 2, 1);
    assertEquals(upper.at(-1), rows.at(-1));
  }
});
