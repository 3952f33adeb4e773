/**
 * What checking a payload costs in CPU, v1 against v2: `bittorrent verify` over the same data
 * with libtorrent's v1, v2-only and hybrid torrents of it (SHA-1 a piece; SHA-256 merkle trees;
 * both), each run several times, printing median wall and CPU seconds and CPU per GiB. The file
 * reading is the same for all three, so the differences are the hashing. Needs python3-libtorrent.
 *
 *     deno run -A tests/bench/verify_cost.ts [--size 1G] [--piece 256K] [--runs 3]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { libtorrentCreate } from "../interop/fixtures.ts";
import { makePayload } from "../../testdata/payload.ts";
import { BenchError, runMeasured } from "./proc.ts";
import { formatSize, median, parseSize } from "./report.ts";
import { MAIN_TS } from "../compile_task.ts";

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: { size: { type: "string" }, piece: { type: "string" }, runs: { type: "string" } },
  });
  const size = parseSize(values.size ?? "1G");
  const pieceLength = parseSize(values.piece ?? "256K");
  const runs = Number(values.runs ?? "3");
  if (!Number.isInteger(runs) || runs < 1) throw new BenchError("--runs must be at least 1");
  const work = await Deno.makeTempDir({ prefix: "bt-verify-cost-" });
  try {
    await makePayload(`${work}/data`, { files: [{ path: "payload.bin", size }], seed: 7 });
    const rows: string[] = [];
    let v1Cpu = NaN;
    for (const version of ["v1", "v2", "hybrid"] as const) {
      const torrent = `${work}/${version}.torrent`;
      await libtorrentCreate({
        source: `${work}/data/payload.bin`,
        out: torrent,
        pieceLength,
        version,
      });
      const wall: number[] = [], cpu: number[] = [];
      for (let run = 0; run < runs; run++) {
        const m = await runMeasured(`verify ${version}`, {
          cmd: Deno.execPath(),
          args: ["run", "-A", MAIN_TS, "verify", "-i", torrent, "-o", `${work}/data`],
        }, { timeoutMs: 600_000, scratch: work });
        if (!m.status.success) throw new BenchError(`verify ${version} failed: ${m.diagnosis}`);
        wall.push(m.seconds);
        cpu.push(m.cpuSeconds);
      }
      const cpuS = median(cpu);
      if (version === "v1") v1Cpu = cpuS;
      const perGiB = cpuS / (size / 1024 ** 3);
      rows.push(
        `${version.padEnd(8)} ${median(wall).toFixed(2).padStart(8)} ${
          cpuS.toFixed(2).padStart(8)
        } ${perGiB.toFixed(2).padStart(10)} ${(cpuS / v1Cpu).toFixed(2).padStart(8)}`,
      );
    }
    console.log(
      `verify ${formatSize(size)}, ${formatSize(pieceLength)} pieces, median of ${runs} runs\n` +
        `torrent   wall s    CPU s  CPU s/GiB    vs v1\n${rows.join("\n")}`,
    );
    return 0;
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`verify_cost: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
