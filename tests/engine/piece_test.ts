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
