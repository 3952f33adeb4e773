/**
 * Our client against our client over real TCP on 127.0.0.1 in all nine pairs of encryption
 * policies: the seven pairs that can talk download (encrypted when both sides can), the two
 * that cannot (require against off) give up at once, each side saying why in its log.
 */
import { assert, assertEquals } from "../assert.ts";
import { createTorrentFromBuffers } from "../../src/metainfo/mod.ts";
import { PeerHub, TorrentJob } from "../../src/client/mod.ts";
import type { EncryptionPolicy } from "../../src/peer/mod.ts";
import {
  addressOf,
  assertPayload,
  FAST_SESSION,
  LOOPBACK,
  MemoryLog,
  openJob,
  patternBytes,
  torrentOf,
  waitFor,
  within,
} from "./helpers.ts";

const POLICIES: EncryptionPolicy[] = ["require", "prefer", "off"];

Deno.test("encryption: every pair of policies either downloads or fails fast with a clear line", async () => {
  const data = patternBytes(5 * 32768 + 100, 17);
  const torrent = torrentOf(
    createTorrentFromBuffers("enc.bin", data, { pieceLength: 32768, creationDate: null }),
  );
  const root = await Deno.makeTempDir({ prefix: "bt-encryption-" });
  await Deno.mkdir(`${root}/seed`);
  await Deno.writeFile(`${root}/seed/enc.bin`, data);
  try {
    for (const seeding of POLICIES) {
      for (const dialling of POLICIES) {
        const pair = `${dialling} dials ${seeding}`;
        const seederLog = new MemoryLog(), leecherLog = new MemoryLog();
        const seeder = await openJob(torrent, `${root}/seed`, {
          seed: true,
          hub: { encryption: seeding },
          log: seederLog,
        });
        const out = `${root}/${dialling}-${seeding}`;
        const leecher = await openJob(torrent, out, {
          hub: { encryption: dialling },
          log: leecherLog,
          peers: [addressOf(seeder)],
        });
        try {
          seeder.start();
          leecher.start();
          const talks = !(new Set([seeding, dialling]).has("off") &&
            new Set([seeding, dialling]).has("require"));
          if (talks) {
            await within(pair, 10_000, leecher.done);
            await assertPayload(out, "enc.bin", data);
            const encrypted = seeding !== "off" && dialling !== "off";
            assert(
              leecherLog.find(`connected (manual${encrypted ? ", encrypted" : ")"}`).length > 0,
              `${pair}: ${encrypted ? "" : "not "}encrypted`,
            );
          } else {
            const refusal = seeding === "off"
              ? "encrypted handshake refused: encryption is off"
              : "plaintext handshake refused: encryption is required";
            await waitFor(
              `${pair}: the seeder's refusal`,
              () => seederLog.find(refusal).length > 0,
              3000,
            );
            await waitFor(
              `${pair}: the leecher's failed dial`,
              () => leecherLog.find(`peer 127.0.0.1:${seeder.port}:`).length > 0,
              3000,
            );
            assertEquals(leecher.stats().piecesDone, 0, pair);
            if (dialling === "require") {
              assert(
                leecherLog.find("encryption is required: no plaintext retry").length > 0,
                pair,
              );
            }
          }
        } finally {
          await leecher.stop();
          await seeder.stop();
        }
      }
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("encryption: under prefer, a plaintext-only peer costs one fallback, then none", async () => {
  const data = patternBytes(3 * 32768, 18);
  const torrent = torrentOf(
    createTorrentFromBuffers("plain.bin", data, { pieceLength: 32768, creationDate: null }),
  );
  const root = await Deno.makeTempDir({ prefix: "bt-encryption-" });
  await Deno.mkdir(`${root}/seed`);
  await Deno.writeFile(`${root}/seed/plain.bin`, data);
  const seederLog = new MemoryLog();
  const seeder = await openJob(torrent, `${root}/seed`, {
    seed: true,
    hub: { encryption: "off" },
    log: seederLog,
  });
  seeder.start();
  // One client downloads twice: its hub remembers what the first dial learnt.
  const hub = await PeerHub.open({ port: 0, hostname: LOOPBACK, utp: false });
  try {
    for (const run of [1, 2]) {
      const leecher = await TorrentJob.open({
        torrent,
        output: `${root}/out${run}`,
        hub,
        trackers: [],
        session: FAST_SESSION,
        peers: [addressOf(seeder)],
      });
      leecher.start();
      try {
        await within(`download ${run}`, 10_000, leecher.done);
      } finally {
        await leecher.stop();
      }
    }
    // One refused MSE attempt in all: the second download dialled plaintext straight away.
    assertEquals(seederLog.find("encrypted handshake refused").length, 1);
  } finally {
    await hub.stop();
    await seeder.stop();
    await Deno.remove(root, { recursive: true });
  }
});
