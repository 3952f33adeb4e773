/**
 * The program a daemon runs when a torrent finishes downloading (transmission-daemon's
 * `script-torrent-done-filename`), told about the torrent in the environment variables
 * Transmission sets, so scripts written for it work unchanged: `TR_APP_VERSION`,
 * `TR_TIME_LOCALTIME`, `TR_TORRENT_DIR`, `TR_TORRENT_HASH`, `TR_TORRENT_ID`, `TR_TORRENT_NAME`,
 * `TR_TORRENT_LABELS` (comma-separated), `TR_TORRENT_BYTES_DOWNLOADED` and
 * `TR_TORRENT_TRACKERS` (comma-separated announce URLs).
 *
 * @module
 */
import { messageOf } from "../util/mod.ts";

/** What the program is told of the torrent that finished. */
export interface FinishedTorrent {
  id: number;
  name: string;
  /** The v1 info-hash (or the v2 one cut to 20 bytes), hex. */
  hash: string;
  /** The folder its files are in. */
  dir: string;
  labels: readonly string[];
  downloaded: number;
  trackers: readonly string[];
}

/** Where a run's end is told: its exit code, and the start of what it wrote to stderr. */
export interface DoneScriptLog {
  info(message: string): void;
  warn(message: string): void;
}

/** How much of a failed program's stderr goes to the log. */
const STDERR_SHOWN = 300;

/**
 * Starts `program` for `torrent` and returns at once; its end (or failure to start) is logged.
 * It runs on after the daemon stops, as a service manager's other children would. Its stdin
 * is empty and its stdout thrown away; it runs in `torrent.dir`.
 *
 * @example
 * ```ts ignore
 * runDoneScript("/srv/hooks/done.sh", finished, "bittorrent 1.0.0", log);
 * ```
 */
export function runDoneScript(
  program: string,
  torrent: FinishedTorrent,
  version: string,
  log: DoneScriptLog,
): void {
  const env = {
    TR_APP_VERSION: version,
    TR_TIME_LOCALTIME: new Date().toString(),
    TR_TORRENT_DIR: torrent.dir,
    TR_TORRENT_HASH: torrent.hash,
    TR_TORRENT_ID: String(torrent.id),
    TR_TORRENT_NAME: torrent.name,
    TR_TORRENT_LABELS: torrent.labels.join(","),
    TR_TORRENT_BYTES_DOWNLOADED: String(torrent.downloaded),
    TR_TORRENT_TRACKERS: torrent.trackers.join(","),
  };
  const what = `done script ${program} for torrent ${torrent.id}`;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      env,
      cwd: torrent.dir,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    log.warn(`${what} did not start: ${reasonOf(e)}`);
    return;
  }
  child.unref();
  const stderr = new Response(child.stderr).text().catch(() => "");
  child.status.then(async ({ code, signal }) => {
    if (code === 0) return log.info(`${what} ended`);
    const said = (await stderr).trim().slice(0, STDERR_SHOWN).replace(/\s+/g, " ");
    const how = signal ? `was killed by ${signal}` : `ended with code ${code}`;
    log.warn(`${what} ${how}${said ? `: ${said}` : ""}`);
  });
}

function reasonOf(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "no such program";
  if (e instanceof Deno.errors.PermissionDenied) return "it is not executable, or not allowed";
  return messageOf(e);
}
