/**
 * Runs parseTorrent over libtorrent's torrent-file corpus (kept outside the repository, in
 * ../shared/testdata/libtorrent-corpus) against its expectations.tsv.
 */
import { parseTorrent, type Torrent, TorrentError } from "../../src/metainfo/mod.ts";
import { toHex } from "../../src/util/mod.ts";
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
  },
});

Deno.test({
  name: "corpus: v2 and hybrid torrents, their hashes and layouts as libtorrent gives them",
  ignore: !present,
  fn() {
    // Hashes, piece counts and offsets as python3-libtorrent 2.0 reports them for these files.
    const only = parsed("v2_only.torrent");
    assertEquals(only.version, "v2");
    assertEquals(
      toHex(only.infoHashV2!),
      "95e04d0c4bad94ab206efa884666fd89777dbe4f7bd9945af1829037a85c6192",
    );
    assertEquals(only.infoHashHex, "95e04d0c4bad94ab206efa884666fd89777dbe4f", "truncated");
    assertEquals([only.pieceLength, only.pieceCount, only.totalLength], [65536, 16, 1048576]);
    assertEquals(only.v2Pieces!.missingLayers(), []);

    const hybrid = parsed("v2_hybrid.torrent");
    assertEquals(hybrid.version, "hybrid");
    assertEquals(hybrid.infoHashHex, "514c76c1f27ec61ca8b37851bcd1cbf0b26cf120");
    assertEquals(
      toHex(hybrid.infoHashV2!),
      "518fbaf39b37020c896e8768a967da6d76bbd5ef7a02c761021b65a72c6cfa11",
    );
    assertEquals([hybrid.pieceCount, hybrid.totalLength], [1715, 899153920]);

    // A v2-only torrent is laid out with pad entries, so each file starts on a piece and the
    // last piece is whole, as libtorrent counts it.
    const multi = parsed("v2_multiple_files.torrent");
    assertEquals(
      multi.files.map((f) => [f.path.at(-1), f.offset, f.padding]),
      [
        ["stress_test0", 0, false],
        ["stress_test1", 1048576000, false],
        ["1048376", 2097152200, true],
        ["stress_test2", 2098200576, false],
        ["1048176", 3146776976, true],
      ],
    );
    assertEquals(multi.pieceCount, 3002);
    const links = parsed("v2_symlinks.torrent").files.filter((f) => f.symlink !== undefined);
    assertEquals(links.length, 3);

    // Piece layers absent from the .torrent are left for peers to send.
    assertEquals(parsed("v2_no_piece_layers.torrent").v2Pieces!.missingLayers(), [0]);
    assertEquals(parsed("v2_incomplete_piece_layer.torrent").v2Pieces!.missingLayers().length, 1);

    const refused = (file: string) => {
      const e = load(file);
      assert(e instanceof TorrentError, `${file} parsed`);
      return e.message;
    };
    assert(refused("v2_mismatching_metadata.torrent").includes("v1 and v2 halves disagree"));
    assert(refused("v2_bad_file_alignment.torrent").includes("not piece-aligned"));
    assert(refused("v2_zero_root.torrent").includes("all zeros"));
    assert(refused("v2_unordered_files.torrent").includes("not in sorted order"));
    assert(refused("v2_invalid_pad_file.torrent").includes("pad file"));
    assert(refused("v2_no_power2_piece.torrent").includes("power of two"));
    assert(refused("v2_invalid_piece_layer_root.torrent").includes("'pieces root'"));
    assert(refused("v2_unknown_piece_layer_entry.torrent").includes("no file"));
  },
});
