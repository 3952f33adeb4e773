import {
  commonPrefixBits,
  compareDistance,
  iterativeLookup,
  type LookupReply,
  type NodeInfo,
  type PeerAddress,
} from "../../src/dht/mod.ts";
import { assert, assertEquals } from "../assert.ts";
import { mulberry32, randomInt } from "../random.ts";

interface SimNode extends NodeInfo {
  buckets: NodeInfo[][];
  dead: boolean;
  values: PeerAddress[];
}

/** An in-memory network whose nodes know each other the Kademlia way (8 per prefix length). */
function network(n: number, seed: number) {
  const r = mulberry32(seed);
  const nodes: SimNode[] = [];
  for (let i = 0; i < n; i++) {
    const id = new Uint8Array(20);
    for (let j = 0; j < 20; j++) id[j] = randomInt(r, 256);
    nodes.push({ id, host: "127.0.0.1", port: 10_000 + i, buckets: [], dead: false, values: [] });
  }
  for (const a of nodes) {
    for (let i = 0; i <= 160; i++) a.buckets.push([]);
    for (const b of nodes) {
      if (a === b) continue;
      const bucket = a.buckets[commonPrefixBits(a.id, b.id)];
      if (bucket.length < 8) bucket.push({ id: b.id, host: b.host, port: b.port });
    }
  }
  const byPort = new Map(nodes.map((x) => [x.port, x]));
  const closestKnown = (x: SimNode, target: Uint8Array) =>
    x.buckets.flat().sort((a, b) => compareDistance(target, a.id, b.id)).slice(0, 8);
  const trueClosest = (target: Uint8Array, k = 8) =>
    nodes.filter((x) => !x.dead).sort((a, b) => compareDistance(target, a.id, b.id)).slice(0, k);
  return { nodes, byPort, closestKnown, trueClosest, r };
}

function randomId(r: () => number): Uint8Array {
  const id = new Uint8Array(20);
  for (let j = 0; j < 20; j++) id[j] = randomInt(r, 256);
  return id;
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("lookup: converges on the true k closest nodes, alpha at a time", async () => {
  const net = network(400, 11);
  for (let trial = 0; trial < 5; trial++) {
    const target = randomId(net.r);
    let inFlight = 0, maxInFlight = 0;
    const result = await iterativeLookup({
      target,
      seeds: [net.nodes[trial]],
      query: async (n) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await tick(randomInt(net.r, 3));
        inFlight--;
        const x = net.byPort.get(n.port)!;
        return { id: x.id, nodes: net.closestKnown(x, target) };
      },
    });
    assertEquals(
      result.closest.map((c) => c.node.port),
      net.trueClosest(target).map((x) => x.port),
      `trial ${trial}`,
    );
    assert(maxInFlight <= 4, `alpha respected (${maxInFlight})`);
    assert(result.queried < 80, `few queries (${result.queried})`);
    assertEquals(result.responded, result.queried);
  }
});

Deno.test("lookup: dead nodes are skipped, peers deduplicated, tokens kept", async () => {
  const net = network(300, 12);
  const target = randomId(net.r);
  const truth = net.trueClosest(target, 12);
  // Two of the closest are dead; the others hold peers (some shared).
  truth[0].dead = true;
  truth[3].dead = true;
  for (const x of truth.slice(1)) {
    x.values = [{ host: "10.0.0.1", port: 1 }, { host: "10.0.0.2", port: x.port }];
  }
  const reported: PeerAddress[] = [];
  const result = await iterativeLookup({
    target,
    seeds: [net.nodes[7], net.nodes[8]],
    query: async (n): Promise<LookupReply> => {
      await tick(0);
      const x = net.byPort.get(n.port)!;
      if (x.dead) throw new Error("timeout");
      return {
        id: x.id,
        nodes: net.closestKnown(x, target),
        values: x.values,
        token: new Uint8Array([x.port & 0xff, x.port >> 8]),
      };
    },
    onPeers: (peers) => reported.push(...peers),
  });
  // Replies name only each node's 8 closest, dead ones included, so the far end of the
  // closest set may be missed; the near end must be exact.
  const alive = net.trueClosest(target);
  assertEquals(result.closest.length, 8);
  assertEquals(
    result.closest.slice(0, 6).map((c) => c.node.port),
    alive.slice(0, 6).map((x) => x.port),
  );
  assert(result.closest.every((c) => !net.byPort.get(c.node.port)!.dead));
  for (const c of result.closest) {
    assertEquals(c.token, new Uint8Array([c.node.port & 0xff, c.node.port >> 8]));
  }
  const keys = reported.map((p) => `${p.host}:${p.port}`);
  assertEquals(new Set(keys).size, keys.length, "each peer reported once");
  assert(keys.includes("10.0.0.1:1"));
  assertEquals(result.peers, keys.length);
});

Deno.test("lookup: bounded by maxQueries, ends on abort, ignores junk and our own id", async () => {
  const net = network(200, 13);
  const target = randomId(net.r);
  const own = net.nodes[0].id;
  // Every node answers with junk plus ourselves plus an endless stream of fresh fake nodes.
  let fake = 0;
  const result = await iterativeLookup({
    target,
    ownId: own,
    seeds: [net.nodes[1]],
    maxQueries: 20,
    query: async (n) => {
      await tick(0);
      assert(compareDistance(target, n.id, own) !== 0, "never queries our own id");
      const nodes: NodeInfo[] = [
        { id: own, host: "127.0.0.1", port: 1 },
        { id: new Uint8Array(3), host: "127.0.0.1", port: 2 },
        { id: randomId(net.r), host: "127.0.0.1", port: 0 },
      ];
      // Each fake is closer to the target than any before it, so the lookup never converges.
      for (let i = 0; i < 8; i++) {
        const id = target.slice();
        const bit = 8 + (fake % 150);
        id[bit >> 3] ^= 0x80 >> (bit & 7);
        nodes.push({ id, host: "10.9.0.1", port: 20_000 + fake++ });
      }
      return { id: n.id, nodes };
    },
  });
  assertEquals(result.queried, 20);

  const controller = new AbortController();
  let queries = 0;
  const aborted = iterativeLookup({
    target,
    seeds: [net.nodes[2]],
    signal: controller.signal,
    query: async (n) => {
      queries++;
      if (queries === 3) controller.abort();
      await tick(1);
      return {
        id: n.id,
        nodes: [{ id: randomId(net.r), host: "10.9.0.2", port: 30_000 + queries }],
      };
    },
  });
  const res = await aborted;
  assert(res.queried <= 4, `stopped early (${res.queried})`);
  await tick(5); // let the straggler settle

  // No seeds: finishes at once.
  assertEquals(
    (await iterativeLookup({ target, seeds: [], query: () => Promise.reject(new Error()) }))
      .queried,
    0,
  );
  // A query function that throws synchronously only drops that node.
  const sync = await iterativeLookup({
    target,
    seeds: [net.nodes[3]],
    query: () => {
      throw new Error("boom");
    },
  });
  assertEquals(sync.responded, 0);
});
