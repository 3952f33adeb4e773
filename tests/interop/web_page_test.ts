/**
 * The daemon's web page in real headless Chromium (over the DevTools protocol, `cdp.ts`), behind
 * a login: it lists nothing, shows an RPC error, adds a .torrent through its file input (a
 * duplicate through its magnet field), shows the torrent reaching 100% and seeding, pauses and
 * resumes it, unticks a file, sets the torrent's limits, moves its data, changes the settings,
 * fits a phone's 375 px and removes the torrent with its data, each step checked over RPC too.
 * Without a browser: the page's headers (CSP and the rest), 405 and 404 for every path outside
 * its fixed list of files, including `..` ones.
 */
import { assert, assertEquals } from "../assert.ts";
import { magnetLink, toolGate } from "./fixtures.ts";
import type { PayloadFile } from "../../testdata/payload.ts";
import { startDaemon, until, withSeededSwarm } from "./daemon_fixtures.ts";
import { Browser } from "./cdp.ts";
import { serveFiles } from "../web_server.ts";

/** The name is markup: the page must show it as text (and its CSP would refuse the handler). */
const NAME = "web<img src=x onerror=alert(1)>set";
const FILES: PayloadFile[] = [
  { path: `${NAME}/a.bin`, size: (1 << 20) + 77 },
  { path: `${NAME}/sub/b.txt`, size: 4321 },
];
const LOGIN = "web:s3cret";

const missing = await toolGate(["chromium", "opentracker", "mktorrent"]);

/** An RPC client for the test's own checks (session-id handshake, Basic login). */
function rpcClient(port: number) {
  let session = "";
  return async (method: string, args: Record<string, unknown> = {}) => {
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await fetch(`http://127.0.0.1:${port}/transmission/rpc`, {
        method: "POST",
        headers: {
          "Authorization": `Basic ${btoa(LOGIN)}`,
          "X-Transmission-Session-Id": session,
        },
        body: JSON.stringify({ method, arguments: args }),
      });
      if (response.status === 409) {
        await response.body?.cancel();
        session = response.headers.get("X-Transmission-Session-Id") ?? "";
        continue;
      }
      const reply = await response.json();
      if (reply.result !== "success") throw new Error(`${method}: ${reply.result}`);
      return reply.arguments;
    }
    throw new Error(`${method}: no session`);
  };
}

/** The status line and the body of a request sent as these exact bytes (no URL clean-up). */
async function raw(port: number, target: string, login = true): Promise<[string, string]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const auth = login ? `Authorization: Basic ${btoa(LOGIN)}\r\n` : "";
  await conn.write(
    new TextEncoder().encode(
      `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${auth}Connection: close\r\n\r\n`,
    ),
  );
  const text = await new Response(conn.readable).text();
  return [text.slice(0, text.indexOf("\r\n")), text.slice(text.indexOf("\r\n\r\n") + 4)];
}

/** The page's files and headers through the daemon at `port`, and 404 for every other path. */
async function checkPageFiles(port: number): Promise<void> {
  const base = `http://127.0.0.1:${port}`;
  const get = (path: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, {
      ...init,
      headers: { "Authorization": `Basic ${btoa(LOGIN)}`, ...init.headers },
    });

  const anonymous = await fetch(`${base}/`);
  await anonymous.body?.cancel();
  assertEquals(anonymous.status, 401, "no login, no page");

  const page = await get("/");
  const html = await page.text();
  assertEquals(page.status, 200);
  assertEquals(page.headers.get("content-type"), "text/html; charset=utf-8");
  assertEquals(page.headers.get("cache-control"), "no-cache");
  assertEquals(page.headers.get("x-content-type-options"), "nosniff");
  const csp = page.headers.get("content-security-policy") ?? "";
  assert(csp.includes("default-src 'self'"), `CSP: ${csp}`);
  assert(csp.includes("script-src 'self'") && !csp.includes("unsafe"), `CSP: ${csp}`);
  assert(html.includes('<script src="/web/app.js"'), "the page loads its script");
  assert(!/<script(?![^>]*\bsrc=)[^>]*>/.test(html), "no inline script");

  for (
    const [path, type] of [
      ["/web/app.js", "text/javascript; charset=utf-8"],
      ["/web/style.css", "text/css; charset=utf-8"],
    ]
  ) {
    const file = await get(path);
    assertEquals([file.status, file.headers.get("content-type")], [200, type], path);
    assert(file.headers.get("content-security-policy"), `${path} has a CSP`);
    assert((await file.text()).length > 100, `${path} has content`);
  }

  const head = await get("/", { method: "HEAD" });
  assertEquals([head.status, await head.text()], [200, ""], "HEAD: headers only");
  const post = await get("/", { method: "POST", body: "x" });
  await post.body?.cancel();
  assertEquals([post.status, post.headers.get("allow")], [405, "GET, HEAD"]);

  for (
    const path of [
      "/nope",
      "/web/",
      "/web/page.ts",
      "/web/mod.ts",
      "/assets/app.js",
      "/web/App.js",
      "/web/app.js/",
      "/web/%2e%2e/page.ts",
    ]
  ) {
    const response = await get(path);
    await response.body?.cancel();
    assertEquals(response.status, 404, path);
  }
  for (
    const target of [
      "/../../../../etc/passwd",
      "/web/../../../etc/passwd",
      "/web/..%2f..%2fpage.ts",
      "/web/%2e%2e/%2e%2e/mod.ts",
      "//etc/passwd",
      "/web/app.js%00",
    ]
  ) {
    const [status, body] = await raw(port, target);
    assertEquals(status, "HTTP/1.1 404 Not Found", target);
    assert(!body.includes("root:") && !body.includes("import"), `${target}: ${body}`);
  }
  assertEquals((await raw(port, "/../etc/passwd", false))[0].split(" ")[1], "401");
}

Deno.test("web page: its files, headers, and 404 for any other path", async () => {
  const downloads = await Deno.makeTempDir({ prefix: "web-page-" });
  try {
    const daemon = await startDaemon(downloads, ["--rpc-auth", LOGIN]);
    try {
      await checkPageFiles(daemon.rpcPort);
    } finally {
      await daemon.stop();
    }
  } finally {
    await Deno.remove(downloads, { recursive: true });
  }
});

Deno.test({
  name: "web page in headless Chromium: add, seed, pause, resume, files, settings, phone, remove",
  ignore: missing("web page in Chromium", "chromium", "opentracker", "mktorrent"),
  fn: () =>
    withSeededSwarm(FILES, 811, async ({ swarm, seeder, downloads }) => {
      const daemon = await startDaemon(downloads, ["--rpc-auth", LOGIN]);
      const rpc = rpcClient(daemon.rpcPort);
      const statusOf = async (id: number) =>
        (await rpc("torrent-get", { ids: [id], fields: ["status"] })).torrents[0]?.status;
      let browser: Browser | undefined;
      try {
        browser = await Browser.launch();
        const [user, password] = LOGIN.split(":");
        await browser.navigate(`http://${user}:${password}@127.0.0.1:${daemon.rpcPort}/`);
        await browser.waitFor(
          "the empty list and the session's totals",
          `document.getElementById("stats").textContent.startsWith("0 torrents") &&
           !document.getElementById("empty").hidden`,
        );

        // An RPC error shows in the message line.
        await browser.type("#magnet", "magnet:?xt=urn:btih:not-a-hash");
        await browser.click("#add-magnet");
        const error = await browser.waitFor<string>(
          "the error line",
          `(() => { const m = document.getElementById("message");
             return !m.hidden && m.classList.contains("error") && m.textContent; })()`,
        );
        assert(error.startsWith("torrent-add: "), `error line: ${error}`);
        await browser.evaluate(`document.getElementById("magnet").value = ""`);

        // A .torrent through the file input, then the same torrent as a magnet link.
        await browser.setFiles("#torrent-file", [swarm.httpTorrent]);
        const row = `#torrents tr[data-id="1"]`;
        await browser.waitFor("the row", `document.querySelector('${row} td.name')?.textContent`);
        assertEquals(
          await browser.evaluate(`document.getElementById("message").textContent`),
          `Added ${NAME}`,
        );
        assertEquals(
          await browser.evaluate(`document.querySelector('${row} td.name').textContent`),
          NAME,
        );
        assertEquals(await browser.evaluate(`document.querySelectorAll("img").length`), 0);
        // Labels a remote gave the torrent show under its name.
        await rpc("torrent-set", { ids: [1], labels: ["tv", "hd"] });
        await browser.waitFor(
          "the labels",
          `document.querySelector('${row} td.name .labels')?.textContent === "tv · hd"`,
        );
        await browser.waitFor(
          "100% and seeding on the page",
          `document.querySelector('${row} .percent').textContent === "100%" &&
           document.querySelector('${row} td.state').textContent === "Seeding" &&
           document.querySelector('${row} progress').value === 1`,
          30_000,
        );
        assertEquals(await statusOf(1), 6, "seeding over RPC too");
        await browser.type(
          "#magnet",
          magnetLink(swarm.infoHash, { peers: [`127.0.0.1:${seeder.port}`] }),
        );
        await browser.click("#add-magnet");
        await browser.waitFor(
          "the duplicate's message",
          `document.getElementById("message").textContent === ${
            JSON.stringify(`Already in the list: ${NAME}`)
          }`,
        );
        assertEquals(
          await browser.evaluate(`document.querySelectorAll("#torrents tbody tr").length`),
          1,
        );

        // Pause and resume.
        await browser.click(`${row} button[data-action="stop"]`);
        await until("stopped over RPC", async () => (await statusOf(1)) === 0, 10_000);
        await browser.waitFor(
          "Stopped and a Resume button",
          `document.querySelector('${row} td.state').textContent === "Stopped" &&
           document.querySelector('${row} button[data-action="start"]')?.textContent === "Resume"`,
        );
        await browser.click(`${row} button[data-action="start"]`);
        await until("running over RPC", async () => (await statusOf(1)) !== 0, 10_000);
        await browser.waitFor(
          "seeding again",
          `document.querySelector('${row} td.state').textContent === "Seeding"`,
          20_000,
        );

        // The files panel: untick the second file, tick it again.
        await browser.click(`${row} button[data-action="files"]`);
        const box = `#files input[data-index="1"]`;
        const names = await browser.waitFor<string[]>(
          "the files panel",
          `(() => { const items = [...document.querySelectorAll("#files-list li")];
             return !document.getElementById("files").hidden && items.length === 2 &&
               document.querySelector('${box}').checked &&
               items.map((li) => li.querySelector(".file-name").textContent); })()`,
        );
        assert(names[0].endsWith("a.bin") && names[1].endsWith("sub/b.txt"), `files: ${names}`);
        // Each file's Stream link serves its bytes (a range, as a player asks).
        const streamed = await browser.evaluate<[number, number]>(
          `(async () => {
             const link = document.querySelector("#files-list li .file-stream");
             const r = await fetch(link.href, { headers: { Range: "bytes=100-" } });
             return [r.status, (await r.arrayBuffer()).byteLength];
           })()`,
        );
        assertEquals(streamed, [206, FILES[0].size - 100]);
        const wanted = async () =>
          (await rpc("torrent-get", { ids: [1], fields: ["wanted"] })).torrents[0].wanted;
        await browser.click(box);
        await until("b.txt unwanted over RPC", async () => (await wanted())[1] === 0, 10_000);
        assertEquals(await wanted(), [1, 0]);
        await browser.waitFor(
          "the box unticked, its request answered",
          `!document.querySelector('${box}').checked &&
           !document.querySelector('${box}').disabled`,
        );
        await browser.click(box);
        await until("b.txt wanted again", async () => (await wanted())[1] === 1, 10_000);
        assertEquals(await wanted(), [1, 1]);

        // The torrent's own limits, in the same panel.
        const limits = async () =>
          (await rpc("torrent-get", {
            ids: [1],
            fields: [
              "downloadLimit",
              "downloadLimited",
              "seedRatioLimit",
              "seedRatioMode",
              "bandwidthPriority",
              "sequentialDownload",
            ],
          })).torrents[0];
        await browser.type("#t-down", "300");
        await browser.type("#t-ratio", "2.5");
        await browser.evaluate(`document.getElementById("t-priority").value = "1"`);
        await browser.click("#t-sequential");
        await browser.click("#t-save");
        await until("the torrent's limits over RPC", async () => {
          const t = await limits();
          return t.downloadLimited && t.downloadLimit === 300 && t.seedRatioMode === 1 &&
            t.seedRatioLimit === 2.5 && t.bandwidthPriority === 1 && t.sequentialDownload;
        }, 10_000);
        await browser.waitFor(
          "the limits read back",
          `document.getElementById("message").textContent === "Limits saved"`,
        );
        await browser.evaluate(`document.getElementById("t-down").value = ""`);
        await browser.evaluate(`document.getElementById("t-ratio").value = ""`);
        // A location typed meanwhile stays: a save reads back its own form only.
        const moved = `${downloads}/moved`;
        await browser.evaluate(`document.getElementById("t-location").value = ""`);
        await browser.type("#t-location", moved);
        await browser.evaluate(`document.getElementById("message").textContent = ""`);
        await browser.click("#t-save");
        await browser.waitFor(
          "the cleared limits read back",
          `document.getElementById("message").textContent === "Limits saved"`,
        );
        assertEquals(
          await browser.evaluate(`document.getElementById("t-location").value`),
          moved,
          "the location typed while the limits were saved",
        );
        assertEquals(
          await browser.evaluate(`document.getElementById("t-priority").value`),
          "1",
          "the priority read back",
        );
        await until("no limit and the session's ratio", async () => {
          const t = await limits();
          return !t.downloadLimited && t.seedRatioMode === 0;
        }, 10_000);

        // Its data moved to another folder, after a confirm; it seeds from there.
        browser.dialogAnswers.push(true);
        await browser.click("#t-relocate");
        await until("the new location over RPC", async () =>
          (await rpc("torrent-get", { ids: [1], fields: ["downloadDir"] })).torrents[0]
            .downloadDir === moved, 10_000);
        await until("seeding from there", async () =>
          (await statusOf(1)) === 6, 20_000);
        assert(Deno.statSync(`${moved}/${NAME}/a.bin`).isFile, "the data moved");
        assert(
          !Deno.readDirSync(downloads).some((e) =>
            e.name === NAME
          ),
          "and left the old place",
        );
        assertEquals(browser.dialogs.length, 1, `dialogs: ${browser.dialogs}`);

        // Settings: read from the session when opened, saved, and an emptied limit is none.
        await browser.click("#settings summary");
        await browser.waitFor(
          "the settings read",
          `document.getElementById("set-dir").value !== ""`,
        );
        const value = (id: string) => browser!.evaluate(`document.getElementById("${id}").value`);
        assertEquals(
          [await value("set-dir"), await value("set-down"), await value("set-encryption")],
          [downloads, "", "preferred"],
        );
        assertEquals(await value("set-incomplete"), "", "no incomplete folder");
        await browser.type("#set-down", "500");
        await browser.type("#set-incomplete", `${downloads}/incomplete`);
        await browser.evaluate(`document.getElementById("set-peers").value = ""`);
        await browser.type("#set-peers", "9");
        await browser.evaluate(`document.getElementById("set-encryption").value = "required"`);
        assertEquals(await browser.evaluate(`document.getElementById("set-pex").checked`), true);
        await browser.click("#set-pex");
        await browser.click("#settings-save");
        const session = () => rpc("session-get");
        await until("the settings over RPC", async () => {
          const s = await session();
          return s["speed-limit-down"] === 500 && s["speed-limit-down-enabled"] === true &&
            s["peer-limit-per-torrent"] === 9 && s.encryption === "required" &&
            s["pex-enabled"] === false &&
            s["incomplete-dir-enabled"] === true &&
            s["incomplete-dir"] === `${downloads}/incomplete`;
        }, 10_000);
        await browser.waitFor(
          "the form read back",
          `document.getElementById("message").textContent === "Settings saved"`,
        );
        assertEquals(await value("set-incomplete"), `${downloads}/incomplete`, "read back");
        await browser.evaluate(`document.getElementById("set-down").value = ""`);
        await browser.evaluate(`document.getElementById("set-incomplete").value = ""`);
        // The page reads the form back after each save: the next edit waits for that, or the
        // read-back would overwrite it.
        const savedAgain = async (what: string) => {
          await browser!.waitFor(
            what,
            `document.getElementById("message").textContent === "Settings saved"`,
          );
          await browser!.evaluate(`document.getElementById("message").textContent = ""`);
        };
        await browser.evaluate(`document.getElementById("message").textContent = ""`);
        await browser.click("#settings-save");
        await until(
          "no download limit over RPC",
          async () => (await session())["speed-limit-down-enabled"] === false,
          10_000,
        );
        await savedAgain("the form read back again");
        assertEquals((await session())["peer-limit-per-torrent"], 9, "the rest kept");
        assertEquals((await session())["incomplete-dir-enabled"], false, "emptied: off");

        // Turtle mode: its limits in Settings, and the header's button switches them on.
        assertEquals(await value("set-alt-down"), "50");
        await browser.evaluate(`document.getElementById("set-alt-down").value = ""`);
        await browser.type("#set-alt-down", "20");
        await browser.click("#settings-save");
        await until(
          "the turtle limit over RPC",
          async () => (await session())["alt-speed-down"] === 20,
          10_000,
        );
        await savedAgain("the form read back after the turtle limit");
        await browser.click("#turtle");
        await until(
          "turtle mode on over RPC",
          async () => (await session())["alt-speed-enabled"] === true,
          10_000,
        );
        await browser.waitFor(
          "the button pressed",
          `document.getElementById("turtle").getAttribute("aria-pressed") === "true"`,
        );
        await rpc("session-set", { "alt-speed-enabled": false });
        await browser.waitFor(
          "the refresh shows it off",
          `document.getElementById("turtle").getAttribute("aria-pressed") === "false"`,
        );

        // The blocklist: an address typed in, fetched by the button, its size shown.
        const lists = await Deno.makeTempDir({ prefix: "bt-page-blocklist-" });
        await Deno.writeTextFile(`${lists}/list.p2p`, "Test:192.0.2.0-192.0.2.255\n");
        const listServer = serveFiles(lists);
        try {
          await browser.type("#set-blocklist", `${listServer.url}list.p2p`);
          await browser.click("#blocklist-update");
          await browser.waitFor(
            "the update told",
            `document.getElementById("message").textContent === ` +
              `"Blocklist updated: 1 address ranges"`,
          );
          const list = await session();
          assertEquals(
            [list["blocklist-url"], list["blocklist-size"]],
            [`${listServer.url}list.p2p`, 1],
          );
        } finally {
          await listServer.close();
          await Deno.remove(lists, { recursive: true });
        }

        // A phone's width: cards, nothing wider than the screen.
        await browser.viewport(375, 800, true);
        await browser.waitFor(
          "the cards layout",
          `getComputedStyle(document.querySelector("#torrents thead")).display === "none" &&
           getComputedStyle(document.querySelector('${row}')).display === "grid"`,
        );
        const widths = await browser.evaluate<number[]>(
          `[document.documentElement.scrollWidth, document.body.scrollWidth, innerWidth]`,
        );
        assert(widths.every((w) => w <= 375), `at 375 px the page is ${widths} px wide`);

        // Remove (on the phone's layout), confirming, and deleting the data too.
        browser.dialogAnswers.push(true, true);
        await browser.click(`${row} button[data-action="remove"]`);
        await until(
          "no torrent over RPC",
          async () => (await rpc("torrent-get", { fields: ["id"] })).torrents.length === 0,
          10_000,
        );
        assertEquals(browser.dialogs.length, 3, `dialogs: ${browser.dialogs}`);
        assert(browser.dialogs[1].includes(NAME), browser.dialogs[1]);
        await browser.waitFor(
          "the empty list again",
          `!document.querySelector('${row}') && !document.getElementById("empty").hidden &&
           document.getElementById("files").hidden`,
        );
        assert(
          ![...Deno.readDirSync(moved)].some((e) => e.name === NAME),
          "the data went with the torrent",
        );
        // The session-id handshake's 409s are logged as failed loads; nothing else may be.
        const problems = browser.problems.filter((p) => !p.includes("status of 409 (Conflict)"));
        assertEquals(problems, [], "no script errors, failed loads or CSP refusals on the page");
      } finally {
        await browser?.close();
        await daemon.stop();
      }
    }),
});
