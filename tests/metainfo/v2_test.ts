/**
 * BitTorrent v2 and hybrid torrents (BEP 52): made from buffers, read back, and refused when
 * malformed.
 */
import { type Encodable, encode, latin1 } from "../../src/bencode/mod.ts";
import {
  createTorrentFromBuffers,
  parseInfo,
  parseTorrent,
  type Torrent,
  TorrentError,
  torrentFileFromInfo,
} from "../../src/metainfo/mod.ts";
import { fileMerkle, pieceLengthAt, sha1, sha256 } from "../../src/util/mod.ts";
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { assertTorrentInvariants } from "./invariants.ts";
import { mulberry32, randomInt } from "../random.ts";

const rand = mulberry32(252);
const bytes = (n: number) => new Uint8Array(n).map(() => randomInt(rand, 256));
const FILES = [
  { path: ["a.bin"], data: bytes(100_000) },
  { path: ["b.empty"], data: new Uint8Array(0) },
  { path: ["c.bin"], data: bytes(16384) },
  { path: ["sub", "d.bin"], data: bytes(70_000) },
];

/** Every piece of `t` read from `files` laid out as `t` lays them (pads as zeros). */
function pieces(t: Torrent, files: { data: Uint8Array }[]): Uint8Array[] {
  const all = new Uint8Array(t.totalLength);
  const real = t.files.filter((f) => !f.padding);
  real.forEach((f, i) => all.set(files[i].data, f.offset));
  return Array.from({ length: t.pieceCount }, (_, i) => {
    const start = i * t.pieceLength;
    return all.subarray(start, start + pieceLengthAt(t, i));
  });
}

Deno.test("v2: files start on pieces, the last piece is whole, every piece checks", () => {
  const t = parseTorrent(
    createTorrentFromBuffers("set", FILES, { pieceLength: 32768, version: "v2" }),
  );
  assertTorrentInvariants(t);
  assertEquals(t.version, "v2");
  assertEquals(t.infoHashV2, sha256(t.infoBytes));
  assertEquals(t.infoHash, sha256(t.infoBytes).subarray(0, 20));
  assertEquals(
    t.files.map((f) => [f.path.join("/"), f.offset, f.length, f.padding]),
    [
      ["set/a.bin", 0, 100_000, false],
      ["set/b.empty", 100_000, 0, false],
      ["set/.pad/31072", 100_000, 31072, true],
      ["set/c.bin", 131072, 16384, false],
      ["set/.pad/16384", 147456, 16384, true],
      ["set/sub/d.bin", 163840, 70_000, false],
      ["set/.pad/28304", 233840, 28304, true],
    ],
  );
  assertEquals(t.pieceCount, 8);
  assertEquals(t.v2Pieces!.missingLayers(), [], "layers of a.bin and d.bin came with the file");
  const all = pieces(t, FILES);
  all.forEach((p, i) => assert(t.hashes.verify(i, p), `piece ${i}`));
  const bad = all[6].slice();
  bad[100] ^= 1;
  assert(!t.hashes.verify(6, bad));
});

Deno.test("hybrid: the v1 half's pad files align as v2 does, and both halves check", () => {
  const bytesOf = createTorrentFromBuffers("set", FILES, { pieceLength: 32768, version: "hybrid" });
  const t = parseTorrent(bytesOf);
  assertTorrentInvariants(t);
  assertEquals(t.version, "hybrid");
  assertEquals(t.infoHash, sha1(t.infoBytes));
  assertEquals(t.infoHashV2, sha256(t.infoBytes));
  const v2 = parseTorrent(
    createTorrentFromBuffers("set", FILES, { pieceLength: 32768, version: "v2" }),
  );
  assertEquals(
    t.files.filter((f) => f.length > 0).map((f) => [f.offset, f.length]),
    v2.files.filter((f) => f.length > 0).map((f) => [f.offset, f.length]),
  );
  const all = pieces(t, FILES);
  all.forEach((p, i) => assert(t.hashes.verify(i, p), `piece ${i}`));
  assert(all.every((p, i) => t.v1Pieces!.verify(i, p) && t.v2Pieces!.verify(i, p)));
  // Without the .torrent's piece layers (metadata from peers), the v1 half checks alone.
  const fromPeers = parseInfo(t.infoBytes);
  assertEquals(fromPeers.v2Pieces!.missingLayers(), [0, 2], "a.bin and sub/d.bin");
  all.forEach((p, i) => assert(fromPeers.hashes.verify(i, p), `piece ${i} from metadata`));
});

Deno.test("v2: one file at the top of the tree makes a single-file torrent with a tail pad", () => {
  const data = bytes(40_000);
  const t = parseTorrent(createTorrentFromBuffers("x.bin", data, { version: "v2" }));
  assertEquals(t.multiFile, false);
  assertEquals(t.files.map((f) => [f.path.join("/"), f.length]), [
    ["x.bin", 40_000],
    ["x.bin/.pad/9152", 9152],
  ]);
  assertEquals(t.pieceLength, 16384);
  pieces(t, [{ data }]).forEach((p, i) => assert(t.hashes.verify(i, p)));
  const hybrid = parseTorrent(createTorrentFromBuffers("x.bin", data, { version: "hybrid" }));
  assertEquals([hybrid.files.length, hybrid.totalLength], [1, 40_000]);
});

// ---- malformed v2 info dictionaries ----------------------------------------------------------

type Dict = { [key: string]: Encodable | undefined };
const ROOT = sha256(new Uint8Array([1]));
const file = (length: number, extra: Dict = {}) =>
  new Map([["", { length, "pieces root": ROOT, ...extra }]]);
const v2Info = (over: Dict = {}): Dict => ({
  name: "t",
  "piece length": 16384,
  "meta version": 2,
  "file tree": { "a.bin": file(100) },
  ...over,
});
const refuse = (info: Encodable, message: string, top: Dict = {}) =>
  assertThrows(() => parseTorrent(encode({ ...top, info })), TorrentError, message);

Deno.test("v2: malformed info dictionaries are refused with one clear line", () => {
  refuse(v2Info({ "meta version": 3 }), "meta version 3, newer than this client reads");
  refuse(v2Info({ "meta version": "2" }), "'meta version' in info dictionary must be 2");
  refuse(v2Info({ "file tree": undefined }), "'file tree' in info dictionary must be a dictionary");
  refuse(v2Info({ "file tree": {} }), "'file tree' holds no files");
  refuse(v2Info({ "file tree": { "": { length: 1 } } }), "must be a folder, not a file");
  refuse(
    v2Info({ "file tree": { a: new Map<string, Encodable>([["", { length: 1 }], ["b", {}]]) } }),
    "'a' is both a file and a folder",
  );
  refuse(v2Info({ "file tree": { a: 5 } }), "'a' is not a dictionary");
  refuse(v2Info({ "file tree": { a: { "": 5 } } }), "'a' has properties that are not");
  refuse(v2Info({ "file tree": { a: { "": { length: 1 } } } }), "'a' has no 'pieces root'");
  refuse(v2Info({ "file tree": { a: file(1, { "pieces root": new Uint8Array(31) }) } }), "not 32");
  refuse(v2Info({ "file tree": { a: file(1, { "pieces root": new Uint8Array(32) }) } }), "zeros");
  refuse(v2Info({ "file tree": { a: file(1, { attr: "p" }) } }), "marked as a pad file");
  refuse(v2Info({ "file tree": { a: file(-1) } }), "must not be negative");
  refuse(v2Info({ "file tree": { a: { "": { attr: "l" } } } }), "missing 'symlink path'");
  refuse(v2Info({ "piece length": 3 * 16384 }), "power of two of at least 16 KiB");
  refuse(v2Info({ "piece length": 8192 }), "power of two of at least 16 KiB");
  refuse(v2Info({ "file tree": { a: file(0) } }), "no data");
  // Keys out of byte order: written by hand, as the encoder sorts them.
  const unsorted = new TextEncoder().encode(
    "d4:infod9:file treed1:bd0:d6:lengthi0eee1:ad0:d6:lengthi0eeee" +
      "12:meta versioni2e4:name1:t12:piece lengthi16384eee",
  );
  assertThrows(() => parseTorrent(unsorted), TorrentError, "not in sorted order");
});

Deno.test("v2: piece layers must belong to a file, be 32-byte hashes and lead to its root", () => {
  const data = bytes(40_000);
  const { root, layer } = fileMerkle(data, 16384);
  const info = v2Info({
    "file tree": { "a.bin": new Map([["", { length: 40_000, "pieces root": root }]]) },
  });
  const layers = (entries: [Uint8Array, Encodable][]) => ({
    "piece layers": new Map(entries.map(([k, v]) => [latin1(k), v])),
  });
  const ok = parseTorrent(encode({ info, ...layers([[root, layer!]]) }));
  assertEquals(ok.v2Pieces!.missingLayers(), []);
  refuse(info, "'piece layers' must be a dictionary", { "piece layers": 5 });
  refuse(info, "for no file longer than a piece", layers([[root, layer!], [ROOT, layer!]]));
  refuse(info, "not a string of 32-byte hashes", layers([[root, layer!.subarray(1)]]));
  refuse(info, "not a string of 32-byte hashes", layers([[root, 7]]));
  refuse(info, "does not lead to its file's 'pieces root'", layers([[root, layer!.subarray(32)]]));
  const forged = layer!.slice();
  forged[0] ^= 1;
  refuse(info, "does not lead to its file's 'pieces root'", layers([[root, forged]]));
});

Deno.test("hybrid: halves that describe different files are refused", () => {
  const data = bytes(40_000);
  const { root } = fileMerkle(data, 16384);
  const tree = { "x.bin": new Map([["", { length: 40_000, "pieces root": root }]]) };
  const v1 = { name: "x.bin", "piece length": 16384, length: 40_000, pieces: new Uint8Array(60) };
  parseTorrent(encode({ info: { ...v1, "meta version": 2, "file tree": tree } }));
  refuse({ ...v1, "meta version": 2, "file tree": tree, name: "y.bin" }, "the file's name");
  refuse(
    { ...v1, "meta version": 2, "file tree": tree, length: 39_999, pieces: new Uint8Array(60) },
    "file 1's length",
  );
  const folder = {
    name: "f",
    "piece length": 16384,
    "meta version": 2,
    pieces: new Uint8Array(100),
    "file tree": {
      a: new Map([["", { length: 100, "pieces root": ROOT }]]),
      b: new Map([["", { length: 100, "pieces root": ROOT }]]),
    },
  };
  const a = { length: 100, path: ["a"] }, b = { length: 100, path: ["b"] };
  const pad = { attr: "p", length: 16284, path: [".pad", "16284"] };
  parseTorrent(encode({ info: { ...folder, pieces: new Uint8Array(40), files: [a, pad, b] } }));
  refuse({ ...folder, pieces: new Uint8Array(20), files: [a, b] }, "file 2 is not piece-aligned");
  refuse({ ...folder, pieces: new Uint8Array(40), files: [b, pad, a] }, "file 1's path");
  refuse({ ...folder, pieces: new Uint8Array(40), files: [a, pad] }, "1 files against 2");
});

Deno.test("torrentFileFromInfo: the piece layers learnt from peers go with the info dictionary", () => {
  const t = parseTorrent(
    createTorrentFromBuffers("set", FILES, { pieceLength: 32768, version: "v2" }),
  );
  const fromPeers = parseInfo(t.infoBytes);
  const bare = parseTorrent(torrentFileFromInfo(t.infoBytes, [], fromPeers.v2Pieces));
  assertEquals(bare.v2Pieces!.missingLayers(), [0, 2], "none learnt yet: none written");
  fromPeers.v2Pieces!.setLayer(0, t.v2Pieces!.layer(0)!);
  const kept = parseTorrent(
    torrentFileFromInfo(t.infoBytes, [["http://127.0.0.1:1/a"]], fromPeers.v2Pieces),
  );
  assertEquals(kept.infoHashHex, t.infoHashHex);
  assertEquals(kept.v2Pieces!.missingLayers(), [2]);
  assertEquals(kept.v2Pieces!.layer(0), t.v2Pieces!.layer(0));
  assertEquals(kept.announce, [["http://127.0.0.1:1/a"]]);
});
