/**
 * The allowed-fast set of BEP 6: pieces a peer may request from us even while choked, so a new
 * peer can get its first pieces at once. Both sides compute it the same way from the peer's
 * IPv4 address (its /24 network) and the info-hash.
 *
 * @module
 */
import { sha1 } from "../util/mod.ts";

/**
 * The first `k` allowed-fast pieces for a peer at `ipv4` (dotted quad), BEP 6's canonical
 * algorithm; empty for IPv6 or an unparsable address.
 *
 * @example
 * ```ts
 * import { allowedFastSet } from "./allowed_fast.ts";
 * // BEP 6's own example: 80.4.4.200, info-hash of 0xaa bytes, 1313 pieces.
 * const set = allowedFastSet("80.4.4.200", new Uint8Array(20).fill(0xaa), 1313, 7);
 * console.log(set); // [ 1059, 431, 808, 1217, 287, 376, 1188 ]
 * ```
 */
export function allowedFastSet(
  ipv4: string,
  infoHash: Uint8Array,
  pieceCount: number,
  k: number,
): number[] {
  const parts = ipv4.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255)) || pieceCount === 0) {
    return [];
  }
  const want = Math.min(k, pieceCount);
  let x: Uint8Array = new Uint8Array(24);
  x.set([parts[0], parts[1], parts[2], 0]);
  x.set(infoHash, 4);
  const out: number[] = [];
  while (out.length < want) {
    x = sha1(x);
    const view = new DataView(x.buffer, x.byteOffset, x.byteLength);
    for (let i = 0; i < 5 && out.length < want; i++) {
      const index = view.getUint32(i * 4) % pieceCount;
      if (!out.includes(index)) out.push(index);
    }
  }
  return out;
}
