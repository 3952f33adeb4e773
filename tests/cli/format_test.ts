import {
  formatBytes,
  formatDuration,
  formatEta,
  formatPercent,
  formatRate,
} from "../../src/cli/mod.ts";
import { assertEquals } from "../assert.ts";

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

Deno.test("formatBytes", () => {
  const table: [number, string][] = [
    [0, "0 B"],
    [1, "1 B"],
    [1023, "1023 B"],
    [1024, "1.0 KiB"],
    [1536, "1.5 KiB"],
    [1.5 * MiB, "1.5 MiB"],
    [MiB - 1, "1.0 MiB"], // 1023.999 KiB carries into the next unit
    [123.45 * MiB, "123.5 MiB"],
    [4.2 * GiB, "4.2 GiB"],
    [3 * 1024 ** 4, "3.0 TiB"],
    [2 * 1024 ** 6, "2048.0 PiB"],
    [-5, "0 B"],
    [NaN, "0 B"],
    [Infinity, "0 B"],
  ];
  for (const [n, text] of table) assertEquals(formatBytes(n), text, String(n));
});

Deno.test("formatRate", () => {
  assertEquals(formatRate(0), "0 B/s");
  assertEquals(formatRate(512), "512 B/s");
  assertEquals(formatRate(2.3 * MiB), "2.3 MiB/s");
  assertEquals(formatRate(12.34 * KiB), "12.3 KiB/s");
});

Deno.test("formatDuration", () => {
  const table: [number, string][] = [
    [0, "0s"],
    [999, "0s"],
    [12_000, "12s"],
    [59_999, "59s"],
    [60_000, "1m00s"],
    [185_000, "3m05s"],
    [3_600_000, "1h00m"],
    [3_720_000, "1h02m"],
    [86_400_000 + 3 * 3_600_000, "1d03h"],
    [-1, "--"],
    [NaN, "--"],
    [Infinity, "--"],
  ];
  for (const [ms, text] of table) assertEquals(formatDuration(ms), text, String(ms));
});

Deno.test("formatEta", () => {
  assertEquals(formatEta(65 * KiB, KiB), "1m05s");
  assertEquals(formatEta(100, 0), "--");
  assertEquals(formatEta(100, -1), "--");
  assertEquals(formatEta(100, NaN), "--");
  assertEquals(formatEta(0, 0), "0s");
  assertEquals(formatEta(-10, 5), "0s");
  assertEquals(formatEta(1, 1000), "1s"); // rounds up: never claims "0s" while bytes are missing
  assertEquals(formatEta(1e15, 1), "--"); // centuries away: not worth a number
});

Deno.test("formatPercent", () => {
  assertEquals(formatPercent(0, 10), "0.0%");
  assertEquals(formatPercent(123, 272), "45.2%");
  assertEquals(formatPercent(9999, 10000), "99.9%");
  assertEquals(formatPercent(99999, 100000), "99.9%");
  assertEquals(formatPercent(10, 10), "100.0%");
  assertEquals(formatPercent(11, 10), "100.0%");
  assertEquals(formatPercent(5, 0), "0.0%");
  assertEquals(formatPercent(NaN, 10), "0.0%");
});
