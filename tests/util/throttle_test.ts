import { BothLimits, TokenBucket } from "../../src/util/mod.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../assert.ts";

Deno.test("unlimited (0 or Infinity) passes everything at once", async () => {
  for (const rate of [0, Infinity]) {
    const b = new TokenBucket(rate);
    assertEquals(b.rate, Infinity);
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) await b.take(1 << 20);
    assert(b.tryTake(1e12), "tryTake unlimited");
    assert(performance.now() - t0 < 500, "instant");
  }
});

Deno.test("the bucket starts full: one burst passes at once, then tryTake refuses", async () => {
  const b = new TokenBucket(100_000, 30_000);
  await b.take(10_000);
  assert(b.tryTake(20_000), "rest of the burst");
  assert(!b.tryTake(5_000), "bucket empty");
});

Deno.test("several concurrent takers: average within 10 % of the rate, fair shares", async () => {
  const rate = 500_000;
  const chunk = 16_384;
  const b = new TokenBucket(rate);
  const ac = new AbortController();
  const got = [0, 0, 0, 0];
  const t0 = performance.now();
  const duration = 1200;
  const timer = setTimeout(() => ac.abort(), duration);
  await Promise.all(got.map(async (_, k) => {
    try {
      for (;;) {
        await b.take(chunk, ac.signal);
        got[k] += chunk;
      }
    } catch (e) {
      if (!(e instanceof DOMException) || e.name !== "AbortError") throw e;
    }
  }));
  clearTimeout(timer);
  const seconds = (performance.now() - t0) / 1000;
  const total = got.reduce((a, n) => a + n, 0);
  const measured = total / seconds;
  console.log(`measured ${measured.toFixed(0)} B/s for a ${rate} B/s limit`);
  assert(
    Math.abs(measured - rate) / rate < 0.1,
    `measured ${measured.toFixed(0)} B/s, limit ${rate}`,
  );
  const min = Math.min(...got), max = Math.max(...got);
  assert(max - min <= 2 * chunk, `fair shares: ${got.join(", ")}`);
});

Deno.test("FIFO: a waiting large request is not overtaken by later small ones", async () => {
  const b = new TokenBucket(200_000, 20_000);
  await b.take(20_000); // empty the bucket
  const order: string[] = [];
  const big = b.take(15_000).then(() => order.push("big"));
  assert(!b.tryTake(1), "tryTake refuses while someone waits");
  const small = b.take(1).then(() => order.push("small"));
  await Promise.all([big, small]);
  assertEquals(order, ["big", "small"]);
});

Deno.test("a request larger than the burst passes and leaves the bucket in debt", async () => {
  const b = new TokenBucket(100_000, 10_000);
  const t0 = performance.now();
  await b.take(30_000); // full bucket: allowed at once, 20 000 in debt
  assert(performance.now() - t0 < 50, "large request passed at once");
  await b.take(1_000); // must wait for the debt plus 1 000 bytes: about 210 ms
  const waited = performance.now() - t0;
  assert(waited >= 180 && waited < 600, `waited ${waited.toFixed(0)} ms`);
});

Deno.test("abort rejects a waiting take and frees its place; aborted signal rejects at once", async () => {
  const b = new TokenBucket(10_000, 10_000);
  await b.take(10_000);
  const ac = new AbortController();
  const stuck = b.take(10_000, ac.signal);
  const next = b.take(500);
  ac.abort();
  await assertRejects(() => stuck, DOMException);
  const t0 = performance.now();
  await next; // 500 bytes at 10 kB/s: about 50 ms, not the aborted 1 s
  assert(performance.now() - t0 < 400, "the aborted request's bytes were not charged");
  await assertRejects(() => b.take(1, AbortSignal.abort()), DOMException);
  const reason = new Error("stop");
  const ac2 = new AbortController();
  const p = b.take(1e6, ac2.signal);
  ac2.abort(reason);
  let caught: unknown;
  await p.catch((e) => caught = e);
  assert(caught === reason, "rejects with the signal's reason");
});

Deno.test("setRate: lifting the limit releases waiters; lowering it re-times them", async () => {
  const b = new TokenBucket(1_000); // default burst: 16 KiB
  await b.take(16_384);
  const waiting = b.take(50_000); // would take ~50 s
  b.setRate(0);
  await waiting;
  assertEquals(b.rate, Infinity);
  b.setRate(20_000);
  assertEquals(b.rate, 20_000);
  assert(b.tryTake(16_384), "bucket full after switching from unlimited");
  const t0 = performance.now();
  await b.take(2_000);
  const waited = performance.now() - t0;
  assert(waited > 50 && waited < 500, `waited ${waited.toFixed(0)} ms`);
});

Deno.test("invalid arguments throw RangeError", () => {
  assertThrows(() => new TokenBucket(-1), RangeError);
  assertThrows(() => new TokenBucket(NaN), RangeError);
  assertThrows(() => new TokenBucket(1000, 0), RangeError);
  assertThrows(() => new TokenBucket(1000, Infinity), RangeError);
  const b = new TokenBucket(1000);
  assertThrows(() => b.take(-1), RangeError);
  assertThrows(() => b.take(NaN), RangeError);
  assertThrows(() => b.tryTake(Infinity), RangeError);
  assertThrows(() => b.setRate(-5), RangeError);
});

Deno.test("priority: higher waiters go first; a lower one holds no higher caller back", async () => {
  const b = new TokenBucket(200_000, 20_000);
  await b.take(20_000); // empty the bucket
  const order: string[] = [];
  const low = b.take(5_000, undefined, -1).then(() => order.push("low"));
  const normal = b.take(5_000).then(() => order.push("normal"));
  const high = b.take(5_000, undefined, 1).then(() => order.push("high"));
  assert(!b.tryTake(1, 1) && !b.tryTake(1), "nobody passes a waiting caller of their priority");
  await Promise.all([low, normal, high]);
  assertEquals(order, ["high", "normal", "low"]);

  // A large low request waits for a full bucket; smaller higher ones pass it meanwhile.
  await b.take(20_000);
  const big = b.take(20_000, undefined, -1);
  await new Promise((r) => setTimeout(r, 30)); // some 6 000 bytes earned
  assert(b.tryTake(2_000, 1) && b.tryTake(2_000), "high and normal pass the waiting low one");
  assert(!b.tryTake(1, -1), "another low one waits its turn");
  await big;
});

Deno.test("BothLimits: the torrent's priority at the shared limit; honorsShared false skips it", async () => {
  const shared = new TokenBucket(100_000, 10_000);
  const mine = new BothLimits(new TokenBucket(0), shared);
  const theirs = new BothLimits(new TokenBucket(0), shared);
  await shared.take(10_000);
  const order: string[] = [];
  mine.priority = 1;
  const a = theirs.take(4_000).then(() => order.push("theirs"));
  const b = mine.take(4_000).then(() => order.push("mine"));
  await Promise.all([a, b]);
  assertEquals(order, ["mine", "theirs"]);
  mine.honorsShared = false;
  assert(!shared.tryTake(10_000), "the shared bucket is empty");
  assert(mine.tryTake(1_000_000), "yet a torrent that ignores it passes");
  await mine.take(1_000_000);
});
