import { encode } from "../../src/bencode/mod.ts";
import {
  encodeMetadataMessage,
  ExtensionError,
  MAX_METADATA_SIZE,
  METADATA_BLOCK,
  MetadataAssembler,
  metadataBlock,
  type MetadataMessage,
  parseMetadataMessage,
} from "../../src/ext/mod.ts";
import { sha1, sha256 } from "../../src/util/mod.ts";
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { mulberry32, randomInt, xorshiftBytes } from "../random.ts";
import { concat, mutate, randomBytes } from "./_mutate.ts";

const te = new TextEncoder();
const td = new TextDecoder();

Deno.test("ut_metadata: request, reject and data round trip with exact bytes", () => {
  assertEquals(
    td.decode(encodeMetadataMessage({ type: "request", piece: 0 })),
    "d8:msg_typei0e5:piecei0ee",
  );
  assertEquals(
    td.decode(encodeMetadataMessage({ type: "reject", piece: 3 })),
    "d8:msg_typei2e5:piecei3ee",
  );
  const data = xorshiftBytes(100, 1);
  const payload = encodeMetadataMessage({
    type: "data",
    piece: 2,
    totalSize: 2 * METADATA_BLOCK + 100,
    data,
  });
  const head = "d8:msg_typei1e5:piecei2e10:total_sizei32868ee";
  assertEquals(td.decode(payload.subarray(0, head.length)), head);
  assertEquals(payload.subarray(head.length), data);
  const messages: MetadataMessage[] = [
    { type: "request", piece: 7 },
    { type: "reject", piece: 2047 },
    {
      type: "data",
      piece: 0,
      totalSize: METADATA_BLOCK,
      data: new Uint8Array(METADATA_BLOCK).fill(9),
    },
    { type: "data", piece: 5, totalSize: 5 * METADATA_BLOCK + 1, data: new Uint8Array([0x65]) },
  ];
  for (const m of messages) assertEquals(parseMetadataMessage(encodeMetadataMessage(m)), m);
});

Deno.test("ut_metadata: data whose block starts with bencode-looking bytes is split correctly", () => {
  const data = te.encode("d8:msg_typei0ee");
  const m = parseMetadataMessage(
    encodeMetadataMessage({ type: "data", piece: 0, totalSize: 15, data }),
  );
  assertEquals(m, { type: "data", piece: 0, totalSize: 15, data });
});

Deno.test("ut_metadata: encoder refuses impossible values", () => {
  assertThrows(() => encodeMetadataMessage({ type: "request", piece: -1 }), ExtensionError);
  assertThrows(() => encodeMetadataMessage({ type: "request", piece: 1.5 }), ExtensionError);
  assertThrows(() => encodeMetadataMessage({ type: "reject", piece: 2048 }), ExtensionError);
  assertThrows(
    () => encodeMetadataMessage({ type: "data", piece: 0, totalSize: 0, data: new Uint8Array(1) }),
    ExtensionError,
  );
  assertThrows(
    () =>
      encodeMetadataMessage({
        type: "data",
        piece: 0,
        totalSize: MAX_METADATA_SIZE,
        data: new Uint8Array(METADATA_BLOCK + 1),
      }),
    ExtensionError,
  );
});

Deno.test("ut_metadata: hostile messages are ExtensionErrors", () => {
  const bad: [string | Uint8Array, string][] = [
    ["", "bencode"],
    ["i1e", "not a dictionary"],
    ["d5:piecei0ee", "msg_type"],
    ["d8:msg_type1:05:piecei0ee", "msg_type"],
    ["d8:msg_typei0ee", "piece"],
    ["d8:msg_typei0e5:piecei-1ee", "piece"],
    ["d8:msg_typei0e5:piece1:0e", "piece"],
    ["d8:msg_typei0e5:piecei2048ee", "piece"],
    ["d8:msg_typei0e5:piecei99999999999999999999999ee", "piece"],
    ["d8:msg_typei1e5:piecei0ee", "total_size"],
    ["d8:msg_typei1e5:piecei0e10:total_sizei0eexx", "total_size"],
    ["d8:msg_typei1e5:piecei0e10:total_sizei33554433eexx", "total_size"],
    ["d8:msg_typei1e5:piecei0e10:total_sizei10ee", "0 bytes"],
    ["d8:msg_typei1e5:piecei0e10:total_sizei10e", "bencode"],
    ["d8:msg_typei1e8:msg_typei1e5:piecei0e10:total_sizei10eex", "bencode"],
    [
      concat(
        te.encode("d8:msg_typei1e5:piecei0e10:total_sizei99999ee"),
        new Uint8Array(METADATA_BLOCK + 1),
      ),
      "bytes",
    ],
    [new Uint8Array(METADATA_BLOCK + 2000), "too large"],
  ];
  for (const [raw, why] of bad) {
    const bytes = typeof raw === "string" ? te.encode(raw) : raw;
    const e = assertThrows(() => parseMetadataMessage(bytes), ExtensionError, why);
    assert(!(e as ExtensionError).ignorable, `${why} must not be ignorable`);
  }
});

Deno.test("ut_metadata: unknown msg_type is an ignorable ExtensionError; unknown keys are fine", () => {
  const e = assertThrows(
    () => parseMetadataMessage(te.encode("d8:msg_typei7e5:piecei0ee")),
    ExtensionError,
    "unknown",
  );
  assert((e as ExtensionError).ignorable);
  assertEquals(
    parseMetadataMessage(encode({ msg_type: 0, piece: 4, extra: [1, 2], total_size: "x" })),
    { type: "request", piece: 4 },
  );
  // Unsorted keys are tolerated.
  assertEquals(parseMetadataMessage(te.encode("d5:piecei1e8:msg_typei2ee")), {
    type: "reject",
    piece: 1,
  });
});

Deno.test("metadataBlock: slices blocks and refuses out-of-range indexes", () => {
  const info = xorshiftBytes(2 * METADATA_BLOCK + 5, 2);
  assertEquals(metadataBlock(info, 0), info.subarray(0, METADATA_BLOCK));
  assertEquals(metadataBlock(info, 2), info.subarray(2 * METADATA_BLOCK));
  assertEquals(metadataBlock(info, 3), undefined);
  assertEquals(metadataBlock(info, -1), undefined);
  assertEquals(metadataBlock(info, 0.5), undefined);
  assertEquals(metadataBlock(info, Number.NaN), undefined);
  assertEquals(metadataBlock(new Uint8Array(METADATA_BLOCK), 1), undefined);
});

function makeInfo(size: number, seed = 3): { info: Uint8Array; hash: Uint8Array } {
  const info = xorshiftBytes(size, seed);
  return { info, hash: sha1(info) };
}

Deno.test("MetadataAssembler: constructor bounds", () => {
  const hash = new Uint8Array(20);
  for (const size of [0, -1, 1.5, MAX_METADATA_SIZE + 1, Number.NaN, Infinity]) {
    assertThrows(() => new MetadataAssembler(hash, size), ExtensionError);
  }
  assertThrows(() => new MetadataAssembler(new Uint8Array(19), 10), ExtensionError);
  const a = new MetadataAssembler(hash, MAX_METADATA_SIZE);
  assertEquals(a.pieceCount, 2048);
  const b = new MetadataAssembler(hash, METADATA_BLOCK + 1);
  assertEquals([b.size, b.pieceCount, b.progress], [METADATA_BLOCK + 1, 2, 0]);
});

Deno.test("MetadataAssembler: fetches from several peers and verifies", () => {
  const { info, hash } = makeInfo(3 * METADATA_BLOCK + 77);
  const a = new MetadataAssembler(hash, info.length);
  assertEquals(a.pieceCount, 4);
  assertEquals(a.nextRequest("A", 0), 0);
  assertEquals(a.nextRequest("B", 0), 1);
  assertEquals(a.nextRequest("A", 0), 2);
  assertEquals(a.nextRequest("B", 0), 3);
  assertEquals(a.nextRequest("C", 0), undefined);
  assertEquals(a.outstanding("A", 0), 2);
  assertEquals(a.onData("B", 3, metadataBlock(info, 3)!), "more");
  assertEquals(a.progress, 0.25);
  assertEquals(a.onData("A", 0, metadataBlock(info, 0)!), "more");
  assertEquals(a.onData("A", 2, metadataBlock(info, 2)!), "more");
  assertEquals(a.info, undefined);
  assertEquals(a.onData("B", 1, metadataBlock(info, 1)!), "complete");
  assertEquals(a.info, info);
  assertEquals(a.progress, 1);
  assertEquals(a.nextRequest("C", 0), undefined);
  // Late duplicates after completion change nothing and do not say "complete" twice.
  assertEquals(a.onData("C", 1, metadataBlock(info, 1)!), "more");
  assertEquals(a.info, info);
});

Deno.test("MetadataAssembler: data is copied, so reused buffers cannot corrupt it", () => {
  const { info, hash } = makeInfo(METADATA_BLOCK + 10);
  const a = new MetadataAssembler(hash, info.length);
  const buf = metadataBlock(info, 0)!.slice();
  assertEquals(a.onData("A", 0, buf), "more");
  buf.fill(0);
  assertEquals(a.onData("A", 1, metadataBlock(info, 1)!), "complete");
});

Deno.test("MetadataAssembler: invalid index or length", () => {
  const { info, hash } = makeInfo(METADATA_BLOCK + 10);
  const a = new MetadataAssembler(hash, info.length);
  assertEquals(a.onData("A", -1, new Uint8Array(METADATA_BLOCK)), "invalid");
  assertEquals(a.onData("A", 2, new Uint8Array(10)), "invalid"); // beyond the count
  assertEquals(a.onData("A", 0.5, new Uint8Array(METADATA_BLOCK)), "invalid");
  assertEquals(a.onData("A", 0, new Uint8Array(METADATA_BLOCK - 1)), "invalid");
  assertEquals(a.onData("A", 1, new Uint8Array(METADATA_BLOCK)), "invalid"); // last block is short
  assertEquals(a.onData("A", 1, new Uint8Array(11)), "invalid");
  assertEquals(a.onData("A", 1, new Uint8Array(0)), "invalid");
  assertEquals(a.progress, 0);
  // A duplicate of a held block is ignored.
  assertEquals(a.onData("A", 0, metadataBlock(info, 0)!), "more");
  assertEquals(a.onData("B", 0, new Uint8Array(METADATA_BLOCK)), "more");
  assertEquals(a.onData("A", 1, metadataBlock(info, 1)!), "complete");
});

Deno.test("MetadataAssembler: mismatch discards everything and names the culprits", () => {
  const { info, hash } = makeInfo(2 * METADATA_BLOCK + 1);
  const a = new MetadataAssembler(hash, info.length);
  const evil = metadataBlock(info, 1)!.slice();
  evil[0] ^= 1;
  assertEquals(a.onData("good", 0, metadataBlock(info, 0)!), "more");
  assertEquals(a.onData("evil", 1, evil), "more");
  assertEquals(a.onData("good", 2, metadataBlock(info, 2)!), "mismatch");
  assertEquals(a.lastCulprits.sort(), ["evil", "good"]);
  assertEquals(a.progress, 0);
  assertEquals(a.info, undefined);
  // All blocks can be fetched again.
  assertEquals([a.nextRequest("good", 0), a.nextRequest("good", 0), a.nextRequest("good", 0)], [
    0,
    1,
    2,
  ]);
  for (let i = 0; i < 3; i++) {
    assertEquals(a.onData("good", i, metadataBlock(info, i)!), i === 2 ? "complete" : "more");
  }
  assertEquals(a.info, info);
});

Deno.test("MetadataAssembler: timeouts, rejects and release free blocks", () => {
  const { info, hash } = makeInfo(2 * METADATA_BLOCK);
  const a = new MetadataAssembler(hash, info.length, { requestTimeoutMs: 1000 });
  assertEquals(a.nextRequest("A", 0), 0);
  assertEquals(a.nextRequest("A", 0), 1);
  assertEquals(a.nextRequest("B", 999), undefined);
  // Timed out: free for another peer.
  assertEquals(a.nextRequest("B", 1000), 0);
  assertEquals(a.outstanding("A", 1000), 0);
  assertEquals(a.outstanding("B", 1000), 1);
  // Reject: free for others at once, but not asked of the rejecting peer again.
  a.onReject("B", 0);
  assertEquals(a.outstanding("B", 1000), 0);
  assertEquals(a.nextRequest("B", 1000), 1); // block 1 timed out from A
  assertEquals(a.nextRequest("B", 5000), 1); // block 1 again after its own timeout; never 0
  assertEquals(a.nextRequest("C", 5000), 0);
  // Release: C's block is free at once.
  a.release("C");
  assertEquals(a.nextRequest("D", 5000), 0);
  // Release forgets rejections too.
  a.release("B");
  a.release("D");
  assertEquals(a.nextRequest("B", 5000), 0);
  // Junk indexes are ignored.
  a.onReject("B", -1);
  a.onReject("B", 99);
  a.onReject("B", Number.NaN);
  // A reject from a peer that was not asked does not free another peer's request.
  a.onReject("Z", 0);
  assertEquals(a.nextRequest("Y", 5000), 1);
  assertEquals(a.nextRequest("Y", 5000), undefined);
});

Deno.test("MetadataAssembler: single short block", () => {
  const { info, hash } = makeInfo(1);
  const a = new MetadataAssembler(hash, 1);
  assertEquals(a.pieceCount, 1);
  assertEquals(a.nextRequest("A"), 0);
  assertEquals(a.onData("A", 0, info), "complete");
});

Deno.test("MetadataAssembler: a v2 info-hash (btmh) is checked by SHA-256, with or without a v1 one", () => {
  const { info } = makeInfo(40_000);
  const v2 = sha256(info), v1 = sha1(info);
  const fetch = (infoHash: Uint8Array, infoHashV2: Uint8Array) => {
    const a = new MetadataAssembler(infoHash, info.length, { infoHashV2 });
    for (let piece = a.nextRequest("A"); piece !== undefined; piece = a.nextRequest("A")) {
      const result = a.onData("A", piece, metadataBlock(info, piece)!);
      if (result !== "more") return result;
    }
    return "stuck";
  };
  assertEquals(fetch(v2.subarray(0, 20), v2), "complete", "v2 only: the truncated hash");
  assertEquals(fetch(v1, v2), "complete", "hybrid: both");
  const otherV2 = v2.slice();
  otherV2[31] ^= 1;
  assertEquals(fetch(v2.subarray(0, 20), otherV2), "mismatch", "SHA-256 differs");
  assertEquals(fetch(new Uint8Array(20), v2), "mismatch", "the v1 hash differs");
  assertThrows(() => new MetadataAssembler(v1, 10, { infoHashV2: v1 }), ExtensionError, "32 bytes");
});

Deno.test("ut_metadata: fuzz parser returns a sane message or ExtensionError", () => {
  const r = mulberry32(0x9);
  const seeds = [
    encodeMetadataMessage({ type: "request", piece: 3 }),
    encodeMetadataMessage({ type: "reject", piece: 0 }),
    encodeMetadataMessage({ type: "data", piece: 1, totalSize: 16400, data: xorshiftBytes(16, 4) }),
  ];
  for (let i = 0; i < 8000; i++) {
    const input = i % 10 === 9 ? randomBytes(r, randomInt(r, 64)) : mutate(seeds[i % 3], r);
    try {
      const m = parseMetadataMessage(input);
      assert(Number.isInteger(m.piece) && m.piece >= 0 && m.piece < 2048, `case ${i}`);
      if (m.type === "data") {
        assert(m.totalSize >= 1 && m.totalSize <= MAX_METADATA_SIZE, `case ${i}`);
        assert(m.data.length >= 1 && m.data.length <= METADATA_BLOCK, `case ${i}`);
      }
    } catch (e) {
      if (!(e instanceof ExtensionError)) throw new Error(`case ${i}: ${e}`);
    }
  }
});

Deno.test("MetadataAssembler: fuzzed peers never corrupt the result", () => {
  const r = mulberry32(0x77);
  let completed = 0, mismatches = 0;
  for (let round = 0; round < 40; round++) {
    const { info, hash } = makeInfo(1 + randomInt(r, 5 * METADATA_BLOCK), round + 1);
    const a = new MetadataAssembler(hash, info.length, { requestTimeoutMs: 10 });
    let now = 0, done = false;
    for (let step = 0; step < 2000 && !done; step++) {
      now += randomInt(r, 4);
      const peer = `p${randomInt(r, 4)}`;
      const piece = a.nextRequest(peer, now) ?? randomInt(r, a.pieceCount + 2) - 1;
      const roll = randomInt(r, 10);
      if (roll === 0) a.onReject(peer, piece);
      else if (roll === 1) a.release(peer);
      else {
        let block = metadataBlock(info, piece) ?? randomBytes(r, randomInt(r, 10));
        if (roll === 2) block = mutate(block, r); // a liar
        const result = a.onData(peer, piece, block);
        if (result === "complete") done = true;
        if (result === "mismatch") {
          mismatches++;
          assert(a.lastCulprits.length > 0);
        }
      }
    }
    if (done) completed++;
    assertEquals(a.info, done ? info : undefined);
  }
  assert(completed > 20 && mismatches > 0, `completed ${completed}, mismatches ${mismatches}`);
});
