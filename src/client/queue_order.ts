/**
 * The order of a daemon's torrents in its download queue (Transmission's `queuePosition`). Each
 * torrent has a rank, a number that only orders, kept in its record: a move gives new ranks to
 * the torrents moved, between those of their new neighbours, so it rewrites their records and
 * never those of the torrents they pass.
 *
 * @module
 */

/** Transmission's `queue-move-top`, `-up`, `-down` and `-bottom`. */
export type QueueMove = "top" | "up" | "down" | "bottom";

/**
 * Torrent ids in queue order.
 *
 * @example
 * ```ts
 * import { QueueOrder } from "./queue_order.ts";
 * const queue = new QueueOrder();
 * for (const id of [1, 2, 3, 4]) queue.add(id);
 * queue.move([3, 4], "top");
 * console.log(queue.sort([1, 2, 3, 4]), queue.position(1)); // [ 3, 4, 1, 2 ] 2
 * ```
 */
export class QueueOrder {
  readonly #rank = new Map<number, number>();
  /** Ids by rank, and each one's index there; made again after any change. */
  #order: number[] | undefined;
  #positions: Map<number, number> | undefined;

  /** A rank after every torrent's: a new torrent's. */
  nextRank(): number {
    const last = this.#ids().at(-1);
    return last === undefined ? 0 : this.#rank.get(last)! + 1;
  }

  /** Puts `id` in the queue at `rank` (one saved before, or `nextRank`). */
  add(id: number, rank: number = this.nextRank()): void {
    const order = this.#order, last = order?.at(-1);
    this.#rank.set(id, rank);
    // After the last, the usual case (a new torrent, a restart in order): no sort again.
    if (order && (last === undefined || rank > this.#rank.get(last)!)) {
      this.#positions?.set(id, order.length);
      order.push(id);
    } else this.#changed();
  }

  remove(id: number): void {
    if (this.#rank.delete(id)) this.#changed();
  }

  /** Where `id` is: 0 first; -1 when it is not in the queue. */
  position(id: number): number {
    this.#positions ??= new Map(this.#ids().map((each, i) => [each, i]));
    return this.#positions.get(id) ?? -1;
  }

  /** `ids` in queue order. */
  sort(ids: Iterable<number>): number[] {
    return [...ids].sort((a, b) => this.position(a) - this.position(b));
  }

  /**
   * Moves `ids` as Transmission does: to the top or the bottom (keeping their order among
   * themselves), or each one place up or down (past a torrent not moving). Returns the new rank
   * of each torrent whose rank changed.
   */
  move(ids: readonly number[], where: QueueMove): Map<number, number> {
    const moving = new Set(ids.filter((id) => this.#rank.has(id)));
    const order = [...this.#ids()];
    if (where === "top" || where === "bottom") {
      const moved = order.filter((id) => moving.has(id));
      const others = order.filter((id) => !moving.has(id));
      return this.#rerank(where === "top" ? [...moved, ...others] : [...others, ...moved], moving);
    }
    const step = where === "up" ? -1 : 1;
    const indexes = order.map((_, i) => i);
    if (step === 1) indexes.reverse();
    for (const i of indexes) {
      const j = i + step;
      if (!moving.has(order[i]) || j < 0 || j >= order.length || moving.has(order[j])) continue;
      [order[i], order[j]] = [order[j], order[i]];
    }
    return this.#rerank(order, moving);
  }

  /** Moves `id` to `position` (0 first; past the end: last). */
  moveTo(id: number, position: number): Map<number, number> {
    if (!this.#rank.has(id)) return new Map();
    const order = this.#ids().filter((each) => each !== id);
    order.splice(Math.max(0, Math.min(position, order.length)), 0, id);
    return this.#rerank(order, new Set([id]));
  }

  #ids(): number[] {
    return this.#order ??= [...this.#rank.keys()].sort((a, b) =>
      this.#rank.get(a)! - this.#rank.get(b)! || a - b
    );
  }

  #changed(): void {
    this.#order = this.#positions = undefined;
  }

  /**
   * Ranks `order` with new ranks for the `moved` ids only, each run of them spread between the
   * ranks of the torrents around it. Should the numbers run out of room between two ranks
   * (after very many moves into one gap), every torrent is ranked again, 0 to n - 1.
   */
  #rerank(order: number[], moved: Set<number>): Map<number, number> {
    const ranks = new Map<number, number>();
    for (let i = 0; i < order.length;) {
      if (!moved.has(order[i])) {
        i++;
        continue;
      }
      let j = i;
      while (j < order.length && moved.has(order[j])) j++;
      const low = i > 0 ? this.#rank.get(order[i - 1])! : undefined;
      const high = j < order.length ? this.#rank.get(order[j])! : undefined;
      const n = j - i;
      for (let k = 0; k < n; k++) {
        ranks.set(
          order[i + k],
          low === undefined && high === undefined
            ? k
            : low === undefined
            ? high! - (n - k)
            : high === undefined
            ? low + k + 1
            : low + (high - low) * (k + 1) / (n + 1),
        );
      }
      i = j;
    }
    const rankOf = (id: number) => ranks.get(id) ?? this.#rank.get(id)!;
    if (order.some((id, i) => i > 0 && rankOf(order[i - 1]) >= rankOf(id))) {
      order.forEach((id, i) => ranks.set(id, i));
    }
    for (const [id, rank] of ranks) {
      if (this.#rank.get(id) === rank) ranks.delete(id);
      else this.#rank.set(id, rank);
    }
    this.#changed();
    return ranks;
  }
}
