/**
 * Helpers for the tracker tests: a seeded PRNG and input mutators for fuzzing, byte builders,
 * and small UDP server scaffolding on 127.0.0.1.
 *
 * @module
 */
import dgram from "node:dgram";
import type { AnnounceParams } from "../../src/tracker/mod.ts";
import { concatBytes } from "../../src/util/mod.ts";
import { mulberry32 } from "../random.ts";

/** Deterministic PRNG (mulberry32, from tests/random.ts) returning numbers in [0, 1). */
export const seeded = mulberry32;

/** A mutated copy of `input`: flipped bytes, insertions, deletions, truncation, splices. */
export function mutate(input: Uint8Array, rand: () => number): Uint8Array {
  const bytes = Array.from(input);
  const ops = 1 + Math.floor(rand() * 6);
  const interesting = [0x30, 0x39, 0x3a, 0x64, 0x65, 0x69, 0x6c, 0x2d, 0x00, 0xff, 0x7f, 0x80];
  for (let k = 0; k < ops; k++) {
    const pos = Math.floor(rand() * (bytes.length + 1));
    const r = rand();
    if (r < 0.3 && bytes.length > 0) bytes[pos % bytes.length] = Math.floor(rand() * 256);
    else if (r < 0.45) bytes.splice(pos, 0, interesting[Math.floor(rand() * interesting.length)]);
    else if (r < 0.6) bytes.splice(pos, 1 + Math.floor(rand() * 4));
    else if (r < 0.7) bytes.length = Math.min(bytes.length, pos);
    else if (r < 0.8 && bytes.length > 0) {
      const from = Math.floor(rand() * bytes.length);
      bytes.splice(pos, 0, ...bytes.slice(from, from + 1 + Math.floor(rand() * 16)));
    } else if (r < 0.9) {
      for (let i = 0; i < 1 + Math.floor(rand() * 8); i++) {
        bytes.splice(pos, 0, Math.floor(rand() * 256));
      }
    } else if (bytes.length > 0) bytes[pos % bytes.length] ^= 1 << Math.floor(rand() * 8);
  }
  return Uint8Array.from(bytes);
}

/** Random bytes of a random length up to `max`. */
export function randomBytes(rand: () => number, max: number): Uint8Array {
  const out = new Uint8Array(Math.floor(rand() * (max + 1)));
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

/** Bytes of a latin-1 string (one byte per char). */
export function bin(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
}

/** Concatenates byte arrays. */
export const concat = concatBytes;

/** Standard announce parameters for tests. */
export function params(over: Partial<AnnounceParams> = {}): AnnounceParams {
  return {
    infoHash: new Uint8Array(20).fill(0xab),
    peerId: bin("-TS0001-" + "x".repeat(12)),
    port: 6881,
    uploaded: 0,
    downloaded: 0,
    left: 1000,
    ...over,
  };
}

/** A scripted UDP server on 127.0.0.1: `reply` decides what (if anything) to send back. */
export interface FakeUdp {
  url: string;
  port: number;
  received: Uint8Array[];
  close(): Promise<void>;
}

/** Starts a UDP server on 127.0.0.1 whose answers come from `reply`. */
export async function fakeUdp(
  reply: (packet: Uint8Array, index: number) => Uint8Array[] | Uint8Array | undefined,
): Promise<FakeUdp> {
  const sock = dgram.createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
  const received: Uint8Array[] = [];
  sock.on("message", (msg: Uint8Array, rinfo: dgram.RemoteInfo) => {
    const packet = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength).slice();
    received.push(packet);
    const out = reply(packet, received.length - 1);
    const list = out === undefined ? [] : Array.isArray(out) ? out : [out];
    for (const p of list) sock.send(p, rinfo.port, rinfo.address);
  });
  const port = sock.address().port;
  return {
    url: `udp://127.0.0.1:${port}`,
    port,
    received,
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
}

/** Builds a UDP connect answer. */
export function connectReply(tid: number, connectionId: bigint): Uint8Array {
  const p = new Uint8Array(16);
  const v = new DataView(p.buffer);
  v.setUint32(0, 0);
  v.setUint32(4, tid);
  v.setBigUint64(8, connectionId);
  return p;
}

/** Builds a UDP announce answer with the given compact peers. */
export function announceReply(
  tid: number,
  interval: number,
  peers: Uint8Array = new Uint8Array(0),
  leechers = 0,
  seeders = 0,
): Uint8Array {
  const p = new Uint8Array(20 + peers.length);
  const v = new DataView(p.buffer);
  v.setUint32(0, 1);
  v.setUint32(4, tid);
  v.setUint32(8, interval);
  v.setUint32(12, leechers);
  v.setUint32(16, seeders);
  p.set(peers, 20);
  return p;
}

/** Builds a UDP error answer. */
export function errorReply(tid: number, message: string): Uint8Array {
  return concat(new Uint8Array([0, 0, 0, 3]), u32(tid), new TextEncoder().encode(message));
}

/** Big-endian u32 bytes. */
export function u32(n: number): Uint8Array {
  const p = new Uint8Array(4);
  new DataView(p.buffer).setUint32(0, n);
  return p;
}

/** Reads action, transaction id and connection id of a client's UDP request. */
export function readRequest(p: Uint8Array): { connectionId: bigint; action: number; tid: number } {
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  return { connectionId: v.getBigUint64(0), action: v.getUint32(8), tid: v.getUint32(12) };
}
