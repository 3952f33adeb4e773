/**
 * BitTorrent v2's hash messages for one torrent (BEP 52): peers' hash requests are answered from
 * the piece layers and the pieces we have, and the piece layers a torrent lacks (one from a
 * magnet link, or a .torrent without them) are asked of peers, each answer proved against its
 * file's root before it is kept.
 *
 * @module
 */
import { encodeHashMessage, type HashRequest, MessageId } from "../peer/mod.ts";
import {
  bytesEqual,
  concatBytes,
  leafCount,
  leafHashes,
  MERKLE_BLOCK,
  MERKLE_HASH,
  type MerklePieces,
  merkleRoot,
  merkleRows,
  nextPowerOfTwo,
  padHash,
  sha256,
} from "../util/mod.ts";

/** Most hashes one request asks for or one answer gives (BEP 52 advises no more than 512). */
export const MAX_HASHES = 512;

/** How the exchange reaches a peer of the session's. */
export interface HashPeers<P> {
  send(peer: P, message: Uint8Array): void;
  /** True when `peer` has announced piece `index`. */
  has(peer: P, index: number): boolean;
}

/**
 * Answers being made for one peer at a time: one asking for block hashes makes us read up to
 * 8 MiB, so a peer that floods requests gets rejects instead of a queue of disk reads.
 */
const MAX_SERVING_PER_PEER = 4;

/** How long a peer may take to answer a request for a piece's block hashes. */
const LEAF_TIMEOUT_MS = 10_000;

/** A request for a piece's block hashes, waiting for its answer. */
interface LeafAsk<P> {
  peer: P;
  /** What the block hashes must lead to: the piece's layer entry, or its file's root. */
  expected: Uint8Array;
  /** Leaves of the subtree asked for (the piece's blocks, padded to a power of two). */
  width: number;
  done: (leaves: Uint8Array | undefined) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** A file's layer being gathered from one peer: the hashes so far and the chunks still due. */
interface Gathering<P> {
  peer: P;
  layer: Uint8Array;
  due: Set<number>;
}

/**
 * One torrent's side of the hash messages. `readPiece` gives a piece we have (whole), or
 * `undefined`; `onLayer` is told each time a file's piece layer is proved and kept.
 */
export class HashExchange<P> {
  readonly #pieceHeight: number;
  /** Rows of each file's tree from its piece layer up, built when first asked for. */
  readonly #upper = new Map<number, Uint8Array[]>();
  readonly #gathering = new Map<number, Gathering<P>>();
  /** Peers that failed to give a file's layer: not asked for it again. */
  readonly #refused = new Map<number, Set<P>>();
  /** Requests for pieces' block hashes, by root, index and length. */
  readonly #leafAsks = new Map<string, LeafAsk<P>>();
  /** Answers being made, by peer. */
  readonly #serving = new Map<P, number>();

  constructor(
    readonly pieces: MerklePieces,
    readonly peers: HashPeers<P>,
    readonly readPiece: (index: number) => Promise<Uint8Array | undefined>,
    readonly onLayer: () => void,
  ) {
    this.#pieceHeight = Math.log2(pieces.pieceLength / MERKLE_BLOCK);
  }

  /** True while some file's piece layer is neither known nor being fetched. */
  get wanting(): boolean {
    return this.pieces.missingLayers().some((f) => !this.#gathering.has(f));
  }

  /**
   * Asks `peer` (which speaks v2) for the layers we lack of files whose pieces it has, unless
   * another peer is being asked already or it failed before.
   */
  offer(peer: P): void {
    for (const f of this.pieces.missingLayers()) {
      if (this.#gathering.has(f) || this.#refused.get(f)?.has(peer)) continue;
      const first = this.pieces.files[f].firstPiece;
      const last = first + this.pieces.piecesOf(f) - 1;
      if (!this.peers.has(peer, first) || !this.peers.has(peer, last)) continue;
      const requests = this.layerRequests(f);
      this.#gathering.set(f, {
        peer,
        layer: new Uint8Array(this.pieces.piecesOf(f) * MERKLE_HASH),
        due: new Set(requests.map((r) => r.index)),
      });
      for (const r of requests) this.peers.send(peer, encodeHashMessage(MessageId.hashRequest, r));
    }
  }

  /**
   * Requests for file `f`'s piece layer: chunks of at most 512 hashes, each with the uncle
   * hashes up to the root, so every answer proves itself.
   */
  layerRequests(f: number): HashRequest[] {
    const count = this.pieces.piecesOf(f);
    const chunk = Math.min(MAX_HASHES, nextPowerOfTwo(count));
    const height = this.pieces.heightOf(f);
    const out: HashRequest[] = [];
    for (let index = 0; index < count; index += chunk) {
      out.push({
        root: this.pieces.files[f].root,
        baseLayer: this.#pieceHeight,
        index,
        length: chunk,
        proofLayers: height - this.#pieceHeight - 1,
      });
    }
    return out;
  }

  /**
   * Takes `peer`'s answer to one of our requests. False when it was not asked for or does not
   * prove out against the file's root: the caller holds that against the peer.
   */
  accept(peer: P, request: HashRequest, hashes: Uint8Array): boolean {
    const leafAsk = this.#leafAsks.get(askKey(request));
    if (leafAsk !== undefined && leafAsk.peer === peer && request.baseLayer === 0) {
      this.#leafAsks.delete(askKey(request));
      clearTimeout(leafAsk.timer);
      const leaves = hashes.subarray(0, request.length * MERKLE_HASH);
      const ok = hashes.length === leaves.length && request.length === leafAsk.width &&
        bytesEqual(merkleRoot(leaves, leafAsk.width), leafAsk.expected);
      leafAsk.done(ok ? leaves.slice() : undefined);
      return ok;
    }
    const f = this.pieces.fileOf(request.root);
    const g = this.#gathering.get(f);
    if (g === undefined || g.peer !== peer || !g.due.has(request.index)) return false;
    if (request.baseLayer !== this.#pieceHeight) return this.#fail(f, peer);
    const proved = provenRoot(request, hashes);
    if (proved === undefined || proved.layer !== this.pieces.heightOf(f)) {
      return this.#fail(f, peer);
    }
    if (!bytesEqual(proved.root, request.root)) return this.#fail(f, peer);
    const count = this.pieces.piecesOf(f);
    const real = Math.max(0, Math.min(request.length, count - request.index));
    g.layer.set(hashes.subarray(0, real * MERKLE_HASH), request.index * MERKLE_HASH);
    g.due.delete(request.index);
    if (g.due.size > 0) return true;
    this.#gathering.delete(f);
    if (!this.pieces.setLayer(f, g.layer)) return this.#fail(f, peer);
    this.onLayer();
    return true;
  }

  /**
   * Asks `peer` for the hashes of piece `index`'s 16 KiB blocks, which pin a failed piece's bad
   * blocks on their senders. Resolves with them (one 32-byte hash a block, padded to a power of
   * two) once they lead to the piece's known hash, or `undefined` when the peer rejects, leaves,
   * stays silent or lies. The piece's file must have its layer (or need none).
   */
  blockHashes(peer: P, index: number): Promise<Uint8Array | undefined> {
    const f = this.pieces.fileAt(index);
    if (f === -1 || !this.pieces.knows(index)) return Promise.resolve(undefined);
    const file = this.pieces.files[f];
    const k = index - file.firstPiece;
    const single = !this.pieces.needsLayer(f);
    const width = single ? leafCount(file.length) : this.pieces.pieceLength / MERKLE_BLOCK;
    const expected = single
      ? file.root
      : this.pieces.layer(f)!.subarray(k * MERKLE_HASH, (k + 1) * MERKLE_HASH);
    const request = {
      root: file.root,
      baseLayer: 0,
      index: k * width,
      length: width,
      proofLayers: 0,
    };
    const key = askKey(request);
    if (this.#leafAsks.has(key)) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#leafAsks.delete(key);
        resolve(undefined);
      }, LEAF_TIMEOUT_MS);
      this.#leafAsks.set(key, { peer, expected, width, done: resolve, timer });
      this.peers.send(peer, encodeHashMessage(MessageId.hashRequest, request));
    });
  }

  /** `peer` will not answer `request`: the layer is asked of someone else. */
  rejected(peer: P, request: HashRequest): void {
    const leafAsk = this.#leafAsks.get(askKey(request));
    if (leafAsk?.peer === peer) {
      this.#leafAsks.delete(askKey(request));
      clearTimeout(leafAsk.timer);
      leafAsk.done(undefined);
      return;
    }
    const f = this.pieces.fileOf(request.root);
    if (this.#gathering.get(f)?.peer === peer) this.#fail(f, peer);
  }

  /** `peer` is gone: what it was asked for goes to others. */
  dropped(peer: P): void {
    this.#endLeafAsks((ask) => ask.peer === peer);
    for (const [f, g] of this.#gathering) if (g.peer === peer) this.#gathering.delete(f);
    for (const peers of this.#refused.values()) peers.delete(peer);
  }

  /** Gives up every wait for block hashes (the session stops). */
  close(): void {
    this.#endLeafAsks(() => true);
  }

  #endLeafAsks(which: (ask: LeafAsk<P>) => boolean): void {
    for (const [key, ask] of this.#leafAsks) {
      if (!which(ask)) continue;
      this.#leafAsks.delete(key);
      clearTimeout(ask.timer);
      ask.done(undefined);
    }
  }

  #fail(f: number, peer: P): false {
    this.#gathering.delete(f);
    const refused = this.#refused.get(f) ?? new Set<P>();
    refused.add(peer);
    this.#refused.set(f, refused);
    return false;
  }

  /**
   * Answers `peer`'s hash request with HASHES, or HASH REJECT when we cannot, or when the peer
   * already has `MAX_SERVING_PER_PEER` answers being made.
   */
  async serve(peer: P, request: HashRequest): Promise<void> {
    const busy = this.#serving.get(peer) ?? 0;
    this.#serving.set(peer, busy + 1);
    const hashes = busy >= MAX_SERVING_PER_PEER
      ? undefined
      : await this.answer(request).catch(() => undefined);
    const left = this.#serving.get(peer)! - 1;
    if (left === 0) this.#serving.delete(peer);
    else this.#serving.set(peer, left);
    this.peers.send(
      peer,
      hashes === undefined
        ? encodeHashMessage(MessageId.hashReject, request)
        : encodeHashMessage(MessageId.hashes, request, hashes),
    );
  }

  /**
   * The hashes answering `request` (the base layer's, then the uncles), or `undefined` when we
   * cannot: an unknown root, a range outside the tree, more than 512 hashes, a layer we lack, or
   * leaves of pieces we do not have.
   */
  async answer(request: HashRequest): Promise<Uint8Array | undefined> {
    const f = this.pieces.fileOf(request.root);
    if (f === -1) return undefined;
    const { baseLayer: b, index, length } = request;
    const height = this.pieces.heightOf(f);
    if (b > height || length < 1 || length > MAX_HASHES) return undefined;
    if (index % nextPowerOfTwo(length) !== 0 || index + length > 2 ** (height - b)) {
      return undefined;
    }
    const rows = await this.#rows(f, b, index, length);
    if (rows === undefined) return undefined;
    const blocks = Math.ceil(this.pieces.files[f].length / MERKLE_BLOCK);
    const node = (layer: number, i: number): Uint8Array | undefined => {
      const row = rows.get(layer);
      const at = row === undefined ? -1 : i - row.start;
      if (row !== undefined && at >= 0 && (at + 1) * MERKLE_HASH <= row.hashes.length) {
        return row.hashes.subarray(at * MERKLE_HASH, (at + 1) * MERKLE_HASH);
      }
      // A node wholly past the file's end is padding.
      return i * 2 ** layer >= blocks ? padHash(layer) : undefined;
    };
    const out: Uint8Array[] = [];
    for (let i = index; i < index + length; i++) {
      const h = node(b, i);
      if (h === undefined) return undefined;
      out.push(h);
    }
    const top = Math.min(b + request.proofLayers, height - 1);
    for (let layer = b + Math.log2(nextPowerOfTwo(length)); layer <= top; layer++) {
      // The sibling of the asked-for nodes' ancestor (arithmetic: trees outgrow 32 bits).
      const ancestor = Math.floor(index / 2 ** (layer - b));
      const h = node(layer, ancestor % 2 === 0 ? ancestor + 1 : ancestor - 1);
      if (h === undefined) return undefined;
      out.push(h);
    }
    return concatBytes(...out);
  }

  /**
   * Rows of file `f`'s tree an answer reads, each with the index of its first node: from the
   * piece layer up (known layer), and below it those of the pieces holding the asked-for nodes
   * (read from disk), or the whole tree of a file of one piece.
   */
  async #rows(
    f: number,
    b: number,
    index: number,
    length: number,
  ): Promise<Map<number, { hashes: Uint8Array; start: number }> | undefined> {
    const rows = new Map<number, { hashes: Uint8Array; start: number }>();
    const height = this.pieces.heightOf(f), hp = this.#pieceHeight;
    if (height > hp) {
      const upper = this.#upperRows(f);
      if (upper === undefined) return undefined;
      upper.forEach((hashes, k) => rows.set(hp + k, { hashes, start: 0 }));
      if (b >= hp) return rows;
    }
    // Leaves are needed: read the pieces under the asked-for nodes.
    const file = this.pieces.files[f];
    const blocksPerPiece = this.pieces.pieceLength / MERKLE_BLOCK;
    const width = height > hp ? blocksPerPiece : 2 ** height;
    const firstLeaf = index * 2 ** b;
    const first = Math.floor(firstLeaf / blocksPerPiece);
    const last = Math.min(
      Math.floor(((index + length) * 2 ** b - 1) / blocksPerPiece),
      this.pieces.piecesOf(f) - 1,
    );
    const perPiece: Uint8Array[][] = [];
    for (let k = first; k <= last; k++) {
      const data = await this.readPiece(file.firstPiece + k);
      if (data === undefined) return undefined;
      const bytes = Math.min(this.pieces.pieceLength, file.length - k * this.pieces.pieceLength);
      perPiece.push(merkleRows(leafHashes(data.subarray(0, bytes)), width));
    }
    const top = Math.min(hp, height);
    for (let layer = 0; layer <= top; layer++) {
      if (rows.has(layer)) continue;
      const start = Math.floor((first * width) / 2 ** layer);
      rows.set(layer, { hashes: concatBytes(...perPiece.map((r) => r[layer])), start });
    }
    return rows;
  }

  #upperRows(f: number): Uint8Array[] | undefined {
    let rows = this.#upper.get(f);
    if (rows !== undefined) return rows;
    const layer = this.pieces.layer(f);
    if (layer === undefined) return undefined;
    rows = merkleRows(layer, nextPowerOfTwo(this.pieces.piecesOf(f)), this.#pieceHeight);
    this.#upper.set(f, rows);
    return rows;
  }
}

/** A request's identity, to match its answer: root, layer, index and length. */
function askKey(r: HashRequest): string {
  return `${r.root.join(",")}/${r.baseLayer}/${r.index}/${r.length}`;
}

/**
 * The root an answer to `request` proves: the base hashes (padded to a power of two) make a
 * subtree, and each uncle after them takes it one layer up. With the layer it reached, or
 * `undefined` when the answer is too short.
 *
 * @example
 * ```ts
 * import { provenRoot } from "./hash_exchange.ts";
 * import { merkleRoot } from "../util/mod.ts";
 * const leaves = new Uint8Array(128).map((_, i) => i);
 * const request = { root: new Uint8Array(32), baseLayer: 0, index: 0, length: 4, proofLayers: 0 };
 * const proved = provenRoot(request, leaves)!;
 * console.log(proved.layer, proved.root.join() === merkleRoot(leaves, 4).join()); // 2 true
 * ```
 */
export function provenRoot(
  request: HashRequest,
  hashes: Uint8Array,
): { root: Uint8Array; layer: number } | undefined {
  const { baseLayer, index, length } = request;
  if (length < 1 || hashes.length < length * MERKLE_HASH) return undefined;
  const span = nextPowerOfTwo(length);
  let node = merkleRoot(hashes.subarray(0, length * MERKLE_HASH), span, baseLayer);
  let layer = baseLayer + Math.log2(span);
  let position = Math.floor(index / span);
  for (let at = length * MERKLE_HASH; at < hashes.length; at += MERKLE_HASH) {
    const uncle = hashes.subarray(at, at + MERKLE_HASH);
    node = position % 2 === 0 ? sha256(node, uncle) : sha256(uncle, node);
    position = Math.floor(position / 2);
    layer++;
  }
  return { root: node, layer };
}
