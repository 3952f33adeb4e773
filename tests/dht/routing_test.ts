import {
  commonPrefixBits,
  compareDistance,
  K,
  type NodeInfo,
  PeerStore,
  RoutingTable,
  TokenManager,
} from "../../src/dht/mod.ts";
import { assert, assertEquals } from "../assert.ts";
import { mulberry32, randomInt } from "../random.ts";

const MIN = 60_000;

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

/** An id sharing exactly `bits` leading bits with `own` (deterministic rest from `r`). */
function idAt(own: Uint8Array, bits: number, r: () => number): Uint8Array {
  const id = new Uint8Array(20);
  for (let i = 0; i < 20; i++) id[i] = randomInt(r, 256);
  for (let b = 0; b < bits; b++) {
    const mask = 0x80 >> (b & 7);
    id[b >> 3] = (id[b >> 3] & ~mask) | (own[b >> 3] & mask);
  }
  if (bits < 160) {
    const mask = 0x80 >> (bits & 7);
    id[bits >> 3] = (id[bits >> 3] & ~mask) | (~own[bits >> 3] & mask);
  }
  return id;
}

let portSeq = 1000;
const node = (id: Uint8Array): NodeInfo => ({ id, host: "127.0.0.1", port: portSeq++ });

Deno.test("routing: one bucket until full, then only our own bucket splits", () => {
  const r = mulberry32(1);
  const own = idAt(new Uint8Array(20), 0, r);
  const c = clock();
  const table = new RoutingTable(own, { now: c.now });
  // Eight far nodes (first bit differs) fill the single bucket.
  for (let i = 0; i < K; i++) {
    assertEquals(table.heard(node(idAt(own, 0, r)), "response").status, "added");
  }
  assertEquals(table.bucketCount, 1);
  // A ninth node near us forces a split: far nodes stay in bucket 0, it goes to bucket 1.
  assertEquals(table.heard(node(idAt(own, 5, r)), "response").status, "added");
  assertEquals(table.bucketCount, 2);
  assertEquals(table.size, K + 1);
  // Bucket 0 (far half) is full of good nodes and cannot split: newcomers are cached.
  const far = table.heard(node(idAt(own, 0, r)), "response");
  assertEquals(far.status, "cached");
  assertEquals(far.ping, undefined, "no questionable node to ping");
  assertEquals(table.bucketCount, 2);
  assertEquals(table.size, K + 1);
  // Nodes ever closer keep splitting our own bucket.
  for (let bits = 1; bits < 40; bits++) table.heard(node(idAt(own, bits, r)), "response");
  assert(table.bucketCount > 5, `split into ${table.bucketCount} buckets`);
  for (const n of table.nodes()) {
    assertEquals(
      table.bucketIndex(n.id),
      Math.min(commonPrefixBits(own, n.id), table.bucketCount - 1),
    );
  }
  // Our own id is never stored.
  assertEquals(table.heard(node(own), "response").status, "ignored");
});

Deno.test("routing: good, questionable and bad states follow BEP 5", () => {
  const r = mulberry32(2);
  const own = idAt(new Uint8Array(20), 0, r);
  const c = clock();
  const table = new RoutingTable(own, { now: c.now });
  const a = node(idAt(own, 3, r));
  const b = node(idAt(own, 4, r));
  table.heard(a, "response");
  table.heard(b, "query"); // queried us but never answered: not good
  assertEquals(table.state(table.get(a.id)!), "good");
  assertEquals(table.state(table.get(b.id)!), "questionable");
  assertEquals(table.goodCount(), 1);
  c.advance(14 * MIN);
  table.heard(a, "query"); // answered before and queried us recently: still good
  c.advance(14 * MIN);
  assertEquals(table.state(table.get(a.id)!), "good");
  c.advance(2 * MIN);
  assertEquals(table.state(table.get(a.id)!), "questionable");
  table.failed(a.id);
  assertEquals(table.state(table.get(a.id)!), "questionable");
  table.failed(a.id);
  assertEquals(table.state(table.get(a.id)!), "bad");
  // A response makes it good again.
  table.heard(a, "response");
  assertEquals(table.state(table.get(a.id)!), "good");
  assertEquals(table.questionable(8).map((n) => n.port), [b.port]);
});

Deno.test("routing: a full bucket replaces bad nodes and asks to ping questionable ones", () => {
  const r = mulberry32(3);
  const own = idAt(new Uint8Array(20), 0, r);
  const c = clock();
  const table = new RoutingTable(own, { now: c.now });
  const near = node(idAt(own, 10, r));
  table.heard(near, "response"); // bucket 0 splits once the far half is full
  const far: NodeInfo[] = [];
  for (let i = 0; i < K; i++) {
    far.push(node(idAt(own, 0, r)));
    table.heard(far[i], "response");
  }
  table.heard(node(idAt(own, 0, r)), "response"); // forces the split
  assertEquals(table.bucketIndex(far[0].id), 0);
  c.advance(16 * MIN); // everybody questionable now
  // A newcomer waits in the cache; we are asked to ping the stalest questionable node.
  const newcomer = node(idAt(own, 0, r));
  const res = table.heard(newcomer, "response");
  assertEquals(res.status, "cached");
  assert(res.ping !== undefined);
  // The ping fails twice: the node turns bad and the newcomer takes its place.
  table.failed(res.ping.id);
  assert(table.get(res.ping.id) !== undefined, "one failure is not enough");
  table.failed(res.ping.id);
  assertEquals(table.get(res.ping.id), undefined);
  assert(table.get(newcomer.id) !== undefined, "the cached newcomer moved in");
  // The cache still holds the earlier overflow node: the next bad node makes way for it.
  const inBucket = () => far.filter((f) => table.get(f.id) !== undefined);
  const first = inBucket()[0];
  table.failed(first.id);
  table.failed(first.id);
  assertEquals(table.get(first.id), undefined, "replaced from the cache");
  // With the cache empty, a bad node stays until a newcomer replaces it directly.
  const victim = inBucket()[0];
  table.failed(victim.id);
  table.failed(victim.id);
  assertEquals(table.state(table.get(victim.id)!), "bad");
  const direct = node(idAt(own, 0, r));
  assertEquals(table.heard(direct, "response").status, "replaced");
  assertEquals(table.get(victim.id), undefined);
  assert(table.get(direct.id) !== undefined);
  assertEquals(table.closest(own, 100).length, table.size, "no bad node is handed out");
});

Deno.test("routing: closest() matches a brute-force sort and prefers good nodes", () => {
  const r = mulberry32(4);
  const own = idAt(new Uint8Array(20), 0, r);
  const table = new RoutingTable(own);
  const all: NodeInfo[] = [];
  for (let i = 0; i < 300; i++) {
    const n = node(idAt(own, randomInt(r, 12), r));
    if (table.heard(n, "response").status === "added") all.push(n);
  }
  for (let trial = 0; trial < 20; trial++) {
    const target = idAt(own, randomInt(r, 20), r);
    const got = table.closest(target, 8).map((n) => n.port);
    const want = [...all].sort((a, b) => compareDistance(target, a.id, b.id)).slice(0, 8)
      .map((n) => n.port);
    assertEquals(got, want);
  }
  // A questionable node only fills in when good ones run out.
  const t2 = new RoutingTable(own);
  const q = node(idAt(own, 30, r)), g = node(idAt(own, 1, r));
  t2.heard(q, "query");
  t2.heard(g, "response");
  assertEquals(t2.closest(own, 1).map((n) => n.port), [g.port]);
  assertEquals(t2.closest(own, 2).map((n) => n.port), [q.port, g.port]);
});

Deno.test("routing: one entry per address; a live node cannot be moved by a spoofer", () => {
  const r = mulberry32(5);
  const own = idAt(new Uint8Array(20), 0, r);
  const c = clock();
  const table = new RoutingTable(own, { now: c.now });
  const a = node(idAt(own, 2, r));
  table.heard(a, "response");
  // Another id from the same address is refused while the first is good.
  assertEquals(table.heard({ ...a, id: idAt(own, 3, r) }, "query").status, "ignored");
  // The same id from another address is refused while it is good.
  assertEquals(table.heard({ ...a, port: 9 }, "response").status, "ignored");
  assertEquals(table.get(a.id)!.port, a.port);
  // Once stale, a restarted node (new id, same address) takes over.
  c.advance(16 * MIN);
  const fresh = { ...a, id: idAt(own, 4, r) };
  assertEquals(table.heard(fresh, "response").status, "added");
  assertEquals(table.get(a.id), undefined);
  assertEquals(table.size, 1);
});

Deno.test("routing: stale buckets yield refresh targets inside their range", () => {
  const r = mulberry32(6);
  const own = idAt(new Uint8Array(20), 0, r);
  const c = clock();
  const table = new RoutingTable(own, { now: c.now });
  for (let bits = 0; bits < 6; bits++) {
    for (let i = 0; i < K; i++) table.heard(node(idAt(own, bits, r)), "response");
  }
  const buckets = table.bucketCount;
  assert(buckets >= 5, `${buckets} buckets`);
  assertEquals(table.takeStaleBuckets(), [], "nothing stale yet");
  c.advance(16 * MIN);
  const targets = table.takeStaleBuckets();
  assertEquals(targets.length, buckets);
  targets.forEach((t, i) => assertEquals(table.bucketIndex(t), i, `target of bucket ${i}`));
  assertEquals(table.takeStaleBuckets(), [], "handed out once per staleness");
});

Deno.test("tokens: valid for the querier's IP, across one rotation but not two", () => {
  const c = clock();
  const tokens = new TokenManager({ now: c.now });
  const t = tokens.issue("10.0.0.1");
  assert(tokens.check(t, "10.0.0.1"));
  assert(!tokens.check(t, "10.0.0.2"), "bound to the IP");
  assert(!tokens.check(t.subarray(0, 4), "10.0.0.1"));
  c.advance(5 * MIN);
  assert(tokens.check(t, "10.0.0.1"), "previous secret still accepted");
  const t2 = tokens.issue("10.0.0.1");
  c.advance(5 * MIN);
  assert(!tokens.check(t, "10.0.0.1"), "two rotations later it is gone");
  assert(tokens.check(t2, "10.0.0.1"));
  c.advance(60 * MIN);
  assert(!tokens.check(t2, "10.0.0.1"), "a long pause invalidates everything");
});

Deno.test("store: caps per hash and hash count, expiry, refresh", () => {
  const c = clock();
  const store = new PeerStore({ maxPeersPerHash: 3, maxHashes: 2, ttlMs: 30 * MIN, now: c.now });
  const h1 = new Uint8Array(20).fill(1),
    h2 = new Uint8Array(20).fill(2),
    h3 = new Uint8Array(20).fill(3);
  for (let p = 1; p <= 5; p++) assert(store.add(h1, { host: "10.0.0.1", port: p }));
  assertEquals(store.get(h1).map((p) => p.port).sort(), [3, 4, 5], "oldest evicted");
  assert(store.add(h2, { host: "10.0.0.2", port: 1 }));
  assert(!store.add(h3, { host: "10.0.0.3", port: 1 }), "hash cap");
  assertEquals(store.get(h3), []);
  c.advance(20 * MIN);
  store.add(h1, { host: "10.0.0.1", port: 3 }); // refreshed
  c.advance(11 * MIN);
  assertEquals(store.get(h1), [{ host: "10.0.0.1", port: 3 }], "others expired");
  assertEquals(store.get(h2), []);
  store.purge();
  assertEquals(store.hashCount, 1);
  assert(store.add(h3, { host: "10.0.0.3", port: 1 }), "room again after expiry");
  assertEquals(store.get(h1, 0), []);
});
