/**
 * IPv6: listening on every address takes IPv4 and IPv6 peers on one port, a download runs over
 * [::1], and a listener bound to one address is not reached through the other. Skipped, with a
 * message, where the machine has no [::1].
 */
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { createTorrentFromBuffers } from "../../src/metainfo/mod.ts";
import { type ByteStream, tcpTransport } from "../../src/peer/mod.ts";
import {
  assertPayload,
  MemoryLog,
  openJob,
  patternBytes,
  torrentOf,
  waitFor,
  within,
} from "./helpers.ts";

function hasIPv6Loopback(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    console.log("skipping the IPv6 tests: this machine has no [::1]");
    return false;
  }
}

const ignore = !hasIPv6Loopback();

Deno.test({
  name: "ipv6: a listener on every address takes IPv4 and IPv6 peers, each by its own address",
  ignore,
  async fn() {
    const accepted: ByteStream[] = [];
    const listener = tcpTransport.listen(undefined, 0, { accept: (s) => accepted.push(s) });
    const dialled: ByteStream[] = [];
    try {
      for (const host of ["127.0.0.1", "::1"]) {
        dialled.push(await tcpTransport.dial(host, listener.port, AbortSignal.timeout(5000)));
      }
      await waitFor("both connections", () => accepted.length === 2);
      const hosts = accepted.map((s) => s.remoteAddress.slice(0, s.remoteAddress.lastIndexOf(":")));
      // An IPv4 peer on a dual-stack socket is 127.0.0.1, not ::ffff:127.0.0.1.
      assertEquals(hosts.sort(), ["127.0.0.1", "[::1]"]);
    } finally {
      for (const s of [...dialled, ...accepted]) s.close();
      listener.close();
    }
  },
});

Deno.test({
  name: "ipv6: a download from a seeder listening on [::1] only",
  ignore,
  async fn() {
    const data = patternBytes(6 * 16384 + 5, 61);
    const torrent = torrentOf(
      createTorrentFromBuffers("v6.bin", data, { pieceLength: 16384, creationDate: null }),
    );
    const root = await Deno.makeTempDir({ prefix: "bt-ipv6-" });
    await Deno.mkdir(`${root}/seed`);
    await Deno.writeFile(`${root}/seed/v6.bin`, data);
    const seeder = await openJob(torrent, `${root}/seed`, { seed: true, hub: { hostname: "::1" } });
    const log = new MemoryLog();
    const leecher = await openJob(torrent, `${root}/out`, {
      log,
      peers: [{ host: "::1", port: seeder.port }],
    });
    try {
      seeder.start();
      leecher.start();
      await within("the download over [::1]", 10_000, leecher.done);
      await assertPayload(`${root}/out`, "v6.bin", data);
      assert(log.find(`peer [::1]:${seeder.port} connected`).length > 0, "over [::1]");
      // Bound to [::1], the seeder cannot be reached over IPv4.
      await assertRejects(() => Deno.connect({ hostname: "127.0.0.1", port: seeder.port }));
    } finally {
      await leecher.stop();
      await seeder.stop();
      await Deno.remove(root, { recursive: true });
    }
  },
});

const MAIN = decodeURIComponent(new URL("../../src/main.ts", import.meta.url).pathname);

/** Runs our CLI with `args` in `cwd` until its log holds `until`, then stops it; the log. */
async function logOfRun(args: string[], cwd: string, until: string): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    // The state folder is the test's: no saved DHT node of the user's is read or written.
    args: ["run", "-A", "--quiet", MAIN, ...args, "--log-dir", "logs", "-q", "-o", "out"],
    cwd,
    env: { NO_COLOR: "1", XDG_STATE_HOME: `${cwd}/state` },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let log = "";
  try {
    await waitFor(`"${until}" in the log`, () => {
      try {
        for (const entry of Deno.readDirSync(`${cwd}/logs`)) {
          log = Deno.readTextFileSync(`${cwd}/logs/${entry.name}`);
        }
      } catch { /* no log yet */ }
      return log.includes(until);
    }, 10_000);
    return log;
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

Deno.test("--bind: the peer listener and the DHT take that one address; a foreign one is refused", async () => {
  const cwd = await Deno.makeTempDir({ prefix: "bt-bind-" });
  try {
    await Deno.writeFile(
      `${cwd}/t.torrent`,
      createTorrentFromBuffers("b.bin", patternBytes(20_000, 3), { pieceLength: 16384 }),
    );
    // A dead loopback bootstrap node: the DHT runs but never leaves the machine.
    const common = ["--dht-bootstrap", "127.0.0.1:9", "--port", "0", "t.torrent"];
    const log = await logOfRun(["--bind", "127.0.0.1", ...common], cwd, "listening for peers");
    assert(/\[dht\] DHT listening on UDP 127\.0\.0\.1:\d+/.test(log), log);
    assert(!log.includes("[dht6]"), `no IPv6 node beside a bound IPv4 one: ${log}`);
    assert(/listening for peers on 127\.0\.0\.1, port \d+/.test(log), log);

    const bad = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        MAIN,
        "--bind",
        "192.0.2.1",
        "--no-dht",
        "--peer",
        "127.0.0.1:9",
        "t.torrent",
      ],
      cwd,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(bad.code, 1);
    assertEquals(
      new TextDecoder().decode(bad.stderr).trim(),
      "bittorrent: error: --bind 192.0.2.1: cannot listen there (it is not an address of this " +
        "machine)",
    );
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test({
  name: "--bind ::1: one IPv6 DHT node, on that address",
  ignore,
  async fn() {
    const cwd = await Deno.makeTempDir({ prefix: "bt-bind6-" });
    try {
      await Deno.writeFile(
        `${cwd}/t.torrent`,
        createTorrentFromBuffers("b.bin", patternBytes(20_000, 4), { pieceLength: 16384 }),
      );
      const args = ["--bind", "[::1]", "--dht-bootstrap", "[::1]:9", "--port", "0", "t.torrent"];
      const log = await logOfRun(args, cwd, "listening for peers");
      assert(/\[dht6\] DHT listening on UDP ::1:\d+/.test(log), log);
      assert(!log.includes("[dht] "), `no IPv4 node beside a bound IPv6 one: ${log}`);
      assert(/listening for peers on ::1, port \d+/.test(log), log);
    } finally {
      await Deno.remove(cwd, { recursive: true });
    }
  },
});
