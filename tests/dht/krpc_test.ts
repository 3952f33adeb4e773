import {
  decodeCompactNodes,
  decodeCompactPeer,
  decodeMessage,
  DhtError,
  encodeCompactNodes,
  encodeCompactPeer,
  encodeMessage,
  type KrpcMessage,
  MAX_PACKET,
  normalizeIp,
} from "../../src/dht/mod.ts";
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { mulberry32, randomInt } from "../random.ts";

const te = new TextEncoder();
const bytes = (s: string) => te.encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const A = bytes("abcdefghij0123456789");
const M = bytes("mnopqrstuvwxyz123456");
const T = bytes("aa");

// The examples of BEP 5, byte for byte.
const bep5: [string, KrpcMessage][] = [
  [
    "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
    { type: "query", t: T, query: { method: "ping", id: A } },
  ],
  [
    "d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re",
    { type: "response", t: T, response: { id: M } },
  ],
  [
    "d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe",
    { type: "query", t: T, query: { method: "find_node", id: A, target: M } },
  ],
  [
    "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe",
    { type: "query", t: T, query: { method: "get_peers", id: A, infoHash: M } },
  ],
  [
    "d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re",
    {
      type: "response",
      t: T,
      response: {
        id: A,
        token: bytes("aoeusnth"),
        values: [decodeCompactPeer(bytes("axje.u")), decodeCompactPeer(bytes("idhtnm"))],
      },
    },
  ],
  [
    "d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe",
    {
      type: "query",
      t: T,
      query: {
        method: "announce_peer",
        id: A,
        infoHash: M,
        port: 6881,
        token: bytes("aoeusnth"),
        impliedPort: true,
      },
    },
  ],
  [
    "d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee",
    { type: "error", t: T, code: 201, message: "A Generic Error Ocurred" },
  ],
];

Deno.test("krpc: the BEP 5 examples decode and encode byte for byte", () => {
  for (const [wire, msg] of bep5) {
    assertEquals(decodeMessage(bytes(wire)), msg, wire);
    assertEquals(text(encodeMessage(msg)), wire);
  }
});

Deno.test("krpc: round trips with nodes, nodes6, want, ip, v and read-only", () => {
  const nodes = [
    { id: A, host: "127.0.0.1", port: 6881 },
    { id: M, host: "10.1.2.3", port: 1 },
  ];
  const nodes6 = [{ id: M, host: "2001:db8::1", port: 65535 }];
  const messages: KrpcMessage[] = [
    {
      type: "response",
      t: new Uint8Array([0, 1]),
      response: { id: A, nodes, nodes6, token: new Uint8Array([1, 2, 3, 4]) },
      ip: { host: "192.168.1.9", port: 51413 },
      v: bytes("DN\x00\x01"),
    },
    {
      type: "response",
      t: new Uint8Array([0xff, 0xff]),
      response: { id: A, values: [{ host: "::1", port: 80 }, { host: "1.2.3.4", port: 443 }] },
    },
    {
      type: "query",
      t: new Uint8Array([9, 9]),
      query: { method: "find_node", id: A, target: M, want: ["n4", "n6"] },
      readOnly: true,
    },
    {
      type: "query",
      t: new Uint8Array([9]),
      query: { method: "get_peers", id: A, infoHash: M, want: ["n6"] },
    },
    {
      type: "query",
      t: T,
      query: {
        method: "announce_peer",
        id: A,
        infoHash: M,
        port: 51413,
        token: new Uint8Array(20).fill(3),
        impliedPort: false,
      },
    },
    {
      type: "query",
      t: T,
      query: { method: "unknown", name: "sample_infohashes", id: A, target: M },
    },
    { type: "query", t: T, query: { method: "unknown", name: "vote" } },
    { type: "error", t: T, code: 204, message: "Method Unknown" },
  ];
  for (const m of messages) assertEquals(decodeMessage(encodeMessage(m)), m);
});

Deno.test("krpc: compact peers and nodes for IPv4 and IPv6", () => {
  assertEquals(
    encodeCompactPeer({ host: "127.0.0.1", port: 6881 }),
    new Uint8Array([127, 0, 0, 1, 0x1a, 0xe1]),
  );
  const v6 = encodeCompactPeer({ host: "2001:db8::ff00:42:8329", port: 1 });
  assertEquals(v6.length, 18);
  assertEquals(decodeCompactPeer(v6), { host: "2001:db8::ff00:42:8329", port: 1 });
  const nodes = [{ id: A, host: "1.2.3.4", port: 5 }, {
    id: M,
    host: "255.255.255.255",
    port: 65535,
  }];
  const packed = encodeCompactNodes(nodes, 4);
  assertEquals(packed.length, 52);
  assertEquals(decodeCompactNodes(packed, 4), nodes);
  const six = [{ id: A, host: "fe80::1", port: 5 }];
  assertEquals(decodeCompactNodes(encodeCompactNodes(six, 6), 6), six);
  assertThrows(() => encodeCompactNodes(six, 4), DhtError, "not an IPv4");
  assertThrows(() => encodeCompactPeer({ host: "example.com", port: 1 }), DhtError);
  assertThrows(() => encodeCompactPeer({ host: "1.2.3.4", port: 0 }), DhtError);
  assertThrows(() => decodeCompactNodes(new Uint8Array(27), 4), DhtError, "multiple of 26");
  assertThrows(() => decodeCompactNodes(new Uint8Array(26 * 2), 6), DhtError, "multiple of 38");
  assertThrows(() => decodeCompactPeer(new Uint8Array(7)), DhtError);
  // Nodes at port 0 cannot be reached: skipped.
  assertEquals(decodeCompactNodes(new Uint8Array(26), 4), []);
});

Deno.test("krpc: IP literals are normalised and validated", () => {
  assertEquals(normalizeIp("127.0.0.1"), "127.0.0.1");
  assertEquals(normalizeIp("2001:0DB8:0:0:0:0:0:1"), "2001:db8::1");
  assertEquals(normalizeIp("::"), "::");
  assertEquals(normalizeIp("::ffff:1.2.3.4"), "::ffff:102:304");
  assertEquals(normalizeIp("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
  assertEquals(normalizeIp("1:2:3:4:5:6:7:8"), "1:2:3:4:5:6:7:8");
  for (
    const bad of [
      "",
      "1.2.3",
      "1.2.3.256",
      "01.2.3.4",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "x",
      "fe80::1%eth0",
      "1.2.3.4.5",
    ]
  ) {
    assertEquals(normalizeIp(bad), undefined, bad);
  }
});

Deno.test("krpc: malformed messages throw DhtError with clear reasons", () => {
  const cases: [string, string][] = [
    ["", "not a dictionary"],
    ["le", "not a dictionary"],
    ["d1:y1:qe", "transaction id"],
    ["d1:t2:aa1:y1:xe", "message type"],
    ["d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe", "node id must be 20 bytes"],
    ["d1:q4:ping1:t2:aa1:y1:qe", "without arguments"],
    ["d1:ad2:id20:abcdefghij0123456789e1:q9:find_node1:t2:aa1:y1:qe", "target"],
    ["d1:rd2:id20:abcdefghij01234567895:nodes3:abce1:t2:aa1:y1:re", "multiple of 26"],
    ["d1:rd2:id20:abcdefghij01234567896:valuesl3:abcee1:t2:aa1:y1:re", "6 or 18"],
    ["d1:rd2:id20:abcdefghij01234567895:tokeni1ee1:t2:aa1:y1:re", "bad token"],
    ["d1:eli201ee1:t2:aa1:y1:ee", ""],
    ["d1:e3:abc1:t2:aa1:y1:ee", "error must be"],
    [
      "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti0e5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe",
      "port",
    ],
    ["d1:t40:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1:y1:re", "transaction id"],
    ["d1:t2:aa1:y1:qe", "method"],
    ["d1:t2:aa1:y1:q", "unterminated"],
  ];
  for (const [wire, reason] of cases) {
    if (reason === "") {
      decodeMessage(bytes(wire)); // an error without a message is fine
      continue;
    }
    assertThrows(() => decodeMessage(bytes(wire)), DhtError, reason);
  }
  assertThrows(
    () => decodeMessage(new Uint8Array(MAX_PACKET + 1).fill(0x64)),
    DhtError,
    "too large",
  );
  // A broken query carries its transaction id so the node can answer error 203.
  const e = assertThrows(
    () => decodeMessage(bytes("d1:ad2:id1:xe1:q4:ping1:t2:zz1:y1:qe")),
    DhtError,
  );
  assertEquals((e as DhtError).transactionId, bytes("zz"));
  // Unknown keys are ignored; unsorted keys accepted (some clients send them).
  const msg = decodeMessage(
    bytes("d1:y1:q1:t2:aa1:q4:ping1:ad2:id20:abcdefghij01234567891:zi1eee"),
  );
  assertEquals(msg, { type: "query", t: T, query: { method: "ping", id: A } });
});

function mutate(r: () => number, input: Uint8Array): Uint8Array {
  const out = [...input];
  const edits = 1 + randomInt(r, 4);
  for (let i = 0; i < edits; i++) {
    const at = randomInt(r, out.length + 1);
    switch (randomInt(r, 5)) {
      case 0:
        out[at] = randomInt(r, 256);
        break;
      case 1:
        out.splice(at, 1);
        break;
      case 2:
        out.splice(at, 0, randomInt(r, 256));
        break;
      case 3:
        out.splice(
          at,
          0,
          ..."0123456789:deil".charAt(randomInt(r, 15)).split("").map((c) => c.charCodeAt(0)),
        );
        break;
      default:
        out.length = Math.min(out.length, at);
    }
  }
  return Uint8Array.from(out.map((b) => b & 0xff));
}

Deno.test("krpc: seeded fuzz only returns messages or throws DhtError", () => {
  const seeds: Uint8Array[] = bep5.map(([w]) => bytes(w));
  seeds.push(encodeMessage({
    type: "response",
    t: new Uint8Array([1, 2]),
    response: {
      id: A,
      nodes: [{ id: M, host: "1.2.3.4", port: 5 }],
      nodes6: [{ id: A, host: "::1", port: 6 }],
      token: new Uint8Array(4),
      values: [{ host: "::2", port: 7 }],
    },
    ip: { host: "9.9.9.9", port: 9 },
  }));
  const r = mulberry32(0xd47);
  let decoded = 0;
  for (let i = 0; i < 20_000; i++) {
    let input: Uint8Array;
    if (i % 10 === 0) {
      input = new Uint8Array(randomInt(r, 64));
      for (let j = 0; j < input.length; j++) input[j] = randomInt(r, 256);
    } else {
      input = mutate(r, seeds[randomInt(r, seeds.length)]);
    }
    try {
      const msg = decodeMessage(input);
      decoded++;
      // Whatever decodes must encode again.
      encodeMessage(msg);
    } catch (e) {
      assert(
        e instanceof DhtError,
        `case ${i}: ${e instanceof Error ? e.name + ": " + e.message : e}`,
      );
    }
  }
  assert(decoded > 100, `some mutants stay valid (${decoded})`);
});
