/**
 * The remote commands: `add`, `ls`, `pause`, `resume`, `rm` and `stats` drive a running daemon
 * (ours, or any that speaks Transmission's RPC) over its RPC, and print what it says.
 *
 * @module
 */
// The RPC's client alone, not its face: a remote command need not load the server's methods,
// and with them the whole client (a third of its start-up).
import { RpcCallError, RpcClient } from "../rpc/client.ts";
import { encodeBase64, oneLine } from "../util/mod.ts";
import type { RemoteOptions } from "./args.ts";
import { formatBytes, formatEta, formatRate } from "./format.ts";
import { CommandError, type CommandIO, processIO } from "./io.ts";

/** The fields `ls` asks for. */
const LIST_FIELDS = [
  "id",
  "name",
  "hashString",
  "status",
  "error",
  "errorString",
  "percentDone",
  "sizeWhenDone",
  "leftUntilDone",
  "rateDownload",
  "rateUpload",
  "uploadRatio",
  "peersConnected",
];

const STATUS_NAMES = [
  "Stopped",
  "Check wait",
  "Checking",
  "Queued",
  "Downloading",
  "Seed wait",
  "Seeding",
];

/** Runs a remote command; 0 when the daemon did it. Failures are one `CommandError` line. */
export async function runRemote(
  options: RemoteOptions,
  io: CommandIO = processIO(),
): Promise<number> {
  let client: RpcClient;
  try {
    client = new RpcClient(options.rpc, options.rpcAuth);
  } catch (e) {
    throw new CommandError(`--rpc: ${(e as Error).message}`);
  }
  try {
    switch (options.command) {
      case "add":
        return await add(client, options, io);
      case "ls":
        return await list(client, options, io);
      case "stats":
        return await stats(client, options, io);
      default:
        return await act(client, options, io);
    }
  } catch (e) {
    if (e instanceof RpcCallError) throw new CommandError(e.message);
    throw e;
  }
}

async function add(client: RpcClient, options: RemoteOptions, io: CommandIO): Promise<number> {
  // Loaded for `add` alone: `node:path` takes some 10 ms to load, the torrent parser 2 ms.
  const [{ resolve }, { loadTorrent }] = await Promise.all([
    import("node:path"),
    import("./input.ts"),
  ]);
  const dir = options.output === undefined ? {} : { "download-dir": resolve(options.output) };
  for (const target of options.targets) {
    // A file is sent whole (the daemon may not see our folders); a link as it is.
    let source: Record<string, unknown>;
    if (target.startsWith("magnet:")) source = { filename: target };
    else {
      await loadTorrent(target); // one clear line for a bad file, before the daemon sees it
      source = { metainfo: encodeBase64(await Deno.readFile(target)) };
    }
    const answer = await client.call("torrent-add", { ...source, ...dir, paused: options.paused });
    const added = answer["torrent-added"] as Record<string, unknown> | undefined;
    const there = answer["torrent-duplicate"] as Record<string, unknown> | undefined;
    const t = added ?? there ?? {};
    io.out(`${added ? "added" : "already there:"} ${t.id} ${oneLine(String(t.name))}\n`);
  }
  return 0;
}

async function list(client: RpcClient, options: RemoteOptions, io: CommandIO): Promise<number> {
  const answer = await client.call("torrent-get", { fields: LIST_FIELDS });
  const torrents = Array.isArray(answer.torrents)
    ? answer.torrents as Record<string, unknown>[]
    : [];
  if (options.json) {
    io.out(`${JSON.stringify(torrents)}\n`);
    return 0;
  }
  const rows = torrents.map((t) => {
    const num = (key: string) => typeof t[key] === "number" ? t[key] as number : 0;
    // What a daemon says goes to a terminal: no control characters from it.
    const status = num("error") !== 0
      ? `Error: ${oneLine(String(t.errorString ?? ""), 120)}`
      : STATUS_NAMES[num("status")] ?? "?";
    return [
      String(t.id),
      `${(num("percentDone") * 100).toFixed(1)}%`,
      formatBytes(num("sizeWhenDone")),
      num("percentDone") >= 1 ? "done" : formatEta(num("leftUntilDone"), num("rateDownload")),
      formatRate(num("rateDownload")),
      formatRate(num("rateUpload")),
      num("uploadRatio") < 0 ? "-" : num("uploadRatio").toFixed(2),
      String(num("peersConnected")),
      status,
      oneLine(String(t.name ?? "")),
    ];
  });
  io.out(
    table(["ID", "Done", "Size", "ETA", "Down", "Up", "Ratio", "Peers", "Status", "Name"], rows),
  );
  return 0;
}

async function stats(client: RpcClient, options: RemoteOptions, io: CommandIO): Promise<number> {
  const s = await client.call("session-stats");
  if (options.json) {
    io.out(`${JSON.stringify(s)}\n`);
    return 0;
  }
  const num = (v: unknown) => typeof v === "number" ? v : 0;
  const current = (s["current-stats"] ?? {}) as Record<string, unknown>;
  io.out(
    `torrents: ${num(s.torrentCount)} (${num(s.activeTorrentCount)} active, ` +
      `${num(s.pausedTorrentCount)} stopped)\n` +
      `rates: down ${formatRate(num(s.downloadSpeed))}, up ${formatRate(num(s.uploadSpeed))}\n` +
      `this session: downloaded ${formatBytes(num(current.downloadedBytes))}, ` +
      `uploaded ${formatBytes(num(current.uploadedBytes))}, up ${num(current.secondsActive)} s\n`,
  );
  return 0;
}

/** pause, resume, rm: one call for every torrent named. */
async function act(client: RpcClient, options: RemoteOptions, io: CommandIO): Promise<number> {
  const all = options.targets.includes("all");
  const ids = all ? {} : { ids: options.targets.map((x) => /^\d+$/.test(x) ? Number(x) : x) };
  const method = { pause: "torrent-stop", resume: "torrent-start", rm: "torrent-remove" }[
    options.command as "pause" | "resume" | "rm"
  ];
  const extra = options.command === "rm" && options.delete ? { "delete-local-data": true } : {};
  await client.call(method, { ...ids, ...extra });
  const what = all ? "every torrent" : options.targets.join(", ");
  const done =
    { pause: "stopped", resume: "started", rm: options.delete ? "removed with data" : "removed" }[
      options.command as "pause" | "resume" | "rm"
    ];
  io.out(`${done}: ${what}\n`);
  return 0;
}

/** Left-aligned columns, two spaces apart; numbers too (they are short). */
function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(head), ...rows.map(line)].join("\n") + "\n";
}
