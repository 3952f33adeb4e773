/**
 * The iterative Kademlia lookup behind `find_node` and `get_peers` (BEP 5): keep a list of
 * candidates sorted by XOR distance to the target, query the closest not yet asked, at most
 * `alpha` at a time, merge the nodes each answer names, and stop once the `k` closest
 * candidates still standing have all answered (or nobody is left to ask). For `get_peers` it
 * hands peers to the caller as they arrive and remembers each responder's write token, so the
 * caller can announce to the `k` closest.
 *
 * The network is abstracted as a `query` function (which owns timeouts), so the algorithm is
 * tested without sockets.
 *
 * @module
 */
import { addressKey, type NodeInfo, type PeerAddress } from "./addr.ts";
import { compareDistance, ID_LENGTH } from "./id.ts";
import { latin1 } from "../bencode/mod.ts";

/** Queries in flight at once (BEP 5 suggests 3; we use 4). */
export const ALPHA = 4;
/** Size of the closest set a lookup converges on. */
export const LOOKUP_K = 8;
/** Most queries one lookup sends, whatever the answers say. */
export const MAX_LOOKUP_QUERIES = 256;
const MAX_CANDIDATES = 256;
const MAX_SEEN = 8192;

/** What one queried node answered, as the lookup needs it. */
export interface LookupReply {
  /** The responder's id (may differ from the id we had for it). */
  id: Uint8Array;
  /** Nodes closer to the target it knows of (of the lookup's address family). */
  nodes: NodeInfo[];
  /** Peers of the target info-hash (get_peers only). */
  values?: PeerAddress[];
  /** Write token for announce_peer (get_peers only). */
  token?: Uint8Array;
}

/** Inputs of {@link iterativeLookup}. */
export interface LookupOptions {
  /** Node id or info-hash to converge on. */
  target: Uint8Array;
  /** Starting candidates, usually the routing table's closest nodes. */
  seeds: NodeInfo[];
  /** Sends one query; resolves with the reply, rejects on timeout or error. */
  query: (node: NodeInfo) => Promise<LookupReply>;
  /** Called with peers not reported before in this lookup. */
  onPeers?: (peers: PeerAddress[]) => void;
  /** Our own id: never queried. */
  ownId?: Uint8Array;
  /** Queries in flight at once; default {@link ALPHA}. */
  alpha?: number;
  /** Size of the closest set; default {@link LOOKUP_K}. */
  k?: number;
  /** Cap on queries sent; default {@link MAX_LOOKUP_QUERIES}. */
  maxQueries?: number;
  /** Ends the lookup early (it then resolves with what it has). */
  signal?: AbortSignal;
}

/** A node of the final closest set, with the token it gave (get_peers). */
export interface LookupContact {
  /** The node, as it answered. */
  node: NodeInfo;
  /** Its write token, when it gave one. */
  token?: Uint8Array;
}

/** How a lookup went. */
export interface LookupResult {
  /** Up to `k` closest nodes that answered, closest first. */
  closest: LookupContact[];
  /** Queries sent. */
  queried: number;
  /** Queries answered. */
  responded: number;
  /** Distinct peers reported. */
  peers: number;
}

const NEW = 0, PENDING = 1, DONE = 2, FAILED = 3;

interface Candidate {
  node: NodeInfo;
  state: number;
  token?: Uint8Array;
}

/**
 * Runs one iterative lookup to its end. Never rejects: failing queries only drop candidates.
 *
 * @example
 * ```ts
 * import { iterativeLookup } from "./lookup.ts";
 * const target = new Uint8Array(20);
 * const seed = { id: new Uint8Array(20).fill(1), host: "127.0.0.1", port: 1 };
 * const result = await iterativeLookup({
 *   target,
 *   seeds: [seed],
 *   query: (node) => Promise.resolve({ id: node.id, nodes: [], values: [{ host: "127.0.0.1", port: 9 }] }),
 *   onPeers: (peers) => console.log(peers.length), // 1
 * });
 * console.log(result.responded); // 1
 * ```
 */
export function iterativeLookup(opts: LookupOptions): Promise<LookupResult> {
  const { target, query, onPeers, ownId, signal } = opts;
  const alpha = opts.alpha ?? ALPHA;
  const k = opts.k ?? LOOKUP_K;
  const maxQueries = opts.maxQueries ?? MAX_LOOKUP_QUERIES;
  const candidates: Candidate[] = [];
  const seenIds = new Set<string>();
  const askedAddresses = new Set<string>();
  const seenPeers = new Set<string>();
  let pending = 0, queried = 0, responded = 0;

  const consider = (node: NodeInfo) => {
    if (!(node.id instanceof Uint8Array) || node.id.length !== ID_LENGTH) return;
    if (!Number.isInteger(node.port) || node.port < 1 || node.port > 65535) return;
    if (ownId && compareDistance(target, node.id, ownId) === 0) return;
    const key = latin1(node.id);
    if (seenIds.has(key) || seenIds.size >= MAX_SEEN) return;
    seenIds.add(key);
    // Binary search for the insertion point (the list is sorted by distance).
    let lo = 0, hi = candidates.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareDistance(target, candidates[mid].node.id, node.id) < 0) lo = mid + 1;
      else hi = mid;
    }
    if (lo >= MAX_CANDIDATES) return;
    candidates.splice(lo, 0, {
      node: { id: node.id, host: node.host, port: node.port },
      state: NEW,
    });
    // Trim the far end, but never drop a node whose query is still out.
    for (let i = candidates.length - 1; candidates.length > MAX_CANDIDATES && i >= 0; i--) {
      if (candidates[i].state !== PENDING) candidates.splice(i, 1);
    }
  };

  const report = (values: PeerAddress[] | undefined) => {
    if (!values || !onPeers) return;
    const fresh: PeerAddress[] = [];
    for (const p of values) {
      const key = addressKey(p);
      if (seenPeers.has(key) || seenPeers.size >= MAX_SEEN) continue;
      seenPeers.add(key);
      fresh.push({ host: p.host, port: p.port });
    }
    if (fresh.length > 0) {
      try {
        onPeers(fresh);
      } catch {
        // A throwing callback must not break the lookup.
      }
    }
  };

  for (const s of opts.seeds) consider(s);

  return new Promise<LookupResult>((resolve) => {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      signal?.removeEventListener("abort", finish);
      const closest: LookupContact[] = [];
      for (const c of candidates) {
        if (closest.length >= k) break;
        if (c.state !== DONE) continue;
        const contact: LookupContact = { node: c.node };
        if (c.token) contact.token = c.token;
        closest.push(contact);
      }
      resolve({ closest, queried, responded, peers: seenPeers.size });
    };

    const send = (c: Candidate) => {
      c.state = PENDING;
      pending++;
      queried++;
      askedAddresses.add(addressKey(c.node));
      let reply: Promise<LookupReply>;
      try {
        reply = query(c.node);
      } catch (e) {
        reply = Promise.reject(e);
      }
      reply.then(
        (r) => {
          if (finished) return;
          c.state = DONE;
          responded++;
          if (r.token) c.token = r.token;
          report(r.values);
          for (const n of r.nodes) consider(n);
        },
        () => {
          c.state = FAILED;
        },
      ).finally(() => {
        pending--;
        pump();
      });
    };

    const pump = () => {
      if (finished) return;
      if (signal?.aborted) return finish();
      for (;;) {
        // Among the k closest candidates that have not failed: are all done? who is next?
        let live = 0, allDone = true;
        let next: Candidate | undefined;
        for (const c of candidates) {
          // One query per address, whatever id it claims.
          if (c.state === NEW && askedAddresses.has(addressKey(c.node))) c.state = FAILED;
          if (c.state === FAILED) continue;
          if (live++ >= k) break;
          if (c.state !== DONE) allDone = false;
          if (c.state === NEW && !next) next = c;
        }
        if (allDone) return finish();
        if (!next || pending >= alpha || queried >= maxQueries) break;
        send(next);
      }
      if (pending === 0) finish();
    };

    signal?.addEventListener("abort", finish);
    pump();
  });
}
