/** A torrent's times: seconds by state, its activity dated when its bytes move, its checks. */
import { ActivityClock, type ClientTorrent, type SavedTorrent } from "../../src/client/mod.ts";
import { assert, assertEquals } from "../assert.ts";

/** A torrent as the clock sees it: an id, a state and byte totals the test moves. */
function torrent(id: number, state: string) {
  const totals = { uploaded: 0, downloaded: 0 };
  const t = { id, state, totals: () => ({ ...totals }) } as unknown as ClientTorrent;
  const record = { hash: String(id) } as SavedTorrent;
  return { t, record, totals, set: (s: string) => ((t as { state: string }).state = s) };
}

Deno.test("ActivityClock: seconds downloading and seeding by state; activity when bytes move", async () => {
  const clock = new ActivityClock();
  const a = torrent(1, "downloading"), b = torrent(2, "seeding"), c = torrent(3, "paused");
  const all = [a, b, c];
  clock.tick(all);
  await new Promise((r) => setTimeout(r, 120));
  a.totals.downloaded += 1000;
  clock.tick(all);
  assert((a.record.secondsDownloading ?? 0) >= 0.1, `a: ${a.record.secondsDownloading}`);
  assert((b.record.secondsSeeding ?? 0) >= 0.1, `b: ${b.record.secondsSeeding}`);
  assertEquals([a.record.secondsSeeding, b.record.secondsDownloading], [undefined, undefined]);
  assertEquals([c.record.secondsDownloading, c.record.secondsSeeding], [undefined, undefined]);
  assert(Math.abs((a.record.activityDate ?? 0) - Date.now() / 1000) < 5, "a moved bytes");
  assertEquals([b.record.activityDate, c.record.activityDate], [undefined, undefined]);
  a.set("seeding");
  await new Promise((r) => setTimeout(r, 60));
  clock.tick(all);
  assert((a.record.secondsSeeding ?? 0) >= 0.05, `a seeds now: ${a.record.secondsSeeding}`);
});

Deno.test("ActivityClock: start dates and check progress, forgotten with the torrent", () => {
  const clock = new ActivityClock();
  assertEquals([clock.startDate(1), clock.checkProgress(1)], [0, 1]);
  clock.started(1);
  clock.checking(1, 0, 1);
  assertEquals(clock.checkProgress(1), 0);
  clock.checking(1, 3, 12);
  assertEquals(clock.checkProgress(1), 0.25);
  assert(Math.abs(clock.startDate(1) - Date.now() / 1000) < 5);
  clock.forget(1);
  assertEquals([clock.startDate(1), clock.checkProgress(1)], [0, 1]);
});
