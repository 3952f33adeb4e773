/**
 * The incoming side: routing handshakes to the torrents this process serves, by info-hash for a
 * plain handshake and by MSE's hash of it for an encrypted one, and accepting a stream a peer
 * opened under the encryption policy.
 *
 * @module
 */
import {
  completeIncoming,
  FrameReader,
  type HandshakeOptions,
  type PeerConnection,
  withDeadline,
} from "./connection.ts";
import { CRYPTO_PLAINTEXT, CRYPTO_RC4, mseRespond, skeyHash } from "./mse.ts";
import { ProtocolError } from "./messages.ts";
import type { ByteStream } from "./stream.ts";
import { bytesEqual, toHex } from "../util/mod.ts";

/**
 * Whether connections are encrypted (MSE): `prefer` dials encrypted, falls back to plaintext,
 * and accepts both; `require` only encrypted (RC4) both ways; `off` only plaintext.
 */
export type EncryptionPolicy = "prefer" | "require" | "off";

/** Where an inbound handshake for one torrent goes. */
export interface IncomingRoute {
  options: HandshakeOptions;
  adopt(peer: PeerConnection): void;
}

/**
 * The torrents inbound peers may ask for. Each entry names who takes its peers right now (the
 * metadata phase, then the download); an MSE handshake names its torrent only by
 * HASH('req2', info-hash), so that hash is kept too and found in one lookup.
 *
 * @example
 * ```ts
 * import { PeerRouter } from "./listener.ts";
 * const router = new PeerRouter();
 * router.add(new Uint8Array(20), () => undefined);
 * console.log(router.size); // 1
 * ```
 */
export class PeerRouter {
  readonly #byInfoHash = new Map<string, () => IncomingRoute | undefined>();
  readonly #bySkeyHash = new Map<string, Uint8Array>();

  /** Routes `infoHash` to whatever `target` returns when a peer asks (none: refused). */
  add(infoHash: Uint8Array, target: () => IncomingRoute | undefined): void {
    this.#byInfoHash.set(toHex(infoHash), target);
    this.#bySkeyHash.set(toHex(skeyHash(infoHash)), infoHash.slice());
  }

  delete(infoHash: Uint8Array): void {
    this.#byInfoHash.delete(toHex(infoHash));
    this.#bySkeyHash.delete(toHex(skeyHash(infoHash)));
  }

  get size(): number {
    return this.#byInfoHash.size;
  }

  /** Who takes a peer asking for `infoHash` now, if anyone. */
  route(infoHash: Uint8Array): IncomingRoute | undefined {
    return this.#byInfoHash.get(toHex(infoHash))?.();
  }

  /** The info-hash whose HASH('req2', info-hash) is `hash`, if served. */
  infoHashOfSkey(hash: Uint8Array): Uint8Array | undefined {
    return this.#bySkeyHash.get(toHex(hash));
  }
}

const PLAIN_START = new TextEncoder().encode("\x13BitTorrent protocol");

/** The crypto_select we answer an initiator's crypto_provide with: RC4 when offered. */
export function selectCrypto(policy: EncryptionPolicy, provided: number): number {
  if (policy === "off") return 0;
  if (provided & CRYPTO_RC4) return CRYPTO_RC4;
  return policy === "prefer" ? provided & CRYPTO_PLAINTEXT : 0;
}

/**
 * Takes a stream a peer opened through its handshake: a plain BitTorrent handshake, or (when its
 * first bytes are not one) MSE first, as `policy` allows. Resolves with the handshaken peer and
 * the route that takes it; rejects, with the stream closed, on any failure or after `timeoutMs`.
 *
 * @example
 * ```ts
 * import { acceptPeer, PeerRouter } from "./listener.ts";
 * import { streamPair } from "./stream.ts";
 * const [dialler, accepted] = streamPair();
 * await dialler.write(new TextEncoder().encode("GET /announce HTTP/1.1\r\n\r\n"));
 * dialler.close();
 * const outcome = await acceptPeer(accepted, new PeerRouter(), "require", 1000).catch((e) => e);
 * console.log(outcome.message); // encryption handshake: connection closed
 * ```
 */
export function acceptPeer(
  stream: ByteStream,
  router: PeerRouter,
  policy: EncryptionPolicy,
  timeoutMs: number,
): Promise<{ peer: PeerConnection; route: IncomingRoute }> {
  return withDeadline(stream, timeoutMs, "handshake", async () => {
    let reader = new FrameReader(stream);
    const head = await reader.peek(PLAIN_START.length);
    if (head === null) throw new ProtocolError("connection closed before the handshake");
    let named: Uint8Array | undefined;
    if (!bytesEqual(head, PLAIN_START)) {
      if (policy === "off") {
        throw new ProtocolError("encrypted handshake refused: encryption is off");
      }
      const mse = await mseRespond(reader, {
        lookup: (hash) => router.infoHashOfSkey(hash),
        select: (provided) => selectCrypto(policy, provided),
      });
      named = mse.infoHash;
      reader = new FrameReader(mse.stream, undefined, mse.buffered);
    } else if (policy === "require") {
      throw new ProtocolError("plaintext handshake refused: encryption is required");
    }
    let route: IncomingRoute | undefined;
    const peer = await completeIncoming(reader, (infoHash) => {
      // After MSE, the handshake must name the torrent the encryption was keyed with.
      if (named && !bytesEqual(infoHash, named)) return undefined;
      route = router.route(infoHash);
      return route?.options;
    });
    return { peer, route: route! };
  });
}
