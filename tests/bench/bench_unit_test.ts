/** Unit and random-input tests of the benchmark's parsers and report formatting. */
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { BenchError, parseProcStat, parseTimeOutput, runMeasured, statusBytes } from "./proc.ts";
import { formatSize, median, parseSize, renderTable } from "./report.ts";
import { selfTimes, summarizeCpuProfile } from "./profile.ts";
import { payloadFiles } from "./harness.ts";
import { configsFromArgs } from "./bench.ts";

/** xorshift32: a small seeded generator so failures reproduce. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function mutate(text: string, rand: () => number): string {
  const chars = [...text];
  const edits = 1 + Math.floor(rand() * 6);
  const alphabet = "0123456789 .:()\nkBVmHWM-\t)x";
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * (chars.length + 1));
    const op = rand();
    if (op < 0.4) chars.splice(at, 1);
    else if (op < 0.8) chars.splice(at, 0, alphabet[Math.floor(rand() * alphabet.length)]);
    else chars.splice(at, 0, ...chars.slice(0, Math.floor(rand() * 20)));
  }
  return chars.join("");
}

Deno.test("parseTimeOutput reads the last figures line, kB to bytes", () => {
  assertEquals(parseTimeOutput("1.50 2048 0.70 0.20\n"), {
    wallSeconds: 1.5,
    peakRssBytes: 2048 * 1024,
    userSeconds: 0.7,
    sysSeconds: 0.2,
  });
  const killed = "Command terminated by signal 15\n3.00 100 0.01 0.02\n";
  assertEquals(parseTimeOutput(killed)?.peakRssBytes, 102400);
  assertEquals(parseTimeOutput("Command exited with non-zero status 1\n"), undefined);
  assertEquals(parseTimeOutput(""), undefined);
});

Deno.test("parseProcStat counts fields after the command name", () => {
  const stat = "7 (tricky ) name) R 1 7 7 0 -1 4194560 0 0 0 0 250 150 0 0 20 0 1 0 5 0 0";
  assertEquals(parseProcStat(stat), { cpuSeconds: 4 });
  assertEquals(parseProcStat("garbage"), undefined);
  assertEquals(parseProcStat("1 (x) S 1 2"), undefined);
});

Deno.test("statusBytes reads the resident size now and at its peak", () => {
  const text = "VmPeak:\t 9 kB\nVmHWM:\t     12 kB\nVmRSS:\t 1 kB\n";
  assertEquals([statusBytes(text, "VmHWM"), statusBytes(text, "VmRSS")], [12 * 1024, 1024]);
  assertEquals(statusBytes("VmRSS:\t 1 kB\n", "VmHWM"), undefined);
  assertEquals(statusBytes("VmRSS: x\n", "VmRSS"), undefined);
});

Deno.test("parsers only return a value or undefined on mutated inputs", () => {
  const rand = rng(0xbe7c);
  const seeds = [
    "Command terminated by signal 9\n12.34 567890 1.23 0.45\n",
    "42 (deno) S 1 42 42 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 9 0 100 0 0\n",
    "Name:\tdeno\nVmPeak:\t 100 kB\nVmHWM:\t  2048 kB\nVmRSS:\t 1000 kB\n",
  ];
  for (let i = 0; i < 6000; i++) {
    const text = mutate(seeds[i % 3], rand);
    const t = parseTimeOutput(text);
    if (t) assert(Object.values(t).every((v) => Number.isFinite(v) && v >= 0), text);
    const s = parseProcStat(text);
    if (s) assert(Number.isFinite(s.cpuSeconds) && s.cpuSeconds >= 0, text);
    const h = statusBytes(text, "VmHWM");
    if (h !== undefined) assert(Number.isSafeInteger(h) && h >= 0, text);
  }
});

Deno.test("parseSize and formatSize", () => {
  assertEquals(parseSize("256M"), 256 * 1024 ** 2);
  assertEquals(parseSize("16k"), 16384);
  assertEquals(parseSize("1GiB"), 1024 ** 3);
  assertEquals(parseSize("1.5K"), 1536);
  assertThrows(() => parseSize("big"), BenchError, "invalid size");
  assertThrows(() => parseSize("2T"), BenchError, "too large");
  assertEquals(formatSize(3 * 1024 ** 2 + 512 * 1024), "3.5 MiB");
  const rand = rng(7);
  for (let i = 0; i < 3000; i++) {
    const text = mutate("1.5G", rand);
    try {
      const n = parseSize(text);
      assert(Number.isSafeInteger(n) && n >= 0, text);
    } catch (e) {
      assert(e instanceof BenchError, `${text}: ${e}`);
    }
  }
});

Deno.test("median ignores non-finite values", () => {
  assertEquals(median([5, NaN, 1, 3]), 3);
  assertEquals(median([2, 4]), 3);
  assert(Number.isNaN(median([NaN])));
});

Deno.test("renderTable shows medians, ratios to libtorrent, and skipped or failed rows", () => {
  const fig = (seconds: number) => ({
    seconds,
    syncSeconds: seconds / 4,
    peakRssBytes: 50e6,
    cpuSeconds: 1,
    seederCpuSeconds: 0.5,
  });
  const text = renderTable("case t", 100e6, [
    { client: "ours", runs: [fig(1), fig(3), fig(2)] },
    { client: "libtorrent", runs: [fig(1)] },
    { client: "aria2", runs: [], failed: "timed out" },
    { client: "transmission", runs: [], skipped: "not installed" },
  ]);
  const lines = text.split("\n");
  assertEquals(lines[0], "case t");
  assert(
    /^ {2}ours +2\.00 +1\.00-3\.00 +0\.50 +50\.0 +50 MB +1\.00 +0\.50 +2\.00x$/.test(lines[2]),
    lines[2],
  );
  assert(/^ {2}libtorrent +1\.00 +- +0\.25 +100\.0 .* 1\.00x$/.test(lines[3]), lines[3]);
  assert(lines[4].includes("FAILED: timed out"), lines[4]);
  assert(lines[5].includes("skipped: not installed"), lines[5]);
});

Deno.test("selfTimes merges nodes of one function and skips the first delta", () => {
  const profile = {
    nodes: [
      { id: 1, callFrame: { functionName: "(root)", url: "", lineNumber: -1 } },
      { id: 2, callFrame: { functionName: "hot", url: "file:///r/src/x.ts", lineNumber: 4 } },
      { id: 3, callFrame: { functionName: "hot", url: "file:///r/src/x.ts", lineNumber: 4 } },
      { id: 4, callFrame: { functionName: "", url: "file:///r/y.ts", lineNumber: 0 } },
    ],
    samples: [4, 2, 3, 4],
    timeDeltas: [99_000, 3000, 1000, 2000],
  };
  const t = selfTimes(profile);
  assertEquals(t.map((e) => [e.label, e.selfMs]), [
    ["hot (src/x.ts:5)", 4],
    ["(anonymous) (y.ts:1)", 2],
  ]);
  assert(summarizeCpuProfile(profile, 1).includes("66.7%")); // 4 of 6 busy ms
  assertThrows(() => selfTimes({ nodes: [] }), BenchError);
  assertThrows(() => selfTimes({ nodes: [], samples: [9], timeDeltas: [1] }), BenchError);
});

Deno.test("selfTimes only returns entries or throws BenchError on mutated profiles", () => {
  const rand = rng(99);
  const base = JSON.stringify({
    nodes: [
      { id: 1, callFrame: { functionName: "a", url: "u", lineNumber: 1 } },
      { id: 2, callFrame: { functionName: "b", url: "", lineNumber: 2 } },
    ],
    samples: [1, 2, 2],
    timeDeltas: [5, 6, 7],
  });
  let parsed = 0;
  for (let i = 0; i < 4000; i++) {
    const text = mutate(base, rand);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      continue;
    }
    parsed++;
    try {
      for (const e of selfTimes(value)) assert(e.selfMs >= 0 && e.share >= 0 && e.share <= 1);
    } catch (e) {
      assert(e instanceof BenchError, `${text}: ${e}`);
    }
  }
  assert(parsed > 100, `only ${parsed} mutated profiles were JSON`);
});

Deno.test("payloadFiles splits a size over uneven files", () => {
  assertEquals(payloadFiles(10, 1), {
    root: "payload.bin",
    files: [{ path: "payload.bin", size: 10 }],
  });
  const { root, files } = payloadFiles(1000, 4);
  assertEquals(root, "payload");
  assertEquals(files.reduce((s, f) => s + f.size, 0), 1000);
  assertEquals(new Set(files.map((f) => f.size)).size, 4);
  assert(files.every((f) => f.path.startsWith("payload/")));
});

Deno.test("configsFromArgs: presets, overrides and mistakes", async () => {
  const [one] = await configsFromArgs(["--case", "1g-256k-4seed", "--runs", "2"]) as {
    caseName: string;
    seeders: number;
    runs: number;
    size: number;
  }[];
  assertEquals([one.caseName, one.seeders, one.runs, one.size], ["1g-256k-4seed", 4, 2, 1024 ** 3]);
  const [custom] = await configsFromArgs([
    "--size",
    "64M",
    "--piece",
    "1M",
    "--seeders",
    "2",
    "--clients",
    "ours",
  ]) as { caseName: string; clients: string[] }[];
  assertEquals(custom.caseName, "64mib-1mib-2seed");
  assertEquals(custom.clients, ["ours"]);
  await configsFromArgs(["--case", "nope"]).then(
    () => assert(false, "accepted an unknown case"),
    (e) => assert(e instanceof BenchError),
  );
  await configsFromArgs(["--clients", "ours,qbittorrent"]).then(
    () => assert(false, "accepted an unknown client"),
    (e) => assert(e instanceof BenchError),
  );
  assertEquals(await configsFromArgs(["--help"]), "help");
});

Deno.test("runMeasured reports exit status, peak RSS and CPU of a child", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const m = await runMeasured("sh", {
      cmd: "sh",
      args: ["-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exit 3"],
    }, { timeoutMs: 10_000, scratch: dir });
    assertEquals(m.status.code, 3);
    assert(!m.timedOut);
    assert(m.peakRssBytes > 0, `peak RSS ${m.peakRssBytes}`);
    assert(m.cpuSeconds >= 0, `cpu ${m.cpuSeconds}`);
    const slow = await runMeasured("sleep", { cmd: "sleep", args: ["30"] }, {
      timeoutMs: 300,
      scratch: dir,
    });
    assert(slow.timedOut && !slow.status.success);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
