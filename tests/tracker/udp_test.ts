import dgram from "node:dgram";
import {
  announce,
  clearUdpConnectionCache,
  scrape,
  startTracker,
  TrackerError,
} from "../../src/tracker/mod.ts";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import {
  announceReply,
  bin,
  connectReply,
  errorReply,
  fakeUdp,
  params,
  readRequest,
} from "./_helpers.ts";

const fast = { timeoutMs: 60, retries: 2 };

/** A fake tracker that answers connects with `id` and announces with `peers`. */
function honest(id = 0x1122334455667788n, peers = new Uint8Array([10, 0, 0, 7, 0x1a, 0xe1])) {
  return (p: Uint8Array) => {
    const r = readRequest(p);
    if (r.action === 0) return connectReply(r.tid, id);
    if (r.action === 1 && r.connectionId === id) return announceReply(r.tid, 900, peers, 3, 4);
    return errorReply(r.tid, "bad connection id");
  };
}

Deno.test("UDP announce against our own tracker shares the swarm with HTTP", async () => {
  clearUdpConnectionCache();
  const tracker = await startTracker({ interval: 90 });
  try {
    assertEquals(tracker.udpPort, tracker.port);
    const a = params({ peerId: bin("A".repeat(20)), port: 1111, event: "started" });
    const b = params({ peerId: bin("B".repeat(20)), port: 2222, left: 0, event: "started" });
    await announce(tracker.httpUrl, a);
    const r = await announce(tracker.udpUrl, { ...b, udp: fast });
    assertEquals(r.peers, [{ host: "127.0.0.1", port: 1111 }]);
    assertEquals([r.interval, r.complete, r.incomplete], [90, 1, 1]);
    const viaHttp = await announce(tracker.httpUrl, { ...a, event: undefined });
    assertEquals(viaHttp.peers, [{ host: "127.0.0.1", port: 2222 }]);
    const counts = await scrape(tracker.udpUrl, [a.infoHash], { udp: fast });
    assertEquals(counts.get("ab".repeat(20)), { complete: 1, downloaded: 0, incomplete: 1 });
    await announce(tracker.udpUrl, { ...b, event: "stopped", udp: fast });
    assertEquals(tracker.swarm("ab".repeat(20)).peers, [{ host: "127.0.0.1", port: 1111 }]);
  } finally {
    await tracker.close();
  }
});

Deno.test("UDP announce packet follows BEP 15 byte for byte", async () => {
  const fake = await fakeUdp(honest());
  try {
    const p = params({
      event: "started",
      key: 0xdeadbeef,
      uploaded: 5,
      downloaded: 6,
      left: 7,
      udp: fast,
    });
    const r = await announce(fake.url, p);
    assertEquals(r.peers, [{ host: "10.0.0.7", port: 6881 }]);
    assertEquals([r.interval, r.incomplete, r.complete], [900, 3, 4]);
    const [connect, ann] = fake.received;
    assertEquals(connect.length, 16);
    assertEquals(readRequest(connect).connectionId, 0x41727101980n);
    assertEquals(ann.length, 98);
    const v = new DataView(ann.buffer, ann.byteOffset, ann.byteLength);
    assertEquals(v.getBigUint64(0), 0x1122334455667788n);
    assertEquals(v.getUint32(8), 1);
    assertEquals(ann.slice(16, 36), p.infoHash);
    assertEquals(ann.slice(36, 56), p.peerId);
    assertEquals([v.getBigUint64(56), v.getBigUint64(64), v.getBigUint64(72)], [6n, 7n, 5n]);
    assertEquals([v.getUint32(80), v.getUint32(84), v.getUint32(88)], [2, 0, 0xdeadbeef]);
    assertEquals([v.getInt32(92), v.getUint16(96)], [-1, 6881]);
  } finally {
    await fake.close();
  }
});

Deno.test("UDP error action → TrackerError with the tracker's message", async () => {
  const fake = await fakeUdp((p) => errorReply(readRequest(p).tid, "torrent not\tallowed"));
  try {
    const e = await assertRejects(
      () => announce(fake.url, params({ udp: fast })),
      TrackerError,
      `tracker ${fake.url}: failure reason: torrent not allowed`,
    );
    assertEquals((e as TrackerError).kind, "failure");
  } finally {
    await fake.close();
  }
});

Deno.test("UDP ignores wrong transaction ids, short packets and junk", async () => {
  const good = honest();
  const fake = await fakeUdp((p) => {
    const r = readRequest(p);
    const right = good(p);
    return [
      connectReply(r.tid ^ 1, 5n), // wrong transaction id
      errorReply(r.tid + 1, "not for you"), // error for another transaction
      new Uint8Array(3), // too short
      right.subarray(0, 12), // right tid, truncated
      bin("garbage garbage garbage"),
      right,
    ];
  });
  try {
    const r = await announce(fake.url, params({ udp: fast }));
    assertEquals(r.peers, [{ host: "10.0.0.7", port: 6881 }]);
  } finally {
    await fake.close();
  }
});

Deno.test("UDP silence → retransmits with doubling timeouts, then TrackerError", async () => {
  const fake = await fakeUdp(() => undefined);
  try {
    const started = Date.now();
    const e = await assertRejects(
      () => announce(fake.url, params({ udp: { timeoutMs: 40, retries: 2 } })),
      TrackerError,
      "timed out (no answer after 3 tries)",
    );
    const took = Date.now() - started;
    assertEquals((e as TrackerError).kind, "timeout");
    assertEquals(fake.received.length, 3);
    assert(fake.received.every((p) => readRequest(p).action === 0));
    assert(took >= 40 + 80 + 160 - 10 && took < 2000, `took ${took} ms`);
    // Retransmissions keep the transaction id, so a late answer still counts.
    assertEquals(new Set(fake.received.map((p) => readRequest(p).tid)).size, 1);
  } finally {
    await fake.close();
  }
});

Deno.test("UDP retransmits a lost announce", async () => {
  const good = honest();
  let announces = 0;
  const fake = await fakeUdp((p) => {
    if (readRequest(p).action === 1 && announces++ === 0) return undefined; // drop the first
    return good(p);
  });
  try {
    const r = await announce(fake.url, params({ udp: fast }));
    assertEquals(r.interval, 900);
    assertEquals(fake.received.map((p) => readRequest(p).action), [0, 1, 1]);
  } finally {
    await fake.close();
  }
});

Deno.test("UDP connection ids are cached, expire, and are dropped on error", async () => {
  let id = 1n;
  let rejectOnce = false;
  const fake = await fakeUdp((p) => {
    const r = readRequest(p);
    if (r.action === 0) return connectReply(r.tid, ++id);
    if (rejectOnce) {
      rejectOnce = false;
      return errorReply(r.tid, "connection id expired");
    }
    return r.connectionId === id ? announceReply(r.tid, 60) : errorReply(r.tid, "stale");
  });
  const actions = () => fake.received.map((p) => readRequest(p).action).join("");
  try {
    const udp = { ...fast, connectionIdTtlMs: 150 };
    await announce(fake.url, params({ udp }));
    await announce(fake.url, params({ udp }));
    assertEquals(actions(), "011"); // one connect for two announces
    await new Promise((r) => setTimeout(r, 200));
    await announce(fake.url, params({ udp }));
    assertEquals(actions(), "01101"); // expired: connect again
    rejectOnce = true;
    await assertRejects(() => announce(fake.url, params({ udp })), TrackerError, "expired");
    await announce(fake.url, params({ udp }));
    assertEquals(actions(), "0110110" + "1"); // the error dropped the cached id
  } finally {
    await fake.close();
  }
});

Deno.test("UDP answers from another port are ignored", async () => {
  const other = dgram.createSocket("udp4");
  const tracker = dgram.createSocket("udp4");
  await new Promise<void>((r) => other.bind(0, "127.0.0.1", () => r()));
  await new Promise<void>((r) => tracker.bind(0, "127.0.0.1", () => r()));
  let seen = 0;
  tracker.on("message", (msg: Uint8Array, rinfo: dgram.RemoteInfo) => {
    seen++;
    const p = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
    // A well-formed answer, but from a socket that is not the tracker: a spoof.
    other.send(connectReply(readRequest(p).tid, 9n), rinfo.port, rinfo.address);
  });
  try {
    const url = `udp://127.0.0.1:${tracker.address().port}`;
    await assertRejects(
      () => announce(url, params({ udp: { timeoutMs: 40, retries: 1 } })),
      TrackerError,
      "timed out",
    );
    assertEquals(seen, 2);
  } finally {
    await new Promise<void>((r) => tracker.close(() => r()));
    await new Promise<void>((r) => other.close(() => r()));
  }
});

Deno.test("UDP overall deadline and abort end the request early", async () => {
  const fake = await fakeUdp(() => undefined);
  try {
    const started = Date.now();
    await assertRejects(
      () => announce(fake.url, params({ timeoutMs: 100, udp: { timeoutMs: 5000, retries: 3 } })),
      TrackerError,
      "timed out after 100 ms",
    );
    assert(Date.now() - started < 1000);
    const ac = new AbortController();
    const pending = announce(fake.url, params({ signal: ac.signal, udp: { timeoutMs: 5000 } }));
    setTimeout(() => ac.abort(), 30);
    const e = await assertRejects(() => pending, TrackerError, "request aborted");
    assertEquals((e as TrackerError).kind, "aborted");
  } finally {
    await fake.close();
  }
});

Deno.test("UDP URLs without a port are refused", async () => {
  await assertRejects(() => announce("udp://127.0.0.1", params()), TrackerError, "no valid port");
  await assertRejects(() => announce("udp://127.0.0.1:99999", params()), TrackerError);
  await assertRejects(() => scrape("udp://127.0.0.1:1", []), TrackerError, "1 to 74");
});

Deno.test("UDP announce over IPv6 loopback returns peers6-style entries", async () => {
  const sock = dgram.createSocket("udp6");
  const bound = await new Promise<boolean>((resolve) => {
    sock.once("error", () => resolve(false));
    sock.bind(0, "::1", () => resolve(true));
  });
  if (!bound) {
    sock.close();
    return; // no IPv6 loopback on this machine
  }
  const peer = new Uint8Array(18);
  peer[15] = 1;
  peer[17] = 77;
  sock.on("message", (msg: Uint8Array, rinfo: dgram.RemoteInfo) => {
    const p = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
    const r = readRequest(p);
    const out = r.action === 0 ? connectReply(r.tid, 3n) : announceReply(r.tid, 600, peer);
    sock.send(out, rinfo.port, rinfo.address);
  });
  try {
    const url = `udp://[::1]:${sock.address().port}/announce`;
    const r = await announce(url, params({ udp: fast }));
    assertEquals(r.peers, [{ host: "::1", port: 77 }]);
  } finally {
    await new Promise<void>((r) => sock.close(() => r()));
  }
});
