import { encode } from "../../src/bencode/mod.ts";
import {
  encodePex,
  ExtensionError,
  MAX_PEX_ENTRIES,
  MAX_PEX_SIZE,
  parsePex,
  PEX_FLAGS,
  type PexPeer,
  PexState,
} from "../../src/ext/mod.ts";
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { mulberry32, randomInt } from "../random.ts";
import { mutate, randomBytes } from "./_mutate.ts";

const te = new TextEncoder();

Deno.test("pex: round trip of IPv4 and IPv6 peers with flags", () => {
  const added: PexPeer[] = [
    { host: "127.0.0.1", port: 6881, flags: PEX_FLAGS.seed | PEX_FLAGS.outgoing },
    { host: "10.1.2.3", port: 65535, flags: 0 },
    { host: "::1", port: 7000, flags: PEX_FLAGS.utp },
    { host: "2001:db8::8:1", port: 1, flags: PEX_FLAGS.encryption | PEX_FLAGS.holepunch },
  ];
  const dropped: PexPeer[] = [{ host: "192.168.0.1", port: 80 }, { host: "fe80::1", port: 443 }];
  const m = parsePex(encodePex({ added, dropped }));
  assertEquals(m, { added, dropped });
});

Deno.test("pex: exact wire layout", () => {
  const payload = encodePex({
    added: [{ host: "1.2.3.4", port: 0x1ae1, flags: 2 }],
    dropped: [{ host: "5.6.7.8", port: 1 }],
  });
  const expected = encode({
    added: new Uint8Array([1, 2, 3, 4, 0x1a, 0xe1]),
    "added.f": new Uint8Array([2]),
    added6: new Uint8Array(),
    "added6.f": new Uint8Array(),
    dropped: new Uint8Array([5, 6, 7, 8, 0, 1]),
    dropped6: new Uint8Array(),
  });
  assertEquals(payload, expected);
});

Deno.test("pex: encoder skips host names, bad ports; maps IPv4-mapped IPv6 and brackets", () => {
  const m = parsePex(encodePex({
    added: [
      { host: "example.org", port: 1 },
      { host: "127.0.0.1", port: 0 },
      { host: "127.0.0.1", port: 70000 },
      { host: "127.0.0.1", port: 1.5 },
      { host: "::ffff:127.0.0.9", port: 9 },
      { host: "[2001:DB8:0:0:0:0:0:1]", port: 10 },
      { host: "300.1.1.1", port: 10 },
    ],
    dropped: [],
  }));
  assertEquals(m.added, [
    { host: "127.0.0.9", port: 9, flags: 0 },
    { host: "2001:db8::1", port: 10, flags: 0 },
  ]);
});

Deno.test("pex: parser drops port 0 and unspecified addresses; flags optional", () => {
  const payload = encode({
    added: new Uint8Array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 5, 2, 2, 2, 2, 0, 6]),
    dropped6: new Uint8Array(18).fill(0xff),
  });
  assertEquals(parsePex(payload), {
    added: [{ host: "2.2.2.2", port: 6 }],
    dropped: [{ host: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", port: 65535 }],
  });
  // A short flags string covers only the first peers.
  const short = parsePex(encode({
    added: new Uint8Array([1, 1, 1, 1, 0, 1, 2, 2, 2, 2, 0, 2]),
    "added.f": new Uint8Array([0x12]),
  }));
  assertEquals(short.added, [{ host: "1.1.1.1", port: 1, flags: 0x12 }, {
    host: "2.2.2.2",
    port: 2,
  }]);
});

Deno.test("pex: tolerant of missing and wrongly typed lists", () => {
  assertEquals(parsePex(te.encode("de")), { added: [], dropped: [] });
  assertEquals(
    parsePex(encode({ added: 5, dropped: [1, 2], added6: { a: 1 }, "added.f": 3, extra: "x" })),
    { added: [], dropped: [] },
  );
});

Deno.test("pex: huge lists are bounded to MAX_PEX_ENTRIES per list", () => {
  const n = 2000;
  const added = new Uint8Array(n * 6);
  for (let i = 0; i < n; i++) added.set([10, 0, i >> 8, i & 0xff, 0, 1], i * 6);
  const added6 = new Uint8Array(1000 * 18).fill(1);
  const m = parsePex(encode({ added, added6, dropped: added }));
  assertEquals(m.added.length, 2 * MAX_PEX_ENTRIES);
  assertEquals(m.dropped.length, MAX_PEX_ENTRIES);
  assertEquals(m.added[0], { host: "10.0.0.0", port: 1 });
  assertThrows(
    () => parsePex(encode({ added: new Uint8Array(MAX_PEX_SIZE) })),
    ExtensionError,
    "too large",
  );
});

Deno.test("pex: malformed payloads are ExtensionErrors", () => {
  for (const raw of ["", "le", "i3e", "d5:added", "d5:added5:abcdee", "d6:added67:abcdefge"]) {
    assertThrows(() => parsePex(te.encode(raw)), ExtensionError);
  }
  assertThrows(() => parsePex(encode({ dropped: new Uint8Array(7) })), ExtensionError, "dropped");
  assertThrows(() => parsePex(encode({ dropped6: new Uint8Array(6) })), ExtensionError, "dropped6");
});

Deno.test("PexState: first message at once, then only changes, at most once per interval", () => {
  const s = new PexState({ intervalMs: 60_000 });
  const a: PexPeer = { host: "127.0.0.1", port: 1, flags: PEX_FLAGS.seed };
  const b: PexPeer = { host: "127.0.0.2", port: 2 };
  const c: PexPeer = { host: "::1", port: 3 };
  assertEquals(s.next([], 0), undefined); // nothing to say: no message, no timer
  assertEquals(s.next([a, b], 10), { added: [a, b], dropped: [] });
  assertEquals(s.next([a, c], 20), undefined);
  assertEquals(s.next([a, c], 60_009), undefined);
  assertEquals(s.next([a, c], 60_010), { added: [c], dropped: [{ host: "127.0.0.2", port: 2 }] });
  // Unchanged set: nothing sent, and the timer is not restarted.
  assertEquals(s.next([c, a], 200_000), undefined);
  assertEquals(s.next([c], 200_001), { added: [], dropped: [{ host: "127.0.0.1", port: 1 }] });
  // A peer that comes back is added again.
  assertEquals(s.next([c, a], 260_001), { added: [a], dropped: [] });
});

Deno.test("PexState: same peer in another spelling is one peer; unencodable hosts ignored", () => {
  const s = new PexState({ intervalMs: 0 });
  const first = s.next([
    { host: "::1", port: 5 },
    { host: "[0:0::1]", port: 5 },
    { host: "::ffff:127.0.0.1", port: 6 },
    { host: "127.0.0.1", port: 6 },
    { host: "localhost", port: 7 },
    { host: "127.0.0.1", port: 0 },
  ], 0);
  assertEquals(first, {
    added: [{ host: "::1", port: 5 }, { host: "127.0.0.1", port: 6 }],
    dropped: [],
  });
  assertEquals(s.next([{ host: "0::1", port: 5 }, { host: "127.0.0.1", port: 6 }], 1), undefined);
});

Deno.test("PexState: at most maxPerMessage added and dropped; the rest follow later", () => {
  const s = new PexState({ intervalMs: 1000, maxPerMessage: 50 });
  const peers = Array.from({ length: 120 }, (_, i) => ({ host: `10.0.0.${i}`, port: 1000 + i }));
  const seen = new Set<string>();
  let now = 0;
  for (let round = 0; round < 3; round++, now += 1000) {
    const m = s.next(peers, now)!;
    assert(m.added.length <= 50);
    for (const p of m.added) seen.add(`${p.host}:${p.port}`);
  }
  assertEquals(seen.size, 120);
  assertEquals(s.next(peers, now), undefined);
  const d1 = s.next([], now + 1000)!;
  const d2 = s.next([], now + 2000)!;
  const d3 = s.next([], now + 3000)!;
  assertEquals([d1.dropped.length, d2.dropped.length, d3.dropped.length], [50, 50, 20]);
  assertEquals(s.next([], now + 4000), undefined);
  // Messages round trip through the codec.
  const t = new PexState();
  const m = t.next(peers)!;
  assertEquals(parsePex(encodePex(m)).added, m.added.map((p) => ({ ...p, flags: 0 })));
});

Deno.test("pex: fuzz parser returns sane peers or ExtensionError", () => {
  const r = mulberry32(0x11);
  const seeds = [
    encodePex({
      added: [{ host: "127.0.0.1", port: 6881, flags: 2 }, { host: "::1", port: 1 }],
      dropped: [{ host: "10.0.0.1", port: 2 }, { host: "fe80::2", port: 3 }],
    }),
    encode({ added: new Uint8Array([1, 2, 3, 4, 5, 6]), "added.f": new Uint8Array([1]) }),
  ];
  for (let i = 0; i < 6000; i++) {
    const input = i % 10 === 9 ? randomBytes(r, randomInt(r, 64)) : mutate(seeds[i % 2], r);
    try {
      const m = parsePex(input);
      assert(m.added.length <= 2 * MAX_PEX_ENTRIES && m.dropped.length <= 2 * MAX_PEX_ENTRIES);
      for (const p of [...m.added, ...m.dropped]) {
        assert(p.port >= 1 && p.port <= 65535, `case ${i}`);
        assert(typeof p.host === "string" && p.host.length > 0, `case ${i}`);
        assert(p.flags === undefined || (p.flags >= 0 && p.flags <= 255), `case ${i}`);
      }
    } catch (e) {
      if (!(e instanceof ExtensionError)) throw new Error(`case ${i}: ${e}`);
    }
  }
});
