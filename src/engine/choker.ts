/**
 * The choking algorithm (BEP 3's tit-for-tat): upload to the interested peers that give us the
 * most (or, when seeding, take the most), plus one optimistic unchoke that rotates so newcomers
 * get a chance to prove themselves.
 *
 * @module
 */

/** What the choker needs to know about one peer. */
export interface ChokeCandidate {
  interested: boolean;
  /** Download rate from the peer while leeching; upload rate to it while seeding. */
  rate: number;
  /** Holds the optimistic slot now. */
  optimistic: boolean;
  /** When we connected (ms): new peers get better odds for the optimistic slot. */
  connectedAt: number;
}

/** The choker's verdict for one peer. */
export type ChokeDecision = "unchoke" | "optimistic" | "choke";

/** Knobs for one round. */
export interface ChokeRound {
  /** Regular unchoke slots. */
  slots: number;
  /** Move the optimistic unchoke to another peer this round. */
  rotateOptimistic: boolean;
  random: () => number;
  /** Peers connected less than this long ago (ms) count as new. Default 60 s. */
  newPeerMs?: number;
  now?: number;
}

/**
 * Decides, for each peer in order, whether to unchoke it.
 *
 * @example
 * ```ts
 * import { choose } from "./choker.ts";
 * const peers = [
 *   { interested: true, rate: 10, optimistic: false, connectedAt: 0 },
 *   { interested: true, rate: 99, optimistic: false, connectedAt: 0 },
 *   { interested: false, rate: 50, optimistic: false, connectedAt: 0 },
 * ];
 * console.log(choose(peers, { slots: 1, rotateOptimistic: true, random: () => 0 }));
 * // [ "optimistic", "unchoke", "choke" ]
 * ```
 */
export function choose(peers: ChokeCandidate[], round: ChokeRound): ChokeDecision[] {
  const decision: ChokeDecision[] = peers.map(() => "choke");
  const interested = peers.map((_, i) => i).filter((i) => peers[i].interested);
  interested.sort((a, b) => peers[b].rate - peers[a].rate);
  for (const i of interested.slice(0, round.slots)) decision[i] = "unchoke";
  const rest = interested.slice(round.slots);
  if (rest.length === 0) return decision;
  const current = rest.find((i) => peers[i].optimistic);
  if (current !== undefined && !round.rotateOptimistic) {
    decision[current] = "optimistic";
    return decision;
  }
  // Rotating means someone else gets the chance, when there is anyone else.
  const pool = rest.length > 1 ? rest.filter((i) => i !== current) : rest;
  // New peers are three times as likely to be picked: they have no rate to be judged by yet.
  const now = round.now ?? performance.now();
  const newPeerMs = round.newPeerMs ?? 60_000;
  const weights = pool.map((i) => now - peers[i].connectedAt < newPeerMs ? 3 : 1);
  let ticket = round.random() * weights.reduce((a, b) => a + b, 0);
  for (let k = 0; k < pool.length; k++) {
    ticket -= weights[k];
    if (ticket < 0 || k === pool.length - 1) {
      decision[pool[k]] = "optimistic";
      break;
    }
  }
  return decision;
}
