import { fromHex, Rc4, toHex } from "../../src/util/mod.ts";
import { assertEquals, assertThrows } from "../assert.ts";
import { mulberry32, randomInt } from "../random.ts";

/** The keystream of `key` from byte `offset`, `length` bytes long. */
function keystream(key: string, offset: number, length: number): string {
  const rc4 = new Rc4(fromHex(key));
  rc4.discard(offset);
  const out = new Uint8Array(length);
  rc4.process(out);
  return toHex(out);
}

Deno.test("rc4: RFC 6229 keystreams, at the start and after the 1024 bytes MSE drops", () => {
  assertEquals(keystream("0102030405", 0, 16), "b2396305f03dc027ccc3524a0a1118a8");
  assertEquals(keystream("0102030405", 1024, 16), "30abbcc7c20b01609f23ee2d5f6bb7df");
  const key256 = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";
  assertEquals(keystream(key256, 0, 16), "eaa6bd25880bf93d3f5d1e4ca2611d91");
  assertEquals(keystream(key256, 1024, 16), "7fec5bfd9f9b89ce6548309092d7e958");
});

Deno.test("rc4: the classic 'Key'/'Plaintext' vector, and decryption undoes encryption", () => {
  const text = new TextEncoder().encode("Plaintext");
  new Rc4(new TextEncoder().encode("Key")).process(text);
  assertEquals(toHex(text), "bbf316e8d940af0ad3");
  new Rc4(new TextEncoder().encode("Key")).process(text);
  assertEquals(new TextDecoder().decode(text), "Plaintext");
});

Deno.test("rc4: a stream cut into random pieces, in place or into another buffer, is one stream", () => {
  const rand = mulberry32(6229);
  const key = new Uint8Array(20).map(() => randomInt(rand, 256));
  const data = new Uint8Array(100_000).map(() => randomInt(rand, 256));
  const whole = data.slice();
  new Rc4(key).process(whole);
  const pieces = data.slice();
  const out = new Uint8Array(data.length);
  const rc4 = new Rc4(key);
  for (let at = 0; at < data.length;) {
    const n = Math.min(data.length - at, randomInt(rand, 5000));
    if (n % 2 === 0) rc4.process(pieces.subarray(at, at + n));
    else {
      rc4.process(pieces.subarray(at, at + n), out.subarray(at, at + n));
      pieces.set(out.subarray(at, at + n), at);
    }
    at += n;
  }
  assertEquals(pieces, whole);
});

Deno.test("rc4: keys of no bytes or more than 256 are refused", () => {
  assertThrows(() => new Rc4(new Uint8Array(0)), RangeError);
  assertThrows(() => new Rc4(new Uint8Array(257)), RangeError);
});
