import { Storage, StorageError } from "../../src/storage/mod.ts";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { exists, makeLayout, pieceOf, randomBytes, withTempDir } from "./helpers.ts";

const SPECS = [
  { path: ["t", "a.bin"], length: 70_000 },
  { path: [".pad", "x"], length: 1_000, padding: true },
  { path: ["t", "b.bin"], length: 30_001 },
  { path: ["t", "c.bin"], length: 9_000 },
];
const TOTAL = 70_000 + 1_000 + 30_001 + 9_000;

/** Mounts a tmpfs of `size` at a fresh folder; null (with the reason printed) when impossible. */
async function tmpfs(size: string): Promise<string | null> {
  const dir = await Deno.makeTempDir({ prefix: "bt-prealloc-fs-" });
  try {
    const out = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
      stderr: "piped",
    }).output();
    if (out.success) return dir;
    console.log(`skipping: mount tmpfs failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  } catch (e) {
    console.log(`skipping: cannot run mount: ${e instanceof Error ? e.message : e}`);
  }
  await Deno.remove(dir);
  return null;
}

async function unmount(dir: string): Promise<void> {
  await new Deno.Command("umount", { args: [dir] }).output();
  await Deno.remove(dir, { recursive: true });
}

Deno.test("prealloc: chosen files have full size at open; existing data is kept", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(TOTAL, 41);
    const layout = makeLayout(SPECS, 16_384, data);
    // An earlier run left the first piece of a.bin, and c.bin longer than it should be.
    await Deno.mkdir(`${dir}/t`);
    await Deno.writeFile(`${dir}/t/a.bin`, pieceOf(layout, data, 0));
    const long = randomBytes(12_000, 42);
    await Deno.writeFile(`${dir}/t/c.bin`, long);
    const storage = await Storage.open(layout, dir, { preallocate: true });
    try {
      assertEquals((await Deno.stat(`${dir}/t/a.bin`)).size, 70_000);
      assertEquals((await Deno.stat(`${dir}/t/b.bin`)).size, 30_001);
      assertEquals(await Deno.readFile(`${dir}/t/c.bin`), long, "never shortened nor rewritten");
      assert(!(await exists(`${dir}/.pad`)), "no pad file");
      const a = await Deno.readFile(`${dir}/t/a.bin`);
      assertEquals(a.subarray(0, 16_384), pieceOf(layout, data, 0), "existing data untouched");
      assert(a.subarray(16_384).every((b) => b === 0), "the rest reads as zeros");
      // Zeros never count as data.
      assertEquals((await storage.verify()).count, 1);
      for (let i = 1; i < layout.pieceCount; i++) {
        await storage.writePiece(i, pieceOf(layout, data, i));
      }
      await storage.finish();
      assertEquals((await storage.verify()).count, layout.pieceCount);
      assertEquals((await Deno.stat(`${dir}/t/c.bin`)).size, 9_000, "trimmed at finish");
    } finally {
      await storage.close();
    }
  });
});

Deno.test("prealloc: only the chosen files grow; a second open changes nothing", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(TOTAL, 43);
    const layout = makeLayout(SPECS, 16_384, data);
    const opts = { preallocate: true, selected: [false, false, true, false] };
    let storage = await Storage.open(layout, dir, opts);
    await storage.close();
    assertEquals((await Deno.stat(`${dir}/t/b.bin`)).size, 30_001);
    assert(!(await exists(`${dir}/t/a.bin`)) && !(await exists(`${dir}/t/c.bin`)));
    const before = await Deno.stat(`${dir}/t/b.bin`);
    storage = await Storage.open(layout, dir, opts);
    await storage.close();
    assertEquals((await Deno.stat(`${dir}/t/b.bin`)).mtime, before.mtime);
  });
});

Deno.test("prealloc: without it files stay sparse and empty at open", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(TOTAL, 44);
    const storage = await Storage.open(makeLayout(SPECS, 16_384, data), dir);
    await storage.close();
    assertEquals((await Deno.stat(`${dir}/t/a.bin`)).size, 0);
  });
});

Deno.test("prealloc: too little space is one clear error before anything is written", async () => {
  const fs = await tmpfs("1m");
  if (fs === null) return;
  try {
    const data = new Uint8Array(3 * 1024 * 1024);
    const layout = makeLayout(
      [{ path: ["big", "a.bin"], length: 2 * 1024 * 1024 }, {
        path: ["big", "b.bin"],
        length: 1024 * 1024,
      }],
      262_144,
      data,
    );
    const err = await assertRejects(
      () => Storage.open(layout, `${fs}/out`, { preallocate: true }),
      StorageError,
      "not enough space for 3.0 MiB in",
    );
    assertEquals(err.message.split("\n").length, 1);
    assert(err.message.includes(`${fs}/out`), err.message);
    assertEquals((err as StorageError).code, "ENOSPC");
    assertEquals((await Deno.stat(`${fs}/out/big/a.bin`)).size, 0, "nothing was written");
    // The same torrent fits once sparse: open works, nothing is reserved.
    const storage = await Storage.open(layout, `${fs}/out`);
    await storage.close();
  } finally {
    await unmount(fs);
  }
});
