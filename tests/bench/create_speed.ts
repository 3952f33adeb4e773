/**
 * How fast `bittorrent create` hashes a folder, beside Debian's `mktorrent -t <cores>` on the same
 * warm data: a folder of pseudo-random files (1 GiB in 64 files by default) is written once and
 * read once into the page cache, then each maker runs `--runs` times, taking turns, and the
 * table prints the median and fastest wall seconds, the median CPU seconds and the rate over the
 * median wall time. Ours runs as the shipped executable does (`compileRunFlags`: the compile
 * task's V8 flags, each module loaded at its first import), both as `--v1` (what mktorrent
 * makes: the info-hashes must match, and the script fails when they do not) and as the default
 * hybrid; or, with `--ours`, it is that compiled executable, which also starts without `deno
 * run`'s reading and transpiling of each module's source. Without mktorrent its row is left
 * out, said on stderr.
 *
 *     deno run -A tests/bench/create_speed.ts [--size 1G] [--files 64] [--piece 256K] [--runs 5]
 *         [--ours ./bittorrent]
 *
 * Exit code 0 when every run made its torrent, 1 otherwise, 2 for bad flags. Slowness never
 * fails it.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { makePayload } from "../../testdata/payload.ts";
import { parseTorrent } from "../../src/metainfo/mod.ts";
import { compileRunFlags, MAIN_TS } from "../compile_task.ts";
import { hasTool } from "../interop/fixtures.ts";
import { intFlag } from "./flags.ts";
import { BenchError, runMeasured } from "./proc.ts";
import { formatSize, median, parseSize } from "./report.ts";

/** What the script was asked to measure. */
export interface CreateSpeedConfig {
  size: number;
  files: number;
  pieceLength: number;
  runs: number;
  /** A compiled `bittorrent` to time instead of `deno run` of the sources. */
  ours?: string;
}

/**
 * The settings from the command line; throws `BenchError` for a bad flag.
 *
 * @example
 * ```ts
 * import { createSpeedConfig } from "./create_speed.ts";
 * console.log(createSpeedConfig(["--size", "8M", "--runs", "1"]).files); // 64
 * ```
 */
export function createSpeedConfig(args: string[]): CreateSpeedConfig {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      size: { type: "string" },
      files: { type: "string" },
      piece: { type: "string" },
      runs: { type: "string" },
      ours: { type: "string" },
    },
  });
  const size = parseSize(values.size ?? "1G");
  const pieceLength = parseSize(values.piece ?? "256K");
  const exp = Math.log2(pieceLength);
  if (!Number.isInteger(exp) || exp < 15 || exp > 28) {
    throw new BenchError("--piece must be a power of two from 32K to 256M (mktorrent's range)");
  }
  const files = intFlag(values.files, "files", 1, 10_000) ?? 64;
  if (size < files) throw new BenchError("--size must give every file at least a byte");
  const runs = intFlag(values.runs, "runs", 1, 100) ?? 5;
  return { size, files, pieceLength, runs, ...(values.ours ? { ours: values.ours } : {}) };
}

/** One maker's figures over its runs. */
interface Row {
  name: string;
  wall: number[];
  cpu: number[];
}

/**
 * The table: a line per maker with its median and fastest wall time, median CPU and rate.
 *
 * @example
 * ```ts
 * import { renderCreateTable } from "./create_speed.ts";
 * const rows = [{ name: "mktorrent -t 2", wall: [0.4211, 0.4437], cpu: [0.85, 0.86] }];
 * console.log(renderCreateTable(rows, 2 ** 30).split("\n")[1].split(/\s+/).slice(0, 5));
 * // [ "mktorrent", "-t", "2", "0.432", "0.421" ]
 * ```
 */
export function renderCreateTable(rows: Row[], size: number): string {
  const lines = rows.map((r) => {
    const wall = median(r.wall);
    return `${r.name.padEnd(22)} ${wall.toFixed(3).padStart(7)} ${
      Math.min(...r.wall).toFixed(3).padStart(7)
    } ${median(r.cpu).toFixed(2).padStart(7)} ${(size / wall / 1e9).toFixed(2).padStart(8)}`;
  });
  return `maker                   wall s  best s   CPU s    GB/s\n${lines.join("\n")}`;
}

async function main(args: string[]): Promise<number> {
  let config: CreateSpeedConfig;
  try {
    config = createSpeedConfig(args);
  } catch (e) {
    console.error(`create_speed: ${e instanceof Error ? e.message : e}`);
    return 2;
  }
  try {
    return await measure(config);
  } catch (e) {
    console.error(`create_speed: ${e instanceof Error ? e.message : e}`);
    return 1;
  }
}

/** Makes the folder, runs every maker in turns and prints the table. */
async function measure(config: CreateSpeedConfig): Promise<number> {
  const { size, files, pieceLength, runs } = config;
  const cores = navigator.hardwareConcurrency ?? 1;
  const work = await Deno.makeTempDir({ prefix: "bt-create-speed-" });
  try {
    const data = `${work}/data`;
    const each = Math.floor(size / files);
    await makePayload(data, {
      files: Array.from({ length: files }, (_, i) => ({
        path: `part_${String(i).padStart(4, "0")}.bin`,
        size: i === files - 1 ? size - each * (files - 1) : each,
      })),
      seed: 11,
    });
    for await (const entry of Deno.readDir(data)) await Deno.readFile(`${data}/${entry.name}`);
    const start = config.ours === undefined
      ? { cmd: Deno.execPath(), words: ["run", ...compileRunFlags(), "-A", MAIN_TS] }
      : { cmd: config.ours, words: [] };
    const ours = (kind: "v1" | "hybrid") => ({
      name: `ours --${kind}`,
      out: `${work}/ours-${kind}.torrent`,
      cmd: start.cmd,
      args: (out: string) => [
        ...start.words,
        "create",
        data,
        "-o",
        out,
        `--${kind}`,
        "--piece-size",
        String(pieceLength),
        "--no-date",
        "-q",
      ],
    });
    const makers = [ours("v1"), ours("hybrid")];
    if (await hasTool("mktorrent")) {
      makers.push({
        name: `mktorrent -t ${cores}`,
        out: `${work}/mktorrent.torrent`,
        cmd: "mktorrent",
        args: (out: string) => [
          "-t",
          String(cores),
          "-l",
          String(Math.log2(pieceLength)),
          "-o",
          out,
          data,
        ],
      });
    } else {
      console.error("create_speed: mktorrent is not installed; its row is left out");
    }
    const rows: Row[] = makers.map((m) => ({ name: m.name, wall: [], cpu: [] }));
    for (let run = 0; run < runs; run++) {
      for (const [i, maker] of makers.entries()) {
        await Deno.remove(maker.out).catch(() => {});
        const m = await runMeasured(maker.name, { cmd: maker.cmd, args: maker.args(maker.out) }, {
          timeoutMs: 600_000,
          scratch: work,
        });
        if (!m.status.success) throw new BenchError(`${maker.name} failed: ${m.diagnosis}`);
        rows[i].wall.push(m.seconds);
        rows[i].cpu.push(m.cpuSeconds);
      }
    }
    const hashes = await Promise.all(
      makers.filter((m) => m.name !== "ours --hybrid").map(async (m) =>
        parseTorrent(await Deno.readFile(m.out)).infoHashHex
      ),
    );
    if (new Set(hashes).size !== 1) {
      throw new BenchError(`ours --v1 and mktorrent made different info-hashes: ${hashes}`);
    }
    console.log(
      `create: ${formatSize(size)} in ${files} files, ${formatSize(pieceLength)} pieces, ` +
        `warm, ${cores} cores, median of ${runs} runs` +
        (hashes.length > 1 ? "; ours --v1 and mktorrent agree on the info-hash" : "") +
        `\n${renderCreateTable(rows, size)}`,
    );
    return 0;
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
