/** The committed test torrents are what `testdata/torrents.ts` makes, and each is listed. */
import { TEST_TORRENTS, TORRENTS_DIR } from "../testdata/torrents.ts";
import { assertEquals } from "./assert.ts";

Deno.test("testdata: every committed torrent is what its generator makes, and the README lists it", async () => {
  const onDisk = [...Deno.readDirSync(TORRENTS_DIR)].map((e) => e.name).sort();
  assertEquals(onDisk, TEST_TORRENTS.map((t) => t.file).sort());
  const readme = await Deno.readTextFile(new URL("../testdata/README.md", import.meta.url));
  for (const t of TEST_TORRENTS) {
    assertEquals(await Deno.readFile(new URL(t.file, TORRENTS_DIR)), t.make(), t.file);
    assertEquals(readme.includes(`\`torrents/${t.file}\``), true, `README lists ${t.file}`);
  }
});
