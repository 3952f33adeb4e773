/**
 * Message Stream Encryption (MSE, also called Protocol Encryption): the Diffie-Hellman handshake
 * that hides a BitTorrent connection from traffic shaping, both ways, and the RC4 stream that
 * carries the payload after it. The steps, as the specification numbers them:
 *
 * 1. A→B: Ya, PadA
 * 2. B→A: Yb, PadB
 * 3. A→B: HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
 *    ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
 * 4. B→A: ENCRYPT(VC, crypto_select, len(PadD), PadD), ENCRYPT2(payload)
 * 5. A→B: ENCRYPT2(payload)
 *
 * S is the DH secret, SKEY the torrent's info-hash, VC eight zero bytes, and A encrypts with
 * RC4 keyed by HASH('keyA', S, SKEY), B with HASH('keyB', S, SKEY), each dropping 1024 bytes.
 * Every length a peer sends is bounded by the specification, and the sync points (req1 for B,
 * VC for A) must show up within the padding's limit, so a peer cannot make us read forever.
 *
 * @module
 */
import { type FrameReader, writeAll } from "./connection.ts";
import { ProtocolError } from "./messages.ts";
import type { ByteStream } from "./stream.ts";
import { bytesEqual, concatBytes, Rc4, sha1 } from "../util/mod.ts";

/** A handshake that broke the MSE rules, or failed to agree. */
export class MseError extends ProtocolError {
  constructor(message: string) {
    super(`encryption handshake: ${message}`);
    this.name = "MseError";
  }
}

/** crypto_provide / crypto_select bits. */
export const CRYPTO_PLAINTEXT = 0x01;
export const CRYPTO_RC4 = 0x02;

/** The specification's 768-bit safe prime; the generator is 2. */
const P = BigInt(
  "0xFFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A087" +
    "98E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A3" +
    "6210000000000090563",
);
/** Bytes of a public key or of the secret: P's size. */
export const KEY_LENGTH = 96;
/** The longest PadA, PadB, PadC or PadD. */
export const MAX_PAD = 512;
const VC_LENGTH = 8;
const RC4_DROP = 1024;
const TEXT = new TextEncoder();

/** A Diffie-Hellman key pair of the MSE group. */
export interface DhKeys {
  /** The private exponent. */
  readonly x: bigint;
  /** 2^x mod P, as KEY_LENGTH big-endian bytes. */
  readonly publicKey: Uint8Array;
}

/**
 * A key pair; the private exponent is 160 random bits unless given (tests use fixed ones).
 *
 * @example
 * ```ts
 * import { dhKeys, dhSecret } from "./mse.ts";
 * const a = dhKeys(), b = dhKeys();
 * const s1 = dhSecret(a, b.publicKey), s2 = dhSecret(b, a.publicKey);
 * console.log(s1.length, s1.every((v, i) => v === s2[i])); // 96 true
 * ```
 */
export function dhKeys(x?: bigint): DhKeys {
  if (x === undefined) {
    const bytes = crypto.getRandomValues(new Uint8Array(20));
    bytes[0] |= 0x80; // a full 160 bits
    x = fromBytes(bytes);
  }
  return { x, publicKey: toBytes(modPow(2n, x, P), KEY_LENGTH) };
}

/** S = Y^x mod P for the other side's public key `y`; throws `MseError` on a degenerate key. */
export function dhSecret(keys: DhKeys, y: Uint8Array): Uint8Array {
  const other = fromBytes(y);
  // 0, 1 and P-1 (and anything not below P) would make the secret guessable.
  if (other <= 1n || other >= P - 1n) throw new MseError("invalid public key");
  return toBytes(modPow(other, keys.x, P), KEY_LENGTH);
}

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  base %= modulus;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * base) % modulus;
    base = (base * base) % modulus;
  }
  return result;
}

function fromBytes(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

function toBytes(n: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
}

/** HASH('req2', SKEY): what a receiving side looks a torrent up by. */
export function skeyHash(infoHash: Uint8Array): Uint8Array {
  return sha1(TEXT.encode("req2"), infoHash);
}

/** The two RC4 streams of one side, from the secret and the torrent, first 1024 bytes dropped. */
export function mseCiphers(
  secret: Uint8Array,
  infoHash: Uint8Array,
  side: "A" | "B",
): { encrypt: Rc4; decrypt: Rc4 } {
  const keyed = (name: string) => {
    const rc4 = new Rc4(sha1(TEXT.encode(name), secret, infoHash));
    rc4.discard(RC4_DROP);
    return rc4;
  };
  const a = keyed("keyA"), b = keyed("keyB");
  return side === "A" ? { encrypt: a, decrypt: b } : { encrypt: b, decrypt: a };
}

/**
 * A stream whose payload crosses the wire RC4-encrypted. One write at a time (as the wire code
 * does): each is encrypted whole into a scratch buffer and written out before the next.
 */
export class Rc4Stream implements ByteStream {
  readonly encrypted = true;
  #scratch = new Uint8Array(0);

  constructor(readonly inner: ByteStream, readonly encrypt: Rc4, readonly decrypt: Rc4) {}

  get remoteAddress(): string {
    return this.inner.remoteAddress;
  }

  get transport(): "tcp" | "utp" {
    return this.inner.transport;
  }

  async read(into: Uint8Array): Promise<number | null> {
    const n = await this.inner.read(into);
    if (n !== null) this.decrypt.process(into.subarray(0, n));
    return n;
  }

  async write(bytes: Uint8Array): Promise<number> {
    for (let at = 0; at < bytes.length;) {
      const size = Math.min(bytes.length - at, SCRATCH_MAX);
      if (this.#scratch.length < size) this.#scratch = new Uint8Array(size);
      const out = this.#scratch.subarray(0, size);
      this.encrypt.process(bytes.subarray(at, at + size), out);
      for (let sent = 0; sent < size;) sent += await this.inner.write(out.subarray(sent));
      at += size;
    }
    return bytes.length;
  }

  close(): void {
    this.inner.close();
  }
}

/** The most one encrypted write holds at once: large writes go in slices of this size. */
const SCRATCH_MAX = 256 * 1024;

/** What a finished handshake leaves: the stream to go on with and bytes already read from it. */
export interface MseResult {
  /** An `Rc4Stream`, or the raw stream when plaintext was selected. */
  stream: ByteStream;
  /** Payload bytes received with the handshake (the initial payload, then what followed). */
  buffered: Uint8Array;
}

/** The initiator's choices. */
export interface MseInitiatorOptions {
  infoHash: Uint8Array;
  /** crypto_provide: CRYPTO_RC4, optionally | CRYPTO_PLAINTEXT. */
  provide: number;
  /** Payload to send inside the handshake (our BitTorrent handshake saves a round trip). */
  initialPayload?: Uint8Array;
  /** Fixed keys, for tests against known values. */
  keys?: DhKeys;
}

/**
 * Runs side A of the handshake on a stream we opened; `reader` reads that stream.
 *
 * @example
 * ```ts
 * import { FrameReader } from "./connection.ts";
 * import { CRYPTO_PLAINTEXT, CRYPTO_RC4, mseInitiate, mseRespond, skeyHash } from "./mse.ts";
 * import { streamPair } from "./stream.ts";
 * const infoHash = new Uint8Array(20).fill(9);
 * const [a, b] = streamPair();
 * const [ours, theirs] = await Promise.all([
 *   mseInitiate(new FrameReader(a), { infoHash, provide: CRYPTO_RC4 | CRYPTO_PLAINTEXT }),
 *   mseRespond(new FrameReader(b), {
 *     lookup: (h) => h.every((v, i) => v === skeyHash(infoHash)[i]) ? infoHash : undefined,
 *     select: (provided) => provided & CRYPTO_RC4,
 *   }),
 * ]);
 * await ours.stream.write(new Uint8Array([1, 2, 3]));
 * const into = new Uint8Array(3);
 * await theirs.stream.read(into);
 * console.log(ours.stream.encrypted, into); // true Uint8Array(3) [ 1, 2, 3 ]
 * ```
 */
export async function mseInitiate(
  reader: FrameReader,
  options: MseInitiatorOptions,
): Promise<MseResult> {
  const raw = reader.stream;
  const keys = options.keys ?? dhKeys();
  await writeAll(raw, concatBytes(keys.publicKey, randomPad()));
  const secret = dhSecret(keys, await need(reader, KEY_LENGTH));
  const { encrypt, decrypt } = mseCiphers(secret, options.infoHash, "A");

  const ia = options.initialPayload ?? new Uint8Array(0);
  const padC = randomPad();
  const plain = new Uint8Array(VC_LENGTH + 4 + 2 + padC.length + 2 + ia.length);
  const view = new DataView(plain.buffer);
  view.setUint32(VC_LENGTH, options.provide);
  view.setUint16(VC_LENGTH + 4, padC.length);
  plain.set(padC, VC_LENGTH + 6);
  view.setUint16(VC_LENGTH + 6 + padC.length, ia.length);
  plain.set(ia, VC_LENGTH + 8 + padC.length);
  encrypt.process(plain);
  await writeAll(
    raw,
    concatBytes(
      sha1(TEXT.encode("req1"), secret),
      xor(skeyHash(options.infoHash), req3(secret)),
      plain,
    ),
  );

  // B's VC is the next 8 bytes of its keystream; it follows PadB, at most MAX_PAD bytes.
  const vc = new Uint8Array(VC_LENGTH);
  decrypt.process(vc);
  await syncOn(reader, vc, MAX_PAD + VC_LENGTH, "no verification constant from the peer");
  const head = (await need(reader, 6)).slice();
  decrypt.process(head);
  const view2 = new DataView(head.buffer);
  const selected = view2.getUint32(0);
  if ((selected !== CRYPTO_RC4 && selected !== CRYPTO_PLAINTEXT) || !(selected & options.provide)) {
    throw new MseError(`the peer selected method ${selected}, not one we offered`);
  }
  const padD = view2.getUint16(4);
  if (padD > MAX_PAD) throw new MseError(`PadD of ${padD} bytes`);
  decrypt.process((await need(reader, padD)).slice());
  const rest = reader.takeBuffered();
  if (selected === CRYPTO_PLAINTEXT) return { stream: raw, buffered: rest };
  decrypt.process(rest);
  return { stream: new Rc4Stream(raw, encrypt, decrypt), buffered: rest };
}

/** The responder's choices. */
export interface MseResponderOptions {
  /** The info-hash whose HASH('req2', info-hash) this is, among the torrents we serve. */
  lookup(skeyHash: Uint8Array): Uint8Array | undefined;
  /** crypto_select from the initiator's crypto_provide: one bit, or 0 to refuse. */
  select(provided: number): number;
  /** Fixed keys, for tests against known values. */
  keys?: DhKeys;
}

/**
 * Runs side B on a stream a peer opened, whose first bytes (`reader` has them, unconsumed) were
 * not a plain BitTorrent handshake. Resolves with the torrent the peer named, the stream and
 * what the peer already sent of the payload (its initial payload first).
 */
export async function mseRespond(
  reader: FrameReader,
  options: MseResponderOptions,
): Promise<MseResult & { infoHash: Uint8Array }> {
  const raw = reader.stream;
  const keys = options.keys ?? dhKeys();
  const secret = dhSecret(keys, await need(reader, KEY_LENGTH));
  await writeAll(raw, concatBytes(keys.publicKey, randomPad()));

  const req1 = sha1(TEXT.encode("req1"), secret);
  await syncOn(reader, req1, MAX_PAD + req1.length, "no req1 hash from the peer");
  const infoHash = options.lookup(xor(await need(reader, 20), req3(secret)));
  if (!infoHash) throw new MseError("the peer asked for a torrent we do not serve");
  const { encrypt, decrypt } = mseCiphers(secret, infoHash, "B");

  const head = (await need(reader, VC_LENGTH + 6)).slice();
  decrypt.process(head);
  if (!head.subarray(0, VC_LENGTH).every((b) => b === 0)) {
    throw new MseError("wrong verification constant");
  }
  const view = new DataView(head.buffer);
  const provided = view.getUint32(VC_LENGTH);
  const padC = view.getUint16(VC_LENGTH + 4);
  if (padC > MAX_PAD) throw new MseError(`PadC of ${padC} bytes`);
  decrypt.process((await need(reader, padC)).slice());
  const iaLength = (await need(reader, 2)).slice();
  decrypt.process(iaLength);
  const ia = (await need(reader, (iaLength[0] << 8) | iaLength[1])).slice();
  decrypt.process(ia);

  const selected = options.select(provided);
  if (selected !== CRYPTO_RC4 && selected !== CRYPTO_PLAINTEXT) {
    throw new MseError(`no method in common (the peer offered ${provided})`);
  }
  const padD = randomPad();
  const answer = new Uint8Array(VC_LENGTH + 6 + padD.length);
  new DataView(answer.buffer).setUint32(VC_LENGTH, selected);
  new DataView(answer.buffer).setUint16(VC_LENGTH + 4, padD.length);
  answer.set(padD, VC_LENGTH + 6);
  encrypt.process(answer);
  await writeAll(raw, answer);

  const rest = reader.takeBuffered();
  if (selected === CRYPTO_PLAINTEXT) {
    return { infoHash, stream: raw, buffered: concatBytes(ia, rest) };
  }
  decrypt.process(rest);
  return {
    infoHash,
    stream: new Rc4Stream(raw, encrypt, decrypt),
    buffered: concatBytes(ia, rest),
  };
}

function req3(secret: Uint8Array): Uint8Array {
  return sha1(TEXT.encode("req3"), secret);
}

/** Exactly `n` more bytes (a view valid until the next read), or a `ProtocolError` at the end. */
async function need(reader: FrameReader, n: number): Promise<Uint8Array> {
  const bytes = await reader.exact(n);
  if (bytes === null) throw new MseError("connection closed");
  return bytes;
}

/** Consumes bytes up to and including `pattern`, which must end within `within` bytes. */
async function syncOn(
  reader: FrameReader,
  pattern: Uint8Array,
  within: number,
  failure: string,
): Promise<void> {
  const window = new Uint8Array(pattern.length);
  for (let read = 0; read < within; read++) {
    const next = await reader.exact(1);
    if (next === null) throw new MseError(`connection closed before the sync point`);
    window.copyWithin(0, 1);
    window[window.length - 1] = next[0];
    if (read + 1 >= pattern.length && bytesEqual(window, pattern)) return;
  }
  throw new MseError(`${failure} within ${within} bytes`);
}

/** 0 to MAX_PAD random bytes. */
function randomPad(): Uint8Array {
  const length = crypto.getRandomValues(new Uint16Array(1))[0] % (MAX_PAD + 1);
  return crypto.getRandomValues(new Uint8Array(length));
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  return a.map((v, i) => v ^ b[i]);
}
