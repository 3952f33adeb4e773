/**
 * Which peers hear of a finished piece: HAVE goes to every peer that may still want the
 * piece, never to a seed (which has it already).
 */
import { assertEquals } from "../assert.ts";
import { createTorrentFromBuffers } from "../../src/metainfo/mod.ts";
import { FakePeer, frame, fullBitfield, Id, pieceMessage } from "./fake_peer.ts";
import { assertPayload, openJob, patternBytes, torrentOf, waitFor, within } from "./helpers.ts";

const PIECE = 32_768;

Deno.test("HAVE reaches the peer that lacks the piece, not the seed we download from", async () => {
  const data = patternBytes(8 * PIECE, 61);
  const torrent = torrentOf(
    createTorrentFromBuffers("payload.bin", data, { pieceLength: PIECE, creationDate: null }),
  );
  const root = await Deno.makeTempDir({ prefix: "bt-have-" });
  const havesAt = { seed: 0, leecher: 0 };
  const seed = new FakePeer(async (w) => {
    if (!(await w.handshake())) return;
    await w.write(frame(Id.bitfield, fullBitfield(torrent.pieceCount)));
    await w.write(frame(Id.unchoke));
    for (let m = await w.read(); m !== null; m = await w.read()) {
      if (m.id === Id.have) havesAt.seed++;
      if (m.id !== Id.request) continue;
      const v = new DataView(m.payload.buffer, m.payload.byteOffset, 12);
      const [index, begin, length] = [v.getUint32(0), v.getUint32(4), v.getUint32(8)];
      const at = index * PIECE + begin;
      await w.write(pieceMessage(index, begin, data.subarray(at, at + length)));
    }
  });
  const leecher = new FakePeer(async (w) => {
    if (!(await w.handshake())) return;
    await w.write(frame(Id.bitfield, new Uint8Array(Math.ceil(torrent.pieceCount / 8))));
    for (let m = await w.read(); m !== null; m = await w.read()) {
      if (m.id === Id.have && m.payload.length === 4) havesAt.leecher++;
    }
  });
  const job = await openJob(torrent, `${root}/out`);
  try {
    job.start();
    job.addPeers([leecher.address, seed.address]);
    await within("download", 10_000, job.done);
    await waitFor("a HAVE per piece at the leecher", () => havesAt.leecher === torrent.pieceCount);
    assertEquals(havesAt.seed, 0);
    await job.stop();
    await assertPayload(`${root}/out`, torrent.name, data);
    assertEquals([...seed.errors, ...leecher.errors], []);
  } finally {
    await job.stop();
    await seed.close();
    await leecher.close();
    await Deno.remove(root, { recursive: true });
  }
});
