/** A file replaced whole: the new version or, when the write fails, the old one and no litter. */
import { writeFileAtomic } from "../../src/util/mod.ts";
import { assertEquals, assertRejects } from "../assert.ts";

Deno.test("writeFileAtomic: replaces a file, with the mode asked for", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a`, "old, and longer than the new\n");
    await writeFileAtomic(`${dir}/a`, new TextEncoder().encode("new\n"), { mode: 0o600 });
    assertEquals(await Deno.readTextFile(`${dir}/a`), "new\n");
    assertEquals((await Deno.stat(`${dir}/a`)).mode! & 0o777, 0o600);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["a"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic: a failed rename leaves what was there and no temporary file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A folder holding a file cannot be renamed over.
    await Deno.mkdir(`${dir}/taken`);
    await Deno.writeTextFile(`${dir}/taken/keep`, "mine");
    await assertRejects(() => writeFileAtomic(`${dir}/taken`, "x", { sync: true }));
    assertEquals(await Deno.readTextFile(`${dir}/taken/keep`), "mine");
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["taken"]);
    // No folder to write in: the error is the caller's to word.
    await assertRejects(() => writeFileAtomic(`${dir}/none/file`, "x"), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
