import {
  announce,
  buildAnnounceUrl,
  percentEncodeBytes,
  scrape,
  scrapeUrlFor,
  startTracker,
  TrackerError,
} from "../../src/tracker/mod.ts";
import { encode } from "../../src/bencode/mod.ts";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { bin, params } from "./_helpers.ts";

type Handler = (req: Request) => Response | Promise<Response>;

/** Runs `fn` against an ad-hoc HTTP server on 127.0.0.1 and always shuts it down. */
async function withServer(handler: Handler, fn: (base: string) => Promise<void>): Promise<void> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

const bencoded = (v: Parameters<typeof encode>[0]) => new Response(new Uint8Array(encode(v)));

Deno.test("percentEncodeBytes keeps only unreserved characters", () => {
  assertEquals(percentEncodeBytes(bin("aZ09-._~ /%+\x00\xff")), "aZ09-._~%20%2F%25%2B%00%FF");
});

Deno.test("buildAnnounceUrl appends to an existing query and drops the fragment", () => {
  const p = params({ event: "started", numWant: 30, key: 0xbeef, trackerId: "t\xff" });
  const url = buildAnnounceUrl("http://t.example/announce?passkey=abc#frag", p);
  assertEquals(
    url,
    "http://t.example/announce?passkey=abc&info_hash=" + "%AB".repeat(20) +
      "&peer_id=-TS0001-xxxxxxxxxxxx&port=6881&uploaded=0&downloaded=0&left=1000&compact=1" +
      "&no_peer_id=1&event=started&numwant=30&key=0000BEEF&trackerid=t%FF",
  );
  assert(buildAnnounceUrl("http://t.example/a?", p).startsWith("http://t.example/a?info_hash="));
  assert(buildAnnounceUrl("http://t.example/a", p).startsWith("http://t.example/a?info_hash="));
});

Deno.test("scrapeUrlFor follows BEP 48", () => {
  assertEquals(scrapeUrlFor("http://x/announce"), "http://x/scrape");
  assertEquals(scrapeUrlFor("http://x/a/announce.php?k=1"), "http://x/a/scrape.php?k=1");
  assertEquals(scrapeUrlFor("http://x/a"), undefined);
  assertEquals(scrapeUrlFor("http://x/announce/x"), undefined);
});

Deno.test("HTTP announce against our own tracker: peers, counts, stopped", async () => {
  const tracker = await startTracker({ interval: 120 });
  try {
    const a = params({ peerId: bin("A".repeat(20)), port: 1111, event: "started" });
    const b = params({ peerId: bin("B".repeat(20)), port: 2222, left: 0, event: "started" });
    const first = await announce(tracker.httpUrl, a);
    assertEquals(first.peers, []);
    assertEquals(first.interval, 120);
    assertEquals(first.minInterval, 60);
    const second = await announce(tracker.httpUrl, b);
    assertEquals(second.peers, [{ host: "127.0.0.1", port: 1111 }]);
    assertEquals([second.complete, second.incomplete], [1, 1]);
    const again = await announce(tracker.httpUrl, { ...a, event: undefined });
    assertEquals(again.peers, [{ host: "127.0.0.1", port: 2222 }]);
    await announce(tracker.httpUrl, { ...b, event: "stopped" });
    const after = await announce(tracker.httpUrl, { ...a, event: undefined });
    assertEquals(after.peers, []);
    assertEquals([after.complete, after.incomplete], [0, 1]);
    const counts = await scrape(tracker.httpUrl, [a.infoHash, new Uint8Array(20)]);
    assertEquals(counts.get("ab".repeat(20)), { complete: 0, downloaded: 0, incomplete: 1 });
    assertEquals(counts.get("00".repeat(20)), { complete: 0, downloaded: 0, incomplete: 0 });
  } finally {
    await tracker.close();
  }
});

Deno.test("HTTP announce sends every BEP 3 parameter and keeps the passkey", async () => {
  let seen = "";
  await withServer((req) => {
    seen = new URL(req.url).search;
    return bencoded({ interval: 60, peers: new Uint8Array(0) });
  }, async (base) => {
    await announce(`${base}/announce?passkey=s3cret`, params({ event: "completed", numWant: 5 }));
  });
  assert(seen.startsWith("?passkey=s3cret&info_hash=" + "%AB".repeat(20)), seen);
  for (const part of ["port=6881", "left=1000", "compact=1", "event=completed", "numwant=5"]) {
    assert(seen.includes(part), `${part} missing in ${seen}`);
  }
});

Deno.test("HTTP failure reason → TrackerError naming the tracker, passkey hidden", async () => {
  await withServer(() => bencoded({ "failure reason": "unregistered torrent" }), async (base) => {
    const e = await assertRejects(
      () => announce(`${base}/announce?passkey=s3cret`, params()),
      TrackerError,
      `tracker ${base}/announce: failure reason: unregistered torrent`,
    );
    assertEquals((e as TrackerError).kind, "failure");
    assert(!e.message.includes("s3cret"));
  });
});

Deno.test("HTTP garbage, errors and statuses", async () => {
  await withServer((req) => {
    const path = new URL(req.url).pathname;
    if (path === "/garbage") return new Response("<html>oops</html>");
    if (path === "/500") return new Response("boom", { status: 500 });
    if (path === "/404f") {
      return new Response(new Uint8Array(encode({ "failure reason": "no" })), { status: 404 });
    }
    if (path === "/list") return bencoded([1, 2]);
    return new Response(null, { status: 302, headers: { location: "/ok" } });
  }, async (base) => {
    await assertRejects(
      () => announce(`${base}/garbage`, params()),
      TrackerError,
      "invalid bencode",
    );
    await assertRejects(() => announce(`${base}/500`, params()), TrackerError, "answered HTTP 500");
    await assertRejects(
      () => announce(`${base}/404f`, params()),
      TrackerError,
      "failure reason: no",
    );
    await assertRejects(() => announce(`${base}/list`, params()), TrackerError, "dictionary");
  });
});

Deno.test("HTTP redirects are followed", async () => {
  await withServer((req) => {
    if (new URL(req.url).pathname === "/ok") return bencoded({ interval: 99, peers: "" });
    return new Response(null, { status: 302, headers: { location: "/ok" } });
  }, async (base) => {
    assertEquals((await announce(`${base}/announce`, params())).interval, 99);
  });
});

Deno.test("HTTP dictionary peer list and peers6", async () => {
  const six = new Uint8Array(18);
  six.set([0x20, 0x01, 0x0d, 0xb8], 0);
  six[15] = 2;
  six[17] = 80;
  await withServer(
    () =>
      bencoded({
        interval: 300,
        peers: [{ ip: "10.0.0.1", port: 6881, "peer id": "p".repeat(20) }, {
          ip: "bad host",
          port: 1,
        }],
        peers6: six,
      }),
    async (base) => {
      const r = await announce(`${base}/announce`, params());
      assertEquals(r.peers, [{ host: "10.0.0.1", port: 6881 }, { host: "2001:db8::2", port: 80 }]);
    },
  );
});

Deno.test("HTTP body larger than the cap is refused (streamed and declared)", async () => {
  const chunk = new Uint8Array(64 * 1024).fill(0x31);
  await withServer((req) => {
    if (new URL(req.url).pathname === "/declared") {
      return new Response(new Uint8Array(3 * 1024 * 1024));
    }
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent++ > 200) c.close(); // 12.8 MiB at most, in case the client never stops
        else c.enqueue(chunk);
      },
    });
    return new Response(stream);
  }, async (base) => {
    await assertRejects(
      () => announce(`${base}/stream`, params()),
      TrackerError,
      "more than 2097152 bytes",
    );
    await assertRejects(() => announce(`${base}/declared`, params()), TrackerError, "more than");
  });
});

Deno.test("HTTP slow tracker times out", async () => {
  let release = () => {};
  const gate = new Promise<void>((r) => (release = r));
  await withServer(async () => {
    await gate;
    return bencoded({ interval: 60 });
  }, async (base) => {
    const started = Date.now();
    const e = await assertRejects(
      () => announce(`${base}/announce`, params({ timeoutMs: 150 })),
      TrackerError,
      "timed out after 150 ms",
    );
    assertEquals((e as TrackerError).kind, "timeout");
    assert(Date.now() - started < 2000);
    release();
  });
});

Deno.test("HTTP abort and unreachable tracker", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const e = await assertRejects(
    () => announce(`http://127.0.0.1:${port}/announce`, params()),
    TrackerError,
    "could not connect",
  );
  assertEquals((e as TrackerError).kind, "network");
  const ac = new AbortController();
  ac.abort();
  await assertRejects(
    () => announce(`http://127.0.0.1:${port}/announce`, params({ signal: ac.signal })),
    TrackerError,
    "aborted",
  );
});

Deno.test("announce rejects unsupported schemes and bad parameters", async () => {
  await assertRejects(
    () => announce("wss://t.example/announce", params()),
    TrackerError,
    'unsupported protocol "wss"',
  );
  await assertRejects(() => announce("nonsense", params()), TrackerError, "not a tracker URL");
  await assertRejects(
    () => announce("http://127.0.0.1:1/announce", params({ infoHash: new Uint8Array(3) })),
    TrackerError,
    "invalid announce parameters: info-hash",
  );
  await assertRejects(
    () => announce("udp://127.0.0.1:1", params({ left: -1 })),
    TrackerError,
    "invalid announce parameters: left",
  );
});
