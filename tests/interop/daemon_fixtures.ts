/**
 * What the daemon's interop tests share: our daemon started as a user runs it, a seeded swarm
 * to feed it, and a wait for a condition.
 */
import {
  delay,
  freePort,
  freeTcpUdpPort,
  makeSwarm,
  OUR_MAIN,
  type OurClient,
  runOurClient,
  type Swarm,
} from "./fixtures.ts";
import type { PayloadFile } from "../../testdata/payload.ts";

export async function until(
  what: string,
  check: () => Promise<boolean>,
  ms: number,
): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(200);
  }
}

/** A swarm of FILES with our seeder on it and an empty downloads folder, for `fn`; gone after. */
export async function withSeededSwarm(
  files: PayloadFile[],
  seed: number,
  fn: (s: { swarm: Swarm; seeder: OurClient; downloads: string }) => Promise<void>,
): Promise<void> {
  const swarm = await makeSwarm(files, seed, "interop-daemon-");
  const seeder = await runOurClient({ torrent: swarm.httpTorrent, out: swarm.data, seed: true });
  const downloads = `${swarm.root}/downloads`;
  try {
    await Deno.mkdir(downloads);
    await fn({ swarm, seeder, downloads });
  } finally {
    await seeder.stop();
    await swarm.tracker.stop();
    await Deno.remove(swarm.root, { recursive: true });
  }
}

/** The daemon as a user runs it, in a temp state folder, DHT off (tests stay on 127.0.0.1). */
export async function startDaemon(downloads: string, extra: string[] = [], keepState?: string) {
  const rpcPort = freePort();
  const stateDir = keepState ?? await Deno.makeTempDir({ prefix: "bittorrent-daemon-state-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      OUR_MAIN,
      "daemon",
      "-o",
      downloads,
      "--port",
      String(await freeTcpUdpPort()),
      "--no-dht",
      "--rpc-port",
      String(rpcPort),
      "--log-dir",
      `${stateDir}/logs`,
      "-v",
      ...extra,
    ],
    env: { XDG_STATE_HOME: stateDir, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  let exited = false;
  child.status.then(() => exited = true);
  try {
    await until("the daemon's RPC", async () => {
      if (exited) throw new Error("the daemon exited at start");
      try {
        const response = await fetch(`http://127.0.0.1:${rpcPort}/transmission/rpc`);
        await response.body?.cancel();
        return true;
      } catch {
        return false;
      }
    }, 30_000);
  } catch (e) {
    // Say what the daemon said, and leave nothing behind.
    try {
      child.kill("SIGKILL");
    } catch { /* exited already */ }
    await child.status;
    const [out, err] = await output;
    if (keepState === undefined) await Deno.remove(stateDir, { recursive: true }).catch(() => {});
    throw new Error(`${e instanceof Error ? e.message : e}\n${out}${err}`);
  }
  return {
    rpcPort,
    stateDir,
    /** Settles when the daemon has exited, whatever made it. */
    exited: child.status.then(() => {}),
    /** SIGTERM (SIGKILL: no chance to save anything); the state folder is removed unless kept. */
    async stop(signal: Deno.Signal = "SIGTERM"): Promise<{ code: number; output: string }> {
      try {
        child.kill(signal);
      } catch { /* gone already */ }
      const status = await child.status;
      const [out, err] = await output;
      if (keepState === undefined) await Deno.remove(stateDir, { recursive: true }).catch(() => {});
      return { code: status.code, output: out + err };
    },
  };
}
