/**
 * The create benchmark on a small folder, as a user runs it (a child process): it makes its
 * torrents, checks ours against mktorrent's info-hash where mktorrent is installed, and prints
 * its table. It asserts that the run works, never its timing.
 */
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { hasTool } from "../interop/fixtures.ts";
import { tail } from "../process.ts";
import { createSpeedConfig } from "./create_speed.ts";
import { BenchError } from "./proc.ts";

const SCRIPT = decodeURIComponent(new URL("./create_speed.ts", import.meta.url).pathname);

Deno.test("create_speed: a small folder gives a row per maker and matching info-hashes", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", SCRIPT, "--size", "3M", "--files", "3", "--runs", "1"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const why = `exit ${out.code}\nstdout:\n${stdout}\nstderr:\n${
    tail(new TextDecoder().decode(out.stderr), 3000)
  }`;
  assert(out.code === 0, `create_speed failed: ${why}`);
  const rows = stdout.split("\n").filter((l) => /^(ours|mktorrent) /.test(l));
  const mktorrent = await hasTool("mktorrent");
  assertEquals(rows.length, mktorrent ? 3 : 2, why);
  for (const row of rows) {
    const figures = row.slice(22).trim().split(/\s+/).map(Number);
    assert(figures.length === 4 && figures.every(Number.isFinite), `a figure is missing: ${row}`);
  }
  if (mktorrent) assert(stdout.includes("agree on the info-hash"), why);
});

Deno.test("create_speed: flags", () => {
  assertEquals(createSpeedConfig([]), {
    size: 2 ** 30,
    files: 64,
    pieceLength: 256 * 1024,
    runs: 5,
  });
  assertEquals(createSpeedConfig(["--ours", "./bittorrent"]).ours, "./bittorrent");
  assertThrows(() => createSpeedConfig(["--piece", "100K"]), BenchError, "power of two");
  assertThrows(() => createSpeedConfig(["--size", "10", "--files", "20"]), BenchError, "a byte");
  assertThrows(() => createSpeedConfig(["--runs", "0"]), BenchError, "--runs");
});
