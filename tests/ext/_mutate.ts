/**
 * Byte-level mutations for the seeded fuzz tests of the extension codecs.
 *
 * @module
 */
import { concatBytes } from "../../src/util/mod.ts";
import { type Random, randomInt } from "../random.ts";

const INTERESTING = new TextEncoder().encode("deil:-0123456789");

/** A mutated copy of `input`: bit flips, bencode-ish bytes, inserts, deletes, splices, cuts. */
export function mutate(input: Uint8Array, r: Random): Uint8Array {
  let out: Uint8Array = input.slice();
  for (let round = 1 + randomInt(r, 4); round > 0; round--) {
    const at = randomInt(r, out.length + 1);
    switch (randomInt(r, 7)) {
      case 0:
        if (out.length > 0) out[randomInt(r, out.length)] ^= 1 << randomInt(r, 8);
        break;
      case 1:
        if (out.length > 0) out[randomInt(r, out.length)] = INTERESTING[randomInt(r, 16)];
        break;
      case 2: {
        const ins = new Uint8Array(1 + randomInt(r, 8)).map(() => INTERESTING[randomInt(r, 16)]);
        out = concat(out.subarray(0, at), ins, out.subarray(at));
        break;
      }
      case 3:
        out = concat(
          out.subarray(0, at),
          out.subarray(Math.min(out.length, at + 1 + randomInt(r, 8))),
        );
        break;
      case 4:
        out = out.subarray(0, at).slice();
        break;
      case 5: {
        const from = randomInt(r, out.length + 1);
        const len = randomInt(r, 32);
        out = concat(out.subarray(0, at), out.subarray(from, from + len), out.subarray(at));
        break;
      }
      default:
        if (out.length > 0) out[randomInt(r, out.length)] = randomInt(r, 256);
    }
  }
  return out;
}

/** The bytes of all parts, in order. */
export const concat = concatBytes;

/** Random bytes of length `n`. */
export function randomBytes(r: Random, n: number): Uint8Array {
  return new Uint8Array(n).map(() => randomInt(r, 256));
}
