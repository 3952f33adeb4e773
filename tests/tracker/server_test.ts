import dgram from "node:dgram";
import {
  parseAnnounceQuery,
  parseHttpAnnounce,
  parseUdpRequest,
  peerLifetimeMs,
  startTracker,
  TrackerError,
} from "../../src/tracker/mod.ts";
import { decode, getList, getText } from "../../src/bencode/mod.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../assert.ts";
import { bin, concat, mutate, randomBytes, seeded, u32 } from "./_helpers.ts";

const ID_A = "%41".repeat(20);
const ID_B = "B".repeat(20);
const base = `info_hash=${ID_A}&peer_id=${ID_B}&port=6881&uploaded=1&downloaded=2&left=3`;

Deno.test("parseAnnounceQuery reads every field and refuses bad ones", () => {
  const q = parseAnnounceQuery(`${base}&event=started&numwant=12&compact=0&no_peer_id=1&x=y`);
  assertEquals(q, {
    infoHash: new Uint8Array(20).fill(0x41),
    peerId: bin(ID_B),
    port: 6881,
    uploaded: 1,
    downloaded: 2,
    left: 3,
    event: "started",
    numWant: 12,
    compact: false,
    noPeerId: true,
  });
  assertThrows(() => parseAnnounceQuery(base.replace("port=6881", "port=0")), TrackerError, "port");
  assertThrows(
    () => parseAnnounceQuery(base.replace("port=6881", "port=70000")),
    TrackerError,
    "port",
  );
  assertThrows(() => parseAnnounceQuery(base.replace(ID_A, "%4")), TrackerError, "info_hash");
  assertThrows(
    () => parseAnnounceQuery(base.replace(`peer_id=${ID_B}`, "peer_id=short")),
    TrackerError,
    "peer_id",
  );
  assertThrows(() => parseAnnounceQuery(base.replace("left=3", "left=-3")), TrackerError, "left");
  assertThrows(() => parseAnnounceQuery(`${base}&event=paused`), TrackerError, "event");
  assertThrows(() => parseAnnounceQuery("x".repeat(9000)), TrackerError, "too long");
});

function udpAnnouncePacket(connectionId: bigint, tid: number, port = 7000): Uint8Array {
  const p = new Uint8Array(98);
  const v = new DataView(p.buffer);
  v.setBigUint64(0, connectionId);
  v.setUint32(8, 1);
  v.setUint32(12, tid);
  p.fill(0x11, 16, 36);
  p.fill(0x22, 36, 56);
  v.setBigUint64(64, 0xffffffffffffffffn); // left: huge, saturates
  v.setUint32(80, 2);
  v.setInt32(92, -1);
  v.setUint16(96, port);
  return p;
}

Deno.test("parseUdpRequest decodes connect, announce, scrape and unknown actions", () => {
  const connect = concat(new Uint8Array([0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80]), u32(0), u32(5));
  assertEquals(parseUdpRequest(connect), { action: "connect", transactionId: 5 });
  assertThrows(
    () => parseUdpRequest(concat(new Uint8Array(8), u32(0), u32(5))),
    TrackerError,
    "magic",
  );
  const ann = parseUdpRequest(udpAnnouncePacket(9n, 6));
  assert(ann.action === "announce");
  assertEquals([ann.connectionId, ann.announce.port, ann.announce.event], [9n, 7000, "started"]);
  assertEquals([ann.announce.left, ann.announce.numWant], [Number.MAX_SAFE_INTEGER, undefined]);
  assertThrows(() => parseUdpRequest(udpAnnouncePacket(9n, 6).subarray(0, 97)), TrackerError);
  const scrape = parseUdpRequest(concat(new Uint8Array(8), u32(2), u32(1), new Uint8Array(45)));
  assert(scrape.action === "scrape" && scrape.infoHashes.length === 2);
  assertEquals(parseUdpRequest(concat(new Uint8Array(8), u32(77), u32(1))), {
    action: "unknown",
    transactionId: 1,
    code: 77,
  });
  assertThrows(() => parseUdpRequest(new Uint8Array(15)), TrackerError, "too short");
});

Deno.test("fuzz: parseAnnounceQuery / parseUdpRequest only return or throw TrackerError", () => {
  const rand = seeded(4242);
  const seeds = [
    bin(`${base}&event=completed&numwant=5`),
    bin(`${base}&compact=1`),
    udpAnnouncePacket(1n, 2),
    concat(new Uint8Array([0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80]), u32(0), u32(5)),
    concat(new Uint8Array(8), u32(2), u32(1), new Uint8Array(40)),
  ];
  let ok = 0, rejected = 0;
  for (let i = 0; i < 5000; i++) {
    const input = i % 4 === 3 ? randomBytes(rand, 120) : mutate(seeds[i % seeds.length], rand);
    for (
      const fn of [
        () => parseAnnounceQuery(String.fromCharCode(...input)),
        () => parseUdpRequest(input),
      ]
    ) {
      try {
        fn();
        ok++;
      } catch (e) {
        if (!(e instanceof TrackerError)) throw new Error(`input ${Array.from(input)} threw ${e}`);
        rejected++;
      }
    }
  }
  assert(ok > 0 && rejected > 0, `${ok}/${rejected}`);
});

Deno.test("tracker server: HTTP errors come back as failure reasons, unknown paths 404", async () => {
  const t = await startTracker();
  try {
    const origin = t.httpUrl.replace("/announce", "");
    const bad = await fetch(`${t.httpUrl}?info_hash=x`);
    const body = new Uint8Array(await bad.arrayBuffer());
    assertThrows(() => parseHttpAnnounce(body), TrackerError, "failure reason: invalid info_hash");
    const missing = await fetch(`${origin}/nothing`);
    await missing.body?.cancel();
    assertEquals(missing.status, 404);
    const scrapeBad = await fetch(`${origin}/scrape?info_hash=abc`);
    assertEquals(
      getText(decode(new Uint8Array(await scrapeBad.arrayBuffer())), "failure reason"),
      "invalid info_hash",
    );
  } finally {
    await t.close();
  }
});

Deno.test("tracker server: compact=0 gives a dictionary list with peer ids", async () => {
  const t = await startTracker();
  try {
    await (await fetch(
      `${t.httpUrl}?${base.replace(`peer_id=${ID_B}`, `peer_id=${"C".repeat(20)}`)}`,
    )).body?.cancel();
    const res = await fetch(`${t.httpUrl}?${base}&compact=0`);
    const d = decode(new Uint8Array(await res.arrayBuffer()));
    const peers = getList(d, "peers");
    assertEquals(peers?.length, 1);
    assertEquals(getText(peers?.[0], "ip"), "127.0.0.1");
    assertEquals(getText(peers?.[0], "peer id"), "C".repeat(20));
  } finally {
    await t.close();
  }
});

Deno.test("tracker server: UDP refuses unknown connection ids and actions, drops junk", async () => {
  const t = await startTracker();
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
  const replies: Uint8Array[] = [];
  sock.on(
    "message",
    (m: Uint8Array) => replies.push(new Uint8Array(m.buffer, m.byteOffset, m.byteLength).slice()),
  );
  const send = (p: Uint8Array) => sock.send(p, t.udpPort, "127.0.0.1");
  const wait = async (n: number) => {
    for (let i = 0; i < 200 && replies.length < n; i++) await new Promise((r) => setTimeout(r, 5));
  };
  try {
    send(new Uint8Array(5)); // junk: no answer
    send(udpAnnouncePacket(12345n, 77));
    await wait(1);
    const err = replies[0];
    assertEquals([readAction(err), readTid(err)], [3, 77]);
    assertEquals(new TextDecoder().decode(err.subarray(8)), "connection id mismatch");
    const connect = concat(new Uint8Array([0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80]), u32(0), u32(8));
    send(connect);
    await wait(2);
    assertEquals([readAction(replies[1]), readTid(replies[1]), replies[1].length], [0, 8, 16]);
    const id = new DataView(replies[1].buffer).getBigUint64(8);
    send(udpAnnouncePacket(id, 9));
    await wait(3);
    assertEquals([readAction(replies[2]), readTid(replies[2]), replies[2].length], [1, 9, 20]);
    send(concat(new Uint8Array(8), u32(9), u32(10)));
    await wait(4);
    assertEquals([readAction(replies[3]), readTid(replies[3])], [3, 10]);
    assertEquals(replies.length, 4);
    assertEquals(t.swarm("11".repeat(20)).complete + t.swarm("11".repeat(20)).incomplete, 1);
  } finally {
    await new Promise<void>((r) => sock.close(() => r()));
    await t.close();
  }
});

function readAction(p: Uint8Array): number {
  return new DataView(p.buffer, p.byteOffset, p.byteLength).getUint32(0);
}
function readTid(p: Uint8Array): number {
  return new DataView(p.buffer, p.byteOffset, p.byteLength).getUint32(4);
}

Deno.test("tracker server: close is idempotent and frees the ports", async () => {
  const t = await startTracker();
  await t.close();
  await t.close();
  await assertRejects(() => fetch(t.httpUrl), TypeError);
});

Deno.test("tracker: a peer that announces at libtorrent's 5-minute floor stays listed", () => {
  // libtorrent re-announces no sooner than every 300 s, whatever interval it is told; one lost
  // announce must not drop it either.
  for (const interval of [1, 60, 300]) assert(peerLifetimeMs(interval) > 2 * 300_000);
  assert(peerLifetimeMs(1800) > 2 * 1800_000);
});
