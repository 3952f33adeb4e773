import { createHash } from "node:crypto";
import { digestBackend, sha1, sha1Matches, sha256, sha256Into, toHex } from "../../src/util/mod.ts";
import { assert, assertEquals } from "../assert.ts";
import { mulberry32, randomInt } from "../random.ts";

const reference = (data: Uint8Array, name = "sha1") =>
  new Uint8Array(createHash(name).update(data).digest());

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

Deno.test("sha256: known digests, agreement with node:crypto, and sha256Into's placement", () => {
  assertEquals(
    toHex(sha256(new TextEncoder().encode("abc"))),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assertEquals(
    toHex(sha256()),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  const rand = mulberry32(7);
  for (let round = 0; round < 100; round++) {
    const data = new Uint8Array(randomInt(rand, 40_000)).map(() => randomInt(rand, 256));
    const cut = randomInt(rand, data.length + 1);
    assertEquals(sha256(data.subarray(0, cut), data.subarray(cut)), reference(data, "sha256"));
    const out = new Uint8Array(96).fill(7);
    sha256Into(data, out, 32);
    assertEquals(out.subarray(32, 64), reference(data, "sha256"));
    assertEquals([out[31], out[64]], [7, 7], "bytes beside the digest untouched");
  }
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

Deno.test("digestBackend: OpenSSL through FFI on Linux where libcrypto is installed", () => {
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
  assertEquals(digestBackend(), "openssl");
});

Deno.test("digests: without --allow-ffi, node:crypto hashes and the digests are the same", async () => {
  const module = new URL("../../src/util/digest.ts", import.meta.url).href;
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      script,
      `import { digestBackend, sha1, sha256 } from "${module}";
      const abc = new TextEncoder().encode("abc");
      const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
      console.log(digestBackend(), hex(sha1(abc)), hex(sha256(abc)).slice(0, 16));`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    assertEquals(
      new TextDecoder().decode(out.stdout).trim(),
      "node:crypto a9993e364706816aba3e25717850c26c9cd0d89d ba7816bf8f01cfea",
    );
  } finally {
    await Deno.remove(script);
  }
});
