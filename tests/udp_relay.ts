/**
 * A lossy, slow UDP path for tests and benchmarks: a relay on 127.0.0.1 that forwards what a
 * client sends to one target and the target's answers back to the client, delaying each
 * datagram, dropping some, reordering and duplicating a few, all from a seeded generator.
 *
 * Run on its own (for benchmarks where both ends are other processes):
 * `deno run -A tests/udp_relay.ts <target-port> [delay-ms] [loss] [seed]` prints its port.
 *
 * @module
 */
import dgram from "node:dgram";
import { mulberry32 } from "./random.ts";

/** How the relay spoils the path. */
export interface RelayOptions {
  /** Delay added each way, milliseconds; default 25. */
  delayMs?: number;
  /** Share of datagrams dropped, 0..1; default 0.01. */
  loss?: number;
  /** Share of datagrams held back an extra delay, so later ones pass them; default 0.01. */
  reorder?: number;
  /** Share of datagrams sent twice; default 0.002. */
  duplicate?: number;
  seed?: number;
}

/** A running relay. */
export interface UdpRelay {
  /** Where clients send, in place of the target's port. */
  readonly port: number;
  /** Datagrams forwarded and dropped so far. */
  readonly stats: { forwarded: number; dropped: number };
  close(): Promise<void>;
}

/**
 * Starts a relay in front of `127.0.0.1:targetPort`. Several clients may use it: the relay
 * keeps one upstream socket per client, so the target tells them apart and each answer goes
 * back to the client it is for.
 */
export async function startUdpRelay(
  targetPort: number,
  options: RelayOptions = {},
): Promise<UdpRelay> {
  const delay = options.delayMs ?? 25;
  const loss = options.loss ?? 0.01;
  const reorder = options.reorder ?? 0.01;
  const duplicate = options.duplicate ?? 0.002;
  const random = mulberry32(options.seed ?? 1);
  const stats = { forwarded: 0, dropped: 0 };
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const front = await bound();
  const upstreams = new Map<string, Promise<dgram.Socket>>();

  const pass = (socket: dgram.Socket, msg: Uint8Array, port: number) => {
    if (random() < loss) {
      stats.dropped++;
      return;
    }
    const copies = random() < duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const wait = delay + (random() < reorder ? delay / 2 + random() * delay : 0);
      const timer = setTimeout(() => {
        timers.delete(timer);
        stats.forwarded++;
        try {
          socket.send(msg, port, "127.0.0.1");
        } catch { /* closed meanwhile */ }
      }, wait);
      timers.add(timer);
    }
  };

  front.on("message", (msg: Uint8Array, from: dgram.RemoteInfo) => {
    const key = `${from.address}:${from.port}`;
    let upstream = upstreams.get(key);
    if (!upstream) {
      upstream = bound().then((socket) => {
        socket.on("message", (answer: Uint8Array) => pass(front, answer, from.port));
        return socket;
      });
      upstreams.set(key, upstream);
    }
    upstream.then((socket) => pass(socket, msg, targetPort));
  });

  return {
    port: front.address().port,
    stats,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const socket of [front, ...await Promise.all(upstreams.values())]) {
        await new Promise<void>((resolve) => socket.close(() => resolve()));
      }
    },
  };
}

function bound(): Promise<dgram.Socket> {
  const socket = dgram.createSocket("udp4");
  return new Promise((resolve) => socket.bind(0, "127.0.0.1", () => resolve(socket)));
}

if (import.meta.main) {
  const [target, delayMs, loss, seed] = Deno.args.map(Number);
  if (!(target > 0)) {
    console.error("usage: udp_relay.ts <target-port> [delay-ms] [loss] [seed]");
    Deno.exit(2);
  }
  const relay = await startUdpRelay(target, {
    delayMs: Number.isFinite(delayMs) ? delayMs : undefined,
    loss: Number.isFinite(loss) ? loss : undefined,
    seed: Number.isFinite(seed) ? seed : undefined,
  });
  console.log(relay.port);
}
