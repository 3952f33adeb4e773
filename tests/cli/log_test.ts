import { LogError, logFileName, Logger } from "../../src/cli/mod.ts";
import { assert, assertEquals, assertRejects } from "../assert.ts";

const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO |WARN |ERROR) \[[^\]]+\] /;

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "bt-log-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("logFileName: local time stamp and pid", () => {
  assertEquals(
    logFileName(new Date(2026, 0, 2, 3, 4, 5), 1234),
    "bittorrent-20260102-030405-1234.log",
  );
});

Deno.test("Logger: creates nested dir, writes formatted lines, flushes on close", async () => {
  await withTempDir(async (root) => {
    const dir = `${root}/a/b/logs`;
    const fixed = Date.UTC(2026, 10, 24, 12, 0, 0);
    const log = await Logger.open({ dir, level: "info", now: () => fixed, pid: 77 });
    assertEquals(log.path, `${dir}/${logFileName(new Date(fixed), 77)}`);
    log.info("starting");
    log.debug("hidden at info level");
    const tracker = log.child("tracker");
    tracker.warn("announce failed", new Error("connection refused"));
    tracker.child("udp").error("bad reply");
    // Buffered: nothing on disk before a flush (the timer is 500 ms away).
    assertEquals(await Deno.readTextFile(log.path!), "");
    await log.close();
    const text = await Deno.readTextFile(log.path!);
    assertEquals(text.split("\n"), [
      "2026-11-24T12:00:00.000Z INFO  [main] starting",
      "2026-11-24T12:00:00.000Z WARN  [tracker] announce failed: connection refused",
      "2026-11-24T12:00:00.000Z ERROR [tracker/udp] bad reply",
      "",
    ]);
    // Closed: later lines are dropped, close is idempotent, a child can close too.
    tracker.error("after close");
    await tracker.close();
    await log.close();
    assertEquals(await Deno.readTextFile(log.path!), text);
  });
});

Deno.test("Logger: levels, enabled() and shared level", async () => {
  await withTempDir(async (dir) => {
    const log = await Logger.open({ dir, level: "warn" });
    const child = log.child("peer");
    assertEquals(log.level, "warn");
    assert(!child.enabled("info") && child.enabled("warn") && child.enabled("error"));
    child.info("dropped");
    log.level = "debug";
    assertEquals(child.level, "debug");
    child.debug("kept");
    await log.close();
    const lines = (await Deno.readTextFile(log.path!)).trimEnd().split("\n");
    assertEquals(lines.length, 1);
    assert(LINE.test(lines[0]) && lines[0].endsWith("DEBUG [peer] kept"), lines[0]);
  });
});

Deno.test("Logger: the flush timer writes without close, and close clears it", async () => {
  await withTempDir(async (dir) => {
    const log = await Logger.open({ dir, flushIntervalMs: 20 });
    log.info("soon on disk");
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert((await Deno.readTextFile(log.path!)).includes("soon on disk"));
    log.info("pending when closing"); // arms a new timer; close must clear it (no leak)
    await log.close();
    assert((await Deno.readTextFile(log.path!)).includes("pending when closing"));
  });
});

Deno.test("Logger: a full buffer is written without waiting for the timer", async () => {
  await withTempDir(async (dir) => {
    const log = await Logger.open({ dir, maxBufferChars: 1024, flushIntervalMs: 60_000 });
    for (let i = 0; i < 100; i++) log.info(`line ${i} ${"x".repeat(40)}`);
    await log.flush();
    const lines = (await Deno.readTextFile(log.path!)).trimEnd().split("\n");
    assertEquals(lines.length, 100);
    assert(lines.every((l, i) => LINE.test(l) && l.includes(`line ${i} `)), "in order");
    await log.close();
  });
});

Deno.test("Logger: one entry per line, control characters escaped, huge messages cut", async () => {
  await withTempDir(async (dir) => {
    const log = await Logger.open({ dir });
    log.info("multi\nline\r\nmessage");
    log.warn("peer sent \x1b[2J\x00 junk");
    log.info("y".repeat(100_000));
    await log.close();
    const text = await Deno.readTextFile(log.path!);
    assert(text.includes("multi\n    line\n    message\n"), text.slice(0, 200));
    assert(text.includes("peer sent \\x1b[2J\\x00 junk"), "escaped");
    assert(!text.includes("\x1b") && !text.includes("\r"), "no raw controls");
    assert(text.length < 9000 + 300, `bounded: ${text.length}`);
  });
});

Deno.test("Logger: appends when two loggers share a file name", async () => {
  await withTempDir(async (dir) => {
    const now = () => 0;
    const a = await Logger.open({ dir, now, pid: 1 });
    a.info("first");
    await a.close();
    const b = await Logger.open({ dir, now, pid: 1 });
    b.info("second");
    await b.close();
    const text = await Deno.readTextFile(b.path!);
    assert(text.includes("first") && text.includes("second"), text);
  });
});

Deno.test("Logger: uncreatable log dir throws LogError", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/plain-file`;
    await Deno.writeTextFile(file, "not a folder");
    await assertRejects(
      () => Logger.open({ dir: `${file}/logs` }),
      LogError,
      "cannot create log folder",
    );
    const err = await assertRejects(() => Logger.open({ dir: file }), LogError);
    assert(!err.message.includes("\n"), "one line");
  });
});

Deno.test("Logger: unwritable log dir throws LogError", async () => {
  if (Deno.build.os === "windows") return;
  await withTempDir(async (dir) => {
    const locked = `${dir}/locked`;
    await Deno.mkdir(locked, { mode: 0o500 });
    await Deno.chmod(locked, 0o500);
    try {
      // root ignores permission bits; only assert when the folder is really read-only.
      let writable = true;
      try {
        await Deno.writeTextFile(`${locked}/probe`, "");
      } catch {
        writable = false;
      }
      if (!writable) {
        await assertRejects(() => Logger.open({ dir: locked }), LogError, "cannot open log file");
      }
    } finally {
      await Deno.chmod(locked, 0o700);
    }
  });
});

Deno.test("Logger.null: drops everything and never touches the disk", async () => {
  const log = Logger.null();
  assertEquals(log.path, undefined);
  assert(!log.enabled("error"));
  log.error("nothing");
  log.child("x").info("nothing");
  await log.flush();
  await log.close();
  assertEquals(log.failure, undefined);
});

Deno.test("Logger: a failing write stops logging and is reported, never thrown", async () => {
  if (Deno.build.os !== "linux") return;
  try {
    await Deno.stat("/dev/full");
  } catch {
    return;
  }
  await withTempDir(async (dir) => {
    const now = () => 0;
    // The log file name points at /dev/full, where every write fails with ENOSPC.
    await Deno.symlink("/dev/full", `${dir}/${logFileName(new Date(0), 9)}`);
    const log = await Logger.open({ dir, now, pid: 9 });
    log.info("lost");
    await log.flush();
    assert(log.failure instanceof LogError, "failure recorded");
    assert(log.failure.message.startsWith("cannot write log file "), log.failure.message);
    assert(!log.enabled("error"), "logging stops after a failure");
    log.error("ignored");
    await log.close();
  });
});
