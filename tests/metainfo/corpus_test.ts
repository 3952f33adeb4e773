/**
 * Runs parseTorrent over libtorrent's torrent-file corpus (kept outside the repository, in
 * ../shared/testdata/libtorrent-corpus) against its expectations.tsv.
 */
import { parseTorrent, type Torrent, TorrentError } from "../../src/metainfo/mod.ts";
import { assert, assertEquals } from "../assert.ts";
import { assertTorrentInvariants } from "./invariants.ts";
import { CORPUS, corpusPresent, expectations } from "../corpus.ts";

const present = corpusPresent();

function load(file: string): Torrent | TorrentError {
  try {
    return parseTorrent(Deno.readFileSync(new URL(file, CORPUS)));
  } catch (e) {
    if (e instanceof TorrentError) return e;
    throw new Error(`${file}: threw ${e instanceof Error ? e.name : typeof e}, not TorrentError`, {
      cause: e,
    });
  }
}

Deno.test({
  name: "corpus: every torrent is accepted or rejected as expectations.tsv says",
  ignore: !present,
  fn() {
    const expect = expectations();
    const onDisk = [...Deno.readDirSync(CORPUS)].map((e) => e.name).filter((n) =>
      n.endsWith(".torrent")
    );
    assertEquals(onDisk.sort(), [...expect.keys()].sort(), "expectations.tsv lists every file");
    const failures: string[] = [];
    let accepted = 0, rejected = 0;
    for (const [file, want] of expect) {
      const got = load(file);
      if (got instanceof TorrentError) {
        rejected++;
        if (want === "accept") failures.push(`${file}: expected accept, got "${got.message}"`);
        else assert(got.message.length > 0 && !got.message.includes("\n"), file);
      } else {
        accepted++;
        if (want === "reject") failures.push(`${file}: expected reject, but it parsed`);
        else assertTorrentInvariants(got, file);
      }
    }
    assert(failures.length === 0, `\n${failures.join("\n")}`);
    assert(accepted > 50 && rejected > 30, `accepted ${accepted}, rejected ${rejected}`);
  },
});

function parsed(file: string): Torrent {
  const t = load(file);
  if (t instanceof TorrentError) throw t;
  return t;
}

Deno.test({
  name: "corpus: info-hashes and layouts of known files",
  ignore: !present,
  fn() {
    // Info-hashes computed independently (SHA-1 of the raw `info` bytes, by Python).
    assertEquals(parsed("base.torrent").infoHashHex, "c0fda1edafdbdbb96443424e0b3899af7159d10e");
    assertEquals(parsed("sample.torrent").infoHashHex, "58d8d15a4eb3bd9afabc9cee2564f78192777edb");
    assertEquals(
      parsed("unordered.torrent").infoHashHex,
      "1e44709a0ec082a6a5ea4837e450ae08d3f4394e",
    );
    const paths = (file: string) => parsed(file).files.map((f) => f.path.join("/"));
    assertEquals(paths("parent_path.torrent"), ["temp/bar"]);
    assertEquals(paths("hidden_parent_path.torrent"), ["temp/foo_.._.._.._bar/bar"]);
    assertEquals(paths("slash_path3.torrent"), ["temp_.._.._abc"]);
    assertEquals(paths("absolute_filename.torrent"), ["temp/abcde", "temp/_foobar"]);
    assertEquals(paths("duplicate_files.torrent"), ["temp/foo/bar.txt", "temp/foo/bar.1.txt"]);
    assertEquals(paths("empty_path_multi.torrent"), ["temp/abcde", "temp/_", "temp/_.1"]);
    assertEquals(parsed("invalid_name3.torrent").name, "foobar");
    const pad = parsed("pad_file_no_path.torrent").files;
    assertEquals(pad.map((f) => [f.padding, f.offset, f.length]), [[false, 0, 45], [
      true,
      45,
      2124,
    ]]);
    assertEquals(parsed("large.torrent").totalLength, 5242880000);
    assertEquals(parsed("large_piece_size.torrent").pieceLength, 536854528);
    assertEquals(parsed("whitespace_url.torrent").announce, [["udp://test.com/announce"]]);
    assertEquals(parsed("sample.torrent").announce, [
      ["udp://tracker.opentracker.com:80/announce"],
      ["tracker.publicbt.com:80/announce"],
    ]);
    assertEquals(parsed("duplicate_web_seeds.torrent").urlList.length, 3);
    const link = parsed("symlink1.torrent").files[1];
    assertEquals([link.length, link.symlink], [0, ["temp", "a", "b", "bar"]]);
    const v2 = load("v2_only.torrent");
    assert(v2 instanceof TorrentError && v2.message.includes("v2-only"));
  },
});
