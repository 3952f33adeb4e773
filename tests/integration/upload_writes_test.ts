/**
 * Uploading in few socket writes: blocks of pieces already in memory go out together, not in a
 * write each (each write on loopback also wakes the receiver).
 */
import { assert, assertEquals } from "../assert.ts";
import { createTorrentFromBuffers } from "../../src/metainfo/mod.ts";
import { FrameReader, PeerConnection } from "../../src/peer/connection.ts";
import { type ByteStream, TcpStream } from "../../src/peer/stream.ts";
import { fakePeerId, frame, Id, u32s, Wire } from "./fake_peer.ts";
import { LOOPBACK, openJob, patternBytes, torrentOf, within, writePayload } from "./helpers.ts";

const PIECE = 262_144;
const BLOCK = 16_384;

/** `conn` as a stream whose `write` calls are counted. */
function countingWrites(conn: Deno.TcpConn): { stream: ByteStream; writes: () => number } {
  let writes = 0;
  const tcp = new TcpStream(conn);
  const stream: ByteStream = {
    remoteAddress: tcp.remoteAddress,
    encrypted: false,
    transport: "tcp",
    read: (into) => tcp.read(into),
    write: (bytes) => {
      writes++;
      return tcp.write(bytes);
    },
    close: () => tcp.close(),
  };
  return { stream, writes: () => writes };
}

Deno.test("a seeder sends a run of requested blocks in a few socket writes, not one each", async () => {
  const data = patternBytes(4 * PIECE, 83);
  const torrent = torrentOf(
    createTorrentFromBuffers("payload.bin", data, { pieceLength: PIECE, creationDate: null }),
  );
  const root = await Deno.makeTempDir({ prefix: "bt-upload-writes-" });
  await writePayload(root, torrent.name, data);
  const job = await openJob(torrent, root);
  const listener = Deno.listen({ hostname: LOOPBACK, port: 0 });
  let wire: Wire | undefined;
  try {
    job.start();
    const leecher = Deno.connect({ hostname: LOOPBACK, port: listener.addr.port });
    const counted = countingWrites(await listener.accept());
    wire = new Wire(await leecher);
    const remote = {
      infoHash: torrent.infoHash,
      peerId: fakePeerId(),
      extensions: false,
      fast: false,
      dht: false,
      v2: false,
    };
    job.session!.addIncoming(
      new PeerConnection(counted.stream, new FrameReader(counted.stream), remote, {
        maxMessageLength: BLOCK + 13,
      }),
    );
    await wire.write(frame(Id.interested));
    for (let m = await wire.read(); m?.id !== Id.unchoke; m = await wire.read()) {
      assert(m !== null, "the seeder hung up before unchoking");
    }
    const before = counted.writes();
    const requests: Uint8Array[] = [];
    for (let at = 0; at < data.length; at += BLOCK) {
      requests.push(frame(Id.request, u32s(Math.floor(at / PIECE), at % PIECE, BLOCK)));
    }
    await wire.write(new Uint8Array(requests.flatMap((r) => [...r])));
    const received = new Uint8Array(data.length);
    let blocks = 0;
    await within(
      "every block",
      10_000,
      (async () => {
        while (blocks < requests.length) {
          const m = await wire!.read();
          assert(m !== null, "the seeder hung up");
          if (m.id !== Id.piece) continue;
          const v = new DataView(m.payload.buffer, m.payload.byteOffset, 8);
          received.set(m.payload.subarray(8), v.getUint32(0) * PIECE + v.getUint32(4));
          blocks++;
        }
      })(),
    );
    assertEquals(received, data);
    // One disk read per piece may let a write go out between pieces; 64 blocks went in 64+
    // writes when the uploader yielded after every block.
    const writes = counted.writes() - before;
    assert(writes <= 12, `${requests.length} blocks took ${writes} socket writes`);
  } finally {
    wire?.conn.close();
    listener.close();
    await job.stop();
    await Deno.remove(root, { recursive: true });
  }
});
