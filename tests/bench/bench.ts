/**
 * `deno task bench`: download one payload with our client and every installed reference client
 * (python3-libtorrent, aria2, transmission) from the same seeders on 127.0.0.1, verify each
 * download byte for byte, and print seconds, MB/s, peak RSS and CPU per client (medians over
 * runs). Exit code 0 when every download was right, 1 when one was wrong or failed, 2 for bad
 * flags. Slowness never fails it.
 *
 *     deno task bench --case 1g-256k-1seed
 *     deno task bench --size 256M --piece 256K --seeders 1 --runs 2 --clients ours,libtorrent,aria2
 *     deno task bench --smoke
 *
 * Progress goes to stderr, tables to stdout.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  ALL_CLIENTS,
  ALL_SEEDER_KINDS,
  type BenchConfig,
  type ClientName,
  installedClients,
  removeWorkDirs,
  runBench,
  type SeederKind,
} from "./harness.ts";
import { BenchError, stopAllChildren } from "./proc.ts";
import { intFlag, listFlag } from "./flags.ts";
import { formatSize, parseSize } from "./report.ts";

/** Preset cases: `--case NAME`; flags given beside it override its values. */
export const CASES: Record<
  string,
  Pick<BenchConfig, "size" | "pieceLength" | "seeders"> & Partial<BenchConfig> & { about: string }
> = {
  "smoke": {
    size: 3 * 1024 * 1024 + 12345,
    pieceLength: 32 * 1024,
    seeders: 1,
    files: 3,
    runs: 1,
    about: "a few MiB, three files, one run: correctness only (CI)",
  },
  "1g-256k-1seed": {
    size: 1024 ** 3,
    pieceLength: 256 * 1024,
    seeders: 1,
    about: "1 GiB, 256 KiB pieces, 1 seeder: raw throughput",
  },
  "1g-256k-4seed": {
    size: 1024 ** 3,
    pieceLength: 256 * 1024,
    seeders: 4,
    about: "1 GiB, 256 KiB pieces, 4 seeders: several peers at once",
  },
  "4g-4m": {
    size: 4 * 1024 ** 3,
    pieceLength: 4 * 1024 ** 2,
    seeders: 1,
    about: "4 GiB, 4 MiB pieces: memory with big pieces",
  },
  "100k-pieces": {
    size: 1600 * 1024 ** 2,
    pieceLength: 16 * 1024,
    seeders: 1,
    about: "1600 MiB in 102 400 pieces of 16 KiB: per-piece bookkeeping",
  },
  "200-slow-peers": {
    size: 128 * 1024 ** 2,
    pieceLength: 256 * 1024,
    seeders: 200,
    seederUploadRate: 128 * 1024,
    dialDownloader: true,
    downloaderMaxPeers: 250,
    about: "128 MiB from 200 seeders of 128 KiB/s each (25 MiB/s together): many slow peers",
  },
  "1g-v2": {
    size: 1024 ** 3,
    pieceLength: 256 * 1024,
    seeders: 1,
    torrentVersion: "v2",
    clients: ["ours", "libtorrent"],
    about: "1 GiB v2-only torrent (BEP 52 merkle hashes), 256 KiB pieces: ours vs libtorrent",
  },
  "256m-webseed": {
    size: 256 * 1024 ** 2,
    pieceLength: 256 * 1024,
    seeders: 1,
    seederKinds: ["web"],
    clients: ["ours", "aria2", "libtorrent"],
    about: "256 MiB from one web seed (BEP 19, a local HTTP server), no peer: ours vs aria2",
  },
  "256m-encrypted": {
    size: 256 * 1024 ** 2,
    pieceLength: 256 * 1024,
    seeders: 1,
    encryptedSeeders: true,
    seederKinds: ["libtorrent"],
    about: "256 MiB from one seeder that takes MSE/RC4-encrypted connections only",
  },
  "256m-utp": {
    size: 256 * 1024 ** 2,
    pieceLength: 256 * 1024,
    seeders: 1,
    utpOnly: true,
    seederKinds: ["libtorrent"],
    clients: ["ours", "libtorrent"],
    about: "256 MiB from a uTP-only libtorrent seeder: ours vs libtorrent's own uTP",
  },
  "8m-utp-lossy": {
    size: 8 * 1024 ** 2,
    pieceLength: 256 * 1024,
    seeders: 1,
    utpOnly: true,
    relay: { delayMs: 25, loss: 0.01 },
    seederKinds: ["libtorrent"],
    clients: ["ours", "libtorrent"],
    about: "8 MiB from a uTP-only libtorrent seeder through a relay: 25 ms each way, 1 % loss",
  },
};

const USAGE = `deno task bench [options]

  --case NAME[,NAME...]  preset case(s): ${Object.keys(CASES).join(", ")}
  --smoke                the smoke case: tiny payload, one run, correctness only
  --size SIZE            payload size, e.g. 256M, 1G (default 256M)
  --piece SIZE           piece length, a power of two >= 16K (default 256K)
  --files N              1: single-file torrent (default); more: a folder of N files
  --seeders N            seeders per group (default 1)
  --seeded-by KINDS      seeder groups, comma list of libtorrent,ours,web (default:
                         libtorrent,ours; web: one HTTP server named in the torrent's url-list)
  --clients LIST         downloaders, comma list of ${ALL_CLIENTS.join(",")}
                         (default: all installed)
  --runs N               repeats; tables show medians (default 3)
  --seed-rate SIZE       upload limit of each seeder per second, e.g. 128K (default: none)
  --encrypted            seeders take encrypted (MSE, RC4) connections only
  --utp                  libtorrent seeds and downloads over uTP only (ours: uTP first)
  --torrent-version V    v1 (default), v2 or hybrid (BEP 52; made by libtorrent; only ours
                         and libtorrent download v2)
  --timeout SEC          seconds one download may take (default: 120 + 1 s per 2 MB)
  --profile              one extra untimed download by our client under --cpu-prof, summarised
  --tmp DIR              parent of the work folder (default: system temp)
  --keep                 keep the work folder
  --list                 list the cases and exit
  -h, --help             this text

Columns: seconds = wall time of the downloader process (start-up and final flush included);
runs s = its fastest and slowest run; sync s = how long \`sync\` took after it exited (the
writing to disk it left to the OS: ours flushes its files before it exits, the others do not);
MB/s = 10^6 bytes/s; peak RSS and CPU s (user+system) of the downloader process; seed CPU s =
CPU all seeders used during that download; vs libtorrent = seconds / libtorrent's seconds.
Fixed costs to keep in mind on small payloads: aria2 works on a one-second tick (about 3 s of
any run); transmission-cli 3.00 ignores loopback peers from trackers, so the seeders dial it,
and it declares interest only on its 10-second rechoke pulse (about 10-15 s of any run).
libtorrent's peak RSS counts the pages of its memory-mapped files. Every client runs with its own
encryption default: ours and libtorrent's try MSE first; our seeders select RC4 when offered.`;

/** Turns command-line flags into the configurations to run, one per case. */
export async function configsFromArgs(args: string[]): Promise<BenchConfig[] | "help" | "list"> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      case: { type: "string" },
      smoke: { type: "boolean" },
      size: { type: "string" },
      piece: { type: "string" },
      files: { type: "string" },
      seeders: { type: "string" },
      "seeded-by": { type: "string" },
      clients: { type: "string" },
      runs: { type: "string" },
      "seed-rate": { type: "string" },
      encrypted: { type: "boolean" },
      utp: { type: "boolean" },
      "torrent-version": { type: "string" },
      timeout: { type: "string" },
      profile: { type: "boolean" },
      tmp: { type: "string" },
      keep: { type: "boolean" },
      list: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  if (values.list) return "list";
  const installed = await installedClients();
  const clients = listFlag(values.clients, ALL_CLIENTS, "clients") ??
    ALL_CLIENTS.filter((c) => installed.has(c));
  const kinds = listFlag<SeederKind>(values["seeded-by"], ALL_SEEDER_KINDS, "seeded-by") ??
    ALL_SEEDER_KINDS.filter((k) => k === "ours" || installed.has(k as ClientName));
  const names = values.smoke ? ["smoke"] : values.case ? values.case.split(",") : [undefined];
  const configs: BenchConfig[] = [];
  for (const name of names) {
    const preset = name === undefined ? undefined : CASES[name.trim()];
    if (name !== undefined && !preset) {
      throw new BenchError(`unknown case "${name}" (see --list)`);
    }
    const size = values.size ? parseSize(values.size) : preset?.size ?? 256 * 1024 ** 2;
    const pieceLength = values.piece ? parseSize(values.piece) : preset?.pieceLength ?? 256 * 1024;
    const seeders = intFlag(values.seeders, "seeders", 1, 200) ?? preset?.seeders ?? 1;
    const files = intFlag(values.files, "files", 1, 1000) ?? preset?.files ?? 1;
    const overridden = values.size || values.piece || values.seeders || values.files;
    const version = values["torrent-version"] ?? preset?.torrentVersion ?? "v1";
    if (version !== "v1" && version !== "v2" && version !== "hybrid") {
      throw new BenchError(`--torrent-version must be v1, v2 or hybrid, not "${version}"`);
    }
    const caseName = name && !overridden
      ? name.trim()
      : `${formatSize(size).replace(" ", "")}-${
        formatSize(pieceLength).replace(" ", "")
      }-${seeders}seed${files > 1 ? `-${files}files` : ""}${version === "v1" ? "" : `-${version}`}`
        .toLowerCase();
    configs.push({
      caseName,
      size,
      pieceLength,
      files,
      seeders,
      seederKinds: values["seeded-by"] ? kinds : preset?.seederKinds ?? kinds,
      clients: values.clients ? clients : preset?.clients?.filter((c) => installed.has(c)) ??
        clients,
      runs: intFlag(values.runs, "runs", 1, 100) ?? preset?.runs ?? 3,
      seederUploadRate: values["seed-rate"]
        ? parseSize(values["seed-rate"])
        : preset?.seederUploadRate,
      dialDownloader: preset?.dialDownloader ?? seeders > 50,
      encryptedSeeders: values.encrypted ?? preset?.encryptedSeeders,
      utpOnly: values.utp ?? preset?.utpOnly,
      relay: preset?.relay,
      downloaderMaxPeers: preset?.downloaderMaxPeers ?? (seeders > 50 ? seeders + 50 : undefined),
      timeoutSec: intFlag(values.timeout, "timeout", 1, 86_400),
      profile: values.profile ?? false,
      tmpDir: values.tmp,
      keep: values.keep ?? false,
      torrentVersion: version,
    });
  }
  return configs;
}

async function main(args: string[]): Promise<number> {
  let configs: BenchConfig[] | "help" | "list";
  try {
    configs = await configsFromArgs(args);
  } catch (e) {
    console.error(`bench: ${e instanceof Error ? e.message : e}\n\n${USAGE}`);
    return 2;
  }
  if (configs === "help") {
    console.log(USAGE);
    return 0;
  }
  if (configs === "list") {
    for (const [name, c] of Object.entries(CASES)) console.log(`${name.padEnd(16)} ${c.about}`);
    return 0;
  }
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    console.error("bench: interrupted; stopping seeders and downloaders");
    stopAllChildren().then(removeWorkDirs).finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const failures: string[] = [];
  for (const config of configs) {
    try {
      const result = await runBench(config, (line) => console.error(line));
      console.log(result.text.join("\n\n") + "\n");
      failures.push(...result.failures);
    } catch (e) {
      failures.push(`${config.caseName}: ${e instanceof Error ? e.message : e}`);
    }
  }
  if (failures.length > 0) {
    console.error(`bench: ${failures.length} download(s) wrong or failed:`);
    for (const f of failures) console.error(`  ${f}`);
    return 1;
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
