/**
 * Properties every parsed torrent must have, whatever the input: shared by the corpus and fuzz
 * tests.
 *
 * @module
 */
import { joinInside, sanitizePathComponent, type Torrent } from "../../src/metainfo/mod.ts";
import { bytesEqual, sha1, toHex } from "../../src/util/mod.ts";
import { assert, assertEquals } from "../assert.ts";

/** Fails unless `t` is internally consistent and every file stays inside the output folder. */
export function assertTorrentInvariants(t: Torrent, label = ""): void {
  const where = label ? `${label}: ` : "";
  assert(bytesEqual(t.infoHash, sha1(t.infoBytes)), `${where}info-hash is not SHA-1 of infoBytes`);
  assertEquals(t.infoHashHex, toHex(t.infoHash), `${where}infoHashHex`);
  assert(Number.isSafeInteger(t.pieceLength) && t.pieceLength > 0, `${where}piece length`);
  assertEquals(t.pieceHashes.length, t.pieceCount * 20, `${where}piece hashes length`);
  assert(t.totalLength > 0 && Number.isSafeInteger(t.totalLength), `${where}total length`);
  assertEquals(t.pieceCount, Math.ceil(t.totalLength / t.pieceLength), `${where}piece count`);
  assert(t.name !== "" && sanitizePathComponent(t.name) === t.name, `${where}name not sanitised`);
  assert(t.files.length > 0, `${where}no files`);
  if (!t.multiFile) assertEquals(t.files.length, 1, `${where}single-file layout`);

  let offset = 0;
  const seen = new Set<string>();
  for (const f of t.files) {
    assertEquals(f.offset, offset, `${where}file offsets must be contiguous`);
    assert(Number.isSafeInteger(f.length) && f.length >= 0, `${where}file length`);
    offset += f.length;
    assertEquals(f.path[0], t.name, `${where}paths start with the torrent name`);
    assert(f.path.length >= (t.multiFile ? 2 : 1), `${where}path too short`);
    for (const c of f.path) {
      assert(
        c !== "" && sanitizePathComponent(c) === c,
        `${where}unsanitised ${JSON.stringify(c)}`,
      );
    }
    const joined = joinInside("/out", f.path);
    assert(joined.startsWith("/out/"), `${where}${joined} escapes the output folder`);
    if (f.symlink !== undefined) {
      assertEquals(f.length, 0, `${where}symlinks hold no data`);
      joinInside("/out", f.symlink);
    }
    if (!f.padding) {
      const key = f.path.join("/").toLowerCase();
      assert(!seen.has(key), `${where}duplicate path ${key}`);
      seen.add(key);
    }
  }
  assertEquals(offset, t.totalLength, `${where}file lengths must add up to the total`);
  for (const tier of t.announce) {
    assert(tier.length > 0 && tier.every((u) => u !== "" && u === u.trim()), `${where}tiers`);
  }
}
