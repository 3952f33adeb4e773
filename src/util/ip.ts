/**
 * IP address text <-> bytes, shared by the tracker, PEX and DHT codecs: compact peer lists carry
 * 4-byte IPv4 and 16-byte IPv6 addresses. Only literal addresses; host names have no bytes.
 *
 * @module
 */

/**
 * The 4 bytes of a dotted-quad IPv4 address, or `undefined`. Leading zeros are refused: some
 * parsers read them as octal, so their meaning is unclear.
 *
 * @example
 * ```ts
 * import { parseIPv4 } from "./ip.ts";
 * console.log(parseIPv4("127.0.0.1")); // Uint8Array(4) [ 127, 0, 0, 1 ]
 * ```
 */
export function parseIPv4(s: string): Uint8Array | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (m === null) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const n = Number(m[i + 1]);
    if (n > 255 || (m[i + 1].length > 1 && m[i + 1][0] === "0")) return undefined;
    out[i] = n;
  }
  return out;
}

/**
 * The 16 bytes of an IPv6 address in text form (with `::` and an optional dotted IPv4 tail), or
 * `undefined` when `s` is not one. Zone ids (`%eth0`) are refused.
 *
 * @example
 * ```ts
 * import { parseIPv6 } from "./ip.ts";
 * console.log(parseIPv6("::1")?.[15]); // 1
 * ```
 */
export function parseIPv6(s: string): Uint8Array | undefined {
  if (s.length < 2 || s.length > 45 || !/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const parseGroups = (part: string, allowV4Tail: boolean): number[] | undefined => {
    if (part === "") return [];
    const items = part.split(":");
    const out: number[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (allowV4Tail && i === items.length - 1 && item.includes(".")) {
        const v4 = parseIPv4(item);
        if (v4 === undefined) return undefined;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return undefined;
        out.push(parseInt(item, 16));
      }
    }
    return out;
  };
  const head = parseGroups(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? parseGroups(halves[1], true) : [];
  if (head === undefined || tail === undefined) return undefined;
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const groups = [...head, ...new Array<number>(8 - total).fill(0), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

/**
 * Text of a 16-byte IPv6 address in the compressed form of RFC 5952, without brackets.
 *
 * @example
 * ```ts
 * import { formatIPv6 } from "./ip.ts";
 * const b = new Uint8Array(16);
 * b[15] = 1;
 * console.log(formatIPv6(b)); // ::1
 * ```
 */
export function formatIPv6(b: Uint8Array): string {
  if (b.length !== 16) throw new RangeError("IPv6 address must be 16 bytes");
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i] << 8) | b[i + 1]);
  // The first longest run of two or more zero groups is written as "::".
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

/**
 * The bytes of a literal IPv4 (4 bytes) or IPv6 (16 bytes) address, or `undefined` when `host`
 * is not one (host names, zone ids, junk). IPv6 may be written in brackets. An IPv4-mapped IPv6
 * address (`::ffff:a.b.c.d`) comes back as its 4 IPv4 bytes, so one peer has one form.
 *
 * @example
 * ```ts
 * import { parseIp } from "./ip.ts";
 * console.log(parseIp("[::1]")?.length, parseIp("example.org")); // 16 undefined
 * ```
 */
export function parseIp(host: string): Uint8Array | undefined {
  if (host.length > 2 && host[0] === "[" && host[host.length - 1] === "]") {
    host = host.slice(1, -1);
  }
  if (!host.includes(":")) return parseIPv4(host);
  const b = parseIPv6(host);
  if (b === undefined) return undefined;
  const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  return mapped ? b.slice(12) : b;
}

/**
 * Text of a 4- or 16-byte address, or `undefined` for any other length.
 *
 * @example
 * ```ts
 * import { formatIp } from "./ip.ts";
 * console.log(formatIp(new Uint8Array([10, 0, 0, 1]))); // "10.0.0.1"
 * ```
 */
export function formatIp(bytes: Uint8Array): string | undefined {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  return bytes.length === 16 ? formatIPv6(bytes) : undefined;
}
