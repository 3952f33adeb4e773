import { MemoryReleaser } from "../../src/util/mod.ts";
import { assertEquals } from "../assert.ts";

const MB = 1024 * 1024;

/**
 * A releaser over a pretend heap: `used` is what it holds, `committed` what it has taken, `live`
 * what a collection leaves of both.
 */
function pretend(start: number) {
  const heap = { used: start, committed: start, live: start, collections: 0, trims: 0 };
  const releaser = new MemoryReleaser({
    heap: () => ({ used: heap.used, committed: heap.committed }),
    collect: () => {
      heap.collections++;
      heap.used = heap.committed = heap.live;
    },
    trim: () => heap.trims++,
  });
  /** The heap now holds `used` MB, having taken `committed` MB (as much by default). */
  const at = (used: number, committed = used) => {
    heap.used = used * MB;
    heap.committed = committed * MB;
  };
  return { heap, releaser, at };
}

Deno.test("MemoryReleaser: collects once the heap is quiet after a burst, never while it moves", () => {
  const { heap, releaser, at } = pretend(10 * MB);
  // A burst: the heap moves by megabytes between looks; V8 collects as it allocates.
  for (const used of [13, 16, 12, 15]) {
    at(used, 18);
    releaser.release();
  }
  assertEquals(heap.collections, 0);
  // Quiet now (idle timers move it a little), 8 MB taken above the last collection: one.
  at(15.3, 18);
  releaser.release();
  assertEquals(heap.collections, 1);
  assertEquals(heap.committed, 10 * MB);
  releaser.release();
  releaser.release();
  assertEquals(heap.collections, 1);
  assertEquals(heap.trims, 7, "the allocator is trimmed at every look");
});

Deno.test("MemoryReleaser: a little growth waits; memory V8 gave back lowers the mark", () => {
  const { heap, releaser, at } = pretend(10 * MB);
  at(10.5, 11.5); // 1.5 MB more taken, quiet: not worth a pause
  releaser.release();
  releaser.release();
  assertEquals(heap.collections, 0);
  // V8 gave memory back on its own (8 MB); 2.5 MB taken after that is worth one collection.
  heap.live = 8 * MB;
  at(8, 8);
  releaser.release();
  at(8.2, 10.5);
  releaser.release();
  assertEquals(heap.collections, 1);
});

Deno.test("MemoryReleaser: without V8's gc it only trims", () => {
  let trims = 0, used = 10 * MB;
  const releaser = new MemoryReleaser({
    heap: () => ({ used, committed: used }),
    trim: () => trims++,
  });
  used = 20 * MB;
  releaser.release();
  releaser.release();
  assertEquals(trims, 2);
});
