/**
 * The RPC's HTTP/1.1 server over raw sockets: kept-alive connections, chunked and HEAD answers,
 * `Expect: 100-continue`, HTTP/1.0, and its bounds: a head that does not arrive in time closes
 * its connection, and so does an answer left unread; a flood of idle connections cannot pass
 * `maxConnections`; malformed, oversized or chunked requests get their status; random bytes
 * never stop it.
 */
import { assert, assertEquals } from "../assert.ts";
import { type Http1Handler, Http1Server } from "../../src/rpc/http1.ts";
import { mulberry32 } from "../random.ts";

const LOOPBACK = "127.0.0.1";
const encoder = new TextEncoder(), decoder = new TextDecoder();

/** Echoes the method, path and body; `/stream` answers a body of unknown length. */
const echo: Http1Handler = async (request) => {
  const url = new URL(request.url);
  if (url.pathname === "/stream") {
    return new Response(new Blob(["one,", "two,", "three"]).stream());
  }
  const body = request.body ? await request.text() : "";
  return new Response(`${request.method} ${url.pathname} ${body}`, {
    headers: {
      "Content-Length": String(request.method.length + url.pathname.length + body.length + 2),
    },
  });
};

async function withServer(
  options: Partial<Parameters<typeof Http1Server.listen>[0]>,
  fn: (server: Http1Server) => Promise<void>,
  handler: Http1Handler = echo,
): Promise<void> {
  const errors: string[] = [];
  const server = Http1Server.listen(
    { hostname: LOOPBACK, port: 0, onError: (m) => errors.push(m), ...options },
    handler,
  );
  try {
    await fn(server);
  } finally {
    await server.shutdown();
  }
  assertEquals(errors, [], "nothing a client did is a server failure");
}

/** Polls `check` every 10 ms; throws after 5 s. */
async function waitUntil(check: () => boolean): Promise<void> {
  for (const deadline = performance.now() + 5000; !check();) {
    if (performance.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** True when the server closes `conn` within `ms` (its read ends), false when it stays open. */
async function endsWithin(conn: Deno.TcpConn, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const open = new Promise<false>((r) => timer = setTimeout(() => r(false), ms));
  const ended = conn.read(new Uint8Array(16)).then((n) => n === null, () => true);
  try {
    return await Promise.race([ended, open]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sends `text` on a new connection and reads until the server closes it (or `ms` pass). */
async function exchange(port: number, text: string | Uint8Array, ms = 3000): Promise<string> {
  const conn = await Deno.connect({ hostname: LOOPBACK, port });
  const timer = setTimeout(() => conn.close(), ms);
  try {
    await conn.write(typeof text === "string" ? encoder.encode(text) : text);
    return decoder.decode(await new Response(conn.readable).arrayBuffer());
  } catch {
    return "";
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("http1: kept-alive requests, a chunked body, HEAD, and HTTP/1.0", async () => {
  await withServer({}, async (server) => {
    const answer = await exchange(
      server.port,
      "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
        "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n" +
        "HEAD /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    const parts = answer.split("HTTP/1.1 ");
    assertEquals(parts.length, 4, answer);
    assert(parts[1].startsWith("200 OK") && parts[1].endsWith("\r\n\r\nPOST /a abc"), parts[1]);
    assert(/transfer-encoding: chunked/i.test(parts[2]), parts[2]);
    assert(parts[2].endsWith("4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n"), parts[2]);
    assert(/connection: close/i.test(parts[3]) && parts[3].endsWith("\r\n\r\n"), parts[3]);
    // HTTP/1.0 (no Host needed): no chunks; the body ends with the connection.
    const old = await exchange(server.port, "GET /stream HTTP/1.0\r\n\r\n");
    assert(old.startsWith("HTTP/1.1 200 OK") && old.endsWith("\r\n\r\none,two,three"), old);
    assert(!/chunked/i.test(old), old);
    // And fetch, keeping its connection alive.
    for (let i = 0; i < 3; i++) {
      assertEquals(
        await (await fetch(`http://${LOOPBACK}:${server.port}/c${i}`)).text(),
        `GET /c${i} `,
      );
    }
  });
});

Deno.test("http1: Expect 100-continue gets a 100 before the body is sent", async () => {
  await withServer({}, async (server) => {
    const conn = await Deno.connect({ hostname: LOOPBACK, port: server.port });
    try {
      await conn.write(encoder.encode(
        "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
      ));
      const buffer = new Uint8Array(1024);
      const n = await conn.read(buffer);
      assertEquals(decoder.decode(buffer.subarray(0, n!)), "HTTP/1.1 100 Continue\r\n\r\n");
      await conn.write(encoder.encode("hello"));
      let answer = "";
      while (!answer.endsWith("hello")) {
        const m = await conn.read(buffer);
        if (m === null) break;
        answer += decoder.decode(buffer.subarray(0, m));
      }
      assert(answer.startsWith("HTTP/1.1 200 OK") && answer.endsWith("POST /e hello"), answer);
    } finally {
      conn.close();
    }
  });
});

Deno.test("http1: malformed, oversized and chunked requests get their status and a close", async () => {
  await withServer({ maxHeadBytes: 1024 }, async (server) => {
    const cases: [string, string][] = [
      ["GARBAGE\r\n\r\n", "400"],
      ["GET / HTTP/1.1\r\nBad Header\r\n\r\n", "400"],
      ["GET / HTTP/1.1\r\nNa me: x\r\n\r\n", "400"],
      ["GET / HTTP/2.0\r\n\r\n", "505"],
      ["CONNECT x:1 HTTP/1.1\r\nHost: x\r\n\r\n", "400"],
      ["GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", "400"],
      [`GET / HTTP/1.1\r\nX: ${"a".repeat(2000)}\r\n\r\n`, "431"],
      [
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "411",
      ],
    ];
    for (const [request, status] of cases) {
      const answer = await exchange(server.port, request);
      assert(answer.startsWith(`HTTP/1.1 ${status} `), `${JSON.stringify(request)}: ${answer}`);
      assert(/connection: close/i.test(answer), answer);
    }
  });
});

Deno.test("http1: a body refused unread is read for a little, then the connection is reset", async () => {
  const refuse: Http1Handler = () =>
    Promise.resolve(new Response("too big\n", { status: 413, headers: { Connection: "close" } }));
  await withServer({}, async (server) => {
    const conn = await Deno.connect({ hostname: LOOPBACK, port: server.port });
    const size = 128 << 20;
    let sent = 0, reset = false;
    try {
      await conn.write(
        encoder.encode(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`),
      );
      const buffer = new Uint8Array(1024);
      const n = await conn.read(buffer);
      assert(decoder.decode(buffer.subarray(0, n!)).startsWith("HTTP/1.1 413 "), "answered first");
      const chunk = new Uint8Array(64 * 1024);
      try {
        while (sent < size) sent += await conn.write(chunk);
      } catch (e) {
        // Reset by the server: what this test expects.
        reset = e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.BrokenPipe;
        if (!reset) throw e;
      }
    } finally {
      conn.close();
    }
    assert(reset, "the connection was reset");
    // 16 MiB read and what the kernel's buffers take pass; the rest of 128 MiB does not.
    assert(sent < size / 2, `the server read on: ${sent} bytes went`);
  }, refuse);
});

Deno.test("http1: closing connections read refused bodies within one budget, then reset", async () => {
  const refuse: Http1Handler = () =>
    Promise.resolve(new Response("too big\n", { status: 413, headers: { Connection: "close" } }));
  /**
   * Sends a refused 12 MiB body whole and reads the answer; true when the server reset the
   * connection, which a write after its second of lingering tells (a clean close lets one
   * more write through).
   */
  const resetSending = async (port: number): Promise<boolean> => {
    const conn = await Deno.connect({ hostname: LOOPBACK, port });
    const size = 12 << 20, chunk = new Uint8Array(64 * 1024);
    try {
      await conn.write(
        encoder.encode(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`),
      );
      for (let sent = 0; sent < size;) sent += await conn.write(chunk);
      while (await conn.read(new Uint8Array(1024)) !== null);
      await new Promise((r) => setTimeout(r, 1500));
      await conn.write(chunk.subarray(0, 1));
      return false;
    } catch (e) {
      if (e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.BrokenPipe) {
        return true;
      }
      throw e;
    } finally {
      conn.close();
    }
  };
  // Within the default budget, a lone refused body is read to its end.
  await withServer(
    {},
    async (server) => assertEquals(await resetSending(server.port), false),
    refuse,
  );
  // Past the budget (here 256 KiB a second), the second the server lingers ends in a reset.
  await withServer(
    { lingerRate: 256 * 1024 },
    async (server) => assertEquals(await resetSending(server.port), true),
    refuse,
  );
});

Deno.test("http1: connections waiting for the linger budget let go of their place when they end", async () => {
  const refuse: Http1Handler = () =>
    Promise.resolve(new Response("too big\n", { status: 413, headers: { Connection: "close" } }));
  await withServer({ lingerRate: 64 * 1024 }, async (server) => {
    const size = 4 << 20, chunk = new Uint8Array(64 * 1024);
    const clients = await Promise.all(
      Array.from({ length: 6 }, () => Deno.connect({ hostname: LOOPBACK, port: server.port })),
    );
    const sending = clients.map(async (conn) => {
      try {
        await conn.write(
          encoder.encode(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`),
        );
        for (let sent = 0; sent < size;) sent += await conn.write(chunk);
      } catch {
        // reset: what the server does past its budget
      }
    });
    try {
      await waitUntil(() => server.connections === 6);
      // Each lingers a second; queued behind one another for the budget, they would take
      // 4 s each to have their turn.
      await waitUntil(() => server.connections === 0);
    } finally {
      for (const conn of clients) conn.close();
      await Promise.all(sending);
    }
  }, refuse);
});

Deno.test("http1: past its rate a client gets 429 before its request is built, kept alive", async () => {
  let handled = 0;
  const counting: Http1Handler = (request) => {
    handled++;
    return echo(request, { hostname: LOOPBACK, port: 0, transport: "tcp" });
  };
  await withServer({ rate: { perSecond: 0.001, burst: 2 } }, async (server) => {
    const conn = await Deno.connect({ hostname: LOOPBACK, port: server.port });
    try {
      const answers: string[] = [];
      const buffer = new Uint8Array(4096);
      for (let i = 0; i < 4; i++) {
        await conn.write(
          encoder.encode(`POST /${i} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi`),
        );
        const n = await conn.read(buffer);
        answers.push(decoder.decode(buffer.subarray(0, n ?? 0)).split("\r\n")[0]);
      }
      assertEquals(answers, [
        "HTTP/1.1 200 OK",
        "HTTP/1.1 200 OK",
        "HTTP/1.1 429 Too Many Requests",
        "HTTP/1.1 429 Too Many Requests",
      ]);
      assertEquals(handled, 2, "the throttled ones never reached the handler");
      // A small body that comes after its head is read and dropped: the connection goes on
      // (a flood kept on its connections costs less than one coming back on new ones).
      await conn.write(
        encoder.encode(`POST /4 HTTP/1.1\r\nHost: x\r\nContent-Length: 9000\r\n\r\nabc`),
      );
      await new Promise((r) => setTimeout(r, 50));
      await conn.write(new Uint8Array(8997));
      const n = await conn.read(buffer);
      const kept = decoder.decode(buffer.subarray(0, n ?? 0));
      assert(kept.startsWith("HTTP/1.1 429 ") && !kept.includes("close"), kept);
      // A large one is not waited for: the answer, then the close.
      await conn.write(
        encoder.encode(`POST /5 HTTP/1.1\r\nHost: x\r\nContent-Length: 900000\r\n\r\nabc`),
      );
      const last = decoder.decode(await new Response(conn.readable).arrayBuffer());
      assert(last.startsWith("HTTP/1.1 429 ") && last.includes("Retry-After: 1"), last);
    } finally {
      try {
        conn.close();
      } catch {
        // closed by reading it to its end
      }
    }
  }, counting);
});

Deno.test("http1: a kept-alive connection busy past the head timeout stays; idle past it, it closes", async () => {
  await withServer({ headTimeoutMs: 300 }, async (server) => {
    const conn = await Deno.connect({ hostname: LOOPBACK, port: server.port });
    try {
      // Ten requests 100 ms apart: each head came in time, though the first deadline passed.
      const buffer = new Uint8Array(4096);
      for (let i = 0; i < 10; i++) {
        await conn.write(encoder.encode(`GET /${i} HTTP/1.1\r\nHost: x\r\n\r\n`));
        const n = await conn.read(buffer);
        assert(decoder.decode(buffer.subarray(0, n ?? 0)).endsWith(`GET /${i} `), `answer ${i}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert(await endsWithin(conn, 3000), "closed once idle past the head timeout");
    } finally {
      conn.close();
    }
  });
});

Deno.test("http1: a head that does not arrive in time closes; idle sockets cannot pass the cap", async () => {
  await withServer({ headTimeoutMs: 300, maxConnections: 3 }, async (server) => {
    const started = performance.now();
    const slow = await exchange(server.port, "GET / HTTP/1.1\r\nHost: x\r\nX-A: ", 5000);
    const waited = performance.now() - started;
    assertEquals(slow, "", "closed without an answer");
    assert(waited >= 250 && waited < 3000, `closed after ${waited.toFixed(0)} ms`);
  });

  // Three sockets that say nothing take every slot; once they have waited past the grace (a
  // second), a fourth client is served in place of one of them, long before any head times out.
  await withServer({ headTimeoutMs: 5000, maxConnections: 3 }, async (server) => {
    const idle = await Promise.all(
      [1, 2, 3].map(() => Deno.connect({ hostname: LOOPBACK, port: server.port })),
    );
    await waitUntil(() => server.connections === 3);
    await new Promise((r) => setTimeout(r, 1100));
    const asked = performance.now();
    assertEquals(await (await fetch(`http://${LOOPBACK}:${server.port}/now`)).text(), "GET /now ");
    assert(performance.now() - asked < 3000, "served before any head timed out");
    assert(server.connections <= 3, `${server.connections} connections open`);
    const ended = await Promise.all(idle.map((c) => endsWithin(c, 1000)));
    assertEquals(ended.filter(Boolean).length, 1, "the one that waited longest was closed");
    for (const c of idle) c.close();
  });

  // When every connection is busy answering, a new one waits for a free slot.
  let release!: () => void, holding = 0;
  const held = new Promise<void>((r) => release = r);
  const hold: Http1Handler = async (request) => {
    if (new URL(request.url).pathname === "/hold") {
      holding++;
      await held;
    }
    return new Response("done");
  };
  await withServer({ maxConnections: 2 }, async (server) => {
    const url = `http://${LOOPBACK}:${server.port}`;
    const busy = [fetch(`${url}/hold`), fetch(`${url}/hold`)];
    await waitUntil(() => holding === 2);
    let served = false;
    const later = fetch(`${url}/x`).then(async (r) => {
      served = true;
      return await r.text();
    });
    await new Promise((r) => setTimeout(r, 200));
    assert(!served, "no slot while both are busy");
    release();
    assertEquals(await later, "done");
    for (const r of await Promise.all(busy)) await r.body?.cancel();
  }, hold);
});

Deno.test("http1: a reader that goes away cancels the body; random bytes never stop the server", async () => {
  let cancelled = false;
  const endless: Http1Handler = () =>
    Promise.resolve(
      new Response(
        new ReadableStream<Uint8Array>({
          pull: (c) => c.enqueue(new Uint8Array(64 * 1024)),
          cancel: () => void (cancelled = true),
        }),
      ),
    );
  await withServer({ headTimeoutMs: 200 }, async (server) => {
    const conn = await Deno.connect({ hostname: LOOPBACK, port: server.port });
    await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    await conn.read(new Uint8Array(1024));
    conn.close();
    for (let i = 0; i < 100 && !cancelled; i++) await new Promise((r) => setTimeout(r, 20));
    assert(cancelled, "the body was cancelled");
  }, endless);

  // A client that stays but stops reading is closed once no byte leaves for writeTimeoutMs.
  cancelled = false;
  await withServer({ writeTimeoutMs: 300 }, async (server) => {
    const conn = await Deno.connect({ hostname: LOOPBACK, port: server.port });
    await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    await waitUntil(() => cancelled);
    await waitUntil(() => server.connections === 0);
    conn.close();
  }, endless);

  await withServer({ headTimeoutMs: 200 }, async (server) => {
    const rnd = mulberry32(7);
    const valid = "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody";
    await Promise.all(Array.from({ length: 300 }, async (_, i) => {
      const bytes = encoder.encode(valid);
      const mutated = i % 2 === 0
        ? bytes.map((b) => (rnd() < 0.05 ? Math.floor(rnd() * 256) : b))
        : Uint8Array.from({ length: 1 + Math.floor(rnd() * 300) }, () => Math.floor(rnd() * 256));
      await exchange(server.port, mutated, 1000);
    }));
    assertEquals(
      await (await fetch(`http://${LOOPBACK}:${server.port}/still`)).text(),
      "GET /still ",
    );
  });
});

Deno.test("http1: on [::1], and a request without Host (HTTP/1.0) still parses", async () => {
  await withServer({ hostname: "::1" }, async (server) => {
    const conn = await Deno.connect({ hostname: "::1", port: server.port });
    await conn.write(encoder.encode("GET /v6 HTTP/1.0\r\n\r\n"));
    const answer = decoder.decode(await new Response(conn.readable).arrayBuffer());
    assert(answer.startsWith("HTTP/1.1 200 OK") && answer.endsWith("GET /v6 "), answer);
    assertEquals(await (await fetch(`http://[::1]:${server.port}/x`)).text(), "GET /x ");
  });
});

Deno.test("http1: a shutdown cancels an answer waiting for its body instead of waiting for it", async () => {
  let cancelled = false, asked = false;
  const stalled: Http1Handler = () =>
    Promise.resolve(void (asked = true)).then(() =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull: () => new Promise(() => {}),
          cancel: () => void (cancelled = true),
        }),
      )
    );
  const server = Http1Server.listen({ hostname: LOOPBACK, port: 0 }, stalled);
  const conn = await Deno.connect({ hostname: LOOPBACK, port: server.port });
  try {
    await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    await waitUntil(() => asked);
    const started = performance.now();
    await server.shutdown();
    // The handlers' second of grace would be spent in full had the body not been cancelled.
    assert(performance.now() - started < 900, "no wait for a body that never comes");
    assert(cancelled, "the body was cancelled");
  } finally {
    conn.close();
  }
});

Deno.test("http1: a client that hangs up while its answer waits for its first bytes cancels it", async () => {
  let cancelled = false, asked = false;
  const waiting: Http1Handler = () =>
    Promise.resolve(void (asked = true)).then(() =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull: () => new Promise(() => {}),
          cancel: () => void (cancelled = true),
        }),
      )
    );
  await withServer({}, async (server) => {
    const conn = await Deno.connect({ hostname: LOOPBACK, port: server.port });
    await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    await waitUntil(() => asked);
    conn.close();
    await waitUntil(() => cancelled);
    await waitUntil(() => server.connections === 0);
  }, waiting);
});
