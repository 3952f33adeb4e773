/** BEP 52 hash messages: answers built from layers and data, checked against the file roots. */
import { HashExchange, provenRoot } from "../../src/engine/hash_exchange.ts";
import { createTorrentFromBuffers, parseInfo, parseTorrent } from "../../src/metainfo/mod.ts";
import { type HashRequest, MessageId, parseMessage } from "../../src/peer/mod.ts";
import { leafHashes, merkleRows, nextPowerOfTwo, pieceLengthAt } from "../../src/util/mod.ts";
import { assert, assertEquals } from "../assert.ts";
import { xorshiftBytes } from "../random.ts";

const PIECE = 32768;
/**
 * 600 pieces of two blocks (more than one request's 512 hashes), a file of a single piece and a
 * smaller one.
 */
const FILES = [
  { path: ["big.bin"], data: xorshiftBytes(600 * PIECE - 5000, 1) },
  { path: ["one.bin"], data: xorshiftBytes(PIECE, 2) },
  { path: ["tiny.txt"], data: xorshiftBytes(3000, 3) },
];
const torrent = parseTorrent(
  createTorrentFromBuffers("set", FILES, { pieceLength: PIECE, version: "v2" }),
);

/** Every piece of the torrent, as a seeder holds them. */
function pieceOf(index: number): Uint8Array {
  const all = new Uint8Array(torrent.totalLength);
  for (const [i, f] of torrent.files.filter((f) => !f.padding).entries()) {
    all.set(FILES[i].data, f.offset);
  }
  return all.subarray(index * PIECE, index * PIECE + pieceLengthAt(torrent, index));
}

type Sent = { to: string; message: Uint8Array }[];

function exchange(pieces = torrent.v2Pieces!, have = (_: number) => true) {
  const sent: Sent = [];
  let layers = 0;
  const x = new HashExchange<string>(
    pieces,
    {
      send: (to, message) => sent.push({ to, message }),
      has: () => true,
    },
    (i) => Promise.resolve(have(i) ? pieceOf(i) : undefined),
    () => layers++,
  );
  return { x, sent, layers: () => layers };
}

Deno.test("hash exchange: a torrent from its info alone gets every layer from a peer, in proved chunks", async () => {
  const seeder = exchange();
  const fromMagnet = parseInfo(torrent.infoBytes).v2Pieces!;
  assertEquals(fromMagnet.missingLayers(), [0]);
  const leecher = exchange(fromMagnet);
  leecher.x.offer("seeder");
  leecher.x.offer("another");
  const requests = leecher.sent.map((s) => parseMessage(s.message.subarray(4)));
  assertEquals(requests.length, 2, "600 hashes: two requests of 512");
  assert(leecher.sent.every((s) => s.to === "seeder"), "one peer asked");
  for (const m of requests) {
    assert(m.type === "hashRequest");
    await seeder.x.serve("leecher", m.request);
  }
  for (const { message } of seeder.sent) {
    const m = parseMessage(message.subarray(4));
    assert(m.type === "hashes", `answered, not ${m.type}`);
    assert(leecher.x.accept("seeder", m.request, m.hashes), "proves out against the root");
  }
  assertEquals([fromMagnet.missingLayers(), leecher.layers()], [[], 1]);
  assertEquals(fromMagnet.layer(0), torrent.v2Pieces!.layer(0));
});

Deno.test("hash exchange: false, unasked or rejected answers are refused and the layer asked elsewhere", async () => {
  const seeder = exchange();
  const fromMagnet = parseInfo(torrent.infoBytes).v2Pieces!;
  const leecher = exchange(fromMagnet);
  leecher.x.offer("liar");
  const [first] = leecher.sent.map((s) => parseMessage(s.message.subarray(4)));
  assert(first.type === "hashRequest");
  const answer = (await seeder.x.answer(first.request))!;
  const forged = answer.slice();
  forged[40] ^= 1;
  assert(!leecher.x.accept("stranger", first.request, answer), "not asked of this peer");
  assert(!leecher.x.accept("liar", first.request, forged), "a hash that does not prove out");
  assert(!leecher.x.accept("liar", first.request, answer), "the liar is no longer asked");
  leecher.x.offer("liar");
  assertEquals(leecher.sent.length, 2, "not asked again");
  leecher.x.offer("honest");
  assertEquals(leecher.sent.at(-1)!.to, "honest");
  leecher.x.rejected("honest", first.request);
  assert(leecher.x.wanting, "a reject frees the layer for the next peer");
});

/** The tree of `big.bin` from its leaves, row by row. */
function bigTree(): Uint8Array[] {
  const leaves = leafHashes(FILES[0].data);
  return merkleRows(leaves, nextPowerOfTwo(leaves.length / 32));
}

Deno.test("hash exchange: answers at any layer prove out, with exactly the uncles asked for", async () => {
  const { x } = exchange();
  const root = torrent.v2Pieces!.files[0].root;
  const rows = bigTree();
  const height = rows.length - 1;
  for (
    const [baseLayer, index, length] of [[0, 0, 2], [0, 36, 4], [0, 512, 256], [3, 8, 8], [
      9,
      0,
      2,
    ], [height - 1, 0, 2]]
  ) {
    const request: HashRequest = {
      root,
      baseLayer,
      index,
      length,
      proofLayers: height - baseLayer - 1,
    };
    const hashes = (await x.answer(request))!;
    assert(hashes !== undefined, `answer at layer ${baseLayer}`);
    const base = rows[baseLayer].subarray(index * 32, (index + length) * 32);
    assertEquals(hashes.subarray(0, length * 32), base, `base hashes at layer ${baseLayer}`);
    const proved = provenRoot(request, hashes)!;
    assertEquals([proved.layer, proved.root], [height, root], `proof from layer ${baseLayer}`);
    // Fewer proof layers: fewer uncles, and the subtree's own layers are never sent.
    const short = (await x.answer({ ...request, proofLayers: Math.log2(length) - 1 }))!;
    assertEquals(short.length, length * 32);
  }
});

Deno.test("hash exchange: requests it cannot answer get a reject", async () => {
  const { x, sent } = exchange(torrent.v2Pieces!, (i) => i !== 3);
  const root = torrent.v2Pieces!.files[0].root;
  const ok: HashRequest = { root, baseLayer: 0, index: 0, length: 2, proofLayers: 0 };
  const bad: HashRequest[] = [
    { ...ok, root: new Uint8Array(32) },
    { ...ok, length: 1024 },
    { ...ok, index: 1 },
    { ...ok, baseLayer: 20 },
    { ...ok, index: 3 * 1024, length: 512 },
    { ...ok, index: 4, length: 4 }, // leaves of piece 3, which we lack
  ];
  assert(await x.answer(ok) !== undefined);
  for (const r of bad) {
    assertEquals(await x.answer(r), undefined, JSON.stringify({ ...r, root: 0 }));
  }
  await x.serve("peer", bad[0]);
  assertEquals(parseMessage(sent[0].message.subarray(4)).type, "hashReject");
  assertEquals(sent[0].message[4], MessageId.hashReject);
  // The small files' trees come whole from their one piece.
  const tiny = torrent.v2Pieces!.files[2].root;
  const hashes =
    (await x.answer({ root: tiny, baseLayer: 0, index: 0, length: 1, proofLayers: 1 }))!;
  assertEquals(
    provenRoot({ root: tiny, baseLayer: 0, index: 0, length: 1, proofLayers: 1 }, hashes)?.root,
    tiny,
  );
});

Deno.test("hash exchange: a peer flooding requests for block hashes gets rejects past four", async () => {
  const { x, sent } = exchange();
  const root = torrent.v2Pieces!.files[0].root;
  const asks = Array.from(
    { length: 10 },
    (_, i) => x.serve("flood", { root, baseLayer: 0, index: i * 2, length: 2, proofLayers: 0 }),
  );
  await Promise.all(asks);
  const types = sent.map((s) => parseMessage(s.message.subarray(4)).type);
  assertEquals(types.filter((t) => t === "hashes").length, 4);
  assertEquals(types.filter((t) => t === "hashReject").length, 6);
  await x.serve("flood", { root, baseLayer: 0, index: 0, length: 2, proofLayers: 0 });
  assertEquals(parseMessage(sent.at(-1)!.message.subarray(4)).type, "hashes", "served again after");
});
