import { encode } from "../../src/bencode/mod.ts";
import {
  encodeExtendedHandshake,
  ExtensionError,
  LOCAL_EXTENSION_IDS,
  MAX_HANDSHAKE_SIZE,
  MAX_METADATA_SIZE,
  parseExtendedHandshake,
} from "../../src/ext/mod.ts";
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { mulberry32 } from "../random.ts";
import { mutate } from "./_mutate.ts";

const te = new TextEncoder();

Deno.test("extended handshake: round trip of every field", () => {
  const payload = encodeExtendedHandshake({
    port: 51413,
    version: "bittorrent 0.1.0",
    reqq: 500,
    metadataSize: 12345,
    yourIp: new Uint8Array([127, 0, 0, 1]),
  });
  const h = parseExtendedHandshake(payload);
  assertEquals(h.m, new Map([["ut_metadata", 1], ["ut_pex", 2]]));
  assertEquals(h.port, 51413);
  assertEquals(h.version, "bittorrent 0.1.0");
  assertEquals(h.reqq, 500);
  assertEquals(h.metadataSize, 12345);
  assertEquals(h.yourIp, new Uint8Array([127, 0, 0, 1]));
  assertEquals(h.uploadOnly, undefined);
});

Deno.test("extended handshake: exact bytes, m is LOCAL_EXTENSION_IDS, optional keys left out", () => {
  const payload = encodeExtendedHandshake({ version: "x", reqq: 250 });
  assertEquals(
    new TextDecoder().decode(payload),
    "d1:md11:ut_metadatai1e6:ut_pexi2ee4:reqqi250e1:v1:xe",
  );
  assertEquals(LOCAL_EXTENSION_IDS.ut_metadata, 1);
  assertEquals(LOCAL_EXTENSION_IDS.ut_pex, 2);
});

Deno.test("extended handshake: out-of-range local values are not sent", () => {
  const h = parseExtendedHandshake(
    encodeExtendedHandshake({
      port: 0,
      version: "v",
      reqq: -1,
      metadataSize: MAX_METADATA_SIZE + 1,
      yourIp: new Uint8Array(5),
    }),
  );
  assertEquals(h, { m: new Map([["ut_metadata", 1], ["ut_pex", 2]]), version: "v" });
  const v6 = new Uint8Array(16);
  v6[15] = 1;
  assertEquals(
    parseExtendedHandshake(encodeExtendedHandshake({ version: "", reqq: 1, yourIp: v6 })).yourIp,
    v6,
  );
});

Deno.test("extended handshake: tolerant of wrong types, disabled and bad ids, unknown keys", () => {
  const h = parseExtendedHandshake(encode({
    m: { ut_metadata: 3, ut_pex: 0, lt_donthave: 7, big: 256, neg: -1, str: "1", list: [1] },
    p: "6881",
    v: 5,
    reqq: 0,
    metadata_size: MAX_METADATA_SIZE + 1,
    yourip: new Uint8Array(7),
    upload_only: 1,
    e: 1,
    complete_ago: 3,
    ipv6: new Uint8Array(16),
  }));
  assertEquals(h.m, new Map([["lt_donthave", 7], ["ut_metadata", 3]]));
  assertEquals(h.port, undefined);
  assertEquals(h.version, undefined);
  assertEquals(h.reqq, undefined);
  assertEquals(h.metadataSize, undefined);
  assertEquals(h.yourIp, undefined);
  assertEquals(h.uploadOnly, true);
  assertEquals(parseExtendedHandshake(encode({ m: 5, p: 70000 })), { m: new Map() });
  assertEquals(parseExtendedHandshake(encode({ metadata_size: 0 })).metadataSize, undefined);
  assertEquals(parseExtendedHandshake(encode({ metadata_size: -5 })).metadataSize, undefined);
  assertEquals(
    parseExtendedHandshake(te.encode("d13:metadata_sizei99999999999999999999ee")).metadataSize,
    undefined,
  );
});

Deno.test("extended handshake: unsorted keys accepted (some clients send them)", () => {
  const h = parseExtendedHandshake(te.encode("d1:v3:abc1:md6:ut_pexi9eee"));
  assertEquals(h.m.get("ut_pex"), 9);
  assertEquals(h.version, "abc");
});

Deno.test("extended handshake: client name is cleaned and bounded", () => {
  const h = parseExtendedHandshake(encode({ v: "evil\x1b[2Jname\n" }));
  assertEquals(h.version, "evil[2Jname");
  const long = parseExtendedHandshake(encode({ v: "a".repeat(10_000) }));
  assertEquals(long.version?.length, 256);
  const bad = parseExtendedHandshake(encode({ v: new Uint8Array([0xff, 0x41]) }));
  assertEquals(bad.version, "\ufffdA");
});

Deno.test("extended handshake: garbage is an ExtensionError", () => {
  for (const raw of ["", "i1e", "le", "4:spam", "d1:mdee", "d1:md", "d1:ai1e1:ai2ee", "xyz"]) {
    if (raw === "d1:mdee") {
      assertEquals(parseExtendedHandshake(te.encode(raw)), { m: new Map() });
      continue;
    }
    assertThrows(() => parseExtendedHandshake(te.encode(raw)), ExtensionError);
  }
  assertThrows(
    () => parseExtendedHandshake(new Uint8Array(MAX_HANDSHAKE_SIZE + 1)),
    ExtensionError,
    "too large",
  );
  // Trailing bytes after the dictionary are not a handshake.
  assertThrows(() => parseExtendedHandshake(te.encode("de\0")), ExtensionError);
  // Deep nesting is bounded.
  assertThrows(
    () => parseExtendedHandshake(te.encode("d1:x" + "l".repeat(100) + "e".repeat(100) + "e")),
    ExtensionError,
  );
});

Deno.test("extended handshake: fuzz returns a sane value or ExtensionError", () => {
  const r = mulberry32(0x10);
  const seeds = [
    encodeExtendedHandshake({
      port: 6881,
      version: "bittorrent 0.1.0",
      reqq: 250,
      metadataSize: 40000,
      yourIp: new Uint8Array([10, 0, 0, 1]),
    }),
    encode({ m: { ut_metadata: 2, ut_pex: 1, ut_holepunch: 4 }, upload_only: 1, v: "lt" }),
  ];
  for (let i = 0; i < 5000; i++) {
    const input = mutate(seeds[i % seeds.length], r);
    try {
      const h = parseExtendedHandshake(input);
      for (const id of h.m.values()) {
        assert(Number.isInteger(id) && id >= 1 && id <= 255, `case ${i}`);
      }
      if (h.port !== undefined) assert(h.port >= 1 && h.port <= 65535, `case ${i}`);
      if (h.metadataSize !== undefined) {
        assert(h.metadataSize >= 1 && h.metadataSize <= MAX_METADATA_SIZE, `case ${i}`);
      }
      if (h.yourIp !== undefined) assert(h.yourIp.length === 4 || h.yourIp.length === 16);
      if (h.reqq !== undefined) assert(Number.isSafeInteger(h.reqq) && h.reqq > 0);
    } catch (e) {
      if (!(e instanceof ExtensionError)) throw new Error(`case ${i}: ${e}`);
    }
  }
});
