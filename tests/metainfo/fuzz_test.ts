/**
 * Seeded fuzzing of parseTorrent and parseInfo: byte-level mutations of valid torrents, and
 * structure-aware ones (decode, change a value or key, re-encode). Every result must be a
 * consistent Torrent or a TorrentError.
 */
import { type BencodeDict, type BencodeValue, decode, encode } from "../../src/bencode/mod.ts";
import {
  createTorrentFromBuffers,
  parseInfo,
  parseTorrent,
  TorrentError,
  type TorrentInfo,
} from "../../src/metainfo/mod.ts";
import { assert } from "../assert.ts";
import { assertTorrentInvariants } from "./invariants.ts";
import { mulberry32 as rng } from "../random.ts";

const te = new TextEncoder();

function seeds(): Uint8Array[] {
  const data = (n: number) => new Uint8Array(n).map((_, i) => (i * 31) & 0xff);
  const out = [
    createTorrentFromBuffers("single.bin", data(40_000), {
      pieceLength: 16384,
      announce: [["http://127.0.0.1:1/a", "http://127.0.0.1:2/a"], ["udp://127.0.0.1:3"]],
      comment: "c",
      urlList: ["http://127.0.0.1:4/"],
      creationDate: 1,
    }),
    createTorrentFromBuffers("multi", [
      { path: ["a"], data: data(100) },
      { path: ["d", "e", "f.txt"], data: data(20_000) },
      { path: ["empty"], data: new Uint8Array() },
      { path: ["z"], data: data(16384) },
    ], { pieceLength: 16384, private: true, creationDate: null }),
    encode({
      announce: "http://127.0.0.1:1/a",
      info: {
        name: "pads",
        "name.utf-8": "pads",
        "piece length": 16384,
        pieces: new Uint8Array(40),
        files: [
          { length: 10, path: ["x"], "path.utf-8": ["x"] },
          { attr: "p", length: 16374, path: [".pad", "16374"] },
          { attr: "l", length: 0, path: ["ln"], "symlink path": ["x"] },
          { attr: "x", length: 5, path: ["..", "run.sh"] },
        ],
      },
    }),
  ];
  // Small files of libtorrent's corpus widen the starting set when it is present.
  const corpus = new URL("../../../shared/testdata/libtorrent-corpus/", import.meta.url);
  try {
    for (const e of Deno.readDirSync(corpus)) {
      if (!e.name.endsWith(".torrent")) continue;
      const bytes = Deno.readFileSync(new URL(e.name, corpus));
      if (bytes.length <= 4096) out.push(bytes);
    }
  } catch {
    // corpus absent: the built-in seeds suffice
  }
  return out;
}

const INTERESTING = te.encode("deil:-0123456789/.\\");

function mutateBytes(input: Uint8Array, r: () => number, others: Uint8Array[]): Uint8Array {
  const pick = (n: number) => Math.floor(r() * n);
  let out = input.slice();
  for (let round = 1 + pick(3); round > 0; round--) {
    const at = pick(out.length + 1);
    switch (pick(6)) {
      case 0:
        if (out.length > 0) out[pick(out.length)] ^= 1 << pick(8);
        break;
      case 1:
        if (out.length > 0) out[pick(out.length)] = INTERESTING[pick(INTERESTING.length)];
        break;
      case 2:
        out = out.slice(0, at);
        break;
      case 3: {
        const ins = Array.from(
          { length: 1 + pick(4) },
          () => INTERESTING[pick(INTERESTING.length)],
        );
        out = new Uint8Array([...out.subarray(0, at), ...ins, ...out.subarray(at)]);
        break;
      }
      case 4: {
        const o = others[pick(others.length)];
        const s = pick(o.length + 1), e = s + pick(Math.min(64, o.length - s) + 1);
        out = new Uint8Array([...out.subarray(0, at), ...o.subarray(s, e), ...out.subarray(at)]);
        break;
      }
      case 5:
        out = new Uint8Array([...out.subarray(0, at), ...out.subarray(at + 1 + pick(8))]);
        break;
    }
  }
  return out;
}

const KEYS = [
  "info",
  "name",
  "name.utf-8",
  "piece length",
  "pieces",
  "length",
  "files",
  "path",
  "path.utf-8",
  "attr",
  "symlink path",
  "private",
  "announce",
  "announce-list",
  "url-list",
  "creation date",
  "comment",
  "meta version",
  "file tree",
];

function randomValue(r: () => number, depth = 0): BencodeValue {
  const pick = (n: number) => Math.floor(r() * n);
  const strings = ["", ".", "..", "/", "a/../../b", "CON", "\\", "x".repeat(300), "p", "l", "lp"];
  switch (pick(depth > 2 ? 4 : 6)) {
    case 0:
      return [0, 1, -1, 16384, 2 ** 53 - 1, -(2 ** 31), 20, 40][pick(8)];
    case 1:
      return 2n ** BigInt(53 + pick(80)) * (r() < 0.5 ? -1n : 1n);
    case 2:
      return te.encode(strings[pick(strings.length)]);
    case 3:
      return new Uint8Array(20 * pick(4) + (r() < 0.2 ? 1 : 0));
    case 4:
      return Array.from({ length: pick(4) }, () => randomValue(r, depth + 1));
    default: {
      const m: BencodeDict = new Map();
      for (let i = pick(4); i > 0; i--) m.set(KEYS[pick(KEYS.length)], randomValue(r, depth + 1));
      return m;
    }
  }
}

/** Every dictionary and list inside `v`, so a mutation can pick any of them. */
function containers(v: BencodeValue, out: (BencodeDict | BencodeValue[])[] = []) {
  if (v instanceof Map) {
    out.push(v);
    for (const x of v.values()) containers(x, out);
  } else if (Array.isArray(v)) {
    out.push(v);
    for (const x of v) containers(x, out);
  }
  return out;
}

function mutateStructure(input: Uint8Array, r: () => number): Uint8Array | undefined {
  let value: BencodeValue;
  try {
    value = decode(input, { allowUnsortedKeys: true });
  } catch {
    return undefined;
  }
  const pick = (n: number) => Math.floor(r() * n);
  for (let round = 1 + pick(2); round > 0; round--) {
    const all = containers(value);
    if (all.length === 0) return undefined;
    const c = all[pick(all.length)];
    if (c instanceof Map) {
      const keys = [...c.keys()];
      const action = pick(3);
      if (action === 0 && keys.length > 0) c.delete(keys[pick(keys.length)]);
      else if (action === 1 && keys.length > 0) c.set(keys[pick(keys.length)], randomValue(r));
      else c.set(KEYS[pick(KEYS.length)], randomValue(r));
    } else {
      const action = pick(3);
      if (action === 0 && c.length > 0) c.splice(pick(c.length), 1);
      else if (action === 1 && c.length > 0) c[pick(c.length)] = randomValue(r);
      else c.push(c.length > 0 && r() < 0.5 ? c[pick(c.length)] : randomValue(r));
    }
  }
  return encode(value);
}

function check(input: Uint8Array, label: string): "ok" | "rejected" {
  try {
    assertTorrentInvariants(parseTorrent(input), label);
    return "ok";
  } catch (e) {
    if (e instanceof TorrentError) return "rejected";
    throw new Error(`${label}: ${e instanceof Error ? `${e.name}: ${e.message}` : e}`);
  }
}

Deno.test("fuzz: byte-mutated torrents parse consistently or throw TorrentError", () => {
  const r = rng(0x70775);
  const base = seeds();
  let ok = 0;
  for (let i = 0; i < 6000; i++) {
    if (check(mutateBytes(base[i % base.length], r, base), `byte case ${i}`) === "ok") ok++;
  }
  assert(ok > 100, `only ${ok} mutated torrents parsed`);
});

Deno.test("fuzz: structurally mutated torrents parse consistently or throw TorrentError", () => {
  const r = rng(0x5eed);
  const base = seeds();
  let ok = 0, tried = 0;
  for (let i = 0; i < 6000; i++) {
    const input = mutateStructure(base[i % base.length], r);
    if (input === undefined) continue;
    tried++;
    if (check(input, `structure case ${i}`) === "ok") ok++;
  }
  assert(tried > 3000 && ok > 300, `tried ${tried}, parsed ${ok}`);
});

Deno.test("fuzz: parseInfo on mutated info dictionaries", () => {
  const r = rng(42);
  const infos = seeds().map((s) => {
    try {
      return parseTorrent(s).infoBytes;
    } catch {
      return undefined;
    }
  }).filter((x): x is Uint8Array => x !== undefined);
  for (let i = 0; i < 4000; i++) {
    const input = i % 2 === 0
      ? mutateBytes(infos[i % infos.length], r, infos)
      : mutateStructure(infos[i % infos.length], r) ?? new Uint8Array();
    let info: TorrentInfo;
    try {
      info = parseInfo(input);
    } catch (e) {
      if (e instanceof TorrentError) continue;
      throw new Error(`info case ${i}: ${e}`);
    }
    assertTorrentInvariants({ ...info, announce: [], urlList: [] }, `info case ${i}`);
  }
});
