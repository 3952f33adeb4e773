/**
 * The extension protocol (BEP 10) and the two extensions we speak over it: ut_metadata (BEP 9),
 * which fetches the info dictionary of a magnet link from peers, and ut_pex (BEP 11), peer
 * exchange. Pure codecs and state machines: the engine owns the connections and the timing.
 *
 * @example
 * ```ts
 * import { encodeExtendedHandshake, LOCAL_EXTENSION_IDS, parseExtendedHandshake } from "./mod.ts";
 * const ours = encodeExtendedHandshake({ version: "bittorrent 0.1.0", reqq: 250, port: 6881 });
 * const seen = parseExtendedHandshake(ours);
 * console.log(seen.m.get("ut_pex") === LOCAL_EXTENSION_IDS.ut_pex); // true
 * ```
 *
 * @module
 */
export { ExtensionError } from "./error.ts";
export {
  encodeExtendedHandshake,
  type ExtendedHandshake,
  LOCAL_EXTENSION_IDS,
  type LocalHandshake,
  MAX_HANDSHAKE_SIZE,
  parseExtendedHandshake,
} from "./handshake.ts";
export {
  encodeMetadataMessage,
  MAX_METADATA_SIZE,
  METADATA_BLOCK,
  MetadataAssembler,
  type MetadataAssemblerOptions,
  metadataBlock,
  type MetadataMessage,
  parseMetadataMessage,
} from "./metadata.ts";
export {
  encodePex,
  MAX_PEX_ENTRIES,
  MAX_PEX_SIZE,
  parsePex,
  PEX_FLAGS,
  type PexMessage,
  type PexPeer,
  PexState,
  type PexStateOptions,
} from "./pex.ts";
