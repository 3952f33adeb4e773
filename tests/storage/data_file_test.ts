import { DataFile } from "../../src/storage/data_file.ts";
import { assertEquals, assertRejects } from "../assert.ts";
import { randomBytes, withTempDir } from "./helpers.ts";

Deno.test("DataFile: many writes at once land at their positions", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(64 * 1000, 1);
    const file = await DataFile.open(`${dir}/a`, { write: true, create: true });
    // Backwards and all at once: the write handles' cursors must never mix positions up.
    const writes = [];
    for (let i = 63; i >= 0; i--) writes.push(file.write(data, i * 1000, 1000, i * 1000));
    await Promise.all(writes);
    await file.datasync();
    const back = new Uint8Array(data.length);
    assertEquals(await file.read(back, 0, back.length, 0), data.length);
    assertEquals(back, data);
    await file.close();
    assertEquals(await Deno.readFile(`${dir}/a`), data);
  });
});

Deno.test("DataFile: runs of back-to-back writes and jumps between them land right", async () => {
  await withTempDir(async (dir) => {
    const data = randomBytes(16 * 1000, 3);
    const file = await DataFile.open(`${dir}/a`, { write: true, create: true });
    // The writer skips the seek when a write starts where the last one ended.
    for (const i of [4, 5, 6, 0, 1, 2, 3, 12, 13, 7, 8, 9, 10, 11, 15, 14]) {
      await file.write(data, i * 1000, 1000, i * 1000);
    }
    await file.close();
    assertEquals(await Deno.readFile(`${dir}/a`), data);
  });
});

Deno.test("DataFile: back-to-back writes asked at once, from scattered memory, land right", async () => {
  await withTempDir(async (dir) => {
    // 300 writes of 1000 bytes: more than one call's worth (256 KiB) of a run the writer
    // gathers, each from its own place in the source, with one jump back in the middle.
    const data = randomBytes(300 * 1000, 4);
    const source = new Uint8Array(new SharedArrayBuffer(data.length));
    const slot = (i: number) => (i * 7) % 300; // where write i's bytes sit in `source`
    for (let i = 0; i < 300; i++) {
      source.set(data.subarray(i * 1000, i * 1000 + 1000), slot(i) * 1000);
    }
    const file = await DataFile.open(`${dir}/a`, { write: true, create: true });
    const order = [...Array(300).keys()];
    order.splice(150, 10); // written after the rest: a run, a jump back, another run
    order.push(150, 151, 152, 153, 154, 155, 156, 157, 158, 159);
    await Promise.all(order.map((i) => file.write(source, slot(i) * 1000, 1000, i * 1000)));
    await file.close();
    assertEquals(await Deno.readFile(`${dir}/a`), data);

    // A run whose file was swapped for a link fails as a whole: every write in it is told.
    const bad = await DataFile.open(`${dir}/b`, { write: true, create: true });
    await Deno.remove(`${dir}/b`);
    await Deno.symlink(`${dir}/a`, `${dir}/b`);
    const results = await Promise.allSettled(
      [0, 1, 2].map((i) => bad.write(source, 0, 1000, i * 1000)),
    );
    assertEquals(results.map((r) => r.status), ["rejected", "rejected", "rejected"]);
    await bad.close();
    assertEquals(await Deno.readFile(`${dir}/a`), data);
  });
});

Deno.test("DataFile: writes asked while the writer is busy go later, in the order asked", async () => {
  await withTempDir(async (dir) => {
    const file = await DataFile.open(`${dir}/a`, { write: true, create: true });
    // 4 MiB is posted at once and keeps the worker busy while the rest queue up behind it.
    const big = randomBytes(4 << 20, 5);
    const first = file.write(big, 0, big.length, 0);
    const layers = [6, 7, 8].map((seed) => randomBytes(3000, seed));
    const later = layers.map((bytes, i) => file.write(bytes, 0, bytes.length, 1000 * i));
    await Promise.all([first, ...later]);
    const want = big.slice();
    layers.forEach((bytes, i) => want.set(bytes, 1000 * i));
    await file.close();
    assertEquals(await Deno.readFile(`${dir}/a`), want);
  });
});

Deno.test("DataFile: datasync, truncate and close wait for writes in flight", async () => {
  await withTempDir(async (dir) => {
    const file = await DataFile.open(`${dir}/a`, { write: true, create: true });
    const big = randomBytes(1 << 20, 2);
    const writing = file.write(big, 0, big.length, 0);
    await file.truncate(1000);
    await writing;
    assertEquals((await file.stat()).size, 1000);
    void file.write(big, 0, 4096, 8192);
    await file.close();
    assertEquals((await Deno.stat(`${dir}/a`)).size, 8192 + 4096);
  });
});

Deno.test("DataFile: reads past the end are short; a read-only file refuses writes", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/a`, new Uint8Array([1, 2, 3]));
    const file = await DataFile.open(`${dir}/a`, { write: false });
    const buf = new Uint8Array(10);
    assertEquals(await file.read(buf, 0, 10, 1), 2);
    assertEquals([...buf.subarray(0, 2)], [2, 3]);
    await assertRejects(
      () => file.write(new Uint8Array(1), 0, 1, 0),
      Error,
      "not open for writing",
    );
    await file.close();
  });
});

Deno.test("DataFile: reads asked at once, anywhere in the file, each get their own bytes", async () => {
  await withTempDir(async (dir) => {
    const data = new Uint8Array(100_000).map((_, i) => (i * 7 + (i >> 8)) & 0xff);
    await Deno.writeFile(`${dir}/a`, data);
    const file = await DataFile.open(`${dir}/a`, { write: false });
    // Runs that continue each other and jumps back and forth, all in flight together.
    const asks = [[0, 5000], [5000, 5000], [70_000, 3000], [10_000, 1], [99_990, 50], [0, 100_000]];
    const got = await Promise.all(asks.map(async ([position, length]) => {
      const buf = new Uint8Array(length + 2);
      const n = await file.read(buf, 2, length, position);
      return buf.subarray(2, 2 + n);
    }));
    asks.forEach(([position, length], i) => {
      assertEquals(got[i], data.subarray(position, position + length), `read at ${position}`);
    });
    await file.close();
  });
});

Deno.test("DataFile: never opens through a symbolic link, nor writes to a file swapped in later", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/secret`, new Uint8Array([9, 9, 9]));
    await Deno.symlink(`${dir}/secret`, `${dir}/link`);
    await assertRejects(() => DataFile.open(`${dir}/link`, { write: true }));
    // Nor is a file made through one, dangling or not.
    await Deno.symlink(`${dir}/made`, `${dir}/dangling`);
    for (const name of ["link", "dangling"]) {
      const refused = await assertRejects(() =>
        DataFile.open(`${dir}/${name}`, { write: true, create: true })
      );
      assertEquals((refused as { code?: string }).code, "ELOOP", name);
    }
    assertEquals(await Deno.stat(`${dir}/made`).catch(() => "none"), "none");

    const file = await DataFile.open(`${dir}/a`, { write: true, create: true });
    // Replaced by a link before the first write: the writer must not follow it.
    await Deno.remove(`${dir}/a`);
    await Deno.symlink(`${dir}/secret`, `${dir}/a`);
    const e = await assertRejects(() => file.write(new Uint8Array([1]), 0, 1, 0));
    assertEquals((e as { code?: string }).code, "ELOOP");
    assertEquals(await Deno.readFile(`${dir}/secret`), new Uint8Array([9, 9, 9]));
    await file.close();
  });
});

Deno.test("DataFile: one failed write in a batch fails alone; a file reopened is written anew", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/secret`, new Uint8Array([9, 9, 9]));
    const good = await DataFile.open(`${dir}/good`, { write: true, create: true });
    const bad = await DataFile.open(`${dir}/bad`, { write: true, create: true });
    await Deno.remove(`${dir}/bad`);
    await Deno.symlink(`${dir}/secret`, `${dir}/bad`);
    // Asked in one turn, so they travel in one batch: shared memory and a plain buffer mixed.
    const shared = new Uint8Array(new SharedArrayBuffer(4000));
    shared.fill(1, 0, 2000).fill(2, 2000);
    const results = await Promise.allSettled([
      good.write(shared, 0, 2000, 0),
      bad.write(shared, 0, 1, 0),
      good.write(new Uint8Array(1000).fill(3), 0, 1000, 2000),
      good.write(shared, 2000, 2000, 3000),
    ]);
    assertEquals(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled", "fulfilled"]);
    await Promise.all([good.close(), bad.close()]);
    const want = new Uint8Array(5000).fill(1, 0, 2000).fill(3, 2000, 3000).fill(2, 3000);
    assertEquals(await Deno.readFile(`${dir}/good`), want);
    assertEquals(await Deno.readFile(`${dir}/secret`), new Uint8Array([9, 9, 9]));

    // Closing forgot the path; a new file at it gets a new descriptor in the writer.
    await Deno.remove(`${dir}/good`);
    const again = await DataFile.open(`${dir}/good`, { write: true, create: true });
    await again.write(new Uint8Array([7, 7]), 0, 2, 1);
    await again.close();
    assertEquals(await Deno.readFile(`${dir}/good`), new Uint8Array([0, 7, 7]));
  });
});
