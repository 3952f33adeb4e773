/**
 * The Kademlia routing table of BEP 5: buckets of at most K = 8 nodes over the 160-bit id
 * space, where only the bucket whose range holds our own id is ever split, so the table knows
 * many nodes near us and few far away.
 *
 * Buckets are kept by the number of leading bits a node shares with our id: bucket `i` (for
 * `i` below the last) holds nodes sharing exactly `i` bits, and the last bucket holds every
 * node sharing at least as many bits as its index, which is the range containing our own id.
 * Splitting it moves the nodes sharing more bits into a new last bucket.
 *
 * Node states follow BEP 5: good (answered one of our queries in the last 15 minutes, or has
 * answered before and queried us in the last 15 minutes), questionable (quiet for 15 minutes,
 * or never answered us), bad (failed to answer several queries in a row). A full bucket takes a
 * newcomer only in place of a bad node; otherwise the newcomer waits in the bucket's
 * replacement cache and the caller is asked to ping the bucket's stalest questionable node, and
 * if that ping fails, the node turns bad and the freshest replacement takes its place.
 *
 * This module does no I/O: time comes from an injectable clock, pings are the caller's job.
 *
 * @module
 */
import { addressKey, type NodeInfo } from "./addr.ts";
import { DhtError } from "./error.ts";
import {
  checkId,
  commonPrefixBits,
  compareDistance,
  ID_BITS,
  ID_LENGTH,
  randomIdWithPrefix,
} from "./id.ts";
import { latin1 } from "../bencode/mod.ts";

/** Nodes per bucket (BEP 5). */
export const K = 8;
/** A node is good for this long after it was last heard from (BEP 5: 15 minutes). */
export const GOOD_FOR_MS = 15 * 60_000;
/** A bucket that has not changed for this long is refreshed (BEP 5: 15 minutes). */
export const REFRESH_AFTER_MS = 15 * 60_000;
/** Consecutive unanswered queries that make a node bad. */
export const MAX_FAILURES = 2;

/** What the table knows about one node. Times are milliseconds of the table's clock. */
export interface RoutingNode extends NodeInfo {
  /** When it last sent us anything (a query or a response). */
  lastSeen: number;
  /** When it last answered one of our queries; 0 if it never has. */
  lastResponse: number;
  /** Our queries it failed to answer in a row. */
  failures: number;
}

/** BEP 5 node states. */
export type NodeState = "good" | "questionable" | "bad";

/** How a node was heard from: it answered one of our queries, or it queried us. */
export type HeardKind = "response" | "query";

/** What {@link RoutingTable.heard} did with a node. */
export interface HeardResult {
  /** What happened: added to a bucket, refreshed, put in place of a bad node, cached, or dropped. */
  status: "added" | "updated" | "replaced" | "cached" | "ignored";
  /**
   * A questionable node of the full bucket the caller should ping: if it fails to answer,
   * report that with {@link RoutingTable.failed} and a cached newcomer takes its place.
   */
  ping?: RoutingNode;
}

interface Bucket {
  nodes: RoutingNode[];
  replacements: RoutingNode[];
  lastChanged: number;
}

/** Options of a {@link RoutingTable}. */
export interface RoutingOptions {
  /** Bucket size; default {@link K}. */
  k?: number;
  /** Clock in milliseconds; default `Date.now`. */
  now?: () => number;
}

const idKey = (id: Uint8Array) => latin1(id);

/**
 * A BEP 5 routing table for one address family.
 *
 * @example
 * ```ts
 * import { RoutingTable } from "./routing.ts";
 * const own = new Uint8Array(20);
 * const table = new RoutingTable(own);
 * const id = new Uint8Array(20).fill(0xff);
 * table.heard({ id, host: "127.0.0.1", port: 6881 }, "response");
 * console.log(table.size, table.goodCount()); // 1 1
 * console.log(table.closest(new Uint8Array(20), 8).length); // 1
 * ```
 */
export class RoutingTable {
  /** Our own node id. */
  readonly ownId: Uint8Array;
  readonly #k: number;
  readonly #now: () => number;
  readonly #buckets: Bucket[];
  readonly #byId = new Map<string, RoutingNode>();
  readonly #byAddress = new Map<string, string>();

  /** An empty table (one bucket) around our own id. */
  constructor(ownId: Uint8Array, opts: RoutingOptions = {}) {
    this.ownId = checkId(ownId).slice();
    this.#k = opts.k ?? K;
    if (!Number.isInteger(this.#k) || this.#k < 1 || this.#k > 64) {
      throw new DhtError("bucket size must be 1..64");
    }
    this.#now = opts.now ?? Date.now;
    this.#buckets = [{ nodes: [], replacements: [], lastChanged: this.#now() }];
  }

  /** Nodes in the table (all states). */
  get size(): number {
    return this.#byId.size;
  }

  /** Buckets the table has split into so far. */
  get bucketCount(): number {
    return this.#buckets.length;
  }

  /** The BEP 5 state of a node. */
  state(node: RoutingNode): NodeState {
    if (node.failures >= MAX_FAILURES) return "bad";
    if (node.lastResponse > 0 && this.#now() - node.lastSeen < GOOD_FOR_MS) return "good";
    return "questionable";
  }

  /** How many nodes are good right now. */
  goodCount(): number {
    let n = 0;
    for (const node of this.#byId.values()) if (this.state(node) === "good") n++;
    return n;
  }

  /** The entry of a node id, if the table holds it. */
  get(id: Uint8Array): RoutingNode | undefined {
    return this.#byId.get(idKey(id));
  }

  /** Every node in the table, bucket by bucket (copies; changing them changes nothing). */
  nodes(): RoutingNode[] {
    const out: RoutingNode[] = [];
    for (const b of this.#buckets) for (const n of b.nodes) out.push({ ...n });
    return out;
  }

  /** Index of the bucket whose range holds `id`. */
  bucketIndex(id: Uint8Array): number {
    return Math.min(commonPrefixBits(this.ownId, id), this.#buckets.length - 1);
  }

  /**
   * Records that a node answered one of our queries (`"response"`) or queried us (`"query"`),
   * adding it when there is room, splitting our own bucket when it is full, or replacing a bad
   * node. Our own id, port 0 and malformed ids are ignored.
   */
  heard(info: NodeInfo, kind: HeardKind): HeardResult {
    if (!(info.id instanceof Uint8Array) || info.id.length !== ID_LENGTH) {
      return { status: "ignored" };
    }
    if (!Number.isInteger(info.port) || info.port < 1 || info.port > 65535) {
      return { status: "ignored" };
    }
    if (compareDistance(this.ownId, info.id, this.ownId) === 0) return { status: "ignored" };
    const now = this.#now();
    const key = idKey(info.id);
    const addr = addressKey(info);
    const known = this.#byId.get(key);
    if (known) {
      if (addressKey(known) !== addr) {
        // Same id from another address: believe it only if the old entry has gone stale, so
        // a spoofer cannot move a live node away.
        if (this.state(known) === "good") return { status: "ignored" };
        const holder = this.#byAddress.get(addr);
        if (holder !== undefined && holder !== key) return { status: "ignored" };
        this.#byAddress.delete(addressKey(known));
        known.host = info.host;
        known.port = info.port;
        this.#byAddress.set(addr, key);
      }
      known.lastSeen = now;
      if (kind === "response") {
        known.lastResponse = now;
        known.failures = 0;
        this.#buckets[this.bucketIndex(known.id)].lastChanged = now;
      }
      return { status: "updated" };
    }
    const holderKey = this.#byAddress.get(addr);
    if (holderKey !== undefined) {
      // Another id at this address: a restarted node, or one trying to take many ids.
      const holder = this.#byId.get(holderKey);
      if (holder && this.state(holder) === "good") return { status: "ignored" };
      if (holder) this.#remove(holder);
    }
    const node: RoutingNode = {
      id: info.id.slice(),
      host: info.host,
      port: info.port,
      lastSeen: now,
      lastResponse: kind === "response" ? now : 0,
      failures: 0,
    };
    for (;;) {
      const index = this.bucketIndex(node.id);
      const bucket = this.#buckets[index];
      if (bucket.nodes.length < this.#k) {
        this.#insert(bucket, node);
        bucket.lastChanged = now;
        return { status: "added" };
      }
      if (index === this.#buckets.length - 1 && this.#buckets.length < ID_BITS) {
        this.#split();
        continue;
      }
      const worst = this.#worstBad(bucket);
      if (worst) {
        this.#remove(worst);
        this.#insert(bucket, node);
        bucket.lastChanged = now;
        return { status: "replaced" };
      }
      this.#cache(bucket, node);
      let stalest: RoutingNode | undefined;
      for (const n of bucket.nodes) {
        if (this.state(n) === "questionable" && (!stalest || n.lastSeen < stalest.lastSeen)) {
          stalest = n;
        }
      }
      return stalest ? { status: "cached", ping: { ...stalest } } : { status: "cached" };
    }
  }

  /**
   * Records that a node failed to answer a query. After {@link MAX_FAILURES} in a row it is
   * bad, and the freshest node of its bucket's replacement cache takes its place.
   */
  failed(id: Uint8Array): void {
    const node = this.#byId.get(idKey(id));
    if (!node) return;
    node.failures++;
    if (this.state(node) !== "bad") return;
    const bucket = this.#buckets[this.bucketIndex(node.id)];
    const next = this.#takeReplacement(bucket);
    if (next) {
      this.#remove(node);
      this.#insert(bucket, next);
      bucket.lastChanged = this.#now();
    }
  }

  /** Removes a node (for example one that sent garbage). */
  remove(id: Uint8Array): void {
    const node = this.#byId.get(idKey(id));
    if (node) this.#remove(node);
  }

  /**
   * Up to `n` nodes closest to `target` by XOR distance, closest first, leaving out bad ones.
   * Good nodes are preferred: questionable ones fill in only when there are too few good ones.
   */
  closest(target: Uint8Array, n: number = this.#k): RoutingNode[] {
    checkId(target, "target");
    const good: RoutingNode[] = [], other: RoutingNode[] = [];
    for (const node of this.#byId.values()) {
      const s = this.state(node);
      if (s === "good") good.push(node);
      else if (s === "questionable") other.push(node);
    }
    const byDistance = (a: RoutingNode, b: RoutingNode) => compareDistance(target, a.id, b.id);
    good.sort(byDistance);
    const picked = good.slice(0, n);
    if (picked.length < n) {
      other.sort(byDistance);
      picked.push(...other.slice(0, n - picked.length));
      picked.sort(byDistance);
    }
    return picked.map((node) => ({ ...node }));
  }

  /**
   * Lookup targets for buckets that have not changed for {@link REFRESH_AFTER_MS}: one random id
   * inside each such bucket's range. Each returned bucket counts as refreshed now, so it is not
   * handed out again until it goes stale once more.
   */
  takeStaleBuckets(maxAgeMs: number = REFRESH_AFTER_MS): Uint8Array[] {
    const now = this.#now();
    const out: Uint8Array[] = [];
    const last = this.#buckets.length - 1;
    this.#buckets.forEach((bucket, i) => {
      if (now - bucket.lastChanged < maxAgeMs) return;
      bucket.lastChanged = now;
      out.push(randomIdWithPrefix(this.ownId, i, i === last));
    });
    return out;
  }

  /**
   * Up to `n` questionable nodes, stalest first: the ones to ping so the table learns whether
   * they are still alive.
   */
  questionable(n: number): RoutingNode[] {
    const out: RoutingNode[] = [];
    for (const node of this.#byId.values()) {
      if (this.state(node) === "questionable") out.push(node);
    }
    out.sort((a, b) => a.lastSeen - b.lastSeen);
    return out.slice(0, n).map((node) => ({ ...node }));
  }

  #insert(bucket: Bucket, node: RoutingNode): void {
    bucket.nodes.push(node);
    const key = idKey(node.id);
    this.#byId.set(key, node);
    this.#byAddress.set(addressKey(node), key);
  }

  #remove(node: RoutingNode): void {
    const key = idKey(node.id);
    if (this.#byId.get(key) !== node) return;
    this.#byId.delete(key);
    if (this.#byAddress.get(addressKey(node)) === key) this.#byAddress.delete(addressKey(node));
    const bucket = this.#buckets[this.bucketIndex(node.id)];
    const at = bucket.nodes.indexOf(node);
    if (at >= 0) bucket.nodes.splice(at, 1);
  }

  #worstBad(bucket: Bucket): RoutingNode | undefined {
    let worst: RoutingNode | undefined;
    for (const n of bucket.nodes) {
      if (this.state(n) !== "bad") continue;
      if (!worst || n.failures > worst.failures) worst = n;
    }
    return worst;
  }

  #cache(bucket: Bucket, node: RoutingNode): void {
    const key = idKey(node.id);
    const at = bucket.replacements.findIndex((r) => idKey(r.id) === key);
    if (at >= 0) {
      const old = bucket.replacements[at];
      bucket.replacements.splice(at, 1);
      node.lastResponse = Math.max(node.lastResponse, old.lastResponse);
    }
    bucket.replacements.push(node);
    if (bucket.replacements.length > this.#k) bucket.replacements.shift();
  }

  /** The freshest replacement, preferring ones that answered us; skips taken addresses. */
  #takeReplacement(bucket: Bucket): RoutingNode | undefined {
    bucket.replacements = bucket.replacements.filter((r) =>
      !this.#byAddress.has(addressKey(r)) && !this.#byId.has(idKey(r.id))
    );
    const list = bucket.replacements;
    if (list.length === 0) return undefined;
    let best = list.length - 1;
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i].lastResponse > 0) {
        best = i;
        break;
      }
    }
    return list.splice(best, 1)[0];
  }

  #split(): void {
    const index = this.#buckets.length - 1;
    const old = this.#buckets[index];
    const near: Bucket = { nodes: [], replacements: [], lastChanged: old.lastChanged };
    const keep = (n: RoutingNode) => commonPrefixBits(this.ownId, n.id) === index;
    near.nodes = old.nodes.filter((n) => !keep(n));
    near.replacements = old.replacements.filter((n) => !keep(n));
    old.nodes = old.nodes.filter(keep);
    old.replacements = old.replacements.filter(keep);
    this.#buckets.push(near);
  }
}
