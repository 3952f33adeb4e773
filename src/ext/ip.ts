/**
 * IP address text <-> bytes, for the compact peer lists of ut_pex (BEP 11) and the `yourip` key
 * of the extended handshake (BEP 10). Only literal addresses: a host name has no compact form.
 *
 * @module
 */

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseIPv4(s: string): Uint8Array | undefined {
  const m = IPV4.exec(s);
  if (!m) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = m[i + 1];
    // Leading zeros are refused: some parsers read them as octal, so their meaning is unclear.
    if (part.length > 1 && part[0] === "0") return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseIPv6(s: string): Uint8Array | undefined {
  if (s.length < 2 || s.length > 45) return undefined;
  const out = new Uint8Array(16);
  let body = s;
  const lastColon = s.lastIndexOf(":");
  if (lastColon < 0) return undefined;
  if (s.indexOf(".", lastColon) >= 0) {
    // Embedded IPv4 tail (e.g. ::ffff:1.2.3.4): stands for the last two groups.
    const v4 = parseIPv4(s.slice(lastColon + 1));
    if (!v4) return undefined;
    out.set(v4, 12);
    body = s.slice(0, lastColon + 1) + "0:0";
  }
  const halves = body.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] === "" ? [] : halves[0].split(":");
  const tail = halves.length === 2 && halves[1] !== "" ? halves[1].split(":") : [];
  if (halves.length === 1 ? head.length !== 8 : head.length + tail.length > 7) return undefined;
  const groups: number[] = [];
  for (const g of head) {
    if (!GROUP.test(g)) return undefined;
    groups.push(parseInt(g, 16));
  }
  const fill = 8 - head.length - tail.length;
  for (let i = 0; i < fill; i++) groups.push(0);
  for (const g of tail) {
    if (!GROUP.test(g)) return undefined;
    groups.push(parseInt(g, 16));
  }
  const keepTail = body !== s; // the embedded IPv4 bytes are already in place
  for (let i = 0; i < (keepTail ? 6 : 8); i++) {
    out[i * 2] = groups[i] >> 8;
    out[i * 2 + 1] = groups[i] & 0xff;
  }
  return out;
}

/**
 * The bytes of a literal IPv4 (4 bytes) or IPv6 (16 bytes) address, or `undefined` when `host`
 * is not one (host names, zone ids, junk). IPv6 may be written in brackets. An IPv4-mapped IPv6
 * address (`::ffff:a.b.c.d`) comes back as its 4 IPv4 bytes, so one peer has one form.
 *
 * @example
 * ```ts
 * import { parseIp } from "./ip.ts";
 * console.log(parseIp("127.0.0.1")); // Uint8Array(4) [ 127, 0, 0, 1 ]
 * console.log(parseIp("[::1]")?.length); // 16
 * console.log(parseIp("example.org")); // undefined
 * ```
 */
export function parseIp(host: string): Uint8Array | undefined {
  if (host.length > 2 && host[0] === "[" && host[host.length - 1] === "]") {
    host = host.slice(1, -1);
  }
  if (host.includes(":")) {
    const b = parseIPv6(host);
    if (b === undefined) return undefined;
    return isV4Mapped(b) ? b.slice(12) : b;
  }
  return parseIPv4(host);
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/**
 * Text of a 4- or 16-byte address (IPv6 in the compressed form of RFC 5952, without brackets),
 * or `undefined` for any other length.
 *
 * @example
 * ```ts
 * import { formatIp } from "./ip.ts";
 * console.log(formatIp(new Uint8Array([10, 0, 0, 1]))); // "10.0.0.1"
 * const v6 = new Uint8Array(16);
 * v6[15] = 1;
 * console.log(formatIp(v6)); // "::1"
 * ```
 */
export function formatIp(bytes: Uint8Array): string | undefined {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16) return undefined;
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((bytes[i * 2] << 8) | bytes[i * 2 + 1]);
  // The first longest run of two or more zero groups is written as "::".
  let bestAt = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
  if (bestAt < 0) return hex(groups);
  return `${hex(groups.slice(0, bestAt))}::${hex(groups.slice(bestAt + bestLen))}`;
}
