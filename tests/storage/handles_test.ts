import { HandleCache, PROCESS_MAX_OPEN_FILES } from "../../src/storage/handles.ts";
import { assert, assertEquals } from "../assert.ts";
import { withTempDir } from "./helpers.ts";

/**
 * The files among `paths` this process holds open now, from `ls -l /proc/<pid>/fd` (Deno asks
 * for --allow-all to read /proc/self itself).
 */
async function openNow(paths: string[]): Promise<string[]> {
  const out = await new Deno.Command("ls", { args: ["-l", `/proc/${Deno.pid}/fd`] }).output();
  const open = new Set(
    new TextDecoder().decode(out.stdout).split("\n").map((line) => line.split(" -> ")[1]),
  );
  return paths.filter((p) => open.has(p));
}

async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${what} never happened`);
}

Deno.test("HandleCache: the least recently used handle is closed first, by reads and by writes", async () => {
  if (Deno.build.os !== "linux") return console.log("skipped: needs /proc/<pid>/fd");
  await withTempDir(async (dir) => {
    const paths = ["a", "b", "c"].map((n) => `${Deno.realPathSync(dir)}/${n}`);
    for (const p of paths) await Deno.writeFile(p, new Uint8Array(4));
    const byte = new Uint8Array(1);
    for (const touch of ["use", "write"] as const) {
      const cache = new HandleCache(paths, 2);
      await cache.use(0, true, async () => {});
      await cache.use(1, true, async () => {});
      // File 0 again: it becomes the newest, so file 1 is the one to go.
      if (touch === "use") await cache.use(0, true, async () => {});
      else await cache.write(0, byte, 0, 1, 0);
      await cache.use(2, true, async () => {});
      await eventually(
        `file b closed after ${touch}`,
        async () => (await openNow(paths)).length === 2,
      );
      assertEquals(await openNow(paths), [paths[0], paths[2]], touch);
      // Using the newest again changes nothing; the next new file pushes out file 0.
      await cache.write(2, byte, 0, 1, 1);
      await cache.use(1, true, async () => {});
      await eventually("file a closed", async () => !(await openNow(paths)).includes(paths[0]));
      assertEquals(await openNow(paths), [paths[1], paths[2]], touch);
      await cache.closeAll();
      await eventually("every file closed", async () => (await openNow(paths)).length === 0);
    }
  });
});

Deno.test("HandleCache: the caches of a process hold at most PROCESS_MAX_OPEN_FILES together", async () => {
  const dir = await Deno.makeTempDir();
  const caches: HandleCache[] = [];
  try {
    // 40 torrents of 10 files: 400 files read once each, 64 handles allowed a torrent.
    for (let t = 0; t < 40; t++) {
      const paths = [];
      for (let f = 0; f < 10; f++) {
        const path = `${dir}/${t}-${f}`;
        await Deno.writeFile(path, new Uint8Array([t, f]));
        paths.push(path);
      }
      caches.push(new HandleCache(paths, 64));
    }
    const buf = new Uint8Array(2);
    for (const cache of caches) {
      for (let f = 0; f < 10; f++) await cache.use(f, false, (h) => h.read(buf, 0, 2, 0));
    }
    const open = caches.reduce((sum, c) => sum + c.openCount, 0);
    assert(open <= PROCESS_MAX_OPEN_FILES, `${open} handles open`);
    assertEquals(caches.at(-1)!.openCount, 10, "the torrent used last keeps its handles");
    assertEquals(caches[0].openCount, 0, "the one used first gave its up");
    // One closed away still reads.
    await caches[0].use(3, false, (h) => h.read(buf, 0, 2, 0));
    assertEquals([...buf], [0, 3]);
  } finally {
    for (const cache of caches) await cache.closeAll();
    await Deno.remove(dir, { recursive: true });
  }
});
