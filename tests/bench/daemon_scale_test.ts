/**
 * The daemon scale benchmark's smoke mode as a test: `daemon_scale.ts --smoke` makes 20 small
 * torrents, runs our daemon on them over RPC until all seed, measures it and prints its table.
 * It runs as a user runs it (a child process), so the flags, the exit code and the table on
 * stdout are what is checked; it asserts that the run works, never its timing.
 */
import { assert } from "../assert.ts";
import { tail } from "../process.ts";
import { renderScaleTable, scaleConfigFromArgs } from "./daemon_scale.ts";

const SCRIPT = decodeURIComponent(new URL("./daemon_scale.ts", import.meta.url).pathname);

Deno.test({
  name: "daemon_scale --smoke: our daemon adds, checks and seeds 20 torrents; the table prints",
  async fn() {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", SCRIPT, "--smoke"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    const why = `exit ${out.code}\nstdout:\n${stdout}\nstderr:\n${tail(stderr, 3000)}`;
    assert(out.code === 0, `daemon_scale --smoke failed: ${why}`);
    const lines = stdout.trimEnd().split("\n");
    assert(
      lines.some((l) => l.startsWith("client") && l.includes("add 20 (s)")),
      `no table header: ${why}`,
    );
    const row = lines.find((l) => l.startsWith("ours "));
    assert(row !== undefined && !row.includes("FAILED"), `no figures for ours: ${why}`);
    const cells = row.split("|").slice(1).map((c) => c.trim());
    assert(
      cells.length === 9 && cells.every((c) => Number.isFinite(Number(c))),
      `a figure is missing: ${row}`,
    );
  },
});

Deno.test("daemon_scale: flags, the table and /proc figures", async () => {
  const smoke = await scaleConfigFromArgs(["--smoke"]);
  assert(smoke !== "help" && smoke.torrents === 20 && smoke.daemons.join() === "ours");
  const big = await scaleConfigFromArgs(["--torrents", "1000", "--clients", "ours"]);
  assert(big !== "help" && big.torrents === 1000 && big.idleSeconds === 10);
  assert(big.settleSeconds === 60, `settle ${big.settleSeconds}`);
  assert(big.timeoutSec === 720, `timeout ${big.timeoutSec}`);
  let refused = false;
  try {
    await scaleConfigFromArgs(["--clients", "qbittorrent"]);
  } catch {
    refused = true;
  }
  assert(refused, "an unknown daemon is refused");
  const table = renderScaleTable(5, [
    {
      daemon: "ours",
      addSeconds: 1,
      seedingSeconds: 2,
      emptyRssBytes: 6e7,
      rssBytes: 7e7,
      settledRssBytes: 6.5e7,
      idleCpuPercent: 0.1,
      settledIdleCpuPercent: 0.05,
    },
    { daemon: "transmission", failed: "it stopped" },
  ]);
  assert(table.includes("add 5 (s)") && table.includes("70.0"), table);
  assert(/\|\s+65\.0 \|\s+60\.0 \|\s+2000 \|/.test(table), `settled, empty, per torrent: ${table}`);
  assert(/\|\s+0\.10 \|\s+0\.05 \|\s+- *$/m.test(table), `idle, settled idle, get: ${table}`);
  assert(table.includes("FAILED: it stopped"), table);
});
