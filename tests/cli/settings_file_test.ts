/**
 * The daemon's settings.json: its keys are the daemon's flags, the command line wins over it,
 * and a bad file is one line and exit 2 before anything starts.
 */
import {
  type DaemonOptions,
  parseArgs,
  saveSettings,
  sessionSettings,
  settingsArgs,
  UsageError,
  withSettingsFile,
} from "../../src/cli/mod.ts";
import { main } from "../../src/main.ts";
import { assertEquals, assertThrows } from "../assert.ts";

Deno.test("settings file: flags in JSON, the command line wins, bad keys and values refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt-settings-" });
  try {
    await Deno.writeTextFile(
      `${dir}/settings.json`,
      JSON.stringify({
        output: "/srv/t",
        "rpc-port": 9092,
        "rpc-host": ["nas.lan", "box"],
        "max-download-rate": "2M",
        "no-dht": true,
        "no-utp": false,
        "no-pex": true,
        "max-active": 3,
      }),
    );
    const argv = ["--state-dir", dir, "--rpc-port", "9999"];
    const options = await withSettingsFile(parseArgs(["daemon", ...argv]) as DaemonOptions, argv);
    assertEquals(
      [options.output, options.rpcPort, options.rpcHosts, options.maxDownloadRate],
      ["/srv/t", 9999, ["nas.lan", "box"], 2 * 1024 * 1024],
    );
    assertEquals([options.dht, options.utp, options.pex, options.maxActive], [
      false,
      true,
      false,
      3,
    ]);

    for (
      const [bad, message] of [
        [{ "state-dir": "/x" }, "not an option"],
        [{ seed: true }, "not an option"],
        [{ "no-dht": "yes" }, "true or false"],
        [{ output: { a: 1 } }, "a string or a number"],
        [[1, 2], "not a JSON object"],
      ] as const
    ) {
      assertThrows(() => settingsArgs(bad, "s.json"), UsageError, message);
    }

    await Deno.writeTextFile(`${dir}/settings.json`, '{"max-active": 0}');
    const said: string[] = [];
    const io = {
      out: () => {},
      err: (text: string) => void said.push(text),
      isTTY: false,
      columns: () => 80,
    };
    assertEquals(await main(["daemon", "--state-dir", dir], io), 2);
    assertEquals(said.length, 1, said.join(""));
    await Deno.writeTextFile(`${dir}/settings.json`, "{ not json");
    said.length = 0;
    assertEquals(await main(["daemon", "--state-dir", dir], io), 2);
    assertEquals(said.length, 1, said.join(""));
    assertEquals(said[0].includes("settings.json: not JSON"), true, said[0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("settings file: the session's seeding limits, added-paused choice and alternative speeds read back", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt-settings-" });
  try {
    const session = {
      downloadDir: "/srv",
      dht: true,
      utp: true,
      pex: true,
      maxActive: 5,
      maxDownloadRate: 0,
      maxUploadRate: 0,
      maxConnections: 600,
      maxPeers: 50,
      encryption: "prefer" as const,
      altDownloadRate: 51_200,
      altUploadRate: 51_200,
      altSpeed: false,
    };
    await saveSettings(
      dir,
      sessionSettings({
        ...session,
        seedRatio: 2 / 3,
        seedIdleMinutes: 90,
        startAdded: false,
        altUploadRate: 10_000,
        altSpeed: true,
        altSchedule: { begin: 1320, end: 420, days: 65 },
        incompleteDir: "/srv/incomplete",
        peerPort: 51413,
        dht: false,
        utp: false,
        pex: false,
      }),
    );
    const argv = ["--state-dir", dir];
    const read = () => withSettingsFile(parseArgs(["daemon", ...argv]) as DaemonOptions, argv);
    let options = await read();
    assertEquals(
      [options.seedRatio, options.seedIdleMs, options.addPaused],
      [0.666667, 5_400_000, true],
    );
    assertEquals(
      [options.altDownloadRate, options.altUploadRate, options.altSpeed, options.altSchedule],
      [51_200, 10_000, true, { begin: 1320, end: 420, days: 65 }],
    );
    assertEquals(
      [options.incompleteDir, options.port, options.dht, options.utp, options.pex],
      ["/srv/incomplete", 51413, false, false, false],
    );
    // Switched off: the keys go, and the defaults (no limit, added torrents start) are back.
    await saveSettings(dir, sessionSettings({ ...session, startAdded: true }));
    options = await read();
    assertEquals([options.seedRatio, options.seedIdleMs, options.addPaused], [
      undefined,
      undefined,
      false,
    ]);
    assertEquals([options.altSpeed, options.altSchedule], [false, undefined]);
    assertEquals([options.incompleteDir, options.dht, options.utp], [undefined, true, true]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("settings file: what session-set changed is merged in, an unset limit taken out", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt-settings-" });
  try {
    await Deno.writeTextFile(
      `${dir}/settings.json`,
      '{"rpc-host": ["nas.lan"], "max-upload-rate": "1M"}',
    );
    await saveSettings(dir, { "max-active": 2, "max-upload-rate": undefined, output: "/srv" });
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/settings.json`));
    assertEquals(saved, { "rpc-host": ["nas.lan"], "max-active": 2, output: "/srv" });
    const argv = ["--state-dir", dir];
    const options = await withSettingsFile(parseArgs(["daemon", ...argv]) as DaemonOptions, argv);
    assertEquals([options.maxActive, options.output, options.maxUploadRate], [2, "/srv", 0]);
    assertEquals([...Deno.readDirSync(dir)].length, 1, "no temporary file left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
