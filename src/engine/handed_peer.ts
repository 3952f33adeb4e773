/**
 * A connection handed from a magnet link's metadata phase to its download, so the peers met
 * while fetching the metadata need not be dialled again.
 *
 * @module
 */
import type { Message, PeerConnection, PeerConnectionOptions, PeerEvents } from "../peer/mod.ts";
import type { PeerAddress, PeerSource } from "./peer_book.ts";

/**
 * A connection the metadata phase hands to the download, and what the peer said on it that
 * the download needs: its pieces, its choke and interest, its extension handshake. The phase
 * sent it HAVE NONE (with the fast extension) or nothing, as we had no pieces, and our
 * extension handshake.
 */
export class HandedPeer {
  #taken = false;

  constructor(
    readonly conn: PeerConnection,
    /** The address it was dialled at and where that came from; undefined: it called us. */
    readonly dialled: (PeerAddress & { source: PeerSource }) | undefined,
    readonly said: Message[],
  ) {}

  /** True until taken, or closed while waiting. */
  get available(): boolean {
    return !this.#taken && !this.conn.closed;
  }

  /** Sends the connection's messages to `events` from now on; those said before are returned. */
  take(events: PeerEvents, options: PeerConnectionOptions): Message[] {
    if (!this.available) throw new Error("this connection was taken or closed");
    this.#taken = true;
    this.conn.handTo(events, options);
    return this.said;
  }
}
