/**
 * Peer wire messages (BEP 3, with the fast extension of BEP 6, the extension protocol id of
 * BEP 10 and BEP 52's hash messages): a parser over length-prefixed frames and encoders that
 * write straight into bytes.
 *
 * @module
 */

/** Wire ids of the messages we understand. */
export const MessageId = {
  choke: 0,
  unchoke: 1,
  interested: 2,
  notInterested: 3,
  have: 4,
  bitfield: 5,
  request: 6,
  piece: 7,
  cancel: 8,
  port: 9,
  suggest: 13,
  haveAll: 14,
  haveNone: 15,
  reject: 16,
  allowedFast: 17,
  extended: 20,
  hashRequest: 21,
  hashes: 22,
  hashReject: 23,
} as const;

/**
 * What a BEP 52 hash request asks for, and what `hashes` and `hash reject` echo: hashes of the
 * tree of the file whose `pieces root` is `root`, `length` of them from `index` in the layer
 * `baseLayer` steps above the 16 KiB leaves, with uncle hashes for `proofLayers` layers above.
 */
export interface HashRequest {
  root: Uint8Array;
  baseLayer: number;
  index: number;
  length: number;
  proofLayers: number;
}

/** The largest block we request or serve (libtorrent and others drop peers asking for more). */
export const MAX_BLOCK = 16 * 1024;
/** The largest block request we agree to serve from a peer. */
export const MAX_SERVED_BLOCK = 128 * 1024;

/** A parsed peer message. `piece.block` views the reader's buffer: copy it before awaiting. */
export type Message =
  | { type: "keepalive" }
  | { type: "choke" }
  | { type: "unchoke" }
  | { type: "interested" }
  | { type: "notInterested" }
  | { type: "have"; index: number }
  | { type: "bitfield"; bits: Uint8Array }
  | { type: "request"; index: number; begin: number; length: number }
  | { type: "piece"; index: number; begin: number; block: Uint8Array }
  | { type: "cancel"; index: number; begin: number; length: number }
  | { type: "port"; port: number }
  | { type: "suggest"; index: number }
  | { type: "haveAll" }
  | { type: "haveNone" }
  | { type: "reject"; index: number; begin: number; length: number }
  | { type: "allowedFast"; index: number }
  | { type: "extended"; id: number; payload: Uint8Array }
  | { type: "hashRequest"; request: HashRequest }
  | { type: "hashes"; request: HashRequest; hashes: Uint8Array }
  | { type: "hashReject"; request: HashRequest }
  | { type: "unknown"; id: number };

/** Bytes of a hash request's fields: the root, then four 32-bit numbers. */
const HASH_REQUEST_BYTES = 48;

/** Raised when a peer sends bytes that break the protocol; it costs that peer its connection. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

function expectLength(payload: number, want: number, name: string): void {
  if (payload !== want) {
    throw new ProtocolError(`${name} message has ${payload} bytes, want ${want}`);
  }
}

/**
 * Parses one message body (the bytes after the 4-byte length prefix).
 *
 * @example
 * ```ts
 * import { parseMessage } from "./messages.ts";
 * console.log(parseMessage(new Uint8Array([4, 0, 0, 0, 7]))); // { type: "have", index: 7 }
 * ```
 */
export function parseMessage(body: Uint8Array): Message {
  if (body.length === 0) return { type: "keepalive" };
  const id = body[0];
  const n = body.length - 1;
  switch (id) {
    case MessageId.choke:
      expectLength(n, 0, "choke");
      return { type: "choke" };
    case MessageId.unchoke:
      expectLength(n, 0, "unchoke");
      return { type: "unchoke" };
    case MessageId.interested:
      expectLength(n, 0, "interested");
      return { type: "interested" };
    case MessageId.notInterested:
      expectLength(n, 0, "not interested");
      return { type: "notInterested" };
    case MessageId.have:
      expectLength(n, 4, "have");
      return { type: "have", index: u32(body, 1) };
    case MessageId.bitfield:
      return { type: "bitfield", bits: body.subarray(1) };
    case MessageId.request:
    case MessageId.cancel:
    case MessageId.reject: {
      const type = id === MessageId.request
        ? "request"
        : id === MessageId.cancel
        ? "cancel"
        : "reject";
      expectLength(n, 12, type);
      return { type, index: u32(body, 1), begin: u32(body, 5), length: u32(body, 9) };
    }
    case MessageId.piece:
      if (n < 8) throw new ProtocolError(`piece message has ${n} bytes, want at least 8`);
      return { type: "piece", index: u32(body, 1), begin: u32(body, 5), block: body.subarray(9) };
    case MessageId.port:
      expectLength(n, 2, "port");
      return { type: "port", port: (body[1] << 8) | body[2] };
    case MessageId.suggest:
    case MessageId.allowedFast: {
      const type = id === MessageId.suggest ? "suggest" : "allowedFast";
      expectLength(n, 4, type);
      return { type, index: u32(body, 1) };
    }
    case MessageId.haveAll:
      expectLength(n, 0, "have all");
      return { type: "haveAll" };
    case MessageId.haveNone:
      expectLength(n, 0, "have none");
      return { type: "haveNone" };
    case MessageId.extended:
      if (n < 1) throw new ProtocolError("extended message without an id");
      return { type: "extended", id: body[1], payload: body.subarray(2) };
    case MessageId.hashRequest:
    case MessageId.hashReject: {
      const type = id === MessageId.hashRequest ? "hashRequest" : "hashReject";
      expectLength(n, HASH_REQUEST_BYTES, type === "hashRequest" ? "hash request" : "hash reject");
      return { type, request: hashRequestAt(body) };
    }
    case MessageId.hashes: {
      const hashes = body.subarray(1 + HASH_REQUEST_BYTES);
      if (n < HASH_REQUEST_BYTES || hashes.length % 32 !== 0) {
        throw new ProtocolError(`hashes message of ${n} bytes is not a request and 32-byte hashes`);
      }
      return { type: "hashes", request: hashRequestAt(body), hashes };
    }
    default:
      return { type: "unknown", id };
  }
}

/** The hash request fields after the id byte of `body`. */
function hashRequestAt(body: Uint8Array): HashRequest {
  return {
    root: body.slice(1, 33),
    baseLayer: u32(body, 33),
    index: u32(body, 37),
    length: u32(body, 41),
    proofLayers: u32(body, 45),
  };
}

function frame(id: number, payloadLength: number): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(5 + payloadLength);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 1 + payloadLength);
  bytes[4] = id;
  return { bytes, view };
}

/** A message with no payload (choke, unchoke, interested, not interested, have all/none). */
export function encodeSimple(id: number): Uint8Array {
  return frame(id, 0).bytes;
}

/** The 4 zero bytes of a keep-alive. */
export function encodeKeepAlive(): Uint8Array {
  return new Uint8Array(4);
}

/** HAVE, SUGGEST or ALLOWED_FAST: an id and a piece index. */
export function encodeIndex(id: number, index: number): Uint8Array {
  const { bytes, view } = frame(id, 4);
  view.setUint32(5, index);
  return bytes;
}

/**
 * REQUEST, CANCEL or REJECT: an id and a block address, written into `into` (17 bytes) when
 * given, so a caller sending one per block can reuse one buffer.
 *
 * @example
 * ```ts
 * import { encodeBlockAddress, MessageId, parseMessage } from "./messages.ts";
 * const wire = encodeBlockAddress(MessageId.request, 1, 16384, 16384);
 * console.log(parseMessage(wire.subarray(4)));
 * // { type: "request", index: 1, begin: 16384, length: 16384 }
 * ```
 */
export function encodeBlockAddress(
  id: number,
  index: number,
  begin: number,
  length: number,
  into: Uint8Array = new Uint8Array(17),
): Uint8Array {
  putU32(into, 0, 13);
  into[4] = id;
  putU32(into, 5, index);
  putU32(into, 9, begin);
  putU32(into, 13, length);
  return into;
}

/** Writes `n` big-endian at `at`. */
function putU32(bytes: Uint8Array, at: number, n: number): void {
  bytes[at] = n >>> 24;
  bytes[at + 1] = n >>> 16;
  bytes[at + 2] = n >>> 8;
  bytes[at + 3] = n;
}

/** BITFIELD with the given wire bytes. */
export function encodeBitfield(bits: Uint8Array): Uint8Array {
  const { bytes } = frame(MessageId.bitfield, bits.length);
  bytes.set(bits, 5);
  return bytes;
}

/** The 13-byte header of a PIECE message; the block follows it on the wire. */
export function encodePieceHeader(index: number, begin: number, blockLength: number): Uint8Array {
  const bytes = new Uint8Array(13);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 9 + blockLength);
  bytes[4] = MessageId.piece;
  view.setUint32(5, index);
  view.setUint32(9, begin);
  return bytes;
}

/** An extended message (BEP 10): sub-id and payload. */
export function encodeExtended(subId: number, payload: Uint8Array): Uint8Array {
  const { bytes } = frame(MessageId.extended, 1 + payload.length);
  bytes[5] = subId;
  bytes.set(payload, 6);
  return bytes;
}

/** PORT (DHT listen port, BEP 5). */
export function encodePort(port: number): Uint8Array {
  const { bytes, view } = frame(MessageId.port, 2);
  view.setUint16(5, port);
  return bytes;
}

/**
 * HASH REQUEST or HASH REJECT (BEP 52), or HASHES when `hashes` (the base layer's hashes, then
 * the uncles) follow the request's fields.
 *
 * @example
 * ```ts
 * import { encodeHashMessage, MessageId, parseMessage } from "./messages.ts";
 * const request = { root: new Uint8Array(32), baseLayer: 0, index: 4, length: 4, proofLayers: 2 };
 * const wire = encodeHashMessage(MessageId.hashRequest, request);
 * const m = parseMessage(wire.subarray(4));
 * console.log(m.type, m.type === "hashRequest" && m.request.index); // hashRequest 4
 * ```
 */
export function encodeHashMessage(
  id: number,
  request: HashRequest,
  hashes: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const { bytes } = frame(id, HASH_REQUEST_BYTES + hashes.length);
  bytes.set(request.root, 5);
  putU32(bytes, 37, request.baseLayer);
  putU32(bytes, 41, request.index);
  putU32(bytes, 45, request.length);
  putU32(bytes, 49, request.proofLayers);
  bytes.set(hashes, 53);
  return bytes;
}
