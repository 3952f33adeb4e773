/**
 * A running DHT node (BEP 5, one address family per instance; BEP 32 for IPv6): a UDP port it
 * binds or shares with uTP (it takes the datagrams that start with `d`), a routing table, announce tokens and a store of announced peers. It
 * answers other nodes' queries, bootstraps by looking up its own id, keeps its table fresh,
 * finds peers of an info-hash with an iterative `get_peers` lookup and announces to the nodes
 * closest to it.
 *
 * The socket handler never throws: every packet is decoded strictly, garbage is dropped (a
 * broken query is answered with error 203), and replies are rate-limited per source IP.
 *
 * @module
 */
import { lookup as dnsLookup } from "node:dns/promises";
import {
  type Family,
  ipFamily,
  type NodeInfo,
  normalizeIp,
  parseIPv4,
  parseIPv6,
  type PeerAddress,
} from "./addr.ts";
import { DhtError } from "./error.ts";
import { checkId, randomNodeId } from "./id.ts";
import {
  decodeMessage,
  encodeMessage,
  ErrorCode,
  type KrpcMessage,
  type KrpcQuery,
  type KrpcResponse,
  MAX_PACKET,
  type Want,
} from "./krpc.ts";
import { iterativeLookup, type LookupReply } from "./lookup.ts";
import { K, RoutingTable } from "./routing.ts";
import { PeerStore } from "./store.ts";
import { TokenManager } from "./tokens.ts";
import { fromHex, PerSourceLimiter, toHex, UdpPort, writeFileAtomic } from "../util/mod.ts";

/** Where a new DHT node finds its first contacts: the public routers. For users, never tests. */
export const DEFAULT_BOOTSTRAP: string[] = [
  "router.bittorrent.com:6881",
  "dht.transmissionbt.com:6881",
  "router.utorrent.com:6881",
  "dht.libtorrent.org:25401",
];

/** Default UDP port of the DHT (the conventional BitTorrent port). */
export const DEFAULT_DHT_PORT = 6881;

/** Messages the DHT writes to the application's log. */
export interface DhtLog {
  /** Per-packet and per-lookup details. */
  debug(message: string): void;
  /** Start, bootstrap results. */
  info(message: string): void;
  /** Problems the user may want to fix (bad bootstrap contact, unwritable state file). */
  warn(message: string): void;
}

/** Options of a {@link Dht}. */
export interface DhtOptions {
  /** UDP port to bind (0 = any free one); default 6881, falling back to any port when taken. */
  port?: number;
  /** Address to bind; default "0.0.0.0". An IPv6 address makes this an IPv6 DHT (BEP 32). */
  hostname?: string;
  /**
   * A bound port to share (with uTP) instead of binding one; `port` and `hostname` are then
   * its own. The DHT leaves it open when it stops.
   */
  socket?: UdpPort;
  /** "host:port" contacts to bootstrap from; callers pass {@link DEFAULT_BOOTSTRAP} for users. */
  bootstrap?: string[];
  /** Our node id; default the one in the state file, else random. */
  nodeId?: Uint8Array;
  /** JSON file with our id and good nodes: loaded at start, saved on stop and every 5 minutes. */
  statePath?: string;
  /** How long to wait for an answer to one query; default 2000 ms. */
  queryTimeoutMs?: number;
  /** Queries answered per source IP: sustained rate and burst; default 50/s, burst 100. */
  rateLimit?: { perSecond?: number; burst?: number };
  /**
   * Period of the upkeep (refresh stale buckets, ping questionable nodes, expire announces; the
   * state file is saved every fifth round); default 60 000 ms. Tests shorten it.
   */
  maintenanceMs?: number;
  /** Where to log; default nowhere. */
  log?: DhtLog;
}

/** Options of one {@link Dht.lookup}. */
export interface DhtLookupOptions {
  /** When given, announce this TCP port to the closest nodes that gave us a token. */
  announcePort?: number;
  /** Ends the lookup early. */
  signal?: AbortSignal;
}

/** How one {@link Dht.lookup} went. */
export interface DhtLookupSummary {
  /** Distinct peers reported to the callback. */
  peers: number;
  /** get_peers queries sent during the iterative search. */
  queried: number;
  /** Of those, the ones answered. */
  responded: number;
  /** Nodes that accepted our announce_peer. */
  announced: number;
}

const VERSION = new Uint8Array([0x44, 0x4e, 0x00, 0x01]); // "DN" 0.1 (BEP 5 `v`)
const MAINTENANCE_MS = 60_000;
const SAVE_EVERY_TICKS = 5;
const MAX_PENDING = 2048;
const MAX_CHECK_PINGS = 16;
const MAX_ADD_NODE_PINGS = 32;
const MAX_SAVED_NODES = 200;
const MAX_STATE_BYTES = 1 << 20;
const MAX_VALUES_SENT = 50;
const DNS_TIMEOUT_MS = 5000;

const noLog: DhtLog = { debug() {}, info() {}, warn() {} };

interface Pending {
  host: string;
  port: number;
  id?: Uint8Array;
  resolve: (r: KrpcResponse) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

function positive(n: number | undefined, fallback: number, what: string): number {
  if (n === undefined) return fallback;
  if (!Number.isFinite(n) || n <= 0) throw new DhtError(`${what} must be a positive number`);
  return n;
}

/** Splits "host:port" or "[v6]:port". */
function splitHostPort(spec: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(spec) ?? /^([^:\s]+):(\d{1,5})$/.exec(spec);
  if (!m) return undefined;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { host: m[1], port } : undefined;
}

/**
 * One DHT node. Start it, let the session call {@link Dht.lookup} for each torrent every few
 * minutes, feed it nodes learnt from peers' PORT messages with {@link Dht.addNode}, and stop it
 * on exit.
 *
 * @example
 * ```ts
 * import { Dht } from "./node.ts";
 * const a = new Dht({ hostname: "127.0.0.1", port: 0, bootstrap: [] });
 * await a.start();
 * const b = new Dht({ hostname: "127.0.0.1", port: 0, bootstrap: [`127.0.0.1:${a.port}`] });
 * await b.start();
 * await b.bootstrap();
 * console.log(b.nodeCount); // 1
 * await b.stop();
 * await a.stop();
 * ```
 */
export class Dht {
  readonly #opts: DhtOptions;
  readonly #family: Family;
  readonly #hostname: string;
  readonly #timeoutMs: number;
  readonly #maintenanceMs: number;
  readonly #log: DhtLog;
  readonly #limiter: PerSourceLimiter;
  readonly #tokens = new TokenManager();
  readonly #store = new PeerStore();
  readonly #pending = new Map<number, Pending>();
  readonly #ops = new Set<Promise<unknown>>();
  #id: Uint8Array | undefined;
  #table: RoutingTable | undefined;
  #socket: UdpPort | undefined;
  #stopReceiving: (() => void) | undefined;
  #port = 0;
  #started = false;
  #closed = false;
  #stopping: Promise<void> | undefined;
  #bootstrapping: Promise<void> | undefined;
  #savedNodes: PeerAddress[] = [];
  #maintenance: ReturnType<typeof setInterval> | undefined;
  #ticks = 0;
  #nextTid = Math.floor(Math.random() * 0x10000);
  #checkPings = 0;
  #addNodePings = 0;

  /** Checks the options; nothing is bound until {@link Dht.start}. */
  constructor(opts: DhtOptions = {}) {
    this.#opts = opts;
    const hostname = opts.socket?.hostname ?? opts.hostname ?? "0.0.0.0";
    const family = ipFamily(hostname);
    if (!family) throw new DhtError(`DHT bind address must be an IP address: ${hostname}`);
    this.#family = family;
    this.#hostname = hostname;
    if (
      opts.port !== undefined &&
      !(Number.isInteger(opts.port) && opts.port >= 0 && opts.port <= 65535)
    ) {
      throw new DhtError(`DHT port must be 0..65535, got ${opts.port}`);
    }
    if (opts.nodeId !== undefined) checkId(opts.nodeId);
    this.#timeoutMs = positive(opts.queryTimeoutMs, 2000, "DHT query timeout");
    this.#limiter = new PerSourceLimiter(
      positive(opts.rateLimit?.perSecond, 50, "DHT rate limit"),
      positive(opts.rateLimit?.burst, 100, "DHT rate limit burst"),
    );
    this.#maintenanceMs = positive(opts.maintenanceMs, MAINTENANCE_MS, "DHT maintenance period");
    this.#log = opts.log ?? noLog;
  }

  /** The UDP port we listen on (0 before {@link Dht.start}). */
  get port(): number {
    return this.#port;
  }

  /** Our node id (after {@link Dht.start}). */
  get id(): Uint8Array {
    if (!this.#id) throw new DhtError("DHT is not started");
    return this.#id.slice();
  }

  /** The address family of this DHT: 4 (BEP 5) or 6 (BEP 32). */
  get family(): Family {
    return this.#family;
  }

  /** Good nodes in the routing table. */
  get nodeCount(): number {
    return this.#table?.goodCount() ?? 0;
  }

  /** Nodes in the routing table, any state. */
  get tableSize(): number {
    return this.#table?.size ?? 0;
  }

  /**
   * Binds the socket, loads the state file and starts bootstrapping in the background (await
   * {@link Dht.bootstrap} to wait for it). Throws {@link DhtError} when the port cannot be bound.
   */
  async start(): Promise<void> {
    if (this.#started) throw new DhtError("DHT already started");
    this.#started = true;
    const state = this.#opts.statePath ? await this.#loadState(this.#opts.statePath) : undefined;
    this.#id = (this.#opts.nodeId ?? state?.id ?? randomNodeId()).slice();
    this.#savedNodes = state?.nodes ?? [];
    this.#table = new RoutingTable(this.#id);
    const wanted = this.#opts.port ?? DEFAULT_DHT_PORT;
    try {
      this.#socket = this.#opts.socket ?? await this.#bind(wanted);
    } catch (e) {
      if (this.#opts.port !== undefined || wanted === 0) {
        throw new DhtError(`cannot listen for DHT on UDP port ${wanted}: ${message(e)}`);
      }
      this.#log.warn(`DHT: UDP port ${wanted} is taken, using another one`);
      try {
        this.#socket = await this.#bind(0);
      } catch (e2) {
        throw new DhtError(`cannot listen for DHT on UDP: ${message(e2)}`);
      }
    }
    const socket = this.#socket;
    this.#port = socket.port;
    this.#stopReceiving = socket.addReceiver((datagram, host, port) => {
      if (datagram[0] !== 0x64) return false; // a KRPC message is a bencoded dictionary: "d"
      this.#onPacket(datagram, host, port);
      return true;
    });
    const maintenance = setInterval(() => this.#maintain(), this.#maintenanceMs);
    // Maintenance alone must not keep the process alive.
    (maintenance as { unref?: () => void }).unref?.();
    this.#maintenance = maintenance;
    this.#log.info(`DHT listening on UDP ${this.#hostname}:${this.#port}`);
    this.bootstrap();
  }

  /**
   * Looks up our own id through the bootstrap contacts and saved nodes, which fills the routing
   * table. Resolves when that is done; a call while one runs returns the same promise.
   */
  bootstrap(): Promise<void> {
    if (!this.#socket || this.#closed) return Promise.resolve();
    this.#bootstrapping ??= this.#track(
      this.#runBootstrap()
        .catch((e) => this.#log.warn(`DHT bootstrap failed: ${message(e)}`))
        .finally(() => {
          this.#bootstrapping = undefined;
        }),
    );
    return this.#bootstrapping;
  }

  /**
   * Finds peers of `infoHash`: reports them through `onPeers` as they arrive (first those
   * announced to us), resolves when the iterative lookup ends, and, with `announcePort`,
   * announces that port to the closest nodes that gave a token.
   */
  lookup(
    infoHash: Uint8Array,
    onPeers: (peers: PeerAddress[]) => void,
    opts: DhtLookupOptions = {},
  ): Promise<DhtLookupSummary> {
    checkId(infoHash, "info-hash");
    const ap = opts.announcePort;
    if (ap !== undefined && !(Number.isInteger(ap) && ap >= 1 && ap <= 65535)) {
      return Promise.reject(new DhtError(`announce port must be 1..65535, got ${ap}`));
    }
    if (!this.#socket) return Promise.reject(new DhtError("DHT is not started"));
    if (this.#closed) return Promise.resolve({ peers: 0, queried: 0, responded: 0, announced: 0 });
    return this.#track(this.#runLookup(infoHash.slice(), onPeers, opts));
  }

  /**
   * Pings a node (for example one a peer named in a PORT message, BEP 5); if it answers, it
   * joins the routing table. `host` must be an IP address of this DHT's family.
   */
  addNode(host: string, port: number): void {
    if (!this.#socket || this.#closed) return;
    if (!Number.isInteger(port) || port < 1 || port > 65535) return;
    const ip = normalizeIp(host);
    if (!ip || ipFamily(ip) !== this.#family) return;
    if (this.#addNodePings >= MAX_ADD_NODE_PINGS) return;
    this.#addNodePings++;
    this.#track(
      this.#query({ host: ip, port }, { method: "ping", id: this.#ownId() })
        .catch(() => {})
        .finally(() => this.#addNodePings--),
    );
  }

  /** Saves the state file (if any), closes its own socket and ends every timer and query. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#closed = true;
    if (this.#maintenance !== undefined) clearInterval(this.#maintenance);
    this.#maintenance = undefined;
    this.#failAllPending();
    while (this.#ops.size > 0) await Promise.allSettled([...this.#ops]);
    if (this.#opts.statePath && this.#table) await this.#saveState(this.#opts.statePath);
    this.#stopReceiving?.();
    if (this.#socket && this.#socket !== this.#opts.socket) await this.#socket.close();
  }

  #failAllPending(): void {
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new DhtError("DHT stopped"));
    }
    this.#pending.clear();
  }

  #ownId(): Uint8Array {
    if (!this.#id) throw new DhtError("DHT is not started");
    return this.#id;
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#ops.add(p);
    const done = () => this.#ops.delete(p);
    p.then(done, done);
    return p;
  }

  async #bind(port: number): Promise<UdpPort> {
    const socket = await UdpPort.bind(this.#hostname, port);
    socket.onSendError = (message) => this.#log.debug(`DHT: ${message}`);
    return socket;
  }

  // -------------------------------------------------------------------------------------------
  // Incoming packets

  #onPacket(msg: Uint8Array, from: string, port: number): void {
    try {
      if (this.#closed || !this.#table) return;
      if (msg.length === 0 || msg.length > MAX_PACKET) return;
      const host = normalizeIp(from);
      if (!host || !Number.isInteger(port) || port < 1 || port > 65535) return;
      let message: KrpcMessage;
      try {
        message = decodeMessage(msg);
      } catch (e) {
        if (e instanceof DhtError && e.transactionId && this.#limiter.allow(host)) {
          this.#sendError(e.transactionId, ErrorCode.protocol, "Protocol Error", host, port);
        }
        return;
      }
      if (message.type === "query") this.#onQuery(message, host, port);
      else this.#onReply(message, host, port);
    } catch (e) {
      this.#log.debug(`DHT: dropped a packet from ${from}: ${message(e)}`);
    }
  }

  #onReply(message: KrpcMessage, host: string, port: number): void {
    if (message.type === "query" || message.t.length !== 2) return;
    const key = (message.t[0] << 8) | message.t[1];
    const p = this.#pending.get(key);
    if (!p || p.host !== host || p.port !== port) return;
    this.#pending.delete(key);
    clearTimeout(p.timer);
    if (message.type === "error") {
      p.reject(
        new DhtError(`node ${host}:${port} answered error ${message.code}: ${message.message}`, {
          code: message.code,
        }),
      );
      return;
    }
    const r = message.response;
    const heard = this.#table!.heard({ id: r.id, host, port }, "response");
    if (heard.ping) this.#checkNode(heard.ping);
    p.resolve(r);
  }

  #onQuery(message: KrpcMessage, host: string, port: number): void {
    if (message.type !== "query") return;
    if (!this.#limiter.allow(host)) return;
    const table = this.#table!;
    const id = this.#ownId();
    const q = message.query;
    if (q.id && !message.readOnly) {
      const heard = table.heard({ id: q.id, host, port }, "query");
      if (heard.ping) this.#checkNode(heard.ping);
    }
    let response: KrpcResponse;
    switch (q.method) {
      case "ping":
        response = { id };
        break;
      case "find_node":
        response = { id, ...this.#closestFor(q.target, q.want) };
        break;
      case "get_peers": {
        response = { id, token: this.#tokens.issue(host), ...this.#closestFor(q.infoHash, q.want) };
        const values = this.#store.get(q.infoHash, MAX_VALUES_SENT);
        if (values.length > 0) response.values = values;
        break;
      }
      case "announce_peer": {
        if (!this.#tokens.check(q.token, host)) {
          this.#sendError(message.t, ErrorCode.protocol, "Bad token", host, port);
          return;
        }
        const peerPort = q.impliedPort ? port : q.port;
        this.#store.add(q.infoHash, { host, port: peerPort });
        this.#log.debug(`DHT: ${host}:${peerPort} announced ${toHex(q.infoHash)}`);
        response = { id };
        break;
      }
      case "unknown":
        if (!q.target) {
          this.#sendError(message.t, ErrorCode.methodUnknown, "Method Unknown", host, port);
          return;
        }
        response = { id, ...this.#closestFor(q.target, undefined) };
        break;
    }
    this.#send(
      encodeMessage({ type: "response", t: message.t, response, ip: { host, port }, v: VERSION }),
      host,
      port,
    );
  }

  /** Closest nodes in the key BEP 32 names for our family, when the querier wants that family. */
  #closestFor(target: Uint8Array, want: Want[] | undefined): Partial<KrpcResponse> {
    const ours: Want = this.#family === 4 ? "n4" : "n6";
    if (want && want.length > 0 && !want.includes(ours)) return {};
    const nodes: NodeInfo[] = this.#table!.closest(target, K).map((n) => ({
      id: n.id,
      host: n.host,
      port: n.port,
    }));
    return this.#family === 4 ? { nodes } : { nodes6: nodes };
  }

  #sendError(t: Uint8Array, code: number, text: string, host: string, port: number): void {
    this.#send(encodeMessage({ type: "error", t, code, message: text, v: VERSION }), host, port);
  }

  #send(bytes: Uint8Array, host: string, port: number): void {
    if (!this.#closed) this.#socket?.send(bytes, host, port);
  }

  // -------------------------------------------------------------------------------------------
  // Outgoing queries

  /** Sends one query and waits for its answer (rejects with DhtError on timeout or error). */
  #query(to: PeerAddress & { id?: Uint8Array }, query: KrpcQuery): Promise<KrpcResponse> {
    if (!this.#socket || this.#closed) return Promise.reject(new DhtError("DHT is not running"));
    if (ipFamily(to.host) !== this.#family) {
      return Promise.reject(new DhtError(`${to.host} is not an IPv${this.#family} address`));
    }
    if (this.#pending.size >= MAX_PENDING) {
      return Promise.reject(new DhtError("too many DHT queries in flight"));
    }
    let key = this.#nextTid & 0xffff;
    while (this.#pending.has(key)) key = (key + 1) & 0xffff;
    this.#nextTid = key + 1;
    const t = new Uint8Array([key >>> 8, key & 0xff]);
    let bytes: Uint8Array;
    try {
      bytes = encodeMessage({ type: "query", t, query, v: VERSION });
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<KrpcResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.#pending.get(key)?.timer !== timer) return;
        this.#pending.delete(key);
        if (to.id) this.#table?.failed(to.id);
        reject(new DhtError(`no answer from DHT node ${to.host}:${to.port}`));
      }, this.#timeoutMs);
      const pending: Pending = { host: to.host, port: to.port, resolve, reject, timer };
      if (to.id) pending.id = to.id;
      this.#pending.set(key, pending);
      this.#send(bytes, to.host, to.port);
    });
  }

  #ourNodes(r: KrpcResponse): NodeInfo[] {
    return (this.#family === 4 ? r.nodes : r.nodes6) ?? [];
  }

  #findNode(node: NodeInfo, target: Uint8Array): Promise<LookupReply> {
    return this.#query(node, { method: "find_node", id: this.#ownId(), target })
      .then((r) => ({ id: r.id, nodes: this.#ourNodes(r) }));
  }

  #getPeers(node: NodeInfo, infoHash: Uint8Array): Promise<LookupReply> {
    return this.#query(node, { method: "get_peers", id: this.#ownId(), infoHash })
      .then((r) => {
        const reply: LookupReply = { id: r.id, nodes: this.#ourNodes(r) };
        if (r.values) reply.values = r.values;
        if (r.token) reply.token = r.token;
        return reply;
      });
  }

  /** Pings a questionable node (twice, as BEP 5 suggests) so a dead one can be replaced. */
  #checkNode(node: NodeInfo): void {
    if (this.#closed || this.#checkPings >= MAX_CHECK_PINGS) return;
    this.#checkPings++;
    const ping = () => this.#query(node, { method: "ping", id: this.#ownId() });
    this.#track(
      ping()
        .catch(() => (this.#closed ? undefined : ping()))
        .catch(() => {})
        .finally(() => this.#checkPings--),
    );
  }

  async #runBootstrap(): Promise<void> {
    const id = this.#ownId();
    const contacts = new Map<string, PeerAddress>();
    for (const n of this.#savedNodes) contacts.set(`${n.host}|${n.port}`, n);
    for (const n of this.#table!.closest(id, K)) contacts.set(`${n.host}|${n.port}`, n);
    const resolved = await Promise.all((this.#opts.bootstrap ?? []).map((s) => this.#resolve(s)));
    for (const list of resolved) for (const n of list) contacts.set(`${n.host}|${n.port}`, n);
    if (contacts.size === 0) {
      this.#log.debug("DHT: no bootstrap contacts");
      return;
    }
    const found: NodeInfo[] = [];
    await Promise.all([...contacts.values()].map(async (c) => {
      try {
        const r = await this.#query(c, { method: "find_node", id, target: id });
        found.push(...this.#ourNodes(r).slice(0, 4 * K));
      } catch {
        // a dead contact
      }
    }));
    if (this.#closed) return;
    await iterativeLookup({
      target: id,
      seeds: [...this.#table!.closest(id, 2 * K), ...found],
      query: (n) => this.#findNode(n, id),
      ownId: id,
    });
    this.#log.info(`DHT bootstrapped: ${this.nodeCount} good nodes`);
  }

  async #resolve(spec: string): Promise<PeerAddress[]> {
    const hp = splitHostPort(spec.trim());
    if (!hp) {
      this.#log.warn(`DHT: bad bootstrap contact "${spec.slice(0, 100)}" (want host:port)`);
      return [];
    }
    const literal = normalizeIp(hp.host);
    if (literal) {
      return ipFamily(literal) === this.#family ? [{ host: literal, port: hp.port }] : [];
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const answers = await Promise.race([
        dnsLookup(hp.host, { family: this.#family, all: true }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("timed out")), DNS_TIMEOUT_MS);
        }),
      ]);
      const out: PeerAddress[] = [];
      for (const a of answers.slice(0, 4)) {
        const ip = normalizeIp(a.address);
        if (ip && ipFamily(ip) === this.#family) out.push({ host: ip, port: hp.port });
      }
      return out;
    } catch (e) {
      this.#log.debug(`DHT: cannot resolve ${hp.host}: ${message(e)}`);
      return [];
    } finally {
      clearTimeout(timer);
    }
  }

  async #runLookup(
    infoHash: Uint8Array,
    onPeers: (peers: PeerAddress[]) => void,
    opts: DhtLookupOptions,
  ): Promise<DhtLookupSummary> {
    if (this.#bootstrapping) await this.#bootstrapping;
    if (this.#table!.size === 0 && !this.#closed) await this.bootstrap();
    const seen = new Set<string>();
    const deliver = (peers: PeerAddress[]) => {
      const fresh = peers.filter((p) => {
        const key = `${p.host}|${p.port}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
      if (fresh.length === 0) return;
      try {
        onPeers(fresh);
      } catch (e) {
        this.#log.debug(`DHT: peer callback threw: ${message(e)}`);
      }
    };
    deliver(this.#store.get(infoHash, 200));
    const id = this.#ownId();
    const result = await iterativeLookup({
      target: infoHash,
      seeds: this.#table!.closest(infoHash, 2 * K),
      query: (n) => this.#getPeers(n, infoHash),
      onPeers: deliver,
      ownId: id,
      signal: opts.signal,
    });
    let announced = 0;
    const port = opts.announcePort;
    if (port !== undefined && !this.#closed && !opts.signal?.aborted) {
      await Promise.all(result.closest.map(async ({ node, token }) => {
        if (!token) return;
        try {
          await this.#query(node, {
            method: "announce_peer",
            id,
            infoHash,
            port,
            token,
            impliedPort: false,
          });
          announced++;
        } catch {
          // no answer or refused: the next lookup tries again
        }
      }));
    }
    this.#log.debug(
      `DHT lookup ${toHex(infoHash)}: ${seen.size} peer${
        seen.size === 1 ? "" : "s"
      }, ${result.responded}/${result.queried} ` +
        `nodes answered, announced to ${announced}`,
    );
    return { peers: seen.size, queried: result.queried, responded: result.responded, announced };
  }

  // -------------------------------------------------------------------------------------------
  // Maintenance and state

  #maintain(): void {
    if (this.#closed || !this.#table) return;
    try {
      this.#ticks++;
      const table = this.#table;
      if (table.goodCount() < K && !this.#bootstrapping) this.bootstrap();
      const targets = table.takeStaleBuckets();
      if (targets.length > 0) {
        const id = this.#ownId();
        this.#track((async () => {
          for (const target of targets) {
            if (this.#closed) return;
            await iterativeLookup({
              target,
              seeds: table.closest(target, 2 * K),
              query: (n) => this.#findNode(n, target),
              ownId: id,
            });
          }
        })());
      }
      for (const node of table.questionable(8)) this.#checkNode(node);
      this.#store.purge();
      if (this.#opts.statePath && this.#ticks % SAVE_EVERY_TICKS === 0) {
        this.#track(this.#saveState(this.#opts.statePath));
      }
    } catch (e) {
      this.#log.debug(`DHT maintenance: ${message(e)}`);
    }
  }

  async #loadState(path: string): Promise<{ id?: Uint8Array; nodes: PeerAddress[] } | undefined> {
    let text: string;
    try {
      const info = await Deno.stat(path);
      if (!info.isFile || info.size > MAX_STATE_BYTES) {
        this.#log.warn(`DHT: ignoring state file ${path} (not a small file)`);
        return undefined;
      }
      const bytes = await Deno.readFile(path);
      if (bytes.length > MAX_STATE_BYTES) return undefined;
      text = new TextDecoder().decode(bytes);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        this.#log.warn(`DHT: cannot read state file ${path}: ${message(e)}`);
      }
      return undefined;
    }
    const state = parseState(text, this.#family);
    if (!state) this.#log.warn(`DHT: ignoring malformed state file ${path}`);
    return state;
  }

  async #saveState(path: string): Promise<void> {
    const table = this.#table;
    if (!table || !this.#id) return;
    const good = table.nodes().filter((n) => table.state(n) === "good");
    good.sort((a, b) => b.lastResponse - a.lastResponse);
    const nodes = good.slice(0, MAX_SAVED_NODES).map((n) => ({
      host: n.host,
      port: n.port,
      id: toHex(n.id),
    }));
    // Keep the contacts we started from when the table is still empty (e.g. stopped early).
    if (nodes.length === 0) {
      for (const n of this.#savedNodes.slice(0, MAX_SAVED_NODES)) {
        nodes.push({ host: n.host, port: n.port, id: "" });
      }
    }
    const text = JSON.stringify({ version: 1, id: toHex(this.#id), nodes }, null, 1) + "\n";
    try {
      const slash = path.lastIndexOf("/");
      if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true });
      await writeFileAtomic(path, text);
    } catch (e) {
      this.#log.warn(`DHT: cannot save state to ${path}: ${message(e)}`);
    }
  }
}

/**
 * Parses a DHT state file: `{"version":1,"id":"<40 hex>","nodes":[{"host","port","id"}]}`.
 * Returns `undefined` when it is not one; bad node entries and nodes of the other family are
 * skipped.
 *
 * @example
 * ```ts
 * import { parseState } from "./node.ts";
 * const s = parseState('{"version":1,"id":"' + "ab".repeat(20) + '","nodes":[{"host":"127.0.0.1","port":6881}]}', 4);
 * console.log(s?.nodes); // [ { host: "127.0.0.1", port: 6881 } ]
 * ```
 */
export function parseState(
  text: string,
  family: Family,
): { id?: Uint8Array; nodes: PeerAddress[] } | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return undefined;
  const obj = raw as Record<string, unknown>;
  if (obj.version !== 1) return undefined;
  const out: { id?: Uint8Array; nodes: PeerAddress[] } = { nodes: [] };
  if (typeof obj.id === "string" && /^[0-9a-fA-F]{40}$/.test(obj.id)) out.id = fromHex(obj.id);
  if (!Array.isArray(obj.nodes)) return out;
  for (const entry of obj.nodes.slice(0, 1000)) {
    if (out.nodes.length >= MAX_SAVED_NODES) break;
    if (typeof entry !== "object" || entry === null) continue;
    const { host, port } = entry as Record<string, unknown>;
    if (typeof host !== "string" || typeof port !== "number") continue;
    if (!Number.isInteger(port) || port < 1 || port > 65535) continue;
    const ip = host.length <= 64 ? normalizeIp(host) : undefined;
    if (!ip || (family === 4 ? !parseIPv4(ip) : !parseIPv6(ip))) continue;
    out.nodes.push({ host: ip, port });
  }
  return out;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
