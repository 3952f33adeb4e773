import { WatchFolder } from "../../src/client/mod.ts";
import { createTorrentFromBuffers } from "../../src/metainfo/mod.ts";
import { assert, assertEquals } from "../assert.ts";
import { waitFor } from "../integration/helpers.ts";

const INTERVAL_MS = 40;
const torrentOf = (name: string) =>
  createTorrentFromBuffers(name, new Uint8Array(5000).fill(7), {
    pieceLength: 16384,
    creationDate: null,
  });

/** A watch folder over a new temporary folder, recording what it adds and logs. */
async function watching(options: { failAdds?: boolean; sub?: string } = {}) {
  const root = await Deno.makeTempDir({ prefix: "bt-watch-" });
  const dir = options.sub ? `${root}/${options.sub}` : root;
  const added: string[] = [];
  const warnings: string[] = [];
  const watch = WatchFolder.start({
    dir,
    add: (bytes, name) => {
      if (options.failAdds) return Promise.reject(new Error("the daemon said no"));
      added.push(`${name}:${bytes.length}`);
      return Promise.resolve();
    },
    log: { info() {}, warn: (m) => warnings.push(m) },
    intervalMs: INTERVAL_MS,
  });
  const names = () => [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  const looks = (n: number) => new Promise((r) => setTimeout(r, n * INTERVAL_MS));
  return { root, added, warnings, watch, names, looks };
}

Deno.test("watch folder: a .torrent put there is added once and renamed, never over a file", async () => {
  const w = await watching();
  try {
    const bytes = torrentOf("a.bin");
    await Deno.writeFile(`${w.root}/a.torrent`, bytes);
    await Deno.writeTextFile(`${w.root}/notes.txt`, "not looked at");
    await Deno.mkdir(`${w.root}/folder.torrent`); // a folder, whatever its name
    await Deno.symlink(`${w.root}/gone`, `${w.root}/dangling.torrent`);
    await waitFor("added", () => w.added.length === 1, 5_000);
    assertEquals(w.added, [`a.torrent:${bytes.length}`]);
    await waitFor("renamed", () => w.names().includes("a.torrent.added"), 5_000);
    // The same name again: added again, its file renamed beside the first one's.
    await Deno.writeFile(`${w.root}/a.torrent`, bytes);
    await waitFor("renamed again", () => w.names().includes("a.torrent.added.1"), 5_000);
    await w.looks(4);
    assertEquals(w.added.length, 2);
    assertEquals(w.names(), [
      "a.torrent.added",
      "a.torrent.added.1",
      "dangling.torrent",
      "folder.torrent",
      "notes.txt",
    ]);
    assertEquals(w.warnings, []);
    // A link to a torrent file elsewhere is followed.
    await Deno.writeFile(`${w.root}/folder.torrent/linked.bin`, torrentOf("l.bin"));
    await Deno.symlink(`${w.root}/folder.torrent/linked.bin`, `${w.root}/link.torrent`);
    await waitFor("the link's torrent added", () => w.added.length === 3, 5_000);
  } finally {
    w.watch.stop();
    await Deno.remove(w.root, { recursive: true });
  }
});

Deno.test("watch folder: a file that is no torrent is said once and left; once whole it is added", async () => {
  const w = await watching();
  try {
    const bytes = torrentOf("b.bin");
    // A copy stalled halfway: not a torrent yet.
    await Deno.writeFile(`${w.root}/b.TORRENT`, bytes.subarray(0, 100));
    await waitFor("the half file warned", () => w.warnings.length === 1, 5_000);
    assert(w.warnings[0].includes("b.TORRENT not added: not a torrent file"), w.warnings[0]);
    await w.looks(5);
    assertEquals(w.warnings.length, 1, "said once, not at every look");
    assertEquals([w.added, w.names()], [[], ["b.TORRENT"]]);
    // The rest arrives.
    await Deno.writeFile(`${w.root}/b.TORRENT`, bytes);
    await waitFor("added once whole", () => w.added.length === 1, 5_000);
    await waitFor("renamed", () => w.names().includes("b.TORRENT.added"), 5_000);
  } finally {
    w.watch.stop();
    await Deno.remove(w.root, { recursive: true });
  }
});

Deno.test("watch folder: an add refused is said once and the file kept; a missing folder is waited for", async () => {
  const refusing = await watching({ failAdds: true });
  try {
    await Deno.writeFile(`${refusing.root}/c.torrent`, torrentOf("c.bin"));
    await waitFor("warned", () => refusing.warnings.length === 1, 5_000);
    assert(refusing.warnings[0].includes("the daemon said no"), refusing.warnings[0]);
    await refusing.looks(4);
    assertEquals([refusing.warnings.length, refusing.names()], [1, ["c.torrent"]]);
  } finally {
    refusing.watch.stop();
    await Deno.remove(refusing.root, { recursive: true });
  }

  const later = await watching({ sub: "mount" });
  try {
    await waitFor("the missing folder said", () => later.warnings.length === 1, 5_000);
    assert(later.warnings[0].includes("no such file or folder"), later.warnings[0]);
    await Deno.mkdir(`${later.root}/mount`);
    await Deno.writeFile(`${later.root}/mount/d.torrent`, torrentOf("d.bin"));
    await waitFor("added once the folder is there", () => later.added.length === 1, 5_000);
    assertEquals(later.warnings.length, 1);
  } finally {
    later.watch.stop();
    await Deno.remove(later.root, { recursive: true });
  }
});
