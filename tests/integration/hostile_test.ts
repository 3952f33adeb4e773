/**
 * Hostile peers against a leecher of ours, beside a good seeder of ours: a peer that hangs up
 * mid-piece, one that sends corrupt blocks, one that never answers, and a set that break the
 * protocol. A bad peer must cost its connection (and, for bad data, a ban), never the download.
 */
import { assert, assertEquals } from "../assert.ts";
import type { TorrentJob } from "../../src/client/mod.ts";
import { createTorrentFromBuffers, type Torrent } from "../../src/metainfo/mod.ts";
import {
  actLikeASeeder,
  dial,
  FakePeer,
  fakePeerId,
  frame,
  fullBitfield,
  Id,
  pieceMessage,
  signal,
  u32s,
  type Wire,
} from "./fake_peer.ts";
import {
  addressOf,
  assertPayload,
  MemoryLog,
  openJob,
  patternBytes,
  torrentOf,
  waitFor,
  within,
  writePayload,
} from "./helpers.ts";

const PIECE = 65_536;

interface Setup {
  root: string;
  data: Uint8Array;
  torrent: Torrent;
  seeder: TorrentJob;
  leecher: TorrentJob;
  log: MemoryLog;
  out: string;
  cleanup(): Promise<void>;
}

/**
 * A good seeder (upload-limited when `seederRate` is given, so hostile peers get a turn) and an
 * empty leecher that has not started yet.
 */
async function setup(size: number, seed: number, seederRate = 0): Promise<Setup> {
  const root = await Deno.makeTempDir({ prefix: "bt-hostile-" });
  const data = patternBytes(size, seed);
  const torrent = torrentOf(
    createTorrentFromBuffers("payload.bin", data, { pieceLength: PIECE, creationDate: null }),
  );
  const log = new MemoryLog();
  const out = `${root}/leech`;
  let seeder: TorrentJob | undefined;
  let leecher: TorrentJob;
  try {
    await writePayload(`${root}/seed`, torrent.name, data);
    seeder = await openJob(torrent, `${root}/seed`, {
      seed: true,
      hub: { maxUploadRate: seederRate },
    });
    seeder.start();
    leecher = await openJob(torrent, out, { log });
  } catch (e) {
    await seeder?.stop();
    await Deno.remove(root, { recursive: true });
    throw e;
  }
  return {
    root,
    data,
    torrent,
    seeder,
    leecher,
    log,
    out,
    async cleanup() {
      await leecher.stop();
      await seeder.stop();
      await Deno.remove(root, { recursive: true });
    },
  };
}

/** The correct bytes of a requested block. */
function blockOf(data: Uint8Array, r: { index: number; begin: number; length: number }) {
  const at = r.index * PIECE + r.begin;
  return data.subarray(at, at + r.length);
}

Deno.test("a peer that disconnects mid-piece costs nothing: the good seeder finishes", async () => {
  // The seeder is slow (1 MiB/s for 1 MiB) so the fake peer's blocks really count.
  const s = await setup(1 << 20, 41, 1 << 20);
  const go = signal();
  let served = 0;
  const fake = new FakePeer(async (w) => {
    if (!(await actLikeASeeder(w, s.torrent))) return;
    await go.promise;
    for (;;) {
      const r = await w.nextRequest();
      if (r === null) return;
      const block = blockOf(s.data, r);
      if (served < 5) {
        await w.write(pieceMessage(r.index, r.begin, block));
        served++;
        continue;
      }
      // Half a PIECE message, then gone.
      const whole = pieceMessage(r.index, r.begin, block);
      await w.write(whole.subarray(0, 13 + block.length / 2));
      w.close();
      return;
    }
  });
  try {
    s.leecher.start();
    s.leecher.addPeers([fake.address]);
    // Once the fake peer's unchoke is in, the leecher has sent it a pipeline of requests.
    await waitFor("the fake peer to unchoke the leecher", () => {
      const st = s.leecher.stats();
      return st.peersConnected === 1 && st.peersChokingUs === 0;
    });
    s.leecher.addPeers([addressOf(s.seeder)]);
    await waitFor("both peers connected", () => s.leecher.stats().peersConnected === 2);
    go.resolve();
    await within("download", 10_000, s.leecher.done);
    assertEquals(served, 5, "the fake peer served five blocks before hanging up");
    assertEquals(s.leecher.stats().piecesDone, s.torrent.pieceCount);
    assertEquals(s.leecher.stats().hashFailures, 0);
    assert(
      s.log.find(`peer 127.0.0.1:${fake.port} closed`).length === 1,
      `the leecher saw the fake peer go: ${s.log.lines.join(" | ")}`,
    );
    assertEquals(fake.accepted, 1);
    await s.leecher.stop();
    await assertPayload(s.out, s.torrent.name, s.data);
    assertEquals(fake.errors, []);
  } finally {
    go.resolve();
    await fake.close();
    await s.cleanup();
  }
});

Deno.test("a peer sending corrupt blocks is banned; its pieces are fetched again", async () => {
  const s = await setup(1 << 20, 42);
  let corrupted = 0;
  const badId = fakePeerId();
  const fake = new FakePeer(async (w) => {
    if (!(await actLikeASeeder(w, s.torrent, badId))) return;
    for (;;) {
      const r = await w.nextRequest();
      if (r === null) return;
      // Right length, wrong bytes.
      const wrong = blockOf(s.data, r).map((b) => b ^ 0x5a);
      corrupted++;
      if (!(await w.write(pieceMessage(r.index, r.begin, wrong)))) return;
    }
  });
  try {
    s.leecher.start();
    s.leecher.addPeers([fake.address]);
    const banLine = `banning peer 127.0.0.1:${fake.port}`;
    await waitFor("the ban", () => s.log.find(banLine).length > 0);
    const failures = s.leecher.stats().hashFailures;
    assert(failures > 0, "hash failures are counted");
    assert(s.log.find("failed its hash check").length > 0, "the failure is logged");
    await waitFor("the bad peer to be dropped", () => s.leecher.stats().peersConnected === 0);
    assertEquals(s.leecher.stats().piecesDone, 0, "no corrupt piece was accepted");
    // It may not come back by calling us from another port (while we still need data).
    const back = await dial(s.leecher.port);
    try {
      assert(await back.sendHandshake(s.torrent.infoHash, badId), "handshake sent");
      assert(await back.readHandshake() !== null, "the listener answers the handshake");
      await back.write(frame(Id.bitfield, fullBitfield(s.torrent.pieceCount)));
      assert(await back.waitForHangup(2_000), "the banned peer is turned away");
    } finally {
      back.close();
    }

    // The tracker (here: us) hands the banned address out again, along with a good seeder.
    s.leecher.addPeers([fake.address, addressOf(s.seeder)]);
    await within("download", 10_000, s.leecher.done);
    const stats = s.leecher.stats();
    assertEquals(stats.piecesDone, s.torrent.pieceCount);
    assertEquals(stats.hashFailures, failures, "no failures once the bad peer is gone");
    assert(stats.wasted >= PIECE, "the bad piece counts as wasted");
    // Give a redial every chance to happen before checking it did not.
    await new Promise((r) => setTimeout(r, 300));
    assertEquals(fake.accepted, 1, "a banned peer is never dialled again");
    assert(corrupted > 0);
    await s.leecher.stop();
    await assertPayload(s.out, s.torrent.name, s.data);
  } finally {
    await fake.close();
    await s.cleanup();
  }
});

Deno.test("a banned peer's blocks in unfinished pieces are fetched again, not blamed on others", async () => {
  const s = await setup(1 << 20, 44);
  const fake = new FakePeer(async (w) => {
    if (!(await actLikeASeeder(w, s.torrent))) return;
    // Wait for two whole pieces' requests; then send one bad block of the first (it stays
    // unfinished) and the second whole and bad (its hash fails, and the peer is banned).
    const asked = new Map<number, number>();
    let pieces: number[] = [];
    while (pieces.length < 2) {
      const r = await w.nextRequest();
      if (r === null) return;
      asked.set(r.index, (asked.get(r.index) ?? 0) + 1);
      pieces = [...asked].filter(([, n]) => n === PIECE / 16_384).map(([i]) => i);
    }
    const [half, bad] = pieces;
    const wrong = new Uint8Array(16_384).fill(0xee);
    await w.write(pieceMessage(half, 0, wrong));
    for (let begin = 0; begin < PIECE; begin += 16_384) {
      await w.write(pieceMessage(bad, begin, wrong));
    }
    await w.waitForHangup(5_000);
  });
  try {
    s.leecher.start();
    s.leecher.addPeers([fake.address]);
    await waitFor("the ban", () => s.log.find(`banning peer 127.0.0.1:${fake.port}`).length > 0);
    s.leecher.addPeers([addressOf(s.seeder)]);
    await within("download", 10_000, s.leecher.done);
    // The unfinished piece's bad block was dropped with the ban: the seeder's copy completed it.
    assertEquals(s.leecher.stats().hashFailures, 1, s.log.find("failed its hash").join(" | "));
    assertEquals(s.log.find("banning").length, 1);
    await s.leecher.stop();
    await assertPayload(s.out, s.torrent.name, s.data);
  } finally {
    await fake.close();
    await s.cleanup();
  }
});

Deno.test("a corrupt peer and a good seeder at once: the good one is not banned", async () => {
  const s = await setup(2 << 20, 43, 2 << 20);
  const fake = new FakePeer(async (w) => {
    if (!(await actLikeASeeder(w, s.torrent))) return;
    for (;;) {
      const r = await w.nextRequest();
      if (r === null) return;
      const wrong = new Uint8Array(r.length).fill(0xee);
      if (!(await w.write(pieceMessage(r.index, r.begin, wrong)))) return;
    }
  });
  try {
    s.leecher.start();
    s.leecher.addPeers([addressOf(s.seeder), fake.address]);
    await within("download", 10_000, s.leecher.done);
    const stats = s.leecher.stats();
    assertEquals(stats.piecesDone, s.torrent.pieceCount);
    assert(stats.hashFailures > 0, "the corrupt peer got requests");
    assertEquals(s.log.find(`banning peer 127.0.0.1:${fake.port}`).length, 1);
    assertEquals(s.log.find("banning").length, 1, `only the bad peer: ${s.log.find("banning")}`);
    await s.leecher.stop();
    await assertPayload(s.out, s.torrent.name, s.data);
  } finally {
    await fake.close();
    await s.cleanup();
  }
});

// A block nobody asked this peer for must never enter a piece: otherwise a sprayer poisons
// pieces the good seeder is filling, and the strikes that follow ban the good seeder too.
Deno.test("a peer spraying unrequested blocks cannot poison pieces or get the seeder banned", async () => {
  const s = await setup(1 << 20, 46, 512 * 1024);
  const fake = new FakePeer(async (w) => {
    if (!(await w.handshake())) return;
    // No bitfield, so it is never asked for anything; it sends block 3 of every piece anyway.
    for (let round = 0; round < 200 && !w.closed; round++) {
      for (let i = 0; i < s.torrent.pieceCount; i++) {
        if (!(await w.write(pieceMessage(i, 3 * 16_384, new Uint8Array(16_384))))) return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  });
  try {
    s.leecher.start();
    s.leecher.addPeers([addressOf(s.seeder), fake.address]);
    await within("download", 10_000, s.leecher.done);
    assertEquals(s.leecher.stats().hashFailures, 0);
    assertEquals(s.log.find(`banning peer 127.0.0.1:${s.seeder.port}`), []);
    await s.leecher.stop();
    await assertPayload(s.out, s.torrent.name, s.data);
  } finally {
    await fake.close();
    await s.cleanup();
  }
});

Deno.test("a peer that takes requests and never answers does not stall the download", async () => {
  const s = await setup(512 * 1024, 44);
  const fake = new FakePeer(async (w) => {
    if (!(await actLikeASeeder(w, s.torrent))) return;
    await w.waitForHangup(30_000); // swallow requests, answer nothing
  });
  try {
    s.leecher.start();
    s.leecher.addPeers([fake.address]);
    await waitFor("the silent peer to unchoke the leecher", () => {
      const st = s.leecher.stats();
      return st.peersConnected === 1 && st.peersChokingUs === 0;
    });
    s.leecher.addPeers([addressOf(s.seeder)]);
    // Endgame asks the seeder for the blocks the silent peer sits on; no timeout needed.
    await within("download", 10_000, s.leecher.done);
    assertEquals(s.leecher.stats().piecesDone, s.torrent.pieceCount);
    await s.leecher.stop();
    await assertPayload(s.out, s.torrent.name, s.data);
  } finally {
    await fake.close();
    await s.cleanup();
  }
});

Deno.test("endgame: an idle peer fetches the blocks a silent one sits on, last asked first", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-endgame-" });
  const data = patternBytes(8 * PIECE, 45); // 32 blocks: 16 for the silent peer, 16 for the other
  const torrent = torrentOf(
    createTorrentFromBuffers("payload.bin", data, { pieceLength: PIECE, creationDate: null }),
  );
  const silentAsked: string[] = [];
  let silentCancelled = 0;
  const silent = new FakePeer(async (w) => {
    if (!(await actLikeASeeder(w, torrent))) return;
    for (let m = await w.read(); m !== null; m = await w.read()) {
      if (m.id === Id.cancel) silentCancelled++;
      if (m.id !== Id.request) continue;
      const v = new DataView(m.payload.buffer, m.payload.byteOffset, 8);
      silentAsked.push(`${v.getUint32(0)}/${v.getUint32(4)}`);
    }
  });
  const dups: { index: number; begin: number; length: number }[] = [];
  let extraWhileBusy = false;
  const idle = new FakePeer(async (w) => {
    if (!(await actLikeASeeder(w, torrent))) return;
    const own = [];
    for (let i = 0; i < 16; i++) own.push((await w.nextRequest())!);
    // Every block it was asked for, at once: only after the last ones does it have room.
    for (const r of own) await w.write(pieceMessage(r.index, r.begin, blockOf(data, r)));
    for (let i = 0; i < 2; i++) dups.push((await w.nextRequest())!);
    let next = w.nextRequest();
    let timer: ReturnType<typeof setTimeout> | undefined;
    extraWhileBusy = await Promise.race([
      next.then(() => true),
      new Promise<boolean>((r) => timer = setTimeout(() => r(false), 300)),
    ]);
    clearTimeout(timer);
    for (const r of dups) await w.write(pieceMessage(r.index, r.begin, blockOf(data, r)));
    for (let r = await next; r !== null; r = await next) {
      await w.write(pieceMessage(r.index, r.begin, blockOf(data, r)));
      next = w.nextRequest();
    }
  });
  // Requests never time out here: the silent peer keeps its blocks until they are cancelled.
  const leecher = await openJob(torrent, `${root}/leech`, {
    session: { requestTimeoutMs: 60_000 },
  });
  try {
    leecher.start();
    leecher.addPeers([silent.address]);
    await waitFor("16 requests to the silent peer", () => silentAsked.length === 16);
    leecher.addPeers([idle.address]);
    await within("download", 10_000, leecher.done);
    // The two blocks asked last of the silent peer come first; none while its own queue was long.
    assertEquals(dups.map((r) => `${r.index}/${r.begin}`), [silentAsked[15], silentAsked[14]]);
    assert(!extraWhileBusy, "a third endgame request while two were out");
    await waitFor("a cancel for each silent block", () => silentCancelled === 16);
    await leecher.stop();
    await assertPayload(`${root}/leech`, torrent.name, data);
  } finally {
    await leecher.stop();
    await silent.close();
    await idle.close();
    await Deno.remove(root, { recursive: true });
  }
});

/** Abuses of the wire protocol, each after a correct handshake unless it says otherwise. */
const ABUSES: Record<string, (w: Wire, t: Torrent) => Promise<boolean>> = {
  "garbage instead of a handshake": async (w) => {
    if ((await w.readHandshake()) === null) return false;
    const junk = patternBytes(68, 51);
    junk[0] = 0x42; // certainly not the protocol string's length (19)
    return await w.write(junk);
  },
  "random bytes after the handshake": async (w) =>
    await w.handshake() && await w.write(Uint8Array.of(0x7f, ...patternBytes(4095, 52))),
  "a 4 GiB length prefix": async (w) =>
    await w.handshake() && await w.write(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 5)),
  "a length just over any valid message": async (w) =>
    await w.handshake() && await w.write(u32s((1 << 20) + 1)),
  "a bitfield one byte too long": async (w, t) => {
    const bits = new Uint8Array(Math.ceil(t.pieceCount / 8) + 1).fill(0xff);
    return await w.handshake() && await w.write(frame(Id.bitfield, bits));
  },
  "a bitfield one byte too short": async (w, t) => {
    const bits = new Uint8Array(Math.ceil(t.pieceCount / 8) - 1).fill(0xff);
    return await w.handshake() && await w.write(frame(Id.bitfield, bits));
  },
  "a bitfield with spare bits set": async (w, t) => {
    const bits = new Uint8Array(Math.ceil(t.pieceCount / 8)).fill(0xff);
    return await w.handshake() && await w.write(frame(Id.bitfield, bits));
  },
  // (A second, valid bitfield is taken as HAVEs: aria2 sends one.)
  "a second bitfield of the wrong size": async (w, t) =>
    await w.handshake() &&
    await w.write(frame(Id.bitfield, fullBitfield(t.pieceCount))) &&
    await w.write(frame(Id.bitfield, new Uint8Array(1))),
  "a have beyond the last piece": async (w, t) =>
    await w.handshake() && await w.write(frame(Id.have, u32s(t.pieceCount))),
  "a have of the wrong length": async (w) =>
    await w.handshake() && await w.write(frame(Id.have, new Uint8Array(3))),
  "a piece message for a block never asked for": async (w, t) =>
    await w.handshake() &&
    await w.write(frame(Id.bitfield, fullBitfield(t.pieceCount))) &&
    await w.write(pieceMessage(0, 1, new Uint8Array(100))),
  "a request of 1 MiB": async (w) =>
    await w.handshake() &&
    await w.write(frame(Id.interested)) &&
    await w.write(frame(Id.request, u32s(0, 0, 1 << 20))),
};

Deno.test("peers that break the protocol are dropped; the download is unaffected", async () => {
  // A slow seeder (1 MiB/s for 1 MiB), so every abuse lands while the download runs. 17
  // pieces, so a bitfield has spare bits.
  const s = await setup((1 << 20) + 1000, 45, 1 << 20);
  assertEquals(s.torrent.pieceCount, 17);
  const results = new Map<string, { hungUp: boolean; whileDownloading: boolean }>();
  const fakes = Object.entries(ABUSES).map(([name, abuse]) =>
    new FakePeer(async (w) => {
      const sent = await abuse(w, s.torrent);
      const hungUp = await w.waitForHangup(3_000);
      results.set(name, {
        hungUp: hungUp || !sent,
        whileDownloading: !s.leecher.session!.complete,
      });
    })
  );
  try {
    s.leecher.start();
    s.leecher.addPeers([addressOf(s.seeder), ...fakes.map((f) => f.address)]);
    await within("download", 10_000, s.leecher.done);
    await waitFor("every abuse to be judged", () => results.size === fakes.length, 4_000);
    for (const [name, r] of results) {
      assert(r.hungUp, `the leecher should drop a peer that sends ${name}`);
      assert(r.whileDownloading, `${name}: dropped while downloading, not at the end`);
    }
    assertEquals(s.leecher.stats().piecesDone, s.torrent.pieceCount);
    assertEquals(s.leecher.stats().hashFailures, 0);
    for (const f of fakes) assertEquals(f.errors, []);
    await s.leecher.stop();
    await assertPayload(s.out, s.torrent.name, s.data);
  } finally {
    await Promise.all(fakes.map((f) => f.close()));
    await s.cleanup();
  }
});
