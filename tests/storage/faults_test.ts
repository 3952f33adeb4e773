import { Storage, StorageError } from "../../src/storage/mod.ts";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { makeLayout, pieceOf, randomBytes, withTempDir } from "./helpers.ts";

Deno.test("faults: a file deleted mid-download makes finish fail and its pieces missing", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(100_000, 51);
    const layout = makeLayout([{ path: ["d", "a.bin"], length: 100_000 }], 16_384, data);
    let storage = await Storage.open(layout, dir);
    try {
      await storage.writePiece(0, pieceOf(layout, data, 0));
      await Deno.remove(`${dir}/d/a.bin`);
      for (let i = 1; i < layout.pieceCount; i++) {
        await storage.writePiece(i, pieceOf(layout, data, i));
      }
      const err = await assertRejects(() => storage.finish(), StorageError, "was deleted during");
      assert(err.message.includes(`${dir}/d/a.bin`), err.message);
    } finally {
      await storage.close();
    }
    // The next open recreates the file; nothing in it counts as had.
    storage = await Storage.open(layout, dir);
    try {
      assertEquals((await storage.verify()).count, 0);
    } finally {
      await storage.close();
    }
  });
});

Deno.test("faults: a file made immutable mid-download fails the write with a clear error", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(50_000, 52);
    const layout = makeLayout([{ path: ["a.bin"], length: 50_000 }], 16_384, data);
    const storage = await Storage.open(layout, dir, { maxOpenFiles: 1 });
    const chattr = async (flag: string) => {
      try {
        const o = await new Deno.Command("chattr", {
          args: [flag, `${dir}/a.bin`],
          stderr: "piped",
        })
          .output();
        return o.success ? null : new TextDecoder().decode(o.stderr).trim();
      } catch (e) {
        return e instanceof Error ? e.message : String(e);
      }
    };
    try {
      await storage.writePiece(0, pieceOf(layout, data, 0));
      const why = await chattr("+i");
      if (why !== null) {
        console.log(`  skipping: chattr +i is not possible here (${why})`);
        return;
      }
      try {
        // The handle opened before stays writable on Linux; a fresh one is refused.
        await storage.close();
        const again = await Storage.open(layout, dir).catch((e) => e);
        if (again instanceof Storage) {
          const e = await assertRejects(
            () => again.writePiece(1, pieceOf(layout, data, 1)),
            StorageError,
            "cannot write",
          );
          assert(e.message.includes("permission denied"), e.message);
          await again.close();
        } else {
          assert(again instanceof StorageError, String(again));
        }
      } finally {
        await chattr("-i");
      }
    } finally {
      await storage.close();
    }
  });
});
