/** Piece hashes of files on disk, on worker threads and on this one, against hashing in memory. */
import { FileHashingError, fileMerkle, hashFiles, sha1 } from "../../src/util/mod.ts";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { xorshiftBytes } from "../random.ts";

/** SHA-1 of every `pieceLength` bytes of `data`, concatenated. */
function expected(data: Uint8Array, pieceLength: number): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.length / pieceLength) * 20);
  for (let at = 0, p = 0; at < data.length; at += pieceLength, p++) {
    out.set(sha1(data.subarray(at, at + pieceLength)), p * 20);
  }
  return out;
}

Deno.test("hashFiles: files of odd sizes, empty ones among them, hash as one stream, by any number of workers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt-hash-" });
  try {
    // Pieces cross files; a task of 4 MiB holds several files and a file spans tasks.
    const sizes = [5 * 1024 * 1024 + 3, 0, 1, 700_001, 3 * 1024 * 1024 - 5, 0, 16_383];
    const parts = sizes.map((n, i) => xorshiftBytes(n, i + 1));
    const files: { path: string; length: number }[] = [];
    for (let i = 0; i < parts.length; i++) {
      await Deno.writeFile(`${dir}/f${i}`, parts[i]);
      files.push({ path: `${dir}/f${i}`, length: sizes[i] });
    }
    const all = new Uint8Array(sizes.reduce((a, b) => a + b, 0));
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    for (const pieceLength of [16384, 262144, 4 * 1024 * 1024, 8 * 1024 * 1024]) {
      const want = expected(all, pieceLength);
      for (const workers of [0, 1, 2]) {
        const seen: number[] = [];
        const got = await hashFiles(files, pieceLength, {
          workers,
          onProgress: (done, total) => {
            assertEquals(total, all.length);
            seen.push(done);
          },
        });
        assertEquals(got.pieces, want, `piece ${pieceLength}, ${workers} workers`);
        assert(!(got.pieces!.buffer instanceof SharedArrayBuffer), "hashes out of shared memory");
        assertEquals(got.merkle, undefined, "v1 only");
        assertEquals(seen.at(-1), all.length, "progress reaches the total");
        assert(seen.every((d, i) => i === 0 || d > seen[i - 1]), "progress only grows");
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hashFiles: a missing file or one shorter than said is a FileHashingError naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt-hash-" });
  try {
    await Deno.writeFile(`${dir}/short`, new Uint8Array(1000));
    for (const workers of [0, 1]) {
      await assertRejects(
        () => hashFiles([{ path: `${dir}/short`, length: 2000 }], 16384, { workers }),
        FileHashingError,
        `${dir}/short changed while hashing`,
      );
      await assertRejects(
        () => hashFiles([{ path: `${dir}/gone`, length: 10 }], 16384, { workers }),
        FileHashingError,
        `cannot read ${dir}/gone: no such file or folder`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hashFiles: a file gone from the middle of a large payload fails it with its error, whichever thread reads it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt-hash-" });
  try {
    const files: { path: string; length: number }[] = [];
    for (let i = 0; i < 10; i++) {
      const path = `${dir}/${i === 5 ? "gone" : `f${i}`}`;
      if (i !== 5) await Deno.writeFile(path, new Uint8Array(2 << 20).fill(i));
      files.push({ path, length: 2 << 20 });
    }
    for (const workers of [1, 2, 3]) {
      for (const version of ["v1", "hybrid"] as const) {
        await assertRejects(
          () => hashFiles(files, 16384, { workers, version }),
          FileHashingError,
          `cannot read ${dir}/gone: no such file or folder`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hashFiles v2 and hybrid: each file's tree, and SHA-1s over the files aligned by pads", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt-hash-" });
  try {
    // Several tasks in one file, files of one piece or less, an empty one among them.
    const sizes = [9 * 1024 * 1024 + 5, 0, 1, 40_000, 262_144, 700_001];
    const parts = sizes.map((n, i) => xorshiftBytes(n, i + 20));
    const files: { path: string; length: number }[] = [];
    for (let i = 0; i < parts.length; i++) {
      await Deno.writeFile(`${dir}/f${i}`, parts[i]);
      files.push({ path: `${dir}/f${i}`, length: sizes[i] });
    }
    for (const pieceLength of [16384, 262144]) {
      const trees = parts.map((p) => p.length > 0 ? fileMerkle(p, pieceLength) : undefined);
      // The v1 half of a hybrid: every file padded with zeros to a whole piece.
      const aligned = (whole: boolean) => {
        const chunks = parts.filter((p) => p.length > 0).map((p, i, all) => {
          const last = i === all.length - 1 && !whole;
          const size = last ? p.length : Math.ceil(p.length / pieceLength) * pieceLength;
          const padded = new Uint8Array(size);
          padded.set(p);
          return padded;
        });
        const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
        let at = 0;
        for (const c of chunks) {
          all.set(c, at);
          at += c.length;
        }
        return expected(all, pieceLength);
      };
      for (const workers of [0, 2]) {
        const where = `piece ${pieceLength}, ${workers} workers`;
        const v2 = await hashFiles(files, pieceLength, { version: "v2", workers });
        assertEquals(v2.pieces, undefined, where);
        assertEquals(v2.merkle, trees, `v2 trees, ${where}`);
        for (const whole of [true, false]) {
          const hybrid = await hashFiles(files, pieceLength, {
            version: "hybrid",
            wholeLastPiece: whole,
            workers,
          });
          assertEquals(hybrid.merkle, trees, `hybrid trees, ${where}`);
          const layers = hybrid.merkle!.flatMap((t) =>
            t?.layer ? [t.root, t.layer] : t ? [t.root] : []
          );
          assert(
            layers.every((b) => !(b.buffer instanceof SharedArrayBuffer)),
            "out of shared memory",
          );
          assertEquals(hybrid.pieces, aligned(whole), `hybrid pieces, whole ${whole}, ${where}`);
        }
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
