/** Piece hashes of files on disk, on worker threads and on this one, against hashing in memory. */
import { concatBytes, FileHashingError, fileMerkle, hashFiles, sha1 } from "../../src/util/mod.ts";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { mulberry32, randomInt, xorshiftBytes } from "../random.ts";

/** SHA-1 of every `pieceLength` bytes of `data`, concatenated. */
function expected(data: Uint8Array, pieceLength: number): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.length / pieceLength) * 20);
  for (let at = 0, p = 0; at < data.length; at += pieceLength, p++) {
    out.set(sha1(data.subarray(at, at + pieceLength)), p * 20);
  }
  return out;
}

/**
 * The v1 half of a hybrid: the SHA-1s over the files padded with zeros to whole pieces, the
 * last one too when `whole`.
 */
function alignedPieces(parts: Uint8Array[], pieceLength: number, whole: boolean): Uint8Array {
  const chunks = parts.filter((p) => p.length > 0).map((p, i, all) => {
    const last = i === all.length - 1 && !whole;
    const padded = new Uint8Array(
      last ? p.length : Math.ceil(p.length / pieceLength) * pieceLength,
    );
    padded.set(p);
    return padded;
  });
  return expected(concatBytes(...chunks), pieceLength);
}

/** Writes `parts` as files f0, f1, ... in `dir`. */
async function writeParts(
  dir: string,
  parts: Uint8Array[],
): Promise<{ path: string; length: number }[]> {
  const files: { path: string; length: number }[] = [];
  for (const [i, part] of parts.entries()) {
    await Deno.writeFile(`${dir}/f${i}`, part);
    files.push({ path: `${dir}/f${i}`, length: part.length });
  }
  return files;
}

Deno.test("hashFiles: files of odd sizes, empty ones among them, hash as one stream, by any number of workers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt-hash-" });
  try {
    // Pieces cross files; with workers the runs (shorter as the pieces run out) hold several
    // files each, and a file spans runs.
    const sizes = [5 * 1024 * 1024 + 3, 0, 1, 700_001, 3 * 1024 * 1024 - 5, 0, 16_383];
    const parts = sizes.map((n, i) => xorshiftBytes(n, i + 1));
    const files = await writeParts(dir, parts);
    const all = concatBytes(...parts);
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
    const files = await writeParts(dir, parts);
    for (const pieceLength of [16384, 262144]) {
      const trees = parts.map((p) => p.length > 0 ? fileMerkle(p, pieceLength) : undefined);
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
          assertEquals(
            hybrid.pieces,
            alignedPieces(parts, pieceLength, whole),
            `hybrid pieces, whole ${whole}, ${where}`,
          );
        }
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hashFiles: random sets of files hash as in memory, by any number of threads", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt-hash-" });
  try {
    const random = mulberry32(52);
    for (let round = 0; round < 24; round++) {
      const pieceLength = [16384, 32768, 65536, 262144][randomInt(random, 4)];
      // Empty files, files of a byte, files ending on or beside a piece, files of megabytes.
      const size = () => {
        switch (randomInt(random, 5)) {
          case 0:
            return randomInt(random, 3) === 0 ? 0 : 1;
          case 1:
            return pieceLength * (1 + randomInt(random, 4)) + randomInt(random, 3) - 1;
          default:
            return randomInt(random, 3 * 1024 * 1024);
        }
      };
      const parts = Array.from(
        { length: 1 + randomInt(random, 10) },
        (_, i) => xorshiftBytes(size(), round * 100 + i + 1),
      );
      if (parts.every((p) => p.length === 0)) parts.push(xorshiftBytes(1, round));
      const version = (["v1", "v2", "hybrid"] as const)[randomInt(random, 3)];
      const workers = randomInt(random, 4);
      const wholeLastPiece = randomInt(random, 2) === 1;
      const where = `round ${round}: ${version}, ${parts.length} files, piece ${pieceLength}, ` +
        `${workers} workers`;
      const got = await hashFiles(await writeParts(dir, parts), pieceLength, {
        version,
        workers,
        wholeLastPiece,
      });
      if (version === "v1") {
        assertEquals(got.pieces, expected(concatBytes(...parts), pieceLength), where);
      } else {
        const trees = parts.map((p) => p.length > 0 ? fileMerkle(p, pieceLength) : undefined);
        assertEquals(got.merkle, trees, where);
        const pieces = version === "hybrid"
          ? alignedPieces(parts, pieceLength, wholeLastPiece)
          : undefined;
        assertEquals(got.pieces, pieces, where);
      }
      for (const entry of Deno.readDirSync(dir)) Deno.removeSync(`${dir}/${entry.name}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
