/**
 * The BitTorrent handshake (BEP 3): protocol string, reserved bits, info-hash, peer id.
 *
 * @module
 */
import { ProtocolError } from "./messages.ts";

/** Length of a handshake on the wire. */
export const HANDSHAKE_LENGTH = 68;
const PROTOCOL = new TextEncoder().encode("BitTorrent protocol");

/** What a handshake carries. */
export interface Handshake {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  /** BEP 10 extension protocol (reserved bit 20 from the right). */
  extensions: boolean;
  /** BEP 6 fast extension (reserved bit 2 from the right). */
  fast: boolean;
  /** BEP 5 DHT (last reserved bit). */
  dht: boolean;
  /** BEP 52: the peer knows v2 torrents (the fourth bit from the left of the last byte). */
  v2: boolean;
}

/**
 * Encodes our handshake.
 *
 * @example
 * ```ts
 * import { encodeHandshake, parseHandshake } from "./handshake.ts";
 * const h = { infoHash: new Uint8Array(20), peerId: new Uint8Array(20), extensions: true, fast: true, dht: false, v2: false };
 * console.log(parseHandshake(encodeHandshake(h)).fast); // true
 * ```
 */
export function encodeHandshake(h: Handshake): Uint8Array {
  const out = new Uint8Array(HANDSHAKE_LENGTH);
  out[0] = PROTOCOL.length;
  out.set(PROTOCOL, 1);
  if (h.extensions) out[25] |= 0x10;
  if (h.fast) out[27] |= 0x04;
  if (h.dht) out[27] |= 0x01;
  if (h.v2) out[27] |= 0x10;
  out.set(h.infoHash, 28);
  out.set(h.peerId, 48);
  return out;
}

/** Parses 68 handshake bytes; throws `ProtocolError` when they are not a BitTorrent handshake. */
export function parseHandshake(b: Uint8Array): Handshake {
  if (b.length < HANDSHAKE_LENGTH || b[0] !== PROTOCOL.length) {
    throw new ProtocolError("not a BitTorrent handshake");
  }
  for (let i = 0; i < PROTOCOL.length; i++) {
    if (b[1 + i] !== PROTOCOL[i]) throw new ProtocolError("not a BitTorrent handshake");
  }
  return {
    infoHash: b.slice(28, 48),
    peerId: b.slice(48, 68),
    extensions: (b[25] & 0x10) !== 0,
    fast: (b[27] & 0x04) !== 0,
    dht: (b[27] & 0x01) !== 0,
    v2: (b[27] & 0x10) !== 0,
  };
}

/**
 * A fresh Azureus-style peer id: `-DN0100-` then 12 random bytes.
 *
 * @example
 * ```ts
 * import { makePeerId } from "./handshake.ts";
 * console.log(makePeerId().length); // 20
 * ```
 */
export function makePeerId(): Uint8Array {
  const id = new Uint8Array(20);
  id.set(new TextEncoder().encode("-DN0100-"));
  crypto.getRandomValues(id.subarray(8));
  return id;
}
