/**
 * The daemon's blocklist: fetched from its address, kept in the state folder for the next run
 * (which needs no network then), switched off and on, and never fatal when it cannot be had.
 */
import { SessionBlocklist } from "../../src/client/mod.ts";
import { PeerNetwork } from "../../src/peer/mod.ts";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { serveFiles } from "../web_server.ts";

Deno.test("SessionBlocklist: fetched, kept for the next run, switched off, updated", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt-session-blocklist-" });
  await Deno.mkdir(`${dir}/www`);
  await Deno.writeTextFile(`${dir}/www/list.p2p`, "Bad:198.51.100.0-198.51.100.255\n");
  const server = serveFiles(`${dir}/www`);
  const said: string[] = [];
  const log = { info: (m: string) => said.push(m), warn: (m: string) => said.push(`WARN ${m}`) };
  const state = `${dir}/state`, url = `${server.url}list.p2p`;
  try {
    const network = new PeerNetwork();
    let blocklist = await SessionBlocklist.open(network, state, url, log);
    await blocklist.loaded;
    assertEquals([blocklist.url, blocklist.enabled, blocklist.size], [url, true, 1]);
    assert(network.blocklist.blocks("198.51.100.7"));
    await blocklist.set({ enabled: false });
    assert(!network.blocklist.blocks("198.51.100.7"), "off");
    const fetched = server.requests.length;

    // The next run: the kept list, no fetch, and the user's switch kept though the source is
    // given again.
    const again = new PeerNetwork();
    blocklist = await SessionBlocklist.open(again, state, url, log);
    await blocklist.loaded;
    assertEquals([blocklist.enabled, blocklist.size, server.requests.length], [false, 1, fetched]);
    await blocklist.set({ enabled: true });
    assert(again.blocklist.blocks("198.51.100.7"));

    // An update fetches again; one that fails keeps the list held.
    await Deno.writeTextFile(
      `${dir}/www/list.p2p`,
      "a:198.51.100.0-198.51.100.9\nb:10.0.0.1-10.0.0.1\n",
    );
    assertEquals(await blocklist.update(), 2);
    assert(again.blocklist.blocks("10.0.0.1") && !again.blocklist.blocks("198.51.100.77"));
    await blocklist.set({ url: `${server.url}gone.p2p` });
    await assertRejects(() => blocklist.update(), Error, "404");
    assert(again.blocklist.blocks("10.0.0.1"), "the list held before stays");
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SessionBlocklist: a source that cannot be had is a warning; no source, no list", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt-session-blocklist-" });
  const said: string[] = [];
  const log = { info: (m: string) => said.push(m), warn: (m: string) => said.push(`WARN ${m}`) };
  try {
    const network = new PeerNetwork();
    const missing = await SessionBlocklist.open(network, dir, `${dir}/none.p2p`, log);
    await missing.loaded;
    assertEquals([missing.enabled, missing.size], [true, 0]);
    assert(said.some((m) => m.startsWith("WARN blocklist")), `told: ${said}`);
    const none = await SessionBlocklist.open(new PeerNetwork(), undefined, undefined, log);
    assertEquals([none.url, none.enabled, none.size], ["", false, 0]);
    await assertRejects(() => none.update(), Error, "no blocklist address");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SessionBlocklist: a list that is a file of this machine is read again at each start", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt-session-blocklist-" });
  const quiet = { info() {}, warn() {} };
  const file = `${dir}/list.p2p`;
  try {
    await Deno.writeTextFile(file, "a:192.0.2.0-192.0.2.255\n");
    const first = new PeerNetwork();
    await (await SessionBlocklist.open(first, `${dir}/state`, file, quiet)).loaded;
    assert(first.blocklist.blocks("192.0.2.1"));
    await Deno.writeTextFile(file, "b:198.18.0.0-198.19.255.255\n");
    const second = new PeerNetwork();
    await (await SessionBlocklist.open(second, `${dir}/state`, undefined, quiet)).loaded;
    assert(second.blocklist.blocks("198.18.0.1") && !second.blocklist.blocks("192.0.2.1"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SessionBlocklist: the client does not wait for a slow fetch, and a stop ends it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt-session-blocklist-" });
  let answer: (r: Response) => void = () => {};
  const server = serveFiles(dir, () => new Promise<Response>((r) => answer = r));
  const said: string[] = [];
  const log = { info: (m: string) => said.push(m), warn: (m: string) => said.push(`WARN ${m}`) };
  try {
    const blocklist = await SessionBlocklist.open(
      new PeerNetwork(),
      `${dir}/state`,
      `${server.url}slow.p2p`,
      log,
    );
    assertEquals([blocklist.enabled, blocklist.size], [true, 0], "open, the list on its way");
    await blocklist.close();
    assertEquals(said, [], "a fetch the stop ended is not a failure to tell");
  } finally {
    answer(new Response("late"));
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
