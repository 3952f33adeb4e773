import {
  normalizeHost,
  parseCompactPeers,
  parseHttpAnnounce,
  parseHttpScrape,
  parseUdpAnnounce,
  parseUdpResponse,
  TrackerError,
} from "../../src/tracker/mod.ts";
import { encode } from "../../src/bencode/mod.ts";
import { formatIPv6, parseIPv6 } from "../../src/util/mod.ts";
import { assert, assertEquals, assertThrows } from "../assert.ts";
import {
  announceReply,
  bin,
  concat,
  connectReply,
  errorReply,
  mutate,
  randomBytes,
  seeded,
} from "./_helpers.ts";

const v4 = (a: number, b: number, c: number, d: number, port: number) =>
  new Uint8Array([a, b, c, d, port >> 8, port & 0xff]);

Deno.test("parseCompactPeers: IPv4 entries, trailing partial ignored, port 0 dropped", () => {
  const bytes = concat(
    v4(10, 0, 0, 1, 6881),
    v4(10, 0, 0, 2, 0),
    v4(192, 168, 1, 9, 51413),
    bin("\x01\x02\x03"),
  );
  assertEquals(parseCompactPeers(bytes, 4), [
    { host: "10.0.0.1", port: 6881 },
    { host: "192.168.1.9", port: 51413 },
  ]);
});

Deno.test("parseCompactPeers: drops unusable addresses and duplicates", () => {
  const bytes = concat(
    v4(0, 0, 0, 0, 1),
    v4(224, 0, 0, 1, 1),
    v4(255, 255, 255, 255, 1),
    v4(1, 2, 3, 4, 5),
    v4(1, 2, 3, 4, 5),
  );
  assertEquals(parseCompactPeers(bytes, 4), [{ host: "1.2.3.4", port: 5 }]);
  assertEquals(parseCompactPeers(new Uint8Array(0), 4), []);
});

Deno.test("parseCompactPeers: IPv6 entries (BEP 7) and IPv4-mapped", () => {
  const a = new Uint8Array(18);
  a.set([0x20, 0x01, 0x0d, 0xb8], 0);
  a[15] = 1;
  a[16] = 0x1a;
  a[17] = 0xe1;
  const mapped = new Uint8Array(18);
  mapped.set([0xff, 0xff, 127, 0, 0, 1], 10);
  mapped[17] = 80;
  const loop = new Uint8Array(18);
  loop[15] = 1;
  loop[17] = 9;
  assertEquals(parseCompactPeers(concat(a, mapped, loop, new Uint8Array(17)), 6), [
    { host: "2001:db8::1", port: 6881 },
    { host: "127.0.0.1", port: 80 },
    { host: "::1", port: 9 },
  ]);
  const multicast = new Uint8Array(18);
  multicast[0] = 0xff;
  multicast[17] = 1;
  assertEquals(parseCompactPeers(multicast, 6), []);
});

Deno.test("formatIPv6 / parseIPv6 round trip in RFC 5952 form", () => {
  const cases: [string, string][] = [
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["::", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
    ["1:0:2:0:3:0:4:0", "1:0:2:0:3:0:4:0"],
    ["::ffff:1.2.3.4", "::ffff:102:304"],
    ["FE80::ABCD", "fe80::abcd"],
  ];
  for (const [input, want] of cases) {
    const b = parseIPv6(input);
    assert(b !== undefined, input);
    assertEquals(formatIPv6(b), want, input);
  }
  for (
    const bad of [
      "",
      ":",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      "12345::",
      "g::1",
      "::1%eth0",
      "1:2:3:4:5:6:7",
    ]
  ) {
    assertEquals(parseIPv6(bad), undefined, bad);
  }
});

Deno.test("normalizeHost accepts IPs and DNS names, rejects junk", () => {
  assertEquals(normalizeHost("10.1.2.3"), "10.1.2.3");
  assertEquals(normalizeHost("[2001:DB8::1]"), "2001:db8::1");
  assertEquals(normalizeHost("Peer.Example.org"), "peer.example.org");
  assertEquals(normalizeHost("::ffff:10.0.0.1"), "10.0.0.1");
  for (
    const bad of [
      "",
      "0.0.0.0",
      "256.1.1.1",
      "01.2.3.4",
      "a b",
      "-x.org",
      "1.2.3",
      "x".repeat(300),
      "::",
    ]
  ) {
    assertEquals(normalizeHost(bad), undefined, bad);
  }
});

Deno.test("parseHttpAnnounce: compact peers, counts, intervals, warning, tracker id", () => {
  const body = encode({
    interval: 900,
    "min interval": 60,
    complete: 3,
    incomplete: 4,
    "warning message": "be nice",
    "tracker id": "abc",
    peers: concat(v4(10, 0, 0, 1, 6881), v4(10, 0, 0, 2, 6882)),
  });
  assertEquals(parseHttpAnnounce(body), {
    interval: 900,
    minInterval: 60,
    peers: [{ host: "10.0.0.1", port: 6881 }, { host: "10.0.0.2", port: 6882 }],
    complete: 3,
    incomplete: 4,
    warning: "be nice",
    trackerId: "abc",
  });
});

Deno.test("parseHttpAnnounce: dictionary peers and peers6 together", () => {
  const six = new Uint8Array(18);
  six[15] = 1;
  six[17] = 7;
  const body = encode({
    interval: 100,
    peers: [
      { ip: "10.0.0.1", port: 1, "peer id": "x".repeat(20) },
      { ip: "host.example", port: 2 },
      { ip: "2001:db8::5", port: 3 },
      { ip: "not a host", port: 4 },
      { ip: "10.0.0.9", port: 0 },
      { ip: "10.0.0.9", port: 70000 },
      { port: 5 },
      "garbage",
      { ip: "10.0.0.1", port: 1 },
    ],
    peers6: six,
  });
  assertEquals(parseHttpAnnounce(body).peers, [
    { host: "10.0.0.1", port: 1 },
    { host: "host.example", port: 2 },
    { host: "2001:db8::5", port: 3 },
    { host: "::1", port: 7 },
  ]);
});

Deno.test("parseHttpAnnounce: failure reason becomes a one-line TrackerError", () => {
  const e = assertThrows(
    () => parseHttpAnnounce(encode({ "failure reason": "torrent not\nregistered", interval: 5 })),
    TrackerError,
    "failure reason: torrent not registered",
  );
  assertEquals((e as TrackerError).kind, "failure");
});

Deno.test("parseHttpAnnounce: garbage and non-dictionaries are protocol errors", () => {
  assertThrows(() => parseHttpAnnounce(bin("<html>nope</html>")), TrackerError, "invalid bencode");
  assertThrows(() => parseHttpAnnounce(bin("")), TrackerError, "invalid bencode");
  assertThrows(() => parseHttpAnnounce(bin("d8:intervali5eexyz")), TrackerError, "invalid bencode");
  assertThrows(() => parseHttpAnnounce(bin("li1ee")), TrackerError, "dictionary");
  // A trailing newline is tolerated.
  assertEquals(parseHttpAnnounce(bin("d8:intervali900ee\r\n")).interval, 900);
});

Deno.test("parseHttpAnnounce: intervals are clamped and defaulted", () => {
  assertEquals(parseHttpAnnounce(encode({ peers: "" })).interval, 1800);
  assertEquals(parseHttpAnnounce(encode({ interval: 1 })).interval, 30);
  assertEquals(parseHttpAnnounce(encode({ interval: 10 ** 9 })).interval, 7200);
  assertEquals(parseHttpAnnounce(encode({ interval: -5 })).interval, 1800);
  const r = parseHttpAnnounce(encode({ interval: 600, "min interval": 5000 }));
  assertEquals([r.interval, r.minInterval], [600, 600]);
  const custom = parseHttpAnnounce(encode({ interval: 1, "min interval": 0 }), { min: 1, max: 10 });
  assertEquals([custom.interval, custom.minInterval], [1, 1]);
  // A huge integer (bigint) is not a number: default.
  assertEquals(parseHttpAnnounce(bin("d8:intervali99999999999999999999999ee")).interval, 1800);
});

Deno.test("parseHttpScrape: files keyed by hex info-hash", () => {
  const hash = new Uint8Array(20).fill(0xcd);
  const body = encode({
    files: new Map<string, import("../../src/bencode/mod.ts").Encodable>([
      [String.fromCharCode(...hash), { complete: 5, downloaded: 10, incomplete: 2 }],
      ["short", { complete: 1 }],
    ]),
  });
  const m = parseHttpScrape(body);
  assertEquals(m.size, 1);
  assertEquals(m.get("cd".repeat(20)), { complete: 5, downloaded: 10, incomplete: 2 });
  assertThrows(() => parseHttpScrape(encode({ x: 1 })), TrackerError, "without files");
});

Deno.test("parseUdpResponse: connect, announce, scrape, error, junk", () => {
  assertEquals(parseUdpResponse(connectReply(5, 77n), 4), {
    action: "connect",
    transactionId: 5,
    connectionId: 77n,
  });
  const a = parseUdpAnnounce(announceReply(6, 120, v4(10, 1, 1, 1, 99), 4, 2), 4);
  assertEquals(a, {
    transactionId: 6,
    result: { interval: 120, incomplete: 4, complete: 2, peers: [{ host: "10.1.1.1", port: 99 }] },
  });
  const scrape = concat(bin("\0\0\0\x02"), bin("\0\0\0\x07"), new Uint8Array(12).fill(1));
  assertEquals(parseUdpResponse(scrape, 4), {
    action: "scrape",
    transactionId: 7,
    entries: [{ complete: 0x01010101, downloaded: 0x01010101, incomplete: 0x01010101 }],
  });
  assertEquals(parseUdpResponse(errorReply(8, "go away\n"), 4), {
    action: "error",
    transactionId: 8,
    message: "go away",
  });
  assertThrows(
    () => parseUdpAnnounce(errorReply(8, "nope"), 4),
    TrackerError,
    "failure reason: nope",
  );
  assertThrows(() => parseUdpAnnounce(connectReply(1, 1n), 4), TrackerError, "not announce");
  assertThrows(() => parseUdpResponse(new Uint8Array(7), 4), TrackerError, "too short");
  assertThrows(() => parseUdpResponse(new Uint8Array(15), 4), TrackerError, "too short");
  assertThrows(() => parseUdpResponse(announceReply(1, 1).subarray(0, 19), 4), TrackerError);
  assertThrows(() => parseUdpResponse(concat(u32be(9), u32be(1)), 4), TrackerError, "unknown");
});

function u32be(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

/** Runs `fn` on many inputs; it may return anything or throw TrackerError, nothing else. */
function fuzz(name: string, seeds: Uint8Array[], fn: (b: Uint8Array) => unknown, rounds = 4000) {
  const rand = seeded(name.length * 7919 + 17);
  let ok = 0, rejected = 0;
  for (let i = 0; i < rounds; i++) {
    const input = i % 5 === 4
      ? randomBytes(rand, 64)
      : mutate(seeds[Math.floor(rand() * seeds.length)], rand);
    try {
      fn(input);
      ok++;
    } catch (e) {
      if (!(e instanceof TrackerError)) {
        throw new Error(`${name}: input ${Array.from(input).join(",")} threw ${e}`);
      }
      rejected++;
    }
  }
  assert(ok > 0 && rejected > 0, `${name}: fuzz should see both outcomes (${ok}/${rejected})`);
}

const httpSeeds = [
  encode({
    interval: 900,
    "min interval": 60,
    complete: 1,
    incomplete: 2,
    peers: concat(v4(1, 2, 3, 4, 5), v4(6, 7, 8, 9, 10)),
  }),
  encode({
    interval: 900,
    peers: [{ ip: "10.0.0.1", port: 1 }, { ip: "::1", port: 2 }],
    peers6: new Uint8Array(36).fill(1),
  }),
  encode({ "failure reason": "nope" }),
  encode({ "warning message": "w", "tracker id": "t", peers: "" }),
];

Deno.test("fuzz: parseHttpAnnounce only returns or throws TrackerError", () => {
  fuzz("parseHttpAnnounce", httpSeeds, (b) => {
    const r = parseHttpAnnounce(b);
    assert(Number.isInteger(r.interval) && r.interval >= 30 && r.interval <= 7200);
    for (const p of r.peers) assert(p.port >= 1 && p.port <= 65535 && p.host.length > 0);
  });
});

Deno.test("fuzz: parseHttpScrape only returns or throws TrackerError", () => {
  const hash = String.fromCharCode(...new Uint8Array(20).fill(9));
  const seed = encode({ files: new Map([[hash, { complete: 1, downloaded: 2, incomplete: 3 }]]) });
  fuzz("parseHttpScrape", [seed, httpSeeds[2]], parseHttpScrape);
});

Deno.test("fuzz: parseUdpResponse / parseCompactPeers only return or throw TrackerError", () => {
  const seeds = [
    connectReply(1, 2n),
    announceReply(3, 1800, concat(v4(1, 2, 3, 4, 5), v4(9, 9, 9, 9, 9))),
    errorReply(4, "bad"),
    concat(u32be(2), u32be(5), new Uint8Array(24)),
  ];
  fuzz("parseUdpResponse4", seeds, (b) => parseUdpResponse(b, 4));
  fuzz("parseUdpResponse6", seeds, (b) => parseUdpResponse(b, 6));
  const rand = seeded(99);
  for (let i = 0; i < 3000; i++) {
    const b = randomBytes(rand, 100);
    for (const p of parseCompactPeers(b, i % 2 === 0 ? 4 : 6)) {
      assert(p.port > 0 && p.host.length > 0);
    }
  }
});
