/**
 * The RPC endpoint's guards and message format, with raw HTTP on 127.0.0.1: the session-id
 * handshake (409), the Host allow-list (421), Basic authentication (401), the body limits (411,
 * 413),
 * POST only (405), the rate limit (429), bad JSON, unknown methods and tags, a method that
 * refuses and one that fails; and a slow client that never finishes its request does not hold up
 * the others.
 */
import { RpcError, RpcServer, type RpcServerOptions } from "../../src/rpc/mod.ts";
import { assert, assertEquals } from "../assert.ts";

const methods: RpcServerOptions["methods"] = {
  "session-get": () => ({ version: "test" }),
  "echo": (args) => ({ got: args }),
  "refuse": () => {
    throw new RpcError("no such torrent");
  },
  "fail": () => {
    throw new Error("disk on fire");
  },
};

async function withServer(
  options: Partial<RpcServerOptions>,
  fn: (server: RpcServer, url: string) => Promise<void>,
): Promise<void> {
  const server = RpcServer.start({ port: 0, methods, ...options });
  try {
    await fn(server, `http://127.0.0.1:${server.port}/transmission/rpc`);
  } finally {
    await server.stop();
  }
}

/** POSTs `body` with the session id (unless `id` is given, even empty) and other headers. */
async function post(
  url: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(url, { method: "POST", body, headers });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

Deno.test("rpc: the first request gets 409 with the id; with it, methods answer with the tag", async () => {
  await withServer({}, async (server, url) => {
    const first = await post(url, JSON.stringify({ method: "session-get" }));
    assertEquals(first.status, 409);
    assertEquals(first.headers.get("X-Transmission-Session-Id"), server.sessionId);
    const id = { "X-Transmission-Session-Id": server.sessionId };
    const ok = await post(url, JSON.stringify({ method: "session-get", tag: 12 }), id);
    assertEquals(JSON.parse(ok.text), {
      arguments: { version: "test" },
      result: "success",
      tag: 12,
    });
    // Its length said, the answer goes in one write, not in chunks.
    assertEquals(
      [ok.headers.get("Content-Length"), ok.headers.get("Transfer-Encoding")],
      [String(new TextEncoder().encode(ok.text).length), null],
    );
    // Transmission's own tools post to the path with a trailing slash.
    const slash = await post(
      `${url}/`,
      JSON.stringify({ method: "echo", arguments: { a: 1 } }),
      id,
    );
    assertEquals(JSON.parse(slash.text).arguments, { got: { a: 1 } });
    const wrong = await post(url, "{}", { "X-Transmission-Session-Id": "stale" });
    assertEquals(wrong.status, 409);
  });
});

Deno.test("rpc: bad JSON, no method, an unknown method, a refusal and a failure are results", async () => {
  const failures: string[] = [];
  await withServer({ onError: (m) => failures.push(m) }, async (server, url) => {
    const id = { "X-Transmission-Session-Id": server.sessionId };
    const result = async (body: string) => JSON.parse((await post(url, body, id)).text);
    assertEquals(await result("{not json"), { result: "the request is not JSON" });
    assertEquals(await result("[1,2]"), { result: "the request names no method" });
    assertEquals(await result('{"method":"torrent-frob","tag":3}'), {
      result: "method name not recognized",
      tag: 3,
    });
    assertEquals(await result('{"method":"toString"}'), { result: "method name not recognized" });
    assertEquals(await result('{"method":"refuse"}'), { result: "no such torrent" });
    assertEquals(await result('{"method":"fail"}'), { result: "disk on fire" });
    assertEquals(failures, ["RPC fail: disk on fire"], "only the unexpected failure is reported");
  });
});

Deno.test("rpc: a host name not on the list gets 421 (DNS rebinding)", async () => {
  await withServer({ hosts: ["nas.local"] }, async (server) => {
    // fetch sets Host from the URL, so these requests are written by hand.
    const status = async (host: string) => {
      const body = '{"method":"session-get"}';
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      try {
        await conn.write(new TextEncoder().encode(
          `POST /transmission/rpc HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n` +
            `X-Transmission-Session-Id: ${server.sessionId}\r\n` +
            `Content-Length: ${body.length}\r\n\r\n${body}`,
        ));
        const reply = new Uint8Array(256);
        const n = await conn.read(reply);
        return Number(new TextDecoder().decode(reply.subarray(0, n ?? 0)).split(" ")[1]);
      } finally {
        conn.close();
      }
    };
    assertEquals(await status("evil.example:9091"), 421);
    assertEquals(await status("127.0.0.2"), 421);
    for (const host of ["localhost:9091", "127.0.0.1", "[::1]:9091", "NAS.local"]) {
      assertEquals(await status(host), 200, host);
    }
  });
});

Deno.test("rpc: with a login set, requests without it get 401, before the session id", async () => {
  await withServer({ auth: "ann:secret" }, async (server, url) => {
    const none = await post(url, "{}");
    assertEquals(none.status, 401);
    assert(none.headers.get("WWW-Authenticate")?.startsWith("Basic"));
    const wrong = await post(url, "{}", { Authorization: `Basic ${btoa("ann:guess")}` });
    assertEquals(wrong.status, 401);
    const login = { Authorization: `Basic ${btoa("ann:secret")}` };
    assertEquals((await post(url, "{}", login)).status, 409);
    const ok = await post(url, '{"method":"session-get"}', {
      ...login,
      "X-Transmission-Session-Id": server.sessionId,
    });
    assertEquals(ok.status, 200);
  });
});

Deno.test("rpc: a 10 MB body gets 413 unread, one without a length 411; GET 405; elsewhere 404", async () => {
  await withServer({}, async (server, url) => {
    const id = { "X-Transmission-Session-Id": server.sessionId };
    const big = await post(url, "x".repeat(10_000_000), id);
    assertEquals(big.status, 413);
    // Without a length (chunked), a body would have to be read to be refused: it is not.
    const chunked = await fetch(url, {
      method: "POST",
      headers: id,
      body: new Blob(["x".repeat(10_000)]).stream(),
    });
    await chunked.body?.cancel();
    assertEquals(chunked.status, 411);
    const get = await fetch(url, { headers: id });
    await get.body?.cancel();
    assertEquals(get.status, 405);
    const elsewhere = await fetch(`http://127.0.0.1:${server.port}/`);
    await elsewhere.body?.cancel();
    assertEquals(elsewhere.status, 404);
  });
});

Deno.test("rpc: a client past its rate gets 429; others are still served", async () => {
  await withServer({ rate: { perSecond: 1, burst: 5 } }, async (server, url) => {
    const id = { "X-Transmission-Session-Id": server.sessionId };
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      statuses.push((await post(url, '{"method":"session-get"}', id)).status);
    }
    assertEquals(statuses.filter((s) => s === 200).length, 5);
    assertEquals(statuses.slice(5), [429, 429, 429]);
    const refused = await post(url, '{"method":"session-get"}', id);
    assertEquals([refused.status, refused.headers.get("retry-after")], [429, "1"]);
  });
});

Deno.test("rpc: a client that never finishes its request does not hold up the others", async () => {
  await withServer({}, async (server, url) => {
    const slow = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    try {
      await slow.write(new TextEncoder().encode(
        "POST /transmission/rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{",
      ));
      const ok = await post(url, '{"method":"session-get"}', {
        "X-Transmission-Session-Id": server.sessionId,
      });
      assertEquals(ok.status, 200);
    } finally {
      slow.close();
    }
  });
});
