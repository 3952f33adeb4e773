/**
 * Blocklists: the formats users download (P2P, DAT) and plain ranges, merged and looked up in
 * both families; read from files and web addresses, gzipped or not; and the peer network
 * refusing their addresses both ways.
 */
import { Blocklist, loadBlocklist, PeerNetwork, PeerRouter } from "../../src/peer/mod.ts";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { serveFiles } from "../web_server.ts";
import { mulberry32 } from "../random.ts";

Deno.test("Blocklist.parse: P2P, DAT and CIDR lines, comments, and what it cannot read", () => {
  const { list, skipped } = Blocklist.parse([
    "# comment",
    "",
    "Bad: org: with colons:1.2.3.0-1.2.3.255",
    "Reversed:9.9.9.9-9.9.9.0",
    "001.002.004.000 - 001.002.004.127 , 000 , padded DAT",
    "5.5.5.0 - 5.5.5.255 , 200 , allowed by its level",
    "100.64.0.0/10",
    "8.8.8.8",
    "2001:db8::/32",
    "fe80::1 - fe80::ff , 10 , v6 DAT",
    "1.2.3.4-1.2.3.999",
    "junk",
    "10.0.0.0/33",
  ].join("\r\n"));
  assertEquals(skipped, 3);
  const blocked = [
    "1.2.3.0",
    "1.2.3.255",
    "9.9.9.5",
    "1.2.4.127",
    "100.127.255.255",
    "8.8.8.8",
    "2001:db8:ffff::1",
    "fe80::80",
    "[2001:db8::2]",
    "::ffff:8.8.8.8",
  ];
  for (const host of blocked) assert(list.blocks(host), `${host} is blocked`);
  const free = ["1.2.2.255", "1.2.4.128", "5.5.5.5", "100.128.0.0", "8.8.4.4", "2001:db9::1", "x"];
  for (const host of free) assert(!list.blocks(host), `${host} is not`);
});

Deno.test("Blocklist.parse: overlapping and adjacent ranges merge; lookups hold at every edge", () => {
  const { list } = Blocklist.parse(
    [
      "a:10.0.0.10-10.0.0.20",
      "b:10.0.0.15-10.0.0.30",
      "c:10.0.0.31-10.0.0.40",
      "d:10.0.0.50-10.0.0.50",
    ]
      .join("\n"),
  );
  assertEquals(list.size, 2);
  const at = (n: number) => list.blocks(`10.0.0.${n}`);
  assertEquals([9, 10, 40, 41, 49, 50, 51].map(at), [false, true, true, false, false, true, false]);
  assertEquals(Blocklist.EMPTY.blocks("10.0.0.10"), false);
});

Deno.test("loadBlocklist: a file, a gzipped file, a web address; a refusal says why", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt-blocklist-" });
  const text = "Tracker junk:203.0.113.0-203.0.113.255\n";
  const gzipped = new Uint8Array(
    await new Response(new Blob([text]).stream().pipeThrough(new CompressionStream("gzip")))
      .arrayBuffer(),
  );
  await Deno.writeTextFile(`${dir}/list.p2p`, text);
  await Deno.writeFile(`${dir}/list.p2p.gz`, gzipped);
  await Deno.writeFile(`${dir}/list.zip`, new Uint8Array([0x50, 0x4b, 3, 4, 0, 0]));
  const server = serveFiles(dir);
  try {
    for (const source of [`${dir}/list.p2p`, `${dir}/list.p2p.gz`, `${server.url}list.p2p.gz`]) {
      assert((await loadBlocklist(source)).list.blocks("203.0.113.9"), source);
    }
    await assertRejects(() => loadBlocklist(`${dir}/none`), Deno.errors.NotFound);
    await assertRejects(() => loadBlocklist(`${dir}/list.zip`), Error, "zip");
    await assertRejects(() => loadBlocklist(`${server.url}none`), Error, "404");
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PeerNetwork: a blocked address is neither dialled nor accepted; a new list holds at once", async () => {
  const infoHash = new Uint8Array(20).fill(7);
  const options = (id: number) => ({
    infoHash,
    peerId: new Uint8Array(20).fill(id),
    timeoutMs: 3000,
    maxMessageLength: 1 << 17,
  });
  const loopback = Blocklist.parse("127.0.0.0/8").list;
  const errors: string[] = [];
  const listening = new PeerNetwork({ encryption: "off", blocklist: loopback });
  const router = new PeerRouter();
  let adopted = 0;
  router.add(infoHash, () => ({
    options: options(2),
    adopt: (peer) => {
      adopted++;
      peer.close("done");
    },
  }));
  const listener = listening.listen({
    hostname: "127.0.0.1",
    port: 0,
    router,
    onError: (m) => errors.push(m),
  });
  try {
    const dialling = new PeerNetwork({ encryption: "off" });
    await assertRejects(() => dialling.dial("127.0.0.1", listener.port, options(3)));
    assertEquals(adopted, 0);
    assert(errors.some((e) => e.includes("on the blocklist")), `told: ${errors}`);
    await assertRejects(
      () => listening.dial("127.0.0.1", listener.port, options(4)),
      Error,
      "on the blocklist",
    );
    listening.blocklist = Blocklist.EMPTY;
    const peer = await dialling.dial("127.0.0.1", listener.port, options(3));
    peer.close("done");
    assertEquals(adopted, 1);
  } finally {
    listener.close();
  }
});

Deno.test("Blocklist: random text never throws, and whatever it reads, lookups answer", () => {
  const rng = mulberry32(20261206);
  const alphabet = "0123456789abcdef.:-/, \t#xyz\u00e9\u0000\n";
  for (let round = 0; round < 300; round++) {
    let text = "";
    const length = Math.floor(rng() * 400);
    for (let i = 0; i < length; i++) text += alphabet[Math.floor(rng() * alphabet.length)];
    const { list } = Blocklist.parse(text);
    for (const host of ["1.2.3.4", "::1", "[2001:db8::1]", "999.1.1.1", "", "a:b"]) {
      assertEquals(typeof list.blocks(host), "boolean");
    }
  }
});
