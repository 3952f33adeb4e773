import { assert, assertEquals, assertThrows } from "../assert.ts";
import {
  encodeBitfield,
  encodeBlockAddress,
  encodeExtended,
  encodeHandshake,
  encodeHashMessage,
  encodeIndex,
  encodeKeepAlive,
  encodePieceHeader,
  encodePort,
  encodeSimple,
  type Message,
  MessageId,
  parseHandshake,
  parseMessage,
  ProtocolError,
} from "../../src/peer/mod.ts";

/** Parses a framed message, checking its length prefix. */
function roundTrip(wire: Uint8Array): Message {
  const length = new DataView(wire.buffer, wire.byteOffset).getUint32(0);
  assertEquals(length, wire.length - 4, "length prefix");
  return parseMessage(wire.subarray(4));
}

Deno.test("every message we send parses back to itself", () => {
  assertEquals(roundTrip(encodeKeepAlive()), { type: "keepalive" });
  assertEquals(roundTrip(encodeSimple(MessageId.choke)), { type: "choke" });
  assertEquals(roundTrip(encodeSimple(MessageId.unchoke)), { type: "unchoke" });
  assertEquals(roundTrip(encodeSimple(MessageId.interested)), { type: "interested" });
  assertEquals(roundTrip(encodeSimple(MessageId.notInterested)), { type: "notInterested" });
  assertEquals(roundTrip(encodeSimple(MessageId.haveAll)), { type: "haveAll" });
  assertEquals(roundTrip(encodeSimple(MessageId.haveNone)), { type: "haveNone" });
  assertEquals(roundTrip(encodeIndex(MessageId.have, 0xfffffffe)), {
    type: "have",
    index: 0xfffffffe,
  });
  assertEquals(roundTrip(encodeIndex(MessageId.suggest, 3)), { type: "suggest", index: 3 });
  assertEquals(roundTrip(encodeIndex(MessageId.allowedFast, 4)), { type: "allowedFast", index: 4 });
  for (const [id, type] of [[6, "request"], [8, "cancel"], [16, "reject"]] as const) {
    assertEquals(roundTrip(encodeBlockAddress(id, 7, 16384, 16384)), {
      type,
      index: 7,
      begin: 16384,
      length: 16384,
    });
  }
  assertEquals(roundTrip(encodeBitfield(new Uint8Array([0xf0, 0x01]))), {
    type: "bitfield",
    bits: new Uint8Array([0xf0, 0x01]),
  });
  assertEquals(roundTrip(encodePort(6881)), { type: "port", port: 6881 });
  assertEquals(roundTrip(encodeExtended(2, new Uint8Array([1, 2]))), {
    type: "extended",
    id: 2,
    payload: new Uint8Array([1, 2]),
  });
  const block = new Uint8Array([9, 8, 7]);
  const piece = new Uint8Array([...encodePieceHeader(5, 32768, 3), ...block]);
  assertEquals(roundTrip(piece), { type: "piece", index: 5, begin: 32768, block });
});

Deno.test("wrong payload sizes are protocol errors; unknown ids are tolerated", () => {
  assertThrows(() => parseMessage(new Uint8Array([0, 1])), ProtocolError, "choke");
  assertThrows(() => parseMessage(new Uint8Array([4, 0, 0])), ProtocolError, "have");
  assertThrows(() => parseMessage(new Uint8Array([6, 0, 0, 0, 0])), ProtocolError, "request");
  assertThrows(() => parseMessage(new Uint8Array([7, 0, 0, 0, 0])), ProtocolError, "piece");
  assertThrows(() => parseMessage(new Uint8Array([9, 1])), ProtocolError, "port");
  assertThrows(() => parseMessage(new Uint8Array([20])), ProtocolError, "extended");
  assertEquals(parseMessage(new Uint8Array([99, 1, 2])), { type: "unknown", id: 99 });
});

Deno.test("handshake round trip keeps the reserved bits we use", () => {
  const h = {
    infoHash: new Uint8Array(20).fill(7),
    peerId: new Uint8Array(20).fill(9),
    extensions: true,
    fast: true,
    dht: true,
    v2: true,
  };
  assertEquals(parseHandshake(encodeHandshake(h)), h);
  assertEquals(encodeHandshake(h)[27], 0x15, "v2, fast and DHT share the last reserved byte");
  const wrong = encodeHandshake(h);
  wrong[5] ^= 1;
  assertThrows(() => parseHandshake(wrong), ProtocolError);
  assertThrows(() => parseHandshake(new Uint8Array(10)), ProtocolError);
});

Deno.test("fuzz: random message bodies only parse or throw ProtocolError", () => {
  let x = 12345;
  const next = () => (x = (x * 1103515245 + 12345) >>> 0) >>> 8;
  for (let i = 0; i < 20_000; i++) {
    const body = new Uint8Array(next() % 24);
    for (let j = 0; j < body.length; j++) body[j] = next() & 0xff;
    if (body.length > 0 && next() % 2 === 0) body[0] = next() % 21;
    try {
      const m = parseMessage(body);
      assert(typeof m.type === "string");
    } catch (e) {
      assert(e instanceof ProtocolError, `unexpected ${e}`);
    }
  }
});

Deno.test("hash request, hashes and hash reject (BEP 52) round trip; malformed ones are refused", () => {
  const request = {
    root: new Uint8Array(32).map((_, i) => i),
    baseLayer: 3,
    index: 512,
    length: 512,
    proofLayers: 9,
  };
  for (const [id, type] of [[21, "hashRequest"], [23, "hashReject"]] as const) {
    const wire = encodeHashMessage(id, request);
    assertEquals(wire.length, 4 + 1 + 48);
    assertEquals(parseMessage(wire.subarray(4)), { type, request });
  }
  const hashes = new Uint8Array(96).fill(5);
  const wire = encodeHashMessage(MessageId.hashes, request, hashes);
  assertEquals(parseMessage(wire.subarray(4)), { type: "hashes", request, hashes });
  assertThrows(() => parseMessage(wire.subarray(4, -1)), ProtocolError, "32-byte hashes");
  assertThrows(() => parseMessage(new Uint8Array([21, 1, 2])), ProtocolError, "hash request");
  assertThrows(() => parseMessage(new Uint8Array([22, 1])), ProtocolError, "hashes message");
});
