/**
 * The daemon's options from a JSON file in its state folder (`settings.json`), for a daemon
 * started by a service manager: each key is one of `bittorrent daemon`'s long flags without
 * its dashes, so the file and the command line say things the same way and are checked by the
 * same parser. A flag on the command line wins over the file.
 *
 * ```json
 * { "output": "/srv/torrents", "rpc-bind": "0.0.0.0", "rpc-host": ["nas.lan"],
 *   "max-download-rate": "5M", "max-active": 3, "no-dht": true }
 * ```
 *
 * @module
 */
import type { SessionValues } from "../rpc/mod.ts";
import { fsReason, writeFileAtomic } from "../util/mod.ts";
import { commandFlags, type DaemonOptions, formatSchedule, parseArgs, UsageError } from "./args.ts";

/** The file's name in the daemon's state folder. */
export const SETTINGS_FILE = "settings.json";
/** A settings file larger than this is not one. */
const MAX_SETTINGS_BYTES = 64 * 1024;

/**
 * The command-line words a settings object stands for: a value flag with its value (a list
 * repeats the flag), a switch when `true`, nothing when `false`. Throws `UsageError` naming the
 * file for a key that is not a daemon flag or a value of the wrong kind.
 *
 * @example
 * ```ts
 * import { settingsArgs } from "./settings_file.ts";
 * console.log(settingsArgs({ "rpc-port": 9092, "no-dht": true, "rpc-host": ["a", "b"] }, "s.json"));
 * // [ "--rpc-port", "9092", "--no-dht", "--rpc-host", "a", "--rpc-host", "b" ]
 * ```
 */
export function settingsArgs(settings: unknown, path: string): string[] {
  if (typeof settings !== "object" || settings === null || Array.isArray(settings)) {
    throw new UsageError(`${path}: not a JSON object of options`);
  }
  // The file is in the state folder: it cannot name another.
  const flags = new Map(
    commandFlags("daemon").filter((f) => f.long !== "--help" && f.long !== "--state-dir")
      .map((f) => [f.long.slice(2), f]),
  );
  const args: string[] = [];
  for (const [key, value] of Object.entries(settings)) {
    const flag = flags.get(key);
    if (!flag) throw new UsageError(`${path}: "${key}" is not an option of bittorrent daemon`);
    if (flag.metavar === undefined) {
      if (typeof value !== "boolean") throw new UsageError(`${path}: "${key}" takes true or false`);
      if (value) args.push(flag.long);
      continue;
    }
    for (const one of Array.isArray(value) ? value : [value]) {
      if (typeof one !== "string" && typeof one !== "number") {
        throw new UsageError(`${path}: "${key}" takes a string or a number`);
      }
      args.push(flag.long, String(one));
    }
  }
  return args;
}

/**
 * The words of `${stateDir}/settings.json`; none when there is no such file. Throws
 * `UsageError` for a file that cannot be read or parsed.
 */
export async function readSettingsArgs(stateDir: string): Promise<string[]> {
  const path = `${stateDir}/${SETTINGS_FILE}`;
  let text: string;
  try {
    const info = await Deno.stat(path);
    if (info.size > MAX_SETTINGS_BYTES) throw new UsageError(`${path}: too large for settings`);
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${path}: cannot be read: ${fsReason(e)}`);
  }
  let settings: unknown;
  try {
    settings = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${path}: not JSON (${e instanceof Error ? e.message : e})`);
  }
  return settingsArgs(settings, path);
}

/**
 * The daemon's options with its settings file under them: `argv` (the command line after
 * `daemon`) parsed again after the file's words, so a flag given on the command line wins.
 */
export async function withSettingsFile(
  options: DaemonOptions,
  argv: readonly string[],
): Promise<DaemonOptions> {
  const fromFile = await readSettingsArgs(options.stateDir);
  if (fromFile.length === 0) return options;
  return parseArgs(["daemon", ...fromFile, ...argv]) as DaemonOptions;
}

/**
 * The settings file's keys for what `session-set` may change (`undefined`: the key goes, its
 * flag's default applies), in the forms the daemon's flags read back.
 *
 * @example
 * ```ts
 * import { sessionSettings } from "./settings_file.ts";
 * console.log(sessionSettings({
 *   downloadDir: "/srv", dht: true, utp: false, pex: true, maxActive: 3, maxDownloadRate: 0,
 *   maxUploadRate: 1024, maxConnections: Infinity, maxPeers: 50, encryption: "prefer", seedRatio: 1 / 3,
 *   startAdded: false, altDownloadRate: 51200, altUploadRate: 51200, altSpeed: true,
 *   altSchedule: { begin: 540, end: 1020, days: 62 },
 * }));
 * // {
 * //   output: "/srv",
 * //   port: undefined,
 * //   "no-dht": undefined,
 * //   "no-utp": true,
 * //   "no-pex": undefined,
 * //   "incomplete-dir": undefined,
 * //   "max-active": 3,
 * //   "max-download-rate": undefined,
 * //   "max-upload-rate": 1024,
 * //   "max-connections": undefined,
 * //   "max-peers": 50,
 * //   encryption: "prefer",
 * //   "seed-ratio": "0.333333",
 * //   "seed-idle": undefined,
 * //   paused: true,
 * //   "alt-download-rate": 51200,
 * //   "alt-upload-rate": 51200,
 * //   "alt-speed": true,
 * //   "alt-speed-schedule": "09:00-17:00@weekdays",
 * //   blocklist: undefined
 * // }
 * ```
 */
export function sessionSettings(
  values: SessionValues,
): Record<string, string | number | boolean | undefined> {
  return {
    output: values.downloadDir,
    port: values.peerPort,
    "no-dht": values.dht ? undefined : true,
    "no-utp": values.utp ? undefined : true,
    "no-pex": values.pex ? undefined : true,
    "incomplete-dir": values.incompleteDir,
    "max-active": values.maxActive,
    "max-download-rate": values.maxDownloadRate || undefined,
    "max-upload-rate": values.maxUploadRate || undefined,
    "max-connections": Number.isFinite(values.maxConnections) ? values.maxConnections : undefined,
    "max-peers": values.maxPeers,
    encryption: values.encryption,
    // Six decimals at most, as --seed-ratio reads them; a bare number is minutes to --seed-idle.
    "seed-ratio": values.seedRatio?.toFixed(6).replace(/\.?0+$/, ""),
    "seed-idle": values.seedIdleMinutes,
    paused: values.startAdded ? undefined : true,
    "alt-download-rate": values.altDownloadRate,
    "alt-upload-rate": values.altUploadRate,
    "alt-speed": values.altSpeed || undefined,
    "alt-speed-schedule": values.altSchedule && formatSchedule(values.altSchedule),
    blocklist: values.blocklistUrl,
  };
}

/**
 * Writes `values` into the settings file (a key set to `undefined` is taken out), keeping the
 * others; written to a temporary name and renamed, so a crash leaves the old file or the new.
 */
export async function saveSettings(
  stateDir: string,
  values: Record<string, string | number | boolean | undefined>,
): Promise<void> {
  const path = `${stateDir}/${SETTINGS_FILE}`;
  let settings: Record<string, unknown> = {};
  try {
    const old = JSON.parse(await Deno.readTextFile(path));
    if (typeof old === "object" && old !== null && !Array.isArray(old)) settings = old;
  } catch { /* none yet, or unreadable: written anew */ }
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) delete settings[key];
    else settings[key] = value;
  }
  await Deno.mkdir(stateDir, { recursive: true });
  await writeFileAtomic(path, JSON.stringify(settings, null, 2) + "\n", { sync: true });
}
