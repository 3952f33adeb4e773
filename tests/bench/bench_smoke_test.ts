/**
 * The benchmark's smoke mode as a test: a few MiB downloaded by our client and every installed
 * reference client, from libtorrent seeders, from our own and from a web seed, each copy verified
 * byte for byte.
 * It asserts correctness only, never timing.
 */
import { assert } from "../assert.ts";
import { CASES } from "./bench.ts";
import {
  ALL_CLIENTS,
  ALL_SEEDER_KINDS,
  type ClientName,
  installedClients,
  runBench,
} from "./harness.ts";
import { hasTool } from "../interop/fixtures.ts";

const installed = await installedClients();

Deno.test({
  name: "bench --smoke: every installed client downloads the payload byte for byte",
  // Runs everywhere: without mktorrent our own code makes the torrent, and without libtorrent
  // only our own seeders and client take part.
  async fn() {
    const smoke = CASES["smoke"];
    // Transmission is left out: it declares interest only on its 10-second rechoke pulse, so
    // it alone would take the test past its time budget (`bench --smoke` includes it).
    const clients = ALL_CLIENTS.filter((c: ClientName) => installed.has(c) && c !== "transmission");
    // The web seed (our own HTTP server) too: every client then fetches from a url-list alone.
    const seederKinds = ALL_SEEDER_KINDS.filter((k) =>
      k === "ours" || k === "web" || installed.has(k)
    );
    const notes: string[] = [];
    const result = await runBench({
      caseName: "smoke",
      size: smoke.size,
      pieceLength: smoke.pieceLength,
      files: smoke.files ?? 3,
      seeders: 1,
      seederKinds,
      clients,
      runs: 1,
      timeoutSec: 30,
    }, (line) => notes.push(line));
    console.log(result.text.join("\n\n"));
    assert(
      result.failures.length === 0,
      `wrong or failed downloads:\n${result.failures.join("\n")}\n${notes.join("\n")}`,
    );
    // Every installed client except a skipped one really downloaded in every group.
    for (const group of result.groups) {
      for (const row of group.rows) {
        if (row.skipped) continue;
        assert(row.runs.length === 1, `${row.client} from ${group.seederKind}: no run recorded`);
      }
    }
    assert(result.groups.length === seederKinds.length, "one table per seeder kind");
    console.log(`torrent made by ${await hasTool("mktorrent") ? "mktorrent" : "our creator"}`);
  },
});
