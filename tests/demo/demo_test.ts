/**
 * The offline demo end to end (a small payload through the real download path), its
 * interruption, and its helpers: argument parsing (with a seeded fuzz test), the payload plan,
 * and the byte-for-byte comparison.
 */
import type { CommandIO } from "../../src/cli/io.ts";
import {
  comparePayload,
  DEFAULT_DEMO_SEEDERS,
  DEFAULT_DEMO_SIZE,
  DemoError,
  MAX_DEMO_SIZE,
  MIN_DEMO_SIZE,
  parseDemoArgs,
  parseSize,
  planPayload,
  runDemo,
  writePayload,
} from "../../src/demo/mod.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../assert.ts";
import { mulberry32 as rng } from "../random.ts";

const MiB = 1024 * 1024;

function captureIO(): CommandIO & { text: () => string } {
  const chunks: string[] = [];
  return {
    out: (t) => chunks.push(t),
    err: (t) => chunks.push(t),
    isTTY: false,
    columns: () => 80,
    text: () => chunks.join(""),
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

async function demoDirs(root: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(root)) {
    if (e.name.startsWith("bittorrent-demo-")) names.push(e.name);
  }
  return names;
}

Deno.test("the demo downloads 4 MiB from 3 seeders of our own and cleans up", async () => {
  const tempRoot = await Deno.makeTempDir();
  try {
    const io = captureIO();
    const result = await runDemo({ size: 4 * MiB, seeders: 3, quiet: true, io, tempRoot });
    assert(result.ok, `demo failed: ${io.text()}`);
    assertEquals(result.exitCode, 0);
    assertEquals(result.interrupted, false);
    assertEquals(result.mismatches, []);
    assertEquals(result.totalBytes, 4 * MiB);
    assertEquals(result.files, 6);
    assertEquals(result.seeders, 3);
    assert(result.elapsedMs > 0 && result.bytesPerSecond > 0, "timing is reported");
    assert(io.text().includes("Demo passed: 4.0 MiB in 6 files"), io.text());
    assert(!io.text().includes("[downloading]"), "quiet: no status line");
    assertEquals(result.keptDir, undefined);
    assertEquals(await demoDirs(tempRoot), [], "the temporary folder is removed");
  } finally {
    await Deno.remove(tempRoot, { recursive: true });
  }
});

Deno.test("with keep, the demo leaves payload, torrent, download and logs behind", async () => {
  const tempRoot = await Deno.makeTempDir();
  try {
    const io = captureIO();
    const result = await runDemo({ size: MIN_DEMO_SIZE, seeders: 1, keep: true, io, tempRoot });
    assert(result.ok, io.text());
    const kept = result.keptDir;
    assert(kept !== undefined && kept.startsWith(tempRoot), `kept ${kept}`);
    assert(await exists(`${kept}/bittorrent-demo.torrent`), "torrent kept");
    assert(await exists(`${kept}/download/bittorrent-demo/empty.txt`), "download kept");
    assert(await exists(`${kept}/seed/bittorrent-demo/video/extras/trailer.bin`), "payload kept");
    const logs = [];
    for await (const e of Deno.readDir(`${kept}/logs`)) logs.push(e.name);
    assert(logs.some((n) => n.endsWith(".log")), `download log kept: ${logs}`);
    const text = io.text();
    for (const step of ["Demo folder:", "Tracker: http://127.0.0.1:", "Seeders: 1 on 127.0.0.1"]) {
      assert(text.includes(step), `step message "${step}" missing from:\n${text}`);
    }
    assert(text.includes("Downloading: bittorrent -i "), text);
    assert(text.includes("Kept "), text);
  } finally {
    await Deno.remove(tempRoot, { recursive: true });
  }
});

Deno.test("an aborted demo stops the download, exits 130 and cleans up", async () => {
  const tempRoot = await Deno.makeTempDir();
  try {
    const controller = new AbortController();
    const chunks: string[] = [];
    const io: CommandIO = {
      out: (t) => {
        chunks.push(t);
        // Abort once the download runs; the rate limit keeps it from finishing first.
        if (t.startsWith("Downloading:")) setTimeout(() => controller.abort(), 300);
      },
      err: (t) => chunks.push(t),
      isTTY: false,
      columns: () => 80,
    };
    const result = await runDemo({
      size: 4 * MiB,
      seeders: 2,
      io,
      tempRoot,
      signal: controller.signal,
      extraArgs: ["--max-download-rate", "1M"],
    });
    const text = chunks.join("");
    assert(result.interrupted, text);
    assertEquals(result.ok, false);
    assertEquals(result.exitCode, 130);
    assert(text.includes("Interrupted"), text);
    assertEquals(await demoDirs(tempRoot), []);
  } finally {
    await Deno.remove(tempRoot, { recursive: true });
  }
});

Deno.test("an already aborted signal makes the demo return at once", async () => {
  const tempRoot = await Deno.makeTempDir();
  try {
    const result = await runDemo({
      size: MIN_DEMO_SIZE,
      quiet: true,
      io: captureIO(),
      tempRoot,
      signal: AbortSignal.abort(),
    });
    assertEquals(result.exitCode, 130);
    assertEquals(await demoDirs(tempRoot), []);
  } finally {
    await Deno.remove(tempRoot, { recursive: true });
  }
});

Deno.test("runDemo rejects impossible sizes and seeder counts", async () => {
  await assertRejects(() => runDemo({ size: 0, io: captureIO() }), DemoError, "size");
  await assertRejects(() => runDemo({ size: MAX_DEMO_SIZE + 1, io: captureIO() }), DemoError);
  await assertRejects(() => runDemo({ seeders: 0, io: captureIO() }), DemoError, "seeders");
  await assertRejects(() => runDemo({ seeders: 1.5, io: captureIO() }), DemoError, "seeders");
});

Deno.test("parseDemoArgs: defaults, both value spellings, and mistakes", () => {
  assertEquals(parseDemoArgs([]), {
    size: DEFAULT_DEMO_SIZE,
    seeders: DEFAULT_DEMO_SEEDERS,
    keep: false,
    help: false,
  });
  assertEquals(parseDemoArgs(["--size=4M", "--seeders", "5", "--keep"]), {
    size: 4 * MiB,
    seeders: 5,
    keep: true,
    help: false,
  });
  assertEquals(parseDemoArgs(["-h"]).help, true);
  assertEquals(parseDemoArgs(["--help"]).help, true);
  assertThrows(() => parseDemoArgs(["--size"]), DemoError, "--size needs a value");
  assertThrows(() => parseDemoArgs(["--size", "--keep"]), DemoError, "needs a value");
  assertThrows(() => parseDemoArgs(["--seeders", "0"]), DemoError, "from 1 to 16");
  assertThrows(() => parseDemoArgs(["--seeders", "17"]), DemoError, "from 1 to 16");
  assertThrows(() => parseDemoArgs(["--seeders", "2.5"]), DemoError);
  assertThrows(() => parseDemoArgs(["--keep=yes"]), DemoError, "does not take a value");
  assertThrows(() => parseDemoArgs(["--fast"]), DemoError, "unknown argument");
  assertThrows(() => parseDemoArgs(["extra"]), DemoError, "unknown argument");
});

Deno.test("parseSize: binary units, suffixes, bounds", () => {
  assertEquals(parseSize("64M"), 64 * MiB);
  assertEquals(parseSize("64m"), 64 * MiB);
  assertEquals(parseSize("512K"), 512 * 1024);
  assertEquals(parseSize("1.5MiB"), 1.5 * MiB);
  assertEquals(parseSize("2GB"), 2 * 1024 * MiB);
  assertEquals(parseSize("65536"), 65536);
  assertEquals(parseSize(" 4 M "), 4 * MiB);
  assertThrows(() => parseSize("63K"), DemoError, "out of range");
  assertThrows(() => parseSize("17G"), DemoError, "out of range");
  assertThrows(() => parseSize("-4M"), DemoError, "invalid size");
  assertThrows(() => parseSize("4T"), DemoError, "invalid size");
  assertThrows(() => parseSize("M"), DemoError, "invalid size");
  assertThrows(() => parseSize("1e9"), DemoError, "invalid size");
  assertThrows(() => parseSize("9".repeat(40)), DemoError, "invalid size");
});

Deno.test("fuzz: parseDemoArgs only ever returns valid args or throws DemoError", () => {
  const pieces = [
    "--size",
    "--seeders",
    "--keep",
    "--help",
    "-h",
    "=",
    "4M",
    "64K",
    "1.5G",
    "3",
    "16",
    "-1",
    "",
    " ",
    "\x1b[31m",
    "\u00ff",
    "kib",
    "0",
    "99999999999999",
    ".",
  ];
  for (let seed = 1; seed <= 5000; seed++) {
    const random = rng(seed);
    const pick = () => pieces[Math.floor(random() * pieces.length)];
    const argv: string[] = [];
    const n = Math.floor(random() * 5);
    for (let i = 0; i < n; i++) {
      let arg = pick();
      while (random() < 0.3) arg += pick();
      if (random() < 0.1) {
        const chars = [...arg];
        chars[Math.floor(random() * (chars.length + 1))] = String.fromCharCode(
          Math.floor(random() * 0x110),
        );
        arg = chars.join("");
      }
      argv.push(arg);
    }
    try {
      const args = parseDemoArgs(argv);
      assert(
        Number.isSafeInteger(args.size) && args.size >= MIN_DEMO_SIZE &&
          args.size <= MAX_DEMO_SIZE,
        `seed ${seed}: size ${args.size} from ${JSON.stringify(argv)}`,
      );
      assert(
        Number.isInteger(args.seeders) && args.seeders >= 1 && args.seeders <= 16,
        `seed ${seed}: seeders ${args.seeders}`,
      );
    } catch (e) {
      if (!(e instanceof DemoError)) {
        throw new Error(`seed ${seed}: ${JSON.stringify(argv)} threw ${e}`);
      }
      assert(!e.message.includes("\n") && !e.message.includes("\x1b"), `seed ${seed}: one line`);
    }
  }
});

Deno.test("planPayload: sizes add up, one empty file, nested folders", () => {
  for (const size of [1, 100, MIN_DEMO_SIZE, 4 * MiB + 3, DEFAULT_DEMO_SIZE, MAX_DEMO_SIZE]) {
    const plan = planPayload(size);
    assertEquals(plan.reduce((n, f) => n + f.length, 0), size, `total for ${size}`);
    assert(plan.every((f) => Number.isSafeInteger(f.length) && f.length >= 0), `${size}`);
    assertEquals(plan.filter((f) => f.path.join("/") === "empty.txt")[0].length, 0);
  }
  const plan = planPayload(DEFAULT_DEMO_SIZE);
  assert(plan.some((f) => f.path.length >= 3), "some file sits two folders deep");
  assertEquals(plan.filter((f) => f.length > 0).length, 5);
  assertThrows(() => planPayload(0), RangeError);
  assertThrows(() => planPayload(1.5), RangeError);
});

Deno.test("comparePayload finds missing, truncated and altered files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const plan = planPayload(300_000);
    await writePayload(`${dir}/a`, plan);
    await writePayload(`${dir}/b`, plan);
    // Two random payloads differ in every non-empty file; the empty ones are equal.
    assertEquals((await comparePayload(`${dir}/a`, `${dir}/b`, plan)).length, 5);
    await Deno.remove(`${dir}/b`, { recursive: true });
    await Deno.mkdir(`${dir}/b`);
    for (const f of plan) {
      const rel = f.path.join("/");
      await Deno.mkdir(`${dir}/b/${f.path.slice(0, -1).join("/")}`, { recursive: true });
      await Deno.copyFile(`${dir}/a/${rel}`, `${dir}/b/${rel}`);
    }
    assertEquals(await comparePayload(`${dir}/a`, `${dir}/b`, plan), []);

    const [first, second, third] = plan.filter((f) => f.length > 0).map((f) => f.path.join("/"));
    await Deno.remove(`${dir}/b/${first}`);
    await Deno.truncate(`${dir}/b/${second}`, 10);
    const bytes = await Deno.readFile(`${dir}/b/${third}`);
    bytes[1234] ^= 0xff;
    await Deno.writeFile(`${dir}/b/${third}`, bytes);
    const found = await comparePayload(`${dir}/a`, `${dir}/b`, plan);
    const expectedSize = plan.find((f) => f.path.join("/") === second)?.length;
    assertEquals(found, [
      { path: first, reason: "missing" },
      { path: second, reason: `size 10 instead of ${expectedSize}` },
      { path: third, reason: "content differs at byte 1234" },
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writePayload stops when its signal is aborted", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assertRejects(() => writePayload(dir, planPayload(MiB), AbortSignal.abort()));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
