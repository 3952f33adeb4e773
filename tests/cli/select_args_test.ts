/**
 * The flags of file selection and seeding limits: --files, --select, --exclude, --sequential,
 * --seed-ratio, --seed-time, --no-seed; and the parsers behind them.
 */
import {
  type CliOptions,
  describeSeedLimitMet,
  parseArgs,
  parseDuration,
  parseIndexList,
  resolveSelection,
  UsageError,
} from "../../src/cli/mod.ts";
import {
  type SeedingNow,
  seedLimitReached,
  type SeedLimits,
  SeedWatch,
} from "../../src/client/mod.ts";
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { mulberry32 as prng } from "../random.ts";

const LINUX = { os: "linux", env: { HOME: "/home/ann" } };

function run(...argv: string[]): CliOptions {
  const parsed = parseArgs(["-i", "x.torrent", ...argv], LINUX);
  assert("input" in parsed, `expected options, got ${JSON.stringify(parsed)}`);
  return parsed;
}

function usage(argv: string[], includes: string): void {
  assertThrows(() => parseArgs(["-i", "x.torrent", ...argv], LINUX), UsageError, includes);
}

Deno.test("flags: none of the new options appear unless given; seeding is off by default", () => {
  const o = run();
  assertEquals(o.seed, false);
  for (const key of ["listFiles", "fileSelection", "sequential", "seedRatio", "seedTimeMs"]) {
    assert(!(key in o), `${key} absent`);
  }
  assertEquals(run("--no-seed").seed, false);
});

Deno.test("flags: --files, --sequential, --select and --exclude", () => {
  assertEquals(run("--files").listFiles, true);
  assertEquals(run("--sequential").sequential, true);
  assertEquals(run("--select", "1,3-5").fileSelection, {
    mode: "select",
    ranges: [[1, 1], [3, 5]],
  });
  assertEquals(run("--exclude=2").fileSelection, { mode: "exclude", ranges: [[2, 2]] });
  usage(["--select", "1", "--exclude", "2"], "cannot be used together");
  usage(["--select"], "--select needs a value");
  usage(["--select", "0"], "start at 1");
  usage(["--select", "5-3"], "runs backwards");
  usage(["--select", "1,,2"], "is not a file index or range");
  usage(["--exclude", "a"], "--exclude");
  usage(["--files=yes"], "does not take a value");
});

Deno.test("flags: seeding limits imply seeding; --no-seed contradicts them", () => {
  assertEquals(run("--seed").seed, true);
  const ratio = run("--seed-ratio", "1.5");
  assertEquals([ratio.seed, ratio.seedRatio], [true, 1.5]);
  const time = run("--seed-time", "30m");
  assertEquals([time.seed, time.seedTimeMs], [true, 30 * 60_000]);
  const both = run("--seed-ratio=0", "--seed-time=90s", "--seed");
  assertEquals([both.seed, both.seedRatio, both.seedTimeMs], [true, 0, 90_000]);
  usage(["--seed-ratio", "-1"], "--seed-ratio");
  usage(["--seed-ratio", "x"], "must be a number from 0 to 10000");
  usage(["--seed-ratio", "10001"], "must be a number");
  usage(["--seed-time", "soon"], "--seed-time: invalid duration");
  usage(["--no-seed", "--seed"], "contradict");
  usage(["--no-seed", "--seed-ratio", "2"], "--seed-ratio");
  usage(["--seed-time", "2h", "--no-seed"], "--seed-time");
});

Deno.test("flags: verify does not take download-only options", () => {
  for (const flag of ["--select=1", "--sequential", "--seed-ratio=1", "--files"]) {
    assertThrows(() => parseArgs(["verify", "x.torrent", flag], LINUX), UsageError, "verify");
  }
});

Deno.test("parseIndexList and resolveSelection", () => {
  assertEquals(parseIndexList(" 7 , 1 - 2 ", "--select"), [[7, 7], [1, 2]]);
  assertThrows(() => parseIndexList("1-", "--select"), UsageError);
  assertThrows(() => parseIndexList("1".repeat(10), "--select"), UsageError);
  assertThrows(() => parseIndexList("1,".repeat(3000), "--select"), UsageError, "too long");
  assertEquals(resolveSelection({ mode: "select", ranges: [[2, 3], [3, 3]] }, 4), [
    false,
    true,
    true,
    false,
  ]);
  assertEquals(resolveSelection({ mode: "exclude", ranges: [[1, 1]] }, 2), [false, true]);
  assertThrows(
    () => resolveSelection({ mode: "select", ranges: [[2, 9]] }, 5),
    UsageError,
    "--select: there is no file 9; the torrent has 5 files (see --files)",
  );
  assertThrows(
    () => resolveSelection({ mode: "select", ranges: [[2, 2]] }, 1),
    UsageError,
    "there is no file 2; the torrent has 1 file ",
  );
  assertThrows(
    () => resolveSelection({ mode: "exclude", ranges: [[1, 3]] }, 3),
    UsageError,
    "--exclude leaves no file to download",
  );
});

Deno.test("parseDuration: units, combinations, bare minutes and limits", () => {
  assertEquals(parseDuration("90s"), 90_000);
  assertEquals(parseDuration("30m"), 1_800_000);
  assertEquals(parseDuration("2h"), 7_200_000);
  assertEquals(parseDuration("1d"), 86_400_000);
  assertEquals(parseDuration("1H30M"), 5_400_000);
  assertEquals(parseDuration("1.5h"), 5_400_000);
  assertEquals(parseDuration("0.5"), 30_000);
  assertEquals(parseDuration(" 10 "), 600_000);
  for (const bad of ["", "h", "1x", "1h 30m", "-1m", "1e3s", "m30"]) {
    assertThrows(() => parseDuration(bad), UsageError, "invalid duration");
  }
  assertThrows(() => parseDuration("366d"), UsageError, "too long");
});

Deno.test("seed limits: ratio, time, idle, either one, and empty downloads, in words", () => {
  const half = { uploaded: 50, totalBytes: 100, seedingMs: 0, idleMs: 0 };
  const words = (now: SeedingNow, limits: SeedLimits) => {
    const met = seedLimitReached(now, limits);
    return met && describeSeedLimitMet(met);
  };
  assertEquals(words(half, {}), undefined);
  assertEquals(words(half, { ratio: 0.5 }), "ratio 0.50 reached");
  assertEquals(words(half, { ratio: 0.6 }), undefined);
  assertEquals(words({ ...half, seedingMs: 59_999 }, { timeMs: 60_000 }), undefined);
  assertEquals(words({ ...half, seedingMs: 60_000 }, { timeMs: 60_000 }), "seeded for 1m00s");
  assertEquals(
    words({ ...half, seedingMs: 60_000 }, { ratio: 9, timeMs: 60_000 }),
    "seeded for 1m00s",
  );
  assertEquals(
    words({ ...half, idleMs: 120_000 }, { idleMs: 60_000 }),
    "nothing uploaded for 2m00s",
  );
  assertEquals(words({ ...half, uploaded: 0, totalBytes: 0 }, { ratio: 1 }), "ratio - reached");
  // The idle clock restarts whenever the upload count moves.
  const watch = new SeedWatch(0), idle = { idleMs: 1000 };
  assertEquals(watch.check({ uploaded: 0, totalBytes: 1 }, idle, 900), undefined);
  assertEquals(watch.check({ uploaded: 5, totalBytes: 1 }, idle, 1500), undefined);
  assertEquals(watch.check({ uploaded: 5, totalBytes: 1 }, idle, 2400), undefined);
  assertEquals(watch.check({ uploaded: 5, totalBytes: 1 }, idle, 2500)?.limit, "idle");
});

Deno.test("fuzz: the selection and seeding parsers only return or throw UsageError", () => {
  const random = prng(0x5e1ec7);
  const alphabet = "0123456789,-. smhdSMHDx\x00\u{1F600}";
  const flags = ["--select", "--exclude", "--seed-ratio", "--seed-time"];
  for (let round = 0; round < 5000; round++) {
    let text = "";
    const len = Math.floor(random() * 12);
    for (let k = 0; k < len; k++) text += alphabet[Math.floor(random() * alphabet.length)];
    const flag = flags[Math.floor(random() * flags.length)];
    try {
      const o = run(`${flag}=${text}`);
      if (o.fileSelection) {
        for (const [a, b] of o.fileSelection.ranges) assert(a >= 1 && b >= a, `range ${a}-${b}`);
        const count = 1 + Math.floor(random() * 20);
        try {
          const chosen = resolveSelection(o.fileSelection, count);
          assertEquals(chosen.length, count);
          assert(chosen.includes(true), "something chosen");
        } catch (e) {
          assert(e instanceof UsageError, `unexpected ${e}`);
        }
      }
      if (o.seedRatio !== undefined) assert(o.seedRatio >= 0 && o.seedRatio <= 10_000);
      if (o.seedTimeMs !== undefined) {
        assert(Number.isSafeInteger(o.seedTimeMs) && o.seedTimeMs >= 0, `${o.seedTimeMs}`);
      }
    } catch (e) {
      assert(e instanceof UsageError, `unexpected ${e} for ${flag}=${JSON.stringify(text)}`);
      assert(!e.message.includes("\n"), "one-line message");
    }
  }
});
