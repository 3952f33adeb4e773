/**
 * Several seeders of our own client in one process, for the benchmark: each `--port` is one
 * {@link TorrentJob} (the engine, storage, listener and tracker announcer the CLI's `--seed` runs)
 * with its own peer id and listening port on 127.0.0.1.
 *
 *     deno run -A tests/bench/our_seeders.ts --torrent T --data DIR --port P [--port P2 ...]
 *                 [--upload-rate BYTES] [--max-peers N] [--tracker-off] [--encrypted-only]
 *
 * stdout: "READY <n>" once every seeder has checked its data and started. stdin, one command a
 * line: `connect HOST:PORT` makes every seeder dial that peer (for clients that ignore loopback
 * addresses from trackers but accept incoming peers). SIGTERM or SIGINT stops every job
 * (announcing `stopped`) and exits 0.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { PeerHub, TorrentJob } from "../../src/client/mod.ts";
import { parseTorrent } from "../../src/metainfo/mod.ts";

const MAX_SEEDERS = 1000;
const MAX_TORRENT_FILE = 64 * 1024 * 1024;

function fail(message: string): never {
  console.error(`our_seeders: ${message}`);
  Deno.exit(2);
}

function peerOf(text: string): { host: string; port: number } | undefined {
  const m = /^(127\.0\.0\.1|localhost):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : 0;
  return port > 0 && port < 65536 ? { host: "127.0.0.1", port } : undefined;
}

async function readCommands(jobs: TorrentJob[]): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of Deno.stdin.readable) {
    pending += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const words = pending.slice(0, nl).trim().split(/\s+/);
      pending = pending.slice(nl + 1);
      const peer = words.length === 2 && words[0] === "connect" ? peerOf(words[1]) : undefined;
      if (!peer) {
        console.error(`our_seeders: ignoring command "${words.join(" ").slice(0, 80)}"`);
        continue;
      }
      for (const job of jobs) job.addPeers([peer]);
    }
    if (pending.length > 4096) pending = pending.slice(-4096);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      torrent: { type: "string" },
      data: { type: "string" },
      port: { type: "string", multiple: true },
      "upload-rate": { type: "string" },
      "max-peers": { type: "string" },
      "tracker-off": { type: "boolean" },
      "encrypted-only": { type: "boolean" },
    },
  });
  if (!values.torrent || !values.data || !values.port?.length) {
    fail("usage: --torrent T --data DIR --port P [--port P2 ...] [--upload-rate BYTES]");
  }
  const ports = values.port.map(Number);
  if (ports.length > MAX_SEEDERS || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
    fail(`ports must be 1..65535, at most ${MAX_SEEDERS} of them`);
  }
  const rate = Number(values["upload-rate"] ?? "0");
  const maxPeers = Number(values["max-peers"] ?? "200");
  if (!Number.isSafeInteger(rate) || rate < 0) fail("--upload-rate must be bytes per second");
  if (!Number.isInteger(maxPeers) || maxPeers < 1 || maxPeers > 1000) fail("bad --max-peers");
  const stat = await Deno.stat(values.torrent);
  if (stat.size > MAX_TORRENT_FILE) fail("torrent file too large");
  const torrent = parseTorrent(await Deno.readFile(values.torrent));
  const jobs: TorrentJob[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () => {
    stopping ??= Promise.allSettled(jobs.map((j) => j.stop())).then(() => Deno.exit(0));
  };
  Deno.addSignalListener("SIGTERM", stopAll);
  Deno.addSignalListener("SIGINT", stopAll);
  for (const port of ports) {
    // Each seeder is a client of its own: its own port, peer id and upload limit.
    const hub = await PeerHub.open({
      port,
      hostname: "127.0.0.1",
      encryption: values["encrypted-only"] ? "require" : "prefer",
      utp: false,
      maxUploadRate: rate,
    });
    const job = await TorrentJob.open({
      torrent,
      output: values.data,
      hub,
      ownsHub: true,
      maxPeers,
      seed: true,
      trackers: values["tracker-off"] ? [] : undefined,
    });
    if (!job.have.complete) {
      await job.stop();
      console.error(`our_seeders: the data under ${values.data} does not verify`);
      Deno.exit(4);
    }
    if (job.port !== port) {
      await job.stop();
      fail(`port ${port} is taken`);
    }
    jobs.push(job);
    job.start();
  }
  console.log(`READY ${jobs.length}`);
  await readCommands(jobs);
  // stdin closed: keep seeding until a signal arrives.
  await new Promise(() => {});
}

if (import.meta.main) await main();
