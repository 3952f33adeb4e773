/**
 * A scriptable fake peer for hostile-peer tests: it listens on 127.0.0.1, and for every
 * connection runs a script that speaks (or abuses) the wire protocol by hand. Written from
 * BEP 3 directly, without our own peer code, so it can send what that code never would. It
 * speaks plaintext only, as many real peers do: a connection that opens with anything but a
 * BitTorrent handshake (our MSE attempt) is hung up on and not given to the script.
 *
 * @module
 */
import type { Torrent } from "../../src/metainfo/mod.ts";
import { LOOPBACK } from "./helpers.ts";

const PROTOCOL = new TextEncoder().encode("BitTorrent protocol");
/** Largest frame the fake peer reads (a block plus header is far below). */
const MAX_FRAME = 1 << 20;

/** Wire ids used by the scripts (BEP 3). */
export const Id = {
  choke: 0,
  unchoke: 1,
  interested: 2,
  notInterested: 3,
  have: 4,
  bitfield: 5,
  request: 6,
  piece: 7,
  cancel: 8,
} as const;

/** One message read from the other side; `id` is -1 for a keep-alive. */
export interface RawMessage {
  id: number;
  payload: Uint8Array;
}

/** A request the leecher sent us, decoded. */
export interface BlockRequest {
  index: number;
  begin: number;
  length: number;
}

/** Frames a message: 4-byte length, id, payload. */
export function frame(id: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  new DataView(out.buffer).setUint32(0, 1 + payload.length);
  out[4] = id;
  out.set(payload, 5);
  return out;
}

/** Big-endian u32s, for message payloads. */
export function u32s(...values: number[]): Uint8Array {
  const out = new Uint8Array(4 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint32(4 * i, v));
  return out;
}

/** A full bitfield for `pieceCount` pieces (spare bits clear, as BEP 3 requires). */
export function fullBitfield(pieceCount: number): Uint8Array {
  const bits = new Uint8Array(Math.ceil(pieceCount / 8)).fill(0xff);
  const spare = bits.length * 8 - pieceCount;
  if (spare > 0) bits[bits.length - 1] = (0xff << spare) & 0xff;
  return bits;
}

/** A PIECE message carrying `block` for `index`/`begin`. */
export function pieceMessage(index: number, begin: number, block: Uint8Array): Uint8Array {
  const payload = new Uint8Array(8 + block.length);
  payload.set(u32s(index, begin));
  payload.set(block, 8);
  return frame(Id.piece, payload);
}

/** A fresh peer id for a fake peer: `-FK0001-` and 12 random bytes. */
export function fakePeerId(): Uint8Array {
  const id = new Uint8Array(20);
  id.set(new TextEncoder().encode("-FK0001-"));
  crypto.getRandomValues(id.subarray(8));
  return id;
}

/** Dials `port` on 127.0.0.1 and wraps the connection (for a fake peer that calls us). */
export async function dial(port: number): Promise<Wire> {
  return new Wire(await Deno.connect({ hostname: LOOPBACK, port }));
}

/** One accepted connection, with helpers to read and write the wire by hand. */
export class Wire {
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  #closed = false;
  /** Requests received so far on this connection. */
  requests = 0;

  constructor(readonly conn: Deno.TcpConn) {}

  /** True once we closed it or saw it end. */
  get closed(): boolean {
    return this.#closed;
  }

  async #fill(n: number): Promise<boolean> {
    if (this.#end - this.#start >= n) return true;
    if (this.#buf.length < n) {
      const next = new Uint8Array(n);
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#end -= this.#start;
      this.#start = 0;
      this.#buf = next;
    } else if (this.#buf.length - this.#start < n) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    while (this.#end - this.#start < n) {
      let got: number | null;
      try {
        got = await this.conn.read(this.#buf.subarray(this.#end));
      } catch {
        got = null; // reset or closed under us: same as the end of the stream here
      }
      if (got === null) {
        this.#closed = true;
        return false;
      }
      this.#end += got;
    }
    return true;
  }

  async #take(n: number): Promise<Uint8Array | null> {
    if (!(await this.#fill(n))) return null;
    const out = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  /** True when the other side opened with a plaintext handshake (nothing is consumed). */
  async opensPlain(): Promise<boolean> {
    if (!(await this.#fill(PROTOCOL.length + 1))) return false;
    const head = this.#buf.subarray(this.#start, this.#start + PROTOCOL.length + 1);
    return head[0] === PROTOCOL.length && PROTOCOL.every((b, i) => head[i + 1] === b);
  }

  /** Reads the other side's handshake and returns its info-hash, or null if it hung up. */
  async readHandshake(): Promise<Uint8Array | null> {
    const h = await this.#take(68);
    if (h === null) return null;
    if (h[0] !== PROTOCOL.length) throw new Error("fake peer: not a handshake");
    return h.slice(28, 48);
  }

  /** Sends a handshake for `infoHash` with no extension bits (peer id random unless given). */
  async sendHandshake(infoHash: Uint8Array, peerId = fakePeerId()): Promise<boolean> {
    const h = new Uint8Array(68);
    h[0] = PROTOCOL.length;
    h.set(PROTOCOL, 1);
    h.set(infoHash, 28);
    h.set(peerId, 48);
    return await this.write(h);
  }

  /** Answers an inbound handshake: reads theirs, then sends ours for the same torrent. */
  async handshake(peerId?: Uint8Array): Promise<boolean> {
    const infoHash = await this.readHandshake();
    if (infoHash === null) return false;
    return await this.sendHandshake(infoHash, peerId);
  }

  /** Writes all of `bytes`; false when the connection is gone. */
  async write(bytes: Uint8Array): Promise<boolean> {
    if (this.#closed) return false;
    try {
      let at = 0;
      while (at < bytes.length) at += await this.conn.write(bytes.subarray(at));
      return true;
    } catch {
      this.#closed = true;
      return false;
    }
  }

  /** The next message (keep-alive: id -1), or null when the other side hung up. */
  async read(): Promise<RawMessage | null> {
    const prefix = await this.#take(4);
    if (prefix === null) return null;
    const length = new DataView(prefix.buffer).getUint32(0);
    if (length > MAX_FRAME) throw new Error(`fake peer: frame of ${length} bytes`);
    if (length === 0) return { id: -1, payload: new Uint8Array(0) };
    const body = await this.#take(length);
    if (body === null) return null;
    return { id: body[0], payload: body.subarray(1) };
  }

  /** The next REQUEST, skipping other messages; null when the other side hung up. */
  async nextRequest(): Promise<BlockRequest | null> {
    for (;;) {
      const m = await this.read();
      if (m === null) return null;
      if (m.id !== Id.request || m.payload.length !== 12) continue;
      const v = new DataView(m.payload.buffer, m.payload.byteOffset, 12);
      this.requests++;
      return { index: v.getUint32(0), begin: v.getUint32(4), length: v.getUint32(8) };
    }
  }

  /** Reads and discards until the other side hangs up; true if it did within `timeoutMs`. */
  async waitForHangup(timeoutMs: number): Promise<boolean> {
    const timer = setTimeout(() => this.close(), timeoutMs);
    const started = performance.now();
    try {
      while ((await this.read()) !== null) { /* discard */ }
    } catch {
      // a frame too large to read: the peer is certainly not well-behaved, keep draining
      this.close();
    } finally {
      clearTimeout(timer);
    }
    return performance.now() - started < timeoutMs;
  }

  /** Closes our side (again is harmless). */
  close(): void {
    this.#closed = true;
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

/** What a fake peer does with each connection; `n` counts connections from 0. */
export type Script = (wire: Wire, n: number) => Promise<void>;

/** A listening fake peer running `script` on every connection it accepts. */
export class FakePeer {
  readonly #listener: Deno.TcpListener;
  readonly #running = new Set<Promise<void>>();
  readonly #wires = new Set<Wire>();
  /** Connections accepted so far (those that opened with a plaintext handshake). */
  accepted = 0;
  /** Connections hung up on at once: they did not open with a plaintext handshake. */
  refused = 0;
  /** Errors the scripts threw (a test asserts there are none it did not expect). */
  readonly errors: unknown[] = [];
  #loop: Promise<void>;

  constructor(script: Script) {
    const listener = Deno.listen({ hostname: LOOPBACK, port: 0 });
    this.#listener = listener;
    this.#loop = (async () => {
      try {
        for await (const conn of listener) {
          const wire = new Wire(conn);
          this.#wires.add(wire);
          const run = wire.opensPlain().then((plain) => {
            if (!plain) {
              this.refused++;
              return;
            }
            return script(wire, this.accepted++);
          }).catch((e) => {
            this.errors.push(e);
          }).finally(() => {
            wire.close();
            this.#wires.delete(wire);
            this.#running.delete(run);
          });
          this.#running.add(run);
        }
      } catch { /* listener closed */ }
    })();
  }

  /** The port to dial. */
  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  /** The address to hand to a session. */
  get address(): { host: string; port: number } {
    return { host: LOOPBACK, port: this.port };
  }

  /** Stops listening, closes every connection and waits for the scripts to end. */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch { /* already closed */ }
    for (const w of this.#wires) w.close();
    await this.#loop;
    await Promise.allSettled([...this.#running]);
  }
}

/** Handshake, full bitfield, unchoke: what a seeder says first. */
export async function actLikeASeeder(
  w: Wire,
  torrent: Torrent,
  peerId?: Uint8Array,
): Promise<boolean> {
  return await w.handshake(peerId) &&
    await w.write(frame(Id.bitfield, fullBitfield(torrent.pieceCount))) &&
    await w.write(frame(Id.unchoke));
}

/** A promise with its resolve function, for handing signals between a test and a script. */
export function signal<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
