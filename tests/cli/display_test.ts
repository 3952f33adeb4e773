import {
  ProgressDisplay,
  renderStatusLine,
  renderSummary,
  type Snapshot,
} from "../../src/cli/mod.ts";
import { assert, assertEquals } from "../assert.ts";

const MiB = 1024 ** 2;

function snapshot(overrides: Partial<Snapshot> = {}): Snapshot {
  return {
    name: "ubuntu.iso",
    phase: "downloading",
    piecesDone: 123,
    pieceCount: 272,
    bytesDone: 123 * 256 * 1024,
    totalBytes: 272 * 256 * 1024,
    downloadRate: 12.3 * MiB,
    uploadRate: 1.1 * MiB,
    downloaded: 123 * 256 * 1024,
    uploaded: 5 * MiB,
    peersConnected: 12,
    peersKnown: 40,
    peersChokingUs: 3,
    peersInterested: 2,
    trackerStatus: "tracker ok",
    elapsedMs: 10_000,
    ...overrides,
  };
}

Deno.test("renderStatusLine: full line when wide", () => {
  assertEquals(
    renderStatusLine(snapshot(), 200),
    "[downloading] 45.2% 123/272 pcs | 12 peers (40 known, 3 choking) | " +
      "↓ 12.3 MiB/s ↑ 1.1 MiB/s | ETA 4s | tracker ok",
  );
});

Deno.test("renderStatusLine: counts uTP and encrypted peers", () => {
  assertEquals(
    renderStatusLine(snapshot({ peersUtp: 7, peersEncrypted: 5 }), 200),
    "[downloading] 45.2% 123/272 pcs | 12 peers (40 known, 3 choking, 7 uTP, 5 encrypted) | " +
      "↓ 12.3 MiB/s ↑ 1.1 MiB/s | ETA 4s | tracker ok",
  );
});

Deno.test("renderStatusLine: never longer than width, drops least important first", () => {
  const s = snapshot({ trackerStatus: "tracker: connection refused, retry in 30s" });
  const full = renderStatusLine(s, 1000);
  for (let width = 0; width <= full.length + 5; width++) {
    const line = renderStatusLine(s, width);
    assert(line.length <= width, `width ${width}: ${line.length} chars: ${line}`);
    assert(!line.includes("\n"), "one line");
    if (width >= 20) assert(line.startsWith("[downloading]"), `phase first at ${width}: ${line}`);
  }
  // Tracker goes before anything else, then the peer details.
  const noTracker = renderStatusLine(s, full.length - 1);
  assert(!noTracker.includes("tracker"), noTracker);
  assert(noTracker.includes("(40 known, 3 choking)"), noTracker);
  const narrower = renderStatusLine(s, noTracker.length - 1);
  assert(!narrower.includes("known") && narrower.includes("12 peers"), narrower);
  assert(narrower.includes("ETA") && narrower.includes("↓ 12.3 MiB/s"), narrower);
  // At 40 columns the percentage and download rate survive.
  const forty = renderStatusLine(s, 40);
  assert(forty.includes("45.2%") && forty.includes("12.3 MiB/s"), forty);
  // Tiny widths are cut with an ellipsis, never overflow.
  assertEquals(renderStatusLine(s, 5), "[dow…");
  assertEquals(renderStatusLine(s, 1), "…");
  assertEquals(renderStatusLine(s, 0), "");
  assertEquals(renderStatusLine(s, -3), "");
  assert(renderStatusLine(s, NaN).length > 0);
});

Deno.test("renderStatusLine: other phases", () => {
  const checking = renderStatusLine(
    snapshot({ phase: "checking", checkProgress: 0.34, piecesDone: 80, trackerStatus: undefined }),
    200,
  );
  assertEquals(checking, "[checking] 34.0% | 80/272 pcs ok");
  const metadata = renderStatusLine(
    snapshot({ phase: "metadata", pieceCount: 0, piecesDone: 0, totalBytes: 0, bytesDone: 0 }),
    200,
  );
  assert(
    metadata.startsWith("[metadata] fetching torrent info 0.0% | 12 peers (40 known)"),
    metadata,
  );
  const seeding = renderStatusLine(snapshot({ phase: "seeding", piecesDone: 272 }), 200);
  assertEquals(
    seeding,
    "[seeding] 100.0% | 12 peers (2 interested) | ↑ 1.1 MiB/s | uploaded 5.0 MiB | tracker ok",
  );
  const done = renderStatusLine(snapshot({ phase: "done", piecesDone: 272 }), 200);
  assert(done.startsWith("[done] 100.0%"), done);
  const one = renderStatusLine(snapshot({ peersConnected: 1, downloadRate: 0 }), 200);
  assert(one.includes("1 peer (") && one.includes("ETA --"), one);
});

Deno.test("renderStatusLine: strips terminal escapes from tracker text", () => {
  const line = renderStatusLine(snapshot({ trackerStatus: "evil\x1b[2J\r\nmsg" }), 200);
  assert(![...line].some((ch) => ch.charCodeAt(0) < 0x20), JSON.stringify(line));
  assert(line.endsWith("evil?[2J??msg"), line);
});

Deno.test("renderSummary: complete and incomplete", () => {
  const complete = renderSummary({
    ...snapshot({ phase: "done", piecesDone: 272, downloaded: 20 * MiB, elapsedMs: 10_000 }),
    verified: true,
  });
  assertEquals(complete, [
    "Finished: ubuntu.iso",
    "All 272 pieces verified (SHA-1).",
    "Size: 68.0 MiB | Elapsed: 10.0s",
    "Downloaded: 20.0 MiB (average 2.0 MiB/s) | Uploaded: 5.0 MiB",
  ]);
  const partial = renderSummary({ ...snapshot({ elapsedMs: 0 }), verified: false });
  assertEquals(partial[0], "Stopped: ubuntu.iso");
  assertEquals(partial[1], "Incomplete: 123 of 272 pieces verified (45.2%).");
  assert(partial[3].includes("average 0 B/s"), partial[3]);
  // Tenths under a minute: a 0.76 s run is not "0s".
  const quick = renderSummary({ ...snapshot({ elapsedMs: 760 }), verified: false });
  assert(quick[2].endsWith("Elapsed: 0.8s"), quick[2]);
  const evil = renderSummary({ ...snapshot({ name: "a\x1b]0;x\x07b" }), verified: false });
  assertEquals(evil[0], "Stopped: a?]0;x?b");
});

class Capture {
  out: string[] = [];
  time = 0;
  write = (text: string) => {
    this.out.push(text);
  };
  now = () => this.time;
  take(): string[] {
    const out = this.out;
    this.out = [];
    return out;
  }
}

Deno.test("ProgressDisplay: TTY rewrites one line, throttled to ~5/s", () => {
  const c = new Capture();
  const display = new ProgressDisplay({
    write: c.write,
    isTTY: true,
    columns: () => 60,
    now: c.now,
  });
  display.update(snapshot());
  const [first, ...rest] = c.take();
  assertEquals(rest, []);
  assert(first.startsWith("\r[downloading] 45.2%") && first.endsWith("\x1b[K"), first);
  const visible = first.slice(1, -3);
  assert(visible.length <= 59, `fits in columns - 1: ${visible.length}`);
  assert(!first.includes("\n"), "no newline on a TTY");

  c.time = 100;
  display.update(snapshot({ piecesDone: 124 }));
  assertEquals(c.take(), [], "too soon: no redraw");
  c.time = 250;
  display.update(snapshot({ piecesDone: 125 }));
  assertEquals(c.take().length, 1);
  c.time = 260;
  display.update(snapshot({ phase: "seeding", piecesDone: 272 }));
  const seeding = c.take();
  assertEquals(seeding.length, 1, "phase change redraws at once");
  assert(seeding[0].startsWith("\r[seeding]"), seeding[0]);
});

Deno.test("ProgressDisplay: TTY message prints above the live line, then redraws", () => {
  const c = new Capture();
  const display = new ProgressDisplay({ write: c.write, isTTY: true, now: c.now });
  display.message("before any progress");
  assertEquals(c.take(), ["before any progress\n"]);
  display.update(snapshot());
  c.take();
  display.message("warning: tracker\x1b[31m down");
  const out = c.take();
  assertEquals(out[0], "\r\x1b[Kwarning: tracker?[31m down\n");
  assertEquals(out.length, 2);
  assert(out[1].startsWith("\r[downloading]") && out[1].endsWith("\x1b[K"), out[1]);
  display.finish(["Finished: x", "All 2 pieces verified (SHA-1)."]);
  assertEquals(c.take(), ["\r\x1b[K", "Finished: x\nAll 2 pieces verified (SHA-1).\n"]);
  c.time = 10_000;
  display.update(snapshot());
  display.message("late");
  assertEquals(c.take(), ["late\n"], "after finish: no live line any more");
});

Deno.test("ProgressDisplay: TTY width errors fall back to 80 columns", () => {
  const c = new Capture();
  const display = new ProgressDisplay({
    write: c.write,
    isTTY: true,
    columns: () => {
      throw new Error("not a terminal");
    },
    now: c.now,
  });
  display.update(snapshot({ trackerStatus: "x".repeat(300) }));
  const [line] = c.take();
  assert(line.length - 4 <= 79, `fits 79 columns: ${line.length}`);
});

Deno.test("ProgressDisplay: non-TTY prints plain lines on an interval and on phase change", () => {
  const c = new Capture();
  const display = new ProgressDisplay({
    write: c.write,
    isTTY: false,
    plainIntervalMs: 5000,
    now: c.now,
  });
  display.update(snapshot());
  let out = c.take();
  assertEquals(out.length, 1);
  assert(out[0].startsWith("[downloading] 45.2%") && out[0].endsWith("tracker ok\n"), out[0]);
  assert(!out[0].includes("\r") && !out[0].includes("\x1b"), "no terminal controls");
  for (c.time = 200; c.time < 5000; c.time += 200) display.update(snapshot());
  assertEquals(c.take(), [], "quiet within the interval");
  c.time = 5000;
  display.update(snapshot());
  assertEquals(c.take().length, 1);
  c.time = 5100;
  display.update(snapshot({ phase: "seeding", piecesDone: 272 }));
  out = c.take();
  assertEquals(out.length, 1);
  assert(out[0].startsWith("[seeding]"), out[0]);
  display.message("note");
  display.finish(["bye"]);
  assertEquals(c.take(), ["note\n", "bye\n"]);
});

Deno.test("ProgressDisplay: default plain interval is 5 s", () => {
  const c = new Capture();
  const display = new ProgressDisplay({ write: c.write, isTTY: false, now: c.now });
  display.update(snapshot());
  c.time = 4999;
  display.update(snapshot());
  c.time = 5000;
  display.update(snapshot());
  assertEquals(c.take().length, 2);
  display.finish([]);
  assertEquals(c.take(), []);
});

Deno.test("web seeds: their part of the status line and of the summary", () => {
  const s = snapshot({ webSeeds: 2, webSeedsActive: 1, webSeedRate: 3 * MiB, trackerStatus: "" });
  const line = renderStatusLine(s, 200);
  assertEquals(
    line,
    "[downloading] 45.2% 123/272 pcs | 12 peers (40 known, 3 choking) | web 1/2 ↓ 3.0 MiB/s | " +
      "↓ 12.3 MiB/s ↑ 1.1 MiB/s | ETA 4s",
  );
  // It goes before the peers' details when the line is too long.
  const shorter = renderStatusLine(s, line.length - 1);
  assert(!shorter.includes("web") && shorter.includes("40 known"), shorter);
  const summary = renderSummary({
    ...snapshot({
      phase: "done",
      piecesDone: 272,
      downloaded: 20 * MiB,
      webSeedDownloaded: 15 * MiB,
      checkedBy: "SHA-256 merkle trees",
    }),
    verified: true,
  });
  assertEquals(summary[1], "All 272 pieces verified (SHA-256 merkle trees).");
  assertEquals(
    summary[3],
    "Downloaded: 20.0 MiB (average 2.0 MiB/s; 15.0 MiB from web seeds) | Uploaded: 5.0 MiB",
  );
});
