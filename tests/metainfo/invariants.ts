/**
 * Properties every parsed torrent must have, whatever the input: shared by the corpus and fuzz
 * tests.
 *
 * @module
 */
import { joinInside, sanitizePathComponent, type Torrent } from "../../src/metainfo/mod.ts";
import { bytesEqual, sha1, sha256, toHex } from "../../src/util/mod.ts";
import { assert, assertEquals } from "../assert.ts";

/** Fails unless `t` is internally consistent and every file stays inside the output folder. */
export function assertTorrentInvariants(t: Torrent, label = ""): void {
  const where = label ? `${label}: ` : "";
  const v2Hash = sha256(t.infoBytes);
  const expected = t.version === "v2" ? v2Hash.subarray(0, 20) : sha1(t.infoBytes);
  assert(bytesEqual(t.infoHash, expected), `${where}info-hash is not the hash of infoBytes`);
  if (t.version === "v1") assertEquals(t.infoHashV2, undefined, `${where}v2 hash of a v1 torrent`);
  else assertEquals(t.infoHashV2, v2Hash, `${where}v2 info-hash`);
  assertEquals(t.v1Pieces !== undefined, t.version !== "v2", `${where}v1 half`);
  assertEquals(t.v2Pieces !== undefined, t.version !== "v1", `${where}v2 half`);
  assertEquals(t.infoHashHex, toHex(t.infoHash), `${where}infoHashHex`);
  assert(Number.isSafeInteger(t.pieceLength) && t.pieceLength > 0, `${where}piece length`);
  if (t.v1Pieces) assertEquals(t.v1Pieces.count, t.pieceCount, `${where}piece hashes count`);
  assert(t.totalLength > 0 && Number.isSafeInteger(t.totalLength), `${where}total length`);
  assertEquals(t.pieceCount, Math.ceil(t.totalLength / t.pieceLength), `${where}piece count`);
  assert(t.name !== "" && sanitizePathComponent(t.name) === t.name, `${where}name not sanitised`);
  assert(t.files.length > 0, `${where}no files`);
  if (!t.multiFile) {
    assertEquals(t.files.filter((f) => !f.padding).length, 1, `${where}single-file layout`);
  }

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
  if (t.v2Pieces !== undefined) {
    const aligned = t.v2Pieces.files.map((m) => [m.firstPiece * t.pieceLength, m.length]);
    const stored = t.files.filter((f) => !f.padding && f.length > 0).map((
      f,
    ) => [f.offset, f.length]);
    assertEquals(aligned, stored, `${where}v2 files at piece boundaries, as the layout has them`);
  }
  for (const tier of t.announce) {
    assert(tier.length > 0 && tier.every((u) => u !== "" && u === u.trim()), `${where}tiers`);
  }
}
