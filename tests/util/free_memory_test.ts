import { MemoryReleaser } from "../../src/util/mod.ts";
import { assertEquals } from "../assert.ts";

const MB = 1024 * 1024;

/** A releaser over a pretend heap: `used` is what it holds, `live` what a collection leaves. */
function pretend(start: number) {
  const heap = { used: start, live: start, collections: 0, trims: 0 };
  const releaser = new MemoryReleaser({
    heapUsed: () => heap.used,
    collect: () => {
      heap.collections++;
      heap.used = heap.live;
    },
    trim: () => heap.trims++,
  });
  return { heap, releaser };
}

Deno.test("MemoryReleaser: collects once the heap is quiet after a burst, never while it moves", () => {
  const { heap, releaser } = pretend(10 * MB);
  // A burst: the heap moves between looks, so V8 is left to collect as it allocates.
  for (const used of [13, 16, 12, 15]) {
    heap.used = used * MB;
    releaser.release();
  }
  assertEquals(heap.collections, 0);
  // Quiet now, 5 MB above the last collection: one collection, then nothing more to do.
  releaser.release();
  assertEquals(heap.collections, 1);
  assertEquals(heap.used, 10 * MB);
  releaser.release();
  releaser.release();
  assertEquals(heap.collections, 1);
  assertEquals(heap.trims, 7, "the allocator is trimmed at every look");
});

Deno.test("MemoryReleaser: a little garbage waits; V8's own collections lower the mark", () => {
  const { heap, releaser } = pretend(10 * MB);
  heap.used = 11 * MB; // 1 MB of garbage, quiet: not worth a pause
  releaser.release();
  releaser.release();
  assertEquals(heap.collections, 0);
  // V8 collected on its own (8 MB live); 2.5 MB of garbage after that is worth one.
  heap.live = heap.used = 8 * MB;
  releaser.release();
  heap.used = 10.5 * MB;
  releaser.release();
  releaser.release();
  assertEquals(heap.collections, 1);
});

Deno.test("MemoryReleaser: without V8's gc it only trims", () => {
  let trims = 0, used = 10 * MB;
  const releaser = new MemoryReleaser({ heapUsed: () => used, trim: () => trims++ });
  used = 20 * MB;
  releaser.release();
  releaser.release();
  assertEquals(trims, 2);
});
