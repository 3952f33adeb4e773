/**
 * The alternative speed limits: the window a schedule names (days, past midnight, a whole
 * day), and how the schedule and the user's own switch share the say over which limits apply.
 */
import { ALL_DAYS, inSchedule, SpeedLimits } from "../../src/client/mod.ts";
import { TokenBucket } from "../../src/util/mod.ts";
import { assertEquals } from "../assert.ts";

/** 2026-12-06 was a Sunday; day 0 is that Sunday, 1 the Monday after, and so on. */
const on = (day: number, hour: number, minute = 0) => new Date(2026, 11, 6 + day, hour, minute);
const SUNDAY = 1, MONDAY = 2, SATURDAY = 64;

Deno.test("inSchedule: a day's window, its listed days only, the end not included", () => {
  const office = { begin: 9 * 60, end: 17 * 60, days: ALL_DAYS - SUNDAY - SATURDAY };
  assertEquals(inSchedule(office, on(1, 8, 59)), false);
  assertEquals(inSchedule(office, on(1, 9)), true);
  assertEquals(inSchedule(office, on(5, 16, 59)), true);
  assertEquals(inSchedule(office, on(5, 17)), false);
  assertEquals(inSchedule(office, on(0, 12)), false, "a Sunday");
  assertEquals(inSchedule(office, on(6, 12)), false, "a Saturday");
});

Deno.test("inSchedule: a window past midnight belongs to the day it began; equal ends are all day", () => {
  const sundayNight = { begin: 23 * 60, end: 2 * 60, days: SUNDAY };
  assertEquals(inSchedule(sundayNight, on(0, 23, 30)), true);
  assertEquals(inSchedule(sundayNight, on(1, 1, 59)), true, "Monday, still Sunday's night");
  assertEquals(inSchedule(sundayNight, on(1, 2)), false);
  assertEquals(inSchedule(sundayNight, on(1, 23, 30)), false, "Monday's own night is not listed");
  assertEquals(inSchedule(sundayNight, on(0, 1)), false, "Saturday's night is not listed");
  const mondays = { begin: 600, end: 600, days: MONDAY };
  assertEquals([inSchedule(mondays, on(1, 0)), inSchedule(mondays, on(2, 0))], [true, false]);
});

Deno.test("SpeedLimits: the schedule switches at its boundaries; between them the user's switch holds", () => {
  const limiters = { download: new TokenBucket(0), upload: new TokenBucket(0) };
  const speeds = new SpeedLimits(limiters, {
    download: 4_000_000,
    upload: 1_000_000,
    altDownload: 100_000,
    altUpload: 20_000,
  });
  const rates = () => [limiters.download.rate, limiters.upload.rate];
  assertEquals(rates(), [4_000_000, 1_000_000]);
  speeds.set({ schedule: { begin: 9 * 60, end: 17 * 60, days: ALL_DAYS, on: true } }, on(1, 10));
  assertEquals([speeds.settings.altOn, ...rates()], [true, 100_000, 20_000], "on within it");
  speeds.set({ altOn: false }, on(1, 11));
  speeds.tick(on(1, 12));
  assertEquals([speeds.settings.altOn, ...rates()], [false, 4_000_000, 1_000_000], "the user's");
  speeds.tick(on(1, 17));
  speeds.tick(on(2, 9));
  assertEquals(speeds.settings.altOn, true, "the next window switches it on again");
  speeds.tick(on(2, 17, 1));
  assertEquals([speeds.settings.altOn, ...rates()], [false, 4_000_000, 1_000_000]);
  // Off, the schedule says nothing; alternative limits of 0 are no limit, like the usual ones.
  speeds.set({ schedule: { ...speeds.settings.schedule, on: false }, altDownload: 0 });
  speeds.tick(on(3, 10));
  assertEquals(speeds.settings.altOn, false);
  speeds.set({ altOn: true });
  assertEquals(rates(), [Infinity, 20_000]);
});
