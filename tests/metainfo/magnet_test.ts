import { magnetUri, MAX_MAGNET_LENGTH, parseMagnet, TorrentError } from "../../src/metainfo/mod.ts";
import { fromHex } from "../../src/util/mod.ts";
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { mulberry32, randomInt } from "../random.ts";

const HEX = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";
// The same 20 bytes in RFC 4648 base32.
const B32 = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK";

Deno.test("magnet: hex and base32 info-hashes, any case", () => {
  const hash = fromHex(HEX);
  for (const xt of [HEX, HEX.toUpperCase(), B32, B32.toLowerCase()]) {
    const m = parseMagnet(`magnet:?xt=urn:btih:${xt}`);
    assertEquals(m.infoHash, hash, xt);
    assertEquals(m.infoHashHex, HEX);
    assertEquals([m.name, m.trackers, m.peers, m.webSeeds], [undefined, [], [], []]);
  }
  assertEquals(parseMagnet(`MAGNET:?XT=URN:BTIH:${HEX}`).infoHashHex, HEX);
  assertEquals(parseMagnet(`  magnet:?xt=urn%3Abtih%3A${HEX}\n`).infoHashHex, HEX);
});

Deno.test("magnet: dn, tr (deduplicated), ws, x.pe", () => {
  const m = parseMagnet(
    `magnet:?xt=urn:btih:${HEX}&dn=Some+Name%20%2B%C3%A9` +
      "&tr=http%3A%2F%2F127.0.0.1%3A8000%2Fannounce&tr=udp://127.0.0.1:6969" +
      "&tr=http%3A%2F%2F127.0.0.1%3A8000%2Fannounce&tr.1=http://127.0.0.1:1/a%3Fb%3Dc" +
      "&tr=not%20a%20url&tr=%ZZ" +
      "&ws=http%3A%2F%2F127.0.0.1%2Ffiles%2F&ws=http://127.0.0.1/files/" +
      "&x.pe=127.0.0.1:6881&x.pe=%5B::1%5D:6882&x.pe=[2001:db8::1]:1&x.pe=peer.example:7" +
      "&x.pe=127.0.0.1:6881&x.pe=127.0.0.1:0&x.pe=127.0.0.1:65536&x.pe=1.2.3:4&x.pe=[1.2.3.4]:5" +
      "&x.pe=::1:5&x.pe=[zz]:5&x.pe=-bad-:5&x.pe=host&x.pe=[::1]&x.pe=999.1.1.1:5" +
      "&xl=10&kt=a+b&so=0-1#frag",
  );
  assertEquals(m.name, "Some Name +é");
  assertEquals(m.trackers, [
    "http://127.0.0.1:8000/announce",
    "udp://127.0.0.1:6969",
    "http://127.0.0.1:1/a?b=c",
  ]);
  assertEquals(m.webSeeds, ["http://127.0.0.1/files/"]);
  assertEquals(m.peers, [
    { host: "127.0.0.1", port: 6881 },
    { host: "::1", port: 6882 },
    { host: "2001:db8::1", port: 1 },
    { host: "peer.example", port: 7 },
  ]);
});

Deno.test("magnet: btih and btmh (BEP 52) side by side, or btmh alone; the first of each wins", () => {
  const v2 = "1220" + "ab".repeat(32);
  const m = parseMagnet(
    `magnet:?xt=urn:btmh:${v2}&xt=urn:sha1:ABC&xt.1=urn:btih:${HEX}&xt=urn:btih:${"0".repeat(40)}` +
      `&xt=urn:btmh:1220${"cd".repeat(32)}`,
  );
  assertEquals(m.infoHashHex, HEX);
  assertEquals(m.infoHashV2, fromHex("ab".repeat(32)));
  // A v2-only link goes by the first 20 bytes of its v2 hash on the wire.
  const only = parseMagnet(`magnet:?xt=urn:btmh:${v2.toUpperCase()}&dn=x`);
  assertEquals([only.infoHashHex, only.name], ["ab".repeat(20), "x"]);
  assertEquals(only.infoHashV2, fromHex("ab".repeat(32)));
  for (const bad of ["1220ab", "1114" + "ab".repeat(32), v2 + "00", "1220" + "xy".repeat(32)]) {
    assertThrows(
      () => parseMagnet(`magnet:?xt=urn:btmh:${bad}`),
      TorrentError,
      "invalid v2 info-hash",
    );
  }
  assertThrows(() => parseMagnet("magnet:?dn=x"), TorrentError, "xt=urn:btmh:...");
  // magnetUri writes both, and they read back.
  const both = parseMagnet(magnetUri({ infoHashHex: HEX, infoHashV2Hex: "ab".repeat(32) }));
  assertEquals([both.infoHashHex, both.infoHashV2], [HEX, fromHex("ab".repeat(32))]);
});

Deno.test("magnet: dn is cleaned; first dn wins; bad escapes kept raw", () => {
  assertEquals(parseMagnet(`magnet:?xt=urn:btih:${HEX}&dn=a%0Ab%1B&dn=second`).name, "ab");
  assertEquals(parseMagnet(`magnet:?xt=urn:btih:${HEX}&dn=100%`).name, "100%");
  assertEquals(parseMagnet(`magnet:?xt=urn:btih:${HEX}&dn=`).name, undefined);
  assertEquals(parseMagnet(`magnet:?xt=urn:btih:${HEX}&dn=+++`).name, undefined);
});

Deno.test("magnet: malformed links are TorrentErrors with clear messages", () => {
  const cases: [string, string][] = [
    ["", "not a magnet link"],
    ["http://example.org/?xt=urn:btih:" + HEX, "not a magnet link"],
    ["magnet:xt=urn:btih:" + HEX, "not a magnet link"],
    ["magnet:?dn=x&tr=udp://127.0.0.1:1", "no info-hash"],
    ["magnet:?", "no info-hash"],
    ["magnet:?xt=urn:btih:", "invalid info-hash"],
    ["magnet:?xt=urn:btih:" + HEX.slice(1), "invalid info-hash"],
    ["magnet:?xt=urn:btih:" + HEX + "0", "invalid info-hash"],
    ["magnet:?xt=urn:btih:" + "g".repeat(40), "invalid info-hash"],
    ["magnet:?xt=urn:btih:" + B32.slice(1), "invalid info-hash"],
    ["magnet:?xt=urn:btih:" + "1".repeat(32), "invalid info-hash"],
    ["magnet:?xt=urn:btih:" + "0".repeat(64), "invalid info-hash"],
    ["magnet:?xt=urn:btih:" + "A".repeat(5000), "invalid info-hash"],
    ["magnet:?xt=urn:btih=" + HEX, "no info-hash"],
  ];
  for (const [uri, msg] of cases) {
    const e = assertThrows(() => parseMagnet(uri), TorrentError, msg);
    assert(!e.message.includes("\n") && e.message.length < 200, uri);
  }
  assertThrows(
    () => parseMagnet(`magnet:?xt=urn:btih:${HEX}&dn=${"a".repeat(MAX_MAGNET_LENGTH)}`),
    TorrentError,
    "too long",
  );
});

Deno.test("magnetUri: round trip through parseMagnet", () => {
  const uri = magnetUri({
    infoHashHex: HEX.toUpperCase(),
    name: "name with spaces & = + ? # é",
    trackers: ["http://127.0.0.1:8000/announce?x=1&y=2", "udp://127.0.0.1:6969"],
    peers: [{ host: "127.0.0.1", port: 1 }, { host: "::1", port: 2 }],
    webSeeds: ["http://127.0.0.1/seed/"],
  });
  assert(uri.startsWith(`magnet:?xt=urn:btih:${HEX}&dn=`));
  const m = parseMagnet(uri);
  assertEquals(m.infoHashHex, HEX);
  assertEquals(m.name, "name with spaces & = + ? # é");
  assertEquals(m.trackers, ["http://127.0.0.1:8000/announce?x=1&y=2", "udp://127.0.0.1:6969"]);
  assertEquals(m.peers, [{ host: "127.0.0.1", port: 1 }, { host: "::1", port: 2 }]);
  assertEquals(m.webSeeds, ["http://127.0.0.1/seed/"]);
  assertEquals(magnetUri({ infoHashHex: HEX }), `magnet:?xt=urn:btih:${HEX}`);
  assertThrows(() => magnetUri({ infoHashHex: "xyz" }), TorrentError, "invalid info-hash");
});

Deno.test("magnet: fuzz returns a sane magnet or TorrentError", () => {
  const r = mulberry32(0x3a);
  const seeds = [
    magnetUri({
      infoHashHex: HEX,
      name: "n",
      trackers: ["udp://127.0.0.1:1"],
      peers: [{ host: "::1", port: 9 }],
    }),
    `magnet:?xt=urn:btih:${B32}&x.pe=127.0.0.1:5&ws=http://127.0.0.1/&dn=a+b`,
    `magnet:?xt=urn:btmh:1220${"ab".repeat(32)}&xt=urn:btih:${HEX}`,
  ];
  const alphabet = "magnet:?&=%[]:.+#xtbihurnADFZ27 0123456789\u00e9\n";
  for (let i = 0; i < 6000; i++) {
    let s = seeds[i % seeds.length];
    for (let k = 1 + randomInt(r, 4); k > 0; k--) {
      const at = randomInt(r, s.length + 1);
      switch (randomInt(r, 4)) {
        case 0:
          s = s.slice(0, at) + alphabet[randomInt(r, alphabet.length)] + s.slice(at);
          break;
        case 1:
          s = s.slice(0, at) + s.slice(at + 1 + randomInt(r, 6));
          break;
        case 2:
          s = s.slice(0, at) + alphabet[randomInt(r, alphabet.length)] + s.slice(at + 1);
          break;
        default:
          s = s.slice(0, at) + s.slice(randomInt(r, s.length), randomInt(r, s.length)) +
            s.slice(at);
      }
    }
    try {
      const m = parseMagnet(s);
      assertEquals(m.infoHash.length, 20, `case ${i}`);
      assert(/^[0-9a-f]{40}$/.test(m.infoHashHex), `case ${i}`);
      for (const p of m.peers) assert(p.port >= 1 && p.port <= 65535 && p.host !== "", `case ${i}`);
      assertEquals(new Set(m.trackers).size, m.trackers.length, `case ${i}`);
    } catch (e) {
      if (!(e instanceof TorrentError)) throw new Error(`case ${i} (${JSON.stringify(s)}): ${e}`);
    }
  }
});
