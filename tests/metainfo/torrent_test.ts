import { type Encodable, encode } from "../../src/bencode/mod.ts";
import {
  joinInside,
  parseInfo,
  parseTorrent,
  type Torrent,
  TorrentError,
} from "../../src/metainfo/mod.ts";
import { pieceLengthAt, sha1, toHex } from "../../src/util/mod.ts";
import { assert, assertEquals, assertThrows } from "../assert.ts";

type Dict = { [key: string]: Encodable | undefined };

const te = new TextEncoder();
const raw = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const hashes = (n: number) => new Uint8Array(20 * n).map((_, i) => i % 251);

/** A valid single-file info dictionary, with overrides. */
function single(over: Dict = {}): Dict {
  return { name: "file.bin", "piece length": 16384, length: 20000, pieces: hashes(2), ...over };
}

/** A valid multi-file info dictionary, with overrides. */
function multi(files: Dict[], pieceCount: number, over: Dict = {}): Dict {
  return { name: "folder", "piece length": 16384, files, pieces: hashes(pieceCount), ...over };
}

function torrent(info: Encodable, top: Dict = {}): Uint8Array {
  return encode({ announce: "http://127.0.0.1:6969/announce", ...top, info });
}

function parse(info: Encodable, top: Dict = {}): Torrent {
  return parseTorrent(torrent(info, top));
}

function rejects(bytes: Uint8Array, includes: string): void {
  assertThrows(() => parseTorrent(bytes), TorrentError, includes);
}

Deno.test("single-file torrent: layout, hashes and info-hash over the info bytes", () => {
  const info = single();
  const t = parse(info);
  const infoBytes = encode(info);
  assertEquals(t.infoBytes, infoBytes);
  assertEquals(t.infoHash, sha1(infoBytes));
  assertEquals(t.infoHashHex, toHex(sha1(infoBytes)));
  assertEquals(t.name, "file.bin");
  assertEquals(t.multiFile, false);
  assertEquals(t.totalLength, 20000);
  assertEquals(t.pieceLength, 16384);
  assertEquals(t.pieceCount, 2);
  assertEquals(t.v1Pieces!.table, hashes(2));
  assertEquals(t.files, [{ path: ["file.bin"], length: 20000, offset: 0, padding: false }]);
  assertEquals(pieceLengthAt(t, 0), 16384);
  assertEquals(pieceLengthAt(t, 1), 20000 - 16384);
  assertEquals(t.v1Pieces!.table.subarray(20, 40), hashes(2).subarray(20, 40));
  assertEquals(t.private, false);
  assertEquals(t.announce, [["http://127.0.0.1:6969/announce"]]);
  assertEquals(t.urlList, []);
});

Deno.test("the piece hashes are a view of the torrent's own info bytes, not a copy nor the file", () => {
  const file = torrent(single({ pieces: hashes(2) }));
  for (const t of [parseTorrent(file), parseInfo(parseTorrent(file).infoBytes)]) {
    const table = t.v1Pieces!.table;
    assertEquals(table, hashes(2));
    assert(table.buffer === t.infoBytes.buffer, "shares the info bytes");
    assert(
      t.infoBytes.buffer !== file.buffer &&
        t.infoBytes.byteLength === t.infoBytes.buffer.byteLength,
    );
  }
});

Deno.test("a total that is an exact multiple of the piece length has a full last piece", () => {
  const t = parse(single({ length: 32768 }));
  assertEquals(pieceLengthAt(t, 1), 16384);
});

Deno.test("multi-file torrent: nested folders, empty files, files spanning pieces", () => {
  const files = [
    { length: 10000, path: ["a.txt"] },
    { length: 0, path: ["empty"] },
    { length: 30000, path: ["sub", "deep", "b.bin"] },
    { length: 5, path: ["sub", "c"] },
  ];
  const t = parse(multi(files, 3));
  assertEquals(t.multiFile, true);
  assertEquals(t.totalLength, 40005);
  assertEquals(t.pieceCount, 3);
  assertEquals(t.files, [
    { path: ["folder", "a.txt"], length: 10000, offset: 0, padding: false },
    { path: ["folder", "empty"], length: 0, offset: 10000, padding: false },
    { path: ["folder", "sub", "deep", "b.bin"], length: 30000, offset: 10000, padding: false },
    { path: ["folder", "sub", "c"], length: 5, offset: 40000, padding: false },
  ]);
  assertEquals(pieceLengthAt(t, 2), 40005 - 32768);
});

Deno.test("a files list of one entry is still a multi-file torrent", () => {
  const t = parse(multi([{ length: 425, path: ["foo", "bar"] }], 1));
  assertEquals(t.multiFile, true);
  assertEquals(t.files[0].path, ["folder", "foo", "bar"]);
});

Deno.test("name.utf-8 and path.utf-8 win when valid; invalid UTF-8 decodes lossily", () => {
  const t = parse(multi(
    [{ length: 10, path: [raw("caf\xe9")], "path.utf-8": ["café"] }, {
      length: 10,
      path: [raw("na\xefve")],
    }],
    1,
    { name: raw("r\xe9sum\xe9"), "name.utf-8": "résumé" },
  ));
  assertEquals(t.name, "résumé");
  assertEquals(t.files[0].path, ["résumé", "café"]);
  assertEquals(t.files[1].path, ["résumé", "na\ufffdve"]);
  // An invalid name.utf-8 is ignored in favour of name.
  const u = parse(single({ name: "plain", "name.utf-8": raw("\xff\xfe") }));
  assertEquals(u.name, "plain");
  // A non-UTF-8 name is kept, lossily.
  assertEquals(parse(single({ name: raw("\xff") })).name, "\ufffd");
});

Deno.test("announce-list tiers: order kept, junk dropped, URLs deduplicated and trimmed", () => {
  const t = parse(single(), {
    announce: "http://ignored.invalid/announce",
    "announce-list": [
      ["http://127.0.0.1:1/a", "", 5, " http://127.0.0.1:2/a\n"],
      [],
      ["http://127.0.0.1:1/a"],
      [["nested"]],
      ["udp://127.0.0.1:3"],
      raw("\xff"),
    ],
  });
  assertEquals(t.announce, [["http://127.0.0.1:1/a", "http://127.0.0.1:2/a"], [
    "udp://127.0.0.1:3",
  ]]);
});

Deno.test("announce falls back to the single URL, or to none", () => {
  assertEquals(
    parse(single(), { announce: "\t udp://127.0.0.1:9/ann", "announce-list": [[]] }).announce,
    [["udp://127.0.0.1:9/ann"]],
  );
  assertEquals(parse(single(), { announce: undefined }).announce, []);
  assertEquals(parse(single(), { announce: 42 }).announce, []);
  assertEquals(parse(single(), { announce: "  " }).announce, []);
  // A flat list of URLs is read as one URL per tier.
  assertEquals(
    parse(single(), { "announce-list": ["http://127.0.0.1:1/a", "http://127.0.0.1:2/a"] })
      .announce,
    [["http://127.0.0.1:1/a"], ["http://127.0.0.1:2/a"]],
  );
});

Deno.test("private flag is true only for private=1", () => {
  assertEquals(parse(single({ private: 1 })).private, true);
  assertEquals(parse(single({ private: 0 })).private, false);
  assertEquals(parse(single({ private: "1" })).private, false);
  assertEquals(parse(single()).private, false);
  // The flag is part of the info dictionary, so it changes the info-hash.
  assert(parse(single({ private: 1 })).infoHashHex !== parse(single()).infoHashHex);
});

Deno.test("comment, created by, creation date and web seeds", () => {
  const t = parse(single(), {
    comment: "hi",
    "comment.utf-8": "héllo",
    "created by": "test",
    "creation date": 1700000000,
    "url-list": ["http://127.0.0.1:8/f", "", "http://127.0.0.1:8/f", 3, "http://127.0.0.1:9/g"],
  });
  assertEquals(t.comment, "héllo");
  assertEquals(t.createdBy, "test");
  assertEquals(t.creationDate, 1700000000);
  assertEquals(t.urlList, ["http://127.0.0.1:8/f", "http://127.0.0.1:9/g"]);
  const u = parse(single(), { "url-list": "http://127.0.0.1:8/one", "creation date": -5 });
  assertEquals(u.urlList, ["http://127.0.0.1:8/one"]);
  assertEquals(u.creationDate, undefined);
  assertEquals(u.comment, undefined);
});

Deno.test("hostile paths are sanitised and every file stays inside the output folder", () => {
  const evil = [
    ["..", "..", "etc", "passwd"],
    ["/etc/shadow"],
    ["a/../../b"],
    ["..\\..\\win.ini"],
    ["C:", "x"],
    ["con.txt"],
    ["nul\0byte"],
    ["ctl\x01\x1f"],
    ["", ".", ""],
    ["trailing. . "],
    ["x".repeat(400) + ".dat"],
  ];
  const files = evil.map((path) => ({ length: 1, path }));
  const t = parse(multi(files, 1, { name: "../../escape" }));
  assertEquals(t.name, ".._.._escape");
  const paths = t.files.map((f) => f.path);
  assertEquals(paths.slice(0, 10), [
    [t.name, "etc", "passwd"],
    [t.name, "_etc_shadow"],
    [t.name, "a_.._.._b"],
    [t.name, ".._.._win.ini"],
    [t.name, Deno.build.os === "windows" ? "C_" : "C:", "x"],
    [t.name, "_con.txt"],
    [t.name, "nul_byte"],
    [t.name, "ctl__"],
    [t.name, "_"],
    [t.name, "trailing"],
  ]);
  assert(new TextEncoder().encode(paths[10][1]).length <= 255 && paths[10][1].endsWith(".dat"));
  for (const f of t.files) {
    const p = joinInside("/out", f.path);
    assert(p.startsWith("/out/"), p);
  }
});

Deno.test("a name that sanitises to nothing falls back to the info-hash", () => {
  const t = parse(single({ name: ".." }));
  assertEquals(t.name, t.infoHashHex);
  assertEquals(t.files[0].path, [t.infoHashHex]);
  assertEquals(parse(single({ name: "" })).name.length, 40);
});

Deno.test("duplicate paths after sanitising are made unique", () => {
  const t = parse(multi([
    { length: 1, path: ["foo", "bar.txt"] },
    { length: 1, path: ["foo", "bar.txt"] },
    { length: 1, path: ["..", "foo", "bar.txt"] },
    { length: 1, path: ["FOO", "Bar.txt"] },
    { length: 1, path: ["foo", "bar.txt", "inner"] },
  ], 1));
  assertEquals(t.files.map((f) => f.path.join("/")), [
    "folder/foo/bar.txt",
    "folder/foo/bar.1.txt",
    "folder/foo/bar.2.txt",
    "folder/FOO/Bar.3.txt",
    "folder/foo/bar.4.txt/inner",
  ]);
});

Deno.test("BEP 47 pad files stay in the layout, marked, and never clash", () => {
  const t = parse(multi([
    { length: 100, path: ["a"] },
    { attr: "p", length: 16284, path: [".pad", "16284"] },
    { length: 100, path: ["b"] },
    { attr: "p", length: 16284 }, // no path at all
    { length: 10, path: ["_____padding_file_0"] }, // legacy BitComet pad file
    { attr: "xp", length: 1, path: [".pad", "16284"] },
  ], 3));
  assertEquals(
    t.files.map((f) => [f.path.join("/"), f.offset, f.length, f.padding]),
    [
      ["folder/a", 0, 100, false],
      ["folder/.pad/16284", 100, 16284, true],
      ["folder/b", 16384, 100, false],
      ["folder/.pad/16284", 16484, 16284, true],
      ["folder/_____padding_file_0", 32768, 10, true],
      ["folder/.pad/16284", 32778, 1, true],
    ],
  );
  assertEquals(t.totalLength, 32779);
});

Deno.test("BEP 47 symlinks take no room and carry a sanitised target", () => {
  const t = parse(multi([
    { length: 425, path: ["a", "bar"] },
    { attr: "l", length: 425, path: ["a", "link"], "symlink path": ["..", "..", "a", "bar"] },
    { attr: "lx", path: ["zero"], "symlink path": ["a", "/", "bar"] },
  ], 1));
  assertEquals(t.totalLength, 425);
  assertEquals(t.files[1], {
    path: ["folder", "a", "link"],
    length: 0,
    offset: 425,
    padding: false,
    symlink: ["folder", "a", "bar"],
  });
  assertEquals(t.files[2].symlink, ["folder", "a", "_", "bar"]);
  rejects(
    torrent(multi([{ length: 1, path: ["x"] }, { attr: "l", path: ["y"] }], 1)),
    "symlink path",
  );
  rejects(
    torrent(
      multi([{ length: 1, path: ["x"] }, { attr: "l", path: ["y"], "symlink path": [1] }], 1),
    ),
    "'symlink path' in file entry 2 must be a list of strings",
  );
});

Deno.test("keys out of order are accepted and the info-hash covers the raw bytes", () => {
  const info = "d4:name4:temp6:lengthi425e12:piece lengthi16384e6:pieces20:" + "a".repeat(20) + "e";
  const bytes = te.encode(`d8:announce21:http://127.0.0.1:1/an4:info${info}e`);
  const t = parseTorrent(bytes);
  assertEquals(t.infoBytes, te.encode(info));
  assertEquals(t.infoHash, sha1(te.encode(info)));
  rejects(te.encode(`d4:info${info}4:info${info}e`), "bencode error");
});

Deno.test("trailing whitespace after the torrent is tolerated, other trailing bytes are not", () => {
  const bytes = torrent(single());
  const t = parseTorrent(new Uint8Array([...bytes, 0x0a, 0x0d, 0x0a, 0x20]));
  assertEquals(t.infoHashHex, parseTorrent(bytes).infoHashHex);
  rejects(new Uint8Array([...bytes, 0x78]), "trailing bytes");
});

Deno.test("parseInfo parses an info dictionary on its own", () => {
  const info = encode(multi([{ length: 5, path: ["x"] }], 1));
  const i = parseInfo(info);
  assertEquals(i.infoHash, sha1(info));
  assertEquals(i.files[0].path, ["folder", "x"]);
  assertThrows(() => parseInfo(te.encode("i1e")), TorrentError, "info is not a dictionary");
  assertThrows(() => parseInfo(te.encode("d4:name")), TorrentError, "not valid bencode");
  assertThrows(() => parseInfo(new Uint8Array([...info, 0x0a])), TorrentError, "trailing bytes");
});

Deno.test("returned byte arrays are copies, not views into the input", () => {
  const bytes = torrent(single());
  const t = parseTorrent(bytes);
  const before = t.v1Pieces!.table.slice();
  bytes.fill(0);
  assertEquals(t.v1Pieces!.table, before);
  assertEquals(t.infoHash, sha1(t.infoBytes));
});

Deno.test("malformed torrents are refused with one clear line", () => {
  const cases: [Uint8Array, string][] = [
    [te.encode("d4:info"), "not a torrent file: bencode error"],
    [te.encode("hello"), "not a torrent file: bencode error"],
    [new Uint8Array(), "not a torrent file"],
    [te.encode("l4:infoe"), "not a torrent file: top level is not a dictionary"],
    [te.encode("10:libtorrent"), "top level is not a dictionary"],
    [encode({ announce: "x" }), "missing 'info' dictionary"],
    [torrent("files"), "'info' is not a dictionary"],
    [torrent(single({ "piece length": undefined })), "missing 'piece length'"],
    [torrent(single({ "piece length": "16384" })), "'piece length' must be a positive integer"],
    [torrent(single({ "piece length": 0 })), "'piece length' must be a positive integer"],
    [torrent(single({ "piece length": -16384 })), "'piece length' must be a positive integer"],
    [torrent(single({ "piece length": 2 ** 30 })), "'piece length' is larger than 512 MiB"],
    [torrent(single({ "piece length": 2n ** 70n })), "'piece length' must be a positive integer"],
    [torrent(single({ pieces: undefined })), "missing 'pieces'"],
    [torrent(single({ pieces: -23 })), "'pieces' must be a string"],
    [torrent(single({ pieces: new Uint8Array(21) })), "'pieces' length is not a multiple of 20"],
    [torrent(single({ pieces: hashes(3) })), "piece count does not match total length"],
    [torrent(single({ pieces: hashes(1) })), "piece count does not match total length"],
    [torrent(single({ length: 0, pieces: new Uint8Array() })), "torrent contains no data"],
    [torrent(single({ name: undefined })), "missing 'name'"],
    [torrent(single({ name: 1348 })), "'name' in info dictionary must be a string"],
    [torrent(single({ length: undefined })), "missing 'length' or 'files'"],
    [torrent(single({ length: -425 })), "'length' in info dictionary must not be negative"],
    [torrent(single({ length: "425" })), "'length' in info dictionary must be an integer"],
    [torrent(single({ length: 2n ** 64n })), "'length' in info dictionary is too large"],
    [torrent(multi([], 1)), "'files' list is empty"],
    [torrent(single({ files: "x" })), "'files' in info dictionary must be a list"],
    [torrent(multi([5 as unknown as Dict], 1)), "file entry 1 is not a dictionary"],
    [torrent(multi([{ path: ["a"] }], 1)), "missing 'length' in file entry 1"],
    [torrent(multi([{ length: [45], path: ["a"] }], 1)), "'length' in file entry 1 must be"],
    [torrent(multi([{ length: -45, path: ["a"] }], 1)), "must not be negative"],
    [torrent(multi([{ length: 1 }], 1)), "missing 'path' in file entry 1"],
    [torrent(multi([{ length: 1, path: "a" }], 1)), "'path' in file entry 1 must be a list"],
    [torrent(multi([{ length: 1, path: [1242, "a"] }], 1)), "must be a list of strings"],
    [
      torrent(multi([{ length: 2 ** 53 - 1, path: ["a"] }, { length: 1, path: ["b"] }], 1)),
      "total length of the torrent is too large",
    ],
  ];
  for (const [bytes, message] of cases) rejects(bytes, message);
});

Deno.test("messages are single lines meant for users", () => {
  for (const input of ["d4:infoi1e", "d4:infoi1ee", "d4:infod4:name1:xee"]) {
    const e = assertThrows(() => parseTorrent(te.encode(input)), TorrentError);
    assert(!e.message.includes("\n"));
    assertEquals(e.name, "TorrentError");
  }
});
