import { PeerHub } from "../../src/client/mod.ts";
import { UdpPort } from "../../src/util/mod.ts";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { LOOPBACK } from "../integration/helpers.ts";

/** Whether a TCP connection to `port` on this machine opens. */
async function accepts(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: LOOPBACK, port })).close();
    return true;
  } catch {
    return false;
  }
}

/** Whether UDP `port` is free (nothing of ours holds it). */
async function udpFree(port: number): Promise<boolean> {
  try {
    await (await UdpPort.bind(LOOPBACK, port)).close();
    return true;
  } catch {
    return false;
  }
}

Deno.test("PeerHub.setPort: TCP and uTP's UDP move to the new port; a taken one changes nothing", async () => {
  const hub = await PeerHub.open({ port: 0, hostname: LOOPBACK });
  const busy = Deno.listen({ hostname: LOOPBACK, port: 0 });
  try {
    const first = hub.port;
    assert(await accepts(first) && !(await udpFree(first)), "TCP and UDP on the first port");
    // A port free for both: bind and let go.
    const probe = await PeerHub.open({ port: 0, hostname: LOOPBACK });
    const second = probe.port;
    await probe.stop();

    await hub.setPort(second);
    assertEquals(hub.port, second);
    assert(await accepts(second) && !(await udpFree(second)), "TCP and UDP on the new port");
    assert(!(await accepts(first)) && await udpFree(first), "the old port let go");

    const taken = (busy.addr as Deno.NetAddr).port;
    await assertRejects(() => hub.setPort(taken), Deno.errors.AddrInUse);
    assertEquals(hub.port, second, "nothing changed");
    assert(await accepts(second) && !(await udpFree(second)), "still listening there");
    await hub.setPort(second); // the same port: nothing to do
  } finally {
    busy.close();
    await hub.stop();
  }
});

Deno.test("PeerHub.setNetwork: uTP and the DHT switched on and off on the same port", async () => {
  const state = await Deno.makeTempDir({ prefix: "bt-hub-dht-" });
  const hub = await PeerHub.open({
    port: 0,
    hostname: LOOPBACK,
    utp: false,
    // Nothing answers there: nothing leaves this machine.
    dht: { bootstrap: ["127.0.0.1:9"], statePath: () => `${state}/dht.json` },
    dhtOff: true,
  });
  const bare = await PeerHub.open({ port: 0, hostname: LOOPBACK, utp: false });
  try {
    const port = hub.port;
    assertEquals([hub.utpEnabled, hub.dhtEnabled, hub.dht], [false, false, undefined]);
    assert(await udpFree(port), "no UDP while neither wants it");

    await hub.setNetwork({ dht: true });
    assert(hub.dhtEnabled && hub.dht !== undefined, "a DHT node runs");
    assert(!(await udpFree(port)) && await accepts(port), "UDP bound, TCP listening, one port");
    await hub.setNetwork({ utp: true, dht: false });
    assertEquals([hub.utpEnabled, hub.dhtEnabled, hub.dht], [true, false, undefined]);
    assertEquals(hub.port, port);
    await hub.setNetwork({ utp: false });
    assert(await udpFree(port) && await accepts(port), "UDP let go, TCP still there");

    await assertRejects(() => bare.setNetwork({ dht: true }), Error, "no DHT was set up");
  } finally {
    await hub.stop();
    await bare.stop();
    await Deno.remove(state, { recursive: true });
  }
});
