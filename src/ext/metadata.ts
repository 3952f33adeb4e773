/**
 * ut_metadata (BEP 9): fetching the info dictionary from peers in 16 KiB blocks, for magnet
 * links, and serving ours. The message codec, a block slicer for serving, and
 * {@link MetadataAssembler}, which collects blocks from several peers at once and only accepts
 * the whole when its SHA-1 equals the info-hash.
 *
 * @module
 */
import { type BencodeValue, decodePrefix, encode, isDict } from "../bencode/mod.ts";
import { bytesEqual, sha1, sha256 } from "../util/mod.ts";
import { ExtensionError } from "./error.ts";

/** Size of every metadata block but the last (BEP 9). */
export const METADATA_BLOCK = 16384;

/** The largest info dictionary we fetch or accept (32 MiB, far above real torrents). */
export const MAX_METADATA_SIZE = 32 * 1024 * 1024;

/** Highest possible block index + 1 for {@link MAX_METADATA_SIZE}. */
const MAX_PIECES = Math.ceil(MAX_METADATA_SIZE / METADATA_BLOCK);

/** One ut_metadata message. `data` of a received message views the payload: copy to keep it. */
export type MetadataMessage =
  | { type: "request"; piece: number }
  | { type: "data"; piece: number; totalSize: number; data: Uint8Array }
  | { type: "reject"; piece: number };

const MSG_TYPE = { request: 0, data: 1, reject: 2 } as const;

/**
 * Payload of a ut_metadata message, for `encodeExtended(remoteId, payload)`: a bencoded
 * dictionary, followed by the block's bytes for a data message. Throws {@link ExtensionError}
 * for a piece index or total size out of range, or a block larger than {@link METADATA_BLOCK}.
 *
 * @example
 * ```ts
 * import { encodeMetadataMessage } from "./metadata.ts";
 * const payload = encodeMetadataMessage({ type: "request", piece: 0 });
 * console.log(new TextDecoder().decode(payload)); // "d8:msg_typei0e5:piecei0ee"
 * ```
 */
export function encodeMetadataMessage(m: MetadataMessage): Uint8Array {
  if (!Number.isInteger(m.piece) || m.piece < 0 || m.piece >= MAX_PIECES) {
    throw new ExtensionError(`metadata piece index ${m.piece} is out of range`);
  }
  if (m.type !== "data") return encode({ msg_type: MSG_TYPE[m.type], piece: m.piece });
  if (!Number.isInteger(m.totalSize) || m.totalSize <= 0 || m.totalSize > MAX_METADATA_SIZE) {
    throw new ExtensionError(`metadata size ${m.totalSize} is out of range`);
  }
  if (m.data.length > METADATA_BLOCK) {
    throw new ExtensionError(`metadata block of ${m.data.length} bytes is too large`);
  }
  const head = encode({ msg_type: MSG_TYPE.data, piece: m.piece, total_size: m.totalSize });
  const out = new Uint8Array(head.length + m.data.length);
  out.set(head);
  out.set(m.data, head.length);
  return out;
}

/**
 * Reads a ut_metadata payload. Throws {@link ExtensionError} when it is not a bencoded
 * dictionary with an integer `msg_type` and a `piece` in range, when a data message lacks a
 * sane `total_size` or carries more than {@link METADATA_BLOCK} (or zero) bytes, and, with
 * `ignorable` set, for an unknown `msg_type` (which BEP 9 says to ignore). Unknown keys are
 * ignored. The data of a data message views `payload`.
 *
 * @example
 * ```ts
 * import { encodeMetadataMessage, parseMetadataMessage } from "./metadata.ts";
 * const payload = encodeMetadataMessage({
 *   type: "data", piece: 1, totalSize: 16390, data: new Uint8Array(6),
 * });
 * const m = parseMetadataMessage(payload);
 * if (m.type === "data") console.log(m.piece, m.totalSize, m.data.length); // 1 16390 6
 * ```
 */
export function parseMetadataMessage(payload: Uint8Array): MetadataMessage {
  if (payload.length > METADATA_BLOCK + 1024) {
    throw new ExtensionError(`ut_metadata message is too large (${payload.length} bytes)`);
  }
  let value: BencodeValue, end: number;
  try {
    ({ value, end } = decodePrefix(payload, {
      maxDepth: 8,
      maxItems: 1000,
      allowUnsortedKeys: true,
    }));
  } catch (e) {
    throw new ExtensionError(`ut_metadata message is not valid bencode: ${(e as Error).message}`);
  }
  if (!isDict(value)) throw new ExtensionError("ut_metadata message is not a dictionary");
  const type = value.get("msg_type");
  if (typeof type !== "number") throw new ExtensionError("ut_metadata message has no msg_type");
  const piece = value.get("piece");
  if (typeof piece !== "number" || piece < 0 || piece >= MAX_PIECES) {
    throw new ExtensionError("ut_metadata message has no valid piece index");
  }
  if (type === MSG_TYPE.request || type === MSG_TYPE.reject) {
    return { type: type === MSG_TYPE.request ? "request" : "reject", piece };
  }
  if (type !== MSG_TYPE.data) {
    throw new ExtensionError(`unknown ut_metadata msg_type ${type}`, true);
  }
  const totalSize = value.get("total_size");
  if (typeof totalSize !== "number" || totalSize <= 0 || totalSize > MAX_METADATA_SIZE) {
    throw new ExtensionError("ut_metadata data message has no valid total_size");
  }
  const data = payload.subarray(end);
  if (data.length === 0 || data.length > METADATA_BLOCK) {
    throw new ExtensionError(`ut_metadata data block has ${data.length} bytes`);
  }
  return { type: "data", piece, totalSize, data };
}

/**
 * Block `piece` of our info dictionary, for answering a request; `undefined` when the index is
 * not a block of it (answer with a reject).
 *
 * @example
 * ```ts
 * import { metadataBlock } from "./metadata.ts";
 * const info = new Uint8Array(20000);
 * console.log(metadataBlock(info, 1)?.length, metadataBlock(info, 2)); // 3616 undefined
 * ```
 */
export function metadataBlock(info: Uint8Array, piece: number): Uint8Array | undefined {
  if (!Number.isInteger(piece) || piece < 0) return undefined;
  const start = piece * METADATA_BLOCK;
  if (start >= info.length) return undefined;
  return info.subarray(start, Math.min(start + METADATA_BLOCK, info.length));
}

/** Options of a {@link MetadataAssembler}. */
export interface MetadataAssemblerOptions {
  /** How long a request may stay unanswered before the block is handed to another peer (ms). */
  requestTimeoutMs?: number;
  /**
   * The v2 info-hash (BEP 52) the dictionary must also have: its SHA-256. Then the 20-byte
   * info-hash is checked as SHA-1 only when it is not this one cut short (a v2-only torrent).
   */
  infoHashV2?: Uint8Array;
}

interface Outstanding {
  peer: string;
  at: number;
}

/**
 * Collects the info dictionary from several peers at once and checks it against the info-hash.
 *
 * Peers are named by any string key the caller chooses (e.g. "host:port"). Times passed to
 * {@link MetadataAssembler.nextRequest} are milliseconds on one clock (default `Date.now()`).
 * Each block is asked of one peer at a time; one that stays unanswered past the timeout, is
 * rejected, or whose peer left becomes free for another. A peer is not asked again for a block
 * it rejected until it is released or the fetch restarts after a mismatch.
 *
 * @example
 * ```ts
 * import { encode } from "../bencode/mod.ts";
 * import { sha1 } from "../util/mod.ts";
 * import { MetadataAssembler, metadataBlock } from "./metadata.ts";
 * const info = encode({ name: "x", "piece length": 16384, length: 1, pieces: new Uint8Array(20) });
 * const a = new MetadataAssembler(sha1(info), info.length);
 * const piece = a.nextRequest("peer-a", 0);
 * if (piece === undefined) throw new Error("nothing to ask");
 * console.log(a.onData("peer-a", piece, metadataBlock(info, piece)!)); // "complete"
 * console.log(a.info?.length === info.length); // true
 * ```
 */
export class MetadataAssembler {
  /** Size of the info dictionary in bytes. */
  readonly size: number;
  /** Number of blocks it is fetched in. */
  readonly pieceCount: number;
  /** After a mismatch: the peers that sent blocks of the failed attempt (to ban them). */
  lastCulprits: string[] = [];

  readonly #infoHash: Uint8Array;
  readonly #infoHashV2?: Uint8Array;
  readonly #timeoutMs: number;
  #blocks: (Uint8Array | undefined)[];
  #senders: (string | undefined)[];
  #outstanding: (Outstanding | undefined)[];
  #rejected = new Map<string, Set<number>>();
  #received = 0;
  #info: Uint8Array | undefined;

  /** Throws {@link ExtensionError} when `size` is not in 1..MAX_METADATA_SIZE. */
  constructor(infoHash: Uint8Array, size: number, opts: MetadataAssemblerOptions = {}) {
    if (infoHash.length !== 20) throw new ExtensionError("info-hash must be 20 bytes");
    if (!Number.isInteger(size) || size <= 0 || size > MAX_METADATA_SIZE) {
      throw new ExtensionError(
        `peer announced metadata of ${size} bytes (must be 1 to ${MAX_METADATA_SIZE})`,
      );
    }
    this.#infoHash = infoHash.slice();
    if (opts.infoHashV2 !== undefined) {
      if (opts.infoHashV2.length !== 32) throw new ExtensionError("v2 info-hash must be 32 bytes");
      this.#infoHashV2 = opts.infoHashV2.slice();
    }
    this.size = size;
    this.pieceCount = Math.ceil(size / METADATA_BLOCK);
    this.#timeoutMs = Math.max(0, opts.requestTimeoutMs ?? 5000);
    this.#blocks = new Array(this.pieceCount).fill(undefined);
    this.#senders = new Array(this.pieceCount).fill(undefined);
    this.#outstanding = new Array(this.pieceCount).fill(undefined);
  }

  /** True when `info` has the info-hashes asked for. */
  #matches(info: Uint8Array): boolean {
    const v2 = this.#infoHashV2;
    if (v2 !== undefined && !bytesEqual(sha256(info), v2)) return false;
    if (v2 !== undefined && bytesEqual(v2.subarray(0, 20), this.#infoHash)) return true;
    return bytesEqual(sha1(info), this.#infoHash);
  }

  /** The verified info dictionary once complete. */
  get info(): Uint8Array | undefined {
    return this.#info;
  }

  /** Share of blocks received so far, 0..1 (1 once complete). */
  get progress(): number {
    return this.#info ? 1 : this.#received / this.pieceCount;
  }

  /** Number of blocks currently asked of `peer` and not yet answered or timed out. */
  outstanding(peer: string, now: number = Date.now()): number {
    let n = 0;
    for (const o of this.#outstanding) {
      if (o && o.peer === peer && now - o.at < this.#timeoutMs) n++;
    }
    return n;
  }

  /**
   * A block to ask `peer` for next: not received, not rejected by this peer, and not requested
   * from anyone within the request timeout. The block counts as requested from `peer` at `now`.
   * `undefined` when there is nothing to ask (or the metadata is complete).
   */
  nextRequest(peer: string, now: number = Date.now()): number | undefined {
    if (this.#info) return undefined;
    const rejected = this.#rejected.get(peer);
    for (let i = 0; i < this.pieceCount; i++) {
      if (this.#blocks[i] !== undefined || rejected?.has(i)) continue;
      const o = this.#outstanding[i];
      if (o && now - o.at < this.#timeoutMs) continue;
      this.#outstanding[i] = { peer, at: now };
      return i;
    }
    return undefined;
  }

  /** Expected byte length of block `piece`. */
  #blockLength(piece: number): number {
    return piece === this.pieceCount - 1 ? this.size - piece * METADATA_BLOCK : METADATA_BLOCK;
  }

  /**
   * Stores a block (copied). Returns "invalid" for a piece index out of range or a length that
   * is not that block's (the caller should drop that peer), "more" while blocks are missing
   * (also for a duplicate of a block already held, and for anything after completion). When the
   * last block arrives the whole is hashed: "complete" (returned once) if it matches the
   * info-hash, else "mismatch": every block is discarded to be fetched again, and
   * {@link MetadataAssembler.lastCulprits} names the peers that sent the bad attempt.
   */
  onData(
    peer: string,
    piece: number,
    data: Uint8Array,
  ): "more" | "complete" | "mismatch" | "invalid" {
    if (!Number.isInteger(piece) || piece < 0 || piece >= this.pieceCount) return "invalid";
    if (data.length !== this.#blockLength(piece)) return "invalid";
    if (this.#info || this.#blocks[piece] !== undefined) return "more";
    this.#blocks[piece] = data.slice();
    this.#senders[piece] = peer;
    this.#outstanding[piece] = undefined;
    this.#received++;
    if (this.#received < this.pieceCount) return "more";
    const whole = new Uint8Array(this.size);
    for (let i = 0; i < this.pieceCount; i++) whole.set(this.#blocks[i]!, i * METADATA_BLOCK);
    if (this.#matches(whole)) {
      this.#info = whole;
      this.#blocks = [];
      this.#outstanding = [];
      this.#rejected.clear();
      return "complete";
    }
    this.lastCulprits = [...new Set(this.#senders as string[])];
    this.#blocks.fill(undefined);
    this.#senders.fill(undefined);
    this.#outstanding.fill(undefined);
    this.#rejected.clear();
    this.#received = 0;
    return "mismatch";
  }

  /** `peer` refused block `piece`: it becomes free for others, and is not asked of `peer` again. */
  onReject(peer: string, piece: number): void {
    if (this.#info || !Number.isInteger(piece) || piece < 0 || piece >= this.pieceCount) return;
    if (this.#outstanding[piece]?.peer === peer) this.#outstanding[piece] = undefined;
    let set = this.#rejected.get(peer);
    if (!set) this.#rejected.set(peer, set = new Set());
    set.add(piece);
  }

  /** `peer` left: its outstanding requests become free at once, and its rejections are forgotten. */
  release(peer: string): void {
    this.#rejected.delete(peer);
    for (let i = 0; i < this.#outstanding.length; i++) {
      if (this.#outstanding[i]?.peer === peer) this.#outstanding[i] = undefined;
    }
  }
}
