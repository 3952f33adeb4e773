/**
 * The extended handshake of the extension protocol (BEP 10): the bencoded dictionary sent as
 * extended message 0, which maps extension names to message ids and carries a few facts about
 * the sender (listen port, client name, request queue depth, metadata size, our address as seen).
 *
 * @module
 */
import { type BencodeDict, type BencodeValue, decode, encode, isDict } from "../bencode/mod.ts";
import { ExtensionError } from "./error.ts";
import { MAX_METADATA_SIZE } from "./metadata.ts";

/** Our extension ids in the `m` dictionary of our handshake. */
export const LOCAL_EXTENSION_IDS = { ut_metadata: 1, ut_pex: 2 } as const;

/** The largest extended handshake we decode (real ones are a few hundred bytes). */
export const MAX_HANDSHAKE_SIZE = 256 * 1024;

/** Longest client name we keep from `v` (characters); longer names are cut. */
const MAX_VERSION_LENGTH = 256;

/** What a remote peer told us in its extended handshake. Every field it got wrong is left out. */
export interface ExtendedHandshake {
  /** Extension name -> the id the REMOTE wants us to use for it (1..255; disabled ones dropped). */
  m: Map<string, number>;
  /** The peer's TCP listen port (`p`). */
  port?: number;
  /** The peer's client name and version (`v`). */
  version?: string;
  /** How many outstanding requests the peer accepts (`reqq`). */
  reqq?: number;
  /** Size of the info dictionary in bytes (`metadata_size`), when in 1..MAX_METADATA_SIZE. */
  metadataSize?: number;
  /** Our address as the peer sees it (`yourip`): 4 or 16 bytes. */
  yourIp?: Uint8Array;
  /** The peer only uploads (BEP 21 `upload_only`), i.e. it is a seed or a partial seed. */
  uploadOnly?: boolean;
}

/** What we put in our own extended handshake. */
export interface LocalHandshake {
  /** Our TCP listen port, when we accept connections. */
  port?: number;
  /** Client name and version, e.g. "bittorrent 0.1.0". */
  version: string;
  /** How many outstanding requests we accept from the peer. */
  reqq: number;
  /** Size of our info dictionary, when we have it (lets magnet peers fetch it from us). */
  metadataSize?: number;
  /** The peer's address as we see it (4 or 16 bytes). */
  yourIp?: Uint8Array;
}

/**
 * Bencoded payload of our extended handshake, with `m` = {@link LOCAL_EXTENSION_IDS}. The caller
 * wraps it with `encodeExtended(0, payload)` from the peer module. Values out of range (a port
 * outside 1..65535, a `yourIp` of another length than 4 or 16) are left out.
 *
 * @example
 * ```ts
 * import { encodeExtendedHandshake, parseExtendedHandshake } from "./handshake.ts";
 * const payload = encodeExtendedHandshake({ port: 6881, version: "demo 1.0", reqq: 250 });
 * const h = parseExtendedHandshake(payload);
 * console.log(h.m.get("ut_metadata"), h.port, h.reqq); // 1 6881 250
 * ```
 */
export function encodeExtendedHandshake(h: LocalHandshake): Uint8Array {
  const dict = new Map<string, BencodeValue>();
  const m = new Map<string, BencodeValue>();
  for (const [name, id] of Object.entries(LOCAL_EXTENSION_IDS)) m.set(name, id);
  dict.set("m", m);
  if (h.port !== undefined && Number.isInteger(h.port) && h.port >= 1 && h.port <= 65535) {
    dict.set("p", h.port);
  }
  dict.set("v", new TextEncoder().encode(h.version));
  if (Number.isSafeInteger(h.reqq) && h.reqq > 0) dict.set("reqq", h.reqq);
  const size = h.metadataSize;
  if (size !== undefined && Number.isInteger(size) && size > 0 && size <= MAX_METADATA_SIZE) {
    dict.set("metadata_size", size);
  }
  if (h.yourIp && (h.yourIp.length === 4 || h.yourIp.length === 16)) {
    dict.set("yourip", h.yourIp.slice());
  }
  return encode(dict);
}

function intIn(d: BencodeDict, key: string, min: number, max: number): number | undefined {
  const v = d.get(key);
  return typeof v === "number" && v >= min && v <= max ? v : undefined;
}

/**
 * Reads a peer's extended handshake. Tolerant, as BEP 10 asks: unknown keys are ignored, and so
 * are known keys holding the wrong type or an impossible value; `m` entries with id 0 (disabled)
 * or outside 1..255 are dropped. Throws {@link ExtensionError} only when the payload is not a
 * bencoded dictionary (or is larger than {@link MAX_HANDSHAKE_SIZE}).
 *
 * @example
 * ```ts
 * import { parseExtendedHandshake } from "./handshake.ts";
 * const raw = "d1:md11:ut_metadatai3e6:ut_pexi0ee13:metadata_sizei31235ee";
 * const h = parseExtendedHandshake(new TextEncoder().encode(raw));
 * console.log(h.m, h.metadataSize); // Map(1) { "ut_metadata" => 3 } 31235
 * ```
 */
export function parseExtendedHandshake(payload: Uint8Array): ExtendedHandshake {
  if (payload.length > MAX_HANDSHAKE_SIZE) {
    throw new ExtensionError(
      `extended handshake is too large (${payload.length} bytes, limit ${MAX_HANDSHAKE_SIZE})`,
    );
  }
  let value: BencodeValue;
  try {
    value = decode(payload, { maxDepth: 16, maxItems: 20_000, allowUnsortedKeys: true });
  } catch (e) {
    throw new ExtensionError(`extended handshake is not valid bencode: ${(e as Error).message}`);
  }
  if (!isDict(value)) throw new ExtensionError("extended handshake is not a dictionary");
  const out: ExtendedHandshake = { m: new Map() };
  const m = value.get("m");
  if (isDict(m)) {
    for (const [name, id] of m) {
      if (typeof id === "number" && Number.isInteger(id) && id >= 1 && id <= 255) {
        out.m.set(name, id);
      }
    }
  }
  const port = intIn(value, "p", 1, 65535);
  if (port !== undefined) out.port = port;
  const v = value.get("v");
  if (v instanceof Uint8Array) {
    const text = new TextDecoder("utf-8").decode(v.subarray(0, MAX_VERSION_LENGTH * 4));
    // Control characters are dropped: the name ends up in logs and on the terminal.
    // deno-lint-ignore no-control-regex
    out.version = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "").slice(0, MAX_VERSION_LENGTH);
  }
  const reqq = intIn(value, "reqq", 1, Number.MAX_SAFE_INTEGER);
  if (reqq !== undefined) out.reqq = reqq;
  const size = intIn(value, "metadata_size", 1, MAX_METADATA_SIZE);
  if (size !== undefined) out.metadataSize = size;
  const ip = value.get("yourip");
  if (ip instanceof Uint8Array && (ip.length === 4 || ip.length === 16)) out.yourIp = ip.slice();
  const uploadOnly = value.get("upload_only");
  if (typeof uploadOnly === "number") out.uploadOnly = uploadOnly !== 0;
  return out;
}
