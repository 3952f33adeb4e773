import { ReadCache } from "../../src/engine/read_cache.ts";
import { assertEquals, assertRejects } from "../assert.ts";

/**
 * A fake disk of 10 pieces of 64 KiB (the last 1000 bytes) whose byte i of piece p is
 * (p + i) & 255. It reads into `into` when given, and records each read and its memory.
 */
function disk() {
  const reads: string[] = [];
  const memories: ArrayBufferLike[] = [];
  const held: (() => void)[] = [];
  let failNext = false;
  let hold = false;
  const length = (p: number) => (p === 9 ? 1000 : 65536);
  return {
    reads,
    memories,
    length,
    failOnce() {
      failNext = true;
    },
    /** Reads from now on wait for `release`. */
    holdReads() {
      hold = true;
    },
    release() {
      hold = false;
      for (const go of held.splice(0)) go();
    },
    read(index: number, begin: number, len: number, into?: Uint8Array): Promise<Uint8Array> {
      reads.push(`${index}:${begin}+${len}`);
      if (failNext) {
        failNext = false;
        return Promise.reject(new Error("disk error"));
      }
      const out = into ?? new Uint8Array(len);
      memories.push(out.buffer);
      const fill = () => {
        for (let i = 0; i < len; i++) out[i] = (index + begin + i) & 255;
        return out;
      };
      if (!hold) return Promise.resolve(fill());
      return new Promise((resolve) => held.push(() => resolve(fill())));
    },
  };
}

/** A copy of the block, served through the cache. */
async function block(cache: ReadCache, index: number, begin: number, length: number) {
  let copy = new Uint8Array(0);
  await cache.serve(index, begin, length, (b) => copy = b.slice());
  return copy;
}

Deno.test("ReadCache: one read per piece, blocks served from memory, least recently used evicted", async () => {
  const d = disk();
  const cache = new ReadCache(d, d.length, 4 * 65536);
  for (let b = 0; b < 4; b++) {
    const got = await block(cache, 2, b * 16384, 16384);
    assertEquals(got[0], (2 + b * 16384) & 255);
    assertEquals(got.length, 16384);
  }
  assertEquals(d.reads, ["2:0+65536"]);
  for (const p of [3, 4, 5]) await block(cache, p, 0, 100);
  await block(cache, 2, 100, 10); // 2 is used again: 3 is now the oldest
  await block(cache, 6, 0, 10); // evicts 3
  await block(cache, 2, 0, 10);
  assertEquals((await block(cache, 3, 7, 10))[0], (3 + 7) & 255);
  assertEquals(d.reads, [
    "2:0+65536",
    "3:0+65536",
    "4:0+65536",
    "5:0+65536",
    "6:0+65536",
    "3:0+65536",
  ]);
  const last = await block(cache, 9, 500, 500);
  assertEquals(last.length, 500);
  assertEquals(last[0], (9 + 500) & 255);
  assertEquals(d.reads.at(-1), "9:0+1000");
});

Deno.test("ReadCache: an evicted piece's memory is reused for the next piece read", async () => {
  const d = disk();
  const cache = new ReadCache(d, d.length, 4 * 65536);
  for (const p of [0, 1, 2, 3]) await block(cache, p, 0, 10);
  await block(cache, 4, 0, 10); // evicts 0
  await block(cache, 5, 0, 10); // evicts 1
  assertEquals(new Set(d.memories).size, 5, "four pieces' memory, and one more for piece 4");
  assertEquals(d.memories[5], d.memories[0], "piece 5 went where piece 0 was");
  assertEquals((await block(cache, 5, 3, 1))[0], 5 + 3);
});

Deno.test("ReadCache: memory that a block is still served from is not reused", async () => {
  const d = disk();
  const cache = new ReadCache(d, d.length, 4 * 65536);
  d.holdReads();
  const first = block(cache, 1, 1000, 16); // waits for its read, pinning piece 1
  for (const p of [2, 3, 4, 5, 6]) cache.prefetch(p); // 1 is evicted meanwhile
  d.release();
  const got = await first;
  assertEquals(got[0], (1 + 1000) & 255, "piece 1's bytes, not another piece's");
  assertEquals(new Set(d.memories).size, d.memories.length, "no memory reused while pinned");
  // Once served, piece 1's memory is free for the next read.
  await block(cache, 7, 0, 10);
  assertEquals(d.memories.at(-1), d.memories[0]);
  assertEquals((await block(cache, 7, 20, 1))[0], 7 + 20);
});

Deno.test("ReadCache: prefetch reads a piece once, before it is asked for", async () => {
  const d = disk();
  const cache = new ReadCache(d, d.length, 4 * 65536);
  cache.prefetch(3);
  cache.prefetch(3);
  assertEquals(d.reads, ["3:0+65536"]);
  assertEquals((await block(cache, 3, 5, 1))[0], 3 + 5);
  assertEquals(d.reads, ["3:0+65536"]);
});

Deno.test("ReadCache: peek gives a block only once its piece is in memory, and keeps it recent", async () => {
  const d = disk();
  const cache = new ReadCache(d, d.length, 4 * 65536);
  d.holdReads();
  cache.prefetch(2);
  assertEquals(cache.peek(2, 0, 10), undefined); // still being read
  d.release();
  await block(cache, 2, 0, 1);
  assertEquals([...cache.peek(2, 100, 3)!], [102, 103, 104]);
  for (const p of [3, 4, 5]) await block(cache, p, 0, 1);
  assertEquals(cache.peek(2, 0, 1)?.[0], 2); // 2 is the most recent again: 3 is the oldest
  await block(cache, 6, 0, 1);
  assertEquals(cache.peek(3, 0, 1), undefined); // evicted
  assertEquals(cache.peek(2, 0, 1)?.[0], 2);
  assertEquals(d.reads.length, 5);
});

Deno.test("ReadCache: a failed read is not kept; pieces too big for the budget are read block by block", async () => {
  const d = disk();
  const cache = new ReadCache(d, d.length, 4 * 65536);
  d.failOnce();
  await assertRejects(() => block(cache, 1, 0, 10), Error, "disk error");
  assertEquals((await block(cache, 1, 0, 10))[0], 1);
  assertEquals(d.reads, ["1:0+65536", "1:0+65536"]);

  const small = disk();
  const direct = new ReadCache(small, small.length, 3 * 65536);
  await block(direct, 1, 0, 16384);
  await block(direct, 1, 16384, 16384);
  assertEquals(small.reads, ["1:0+16384", "1:16384+16384"]);
});
