/**
 * One uTP connection (BEP 29) as a `ByteStream`: the SYN exchange, sequence and ack numbers
 * that wrap, selective ACKs both ways, retransmission on timeout, three duplicate acks or a
 * SACK hole, LEDBAT pacing, a receive window that bounds what the peer may have us buffer, and
 * FIN/RESET. The socket it lives on feeds it packets and calls `tick` from one shared timer.
 *
 * Bytes are copied once each way: a write goes into packet buffers with room left for the
 * header (stamped again in place for a resend), and a received payload stays a view of its
 * datagram until `read` copies it into the caller's buffer (unless the datagram's buffer is far
 * larger than the packet: then the payload is copied out, to keep memory to the window).
 *
 * @module
 */
import type { ByteStream } from "../peer/stream.ts";
import { Ledbat, RttEstimator } from "./congestion.ts";
import {
  encodePacket,
  HEADER_SIZE,
  MAX_SACK_BYTES,
  seqDistance,
  ST_DATA,
  ST_FIN,
  ST_RESET,
  ST_STATE,
  ST_SYN,
  type UtpPacket,
  writeHeader,
} from "./packet.ts";

/** What a connection needs from the socket it lives on. */
export interface UtpLink {
  /** Sends one datagram to the peer. */
  send(datagram: Uint8Array): void;
  /**
   * Work is left for later (an ack owed, packets held back from a burst): the socket calls
   * `resume` once the datagrams already received are all handled.
   */
  later(connection: UtpConnection): void;
  /** The connection is over: forget it. */
  closed(connection: UtpConnection): void;
}

/** What a connection is built from. */
export interface UtpConnectionOptions {
  link: UtpLink;
  /** `host:port` of the peer. */
  remoteAddress: string;
  /** Datagram size we send (header included) unless the peer says it reads more or less. */
  packetBytes: number;
  /** Largest datagram the path takes (loopback: far more than `packetBytes`); default that. */
  largestPacket?: number;
  /** Largest datagram we read, told to the peer in the SYN exchange; default `packetBytes`. */
  readLimit?: number;
  /** Bytes of received data we buffer at most (the window we advertise); default 1 MiB. */
  receiveBuffer?: number;
}

type State = "syn-sent" | "syn-received" | "connected" | "closed";

/** A packet we sent or will send, kept until it is acknowledged. */
interface OutPacket {
  type: number;
  seq: number;
  /** Header (and extensions) then payload; a packet still unsent may grow as writes arrive. */
  buffer: Uint8Array;
  /** Where the payload starts in `buffer`. */
  head: number;
  payload: number;
  sentAt: number;
  transmissions: number;
  /** Acknowledged by a selective ACK (not yet by the cumulative ack). */
  sacked: boolean;
  /** Taken for lost and waiting to be sent again. */
  lost: boolean;
}

/** Unsent bytes a writer may leave queued before its write waits. */
const SEND_HIGH_WATER = 256 * 1024;
/** In-flight packets at most: well inside half the sequence space. */
const MAX_IN_FLIGHT = 4096;
/** Packets past a hole we keep for reordering. */
const MAX_REORDER = 4096;
/** In-order packets we take before acking at once rather than at the end of the burst. */
const ACK_EVERY = 8;
/**
 * Packets sent back to back at most; the rest go once the datagrams that arrived meanwhile are
 * handled. A window's worth at once (a cumulative ack after a repaired hole frees all of it)
 * would overflow the receiver's socket buffer.
 */
const MAX_BURST = 32;
/** Timeouts in a row (as the timeout's multiplier) after which the peer is taken for gone. */
const GIVE_UP_BACKOFF = 32;
/** How long a closed stream keeps trying to deliver what was written and its FIN. */
const CLOSE_LINGER_MS = 20_000;
const DEFAULT_RECEIVE_BUFFER = 1 << 20;
/** Smallest data packet we send, whatever a peer says it reads (BEP 29's smallest, 150, plus). */
const MIN_PACKET_BYTES = 200;
/** Least time a finished connection stays to ack the peer's FIN again. */
const QUIET_MS = 1000;

/**
 * A payload to hold until it is read: the view itself, unless the datagram's buffer is much
 * larger (Deno's `node:dgram` reads each datagram into a buffer of the socket's read size), in
 * which case a copy, so a full receive window holds its bytes and not ten times as many.
 */
function kept(payload: Uint8Array): Uint8Array {
  return payload.buffer.byteLength > 2 * payload.byteLength ? payload.slice() : payload;
}

function nowMicros(now: number): number {
  return Math.floor(now * 1000) >>> 0;
}

/** A uTP connection; made by `UtpSocket`, which routes its packets. */
export class UtpConnection implements ByteStream {
  readonly remoteAddress: string;
  readonly encrypted = false;
  readonly transport = "utp";
  readonly recvId: number;
  readonly sendId: number;
  readonly #link: UtpLink;
  /** Payload bytes of a full data packet: set by the packet size the peer and path allow. */
  #payloadMax: number;
  readonly #largestPacket: number;
  readonly #readLimit: number;
  readonly #receiveBuffer: number;
  readonly #rtt = new RttEstimator();
  readonly #cc: Ledbat;
  #state: State;
  readonly #connected = Promise.withResolvers<void>();

  // Sending
  /** Sequence number of the next packet sent. */
  #seq: number;
  /** Oldest sequence number not cumulatively acknowledged. */
  #oldest: number;
  readonly #inFlight = new Map<number, OutPacket>();
  /** Payload in flight, neither selectively acknowledged nor taken for lost. */
  #flightBytes = 0;
  #unsent: OutPacket[] = [];
  #unsentBytes = 0;
  #resend: OutPacket[] = [];
  #peerWindow: number;
  #dupAcks = 0;
  /** A loss of a packet sent before this sequence number does not cut the window again. */
  #recoverFrom: number;
  #lastProgress = performance.now();
  #writers: (() => void)[] = [];
  #finSeq: number | undefined;

  // Receiving
  /** Last sequence number received in order. */
  #ack = 0;
  readonly #reorder = new Map<number, Uint8Array>();
  #reorderBytes = 0;
  #readQueue: Uint8Array[] = [];
  #readHead = 0;
  #readQueued = 0;
  #eofSeq: number | undefined;
  #readEnded = false;
  #reader: (() => void) | undefined;
  /** Our receive timer minus the sender's timestamp, for the peer's LEDBAT. */
  #replyDelay = 0;
  #ackOwed = 0;
  #windowWasSmall = false;

  #closing = false;
  #closingSince = 0;
  /** Both FINs are through; kept this long to answer the peer's FIN again if our ack was lost. */
  #quietUntil: number | undefined;
  #error: Error | undefined;

  private constructor(
    options: UtpConnectionOptions,
    ids: { recvId: number; sendId: number },
    state: State,
    seq: number,
  ) {
    this.#link = options.link;
    this.remoteAddress = options.remoteAddress;
    this.recvId = ids.recvId;
    this.sendId = ids.sendId;
    this.#payloadMax = options.packetBytes - HEADER_SIZE;
    this.#largestPacket = options.largestPacket ?? options.packetBytes;
    this.#readLimit = options.readLimit ?? options.packetBytes;
    this.#receiveBuffer = options.receiveBuffer ?? DEFAULT_RECEIVE_BUFFER;
    this.#cc = new Ledbat(this.#payloadMax);
    this.#peerWindow = this.#payloadMax;
    this.#state = state;
    this.#seq = seq;
    this.#oldest = seq;
    this.#recoverFrom = seq;
  }

  /** Opens a connection: sends the SYN; `connected` settles when the peer answers. */
  static initiate(options: UtpConnectionOptions, recvId: number): UtpConnection {
    const c = new UtpConnection(
      options,
      { recvId, sendId: (recvId + 1) & 0xffff },
      "syn-sent",
      1,
    );
    c.#enqueue(ST_SYN);
    c.#flush(performance.now());
    return c;
  }

  /** Takes a peer's SYN: answers it with a STATE packet. */
  static accept(options: UtpConnectionOptions, syn: UtpPacket): UtpConnection {
    const seq = crypto.getRandomValues(new Uint16Array(1))[0];
    const c = new UtpConnection(
      options,
      { recvId: (syn.connectionId + 1) & 0xffff, sendId: syn.connectionId },
      "syn-received",
      seq,
    );
    c.#ack = syn.seq;
    c.#noteArrival(syn, performance.now());
    c.#fitPackets(syn.readLimit);
    c.#sendState();
    return c;
  }

  /** Settles when the SYN is answered (outgoing connections), or fails. */
  get connected(): Promise<void> {
    return this.#connected.promise;
  }

  /** True once the connection is over and forgotten by its socket. */
  get isClosed(): boolean {
    return this.#state === "closed";
  }

  // -------------------------------------------------------------------------------------------
  // ByteStream

  async read(into: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.#closing) return null;
      if (this.#readQueued > 0 && into.length > 0) return this.#take(into);
      if (this.#error) throw this.#error;
      if (this.#readEnded || this.#state === "closed") return null;
      await new Promise<void>((wake) => this.#reader = wake);
    }
  }

  async write(bytes: Uint8Array): Promise<number> {
    this.#checkWritable();
    let at = 0;
    while (at < bytes.length) {
      let last = this.#unsent.at(-1);
      if (!last || last.type !== ST_DATA || last.head + last.payload === last.buffer.length) {
        last = this.#enqueue(ST_DATA);
      }
      const part = Math.min(bytes.length - at, last.buffer.length - last.head - last.payload);
      last.buffer.set(bytes.subarray(at, at + part), last.head + last.payload);
      last.payload += part;
      this.#unsentBytes += part;
      at += part;
    }
    this.#flush(performance.now());
    while (this.#unsentBytes > SEND_HIGH_WATER) {
      await new Promise<void>((wake) => this.#writers.push(wake));
      this.#checkWritable();
    }
    return bytes.length;
  }

  /**
   * Stops reading (unread bytes are dropped) and writing; what was written is still delivered,
   * then a FIN, for up to 20 seconds.
   */
  close(): void {
    if (this.#closing || this.#state === "closed") return;
    this.#closing = true;
    this.#closingSince = performance.now();
    this.#readQueue = [];
    this.#readHead = 0;
    this.#readQueued = 0;
    this.#wakeReader();
    this.#wakeWriters();
    if (this.#state === "syn-sent" || this.#error) this.#finish();
    else this.#flush(this.#closingSince);
  }

  // -------------------------------------------------------------------------------------------
  // Driven by the socket

  /** Handles one packet the socket routed here. */
  onPacket(p: UtpPacket): void {
    if (this.#state === "closed") return;
    const now = performance.now();
    if (p.type === ST_RESET) {
      this.#fail(new Deno.errors.ConnectionReset("uTP: the peer reset the connection"));
      return;
    }
    if (p.type === ST_SYN) {
      // Our STATE answering it was lost: say it again.
      if (this.#state !== "syn-sent") this.#sendState();
      return;
    }
    if (this.#state === "syn-sent") {
      if (p.ack !== 1) return; // not an answer to our SYN
      this.#state = "connected";
      this.#ack = (p.seq - 1) & 0xffff;
      this.#fitPackets(p.readLimit);
      this.#connected.resolve();
    } else if (this.#state === "syn-received" && p.type !== ST_STATE) {
      this.#state = "connected";
    }
    this.#noteArrival(p, now);
    this.#onAck(p, now);
    if (p.type === ST_DATA) this.#onData(p.seq, p.payload);
    else if (p.type === ST_FIN) this.#onFin(p.seq);
    this.#flush(now);
    this.#maybeDone();
  }

  /** Sends what a burst held back, and the ack owed if still owed. */
  resume(): void {
    if (this.#state === "closed") return;
    this.#flush(performance.now());
    if (this.#ackOwed > 0) this.#sendState();
  }

  /** Called every few tens of milliseconds by the socket: timeouts and the close deadline. */
  tick(now: number): void {
    if (this.#state === "closed") return;
    if (this.#quietUntil !== undefined && now >= this.#quietUntil) {
      this.#finish();
      return;
    }
    if (this.#closing && now - this.#closingSince > CLOSE_LINGER_MS) {
      this.#sendReset();
      this.#finish();
      return;
    }
    if (this.#inFlight.size === 0 || now - this.#lastProgress < this.#rtt.timeoutMs) return;
    if (this.#onlyFinUnacked() && this.#inFlight.get(this.#finSeq!)!.transmissions >= 3) {
      // The peer has ended too and has all our data; it forgot us before our FIN got through.
      this.#finish();
      return;
    }
    if (this.#rtt.backoff >= GIVE_UP_BACKOFF) {
      this.#fail(new Deno.errors.TimedOut("uTP: the peer stopped answering"));
      return;
    }
    this.#cc.onTimeout();
    this.#rtt.backOff();
    this.#lastProgress = now;
    this.#dupAcks = 0;
    this.#recoverFrom = this.#seq;
    // Everything unacknowledged goes again, oldest first, as the window reopens.
    this.#resend = [];
    for (let s = this.#oldest; s !== this.#seq; s = (s + 1) & 0xffff) {
      const packet = this.#inFlight.get(s);
      if (!packet || packet.sacked) continue;
      if (!packet.lost) this.#flightBytes -= packet.payload;
      packet.lost = true;
      this.#resend.push(packet);
    }
    this.#flush(now);
  }

  /** Ends the connection at once, telling the peer (the socket is closing). */
  abort(): void {
    if (this.#state === "closed") return;
    if (this.#state !== "syn-sent") this.#sendReset();
    this.#fail(new Deno.errors.ConnectionAborted("uTP: the socket closed"));
  }

  // -------------------------------------------------------------------------------------------
  // Acknowledgements of what we sent

  #onAck(p: UtpPacket, now: number): void {
    this.#peerWindow = p.windowSize;
    const lastAcked = (this.#oldest - 1) & 0xffff;
    const advance = seqDistance(p.ack, lastAcked);
    if (advance < 0 || advance > seqDistance((this.#seq - 1) & 0xffff, lastAcked)) return;
    let newly = 0;
    for (let i = 1; i <= advance; i++) {
      const seq = (lastAcked + i) & 0xffff;
      const packet = this.#inFlight.get(seq);
      if (!packet) continue;
      this.#inFlight.delete(seq);
      if (!packet.sacked) {
        newly += packet.payload;
        if (!packet.lost) this.#flightBytes -= packet.payload;
        if (packet.transmissions === 1) this.#rtt.sample(now - packet.sentAt);
      }
      packet.lost = false;
      packet.sacked = true; // leaves the resend queue
    }
    this.#oldest = (p.ack + 1) & 0xffff;
    const sacked = p.sack ? this.#onSack(p.ack, p.sack, now) : 0;
    newly += sacked;
    const first = this.#inFlight.get(this.#oldest);
    if (advance > 0) {
      this.#dupAcks = 0;
      this.#lastProgress = now;
      // Acked up to a packet sent before the last loss, and no further: it was lost as well.
      const recovering = seqDistance(this.#oldest, this.#recoverFrom) < 0;
      if (first && recovering && first.transmissions === 1) this.#markLost(first);
    } else if (first && p.type === ST_STATE && sacked === 0) {
      // The same ack again, with nothing new selectively acked: a duplicate.
      if (++this.#dupAcks === 3) this.#markLost(first);
    }
    if (newly > 0) {
      this.#lastProgress = now;
      this.#cc.onAck(newly, p.timestampDifference, now);
    }
  }

  /** Applies a selective ACK; returns the payload it newly acknowledged. */
  #onSack(ack: number, mask: Uint8Array, now: number): number {
    let newly = 0;
    const sentSpan = seqDistance((this.#seq - 1) & 0xffff, ack);
    const bits = Math.min(mask.length * 8, sentSpan - 1);
    for (let bit = 0; bit < bits; bit++) {
      if ((mask[bit >> 3] & (1 << (bit & 7))) === 0) continue;
      const packet = this.#inFlight.get((ack + 2 + bit) & 0xffff);
      if (!packet || packet.sacked) continue;
      packet.sacked = true;
      newly += packet.payload;
      if (!packet.lost) this.#flightBytes -= packet.payload;
      packet.lost = false;
      if (packet.transmissions === 1) this.#rtt.sample(now - packet.sentAt);
    }
    // A packet with three or more acknowledged after it is lost (BEP 29).
    const lost: OutPacket[] = [];
    let after = 0;
    for (let bit = bits - 1; bit >= -1; bit--) {
      const packet = this.#inFlight.get((ack + 2 + bit) & 0xffff);
      if (!packet) continue;
      if (packet.sacked) after++;
      else if (after >= 3 && !packet.lost && this.#mayBeLostAgain(packet, now)) lost.push(packet);
    }
    for (let i = lost.length - 1; i >= 0; i--) this.#markLost(lost[i]); // oldest first
    return newly;
  }

  /** A packet sent again is only taken for lost again once a round trip has passed. */
  #mayBeLostAgain(packet: OutPacket, now: number): boolean {
    return packet.transmissions === 1 || now - packet.sentAt > this.#rtt.rtt * 1.5;
  }

  #markLost(packet: OutPacket): void {
    if (packet.lost || packet.sacked) return;
    packet.lost = true;
    this.#flightBytes -= packet.payload;
    this.#resend.push(packet);
    if (seqDistance(packet.seq, this.#recoverFrom) >= 0) {
      this.#cc.onLoss();
      this.#recoverFrom = this.#seq;
    }
  }

  // -------------------------------------------------------------------------------------------
  // What the peer sent us

  #noteArrival(p: UtpPacket, now: number): void {
    this.#replyDelay = (nowMicros(now) - p.timestamp) >>> 0;
  }

  #onData(seq: number, payload: Uint8Array): void {
    const ahead = seqDistance(seq, this.#ack);
    if (ahead <= 0) {
      this.#sendState(); // a resend: our ack was lost
      return;
    }
    if (ahead === 1) {
      if (payload.length > this.#window()) return; // past the window we advertised: dropped
      this.#deliver(payload);
      this.#ack = seq;
      this.#drainReorder();
      if (++this.#ackOwed >= ACK_EVERY) this.#sendState();
      else this.#link.later(this);
      return;
    }
    const past = this.#eofSeq !== undefined && seqDistance(seq, this.#eofSeq) >= 0;
    const holeFound = this.#reorder.size === 0;
    if (!past && ahead <= MAX_REORDER && !this.#reorder.has(seq)) {
      if (payload.length <= this.#window()) {
        this.#reorder.set(seq, kept(payload));
        this.#reorderBytes += payload.length;
      }
    }
    // A new hole is told at once, so the sender resends it quickly; then acks go as for data
    // in order (a sender needs three packets selectively acked past a hole anyway).
    if (holeFound || ++this.#ackOwed >= ACK_EVERY) this.#sendState();
    else this.#link.later(this);
  }

  #onFin(seq: number): void {
    this.#eofSeq ??= seq;
    if (seqDistance(seq, this.#ack) === 1) this.#drainReorder();
    this.#sendState();
  }

  /** Moves packets that follow the last in-order one out of the reorder buffer; notes EOF. */
  #drainReorder(): void {
    for (;;) {
      const next = (this.#ack + 1) & 0xffff;
      if (next === this.#eofSeq) {
        this.#ack = next;
        this.#readEnded = true;
        this.#wakeReader();
        return;
      }
      const payload = this.#reorder.get(next);
      if (!payload) return;
      this.#reorder.delete(next);
      this.#reorderBytes -= payload.length;
      this.#deliver(payload);
      this.#ack = next;
    }
  }

  #deliver(payload: Uint8Array): void {
    if (this.#closing) return;
    this.#readQueue.push(kept(payload));
    this.#readQueued += payload.length;
    this.#wakeReader();
  }

  #take(into: Uint8Array): number {
    let n = 0;
    const queue = this.#readQueue;
    while (n < into.length && this.#readHead < queue.length) {
      const chunk = queue[this.#readHead];
      const part = Math.min(chunk.length, into.length - n);
      into.set(part === chunk.length ? chunk : chunk.subarray(0, part), n);
      n += part;
      if (part === chunk.length) this.#readHead++;
      else queue[this.#readHead] = chunk.subarray(part);
    }
    this.#readQueued -= n;
    if (this.#readHead === queue.length) {
      this.#readQueue = [];
      this.#readHead = 0;
    } else if (this.#readHead > 1024) {
      this.#readQueue = queue.slice(this.#readHead);
      this.#readHead = 0;
    }
    // The peer stopped on a small window: tell it there is room again.
    if (this.#windowWasSmall && this.#window() >= this.#receiveBuffer / 2) this.#sendState();
    return n;
  }

  /** Bytes of receive buffer left: what we advertise. */
  #window(): number {
    return Math.max(0, this.#receiveBuffer - this.#readQueued - this.#reorderBytes);
  }

  // -------------------------------------------------------------------------------------------
  // Sending

  /**
   * Sizes data packets by what the peer reads (it said so in the SYN exchange, if it is ours):
   * up to what the path takes, or less than our default when it reads less.
   */
  #fitPackets(peerReadLimit: number | undefined): void {
    if (peerReadLimit === undefined) return;
    const bytes = Math.min(this.#largestPacket, Math.max(peerReadLimit, MIN_PACKET_BYTES));
    this.#payloadMax = bytes - HEADER_SIZE;
  }

  #enqueue(type: number): OutPacket {
    // The SYN tells how much we read; data packets have room for a full payload.
    const buffer = type === ST_SYN
      ? encodePacket(this.#header(ST_SYN, this.#seq, 0), undefined, { readLimit: this.#readLimit })
      : new Uint8Array(HEADER_SIZE + (type === ST_DATA ? this.#payloadMax : 0));
    const packet: OutPacket = {
      type,
      seq: 0,
      buffer,
      head: type === ST_SYN ? buffer.length : HEADER_SIZE,
      payload: 0,
      sentAt: 0,
      transmissions: 0,
      sacked: false,
      lost: false,
    };
    this.#unsent.push(packet);
    return packet;
  }

  /** Sends what the windows allow: lost packets first, then new ones, then a pending FIN. */
  #flush(now: number): void {
    if (this.#state === "closed") return;
    const allowed = Math.min(this.#cc.window, this.#peerWindow);
    let burst = 0;
    while (this.#resend.length > 0) {
      if (burst++ === MAX_BURST) return this.#link.later(this);
      const packet = this.#resend[0];
      if (!packet.lost) {
        this.#resend.shift();
        continue;
      }
      if (this.#flightBytes > 0 && this.#flightBytes + packet.payload > allowed) break;
      this.#resend.shift();
      packet.lost = false;
      this.#flightBytes += packet.payload;
      this.#transmit(packet, now);
    }
    if (this.#state === "syn-sent" && this.#inFlight.size > 0) return;
    while (this.#unsent.length > 0 && this.#inFlight.size < MAX_IN_FLIGHT) {
      const packet = this.#unsent[0];
      if (this.#flightBytes > 0 && this.#flightBytes + packet.payload > allowed) break;
      if (burst++ === MAX_BURST) return this.#link.later(this);
      this.#unsent.shift();
      this.#unsentBytes -= packet.payload;
      packet.seq = this.#seq;
      this.#seq = (this.#seq + 1) & 0xffff;
      if (this.#inFlight.size === 0) this.#lastProgress = now;
      this.#inFlight.set(packet.seq, packet);
      this.#flightBytes += packet.payload;
      this.#transmit(packet, now);
    }
    if (this.#closing && this.#unsent.length === 0 && this.#finSeq === undefined) {
      this.#finSeq = this.#seq;
      this.#enqueue(ST_FIN);
      this.#flush(now);
      return;
    }
    if (this.#unsentBytes <= SEND_HIGH_WATER) this.#wakeWriters();
  }

  #transmit(packet: OutPacket, now: number): void {
    packet.sentAt = now;
    packet.transmissions++;
    writeHeader(packet.buffer, this.#header(packet.type, packet.seq, now));
    this.#link.send(packet.buffer.subarray(0, packet.head + packet.payload));
    if (this.#reorder.size === 0) this.#ackOwed = 0; // the packet carries our ack
  }

  #header(type: number, seq: number, now: number) {
    const window = this.#window();
    this.#windowWasSmall = window < this.#receiveBuffer / 4;
    return {
      type,
      connectionId: type === ST_SYN ? this.recvId : this.sendId,
      timestamp: nowMicros(now),
      timestampDifference: this.#replyDelay,
      windowSize: window,
      seq,
      ack: this.#ack,
    };
  }

  /**
   * Sends an ack on its own, with a selective ACK when packets past a hole are held, and, while
   * answering a SYN, how much we read.
   */
  #sendState(): void {
    this.#ackOwed = 0;
    const readLimit = this.#state === "syn-received" ? this.#readLimit : undefined;
    this.#link.send(
      encodePacket(this.#header(ST_STATE, this.#seq, performance.now()), undefined, {
        sack: this.#sack(),
        readLimit,
      }),
    );
  }

  #sendReset(): void {
    this.#link.send(encodePacket(this.#header(ST_RESET, this.#seq, performance.now())));
  }

  #sack(): Uint8Array | undefined {
    if (this.#reorder.size === 0) return undefined;
    const mask = new Uint8Array(MAX_SACK_BYTES);
    let highest = -1;
    for (const seq of this.#reorder.keys()) {
      const bit = seqDistance(seq, this.#ack) - 2;
      if (bit < 0 || bit >= MAX_SACK_BYTES * 8) continue;
      mask[bit >> 3] |= 1 << (bit & 7);
      highest = Math.max(highest, bit);
    }
    if (highest < 0) return undefined;
    return mask.subarray(0, (Math.floor(highest / 32) + 1) * 4);
  }

  // -------------------------------------------------------------------------------------------
  // Ending

  #checkWritable(): void {
    if (this.#error) throw this.#error;
    if (this.#closing || this.#state === "closed") {
      throw new Deno.errors.BadResource("uTP: the stream is closed");
    }
  }

  /**
   * Closed, our FIN acknowledged and the peer's received: after a quiet spell (in which a
   * resent FIN of the peer's, whose ack was lost, is acked again) nothing is left to do.
   */
  #maybeDone(): void {
    if (!this.#closing || this.#finSeq === undefined || this.#inFlight.size > 0) return;
    if (this.#unsent.length > 0 || !this.#readEnded || this.#quietUntil !== undefined) return;
    this.#quietUntil = performance.now() + Math.max(2 * this.#rtt.timeoutMs, QUIET_MS);
  }

  /** All our data acknowledged, our FIN not, and the peer's FIN received. */
  #onlyFinUnacked(): boolean {
    return this.#closing && this.#readEnded && this.#finSeq !== undefined &&
      this.#inFlight.size === 1 && this.#inFlight.has(this.#finSeq);
  }

  #fail(error: Error): void {
    this.#error ??= error;
    this.#connected.reject(error);
    this.#finish();
  }

  #finish(): void {
    if (this.#state === "closed") return;
    if (this.#state === "syn-sent") {
      this.#connected.reject(new Deno.errors.ConnectionAborted("uTP: closed before connecting"));
    }
    this.#state = "closed";
    this.#inFlight.clear();
    this.#unsent = [];
    this.#resend = [];
    this.#reorder.clear();
    this.#connected.promise.catch(() => {});
    this.#wakeReader();
    this.#wakeWriters();
    this.#link.closed(this);
  }

  #wakeReader(): void {
    const wake = this.#reader;
    this.#reader = undefined;
    wake?.();
  }

  #wakeWriters(): void {
    const writers = this.#writers;
    this.#writers = [];
    for (const wake of writers) wake();
  }
}
