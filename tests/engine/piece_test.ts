import { ActivePiece, PiecePool } from "../../src/engine/piece.ts";
import { MAX_BLOCK } from "../../src/peer/mod.ts";
import { assert, assertEquals, assertThrows } from "../assert.ts";

Deno.test("ActivePiece: blocks go free, requested, received; a reused buffer is fully overwritten", () => {
  const pool = new PiecePool(3 * MAX_BLOCK);
  const dirty = pool.take(3 * MAX_BLOCK);
  dirty.fill(0xee);
  pool.give(dirty);
  const length = 2 * MAX_BLOCK + 100;
  const piece = new ActivePiece(7, length, pool.take(length));
  assertEquals(piece.buffer.buffer, dirty.buffer, "the pool hands the same memory back");
  assertEquals(piece.buffer.byteOffset, dirty.byteOffset);
  assertEquals(piece.blockCount, 3);
  assertEquals(piece.blockLength(2), 100);
  assertEquals(piece.nextFreeBlock(), 0);
  piece.requested[0]++;
  piece.requested[1]++;
  assertEquals(piece.nextFreeBlock(), 2);
  piece.release(1);
  assertEquals(piece.nextFreeBlock(), 1);
  assert(!piece.untouched);
  for (let b = 0; b < 3; b++) {
    assert(piece.store(b, new Uint8Array(piece.blockLength(b)).fill(b + 1), "peer"));
  }
  assert(!piece.store(0, new Uint8Array(MAX_BLOCK), "peer"), "a second copy is refused");
  piece.discard(1);
  assert(!piece.complete);
  assertEquals(piece.nextFreeBlock(), 1, "a discarded block is free again");
  assert(piece.store(1, new Uint8Array(MAX_BLOCK).fill(2), "other"));
  assertEquals(piece.senders[1], "other");
  assert(piece.complete);
  // Every byte of the piece came from a block: nothing of the buffer's old contents is left.
  assertEquals(piece.buffer.indexOf(0xee), -1);
  assertEquals(piece.buffer[length - 1], 3);
});

Deno.test("PiecePool: sizes are checked, clear drops idle buffers", () => {
  const pool = new PiecePool(1024);
  assertThrows(() => pool.take(1025), RangeError);
  assertThrows(() => new ActivePiece(0, 100, new Uint8Array(99)), RangeError);
  const a = pool.take(1024);
  pool.give(a);
  pool.give(new Uint8Array(10)); // not the pool's size: ignored
  pool.clear();
  const b = pool.take(512);
  assert(b.buffer !== a.buffer, "cleared buffers are not handed out again");
  assertEquals(b.length, 512);
});

Deno.test("PiecePool: small pieces share slabs without overlapping; large ones own their memory", () => {
  const pool = new PiecePool(MAX_BLOCK);
  const pieces = Array.from({ length: 100 }, () => pool.take(MAX_BLOCK));
  const slabs = new Set(pieces.map((p) => p.buffer));
  assertEquals(slabs.size, 2, "64 pieces of 16 KiB to a 1 MiB slab");
  const starts = new Set(pieces.map((p) => `${pieces.indexOf(p) < 64 ? 0 : 1}:${p.byteOffset}`));
  assertEquals(starts.size, 100, "no two pieces share memory");
  pieces.forEach((p, i) => p.fill(i));
  pieces.forEach((p, i) => assertEquals(p.indexOf(i ^ 1), -1));
  const short = pool.take(100);
  pool.give(short);
  assertEquals(pool.take(MAX_BLOCK).byteOffset, short.byteOffset, "a short piece returns whole");
  pool.give(new Uint8Array(new SharedArrayBuffer(MAX_BLOCK))); // not the pool's memory: ignored
  assert(slabs.has(pool.take(MAX_BLOCK).buffer), "foreign memory is never handed out");
  const big = new PiecePool(4 << 20);
  const [a, b] = [big.take(4 << 20), big.take(4 << 20)];
  assert(a.buffer !== b.buffer);
  assertEquals(a.buffer.byteLength, 4 << 20);
});

Deno.test("ActivePiece: blocks at any alignment in their read buffer land byte for byte", () => {
  const pool = new PiecePool(4 * MAX_BLOCK);
  const length = 3 * MAX_BLOCK + 5;
  const piece = new ActivePiece(0, length, pool.take(length));
  // A read buffer holding the blocks at offsets of every remainder modulo 8 (13 is a header).
  const read = new Uint8Array(length + 64);
  for (let i = 0; i < read.length; i++) read[i] = (i * 7 + (i >> 8)) & 0xff;
  const offsets = [13, 16, 3, 8];
  for (let b = 0; b < piece.blockCount; b++) {
    const at = offsets[b] + b * MAX_BLOCK;
    assert(piece.store(b, read.subarray(at, at + piece.blockLength(b)), "peer"));
  }
  for (let b = 0; b < piece.blockCount; b++) {
    const at = offsets[b] + b * MAX_BLOCK;
    assertEquals(
      piece.buffer.subarray(b * MAX_BLOCK, b * MAX_BLOCK + piece.blockLength(b)),
      read.subarray(at, at + piece.blockLength(b)),
    );
  }
});

Deno.test("ActivePiece: blocks past the data are padding, zeroed and received, never requested", () => {
  const buffer = new Uint8Array(5 * 16384).fill(9);
  const piece = new ActivePiece(0, buffer.length, buffer, 20_000);
  assertEquals([piece.receivedCount, piece.complete, piece.untouched], [3, false, true]);
  assert(buffer.subarray(2 * 16384).every((b) => b === 0), "pad blocks are zeros");
  assertEquals(buffer[2 * 16384 - 1], 9, "the data blocks are left for peers");
  assertEquals(piece.nextFreeBlock(), 0);
  piece.requested[0]++;
  assertEquals(piece.nextFreeBlock(), 1);
  piece.requested[1]++;
  assertEquals(piece.nextFreeBlock(), -1, "nothing past the data to ask for");
  piece.release(0);
  piece.release(1);
  assert(piece.untouched, "only padding in it: nothing lost by giving it up");
  piece.store(0, new Uint8Array(16384), "a");
  piece.store(1, new Uint8Array(16384), "b");
  assert(piece.complete && !piece.untouched);
  assertEquals(piece.senders.filter((s) => s !== undefined), ["a", "b"]);
  assertEquals(new ActivePiece(1, 16384, undefined, 100).receivedCount, 0, "one block: no pad");
});
