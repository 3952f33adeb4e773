/**
 * Piece selection: rarest first in O(1) per availability change, or in index order for media
 * watched while it arrives.
 *
 * Candidate pieces (wanted, not had, not in progress) live in one array ordered by how many
 * peers have them, split into buckets of equal availability; a change of availability swaps a
 * piece across one bucket boundary. Peers that have every piece are counted apart: they raise
 * every piece alike and so never reorder anything, which keeps a swarm of seeds free of work.
 * Ties are broken at random by shuffling once at the start. A bit set of the same candidates
 * lets the sequential order find the lowest-index candidate a word (32 pieces) at a time.
 *
 * @module
 */

/** Pieces `[from, to)`. */
export interface PieceRange {
  from: number;
  to: number;
}

/** How {@link PiecePicker.pick} orders the candidates. */
export type PickOrder = "rarest" | "sequential";

/** Choices for a {@link PiecePicker}; every field has a default. */
export interface PickerOptions {
  /** Random source for breaking ties (default `Math.random`). */
  random?: () => number;
  /** `"rarest"` (default): fewest peers first; `"sequential"`: lowest index first. */
  order?: PickOrder;
  /**
   * Pieces that may ever be picked (default: all). The others never become candidates, not even
   * through `restore`, so a partial file selection never downloads what nobody chose.
   */
  wanted?: (piece: number) => boolean;
}

/**
 * Chooses which piece to start next.
 *
 * @example
 * ```ts
 * import { PiecePicker } from "./picker.ts";
 * const picker = new PiecePicker(4);
 * picker.peerHas(2); // one peer has piece 2 only...
 * picker.peerHas(3); picker.peerHas(3); // ...two have piece 3
 * console.log(picker.pick((i) => i >= 2)); // 2 (the rarer of the two)
 *
 * const inOrder = new PiecePicker(6, { order: "sequential", wanted: (i) => i !== 1 });
 * console.log(inOrder.pick(() => true), inOrder.pick(() => true)); // 0 2
 * ```
 */
export class PiecePicker {
  /** Candidate pieces, rarest first. Only `[0, #size)` is meaningful. */
  #order: Int32Array;
  /** Position of each piece in `#order`, or -1 when it is not a candidate. */
  #pos: Int32Array;
  /** Availability of each piece, not counting peers that have everything. */
  #avail: Int32Array;
  /** `#start[a]`: first position whose availability is at least `a` (length: max avail + 2). */
  #start: number[] = [0, 0];
  #size = 0;
  /** The candidates again, one bit per piece (bit `i & 31` of word `i >> 5`). */
  #bits: Uint32Array;
  /** No word below this one has a candidate bit (sequential scans start here). */
  #lowWord = 0;
  readonly #wanted?: (piece: number) => boolean;
  /** Ranges picked from before anything else, lowest index first (what streams read next). */
  #focus: readonly PieceRange[] = [];
  /** Ranges picked from only when a peer has nothing else to give (files of low priority). */
  #late: readonly PieceRange[] = [];
  /** The order `pick` follows. */
  readonly order: PickOrder;

  constructor(readonly pieceCount: number, options: PickerOptions | (() => number) = {}) {
    const opts: PickerOptions = typeof options === "function" ? { random: options } : options;
    const random = opts.random ?? Math.random;
    this.order = opts.order ?? "rarest";
    this.#wanted = opts.wanted;
    this.#order = new Int32Array(pieceCount);
    this.#pos = new Int32Array(pieceCount).fill(-1);
    this.#avail = new Int32Array(pieceCount);
    this.#bits = new Uint32Array(Math.ceil(pieceCount / 32));
    const shuffled: number[] = [];
    for (let i = 0; i < pieceCount; i++) if (this.#isWanted(i)) shuffled.push(i);
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    for (const piece of shuffled) this.#insert(piece);
  }

  #isWanted(piece: number): boolean {
    return this.#wanted === undefined || this.#wanted(piece);
  }

  /** Number of candidate pieces left to start. */
  get remaining(): number {
    return this.#size;
  }

  /** Availability of `piece` among peers that do not have everything. */
  availability(piece: number): number {
    return this.#avail[piece];
  }

  /** True when `piece` may still be picked. */
  isCandidate(piece: number): boolean {
    return this.#pos[piece] !== -1;
  }

  #swap(i: number, j: number): void {
    const a = this.#order[i], b = this.#order[j];
    this.#order[i] = b;
    this.#order[j] = a;
    this.#pos[b] = i;
    this.#pos[a] = j;
  }

  /** Bucket boundary for availability `a`, growing the table as needed. */
  #boundary(a: number): number {
    while (this.#start.length <= a) this.#start.push(this.#size);
    return this.#start[a];
  }

  /** A peer announced `piece` (HAVE, or a bit of its BITFIELD). */
  peerHas(piece: number): void {
    const a = this.#avail[piece]++;
    const p = this.#pos[piece];
    if (p === -1) return;
    // Move to the end of bucket a, then shift the boundary of bucket a+1 down over it.
    this.#boundary(a + 2);
    const last = this.#start[a + 1] - 1;
    this.#swap(p, last);
    this.#start[a + 1]--;
  }

  /** A peer that had `piece` left. */
  peerLost(piece: number): void {
    const a = this.#avail[piece]--;
    const p = this.#pos[piece];
    if (p === -1) return;
    const first = this.#start[a];
    this.#swap(p, first);
    this.#start[a]++;
  }

  /** Adds `piece` back to the candidates (a failed or abandoned piece). */
  #insert(piece: number): void {
    const a = this.#avail[piece];
    this.#boundary(a + 1);
    let p = this.#size++;
    this.#order[p] = piece;
    this.#pos[piece] = p;
    // Bubble down through the buckets above `a`: swap with each one's first element.
    for (let level = this.#start.length - 1; level > a; level--) {
      const first = this.#start[level];
      if (first < p) {
        this.#swap(p, first);
        p = first;
      }
      this.#start[level]++;
    }
    const word = piece >>> 5;
    this.#bits[word] |= 1 << (piece & 31);
    if (word < this.#lowWord) this.#lowWord = word;
  }

  /** Removes `piece` from the candidates (started, had, or not wanted). */
  #remove(piece: number): void {
    let p = this.#pos[piece];
    if (p === -1) return;
    const a = this.#avail[piece];
    // Bubble up to the very end: swap with each bucket's last element from `a` upward.
    for (let level = a + 1; level < this.#start.length; level++) {
      const last = this.#start[level] - 1;
      if (last > p) {
        this.#swap(p, last);
        p = last;
      }
      this.#start[level]--;
    }
    const end = this.#size - 1;
    if (p !== end) this.#swap(p, end);
    this.#size--;
    this.#pos[piece] = -1;
    this.#bits[piece >>> 5] &= ~(1 << (piece & 31));
  }

  /** Takes `piece` out of the pool (we have it, or chose not to want it). */
  drop(piece: number): void {
    this.#remove(piece);
  }

  /** Puts `piece` back into the pool (its download failed or was abandoned), if it is wanted. */
  restore(piece: number): void {
    if (this.#pos[piece] === -1 && this.#isWanted(piece)) this.#insert(piece);
  }

  /**
   * Makes `pick` take candidates in `ranges` first, lowest index first, one range after another,
   * whatever its order: a stream's next bytes come before the rest of the torrent.
   *
   * @example
   * ```ts
   * import { PiecePicker } from "./picker.ts";
   * const picker = new PiecePicker(100);
   * picker.focus([{ from: 40, to: 42 }]);
   * console.log(picker.pick(() => true), picker.pick(() => true)); // 40 41
   * ```
   */
  focus(ranges: readonly PieceRange[]): void {
    this.#focus = ranges;
  }

  /**
   * Makes `pick` and `pickRun` take candidates in `ranges` only when the peer (or the web seed)
   * has no other: the pieces of files a user marked low come last. A focused range still
   * comes first.
   *
   * @example
   * ```ts
   * import { PiecePicker } from "./picker.ts";
   * const picker = new PiecePicker(4, { order: "sequential" });
   * picker.defer([{ from: 0, to: 2 }]);
   * const order = [0, 1, 2, 3].map(() => picker.pick(() => true));
   * console.log(order); // [ 2, 3, 0, 1 ]
   * ```
   */
  defer(ranges: readonly PieceRange[]): void {
    this.#late = ranges;
  }

  #isLate(piece: number): boolean {
    for (const { from, to } of this.#late) if (piece >= from && piece < to) return true;
    return false;
  }

  /**
   * Picks the candidate for which `peerHas` is true that comes first in this picker's order
   * (the rarest, or the lowest index) and removes it from the pool; -1 when there is none.
   * `next`, when given, wins a tie: it is taken instead when it is a candidate the peer has and
   * no candidate is rarer. Passing the piece after the one a peer started last keeps its pieces
   * in runs, so the disk sees mostly sequential writes rather than random ones.
   */
  pick(peerHas: (piece: number) => boolean, next?: number): number {
    for (const { from, to } of this.#focus) {
      const piece = this.#pickLowest(peerHas, from, to);
      if (piece !== -1) return piece;
    }
    if (this.#late.length === 0) return this.#pickInOrder(peerHas, next);
    const early = this.#pickInOrder((p) => !this.#isLate(p) && peerHas(p), next);
    return early !== -1 ? early : this.#pickInOrder(peerHas, next);
  }

  /** `pick` without the focused ranges: the first candidate in this picker's order. */
  #pickInOrder(peerHas: (piece: number) => boolean, next?: number): number {
    if (this.order === "sequential") return this.#pickLowest(peerHas);
    for (let i = 0; i < this.#size; i++) {
      let piece = this.#order[i];
      if (!peerHas(piece)) continue;
      if (
        next !== undefined && next >= 0 && next < this.pieceCount && this.#pos[next] !== -1 &&
        this.#avail[next] === this.#avail[piece] && peerHas(next)
      ) piece = next;
      this.#remove(piece);
      return piece;
    }
    return -1;
  }

  /**
   * A run for a source that fetches pieces whole and in order (a web seed): the lowest candidate
   * for which `ok` is true and the candidates right after it, at most `max`, removed from the
   * pool. Empty when there is none.
   *
   * @example
   * ```ts
   * import { PiecePicker } from "./picker.ts";
   * const picker = new PiecePicker(8);
   * picker.drop(3);
   * console.log(picker.pickRun(5, () => true), picker.pickRun(2, (i) => i !== 4)); // [ 0, 1, 2 ] [ 5, 6 ]
   * ```
   */
  pickRun(max: number, ok: (piece: number) => boolean): number[] {
    let take = (piece: number) => ok(piece) && !this.#isLate(piece);
    let first = this.#pickLowest(take);
    if (first === -1) first = this.#pickLowest(take = ok);
    if (first === -1) return [];
    const run = [first];
    for (let i = first + 1; run.length < max && i < this.pieceCount; i++) {
      if (this.#pos[i] === -1 || !take(i)) break;
      this.#remove(i);
      run.push(i);
    }
    return run;
  }

  /** The lowest candidate in `[from, to)` for which `peerHas` is true, removed; -1: none. */
  #pickLowest(peerHas: (piece: number) => boolean, from = 0, to = this.pieceCount): number {
    const words = this.#bits;
    while (this.#lowWord < words.length && words[this.#lowWord] === 0) this.#lowWord++;
    for (let w = Math.max(this.#lowWord, from >>> 5); w < words.length && w << 5 < to; w++) {
      let bits = words[w];
      if (w === from >>> 5) bits &= 0xffffffff << (from & 31);
      while (bits !== 0) {
        const bit = 31 - Math.clz32(bits & -bits);
        const piece = (w << 5) + bit;
        if (piece >= to) return -1;
        if (peerHas(piece)) {
          this.#remove(piece);
          return piece;
        }
        bits &= bits - 1;
      }
    }
    return -1;
  }
}
