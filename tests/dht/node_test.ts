import dgram from "node:dgram";
import {
  decodeMessage,
  Dht,
  DhtError,
  encodeMessage,
  type KrpcMessage,
  type KrpcQuery,
  type PeerAddress,
} from "../../src/dht/mod.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../assert.ts";
import { mulberry32, randomInt } from "../random.ts";

const LOOP = "127.0.0.1";
const fast = { hostname: LOOP, port: 0, queryTimeoutMs: 400 };

/** A raw UDP client for sending hand-made packets to a node. */
async function rawClient(opts: { answerQueries?: boolean } = {}) {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, LOOP, () => resolve()));
  const inbox: KrpcMessage[] = [];
  const queriesSeen: string[] = [];
  const waiters: Array<() => void> = [];
  socket.on("message", (msg: Uint8Array, rinfo: dgram.RemoteInfo) => {
    let m: KrpcMessage;
    try {
      m = decodeMessage(new Uint8Array(msg));
    } catch {
      return;
    }
    if (m.type === "query" && opts.answerQueries) {
      queriesSeen.push(m.query.method);
      const reply = encodeMessage({ type: "response", t: m.t, response: { id: CLIENT_ID } });
      socket.send(reply, rinfo.port, rinfo.address);
      return;
    }
    inbox.push(m);
    waiters.splice(0).forEach((w) => w());
  });
  const send = (bytes: Uint8Array, port: number) =>
    new Promise<void>((resolve) => socket.send(bytes, port, LOOP, () => resolve()));
  /** Sends and waits for the next message (or undefined after `ms`). */
  const ask = async (bytes: Uint8Array, port: number, ms = 1000) => {
    inbox.length = 0;
    await send(bytes, port);
    if (inbox.length === 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
        waiters.push(resolve);
      });
      clearTimeout(timer);
    }
    return inbox.shift();
  };
  const query = (q: KrpcQuery, port: number, t = new Uint8Array([7, 7])) =>
    ask(encodeMessage({ type: "query", t, query: q }), port);
  return {
    port: (socket.address() as { port: number }).port,
    send,
    ask,
    query,
    inbox,
    queriesSeen,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

const CLIENT_ID = new Uint8Array(20).fill(0x42);

Deno.test("node: a loopback DHT of 10 nodes, one announces and another finds it", async () => {
  const first = new Dht({ ...fast, bootstrap: [] });
  await first.start();
  const nodes = [first];
  try {
    for (let i = 1; i < 10; i++) {
      const dht = new Dht({ ...fast, bootstrap: [`${LOOP}:${first.port}`] });
      await dht.start();
      nodes.push(dht);
    }
    await Promise.all(nodes.map((n) => n.bootstrap()));
    // A second round, so early joiners learn about the later ones.
    await Promise.all(nodes.map((n) => n.bootstrap()));
    for (const n of nodes) assert(n.nodeCount >= 5, `node knows ${n.nodeCount} good nodes`);

    const infoHash = crypto.getRandomValues(new Uint8Array(20));
    const announced = await nodes[3].lookup(infoHash, () => {}, { announcePort: 5555 });
    assert(announced.announced >= 5, `announced to ${announced.announced} nodes`);

    const found: PeerAddress[] = [];
    const summary = await nodes[8].lookup(infoHash, (peers) => found.push(...peers));
    assertEquals(found, [{ host: LOOP, port: 5555 }]);
    assertEquals(summary.peers, 1);
    assert(summary.responded > 0);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

Deno.test("node: answers ping, find_node, get_peers and announce_peer (token, implied_port)", async () => {
  const dht = new Dht({ ...fast, bootstrap: [] });
  await dht.start();
  const client = await rawClient();
  try {
    const pong = await client.query({ method: "ping", id: CLIENT_ID }, dht.port);
    assert(pong?.type === "response", "ping answered");
    assertEquals(pong.t, new Uint8Array([7, 7]));
    assertEquals(pong.response.id, dht.id);
    assertEquals(pong.ip, { host: LOOP, port: client.port });

    const found = await client.query(
      { method: "find_node", id: new Uint8Array(20).fill(1), target: CLIENT_ID },
      dht.port,
    );
    assert(found?.type === "response");
    // The querier from the ping is in the table now (questionable, but the only one).
    assertEquals(found.response.nodes?.map((n) => n.port), [client.port]);
    const v6only = await client.query(
      { method: "find_node", id: CLIENT_ID, target: CLIENT_ID, want: ["n6"] },
      dht.port,
    );
    assert(v6only?.type === "response");
    assertEquals(v6only.response.nodes, undefined, "an IPv4 node has no nodes6 to give");

    const infoHash = new Uint8Array(20).fill(9);
    const gp = await client.query({ method: "get_peers", id: CLIENT_ID, infoHash }, dht.port);
    assert(gp?.type === "response" && gp.response.token !== undefined, "token given");
    assertEquals(gp.response.values, undefined);
    const token = gp.response.token;

    const badToken = await client.query({
      method: "announce_peer",
      id: CLIENT_ID,
      infoHash,
      port: 6881,
      token: new Uint8Array(20),
      impliedPort: false,
    }, dht.port);
    assert(badToken?.type === "error", "bad token refused");
    assertEquals(badToken.code, 203);

    const ok = await client.query({
      method: "announce_peer",
      id: CLIENT_ID,
      infoHash,
      port: 1,
      token,
      impliedPort: true,
    }, dht.port);
    assert(ok?.type === "response", "announce accepted");
    const again = await client.query({ method: "get_peers", id: CLIENT_ID, infoHash }, dht.port);
    assert(again?.type === "response");
    assertEquals(again.response.values, [{ host: LOOP, port: client.port }], "implied port used");

    // Our own lookup reports what was announced to us.
    const local: PeerAddress[] = [];
    await dht.lookup(infoHash, (p) => local.push(...p));
    assertEquals(local, [{ host: LOOP, port: client.port }]);
  } finally {
    await client.close();
    await dht.stop();
  }
});

Deno.test("node: survives garbage, answers broken queries with 203 and unknown methods with 204", async () => {
  const dht = new Dht({ ...fast, bootstrap: [] });
  await dht.start();
  const client = await rawClient();
  try {
    const r = mulberry32(77);
    for (let i = 0; i < 300; i++) {
      const junk = new Uint8Array(1 + randomInt(r, 200));
      for (let j = 0; j < junk.length; j++) junk[j] = randomInt(r, 256);
      if (i % 3 === 0) junk[0] = 0x64; // looks like a dictionary
      await client.send(junk, dht.port);
      // Let the node drain its socket: the kernel drops what overflows the receive buffer.
      if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    // Responses nobody asked for, and oversized packets, are dropped too.
    await client.send(
      encodeMessage({ type: "response", t: new Uint8Array([1, 2]), response: { id: CLIENT_ID } }),
      dht.port,
    );
    await client.send(new Uint8Array(9000).fill(0x64), dht.port);
    await new Promise((resolve) => setTimeout(resolve, 20));

    const te = new TextEncoder();
    const broken = await client.ask(te.encode("d1:ad2:id3:abce1:q4:ping1:t2:xy1:y1:qe"), dht.port);
    assert(broken?.type === "error");
    assertEquals(broken.code, 203);
    assertEquals(broken.t, te.encode("xy"));

    const unknown = await client.query(
      { method: "unknown", name: "vote", id: CLIENT_ID },
      dht.port,
    );
    assert(unknown?.type === "error");
    assertEquals(unknown.code, 204);
    const forward = await client.query(
      { method: "unknown", name: "sample_infohashes", id: CLIENT_ID, target: CLIENT_ID },
      dht.port,
    );
    assert(forward?.type === "response", "unknown method with a target is answered as find_node");

    const pong = await client.query({ method: "ping", id: CLIENT_ID }, dht.port);
    assert(pong?.type === "response", "still alive");
  } finally {
    await client.close();
    await dht.stop();
  }
});

Deno.test("node: replies are rate-limited per source IP", async () => {
  const dht = new Dht({ ...fast, bootstrap: [], rateLimit: { perSecond: 1, burst: 5 } });
  await dht.start();
  const client = await rawClient();
  try {
    const ping = encodeMessage({
      type: "query",
      t: new Uint8Array([1, 1]),
      query: { method: "ping", id: CLIENT_ID },
    });
    for (let i = 0; i < 30; i++) await client.send(ping, dht.port);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert(client.inbox.length >= 5 && client.inbox.length <= 6, `${client.inbox.length} replies`);
  } finally {
    await client.close();
    await dht.stop();
  }
});

Deno.test("node: state file is saved on stop and reloaded at start", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dht-state-" });
  const statePath = `${dir}/sub/dht.json`;
  const a = new Dht({ ...fast, bootstrap: [] });
  await a.start();
  try {
    const b = new Dht({ ...fast, bootstrap: [`${LOOP}:${a.port}`], statePath });
    await b.start();
    await b.bootstrap();
    assertEquals(b.nodeCount, 1);
    const id = b.id;
    await b.stop();
    const saved = JSON.parse(await Deno.readTextFile(statePath));
    assertEquals(saved.version, 1);
    assertEquals(saved.nodes.map((n: PeerAddress) => n.port), [a.port]);

    // No bootstrap list: the saved nodes are enough, and the id is kept.
    const c = new Dht({ ...fast, bootstrap: [], statePath });
    await c.start();
    await c.bootstrap();
    assertEquals(c.id, id);
    assertEquals(c.nodeCount, 1);
    await c.stop();

    // A broken state file is ignored.
    await Deno.writeTextFile(statePath, "{not json");
    const d = new Dht({ ...fast, bootstrap: [], statePath });
    await d.start();
    assert(d.id.length === 20);
    await d.stop();
    assertEquals(JSON.parse(await Deno.readTextFile(statePath)).version, 1, "rewritten");
  } finally {
    await a.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("node: silent contacts time out; addNode; options are checked", async () => {
  // A socket that never answers.
  const silent = await rawClient();
  const dht = new Dht({ ...fast, queryTimeoutMs: 150, bootstrap: [`${LOOP}:${silent.port}`] });
  const other = new Dht({ ...fast, bootstrap: [] });
  try {
    await assertRejects(() => dht.lookup(new Uint8Array(20), () => {}), DhtError, "not started");
    await dht.start();
    await other.start();
    const started = performance.now();
    await dht.bootstrap();
    assert(performance.now() - started < 2000, "bootstrap gives up on silence");
    assertEquals(dht.nodeCount, 0);
    const summary = await dht.lookup(new Uint8Array(20), () => {});
    assertEquals(summary.peers, 0);

    // A node learnt from a peer's PORT message joins once it answers our ping.
    dht.addNode(LOOP, other.port);
    dht.addNode("not an ip", 1);
    dht.addNode(LOOP, 0);
    for (let i = 0; i < 50 && dht.nodeCount === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assertEquals(dht.nodeCount, 1);
    await assertRejects(
      () => dht.lookup(new Uint8Array(20), () => {}, { announcePort: 70000 }),
      DhtError,
      "announce port",
    );
    assertThrows(() => new Dht({ hostname: "localhost" }), DhtError, "IP address");
    assertThrows(() => new Dht({ port: -1 }), DhtError, "port");
    assertThrows(() => new Dht({ nodeId: new Uint8Array(3) }), DhtError, "20 bytes");
    await assertRejects(() => dht.start(), DhtError, "already started");
  } finally {
    await dht.stop();
    await other.stop();
    await silent.close();
  }
  // After stop, lookups end at once and addNode is a no-op.
  assertEquals((await dht.lookup(new Uint8Array(20), () => {})).queried, 0);
  dht.addNode(LOOP, 1);
});

Deno.test("node: a taken explicit port is an error", async () => {
  const a = new Dht({ ...fast, bootstrap: [] });
  await a.start();
  try {
    const b = new Dht({ hostname: LOOP, port: a.port, bootstrap: [] });
    await assertRejects(() => b.start(), DhtError, "cannot listen");
    await b.stop();
  } finally {
    await a.stop();
  }
});

Deno.test("node: an IPv6 DHT on ::1 (BEP 32) finds peers through nodes6", async () => {
  const first = new Dht({ hostname: "::1", port: 0, queryTimeoutMs: 400, bootstrap: [] });
  try {
    await first.start();
  } catch (e) {
    await first.stop();
    if (e instanceof DhtError) {
      console.log("  (no IPv6 loopback here: skipped)");
      return;
    }
    throw e;
  }
  const nodes = [first];
  try {
    for (let i = 0; i < 3; i++) {
      const d = new Dht({
        hostname: "::1",
        port: 0,
        queryTimeoutMs: 400,
        bootstrap: [`[::1]:${first.port}`],
      });
      await d.start();
      nodes.push(d);
    }
    await Promise.all(nodes.map((n) => n.bootstrap()));
    await Promise.all(nodes.map((n) => n.bootstrap()));
    assertEquals(nodes[1].family, 6);
    assert(nodes[1].nodeCount >= 2, `${nodes[1].nodeCount} good nodes`);
    const hash = new Uint8Array(20).fill(0xab);
    const r = await nodes[1].lookup(hash, () => {}, { announcePort: 7777 });
    assert(r.announced >= 2, `announced to ${r.announced}`);
    const found: PeerAddress[] = [];
    await nodes[2].lookup(hash, (p) => found.push(...p));
    assertEquals(found, [{ host: "::1", port: 7777 }]);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

Deno.test("node: upkeep pings questionable nodes and saves the state periodically", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dht-upkeep-" });
  const statePath = `${dir}/dht.json`;
  const dht = new Dht({ ...fast, bootstrap: [], statePath, maintenanceMs: 20 });
  const client = await rawClient({ answerQueries: true });
  try {
    await dht.start();
    // The client queries us: it enters the table as questionable (it never answered us).
    await client.query({ method: "ping", id: CLIENT_ID }, dht.port);
    assertEquals(dht.tableSize, 1);
    assertEquals(dht.nodeCount, 0);
    // Upkeep pings it; it answers and becomes good. Five rounds later the state is saved.
    for (let i = 0; i < 100 && dht.nodeCount === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assertEquals(dht.nodeCount, 1);
    assert(client.queriesSeen.includes("ping"), `queries seen: ${client.queriesSeen}`);
    for (let i = 0; i < 100; i++) {
      try {
        await Deno.stat(statePath);
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    const saved = JSON.parse(await Deno.readTextFile(statePath));
    assertEquals(saved.nodes, [{ host: LOOP, port: client.port, id: "42".repeat(20) }]);
  } finally {
    await dht.stop();
    await client.close();
    await Deno.remove(dir, { recursive: true });
  }
});
