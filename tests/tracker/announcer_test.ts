import {
  type AnnounceParams,
  Announcer,
  type AnnounceResult,
  type AnnouncerOptions,
  type PeerAddress,
  startTracker,
  TrackerError,
  type TrackerStatus,
} from "../../src/tracker/mod.ts";
import { assert, assertEquals } from "../assert.ts";
import { bin } from "./_helpers.ts";

interface Call {
  url: string;
  event: AnnounceParams["event"];
  numWant?: number;
  left: number;
  at: number;
}

/** A scripted tracker set: `behave(url, n)` answers the n-th call to `url`. */
function script(behave: (url: string, params: AnnounceParams) => AnnounceResult | Error) {
  const calls: Call[] = [];
  const fn = (url: string, p: AnnounceParams): Promise<AnnounceResult> => {
    calls.push({ url, event: p.event, numWant: p.numWant, left: p.left, at: Date.now() });
    const out = behave(url, p);
    return out instanceof Error ? Promise.reject(out) : Promise.resolve(out);
  };
  return { calls, fn };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await sleep(5);
  }
}

function make(
  opts: Partial<AnnouncerOptions> & Pick<AnnouncerOptions, "tiers">,
): { a: Announcer; peers: [PeerAddress[], string][]; statuses: TrackerStatus[] } {
  const peers: [PeerAddress[], string][] = [];
  const statuses: TrackerStatus[] = [];
  const a = new Announcer({
    infoHash: new Uint8Array(20).fill(7),
    peerId: bin("-TS0001-announcer123"),
    port: 6881,
    stats: () => ({ uploaded: 0, downloaded: 0, left: 100 }),
    onPeers: (p, source) => peers.push([p, source]),
    onStatus: (s) => statuses.push(s),
    random: () => 0.999, // keep tiers in the given order
    ...opts,
  });
  return { a, peers, statuses };
}

const ok = (peers: PeerAddress[] = [], extra: Partial<AnnounceResult> = {}): AnnounceResult => ({
  interval: 1800,
  peers,
  ...extra,
});
const dead = () =>
  new TrackerError("could not connect: refused", "network", "http://dead/announce");

Deno.test("Announcer: a dead first tier falls through to the next", async () => {
  const s = script((url) => url.includes("dead") ? dead() : ok([{ host: "10.0.0.1", port: 1 }]));
  const { a, peers, statuses } = make({
    tiers: [["http://dead/announce"], ["http://good/announce"]],
    announce: s.fn,
  });
  a.start();
  await until(() => peers.length === 1);
  assertEquals(s.calls.map((c) => [c.url, c.event]), [
    ["http://dead/announce", "started"],
    ["http://good/announce", "started"],
  ]);
  assertEquals(peers[0], [[{ host: "10.0.0.1", port: 1 }], "http://good/announce"]);
  assertEquals(statuses.map((x) => [x.url, x.ok]), [
    ["http://dead/announce", false],
    ["http://good/announce", true],
  ]);
  assert(statuses[1].nextAnnounceAt !== undefined);
  await a.stop();
  // Only the tracker that got `started` hears `stopped`, asking for no peers.
  assertEquals(s.calls.slice(2).map((c) => [c.url, c.event, c.numWant]), [
    ["http://good/announce", "stopped", 0],
  ]);
});

Deno.test("Announcer: a tracker that answers moves to the front of its tier", async () => {
  let bGood = true;
  const s = script((url) => {
    if (url === "http://b/announce" && bGood) return ok([], { interval: 0.03, minInterval: 0 });
    if (url === "http://c/announce") return ok([], { interval: 0.03, minInterval: 0 });
    return dead();
  });
  const { a } = make({
    tiers: [["http://a/announce", "http://b/announce", "http://c/announce"]],
    announce: s.fn,
  });
  assertEquals(a.tiers, [["http://a/announce", "http://b/announce", "http://c/announce"]]);
  a.start();
  await until(() => s.calls.length >= 2);
  await until(() => a.tiers[0][0] === "http://b/announce");
  assertEquals(a.tiers, [["http://b/announce", "http://a/announce", "http://c/announce"]]);
  // Next (regular) announce goes to b first, without an event.
  await until(() => s.calls.length >= 3);
  assertEquals([s.calls[2].url, s.calls[2].event], ["http://b/announce", undefined]);
  bGood = false;
  await until(() => a.tiers[0][0] === "http://c/announce");
  assertEquals(a.tiers, [["http://c/announce", "http://b/announce", "http://a/announce"]]);
  await a.stop();
  const stopped = s.calls.filter((c) => c.event === "stopped").map((c) => c.url).sort();
  assertEquals(stopped, ["http://b/announce", "http://c/announce"]);
});

Deno.test("Announcer: shuffles each tier with the given random source", () => {
  const urls = ["http://1/a", "http://2/a", "http://3/a", "http://4/a"];
  const { a } = make({
    tiers: [urls, ["http://5/a"]],
    random: () => 0,
    announce: script(() => ok()).fn,
  });
  assertEquals(a.tiers, [["http://2/a", "http://3/a", "http://4/a", "http://1/a"], ["http://5/a"]]);
  // Duplicates and empty URLs are dropped.
  const { a: b } = make({
    tiers: [["http://x/a", "", "http://x/a"], []],
    announce: script(() => ok()).fn,
  });
  assertEquals(b.tiers, [["http://x/a"]]);
});

Deno.test("Announcer: re-announces at the interval, completed once, then stopped", async () => {
  const s = script(() => ok([], { interval: 0.04, minInterval: 0.01 }));
  let left = 100;
  const { a } = make({
    tiers: [["http://t/announce"]],
    announce: s.fn,
    stats: () => ({ uploaded: 0, downloaded: 100 - left, left }),
  });
  a.start();
  await until(() => s.calls.length >= 3);
  assertEquals(s.calls.slice(0, 3).map((c) => c.event), ["started", undefined, undefined]);
  const gap = s.calls[2].at - s.calls[1].at;
  assert(gap >= 30, `re-announce after ${gap} ms`);
  left = 0;
  a.completed();
  a.completed();
  await until(() => s.calls.some((c) => c.event === "completed"));
  await sleep(60);
  assertEquals(s.calls.filter((c) => c.event === "completed").length, 1);
  const done = s.calls.find((c) => c.event === "completed");
  assertEquals(done?.left, 0);
  await a.stop();
  assertEquals(s.calls.at(-1)?.event, "stopped");
  const n = s.calls.length;
  await sleep(80);
  assertEquals(s.calls.length, n, "no announce after stop");
});

Deno.test("Announcer: completed before the first answer is folded into started with left=0", async () => {
  const s = script(() => ok());
  const { a } = make({
    tiers: [["http://t/announce"]],
    announce: s.fn,
    stats: () => ({ uploaded: 0, downloaded: 0, left: 0 }),
  });
  a.completed();
  a.start();
  await until(() => s.calls.length >= 1);
  await sleep(20);
  assertEquals(s.calls.map((c) => c.event), ["started"]);
  await a.stop();
});

Deno.test("Announcer: backs off when every tracker fails, and reports the next try", async () => {
  const s = script(() => dead());
  const { a, statuses } = make({
    tiers: [["http://a/announce"], ["http://b/announce"]],
    announce: s.fn,
    retry: { baseMs: 20, maxMs: 40 },
  });
  const t0 = Date.now();
  a.start();
  await until(() => s.calls.length >= 8); // 4 rounds of 2 trackers
  const rounds = s.calls.filter((c) => c.url === "http://a/announce").map((c) => c.at - t0);
  assert(
    rounds[1] >= 15 && rounds[2] - rounds[1] >= 35 && rounds[3] - rounds[2] >= 35,
    `${rounds}`,
  );
  const last = statuses.filter((x) => x.nextAnnounceAt !== undefined);
  assert(last.length >= 3 && last.every((x) => !x.ok && x.url === "http://b/announce"));
  assert(statuses.every((x) => x.message?.includes("could not connect")));
  await a.stop();
  // Nobody got `started`, so nobody gets `stopped`.
  assert(s.calls.every((c) => c.event === "started"));
});

Deno.test("Announcer: announceNow respects the minimum interval", async () => {
  const s = script(() => ok([{ host: "10.0.0.2", port: 2 }], { interval: 60, minInterval: 0.15 }));
  const { a, peers } = make({ tiers: [["http://t/announce"]], announce: s.fn });
  a.start();
  await until(() => s.calls.length === 1 && peers.length === 1);
  const allowed = a.manualAnnounceAt ?? 0;
  assert(allowed - Date.now() > 50 && allowed - Date.now() <= 150, `allowed at ${allowed}`);
  a.announceNow();
  await sleep(50);
  assertEquals(s.calls.length, 1, "too early");
  const due = a.nextAnnounceAt ?? 0;
  assert(due - Date.now() < 150, "rescheduled to the min interval");
  await until(() => s.calls.length === 2);
  assert(s.calls[1].at - s.calls[0].at >= 140);
  a.announceNow();
  await sleep(30);
  assertEquals(s.calls.length, 2);
  await a.stop();
  assertEquals(a.manualAnnounceAt, undefined, "stopped: none taken");
});

Deno.test("Announcer: stop cancels a request in flight and still says stopped", async () => {
  const calls: [string, AnnounceParams["event"]][] = [];
  const fn = (url: string, p: AnnounceParams): Promise<AnnounceResult> => {
    calls.push([url, p.event]);
    if (p.event === "stopped") return Promise.resolve(ok());
    return new Promise((_, reject) => {
      p.signal?.addEventListener(
        "abort",
        () => reject(new TrackerError("request aborted", "aborted")),
      );
    });
  };
  const { a } = make({ tiers: [["http://t/announce"]], announce: fn });
  a.start();
  await until(() => calls.length === 1);
  await a.stop();
  assertEquals(calls, [["http://t/announce", "started"], ["http://t/announce", "stopped"]]);
  await a.stop(); // idempotent
});

Deno.test("Announcer: stop resolves even when the stopped announce hangs", async () => {
  const fn = (_url: string, p: AnnounceParams): Promise<AnnounceResult> => {
    if (p.event !== "stopped") return Promise.resolve(ok());
    let timer: ReturnType<typeof setTimeout> | undefined;
    return new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error("late")), 3000);
      p.signal?.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(new TrackerError("request aborted", "aborted"));
      });
    });
  };
  const { a, statuses } = make({ tiers: [["http://t/announce"]], announce: fn, stopTimeoutMs: 50 });
  a.start();
  await until(() => statuses.length === 1);
  const t0 = Date.now();
  await a.stop();
  assert(Date.now() - t0 < 2500, "stop waited too long");
  await sleep(10);
  assertEquals(statuses.at(-1)?.ok, false);
});

Deno.test("Announcer: by default a dead tracker holds the stopped announce about a second", async () => {
  // A started announce that never answers (a dead UDP tracker): stop() must not wait its
  // whole retry schedule, nor the 3 s it once did.
  const hang = (_url: string, p: AnnounceParams): Promise<AnnounceResult> =>
    new Promise((_, reject) =>
      p.signal?.addEventListener("abort", () => reject(new TrackerError("aborted", "aborted")))
    );
  const { a } = make({ tiers: [["udp://dead:1"]], announce: hang });
  a.start();
  await sleep(20);
  const t0 = Date.now();
  await a.stop();
  const took = Date.now() - t0;
  assert(took < 2000, `stop took ${took} ms`);
});

Deno.test("Announcer: a failure is said at once, before the next tracker is tried", async () => {
  let release!: () => void;
  const slow = new Promise<void>((r) => release = r);
  const { a, statuses } = make({
    tiers: [["http://dead/announce"], ["http://slow/announce"]],
    announce: async (url) => {
      if (url.includes("dead")) throw dead();
      await slow;
      return ok();
    },
  });
  a.start();
  await until(() => statuses.length === 1);
  assertEquals([statuses[0].url, statuses[0].ok, statuses[0].message], [
    "http://dead/announce",
    false,
    "could not connect: refused",
  ]);
  release();
  await until(() => statuses.length === 2);
  await a.stop();
});

Deno.test("Announcer: callbacks that throw do not break the loop", async () => {
  const s = script(() => ok([{ host: "10.0.0.3", port: 3 }], { interval: 0.03, minInterval: 0 }));
  const a = new Announcer({
    tiers: [["http://t/announce"]],
    infoHash: new Uint8Array(20),
    peerId: new Uint8Array(20),
    port: 1,
    stats: () => {
      throw new Error("stats broke");
    },
    onPeers: () => {
      throw new Error("owner broke");
    },
    onStatus: () => {
      throw new Error("owner broke");
    },
    announce: s.fn,
  });
  a.start();
  await until(() => s.calls.length >= 3);
  await a.stop();
  assertEquals(s.calls[0].left, 0);
});

Deno.test("Announcer against real trackers: dead HTTP tier, then our HTTP and UDP tracker", async () => {
  const tracker = await startTracker();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadUrl = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/announce`;
  listener.close();
  const hash = "07".repeat(20);
  const got: PeerAddress[] = [];
  const first = make({
    tiers: [[deadUrl], [tracker.httpUrl]],
    port: 1111,
    peerId: bin("A".repeat(20)),
  });
  const second = make({
    tiers: [[tracker.udpUrl]],
    port: 2222,
    peerId: bin("B".repeat(20)),
    udp: { timeoutMs: 100, retries: 1 },
    onPeers: (p) => got.push(...p),
  });
  try {
    first.a.start();
    await until(() => tracker.swarm(hash).peers.length === 1);
    second.a.start();
    await until(() => got.length === 1);
    assertEquals(got, [{ host: "127.0.0.1", port: 1111 }]);
    assertEquals(first.statuses[0].ok, false);
    await first.a.stop();
    assertEquals(tracker.swarm(hash).peers, [{ host: "127.0.0.1", port: 2222 }]);
    await second.a.stop();
    assertEquals(tracker.swarm(hash).peers, []);
  } finally {
    await first.a.stop();
    await second.a.stop();
    await tracker.close();
  }
});
