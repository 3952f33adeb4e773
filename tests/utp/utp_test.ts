/**
 * uTP: the packet codec against hand-built bytes and a seeded fuzz, streams between two sockets
 * over an in-memory path that loses, reorders, duplicates and delays datagrams (seeded, so a
 * failure names its case), sequence numbers and connection ids that wrap, FIN and RESET leaving
 * no connection behind, hostile packets and SYN floods, and a transfer through a real UDP relay
 * with 25 ms each way and 1 % loss.
 */
import {
  decodePacket,
  encodePacket,
  HEADER_SIZE,
  looksLikeUtp,
  seqDistance,
  ST_DATA,
  ST_FIN,
  ST_RESET,
  ST_STATE,
  ST_SYN,
  type UtpConnection,
  type UtpHeader,
  UtpSocket,
  type UtpSocketOptions,
} from "../../src/utp/mod.ts";
import { bytesEqual, type DatagramSender, sha1, toHex, UdpPort } from "../../src/util/mod.ts";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { mutate } from "../ext/_mutate.ts";
import { mulberry32, type Random, randomInt } from "../random.ts";
import { startUdpRelay } from "../udp_relay.ts";

const HEADER: UtpHeader = {
  type: ST_DATA,
  connectionId: 0x1234,
  timestamp: 0xdeadbeef,
  timestampDifference: 77,
  windowSize: 65536,
  seq: 0xfffe,
  ack: 3,
};

Deno.test("utp packet: the header's bytes are BEP 29's, big-endian", () => {
  const wire = encodePacket(HEADER, new Uint8Array([9]));
  assertEquals(
    toHex(wire),
    "01" + "00" + "1234" + "deadbeef" + "0000004d" + "00010000" + "fffe" + "0003" + "09",
  );
  const back = decodePacket(wire)!;
  assertEquals({ ...back, payload: [...back.payload] }, {
    ...HEADER,
    sack: undefined,
    readLimit: undefined,
    payload: [9],
  });
});

Deno.test("utp packet: a selective ACK is read back, LSB first from ack + 2", () => {
  const mask = new Uint8Array([0b101, 0, 0, 0x80]);
  const wire = encodePacket({ ...HEADER, type: ST_STATE }, undefined, { sack: mask });
  assertEquals(wire[1], 1); // the first extension is SACK
  assertEquals([...wire.subarray(20, 22)], [0, 4]); // no next extension, 4 bytes
  const back = decodePacket(wire)!;
  assertEquals([...back.sack!], [...mask]);
  assertEquals(back.payload.length, 0);
});

Deno.test("utp packet: unknown extensions are skipped, malformed packets refused", () => {
  const unknown = Uint8Array.from([
    ...encodePacket({ ...HEADER, type: ST_STATE }).subarray(0, 20),
    1,
    3,
    0xaa,
    0xbb,
    0xcc, // extension 7 of 3 bytes, then SACK
    0,
    4,
    1,
    0,
    0,
    0,
  ]);
  unknown[1] = 7;
  assertEquals([...decodePacket(unknown)!.sack!], [1, 0, 0, 0]);

  const state = encodePacket({ ...HEADER, type: ST_STATE });
  const refuse = (bytes: Uint8Array, why: string) =>
    assertEquals(decodePacket(bytes), undefined, why);
  refuse(state.subarray(0, 19), "short");
  refuse(Uint8Array.from(state, (b, i) => i === 0 ? (ST_STATE << 4) | 2 : b), "version 2");
  refuse(Uint8Array.from(state, (b, i) => i === 0 ? (5 << 4) | 1 : b), "type 5");
  refuse(encodePacket({ ...HEADER, type: ST_DATA }), "data without payload");
  refuse(encodePacket({ ...HEADER, type: ST_FIN }, new Uint8Array(1)), "FIN with payload");
  const empty = Uint8Array.from([...state, 0, 0]);
  empty[1] = 1;
  refuse(empty, "SACK of 0 bytes");
  // libtorrent sends masks of 6 bytes and more, though BEP 29 asks for multiples of 4.
  const six = encodePacket({ ...HEADER, type: ST_DATA }, new Uint8Array([1]), {
    sack: new Uint8Array(6),
  });
  assertEquals(decodePacket(six)?.sack?.length, 6);
  const chained = Uint8Array.from([...state, 1, 200]);
  chained[1] = 1;
  refuse(chained, "extension past the end");
  refuse(Uint8Array.from([...state, 0]).map((b, i) => i === 1 ? 9 : b), "cut extension");
});

Deno.test("utp packet: our read-limit extension rides beside a SACK, and is skipped when odd", () => {
  const both = encodePacket({ ...HEADER, type: ST_STATE }, undefined, {
    sack: new Uint8Array([1, 0, 0, 0]),
    readLimit: 8192,
  });
  const back = decodePacket(both)!;
  assertEquals([back.readLimit, [...back.sack!]], [8192, [1, 0, 0, 0]]);
  // A length other than 4 is someone else's extension of the same number: skipped.
  const odd = encodePacket({ ...HEADER, type: ST_SYN }, undefined, { readLimit: 1 });
  odd[21] = 3;
  const cut = Uint8Array.from([...odd.subarray(0, 25)]);
  assertEquals(decodePacket(cut)?.readLimit, undefined);
});

Deno.test("utp packet: looksLikeUtp tells uTP from KRPC on a shared port", () => {
  assert(looksLikeUtp(encodePacket({ ...HEADER, type: ST_SYN })));
  assert(!looksLikeUtp(new TextEncoder().encode("d1:ad2:id20:aaaaaaaaaaaaaaaaaaaae1:q4:ping")));
});

Deno.test("utp packet: sequence distance wraps at 16 bits", () => {
  assertEquals(seqDistance(0, 65535), 1);
  assertEquals(seqDistance(65535, 0), -1);
  assertEquals(seqDistance(100, 100), 0);
  assertEquals(seqDistance(0x8000 + 5, 5), -0x8000);
});

Deno.test("utp packet fuzz: mutated packets decode or are refused, never throw", () => {
  const r = mulberry32(29);
  const seeds = [
    encodePacket(HEADER, new Uint8Array(40).fill(7)),
    encodePacket({ ...HEADER, type: ST_STATE }, undefined, {
      sack: new Uint8Array(8).fill(0x55),
      readLimit: 8192,
    }),
    encodePacket({ ...HEADER, type: ST_SYN }),
  ];
  let decoded = 0;
  for (let i = 0; i < 20_000; i++) {
    const input = mutate(seeds[i % seeds.length], r);
    const p = decodePacket(input);
    if (!p) continue;
    decoded++;
    assert(p.type <= ST_SYN && p.seq <= 0xffff && p.ack <= 0xffff, `case ${i}`);
    assert((p.type === ST_DATA) === (p.payload.length > 0), `case ${i}`);
    assert(!p.sack || (p.sack.length > 0 && p.sack.length <= 32), `case ${i}`);
  }
  assert(decoded > 1000, `only ${decoded} of the mutations decoded`);
});

// ---------------------------------------------------------------------------------------------
// Two sockets over an in-memory path

interface PathFaults {
  loss?: number;
  reorder?: number;
  duplicate?: number;
  /** Share of datagrams cut short (the header or the payload). */
  truncate?: number;
  delayMs?: number;
}

/** Datagrams between sockets named by port on 127.0.0.1, spoiled as `faults` say. */
class FaultyPath {
  readonly #sockets = new Map<number, UtpSocket>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  delivered = 0;
  /** Largest datagram carried so far. */
  largest = 0;

  constructor(readonly random: Random, readonly faults: PathFaults = {}) {}

  socket(port: number, options: UtpSocketOptions = {}): UtpSocket {
    const sender: DatagramSender = {
      send: (datagram, _host, to) => this.#carry(datagram.slice(), port, to),
    };
    const socket = new UtpSocket(sender, options);
    this.#sockets.set(port, socket);
    return socket;
  }

  /** Hands `datagram` to the socket at `to` as if it came from `from`, now. */
  inject(datagram: Uint8Array, from: number, to: number): void {
    this.#sockets.get(to)?.receive(datagram, "127.0.0.1", from);
  }

  #carry(datagram: Uint8Array, from: number, to: number): void {
    const f = this.faults, r = this.random;
    this.largest = Math.max(this.largest, datagram.length);
    if (r() < (f.loss ?? 0)) return;
    if (r() < (f.truncate ?? 0)) datagram = datagram.subarray(0, randomInt(r, datagram.length));
    const copies = r() < (f.duplicate ?? 0) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const late = r() < (f.reorder ?? 0) ? 1 + randomInt(r, 20) : 0;
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.delivered++;
        this.inject(datagram, from, to);
      }, (f.delayMs ?? 0) + late);
      this.#timers.add(timer);
    }
  }

  close(): void {
    for (const socket of this.#sockets.values()) socket.close();
    for (const timer of this.#timers) clearTimeout(timer);
  }
}

function payload(seed: number, length: number): Uint8Array {
  const r = mulberry32(seed);
  return Uint8Array.from({ length }, () => randomInt(r, 256));
}

/** Writes `bytes` in uneven pieces, then closes. */
async function send(stream: UtpConnection, bytes: Uint8Array, r: Random): Promise<void> {
  for (let at = 0; at < bytes.length;) {
    const n = Math.min(bytes.length - at, 1 + randomInt(r, 40_000));
    await stream.write(bytes.subarray(at, at + n));
    at += n;
  }
}

async function receive(stream: UtpConnection, expected: number): Promise<Uint8Array> {
  const out = new Uint8Array(expected);
  let at = 0;
  const into = new Uint8Array(7000);
  while (at < expected) {
    const n = await stream.read(into);
    if (n === null) break;
    out.set(into.subarray(0, Math.min(n, expected - at)), at);
    at += n;
  }
  return out.subarray(0, at);
}

/** A connection from socket `a` (port 1) to socket `b` (port 2), both ends. */
async function connectPair(
  path: FaultyPath,
  options: UtpSocketOptions = {},
): Promise<{ a: UtpSocket; b: UtpSocket; client: UtpConnection; server: UtpConnection }> {
  const a = path.socket(1, options), b = path.socket(2, options);
  const accepted = Promise.withResolvers<UtpConnection>();
  b.onAccept = accepted.resolve;
  const client = await a.connect("127.0.0.1", 2, AbortSignal.timeout(20_000));
  return { a, b, client, server: await accepted.promise };
}

/**
 * Sends `up` from client to server and `down` back at once, checks both arrive whole, then
 * closes both ends and waits until neither socket holds the connection: nothing half-open.
 */
async function exchange(
  ends: { client: UtpConnection; server: UtpConnection },
  sockets: UtpSocket[],
  data: { up: Uint8Array; down: Uint8Array },
  r: Random,
): Promise<void> {
  const { client, server } = ends, { up, down } = data;
  const [gotUp, gotDown] = await Promise.all([
    receive(server, up.length),
    receive(client, down.length),
    send(client, up, r),
    send(server, down, r),
  ]);
  assertEquals(toHex(await sha1(gotUp)), toHex(await sha1(up)), "client to server");
  assertEquals(toHex(await sha1(gotDown)), toHex(await sha1(down)), "server to client");
  client.close();
  server.close();
  await until(
    "both sides forget the connection",
    () => sockets.every((s) => s.connectionCount === 0),
    30_000,
  );
}

async function until(what: string, condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (
  const [seed, faults] of [
    [1, {}],
    [2, { loss: 0.05, delayMs: 2 }],
    [3, { loss: 0.03, reorder: 0.1, duplicate: 0.05, delayMs: 1 }],
    [4, { loss: 0.08, reorder: 0.2, duplicate: 0.1 }],
  ] as [number, PathFaults][]
) {
  Deno.test(`utp stream: both ways byte-identical over a spoiled path (seed ${seed})`, async () => {
    const r = mulberry32(seed);
    const path = new FaultyPath(r, faults);
    try {
      const { a, b, client, server } = await connectPair(path);
      const up = payload(seed, 600_000), down = payload(seed + 100, 300_000);
      await exchange({ client, server }, [a, b], { up, down }, r);
    } finally {
      path.close();
    }
  });
}

Deno.test("utp stream: ends that both read 8 KiB use 8 KiB packets on loopback", async () => {
  for (const [readLimit, largest] of [[8192, 8192], [undefined, 1400]] as const) {
    const path = new FaultyPath(mulberry32(16), { loss: 0.02 });
    try {
      const { client, server } = await connectPair(path, { readLimit });
      const bytes = payload(16, 300_000);
      const [got] = await Promise.all([receive(server, bytes.length), client.write(bytes)]);
      assert(bytesEqual(got, bytes));
      assertEquals(path.largest, largest, `read limit ${readLimit}`);
    } finally {
      path.close();
    }
  }
});

Deno.test("utp stream: the peer's FIN ends reads after every byte before it", async () => {
  const path = new FaultyPath(mulberry32(5), { reorder: 0.3, delayMs: 1 });
  try {
    const { client, server } = await connectPair(path);
    const bytes = payload(5, 100_000);
    await client.write(bytes);
    client.close();
    const got = await receive(server, bytes.length + 1); // asks for more: sees the end
    assert(bytesEqual(got, bytes));
    assertEquals(await server.read(new Uint8Array(10)), null);
    await assertRejects(() => client.write(new Uint8Array(1)));
  } finally {
    path.close();
  }
});

Deno.test("utp stream: sequence numbers and connection ids wrap past 65535", async () => {
  const real = crypto.getRandomValues.bind(crypto);
  // Every random 16-bit value is 65535: the dialler's send id wraps to 0, and the acceptor's
  // first data packet is 65535, its second 0.
  crypto.getRandomValues = (<T extends ArrayBufferView | null>(array: T): T => {
    if (array instanceof Uint16Array) array.fill(0xffff);
    else real(array as Uint8Array);
    return array;
  }) as typeof crypto.getRandomValues;
  const path = new FaultyPath(mulberry32(6), { loss: 0.02, reorder: 0.05 });
  try {
    const { client, server } = await connectPair(path);
    crypto.getRandomValues = real;
    assertEquals([client.recvId, client.sendId, server.recvId, server.sendId], [
      65535,
      0,
      0,
      65535,
    ]);
    const bytes = payload(6, 400_000);
    const [got] = await Promise.all([receive(client, bytes.length), server.write(bytes)]);
    assert(bytesEqual(got, bytes));
  } finally {
    crypto.getRandomValues = real;
    path.close();
  }
});

Deno.test("utp stream: a reader that stops reading holds the sender at its window", async () => {
  const path = new FaultyPath(mulberry32(7));
  try {
    const { client, server } = await connectPair(path, { receiveBuffer: 64 * 1024 });
    const bytes = payload(7, 1_000_000);
    const writing = send(client, bytes, mulberry32(7));
    await new Promise((r) => setTimeout(r, 300));
    // Nothing was read: the receiver holds at most its window of it.
    const delivered = path.delivered;
    await new Promise((r) => setTimeout(r, 300));
    assert(path.delivered - delivered < 20, "the sender kept sending into a full window");
    const [got] = await Promise.all([receive(server, bytes.length), writing]);
    assert(bytesEqual(got, bytes));
  } finally {
    path.close();
  }
});

Deno.test("utp socket: closing one side resets the other, which forgets it", async () => {
  const path = new FaultyPath(mulberry32(8));
  try {
    const { a, b, server } = await connectPair(path);
    const reading = server.read(new Uint8Array(10));
    a.close();
    await assertRejects(() => reading, Deno.errors.ConnectionReset);
    assertEquals(b.connectionCount, 0);
  } finally {
    path.close();
  }
});

Deno.test("utp socket: a SYN flood from one address is held to the burst", () => {
  const path = new FaultyPath(mulberry32(9));
  try {
    const b = path.socket(2);
    let accepted = 0;
    b.onAccept = () => accepted++;
    for (let id = 0; id < 500; id++) {
      path.inject(encodePacket({ ...HEADER, type: ST_SYN, connectionId: id, seq: 1 }), 1, 2);
    }
    assertEquals(accepted, 20);
    assertEquals(b.connectionCount, 20);
    // A second SYN with a known id is the same connection asking again, not a new one.
    path.inject(encodePacket({ ...HEADER, type: ST_SYN, connectionId: 3, seq: 1 }), 1, 2);
    assertEquals(b.connectionCount, 20);
    // Another address has its own allowance.
    b.receive(encodePacket({ ...HEADER, type: ST_SYN, connectionId: 3, seq: 1 }), "127.0.0.9", 1);
    assertEquals(accepted, 21);
  } finally {
    path.close();
  }
});

Deno.test("utp socket: SYNs are ignored while nobody accepts, and past the connection cap", () => {
  const path = new FaultyPath(mulberry32(10));
  try {
    const b = path.socket(2, { maxConnections: 3 });
    path.inject(encodePacket({ ...HEADER, type: ST_SYN, connectionId: 1, seq: 1 }), 1, 2);
    assertEquals(b.connectionCount, 0);
    b.onAccept = () => {};
    for (let port = 10; port < 20; port++) {
      path.inject(encodePacket({ ...HEADER, type: ST_SYN, connectionId: 1, seq: 1 }), port, 2);
    }
    assertEquals(b.connectionCount, 3);
  } finally {
    path.close();
  }
});

Deno.test("utp socket fuzz: hostile packets at a live connection never throw", async () => {
  const r = mulberry32(11);
  const path = new FaultyPath(r, { truncate: 0.01, loss: 0.01 });
  try {
    const { client, server } = await connectPair(path);
    const bytes = payload(11, 300_000);
    const reading = receive(server, bytes.length).catch((e) => e);
    const writing = send(client, bytes, r).catch((e) => e);
    // Packets aimed at both ends' ids with every field mutated, garbage and resets mixed in.
    const ids = [client.recvId, client.sendId, server.recvId, server.sendId];
    for (let i = 0; i < 3000; i++) {
      const type = randomInt(r, 5);
      const header = {
        type,
        connectionId: ids[randomInt(r, 4)],
        timestamp: randomInt(r, 2 ** 32),
        timestampDifference: randomInt(r, 2 ** 32),
        windowSize: randomInt(r, 2 ** 32),
        seq: randomInt(r, 65536),
        ack: randomInt(r, 65536),
      };
      const body = type === ST_DATA ? payload(i, 1 + randomInt(r, 1500)) : undefined;
      const sack = r() < 0.3 ? payload(i, 4 * (1 + randomInt(r, 8))) : undefined;
      const packet = mutate(encodePacket(header, body, { sack }), r);
      const [from, to] = r() < 0.5 ? [1, 2] : [2, 1];
      path.inject(packet, from, to);
      if (i % 100 === 0) await new Promise((s) => setTimeout(s, 1));
    }
    // Each side settles: the bytes (perhaps spoiled: uTP has no checksum), an end, or an error.
    await Promise.race([
      Promise.all([reading, writing]),
      new Promise((_, reject) => setTimeout(() => reject(new Error("a stream hung")), 60_000)),
    ]);
    client.close();
    server.close();
  } finally {
    path.close();
  }
});

Deno.test("utp socket: only uTP datagrams are claimed, so the DHT gets the rest", () => {
  const path = new FaultyPath(mulberry32(12));
  try {
    const b = path.socket(2);
    assertEquals(b.receive(new TextEncoder().encode("d1:y1:qe" + " ".repeat(20)), "::1", 1), false);
    assertEquals(b.receive(new Uint8Array(HEADER_SIZE - 1).fill(0x41), "::1", 1), false);
    assertEquals(b.receive(encodePacket({ ...HEADER, type: ST_RESET }), "::1", 1), true);
  } finally {
    path.close();
  }
});

Deno.test("utp over UDP: a relay with 25 ms each way and 1 % loss, both ways", async () => {
  const [a, b] = [await UdpPort.bind("127.0.0.1", 0), await UdpPort.bind("127.0.0.1", 0)];
  const relay = await startUdpRelay(b.port, { delayMs: 25, loss: 0.01, seed: 13 });
  const [ua, ub] = [new UtpSocket(a), new UtpSocket(b)];
  a.addReceiver(ua.receive);
  b.addReceiver(ub.receive);
  try {
    const accepted = Promise.withResolvers<UtpConnection>();
    ub.onAccept = accepted.resolve;
    const client = await ua.connect("127.0.0.1", relay.port, AbortSignal.timeout(10_000));
    const server = await accepted.promise;
    const up = payload(13, 1 << 20), down = payload(14, 1 << 20);
    await exchange({ client, server }, [ua, ub], { up, down }, mulberry32(13));
    assert(relay.stats.dropped > 0, "the relay dropped nothing: the test proves little");
  } finally {
    ua.close();
    ub.close();
    await a.close();
    await b.close();
    await relay.close();
  }
});

Deno.test("utp over UDP: IPv6 ([::1]) as over IPv4", async () => {
  let a: UdpPort, b: UdpPort;
  try {
    [a, b] = [await UdpPort.bind("::1", 0), await UdpPort.bind("::1", 0)];
  } catch {
    console.log("skipping: no IPv6 loopback on this machine");
    return;
  }
  const [ua, ub] = [new UtpSocket(a), new UtpSocket(b)];
  a.addReceiver(ua.receive);
  b.addReceiver(ub.receive);
  try {
    const accepted = Promise.withResolvers<UtpConnection>();
    ub.onAccept = accepted.resolve;
    const client = await ua.connect("::1", b.port, AbortSignal.timeout(10_000));
    const bytes = payload(15, 200_000);
    await client.write(bytes);
    const server = await accepted.promise;
    assertEquals(server.remoteAddress, `[::1]:${a.port}`);
    assert(bytesEqual(await receive(server, bytes.length), bytes));
  } finally {
    ua.close();
    ub.close();
    await a.close();
    await b.close();
  }
});
