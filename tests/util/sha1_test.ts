import { createHash } from "node:crypto";
import {
  pieceLengthAt,
  sha1,
  sha1Backend,
  sha1Matches,
  Sha1Pieces,
  toHex,
} from "../../src/util/mod.ts";
import { assert, assertEquals } from "../assert.ts";
import { mulberry32, randomInt } from "../random.ts";

const reference = (data: Uint8Array) => new Uint8Array(createHash("sha1").update(data).digest());

Deno.test("sha1: known digests, of one chunk and of several", () => {
  const text = new TextEncoder().encode("The quick brown fox jumps over the lazy dog");
  assertEquals(toHex(sha1(text)), "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12");
  assertEquals(toHex(sha1(new Uint8Array(0))), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  assertEquals(toHex(sha1(text.subarray(0, 10), text.subarray(10))), toHex(sha1(text)));
  assertEquals(toHex(sha1()), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
});

Deno.test("sha1: agrees with node:crypto on random views, shared memory included", () => {
  const rand = mulberry32(41);
  const memory = new Uint8Array(new SharedArrayBuffer(300_000));
  for (let i = 0; i < memory.length; i++) memory[i] = randomInt(rand, 256);
  for (let round = 0; round < 200; round++) {
    const start = randomInt(rand, 1000);
    const data = memory.subarray(start, start + randomInt(rand, memory.length - start));
    assertEquals(sha1(data), reference(data), `view ${start}+${data.length}`);
  }
});

Deno.test("sha1: a returned digest is the caller's, not overwritten by the next hash", () => {
  const a = sha1(new Uint8Array([1]));
  const copy = a.slice();
  sha1(new Uint8Array([2]));
  assertEquals(a, copy);
});

Deno.test("sha1Matches: compares with the entry at an offset, and refuses one out of range", () => {
  const pieces = [new Uint8Array(16384).fill(1), new Uint8Array(1000).fill(2)];
  const hashes = new Uint8Array(40);
  pieces.forEach((p, i) => hashes.set(reference(p), i * 20));
  assert(sha1Matches(pieces[0], hashes, 0));
  assert(sha1Matches(pieces[1], hashes, 20));
  assert(!sha1Matches(pieces[1], hashes, 0));
  assert(!sha1Matches(pieces[0], hashes, 40));
  assert(!sha1Matches(pieces[0], hashes, -20));
  const flipped = pieces[1].slice();
  flipped[999] ^= 1;
  assert(!sha1Matches(flipped, hashes, 20));
});

Deno.test("sha1Backend: OpenSSL through FFI on Linux where libcrypto is installed", () => {
  const libcrypto = [
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
  ]
    .some((dir) => {
      try {
        return Deno.statSync(`${dir}/libcrypto.so.3`).isFile;
      } catch {
        return false;
      }
    });
  if (Deno.build.os !== "linux" || !libcrypto) {
    return console.log("skipped: no libcrypto.so.3 here; node:crypto hashes");
  }
  assertEquals(sha1Backend(), "openssl");
});

Deno.test("sha1: without --allow-ffi, node:crypto hashes and the digests are the same", async () => {
  const module = new URL("../../src/util/sha1.ts", import.meta.url).href;
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      script,
      `import { sha1, sha1Backend, toHex } from "${module}";
      console.log(sha1Backend(), toHex(sha1(new TextEncoder().encode("abc"))));`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    assertEquals(
      new TextDecoder().decode(out.stdout).trim(),
      "node:crypto a9993e364706816aba3e25717850c26c9cd0d89d",
    );
  } finally {
    await Deno.remove(script);
  }
});

Deno.test("Sha1Pieces and pieceLengthAt: a v1 table checks each piece; the last piece is short", () => {
  const data = new Uint8Array(40_000).map((_, i) => i % 251);
  const g = { pieceLength: 16384, pieceCount: 3, totalLength: data.length };
  const table = new Uint8Array(60);
  for (let i = 0; i < 3; i++) {
    table.set(sha1(data.subarray(i * 16384, i * 16384 + pieceLengthAt(g, i))), i * 20);
  }
  const hashes = new Sha1Pieces(table);
  assertEquals([pieceLengthAt(g, 0), pieceLengthAt(g, 2)], [16384, 40_000 - 32768]);
  assertEquals(hashes.count, 3);
  assert(hashes.verify(2, data.subarray(32768)));
  assert(!hashes.verify(1, data.subarray(32768)), "another piece's bytes");
  assert(!hashes.verify(3, data.subarray(32768)), "no such piece");
});
