import { DataFile } from "../../src/storage/data_file.ts";
import { canDropCachedPages, dropCachedPages } from "../../src/storage/page_cache.ts";
import { assert, assertEquals } from "../assert.ts";
import { withTempDir } from "./helpers.ts";

/** Bytes of `path` in the page cache, by util-linux's `fincore`. */
async function residentBytes(path: string): Promise<number> {
  const out = await new Deno.Command("fincore", {
    args: ["--bytes", "--noheadings", "--output", "RES", path],
  }).output();
  if (!out.success) throw new Error(`fincore failed: ${new TextDecoder().decode(out.stderr)}`);
  return Number(new TextDecoder().decode(out.stdout).trim());
}

/**
 * Why the page cache cannot be watched here, or `undefined` when it can: Linux with FFI, the
 * `fincore` tool, and a temporary folder whose pages can leave memory (not tmpfs).
 */
async function cannotWatch(dir: string): Promise<string | undefined> {
  if (!canDropCachedPages()) return "no posix_fadvise here (not Linux, or no --allow-ffi)";
  const probe = await new Deno.Command("stat", { args: ["-f", "-c", "%T", dir] }).output()
    .catch(() => undefined);
  if (!probe?.success) return "stat -f failed";
  if (new TextDecoder().decode(probe.stdout).trim() === "tmpfs") return `${dir} is on tmpfs`;
  const fincore = await new Deno.Command("fincore", { args: ["--version"] }).output()
    .catch(() => undefined);
  return fincore?.success ? undefined : "fincore (util-linux) is not installed";
}

Deno.test("dropCachedPages: a synced file's pages leave the page cache", async () => {
  await withTempDir(async (dir) => {
    const why = await cannotWatch(dir);
    if (why) return console.log(`skipped: ${why}`);
    const path = `${dir}/a`;
    await Deno.writeFile(path, new Uint8Array(4 << 20).fill(7));
    using file = await Deno.open(path);
    await file.syncData();
    assertEquals(await residentBytes(path), 4 << 20);
    await dropCachedPages(path);
    assertEquals(await residentBytes(path), 0);
    assertEquals((await Deno.readFile(path)).every((b) => b === 7), true);
  });
});

Deno.test("dropCachedPages: a missing file or a folder is no error", async () => {
  await withTempDir(async (dir) => {
    await dropCachedPages(`${dir}/missing`);
    await dropCachedPages(dir);
  });
});

Deno.test("DataFile: a long write leaves only its unflushed tail in the page cache", async () => {
  await withTempDir(async (dir) => {
    const why = await cannotWatch(dir);
    if (why) return console.log(`skipped: ${why}`);
    const path = `${dir}/a`;
    const file = await DataFile.open(path, { write: true, create: true });
    // 80 MiB in 1 MiB writes: the background flush after 64 MiB drops what it flushed.
    const chunk = new Uint8Array(1 << 20).fill(1);
    for (let i = 0; i < 80; i++) await file.write(chunk, 0, chunk.length, i * chunk.length);
    await file.datasync();
    const resident = await residentBytes(path);
    assert(resident <= 24 << 20, `${resident} bytes still cached of 80 MiB written`);
    await file.close();
    assertEquals((await Deno.stat(path)).size, 80 << 20);
  });
});
