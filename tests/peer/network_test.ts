/**
 * How a `PeerNetwork` with uTP on chooses a transport, on real sockets of 127.0.0.1: a peer
 * that answers uTP gets a uTP connection (encrypted when both prefer it); a peer whose UDP port
 * does not speak uTP is reached over TCP once uTP's head start is over, and is not offered uTP
 * again; a uTP connection arriving at a listener reaches the torrent it names.
 */
import {
  type BoundTransport,
  type ByteStream,
  type HandshakeOptions,
  PeerNetwork,
  PeerRouter,
} from "../../src/peer/mod.ts";
import { UdpPort } from "../../src/util/mod.ts";
import { UtpTransport } from "../../src/utp/mod.ts";
import { assertEquals } from "../assert.ts";

const INFO_HASH = new Uint8Array(20).fill(7);

function options(id: number): HandshakeOptions {
  return {
    infoHash: INFO_HASH,
    peerId: new Uint8Array(20).fill(id),
    timeoutMs: 5000,
    maxMessageLength: 1 << 17,
  };
}

/** A uTP transport that counts its dials. */
function counting(inner: BoundTransport): BoundTransport & { dials: number } {
  const counted = {
    dials: 0,
    dial(host: string, port: number, signal: AbortSignal): Promise<ByteStream> {
      counted.dials++;
      return inner.dial(host, port, signal);
    },
    set onAccept(take: ((stream: ByteStream) => void) | undefined) {
      inner.onAccept = take;
    },
    get onAccept() {
      return inner.onAccept;
    },
  };
  return counted;
}

/**
 * A listening peer with TCP and, unless `utp` is false, uTP on its port. The UDP port's number
 * may be taken for TCP (another socket's own end, say): then another is tried, as the client's
 * own `openPeerPorts` does.
 */
async function listeningPeer(utp: boolean) {
  const router = new PeerRouter();
  const arrived: string[] = [];
  router.add(INFO_HASH, () => ({
    options: options(2),
    adopt: (peer) => {
      arrived.push(peer.transport);
      peer.close("done");
    },
  }));
  for (let attempt = 1;; attempt++) {
    const udp = await UdpPort.bind("127.0.0.1", 0);
    const transport = new UtpTransport(utp ? [udp] : []);
    const network = new PeerNetwork({ utp: transport });
    try {
      const listener = network.listen({ hostname: "127.0.0.1", port: udp.port, router });
      return {
        port: listener.port,
        arrived,
        async close() {
          listener.close();
          transport.close();
          await udp.close();
        },
      };
    } catch (e) {
      transport.close();
      await udp.close();
      if (!(e instanceof Deno.errors.AddrInUse) || attempt >= 10) throw e;
    }
  }
}

Deno.test("network: a peer that answers uTP is reached over uTP, encrypted", async () => {
  const peer = await listeningPeer(true);
  const udp = await UdpPort.bind("127.0.0.1", 0);
  const inner = new UtpTransport([udp]);
  const utp = counting(inner);
  try {
    const conn = await new PeerNetwork({ utp }).dial("127.0.0.1", peer.port, options(3));
    assertEquals([conn.transport, conn.encrypted, conn.remote.peerId[0]], ["utp", true, 2]);
    conn.close("done");
    assertEquals(peer.arrived, ["utp"]);
  } finally {
    inner.close();
    await udp.close();
    await peer.close();
  }
});

Deno.test("network: a peer without uTP is reached over TCP, and not offered uTP again", async () => {
  const peer = await listeningPeer(false); // its UDP port is bound but takes no uTP
  const udp = await UdpPort.bind("127.0.0.1", 0);
  const inner = new UtpTransport([udp]);
  const utp = counting(inner);
  try {
    const network = new PeerNetwork({ utp });
    const first = await network.dial("127.0.0.1", peer.port, options(3));
    assertEquals(first.transport, "tcp");
    first.close("done");
    // Once its uTP dial has given up, the address is known to lack uTP.
    await new Promise((r) => setTimeout(r, 1600));
    const second = await network.dial("127.0.0.1", peer.port, options(3));
    assertEquals([second.transport, utp.dials], ["tcp", 1]);
    second.close("done");
    assertEquals(peer.arrived, ["tcp", "tcp"]);
  } finally {
    inner.close();
    await udp.close();
    await peer.close();
  }
});
