/**
 * The web seed of the benchmark: serves the payload folder over HTTP on 127.0.0.1 with byte
 * ranges (tests/web_server.ts), for clients that fetch from a torrent's `url-list` (BEP 19).
 * Prints `READY <port>` once it listens; runs until killed.
 *
 *     deno run -A tests/bench/web_seeder.ts --data DIR --port N
 *
 * @module
 */
import { parseArgs } from "node:util";
import { serveFiles } from "../web_server.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { data: { type: "string" }, port: { type: "string" } },
});
if (values.data === undefined || values.port === undefined) {
  console.error("web_seeder: --data DIR --port N");
  Deno.exit(2);
}
const port = Number(values.port);
serveFiles(values.data, undefined, port);
console.log(`READY ${port}`);
