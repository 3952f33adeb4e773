import { ReadCache } from "../../src/engine/read_cache.ts";
import { assertEquals, assertRejects } from "../assert.ts";

/** A fake disk of 10 pieces of 64 KiB (the last 1000 bytes) whose byte i of piece p is (p + i) & 255. */
function disk() {
  const reads: string[] = [];
  let failNext = false;
  const length = (p: number) => (p === 9 ? 1000 : 65536);
  return {
    reads,
    length,
    failOnce() {
      failNext = true;
    },
    read(index: number, begin: number, len: number): Promise<Uint8Array> {
      reads.push(`${index}:${begin}+${len}`);
      if (failNext) {
        failNext = false;
        return Promise.reject(new Error("disk error"));
      }
      const out = new Uint8Array(len);
      for (let i = 0; i < len; i++) out[i] = (index + begin + i) & 255;
      return Promise.resolve(out);
    },
  };
}

Deno.test("ReadCache: one read per piece, blocks served from memory, least recently used evicted", async () => {
  const d = disk();
  const cache = new ReadCache(d, d.length, 4 * 65536);
  for (let b = 0; b < 4; b++) {
    const block = await cache.read(2, b * 16384, 16384);
    assertEquals(block[0], (2 + b * 16384) & 255);
    assertEquals(block.length, 16384);
  }
  assertEquals(d.reads, ["2:0+65536"]);
  for (const p of [3, 4, 5]) await cache.read(p, 0, 100);
  await cache.read(2, 100, 10); // 2 is used again: 3 is now the oldest
  await cache.read(6, 0, 10); // evicts 3
  await cache.read(2, 0, 10);
  await cache.read(3, 0, 10);
  assertEquals(d.reads, [
    "2:0+65536",
    "3:0+65536",
    "4:0+65536",
    "5:0+65536",
    "6:0+65536",
    "3:0+65536",
  ]);
  const last = await cache.read(9, 500, 500);
  assertEquals(last.length, 500);
  assertEquals(d.reads.at(-1), "9:0+1000");
});

Deno.test("ReadCache: a failed read is not kept; pieces too big for the budget are read block by block", async () => {
  const d = disk();
  const cache = new ReadCache(d, d.length, 4 * 65536);
  d.failOnce();
  await assertRejects(() => cache.read(1, 0, 10), Error, "disk error");
  assertEquals((await cache.read(1, 0, 10))[0], 1);
  assertEquals(d.reads, ["1:0+65536", "1:0+65536"]);

  const small = disk();
  const direct = new ReadCache(small, small.length, 3 * 65536);
  await direct.read(1, 0, 16384);
  await direct.read(1, 16384, 16384);
  assertEquals(small.reads, ["1:0+16384", "1:16384+16384"]);
});
