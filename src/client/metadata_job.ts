/**
 * The metadata phase of a magnet link: trackers from the link, the DHT and the link's own peer
 * addresses feed a `MetadataFetcher` until the info dictionary arrives and verifies; the result
 * is a `Torrent` as if read from a .torrent file, plus every peer address learnt on the way.
 *
 * @module
 */
import {
  type HandedPeer,
  MetadataFetcher,
  type MetadataStats,
  type PeerAddress,
  type SessionLog,
  type SourcedAddress,
} from "../engine/mod.ts";
import { type Magnet, parseInfo, swarmHashes, type Torrent } from "../metainfo/mod.ts";
import { Announcer, type AnnouncerOptions, type TrackerStatus } from "../tracker/mod.ts";
import { DhtLookups } from "./dht_lookups.ts";
import type { PeerHub } from "./peer_hub.ts";
import { describeTracker, logTracker } from "./status.ts";

/** What the metadata phase needs. */
export interface MetadataJobOptions {
  magnet: Magnet;
  /** The process's peer hub: port, listener, peer id and DHT (it is never stopped here). */
  hub: PeerHub;
  maxPeers?: number;
  log?: SessionLog;
  /** Peers to dial besides the magnet's own (`--peer`), counted as `manual`. */
  peers?: PeerAddress[];
  /** Called with each tracker answer. */
  onTracker?: (status: TrackerStatus) => void;
  announcer?: Partial<AnnouncerOptions>;
}

/** The outcome: the torrent, the peers to dial first for its pieces, and those still connected. */
export interface FetchedTorrent {
  torrent: Torrent;
  peers: SourcedAddress[];
  /** Connections the download takes over (see `HandedPeer`), or closes. */
  handed: HandedPeer[];
}

/**
 * Fetches a magnet link's metadata.
 *
 * @example
 * ```ts ignore
 * const job = MetadataJob.start({ magnet: parseMagnet(uri), dht });
 * const { torrent, peers } = await job.done;
 * await job.stop();
 * ```
 */
export class MetadataJob {
  readonly #fetcher: MetadataFetcher;
  readonly #stopServing: () => void;
  readonly #unshare: () => void;
  /** One announce loop a swarm (a link with both btih and btmh names two). */
  readonly #announcers: Announcer[] = [];
  readonly #lookups: DhtLookups[] = [];
  #tracker?: TrackerStatus;
  #stopping?: Promise<void>;
  /** Settles with the verified torrent. */
  readonly done: Promise<FetchedTorrent>;

  private constructor(opts: MetadataJobOptions) {
    const { magnet, hub } = opts;
    const swarms = swarmHashes(magnet);
    this.#stopServing = hub.serve(swarms, () => this.#fetcher);
    this.#unshare = hub.share();
    this.#fetcher = new MetadataFetcher({
      infoHash: magnet.infoHash,
      infoHashV2: magnet.infoHashV2,
      peerId: hub.peerId,
      dial: hub.network.dial,
      maxPeers: opts.maxPeers,
      listenPort: hub.port,
      pex: () => hub.pex,
      log: opts.log,
    });
    this.#fetcher.start();
    this.#fetcher.addPeers(magnet.peers, "magnet");
    this.#fetcher.addPeers(opts.peers ?? [], "manual");
    for (const infoHash of magnet.trackers.length > 0 ? swarms : []) {
      const announcer = new Announcer({
        tiers: magnet.trackers.map((url) => [url]),
        infoHash,
        peerId: hub.peerId,
        port: hub.port,
        // The size is unknown until the metadata arrives; any positive `left` says "leecher".
        stats: () => ({ uploaded: 0, downloaded: 0, left: 1 }),
        onPeers: (peers) => this.#fetcher.addPeers(peers, "tracker"),
        onStatus: (status) => {
          this.#tracker = status;
          opts.onTracker?.(status);
          logTracker(opts.log, status);
        },
        ...opts.announcer,
      });
      announcer.start();
      this.#announcers.push(announcer);
    }
    for (const infoHash of hub.dht ? swarms : []) {
      this.#lookups.push(
        new DhtLookups(
          hub.dht!,
          infoHash,
          hub.port,
          (peers) => this.#fetcher.addPeers(peers, "dht"),
          60_000,
        ),
      );
    }
    this.done = this.#fetcher.done.then((info) => ({
      torrent: {
        ...parseInfo(info),
        announce: magnet.trackers.map((url) => [url]),
        urlList: magnet.webSeeds,
      },
      peers: this.#fetcher.knownAddresses(),
      handed: this.#fetcher.handOff(),
    }));
  }

  /** Starts looking for peers and metadata at once. */
  static start(opts: MetadataJobOptions): MetadataJob {
    return new MetadataJob(opts);
  }

  stats(): MetadataStats {
    return this.#fetcher.stats();
  }

  /** The last tracker outcome, in a few words. */
  get trackerStatus(): string | undefined {
    return describeTracker(this.#tracker, this.#announcers.length > 0);
  }

  /** Closes the phase: trackers, DHT lookups, peers, its route in the hub. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const lookups of this.#lookups) lookups.stop();
      this.#stopServing();
      this.#unshare();
      await Promise.allSettled([...this.#announcers.map((a) => a.stop()), this.#fetcher.stop()]);
    })();
    return this.#stopping;
  }
}
