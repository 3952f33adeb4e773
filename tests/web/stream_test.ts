/**
 * HTTP streaming over a real download on 127.0.0.1: a range far into a file arrives long before
 * the download is done (its pieces are fetched first), a seek back gets the right bytes too,
 * and the whole file matches at the end; bad requests get their status, never a crash.
 */
import { Client } from "../../src/client/mod.ts";
import { createTorrentFromBuffers } from "../../src/metainfo/mod.ts";
import { RpcServer } from "../../src/rpc/mod.ts";
import { webPages } from "../../src/web/mod.ts";
import { assert, assertEquals } from "../assert.ts";
import {
  addressOf,
  LOOPBACK,
  openJob,
  patternBytes,
  torrentOf,
  waitFor,
  writePayload,
} from "../integration/helpers.ts";

const MOVIE = patternBytes(4 << 20, 77);
const NOTES = patternBytes(5000, 78);
const FILES = [{ path: ["movie.mp4"], data: MOVIE }, { path: ["notes.txt"], data: NOTES }];
const TORRENT = torrentOf(
  createTorrentFromBuffers("film", FILES, { pieceLength: 16384, creationDate: null }),
);

Deno.test("stream: a range is served while downloading, a seek too, then the whole file", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-stream-" });
  await writePayload(`${root}/seed`, "film", FILES);
  // About four seconds for the whole torrent, so what comes first can be seen.
  const seeder = await openJob(TORRENT, `${root}/seed`, {
    seed: true,
    hub: { maxUploadRate: 1 << 20 },
  });
  seeder.start();
  const client = await Client.open({ port: 0, hostname: LOOPBACK, utp: false });
  const server = RpcServer.start({ port: 0, methods: {}, pages: webPages(client) });
  const base = `http://127.0.0.1:${server.port}/stream/${TORRENT.infoHashHex}`;
  try {
    const t = client.add({ torrent: TORRENT });
    const job = await t.open({ output: `${root}/out`, seed: true });
    t.start();
    job.addPeers([addressOf(seeder)]);

    const far = await fetch(`${base}/0`, { headers: { Range: "bytes=3000000-3099999" } });
    assertEquals(far.status, 206);
    assertEquals(far.headers.get("content-range"), `bytes 3000000-3099999/${MOVIE.length}`);
    assertEquals(far.headers.get("content-type"), "video/mp4");
    assertEquals(new Uint8Array(await far.arrayBuffer()), MOVIE.subarray(3000000, 3100000));
    const pieces = job.have.size;
    assert(
      job.have.count < pieces / 2,
      `the range came first: ${job.have.count} of ${pieces} pieces when it was served`,
    );

    // A seek back, read in part and dropped, as a player does.
    const back = await fetch(`${base}/0`, { headers: { Range: "bytes=100000-" } });
    assertEquals(back.status, 206);
    const reader = back.body!.getReader();
    const first = await reader.read();
    assert(first.value!.length > 0, "bytes came");
    assertEquals(first.value, MOVIE.subarray(100000, 100000 + first.value!.length));
    await reader.cancel();

    const head = await fetch(`${base}/1`, { method: "HEAD" });
    assertEquals([head.status, head.headers.get("content-length")], [200, "5000"]);
    assertEquals(head.headers.get("accept-ranges"), "bytes");

    const whole = await fetch(`${base}/1`);
    assertEquals(new Uint8Array(await whole.arrayBuffer()), NOTES);
    const all = await fetch(`${base}/0`);
    assertEquals(all.status, 200);
    assertEquals(new Uint8Array(await all.arrayBuffer()), MOVIE);
    await waitFor("the download done", () => t.state === "seeding", 20_000);

    const bad: [string, RequestInit, number][] = [
      [`${base}/0`, { headers: { Range: `bytes=${MOVIE.length}-` } }, 416],
      [`${base}/2`, {}, 404],
      [`${base}/x`, {}, 404],
      [`http://127.0.0.1:${server.port}/stream/${"0".repeat(40)}/0`, {}, 404],
      [`${base}/0`, { method: "POST", body: "x" }, 405],
    ];
    for (const [url, init, status] of bad) {
      const response = await fetch(url, init);
      await response.body?.cancel();
      assertEquals(response.status, status, `${init.method ?? "GET"} ${url}`);
    }
    await t.pause();
    const paused = await fetch(`${base}/0`);
    await paused.body?.cancel();
    assertEquals(paused.status, 409, "a stopped torrent says so");
  } finally {
    await server.stop();
    await client.stop();
    await seeder.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("stream: a resting seed opens its files for the reader and rests again after", async () => {
  const root = await Deno.makeTempDir({ prefix: "bt-stream-" });
  await writePayload(root, "film", FILES);
  const client = await Client.open({ port: 0, hostname: LOOPBACK, utp: false });
  const server = RpcServer.start({ port: 0, methods: {}, pages: webPages(client) });
  const base = `http://127.0.0.1:${server.port}/stream/${TORRENT.infoHashHex}`;
  try {
    const t = client.add({ torrent: TORRENT });
    const job = await t.open({ output: root, seed: true, rest: true, restAfterMs: 1_000 });
    t.start();
    assert(job.resting, "complete with no peer: resting");
    assertEquals(t.state, "seeding");

    const range = await fetch(`${base}/0`, { headers: { Range: "bytes=2000000-2099999" } });
    assertEquals(range.status, 206);
    const reader = range.body!.getReader();
    const first = await reader.read();
    assert(!job.resting, "awake for the reader");
    const rest: Uint8Array[] = [first.value!];
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest.push(r.value);
    const got = new Uint8Array(rest.reduce((n, c) => n + c.length, 0));
    rest.reduce((at, c) => (got.set(c, at), at + c.length), 0);
    assertEquals(got, MOVIE.subarray(2000000, 2100000));
    await waitFor("a rest once the body ended", () => job.resting, 5_000);

    // A HEAD and a cancelled read let it go too.
    await (await fetch(`${base}/1`, { method: "HEAD" })).body?.cancel();
    const dropped = await fetch(`${base}/0`);
    await dropped.body!.cancel();
    await waitFor("a rest after a HEAD and a dropped read", () => job.resting, 5_000);
  } finally {
    await server.stop();
    await client.stop();
    await Deno.remove(root, { recursive: true });
  }
});
