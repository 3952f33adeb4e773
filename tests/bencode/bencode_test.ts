import {
  type BencodeDict,
  BencodeError,
  type BencodeValue,
  decode,
  decodePrefix,
  decodeText,
  decodeWithSpans,
  type Encodable,
  encode,
  getBytes,
  getDict,
  getInt,
  getList,
  getText,
  isDict,
} from "../../src/bencode/mod.ts";
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { mulberry32 as rng } from "../random.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const b = (s: string) => te.encode(s);
/** Bytes of a latin-1 string (one byte per char), for inputs with non-ASCII bytes. */
const raw = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

function rejects(input: string | Uint8Array, includes?: string): void {
  const bytes = typeof input === "string" ? b(input) : input;
  assertThrows(() => decode(bytes), BencodeError, includes);
}

Deno.test("decodes integers, strings, lists and dictionaries", () => {
  assertEquals(decode(b("i0e")), 0);
  assertEquals(decode(b("i42e")), 42);
  assertEquals(decode(b("i-7e")), -7);
  assertEquals(decode(b("0:")), new Uint8Array());
  assertEquals(decode(b("4:spam")), b("spam"));
  assertEquals(decode(b("le")), []);
  assertEquals(decode(b("l4:spami3ee")), [b("spam"), 3]);
  assertEquals(decode(b("de")), new Map());
  const d = decode(b("d3:cow3:moo4:spaml1:a1:bee"));
  assert(isDict(d));
  assertEquals(d.get("cow"), b("moo"));
  assertEquals(d.get("spam"), [b("a"), b("b")]);
});

Deno.test("strings are bytes: binary content and non-UTF-8 keys survive", () => {
  const input = raw("d3:\x00\x01\x02i2e2:\xff\x00l3:\xfe\x00\x80ee");
  const d = decode(input) as BencodeDict;
  assertEquals([...d.keys()], ["\x00\x01\x02", "\xff\x00"]);
  assertEquals(d.get("\xff\x00"), [raw("\xfe\x00\x80")]);
  assertEquals(encode(d), input);
});

Deno.test("rejects leading zeros, negative zero and empty integers", () => {
  rejects("i03e", "leading zero");
  rejects("i-03e", "leading zero");
  rejects("i00e", "leading zero");
  rejects("03:abc", "leading zero");
  rejects("00:", "leading zero");
  rejects("i-0e", "negative zero");
  rejects("i-e", "empty number");
  rejects("ie", "empty number");
  rejects(":", "unexpected byte");
});

Deno.test("rejects malformed numbers", () => {
  rejects("i1.5e", "malformed");
  rejects("i+1e", "malformed");
  rejects("i 1e", "malformed");
  rejects("i1 e", "malformed");
  rejects("i--1e", "malformed");
  rejects("-1:a", "unexpected byte 0x2d");
  rejects("3-:abc");
  rejects("i1x", "malformed");
});

Deno.test("rejects truncated input", () => {
  for (const s of ["", "i", "i1", "i-", "4", "4:", "4:spa", "l", "li1e", "d", "d1:a", "d1:ai1e"]) {
    rejects(s);
  }
  rejects("4:spa", "runs past end");
  rejects("li1e", "unterminated list");
  rejects("d1:ai1e", "unterminated dictionary");
});

Deno.test("rejects trailing garbage and stray bytes", () => {
  rejects("i1eX", "trailing bytes");
  rejects("dei0e", "trailing bytes");
  rejects("4:spame", "trailing bytes");
  rejects("x", "unexpected byte 0x78");
  rejects("lxe", "unexpected byte");
  rejects("e", "unexpected byte 0x65");
});

Deno.test("rejects unsorted, duplicate and non-string dictionary keys", () => {
  rejects("d1:bi1e1:ai2ee", "not sorted");
  rejects("d1:ai1e1:ai2ee", "duplicated");
  rejects("d2:abi1e1:ai2ee", "not sorted"); // "ab" > "a": a prefix sorts first
  rejects("di1ei2ee", "key is not a string");
  rejects("dli1eei2ee", "key is not a string");
  rejects("d1:a", "unexpected end");
  rejects("d1:ae", "unexpected byte 0x65"); // key without value
  // Keys compare as raw bytes, not as text.
  assert(isDict(decode(raw("d1:Zi1e1:ai2e1:\xe9i3ee"))));
});

Deno.test("allowUnsortedKeys accepts any order but still refuses duplicates", () => {
  const d = decode(b("d1:bi1e1:ai2ee"), { allowUnsortedKeys: true }) as BencodeDict;
  assertEquals(d.get("a"), 2);
  assertEquals(d.get("b"), 1);
  assertThrows(
    () => decode(b("d1:bi1e1:ai2e1:bi3ee"), { allowUnsortedKeys: true }),
    BencodeError,
    "duplicate dictionary key",
  );
  assertThrows(() => decode(b("d1:ai1e1:ai2ee"), { allowUnsortedKeys: true }), BencodeError);
});

Deno.test("caps nesting depth (default 64) and item count", () => {
  const nest = (n: number) => "l".repeat(n) + "e".repeat(n);
  decode(b(nest(64)));
  rejects(nest(65), "nesting too deep");
  rejects(nest(100_000), "nesting too deep");
  rejects("d1:a" + "d1:a".repeat(70) + "i1e" + "e".repeat(71), "nesting too deep");
  decode(b(nest(5)), { maxDepth: 5 });
  assertThrows(() => decode(b(nest(6)), { maxDepth: 5 }), BencodeError, "nesting too deep");
  const many = "l" + "i1e".repeat(100) + "e";
  decode(b(many), { maxItems: 101 });
  assertThrows(() => decode(b(many), { maxItems: 100 }), BencodeError, "too many items");
});

Deno.test("huge string length claims fail fast without allocating", () => {
  rejects("999999999999:abc", "runs past end");
  rejects("9007199254740993:", "string length too long");
  rejects("99999999999999999999999999:x", "string length too long");
  rejects("l999999999999:e", "runs past end");
  rejects("i" + "9".repeat(65) + "e", "integer too long");
});

Deno.test("integers beyond 2^53 decode as bigint", () => {
  assertEquals(decode(b("i9007199254740991e")), 9007199254740991);
  assertEquals(decode(b("i-9007199254740991e")), -9007199254740991);
  assertEquals(decode(b("i9007199254740992e")), 9007199254740992n);
  assertEquals(decode(b("i-9007199254740993e")), -9007199254740993n);
  assertEquals(decode(b("i123456789012345678901234567890e")), 123456789012345678901234567890n);
  assertEquals(td.decode(encode(2n ** 70n)), `i${2n ** 70n}e`);
  assertEquals(getInt(decode(b("d1:ai9007199254740992ee")), "a"), undefined);
});

Deno.test("encode: sorted keys, UTF-8 strings, skipped undefined, refuses non-integers", () => {
  assertEquals(td.decode(encode({ b: 1, a: "x", c: undefined })), "d1:a1:x1:bi1ee");
  assertEquals(
    td.decode(encode(new Map<string, Encodable>([["z", 1], ["y", [2, "é"]]]))),
    "d1:yli2e2:\u00e9e1:zi1ee",
  );
  assertEquals(encode("é"), b("2:é"));
  assertEquals(td.decode(encode(-0)), "i0e");
  assertThrows(() => encode(1.5), BencodeError, "not an integer");
  assertThrows(() => encode(NaN), BencodeError, "not an integer");
  assertThrows(() => encode(2 ** 60), BencodeError, "not an integer");
});

Deno.test("round trip: canonical documents re-encode byte for byte", () => {
  for (
    const s of [
      "i0e",
      "i-1e",
      "0:",
      "le",
      "de",
      "d4:infod6:lengthi425e4:name4:temp12:piece lengthi16384e6:pieces0:ee",
      "ld1:ai1e1:bli2ei3eee3:xyze",
      "d8:announce20:http://a.example/ann4:infod4:name1:xee",
    ]
  ) {
    assertEquals(td.decode(encode(decode(b(s)))), s);
  }
});

Deno.test("decodeWithSpans reports the exact bytes of top-level values", () => {
  const doc = "d8:announce3:abc4:infod4:name1:x6:nestedd4:infoi1eee5:zzzzzi7ee";
  const bytes = b(doc);
  const { value, spans } = decodeWithSpans(bytes);
  assert(isDict(value));
  const info = spans.get("info")!;
  assertEquals(td.decode(bytes.subarray(info.start, info.end)), "d4:name1:x6:nestedd4:infoi1eee");
  assertEquals(
    td.decode(bytes.subarray(spans.get("announce")!.start, spans.get("announce")!.end)),
    "3:abc",
  );
  assertEquals(spans.get("zzzzz"), { start: doc.length - 4, end: doc.length - 1 });
  assertEquals(spans.size, 3); // nested dictionaries do not add spans
  assertEquals(decodeWithSpans(b("ld4:infoi1eee")).spans.size, 0);
  // Unsorted mode still reports spans over the raw bytes.
  const loose = b("d4:infod1:bi1e1:ai2ee1:ai0ee");
  const r = decodeWithSpans(loose, { allowUnsortedKeys: true });
  const s = r.spans.get("info")!;
  assertEquals(td.decode(loose.subarray(s.start, s.end)), "d1:bi1e1:ai2ee");
});

Deno.test("decodePrefix returns the value and where it ended", () => {
  assertEquals(decodePrefix(b("d1:ai1eeRAW")), { value: new Map([["a", 1]]), end: 8 });
  assertEquals(decodePrefix(b("i5e")).end, 3);
  assertThrows(() => decodePrefix(b("d1:a")), BencodeError);
});

Deno.test("accessors return undefined for missing keys and other types", () => {
  const d = decode(raw("d1:dd1:xi1ee1:i1:51:ll1:ae1:s3:abc1:u2:\xc3\x28e"));
  assertEquals(getDict(d, "d")?.get("x"), 1);
  assertEquals(getDict(d, "s"), undefined);
  assertEquals(getList(d, "l"), [b("a")]);
  assertEquals(getList(d, "d"), undefined);
  assertEquals(getBytes(d, "s"), b("abc"));
  assertEquals(getBytes(d, "missing"), undefined);
  assertEquals(getInt(d, "i"), undefined); // "5" is a string, not an integer
  assertEquals(getText(d, "s"), "abc");
  assertEquals(getText(undefined, "s"), undefined);
  assertEquals(getText(d, "u"), undefined); // invalid UTF-8
  assertEquals(getText(b("x") as BencodeValue, "s"), undefined);
  assertEquals(decodeText(raw("\xc3\x28")), undefined);
  assertEquals(decodeText(raw("\xc3\xa9")), "é");
  assert(!isDict([]));
});

// ---------------------------------------------------------------------------------------------
// Seeded fuzzing

function randomValue(r: () => number, depth: number): BencodeValue {
  const k = r();
  if (depth > 4 || k < 0.3) {
    const n = Math.floor(r() * 2 ** (r() * 52)) * (r() < 0.2 ? -1 : 1);
    return r() < 0.05 ? (BigInt(Math.floor(r() * 1e6)) + 1n) * 10n ** 20n : n === 0 ? 0 : n;
  }
  if (k < 0.6) return Uint8Array.from({ length: Math.floor(r() * 12) }, () => r() * 256);
  if (k < 0.8) {
    return Array.from({ length: Math.floor(r() * 5) }, () => randomValue(r, depth + 1));
  }
  const m: BencodeDict = new Map();
  for (let i = Math.floor(r() * 5); i > 0; i--) {
    const key = String.fromCharCode(
      ...Array.from({ length: Math.floor(r() * 4) }, () => r() * 256),
    );
    m.set(key, randomValue(r, depth + 1));
  }
  return m;
}

const INTERESTING = b("deil:-0123456789");

function mutate(input: Uint8Array, r: () => number, others: Uint8Array[]): Uint8Array {
  const pick = (n: number) => Math.floor(r() * n);
  let out = input.slice();
  for (let round = 1 + pick(3); round > 0; round--) {
    const at = pick(out.length + 1);
    switch (pick(6)) {
      case 0: // bit flip
        if (out.length > 0) out[pick(out.length)] ^= 1 << pick(8);
        break;
      case 1: // structural byte
        if (out.length > 0) out[pick(out.length)] = INTERESTING[pick(INTERESTING.length)];
        break;
      case 2: // truncate
        out = out.slice(0, at);
        break;
      case 3: { // insert random bytes
        const ins = Uint8Array.from(
          { length: 1 + pick(4) },
          () => r() < 0.5 ? INTERESTING[pick(INTERESTING.length)] : pick(256),
        );
        out = new Uint8Array([...out.subarray(0, at), ...ins, ...out.subarray(at)]);
        break;
      }
      case 4: { // splice a slice of another document
        const o = others[pick(others.length)];
        const s = pick(o.length + 1), e = s + pick(o.length - s + 1);
        out = new Uint8Array([...out.subarray(0, at), ...o.subarray(s, e), ...out.subarray(at)]);
        break;
      }
      case 5: { // delete a range
        const e = at + pick(8);
        out = new Uint8Array([...out.subarray(0, at), ...out.subarray(e)]);
        break;
      }
    }
  }
  return out;
}

Deno.test("fuzz: random values round-trip through encode and decode", () => {
  const r = rng(1234);
  for (let i = 0; i < 2000; i++) {
    const v = randomValue(r, 0);
    const bytes = encode(v);
    assertEquals(decode(bytes), v, `seed 1234 case ${i}`);
    assertEquals(encode(decode(bytes)), bytes);
  }
});

Deno.test("fuzz: mutated documents only decode or throw BencodeError", () => {
  const r = rng(0xbeef);
  const seeds = [
    b("d8:announce20:http://a.example/ann4:infod6:lengthi425e4:name4:temp12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee"),
    b("ld1:ai1e1:bli2ei-3eee3:xyzi9007199254740993ee"),
    ...Array.from({ length: 30 }, () => encode(randomValue(r, 0))),
  ];
  let decoded = 0;
  for (let i = 0; i < 20_000; i++) {
    const input = mutate(seeds[i % seeds.length], r, seeds);
    for (const allowUnsortedKeys of [false, true]) {
      let value: BencodeValue;
      try {
        value = decode(input, { allowUnsortedKeys });
      } catch (e) {
        if (!(e instanceof BencodeError)) {
          throw new Error(`case ${i}: ${JSON.stringify(td.decode(input))} threw ${e}`);
        }
        continue;
      }
      decoded++;
      // The strict decoder accepts only canonical bencode, so it must re-encode exactly.
      if (!allowUnsortedKeys) assertEquals(encode(value), input, `case ${i}`);
    }
    try {
      const { spans } = decodeWithSpans(input);
      for (const s of spans.values()) {
        assert(s.start >= 0 && s.start < s.end && s.end <= input.length);
      }
      decodePrefix(input);
    } catch (e) {
      assert(e instanceof BencodeError, `case ${i}: ${e}`);
    }
  }
  assert(
    decoded > 100,
    `only ${decoded} mutations decoded; the fuzzer is not exercising success paths`,
  );
});
