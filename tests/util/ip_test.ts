import { formatIp, parseIp } from "../../src/util/mod.ts";
import { assertEquals } from "../assert.ts";
import { mulberry32, randomInt } from "../random.ts";

Deno.test("parseIp/formatIp: IPv4", () => {
  assertEquals(parseIp("0.0.0.0"), new Uint8Array(4));
  assertEquals(parseIp("255.255.255.255"), new Uint8Array(4).fill(255));
  for (
    const bad of [
      "256.1.1.1",
      "1.2.3",
      "1.2.3.4.5",
      "01.2.3.4",
      "1.2.3.-4",
      " 1.2.3.4",
      "a.b.c.d",
      "",
    ]
  ) {
    assertEquals(parseIp(bad), undefined, bad);
  }
  assertEquals(formatIp(new Uint8Array([192, 168, 1, 20])), "192.168.1.20");
  assertEquals(formatIp(new Uint8Array(5)), undefined);
});

Deno.test("parseIp/formatIp: IPv6 forms", () => {
  const cases: [string, string][] = [
    ["::", "::"],
    ["::1", "::1"],
    ["[::1]", "::1"],
    ["1::", "1::"],
    ["2001:DB8::1", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ["::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"],
    ["::1.2.3.4", "::102:304"],
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
  ];
  for (const [text, canonical] of cases) {
    const b = parseIp(text);
    assertEquals(b?.length, 16, text);
    assertEquals(formatIp(b!), canonical, text);
  }
  assertEquals(parseIp("::ffff:10.0.0.1"), new Uint8Array([10, 0, 0, 1]));
  assertEquals(parseIp("::FFFF:a00:1"), new Uint8Array([10, 0, 0, 1]));
  for (
    const bad of [
      ":",
      ":::",
      "1:::2",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "12345::",
      "g::",
      ":1::",
      "::1:",
      "fe80::1%eth0",
      "::1.2.3",
      "::1.2.3.4:5",
      "1:2:3:4:5:6:7:1.2.3.4",
      "[::1",
    ]
  ) {
    assertEquals(parseIp(bad), undefined, bad);
  }
});

Deno.test("parseIp/formatIp: random addresses agree with the URL parser's canonical form", () => {
  const r = mulberry32(5);
  for (let i = 0; i < 3000; i++) {
    const b = new Uint8Array(16);
    // Runs of zero groups are what compression is about: make them common.
    for (let g = 0; g < 8; g++) {
      if (randomInt(r, 2) === 0) continue;
      b[g * 2] = randomInt(r, 3) === 0 ? randomInt(r, 256) : 0;
      b[g * 2 + 1] = randomInt(r, 256);
    }
    const text = formatIp(b)!;
    const viaUrl = new URL(`http://[${text}]/`).hostname.slice(1, -1);
    assertEquals(text, viaUrl, `case ${i}`);
    const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
    assertEquals(parseIp(text), mapped ? b.slice(12) : b, `case ${i}`);
  }
});
