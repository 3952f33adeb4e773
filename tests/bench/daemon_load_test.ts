/**
 * The daemon load benchmark's smoke mode as a test: `daemon_load.ts --smoke` runs tiny versions
 * of its three cases (a few torrents downloaded at once beside one `bittorrent download`, raw
 * incoming peers held, a download under hostile RPC clients) and prints a table for each. It
 * runs as a user runs it (a child process), so the flags, the exit code and the tables on
 * stdout are what is checked; it asserts that the run works and every peer the limits allow
 * is held, never a timing. Skipped without python3-libtorrent or opentracker.
 */
import { assert } from "../assert.ts";
import { hasTool } from "../interop/fixtures.ts";
import { tail } from "../process.ts";
import {
  handshakeBytes,
  loadConfigFromArgs,
  renderConnectionsTable,
  renderHostileTable,
  renderThroughputTable,
} from "./daemon_load.ts";

const SCRIPT = decodeURIComponent(new URL("./daemon_load.ts", import.meta.url).pathname);
const haveSwarm = await hasTool("libtorrent") && await hasTool("opentracker");

/** The value cell of the connections table's row whose figure starts with `figure`. */
function figureOf(lines: string[], figure: string): number {
  const line = lines.find((l) => l.startsWith(figure));
  return Number(line?.split("|")[1]?.trim());
}

Deno.test({
  name: "daemon_load --smoke: every case runs, every download verifies, the tables print",
  ignore: !haveSwarm,
  async fn() {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", SCRIPT, "--smoke"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    const why = `exit ${out.code}\nstdout:\n${stdout}\nstderr:\n${tail(stderr, 3000)}`;
    assert(out.code === 0, `daemon_load --smoke failed: ${why}`);
    const lines = stdout.trimEnd().split("\n");
    assert(!stdout.includes("FAILED"), `a case failed: ${why}`);

    // throughput: the daemon's row and the single download's, each with figures.
    assert(lines.some((l) => l.startsWith("run ") && l.includes("MB/s")), `no table: ${why}`);
    for (const start of ["daemon, 4 torrents at once", "download, 1 torrent of 16 MiB"]) {
      const row = lines.find((l) => l.startsWith(start));
      const cells = row?.split("|").slice(1).map((c) => c.trim()) ?? [];
      assert(
        cells.length === 7 && cells.every((c) => Number.isFinite(Number(c))),
        `no figures for "${start}": ${row}\n${why}`,
      );
    }
    assert(stdout.includes("daemon throughput / download"), `no ratio: ${why}`);

    // connections: every raw peer the daemon's limits have room for is answered and held.
    const opened = lines.find((l) => l.startsWith("incoming connections opened"));
    assert(opened?.includes("90 over 3 torrents"), `no connections table: ${why}`);
    const held = figureOf(lines, "held after 2 s");
    const shed = figureOf(lines, "closed by the daemon after handshake");
    const room = figureOf(lines, "room by the daemon's limits");
    assert(held === room && shed === 0, `held ${held}, closed ${shed} of ${room}: ${why}`);
    assert(figureOf(lines, "refused (connect failed)") === 0, `refused: ${why}`);

    // hostile: both downloads timed, and the attack described.
    for (const start of ["quiet ", "under attack "]) {
      const row = lines.find((l) => l.startsWith(start));
      assert(row !== undefined && Number(row.split("|")[2]) > 0, `no "${start}" row: ${why}`);
    }
    assert(stdout.includes("slowdown under attack:"), `no slowdown: ${why}`);
    assert(/bodies: \d+ sent/.test(stdout) && /flood at \d+\/s/.test(stdout), `no attack: ${why}`);
  },
});

Deno.test("daemon_load: flags, the handshake and the tables", () => {
  const all = loadConfigFromArgs([]);
  assert(all !== "help" && all.cases.join() === "throughput,connections,hostile");
  assert(all.size === 256 << 20 && all.torrents === 4 && all.connections === 500);
  assert(all.maxConnections === 1000 && all.maxPeers === 60 && all.runs === 3);
  const one = loadConfigFromArgs(["--case", "connections", "--size", "1M", "--hold", "3"]);
  assert(one !== "help" && one.cases.join() === "connections" && one.size === 1 << 20);
  for (const bad of [["--case", "speed"], ["--connections", "0"], ["--piece", "3000"], ["-x"]]) {
    let refused = false;
    try {
      loadConfigFromArgs(bad);
    } catch {
      refused = true;
    }
    assert(refused, `${bad.join(" ")} is refused`);
  }
  const h = handshakeBytes(new Uint8Array(20).fill(9), new Uint8Array(20).fill(8));
  assert(new TextDecoder().decode(h.subarray(1, 20)) === "BitTorrent protocol");
  assert(h[25] === 0x10 && h[27] === 0 && h[28] === 9 && h[67] === 8);
  const fig = { seconds: 2, cpuSeconds: 1, peakRssBytes: 1e8, seederCpuSeconds: 1 };
  const tp = renderThroughputTable([
    { what: "daemon", bytes: 1e9, runs: [fig] },
    { what: "download", bytes: 1e9, runs: [], failed: "it stopped\nmore" },
  ]);
  assert(tp.includes("500.0") && tp.includes("download: FAILED: it stopped"), tp);
  assert(!tp.includes("more"), tp);
  const conn = renderConnectionsTable(
    { torrents: 2, attempted: 4, outcomes: { open: 3, "closed after handshake": 1 } },
    5,
  );
  assert(/held after 5 s\s*\|\s*3/.test(conn), conn);
  const probes = (ok: number) => ({ sent: 15, ok, throttled: 15 - ok, errors: 0, okMs: [4] });
  const hostile = renderHostileTable(1e9, [
    {
      kind: "quiet",
      what: "quiet",
      seconds: [2],
      rpcSeconds: [2.1],
      daemonCpuSeconds: [1],
      probes: probes(15),
    },
    {
      kind: "busy core",
      what: "beside a busy core",
      seconds: [2.5],
      rpcSeconds: [2.6],
      daemonCpuSeconds: [1],
      probes: probes(15),
    },
    {
      kind: "attacked",
      what: "under attack",
      seconds: [3],
      rpcSeconds: [4.25],
      daemonCpuSeconds: [2],
      probes: probes(5),
    },
  ]);
  assert(hostile.includes("slowdown under attack: 1.50x (1.20x against a busy core)"), hostile);
  assert(/under attack\s*\|\s*1\s*\|\s*3\.00\s*\|\s*333\.3\s*\|\s*4\.25/.test(hostile), hostile);
});
