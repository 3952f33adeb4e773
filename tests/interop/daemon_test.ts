/**
 * `bittorrent daemon` driven by Debian's `transmission-remote` (package transmission-cli), on
 * 127.0.0.1: add a .torrent (its peers come from our tracker), list it until done (its done
 * script runs), stop, start
 * and verify it, add its magnet link again (one torrent), remove it with its data, add the magnet link (metadata from the
 * seeder), remove it keeping the data; raw requests with bad input get error results; a
 * .torrent put in the watch folder is added; SIGTERM stops the daemon cleanly with exit 0.
 */
import { assert, assertEquals } from "../assert.ts";
import { freeTcpUdpPort, OUR_MAIN, sameTree, toolGate } from "./fixtures.ts";
import type { PayloadFile } from "../../testdata/payload.ts";
import { startDaemon, until, withSeededSwarm } from "./daemon_fixtures.ts";
import { createTorrentFromBuffers } from "../../src/metainfo/mod.ts";

const MiB = 1 << 20;
const FILES: PayloadFile[] = [
  { path: "daemonset/a.bin", size: 3 * MiB + 77 },
  { path: "daemonset/sub/b.txt", size: 4321 },
];

const missing = await toolGate(["transmission-cli", "opentracker", "mktorrent"]);

/** Runs `transmission-remote <port> ...args`; its stdout, or a thrown error with its output. */
async function remote(port: number, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("transmission-remote", {
    args: [String(port), ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`transmission-remote ${args.join(" ")} failed: ${text}`);
  return text;
}

/** The rows of `transmission-remote -l`, as [id, done%] pairs. */
async function listed(port: number): Promise<[number, string][]> {
  const rows = (await remote(port, "-l")).split("\n").slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((cells) => /^\d+\*?$/.test(cells[0]));
  return rows.map((cells) => [Number(cells[0].replace("*", "")), cells[1]]);
}

Deno.test({
  name: "daemon + transmission-remote: add, list, a duplicate, remove with data, a magnet link",
  ignore: missing("daemon", "transmission-cli", "opentracker", "mktorrent"),
  fn: () =>
    withSeededSwarm(FILES, 701, async ({ swarm, seeder, downloads }) => {
      // A done script as people write them for Transmission: it logs what it is told.
      const hooks = await Deno.makeTempDir({ prefix: "bittorrent-hooks-" });
      const script = `${hooks}/done.sh`;
      await Deno.writeTextFile(
        script,
        '#!/bin/sh\necho "$TR_TORRENT_ID|$TR_TORRENT_NAME|$TR_TORRENT_HASH|$TR_TORRENT_DIR|' +
          '$(pwd)|$TR_TORRENT_BYTES_DOWNLOADED" >> "$0.log"\n',
      );
      await Deno.chmod(script, 0o755);
      const ran = async () =>
        (await Deno.readTextFile(`${script}.log`).catch(() => "")).split("\n").filter(Boolean);
      const daemon = await startDaemon(downloads, ["--done-script", script]);
      let stopped = false;
      try {
        await remote(daemon.rpcPort, "-a", swarm.httpTorrent);
        assertEquals((await listed(daemon.rpcPort)).map(([id]) => id), [1]);
        await until("torrent 1 done", async () => {
          return (await listed(daemon.rpcPort))[0]?.[1] === "100%";
        }, 60_000);
        // The seeder keeps its resume record beside the payload: compare the torrent's folder.
        const same = () => sameTree(`${swarm.data}/daemonset`, `${downloads}/daemonset`);
        assert(await same(), "the daemon's copy equals the source");
        const trackers = await remote(daemon.rpcPort, "-t", "1", "-it");
        assert(trackers.includes(`Tracker 0: ${new URL(swarm.tracker.httpUrl).host}`), trackers);
        // A tracker added and removed by id, as transmission-remote edits them (port 9 on
        // 127.0.0.1: nothing answers, nothing leaves the machine).
        await remote(daemon.rpcPort, "-t", "1", "-td", "udp://127.0.0.1:9/announce");
        const added = await remote(daemon.rpcPort, "-t", "1", "-it");
        assert(added.includes("Tracker 1: 127.0.0.1:9"), added);
        await remote(daemon.rpcPort, "-t", "1", "-tr", "1");
        const removed = await remote(daemon.rpcPort, "-t", "1", "-it");
        assert(removed.includes("Tracker 0:") && !removed.includes("Tracker 1:"), removed);

        // Stop, start, verify: the state transmission-remote shows follows.
        const stateOf = async () =>
          /State: (\w+)/.exec(await remote(daemon.rpcPort, "-t", "1", "-i"))?.[1];
        await remote(daemon.rpcPort, "-t", "1", "-S");
        assertEquals(await stateOf(), "Stopped");
        await remote(daemon.rpcPort, "-t", "1", "-s");
        await until("started again", async () => (await stateOf()) !== "Stopped", 10_000);
        await remote(daemon.rpcPort, "-t", "1", "-v");
        await until("verified and seeding", async () => {
          return (await listed(daemon.rpcPort))[0]?.[1] === "100%" && await stateOf() !== "Stopped";
        }, 30_000);
        assert(await same(), "still the source after stop, start and verify");
        // The script ran once: for the download, not for the check that found it complete.
        await until("the done script's run", async () => (await ran()).length > 0, 10_000);
        const [id, name, hash, dir, cwd] = (await ran())[0].split("|");
        assertEquals([id, name, hash, dir, cwd], [
          "1",
          "daemonset",
          swarm.infoHash,
          downloads,
          downloads,
        ]);
        assertEquals((await ran()).length, 1);

        // The same torrent as a magnet link is the same torrent.
        const magnet = `magnet:?xt=urn:btih:${swarm.infoHash}&x.pe=127.0.0.1:${seeder.port}`;
        await remote(daemon.rpcPort, "-a", magnet);
        assertEquals((await listed(daemon.rpcPort)).length, 1);

        await remote(daemon.rpcPort, "-t", "1", "--remove-and-delete");
        assertEquals(await listed(daemon.rpcPort), []);
        assert(
          ![...Deno.readDirSync(downloads)].some((e) => e.name === "daemonset"),
          "--remove-and-delete took the data",
        );
        const kept = [...Deno.readDirSync(`${downloads}/.bittorrent`)].map((e) => e.name);
        assertEquals(kept.filter((name) => name.startsWith(swarm.infoHash)), [], "and its records");

        // From the magnet link: the metadata from the seeder, then the data.
        await remote(daemon.rpcPort, "-a", magnet);
        await until("the magnet's torrent done", async () => {
          return (await listed(daemon.rpcPort))[0]?.[1] === "100%";
        }, 60_000);
        assert(await same(), "the magnet's copy equals the source");
        await until("the done script's second run", async () => (await ran()).length === 2, 10_000);
        assert((await ran())[1].startsWith(`2|daemonset|${swarm.infoHash}|`), (await ran())[1]);
        const info = await remote(daemon.rpcPort, "-t", swarm.infoHash, "-i");
        assert(info.includes(`Hash: ${swarm.infoHash}`) && info.includes("daemonset"), info);
        await remote(daemon.rpcPort, "-t", "all", "-r");
        assertEquals(await listed(daemon.rpcPort), []);
        assert(await same(), "-r keeps the data");

        // --exit (session-close) stops the daemon as a signal would.
        let gone = false;
        daemon.exited.then(() => gone = true);
        await remote(daemon.rpcPort, "--exit");
        await until("the daemon gone", () => Promise.resolve(gone), 10_000);
        const { code, output } = await daemon.stop();
        stopped = true;
        assertEquals(code, 0, output);
        assert(output.includes("RPC at http://127.0.0.1:"), output);
      } finally {
        if (!stopped) await daemon.stop();
        await Deno.remove(hooks, { recursive: true });
      }
    }),
});

Deno.test({
  name: "daemon: raw requests with bad input get error results, never a crash; a watch folder",
  ignore: missing("daemon raw", "transmission-cli"),
  async fn() {
    const downloads = await Deno.makeTempDir({ prefix: "bittorrent-daemon-" });
    const watched = `${downloads}/watch`;
    await Deno.mkdir(watched);
    // The DHT is off, and would ask only 127.0.0.1:9 (where nothing answers) once switched on.
    const daemon = await startDaemon(downloads, [
      "--watch-dir",
      watched,
      "--dht-bootstrap",
      "127.0.0.1:9",
    ]);
    try {
      const url = `http://127.0.0.1:${daemon.rpcPort}/transmission/rpc`;
      const first = await fetch(url, { method: "POST", body: "{}" });
      await first.body?.cancel();
      const id = first.headers.get("X-Transmission-Session-Id")!;
      const call = async (request: unknown) => {
        const response = await fetch(url, {
          method: "POST",
          headers: { "X-Transmission-Session-Id": id },
          body: JSON.stringify(request),
        });
        return await response.json();
      };
      const refused = [
        { method: "torrent-add", arguments: { metainfo: btoa("not bencode") } },
        { method: "torrent-add", arguments: { filename: "/no/such/file.torrent" } },
        { method: "torrent-add", arguments: { filename: "magnet:?xt=urn:btih:zz" } },
        { method: "torrent-add", arguments: {} },
        { method: "torrent-add", arguments: { filename: 7 } },
        { method: "torrent-get", arguments: { fields: "name" } },
        { method: "torrent-get" },
        { method: "no-such-method" },
      ];
      for (const request of refused) {
        const answer = await call(request);
        assert(answer.result !== "success", `${JSON.stringify(request)}: ${answer.result}`);
      }
      const empty = await call({ method: "torrent-get", arguments: { fields: ["id"], ids: [99] } });
      assertEquals(empty, { arguments: { torrents: [] }, result: "success" });
      const space = await call({ method: "free-space", arguments: { path: downloads } });
      assert(space.arguments["size-bytes"] > 0 && space.arguments.path === downloads);
      const missingDir = await call({
        method: "free-space",
        arguments: { path: `${downloads}/x/y` },
      });
      assert(missingDir.result.includes("no such"), missingDir.result);
      const port = await call({ method: "port-test" });
      assertEquals(port.arguments, { "port-is-open": false });
      const session = await call({ method: "session-get" });
      assertEquals(session.arguments["rpc-version"], 16);
      assertEquals(session.arguments["download-dir"], downloads);

      // A .torrent put in the watch folder is added as torrent-add would, then renamed.
      const dropped = createTorrentFromBuffers("dropped.bin", new Uint8Array(3000), {
        pieceLength: 16384,
        creationDate: null,
      });
      await Deno.writeFile(`${watched}/dropped.torrent`, dropped);
      await until("the dropped torrent listed", async () => {
        const got = await call({ method: "torrent-get", arguments: { fields: ["name"] } });
        return got.arguments.torrents.some((t: { name: string }) => t.name === "dropped.bin");
      }, 15_000);
      // transmission-remote -p moves the peer port while the daemon runs.
      const moved = await freeTcpUdpPort();
      await remote(daemon.rpcPort, "-p", String(moved));
      // ... and switches the DHT on, uTP and PEX off.
      await remote(daemon.rpcPort, "--dht", "--no-utp", "--no-pex");
      const network = await remote(daemon.rpcPort, "-si");
      assert(network.includes(`Listenport: ${moved}`), network);
      assert(network.includes("uTP enabled: No"), network);
      assert(network.includes("Distributed hash table enabled: Yes"), network);
      assert(network.includes("Peer exchange allowed: No"), network);
      (await Deno.connect({ hostname: "127.0.0.1", port: moved })).close();
      await until("the dropped file renamed", () =>
        Promise.resolve(
          [...Deno.readDirSync(watched)].map((e) => e.name).join() === "dropped.torrent.added",
        ), 5_000);
    } finally {
      const { code, output } = await daemon.stop();
      assertEquals(code, 0, output);
      await Deno.remove(downloads, { recursive: true });
    }
  },
});

Deno.test({
  name: "daemon: our remote commands add, list, stop, start and remove, with a login",
  ignore: missing("daemon remote", "transmission-cli", "opentracker", "mktorrent"),
  fn: () =>
    withSeededSwarm(FILES, 702, async ({ swarm, downloads }) => {
      const daemon = await startDaemon(downloads, ["--rpc-auth", "ann:pw"]);
      const ours = async (...args: string[]) => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", OUR_MAIN, ...args, "--rpc", `http://127.0.0.1:${daemon.rpcPort}`],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
        return { code: out.code, text };
      };
      try {
        const refused = await ours("ls");
        assertEquals(refused.code, 1, refused.text);
        assert(refused.text.includes("--rpc-auth"), refused.text);
        const login = ["--rpc-auth", "ann:pw"];
        const added = await ours("add", swarm.httpTorrent, ...login);
        assert(/^added 1 daemonset$/m.test(added.text), added.text);
        const json = async () => JSON.parse((await ours("ls", "--json", ...login)).text);
        await until("done", async () => (await json())[0]?.percentDone === 1, 60_000);
        assert(await sameTree(`${swarm.data}/daemonset`, `${downloads}/daemonset`));
        assert((await ours("ls", ...login)).text.includes("100.0%"));
        await ours("pause", "1", ...login);
        assertEquals((await json())[0].status, 0);
        await ours("resume", swarm.infoHash, ...login);
        await until("seeding again", async () => (await json())[0]?.status === 6, 10_000);
        const stats = await ours("stats", "--json", ...login);
        assertEquals(JSON.parse(stats.text).torrentCount, 1);
        const removed = await ours("rm", "all", "--delete", ...login);
        assertEquals(removed.code, 0, removed.text);
        assertEquals(await json(), []);
        const bad = await ours("add", `${swarm.root}/no-such.torrent`, ...login);
        assertEquals(bad.code, 1, bad.text);
      } finally {
        await daemon.stop();
      }
    }),
});

Deno.test({
  name: "daemon: killed with SIGKILL, a restart has the same torrents, data and metadata kept",
  ignore: missing("daemon restart", "transmission-cli", "opentracker", "mktorrent"),
  fn: () =>
    withSeededSwarm(FILES, 703, async ({ swarm, seeder, downloads }) => {
      const state = `${swarm.root}/state`;
      let daemon = await startDaemon(downloads, ["--state-dir", state], state);
      try {
        // From a magnet link (its metadata must be kept), then stopped by the user.
        await remote(
          daemon.rpcPort,
          "-a",
          `magnet:?xt=urn:btih:${swarm.infoHash}&x.pe=127.0.0.1:${seeder.port}`,
        );
        await until("done", async () => (await listed(daemon.rpcPort))[0]?.[1] === "100%", 60_000);
        await remote(daemon.rpcPort, "-t", "1", "-S");
        // Turtle mode, as transmission-remote sets it: kept in settings.json for the restart.
        await remote(daemon.rpcPort, "-asd", "30", "-asu", "10", "-as");
        // Its bandwidth priority and session limits, kept in its record.
        await remote(daemon.rpcPort, "-t", "1", "-Bh", "-HL");
        await daemon.stop("SIGKILL");
        await seeder.stop(); // nobody to fetch metadata or data from now

        daemon = await startDaemon(downloads, ["--state-dir", state], state);
        const limits = await remote(daemon.rpcPort, "-si");
        assert(limits.includes("Download speed limit: 30 kB/s"), limits);
        assert(limits.includes("Enabled turtle limit: 10 kB/s"), limits);
        await remote(daemon.rpcPort, "-AS");
        const info = await remote(daemon.rpcPort, "-t", "1", "-i");
        assert(info.includes(`Hash: ${swarm.infoHash}`) && info.includes("State: Stopped"), info);
        assert(info.includes("Bandwidth Priority: High"), info);
        assert(info.includes("Honors Session Limits: No"), info);
        await remote(daemon.rpcPort, "-t", "1", "-s");
        await until("checked and complete again", async () => {
          return (await listed(daemon.rpcPort))[0]?.[1] === "100%";
        }, 30_000);
        assert(await sameTree(`${swarm.data}/daemonset`, `${downloads}/daemonset`));
        await remote(daemon.rpcPort, "-t", "1", "-r");
        assertEquals(
          [...Deno.readDirSync(`${state}/torrents`)],
          [],
          "a removed torrent is forgotten",
        );
      } finally {
        await daemon.stop();
      }
    }),
});

Deno.test({
  name: "daemon: a file marked unwanted (-G) is not downloaded; marked wanted again (-g), it is",
  ignore: missing("daemon files", "transmission-cli", "opentracker", "mktorrent"),
  fn: () =>
    withSeededSwarm(FILES, 704, async ({ swarm, downloads }) => {
      const daemon = await startDaemon(downloads);
      const exists = (path: string) => Deno.stat(path).then(() => true, () => false);
      try {
        await remote(daemon.rpcPort, "--start-paused", "-a", swarm.httpTorrent);
        // Files are numbered as listed: 0 is daemonset/a.bin, 1 is daemonset/sub/b.txt.
        await remote(daemon.rpcPort, "-t", "1", "-G", "0");
        await remote(daemon.rpcPort, "-t", "1", "-s");
        await until("the wanted file done", async () => {
          return (await listed(daemon.rpcPort))[0]?.[1] === "100%";
        }, 60_000);
        const b = "daemonset/sub/b.txt";
        assertEquals(
          await Deno.readFile(`${downloads}/${b}`),
          await Deno.readFile(`${swarm.data}/${b}`),
        );
        assert(!await exists(`${downloads}/daemonset/a.bin`), "the unwanted file was not made");
        const files = await remote(daemon.rpcPort, "-t", "1", "-f");
        assert(/0:.*\bNo\b.*a\.bin/.test(files) && /1:.*\bYes\b.*b\.txt/.test(files), files);

        await remote(daemon.rpcPort, "-t", "1", "-g", "0");
        await until("every file done", async () => {
          return (await listed(daemon.rpcPort))[0]?.[1] === "100%" &&
            await exists(`${downloads}/daemonset/a.bin`);
        }, 60_000);
        assert(await sameTree(`${swarm.data}/daemonset`, `${downloads}/daemonset`));
      } finally {
        await daemon.stop();
      }
    }),
});
