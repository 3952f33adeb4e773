/** The daemon's RPC methods as the tests make them: over `kept`, DHT and uTP off. */
import type { KeptTorrents } from "../../src/client/mod.ts";
import { type MethodContext, transmissionMethods } from "../../src/rpc/mod.ts";

/** The methods over `kept`, torrents going to `downloadDir`, with `more` of the context. */
export function methodsOver(
  kept: KeptTorrents,
  downloadDir: string,
  more: Partial<MethodContext> = {},
): ReturnType<typeof transmissionMethods> {
  return transmissionMethods({
    kept,
    downloadDir,
    version: "test",
    ...more,
  });
}
