/** FrameReader over real loopback sockets: frames intact, and a buffer sized by the sender. */
import { assert, assertEquals } from "../assert.ts";
import { FrameReader } from "../../src/peer/connection.ts";
import { TcpStream } from "../../src/peer/stream.ts";

interface Pair {
  reader: FrameReader;
  send: Deno.TcpConn;
  close(): void;
}

async function pair(): Promise<Pair> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const send = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const received = await listener.accept();
  listener.close();
  return {
    reader: new FrameReader(new TcpStream(received)),
    send,
    close() {
      send.close();
      received.close();
    },
  };
}

/** Frame `n`: a length prefix and `length` bytes that depend on `n` and their position. */
function frame(n: number, length: number): Uint8Array {
  const out = new Uint8Array(4 + length);
  new DataView(out.buffer).setUint32(0, length);
  for (let i = 0; i < length; i++) out[4 + i] = (n * 31 + i) & 0xff;
  return out;
}

function assertFrame(body: Uint8Array | null, n: number, length: number): void {
  assert(body !== null, `frame ${n} missing`);
  assertEquals(body.length, length, `frame ${n} length`);
  for (let i = 0; i < length; i += 997) {
    assertEquals(body[i], (n * 31 + i) & 0xff, `frame ${n} byte ${i}`);
  }
  if (length > 0) assertEquals(body[length - 1], (n * 31 + length - 1) & 0xff);
}

async function sendAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

Deno.test("frames of every size arrive intact, including one larger than the buffer's cap", async () => {
  const p = await pair();
  const sizes = [0, 1, 16_397, 70_000, 65_532, 300_000, 5, 262_144, 131_072, 3];
  const all = sizes.map((size, n) => frame(n, size));
  const sending = (async () => {
    for (const f of all) await sendAll(p.send, f);
  })();
  try {
    for (let n = 0; n < sizes.length; n++) assertFrame(await p.reader.frame(1 << 20), n, sizes[n]);
    await sending;
    assert(p.reader.capacity >= 300_004, "grew to hold the largest frame");
  } finally {
    p.close();
  }
});

Deno.test("a slow sender leaves the read buffer small; a fast one grows it to 256 KiB", async () => {
  const slow = await pair();
  try {
    for (let n = 0; n < 20; n++) {
      await sendAll(slow.send, frame(n, 16_397));
      assertFrame(await slow.reader.frame(1 << 20), n, 16_397);
    }
    assertEquals(slow.reader.capacity, 64 * 1024);
  } finally {
    slow.close();
  }
  const fast = await pair();
  try {
    const count = 512; // 8 MiB of blocks, written without waiting for the reader
    const sending = (async () => {
      for (let n = 0; n < count; n++) await sendAll(fast.send, frame(n, 16_397));
    })();
    for (let n = 0; n < count; n++) assertFrame(await fast.reader.frame(1 << 20), n, 16_397);
    await sending;
    assertEquals(fast.reader.capacity, 256 * 1024);
  } finally {
    fast.close();
  }
});
