/**
 * Makes `docs/web-page.png`, the README's picture of the web page: a daemon with a seeding
 * torrent, a download from a seeder on this machine and a magnet link nobody serves, the
 * download's panel and the Settings open, in headless Chromium. Everything is on 127.0.0.1 and
 * in a temporary folder.
 *
 *     deno run --allow-all docs/web_page_shot.ts
 *
 * @module
 */
import { Browser } from "../tests/interop/cdp.ts";
import { freePort, freeTcpUdpPort, OUR_MAIN } from "../tests/interop/fixtures.ts";
import { Rpc } from "../tests/bench/our_daemon.ts";
import { createTorrentFromBuffers, magnetUri, parseTorrent } from "../src/metainfo/mod.ts";
import { encodeBase64 } from "../src/util/mod.ts";

const OUT = new URL("./web-page.png", import.meta.url);

/** `n` bytes that do not compress, the same for the same `seed`. */
function noise(n: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(n);
  for (let i = 0, x = seed; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

/** Writes `files` under `dir/name`. */
async function lay(dir: string, name: string, files: { path: string[]; data: Uint8Array }[]) {
  for (const f of files) {
    const path = `${dir}/${name}/${f.path.join("/")}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(path, f.data);
  }
}

const root = await Deno.makeTempDir({ prefix: "bittorrent-shot-" });
const spawn = (args: string[]) =>
  new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", OUR_MAIN, ...args, "--no-dht", "--bind", "127.0.0.1"],
    env: { XDG_STATE_HOME: root },
    stdout: "null",
    stderr: "null",
  }).spawn();

const album = [
  { path: ["side-a.flac"], data: noise(5 << 20, 1) },
  { path: ["side-b.flac"], data: noise(3 << 20, 2) },
];
await lay(`${root}/dl`, "field-recordings-2024", album);
const movie = [
  { path: ["open-movie.mkv"], data: noise(120 << 20, 3) },
  { path: ["subtitles", "en.srt"], data: noise(45 << 10, 4) },
  { path: ["subtitles", "fr.srt"], data: noise(46 << 10, 5) },
];
await lay(`${root}/seed`, "open-movie-1080p", movie);
const movieBytes = createTorrentFromBuffers("open-movie-1080p", movie, { pieceLength: 262144 });
await Deno.writeFile(`${root}/movie.torrent`, movieBytes);

const seederPort = await freeTcpUdpPort(), rpcPort = freePort();
// Slow enough that the picture catches the download on its way.
const seeder = spawn([
  "download",
  `${root}/movie.torrent`,
  "-o",
  `${root}/seed`,
  "--seed",
  "--max-upload-rate",
  "2M",
  "--port",
  String(seederPort),
]);
const daemon = spawn([
  "daemon",
  "-o",
  `${root}/dl`,
  "--rpc-port",
  String(rpcPort),
  "--port",
  String(await freeTcpUdpPort()),
  "--state-dir",
  `${root}/state`,
  "--log-dir",
  `${root}/logs`,
]);
let browser: Browser | undefined;
try {
  await new Promise((r) => setTimeout(r, 3000));
  const rpc = new Rpc(rpcPort);
  await rpc.call("torrent-add", {
    metainfo: encodeBase64(
      createTorrentFromBuffers("field-recordings-2024", album, { pieceLength: 262144 }),
    ),
  });
  const { infoHashHex } = parseTorrent(movieBytes);
  await rpc.call("torrent-add", {
    filename: `${
      magnetUri({ infoHashHex, name: "open-movie-1080p" })
    }&x.pe=127.0.0.1:${seederPort}`,
  });
  await rpc.call("torrent-add", {
    filename: magnetUri({ infoHashHex: "ab".repeat(20), name: "debian-13-netinst.iso" }),
  });
  await new Promise((r) => setTimeout(r, 6000));
  await rpc.call("torrent-set", { ids: [2], "files-unwanted": [2] });
  browser = await Browser.launch();
  await browser.viewport(1280, 1000, false);
  await browser.navigate(`http://127.0.0.1:${rpcPort}/`);
  await new Promise((r) => setTimeout(r, 2500));
  await browser.click(`#torrents tr[data-id="2"] button[data-action="files"]`);
  await browser.click("#settings summary");
  await new Promise((r) => setTimeout(r, 2500));
  await Deno.writeFile(OUT, await browser.screenshot());
  console.log(`wrote ${OUT.pathname}`);
} finally {
  await browser?.close();
  for (const child of [daemon, seeder]) {
    child.kill();
    await child.status;
  }
  await Deno.remove(root, { recursive: true });
}
