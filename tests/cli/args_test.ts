import {
  type CliOptions,
  DEFAULT_MAX_PEERS,
  DEFAULT_PORT,
  defaultLogDir,
  HELP_TEXT,
  parseArgs,
  type ParsedArgs,
  parseRate,
  UsageError,
} from "../../src/cli/mod.ts";
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { mulberry32 as prng } from "../random.ts";

const LINUX = { os: "linux", env: { HOME: "/home/ann" } };

function options(parsed: ParsedArgs): CliOptions {
  assert("input" in parsed, `expected options, got ${JSON.stringify(parsed)}`);
  return parsed;
}

function run(...argv: string[]): CliOptions {
  return options(parseArgs(argv, LINUX));
}

function usage(argv: string[], includes: string): void {
  assertThrows(() => parseArgs(argv, LINUX), UsageError, includes);
}

Deno.test("parseArgs: defaults with only an input", () => {
  assertEquals(run("-i", "a.torrent"), {
    input: "a.torrent",
    output: ".",
    maxDownloadRate: 0,
    maxUploadRate: 0,
    maxPeers: DEFAULT_MAX_PEERS,
    logDir: "/home/ann/.local/state/bittorrent/logs",
    port: DEFAULT_PORT,
    encryption: "prefer",
    seed: false,
    dht: true,
    utp: true,
    pex: true,
    webSeeds: true,
    dhtBootstrap: undefined,
    saveTorrent: undefined,
    quiet: false,
    verbose: false,
  });
  assertEquals(DEFAULT_MAX_PEERS, 20);
  assertEquals(DEFAULT_PORT, 6881);
});

Deno.test("parseArgs: every flag, long and short spellings", () => {
  const long = run(
    "--input",
    "x.torrent",
    "--output",
    "/tmp/out",
    "--max-download-rate",
    "2M",
    "--max-upload-rate",
    "500K",
    "--max-peers",
    "50",
    "--log-dir",
    "/tmp/logs",
    "--port",
    "0",
    "--encryption",
    "require",
    "--seed",
    "--no-dht",
    "--no-utp",
    "--no-pex",
    "--no-web-seeds",
    "--dht-bootstrap",
    "127.0.0.1:6881,[::1]:7000",
    "--save-torrent",
    "/tmp/x.torrent",
    "--quiet",
    "--verbose",
  );
  assertEquals(long, {
    input: "x.torrent",
    output: "/tmp/out",
    maxDownloadRate: 2 * 1024 * 1024,
    maxUploadRate: 500 * 1024,
    maxPeers: 50,
    logDir: "/tmp/logs",
    port: 0,
    encryption: "require",
    seed: true,
    dht: false,
    utp: false,
    pex: false,
    webSeeds: false,
    dhtBootstrap: ["127.0.0.1:6881", "[::1]:7000"],
    saveTorrent: "/tmp/x.torrent",
    quiet: true,
    verbose: true,
  });
  const short = run("-i", "x.torrent", "-o", "/tmp/out", "-q", "-v");
  assertEquals([short.input, short.output, short.quiet, short.verbose], [
    "x.torrent",
    "/tmp/out",
    true,
    true,
  ]);
});

Deno.test("parseArgs: --name=value, attached short values and combined switches", () => {
  const a = run("--output=/data", "--max-peers=7", "--port=51413", "-ix.torrent");
  assertEquals([a.output, a.maxPeers, a.port, a.input], ["/data", 7, 51413, "x.torrent"]);
  const b = run("-qv", "-o/srv", "f.torrent");
  assertEquals([b.quiet, b.verbose, b.output, b.input], [true, true, "/srv", "f.torrent"]);
  const c = run("-qo", "out", "f.torrent");
  assertEquals([c.quiet, c.output], [true, "out"]);
  assertEquals(run("-o=dir", "f").output, "dir");
});

Deno.test("parseArgs: positional input, anywhere; -- ends options", () => {
  assertEquals(run("file.torrent").input, "file.torrent");
  assertEquals(run("--seed", "file.torrent", "-q").input, "file.torrent");
  assertEquals(run("--", "-weird-name.torrent").input, "-weird-name.torrent");
  const dash = run("-o", "out", "--", "--seed");
  assertEquals([dash.input, dash.seed], ["--seed", false]);
});

Deno.test("parseArgs: magnet links pass through unchanged", () => {
  const magnet =
    "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=Some%20Name&tr=udp%3A%2F%2Fx%3A1";
  assertEquals(run(magnet).input, magnet);
  assertEquals(run("-i", magnet).input, magnet);
  assertEquals(run(`--input=${magnet}`).input, magnet);
});

Deno.test("parseArgs: help and version win over everything else", () => {
  assertEquals(parseArgs(["-h"], LINUX), { help: true });
  assertEquals(parseArgs(["--help", "--max-peers", "0"], LINUX), { help: true });
  assertEquals(parseArgs(["x", "y", "--help"], LINUX), { help: true });
  assertEquals(parseArgs(["--version"], LINUX), { version: true });
  assertEquals(parseArgs(["-qh"], LINUX), { help: true });
});

Deno.test("parseArgs: missing or doubled input", () => {
  usage([], "missing -i <torrent-file|magnet>");
  usage(["--seed"], "missing -i");
  usage(["-i", ""], "missing -i");
  usage(["--input="], "missing -i");
  usage(["-i", "a", "b"], "input given twice");
  usage(["a.torrent", "b"], 'unexpected argument "b"');
  usage(["dowload", "x.torrent"], 'unknown command "dowload"');
});

Deno.test("parseArgs: unknown options", () => {
  usage(["--foo", "x"], "unknown option --foo (see --help)");
  usage(["-x", "a"], "unknown option -x (see --help)");
  usage(["-qz", "a"], "unknown option -z");
  usage(["--Seed", "a"], "unknown option --Seed");
  usage(["--foo=bar", "a"], "unknown option --foo ");
});

Deno.test("parseArgs: flags missing their value", () => {
  usage(["-i"], "-i needs a value");
  usage(["a", "--output"], "--output needs a value <path>");
  usage(["a", "-o", "--seed"], "-o needs a value");
  usage(["a", "--max-peers", "--seed"], "--max-peers needs a value");
  usage(["a", "--seed=yes"], "--seed does not take a value");
  usage(["a", "--output="], "--output must not be empty");
  usage(["a", "--log-dir="], "--log-dir must not be empty");
});

Deno.test("parseArgs: bad numbers", () => {
  const peers = "--max-peers must be a whole number from 1 to 1000";
  for (const bad of ["0", "1001", "-1", "1.5", "abc", "", " ", "1e3", "0x10", "99999999999"]) {
    usage(["a", `--max-peers=${bad}`], peers);
  }
  assertEquals(run("a", "--max-peers", "1").maxPeers, 1);
  assertEquals(run("a", "--max-peers", "1000").maxPeers, 1000);
  const port = "--port must be a whole number from 0 to 65535";
  for (const bad of ["65536", "-1", "80.0", "http", ""]) usage(["a", `--port=${bad}`], port);
  usage(["a", "--port", "-5"], port);
  assertEquals(run("a", "--port", "65535").port, 65535);
});

Deno.test("parseArgs: bad rates name the flag", () => {
  usage(["a", "--max-download-rate", "fast"], "--max-download-rate: invalid rate");
  usage(["a", "--max-upload-rate=2X"], "--max-upload-rate: invalid rate");
  usage(["a", "--max-upload-rate", "-1"], "--max-upload-rate: invalid rate");
});

Deno.test("parseArgs: later flags override earlier ones", () => {
  assertEquals(run("a", "-o", "one", "-o", "two").output, "two");
});

Deno.test("parseArgs: log dir default depends on the platform: the state folder, or macOS's Logs", () => {
  const mac = options(parseArgs(["a"], { os: "darwin", env: { HOME: "/Users/ann" } }));
  assertEquals(mac.logDir, "/Users/ann/Library/Logs/bittorrent");
  const linux = (env: Record<string, string>) =>
    options(parseArgs(["a"], { os: "linux", env })).logDir;
  assertEquals(linux({ HOME: "/home/x" }), "/home/x/.local/state/bittorrent/logs");
  assertEquals(linux({ HOME: "/home/x", XDG_STATE_HOME: "/s" }), "/s/bittorrent/logs");
  assertEquals(linux({}), "./.bittorrent/logs");
  assertEquals(
    defaultLogDir("darwin", { HOME: "/Users/bob/" }),
    "/Users/bob/Library/Logs/bittorrent",
  );
  assertEquals(
    defaultLogDir("windows", { LOCALAPPDATA: "C:\\Users\\x\\AppData\\Local" }),
    "C:\\Users\\x\\AppData\\Local\\bittorrent\\logs",
  );
  assertEquals(typeof defaultLogDir(), "string");
});

Deno.test("parseRate: table", () => {
  const table: [string, number][] = [
    ["0", 0],
    ["0K", 0],
    ["100", 100],
    ["100B", 100],
    ["100b/s", 100],
    ["100/s", 100],
    ["1K", 1024],
    ["500K", 500 * 1024],
    ["500k", 500 * 1024],
    ["500KB", 500 * 1024],
    ["500kb/s", 500 * 1024],
    ["500KiB/s", 500 * 1024],
    ["2M", 2 * 1024 ** 2],
    ["1.5M", 1.5 * 1024 ** 2],
    ["1.5 MB/s", 1.5 * 1024 ** 2],
    [".5M", 512 * 1024],
    ["1G", 1024 ** 3],
    ["2g", 2 * 1024 ** 3],
    [" 3M ", 3 * 1024 ** 2],
    ["0.1", 1], // a tiny limit must not become "unlimited"
    ["1024G", 1024 ** 4],
  ];
  for (const [text, expected] of table) assertEquals(parseRate(text), expected, text);
});

Deno.test("parseRate: rejects garbage", () => {
  const bad = [
    "",
    " ",
    "M",
    "K",
    "-1",
    "+1",
    "1..5M",
    "1.5.2M",
    "1T",
    "2X",
    "2MM",
    "2M/",
    "2M/h",
    "1e6",
    "0x10",
    "Infinity",
    "NaN",
    "1,5M",
    "2 M B",
    "1.",
    "1025G",
    "9".repeat(400),
    "1M\x1b[2J",
  ];
  for (const text of bad) assertThrows(() => parseRate(text), UsageError, "rate");
  const err = assertThrows(() => parseRate("\x1b[31mred"), UsageError);
  assert(!err.message.includes("\x1b"), "messages carry no terminal escapes");
});

Deno.test("HELP_TEXT: lists every flag, defaults and examples, fits 80 columns", () => {
  for (
    const flag of [
      "-i, --input",
      "-o, --output",
      "--max-download-rate",
      "--max-upload-rate",
      "--max-peers",
      "--log-dir",
      "--port",
      "--bind",
      "--encryption",
      "--seed",
      "-q, --quiet",
      "-v, --verbose",
      "-h, --help",
      "--version",
    ]
  ) {
    assert(HELP_TEXT.includes(flag), `help mentions ${flag}`);
  }
  for (const text of ["(default: 20)", "(default: 6881)", "(default: .)", "./logs", "Examples:"]) {
    assert(HELP_TEXT.includes(text), `help mentions ${text}`);
  }
  for (const line of HELP_TEXT.split("\n")) assert(line.length <= 80, `too wide: ${line}`);
});

Deno.test("fuzz: parseArgs and parseRate only return or throw UsageError", () => {
  const random = prng(0xb17);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const tokens = [
    "-i",
    "-o",
    "-q",
    "-v",
    "-h",
    "-qv",
    "-qo",
    "--input",
    "--output",
    "--max-download-rate",
    "--max-upload-rate",
    "--max-peers",
    "--log-dir",
    "--port",
    "--seed",
    "--quiet",
    "--verbose",
    "--version",
    "--",
    "-",
    "--port=",
    "--max-peers=5",
    "file.torrent",
    "magnet:?xt=urn:btih:abc",
    "2M",
    "1.5k",
    "0",
    "-1",
    "",
    "=",
    "--=",
    "\x00",
    "\u{1F600}",
  ];
  const alphabet = "0123456789.kKmMgGbB/s -=xi\x1b";
  for (let round = 0; round < 5000; round++) {
    const argv: string[] = [];
    const n = Math.floor(random() * 7);
    for (let k = 0; k < n; k++) {
      let token = pick(tokens);
      if (random() < 0.3) {
        const at = Math.floor(random() * (token.length + 1));
        token = token.slice(0, at) + pick([...alphabet]) + token.slice(at + 1);
      }
      argv.push(token);
    }
    try {
      const parsed = parseArgs(argv, LINUX);
      if ("input" in parsed) {
        assert(parsed.input.trim() !== "", "input is never empty");
        assert(parsed.maxPeers >= 1 && parsed.maxPeers <= 1000, "maxPeers in range");
        assert(parsed.port >= 0 && parsed.port <= 65535, "port in range");
        assert(Number.isSafeInteger(parsed.maxDownloadRate) && parsed.maxDownloadRate >= 0);
      }
    } catch (err) {
      assert(err instanceof UsageError, `unexpected ${err} for ${JSON.stringify(argv)}`);
      assert(!err.message.includes("\n"), "one-line message");
    }
    let rate = "";
    const len = Math.floor(random() * 8);
    for (let k = 0; k < len; k++) rate += pick([...alphabet]);
    try {
      const value = parseRate(rate);
      assert(Number.isSafeInteger(value) && value >= 0, `bad value for ${rate}`);
    } catch (err) {
      assert(err instanceof UsageError, `unexpected ${err} for ${JSON.stringify(rate)}`);
    }
  }
});

Deno.test("parseArgs: --dht-bootstrap wants host:port entries", () => {
  usage(["-i", "a.torrent", "--dht-bootstrap", "nohost"], "is not host:port");
  usage(["-i", "a.torrent", "--dht-bootstrap", "h:0"], "is not host:port");
  usage(["-i", "a.torrent", "--dht-bootstrap", ","], "needs at least one");
});

Deno.test("parseArgs: --encryption takes prefer, require or off, in any case", () => {
  assertEquals(run("--encryption", "OFF", "f").encryption, "off");
  assertEquals(run("--encryption=prefer", "f").encryption, "prefer");
  usage(["--encryption", "always", "f"], "--encryption must be prefer, require or off");
  usage(["--encryption"], "--encryption needs a value <MODE>");
});

Deno.test("parseArgs: --bind takes one IP address, written canonically", () => {
  assertEquals(run("--bind", "127.0.0.1", "f").bind, "127.0.0.1");
  assertEquals(run("--bind", "[::1]", "f").bind, "::1");
  assertEquals(run("--bind=0:0:0:0:0:0:0:1", "f").bind, "::1");
  assertEquals(run("f").bind, undefined);
  usage(["--bind", "localhost", "f"], '--bind: "localhost" is not an IP address');
  usage(["--bind", "1.2.3.4.5", "f"], "is not an IP address");
});

Deno.test("parseArgs: command words read as commands, not inputs", () => {
  assertEquals(parseArgs(["help"], LINUX), { help: true });
  assertEquals(parseArgs(["help", "create"], LINUX), { help: true, topic: "create" });
  assertEquals(parseArgs(["create", "--help"], LINUX), { help: true, topic: "create" });
  usage(["help", "frobnicate"], 'no help on "frobnicate"');
  const info = options(parseArgs(["info", "x.torrent", "--json"], LINUX));
  assertEquals([info.command, info.input, info.json], ["info", "x.torrent", true]);
  usage(["info", "x.torrent", "--seed"], "--seed does not apply to info");
  usage(["info"], "missing the .torrent file or magnet link to show (see bittorrent help info)");
  assertEquals(parseArgs(["completions", "zsh"], LINUX), { command: "completions", shell: "zsh" });
  usage(["completions", "tcsh"], "completions needs one shell: bash, zsh, fish");
  // A file named like a command is an input when given as a path.
  assertEquals(options(parseArgs(["./info"], LINUX)).input, "./info");
});

Deno.test("parseArgs: --peer takes HOST:PORT, IPv6 in brackets, repeatable", () => {
  assertEquals(
    run("--peer", "10.0.0.1:6881", "--peer", "[::1]:7000", "--peer", "h.example:1", "f")
      .peers,
    [{ host: "10.0.0.1", port: 6881 }, { host: "::1", port: 7000 }, {
      host: "h.example",
      port: 1,
    }],
  );
  for (const bad of ["10.0.0.1", "::1:7000", "[nope]:1", "h:0", "h:70000", ":5"]) {
    usage(["--peer", bad, "f"], "is not HOST:PORT");
  }
});

Deno.test("parseArgs: daemon takes the network and RPC flags, with Transmission's defaults", () => {
  const d = parseArgs(["daemon"], LINUX);
  assertEquals(d, {
    command: "daemon",
    output: ".",
    port: DEFAULT_PORT,
    encryption: "prefer",
    dht: true,
    utp: true,
    pex: true,
    dhtBootstrap: undefined,
    maxDownloadRate: 0,
    maxUploadRate: 0,
    maxPeers: DEFAULT_MAX_PEERS,
    rpcPort: 9091,
    rpcBind: "127.0.0.1",
    rpcHosts: [],
    stateDir: "/home/ann/.local/state/bittorrent/daemon",
    maxActive: 5,
    maxConnections: 600,
    addPaused: false,
    altDownloadRate: 51_200,
    altUploadRate: 51_200,
    altSpeed: false,
    logDir: "/home/ann/.local/state/bittorrent/logs",
    verbose: false,
  });
  const seeding = parseArgs(
    ["daemon", "--seed-ratio", "1.5", "--seed-idle", "1h30m", "--paused"],
    LINUX,
  );
  assert("addPaused" in seeding);
  assertEquals([seeding.seedRatio, seeding.seedIdleMs, seeding.addPaused], [1.5, 5_400_000, true]);
  assertThrows(() => parseArgs(["daemon", "--seed-ratio", "-1"], LINUX), UsageError, "0 to 10000");
  const turtle = parseArgs([
    "daemon",
    "--alt-download-rate",
    "100K",
    "--alt-upload-rate",
    "0",
    "--alt-speed",
    "--alt-speed-schedule",
    "23:00-7:30@mon,fri",
  ], LINUX);
  assert("altSpeed" in turtle);
  assertEquals(
    [turtle.altDownloadRate, turtle.altUploadRate, turtle.altSpeed, turtle.altSchedule],
    [102_400, 0, true, { begin: 1380, end: 450, days: 2 | 32 }],
  );
  for (const bad of ["9-17", "24:00-08:00", "08:60-09:00", "08:00-09:00@someday", "08:00-09:00@"]) {
    assertThrows(
      () => parseArgs(["daemon", "--alt-speed-schedule", bad], LINUX),
      UsageError,
      "--alt-speed-schedule",
    );
  }
  assertThrows(
    () => parseArgs(["daemon", "--seed-idle", "soon"], LINUX),
    UsageError,
    "--seed-idle",
  );
  const full = parseArgs([
    "daemon",
    "-o",
    "/srv/dl",
    "--rpc-port",
    "9999",
    "--rpc-bind",
    "::1",
    "--rpc-auth",
    "ann:pw:with:colons",
    "--rpc-host",
    "NAS.local",
    "--max-upload-rate",
    "1M",
    "--watch-dir",
    "/srv/drop",
    "--done-script",
    "/srv/done.sh",
  ], LINUX);
  assert("rpcPort" in full);
  assertEquals(
    [full.output, full.rpcPort, full.rpcBind, full.rpcAuth, full.rpcHosts, full.maxUploadRate],
    ["/srv/dl", 9999, "::1", "ann:pw:with:colons", ["nas.local"], 1 << 20],
  );
  assertEquals(
    [full.watchDir, full.doneScript, parseArgs(["daemon", "--watch-dir", ""], LINUX)],
    ["/srv/drop", "/srv/done.sh", d],
    "an empty --watch-dir (a settings file's way to say none) watches nothing",
  );
  assertThrows(() => parseArgs(["daemon", "x.torrent"], LINUX), UsageError, "add torrents with");
  assertThrows(() => parseArgs(["daemon", "--rpc-auth", "nopass"], LINUX), UsageError, "USER:PASS");
  assertThrows(
    () => parseArgs(["daemon", "--seed"], LINUX),
    UsageError,
    "does not apply to daemon",
  );
  assertThrows(() => parseArgs(["daemon", "--peer", "1.2.3.4:5"], LINUX), UsageError);
});

Deno.test("parseArgs: the remote commands, their targets and flags", () => {
  const add = parseArgs(
    ["add", "a.torrent", "magnet:?xt=urn:btih:x", "--paused", "-o", "/d"],
    LINUX,
  );
  assertEquals(add, {
    command: "add",
    rpc: "http://127.0.0.1:9091",
    targets: ["a.torrent", "magnet:?xt=urn:btih:x"],
    output: "/d",
    paused: true,
    delete: false,
    json: false,
  });
  const rm = parseArgs(["rm", "3", "a".repeat(40), "--delete", "--rpc", "http://nas:9091"], LINUX);
  assert("targets" in rm && rm.command === "rm");
  assertEquals([rm.targets, rm.delete, rm.rpc], [["3", "a".repeat(40)], true, "http://nas:9091"]);
  const ls = parseArgs(["ls", "--json", "--rpc-auth", "ann:pw"], LINUX);
  assert("targets" in ls);
  assertEquals([ls.json, ls.rpcAuth], [true, "ann:pw"]);
  usage(["add"], "add needs a .torrent file or magnet link");
  usage(["pause"], "pause needs torrent ids");
  usage(["resume", "one"], "is not a torrent id");
  usage(["ls", "x"], "ls takes none");
  usage(["stats", "--delete"], "does not apply to stats");
  usage(["ls", "--rpc-auth", "nopass"], "USER:PASS");
});
