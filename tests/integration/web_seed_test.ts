/**
 * Web seeds (BEP 19) end to end: our client downloads from HTTP mirrors on 127.0.0.1 served by
 * tests/web_server.ts, with no peer at all, beside hostile mirrors, and beside peers.
 */
import { createTorrentFromBuffers, type Torrent } from "../../src/metainfo/mod.ts";
import type { TorrentJob } from "../../src/client/mod.ts";
import { assert, assertEquals } from "../assert.ts";
import { type Behaviour, serveFiles, type WebServer } from "../web_server.ts";
import {
  addressOf,
  assertPayload,
  MemoryLog,
  openJob,
  patternBytes,
  torrentOf,
  within,
  writePayload,
} from "./helpers.ts";

/** Waits short enough for tests: a quick back-off, a quick stall. */
const FAST_WEB_SEED = { retryMs: 100, maxRetryMs: 1_000, stallMs: 1_000, runBytes: 256 * 1024 };

const FOLDER = [
  { path: ["a.bin"], data: patternBytes(700_001, 1) },
  { path: ["sub dir", "b #2.bin"], data: patternBytes(300_000, 2) },
  { path: ["c.txt"], data: patternBytes(1_000, 3) },
];

/** A folder torrent whose files `server` holds under `/pub/`, and its URLs. */
function folderTorrent(urls: string[], version: "v1" | "hybrid" = "v1"): Torrent {
  return torrentOf(createTorrentFromBuffers("album", FOLDER, {
    pieceLength: 65536,
    urlList: urls,
    creationDate: null,
    version,
  }));
}

/** Runs `fn` with a fresh temporary folder, removed after. */
async function withTempDir<T>(fn: (root: string) => Promise<T>): Promise<T> {
  const root = await Deno.makeTempDir();
  try {
    return await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** Serves `root` through `behave`, runs `fn`, closes the server. */
async function withServer<T>(
  root: string,
  behave: Behaviour | undefined,
  fn: (server: WebServer) => Promise<T>,
): Promise<T> {
  const server = serveFiles(root, behave);
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

/** Runs `job` to the end of its download (within 20 s), then stops it. */
async function finish(job: TorrentJob): Promise<TorrentJob> {
  job.start();
  try {
    await within("the download", 20_000, job.done);
  } finally {
    await job.stop();
  }
  return job;
}

/** Downloads `torrent` into `out` with no peer, web seeds only. */
async function download(torrent: Torrent, out: string, log = new MemoryLog()): Promise<TorrentJob> {
  return await finish(await openJob(torrent, out, { log, webSeed: FAST_WEB_SEED }));
}

Deno.test("web seed: a single-file torrent from its URL, and from a folder URL ending in /", async () => {
  await withTempDir(async (root) => {
    const data = patternBytes(1_234_567, 9);
    await writePayload(`${root}/srv`, "x.iso", data);
    await withServer(`${root}/srv`, undefined, async (server) => {
      for (const [i, url] of [`${server.url}x.iso`, server.url].entries()) {
        const torrent = torrentOf(createTorrentFromBuffers("x.iso", data, {
          pieceLength: 32768,
          urlList: [url],
          creationDate: null,
        }));
        const job = await download(torrent, `${root}/out${i}`);
        await assertPayload(`${root}/out${i}`, "x.iso", data);
        const stats = job.stats();
        assertEquals(stats.webSeedDownloaded, data.length, "every byte from the web seed");
        assertEquals(stats.downloaded, data.length);
      }
      // Runs of pieces, not a request a piece (38 pieces a download).
      assert(server.requests.length < 38, `${server.requests.length} requests`);
    });
  });
});

Deno.test("web seed: a folder torrent, paths percent-encoded, v1 and hybrid (pad files)", async () => {
  await withTempDir(async (root) => {
    await writePayload(`${root}/srv/pub`, "album", FOLDER);
    await withServer(`${root}/srv`, undefined, async (server) => {
      for (const version of ["v1", "hybrid"] as const) {
        const torrent = folderTorrent([`${server.url}pub/`], version);
        await download(torrent, `${root}/${version}`);
        await assertPayload(`${root}/${version}`, "album", FOLDER);
      }
      assert(server.requests.some((r) => r.startsWith("GET /pub/album/sub dir/b #2.bin bytes=")));
      assert(server.requests.every((r) => !r.includes(".pad")), "pad files are never asked for");
    });
  });
});

/** Bytes of the FOLDER file at URL path `path` (ending in `/album/<its path>`). */
function fileBytes(path: string): Uint8Array<ArrayBuffer> {
  const f = FOLDER.find((f) => path.endsWith(`/album/${f.path.join("/")}`))!;
  return f.data.slice();
}

/**
 * A 206 answering `range` of the file at `path`, spoilt as asked: a body `extra` bytes longer
 * (shorter when negative), a Content-Range moved `shift` bytes on, or a byte flipped.
 */
function spoilt(
  path: string,
  range: { start: number; end: number } | undefined,
  how: { extra?: number; shift?: number; flip?: boolean },
): Response {
  const { start, end } = range!;
  const data = fileBytes(path);
  const body = data.slice(start, end + 1 + (how.extra ?? 0));
  if (how.flip) body[body.length >> 1] ^= 0xff;
  const shift = how.shift ?? 0;
  return new Response(body, {
    status: 206,
    headers: { "content-range": `bytes ${start + shift}-${end + shift}/${data.length}` },
  });
}

/** Hostile answers, each paired with what the web seed must report about it. */
const HOSTILE: [string, Behaviour, string][] = [
  ["404", () => new Response("gone", { status: 404 }), "HTTP 404"],
  ["500", () => new Response("oops", { status: 500 }), "HTTP 500"],
  ["200 without ranges", (_, path) => new Response(fileBytes(path)), "does not serve byte ranges"],
  ["a short body", (_, path, r) => spoilt(path, r, { extra: -1 }), "short body"],
  ["an overlong body", (_, path, r) => spoilt(path, r, { extra: 2 }), "longer than the range"],
  ["a wrong Content-Range", (_, path, r) => spoilt(path, r, { shift: 1 }), "is not bytes"],
  ["corrupt bytes", (_, path, r) => spoilt(path, r, { flip: true }), "failed its hash check"],
  [
    "a stalled body",
    (_, path, r) =>
      new Response(new ReadableStream({ start: (c) => c.enqueue(new Uint8Array(10)) }), {
        status: 206,
        headers: { "content-range": `bytes ${r!.start}-${r!.end}/${fileBytes(path).length}` },
      }),
    "stalled",
  ],
  ["a redirect loop", (req) => Response.redirect(req.url, 302), "redirect"],
];

for (const [name, behave, logged] of HOSTILE) {
  Deno.test(`web seed: a mirror answering with ${name} beside an honest one: the download completes`, async () => {
    await withTempDir(async (root) => {
      await writePayload(`${root}/srv/pub`, "album", FOLDER);
      await withServer(
        `${root}/srv`,
        behave,
        (bad) =>
          withServer(`${root}/srv`, undefined, async (good) => {
            const torrent = folderTorrent([`${bad.url}pub/`, `${good.url}pub/`]);
            const log = new MemoryLog();
            const job = await download(torrent, `${root}/out`, log);
            await assertPayload(`${root}/out`, "album", FOLDER);
            const [badSeed, goodSeed] = job.webSeeds();
            assert(badSeed.lastError?.includes(logged), `${name}: ${JSON.stringify(badSeed)}`);
            assert(goodSeed.bytes > 0, "the honest mirror sent data");
            assert(log.find(`web seed ${bad.url}pub/`).length > 0, "the log names the mirror");
          }),
      );
    });
  });
}

Deno.test("web seed: 503 with Retry-After is waited out, then the mirror is used", async () => {
  await withTempDir(async (root) => {
    await writePayload(`${root}/srv/pub`, "album", FOLDER);
    let busy = 2;
    const behave: Behaviour = () =>
      busy-- > 0
        ? new Response("busy", { status: 503, headers: { "retry-after": "1" } })
        : undefined;
    await withServer(`${root}/srv`, behave, async (server) => {
      const started = performance.now();
      const log = new MemoryLog();
      await download(folderTorrent([`${server.url}pub/`]), `${root}/out`, log);
      await assertPayload(`${root}/out`, "album", FOLDER);
      assert(performance.now() - started >= 900, "it waited as the server asked");
      assert(log.find("busy (503); retrying in 1s").length > 0, log.lines.join("\n"));
    });
  });
});

Deno.test("web seed: a mirror that keeps sending bad pieces is dropped; peers finish the job", async () => {
  await withTempDir(async (root) => {
    await writePayload(`${root}/seed`, "album", FOLDER);
    const corrupt: Behaviour = (_, path, r) => spoilt(path, r, { flip: true });
    await withServer(`${root}/seed`, corrupt, async (server) => {
      const torrent = folderTorrent([`${server.url}`]);
      // A slow peer: the mirror has time to fail twice before it finishes.
      const seeder = await openJob(torrent, `${root}/seed`, {
        seed: true,
        webSeeds: false,
        hub: { maxUploadRate: 400_000 },
      });
      seeder.start();
      const log = new MemoryLog();
      const job = await openJob(torrent, `${root}/out`, {
        log,
        webSeed: FAST_WEB_SEED,
        peers: [addressOf(seeder)],
      });
      try {
        await finish(job);
      } finally {
        await seeder.stop();
      }
      await assertPayload(`${root}/out`, "album", FOLDER);
      assertEquals(job.webSeeds()[0].state, "dropped");
      assert(log.find("dropped: piece").length === 1, log.lines.join("\n"));
    });
  });
});

Deno.test("web seed: a mirror and a peer share the download; --no-web-seeds leaves the mirror alone", async () => {
  await withTempDir(async (root) => {
    const data = patternBytes(4 << 20, 17);
    await writePayload(`${root}/seed`, "big.bin", data);
    // A mirror slow to answer and a peer slow to send (some 2 s for the whole), so neither can
    // take it all before the other starts, however fast the machine.
    const slow: Behaviour = () => new Promise((r) => setTimeout(() => r(undefined), 50));
    await withServer(`${root}/seed`, slow, async (server) => {
      const torrent = torrentOf(createTorrentFromBuffers("big.bin", data, {
        pieceLength: 65536,
        urlList: [server.url],
        creationDate: null,
      }));
      const seeder = await openJob(torrent, `${root}/seed`, {
        seed: true,
        webSeeds: false,
        hub: { maxUploadRate: 2_000_000 },
      });
      seeder.start();
      try {
        for (const webSeeds of [true, false]) {
          const out = `${root}/out-${webSeeds}`;
          const asked = server.requests.length;
          const job = await openJob(torrent, out, {
            webSeeds,
            webSeed: FAST_WEB_SEED,
            peers: [addressOf(seeder)],
          });
          await finish(job);
          await assertPayload(out, "big.bin", data);
          const s = job.stats();
          assertEquals(s.downloaded, data.length);
          const web = s.webSeedDownloaded;
          if (webSeeds) {
            assert(web > 0 && web < data.length, `${web} of ${data.length} from the mirror`);
          } else assertEquals([web, server.requests.length], [0, asked], "the mirror left alone");
        }
      } finally {
        await seeder.stop();
      }
    });
  });
});
