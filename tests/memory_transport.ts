/**
 * A `Transport` in memory, for engine tests without sockets: listeners are ports in a table, a
 * dial makes a `streamPair` and hands one end to the listener. Deterministic and fast; the wire
 * code above it (handshakes, MSE, framing) runs unchanged.
 *
 * @module
 */
import {
  type AcceptHandlers,
  type ByteStream,
  type StreamListener,
  streamPair,
  type Transport,
} from "../src/peer/mod.ts";

/** Ports of one in-memory network. Every listener is at 127.0.0.1. */
export class MemoryTransport implements Transport {
  readonly #listeners = new Map<number, AcceptHandlers>();
  #nextPort = 20_000;
  /** Dials made, for tests that count them. */
  dials = 0;

  dial(host: string, port: number, signal: AbortSignal): Promise<ByteStream> {
    this.dials++;
    if (signal.aborted) return Promise.reject(signal.reason);
    const handlers = this.#listeners.get(port);
    if (!handlers) return Promise.reject(new Deno.errors.ConnectionRefused(`${host}:${port}`));
    const [ours, theirs] = streamPair({
      addresses: [`127.0.0.1:${this.#nextPort++}`, `${host}:${port}`],
    });
    queueMicrotask(() => handlers.accept(theirs));
    return Promise.resolve(ours);
  }

  listen(_hostname: string | undefined, port: number, handlers: AcceptHandlers): StreamListener {
    if (port === 0) port = this.#nextPort++;
    if (this.#listeners.has(port)) throw new Deno.errors.AddrInUse(`port ${port}`);
    this.#listeners.set(port, handlers);
    return { port, close: () => void this.#listeners.delete(port) };
  }
}
