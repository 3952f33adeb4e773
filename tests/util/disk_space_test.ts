import { statfs } from "node:fs/promises";
import { diskSpace, fsReason } from "../../src/util/mod.ts";
import { statvfsSpace } from "../../src/util/disk_space.ts";
import { assert, assertEquals, assertRejects } from "../assert.ts";

Deno.test("diskSpace: the same file system figures as node:fs statfs, through statvfs on Linux", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const viaFfi = await statvfsSpace(dir);
    // The FFI half answers itself on Linux (the tests run with FFI); elsewhere node:fs answers.
    assertEquals(viaFfi !== undefined, Deno.build.os === "linux", "statvfs through FFI");
    const [ours, node] = await Promise.all([viaFfi ?? diskSpace(dir), statfs(dir)]);
    assertEquals(ours.total, node.blocks * node.bsize);
    // Other processes write meanwhile: the free space may move a little between the two looks.
    const nodeFree = node.bavail * node.bsize;
    assert(Math.abs(ours.available - nodeFree) <= 64 * 2 ** 20, `${ours.available} ${nodeFree}`);
    assert(ours.available > 0 && ours.available <= ours.total, JSON.stringify(ours));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("diskSpace: a missing folder, or a path with a NUL, is refused with the OS's error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = await diskSpace(`${dir}/no/such`).catch((e) => e);
    assertEquals(fsReason(missing), "no such file or folder");
    await assertRejects(() => diskSpace(`${dir}\0/etc`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
