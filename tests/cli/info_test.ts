/**
 * `bittorrent info`: every file of libtorrent's torrent corpus (kept outside the repository, in
 * ../shared/testdata/libtorrent-corpus) through `main` with `--json`, checked against
 * expectations.tsv and against what libtorrent itself computes; the human-readable report of a
 * torrent made here; and the real executable's exit codes and streams.
 *
 * Nothing here touches the network: `info` on a .torrent file only reads it, and the trackers,
 * web seeds and DHT nodes the corpus names are never contacted.
 */
import { main } from "../../src/main.ts";
import type { CommandIO, TorrentReport } from "../../src/cli/mod.ts";
import { createTorrentFromBuffers } from "../../src/metainfo/mod.ts";
import { assert, assertEquals } from "../assert.ts";
import { CORPUS, CORPUS_DIR, corpusPresent, expectations } from "../corpus.ts";

const REPO_DIR = decodeURIComponent(new URL("../../", import.meta.url).pathname);
/** python3-libtorrent is installed for the system interpreter only. */
const PYTHON = "/usr/bin/python3";

const present = corpusPresent();

async function libtorrentImports(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(PYTHON, {
      args: ["-c", "import libtorrent"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false; // no such interpreter (or no --allow-run)
  }
}

const libtorrent = present && await libtorrentImports();
if (present && !libtorrent) {
  console.log(`'${PYTHON} -c "import libtorrent"' failed, skipping the libtorrent comparison`);
}

/** What one in-process run of the CLI printed, and its exit code. */
interface Run {
  code: number;
  out: string;
  err: string;
}

/** `main(args)` with its output captured; a throw out of `main` is returned, not raised. */
async function runMain(args: string[], isTTY = false): Promise<Run | { threw: unknown }> {
  let out = "", err = "";
  const io: CommandIO = {
    out: (t) => out += t,
    err: (t) => err += t,
    isTTY,
    columns: () => 80,
  };
  try {
    return { code: await main(args, io), out, err };
  } catch (e) {
    return { threw: e };
  }
}

let corpusRuns: Promise<Map<string, Run | { threw: unknown }>> | undefined;

/** `info --json` of every corpus file, run once and shared by the tests that need it. */
function runCorpus(): Promise<Map<string, Run | { threw: unknown }>> {
  corpusRuns ??= (async () => {
    const runs = new Map<string, Run | { threw: unknown }>();
    for (const file of expectations().keys()) {
      runs.set(file, await runMain(["info", "--json", CORPUS_DIR + file]));
    }
    return runs;
  })();
  return corpusRuns;
}

const REPORT_KEYS = [
  "comment",
  "createdBy",
  "creationDate",
  "files",
  "infoHash",
  "infoHashV2",
  "magnet",
  "missingPieceLayers",
  "name",
  "pieceCount",
  "pieceLength",
  "private",
  "totalLength",
  "trackers",
  "version",
  "webSeeds",
];

const isString = (v: unknown): v is string => typeof v === "string";
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isStringOrNull = (v: unknown) => v === null || isString(v);

/**
 * Problems with the stdout of a successful `info --json`: it must be exactly one line holding
 * one object with every key of {@link TorrentReport}, each of the right type, and consistent
 * with itself (piece count from the sizes, file sizes within the total, the magnet's hash).
 */
function reportProblems(out: string): string[] {
  if (!out.endsWith("\n") || out.indexOf("\n") !== out.length - 1) {
    return [`stdout is not exactly one line: ${JSON.stringify(out.slice(0, 200))}`];
  }
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(out);
  } catch (e) {
    return [`stdout is not JSON (${e instanceof Error ? e.message : e})`];
  }
  if (typeof r !== "object" || r === null || Array.isArray(r)) return ["stdout is not an object"];
  const keys = Object.keys(r).sort();
  if (keys.join() !== REPORT_KEYS.join()) return [`keys are ${keys.join(",")}`];
  const p: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (!ok) p.push(`${what}: ${JSON.stringify(r[what.split(" ")[0]])?.slice(0, 200)}`);
  };
  check(isString(r.name) && r.name !== "", "name");
  check(r.infoHash === null || /^[0-9a-f]{40}$/.test(String(r.infoHash)), "infoHash");
  check(r.infoHashV2 === null || /^[0-9a-f]{64}$/.test(String(r.infoHashV2)), "infoHashV2");
  check(r.infoHash !== null || r.infoHashV2 !== null, "infoHash (and infoHashV2 both null)");
  check(isString(r.magnet) && r.magnet.startsWith("magnet:?"), "magnet");
  check(["v1", "v2", "hybrid"].includes(String(r.version)), "version");
  check(
    (r.infoHash !== null) === (r.version !== "v2") &&
      (r.infoHashV2 !== null) === (r.version !== "v1"),
    "version (against the hashes)",
  );
  check(isCount(r.missingPieceLayers), "missingPieceLayers");
  if (isString(r.magnet)) {
    const xt = [
      ...(isString(r.infoHash) ? [`xt=urn:btih:${r.infoHash}`] : []),
      ...(isString(r.infoHashV2) ? [`xt=urn:btmh:1220${r.infoHashV2}`] : []),
    ];
    check(r.magnet.startsWith(`magnet:?${xt.join("&")}&`), "magnet (not its hashes)");
  }
  // A torrent with no data is refused, so every report has bytes, pieces and files.
  check(isCount(r.totalLength) && r.totalLength > 0, "totalLength");
  check(isCount(r.pieceLength) && r.pieceLength > 0, "pieceLength");
  check(isCount(r.pieceCount) && r.pieceCount > 0, "pieceCount");
  if (isCount(r.totalLength) && isCount(r.pieceLength) && r.pieceLength > 0) {
    const pieces = Math.ceil(r.totalLength / r.pieceLength);
    check(r.pieceCount === pieces, `pieceCount (total/piece length gives ${pieces})`);
  }
  check(typeof r.private === "boolean", "private");
  const files = r.files;
  if (!Array.isArray(files) || files.length === 0) p.push("files: not a non-empty array");
  else {
    let sum = 0;
    files.forEach((f, i) => {
      const ok = typeof f === "object" && f !== null && isString(f.path) && isCount(f.length) &&
        (f.symlink === undefined || isString(f.symlink)) &&
        Object.keys(f).every((k) => ["path", "length", "symlink"].includes(k));
      if (!ok) {
        p.push(`files[${i}]: ${JSON.stringify(f)}`);
        return;
      }
      // Sanitised paths stay inside the output folder: relative, no empty, "." or ".." parts.
      const parts = (f.path as string).split("/");
      if (parts.some((c) => c === "" || c === "." || c === "..")) {
        p.push(`files[${i}].path escapes or is empty: ${JSON.stringify(f.path)}`);
      }
      if (f.symlink === undefined) sum += f.length;
    });
    // Pad files are left out of the list but counted in the total, hence <= and not ===.
    if (isCount(r.totalLength) && sum > r.totalLength) p.push(`files sum to ${sum} > total`);
  }
  check(
    Array.isArray(r.trackers) &&
      r.trackers.every((tier) => Array.isArray(tier) && tier.every(isString)),
    "trackers",
  );
  check(Array.isArray(r.webSeeds) && r.webSeeds.every(isString), "webSeeds");
  check(isStringOrNull(r.comment), "comment");
  check(isStringOrNull(r.createdBy), "createdBy");
  check(r.creationDate === null || Number.isSafeInteger(r.creationDate), "creationDate");
  return p;
}

/**
 * Problems with a failed run: exit 1; exactly one stderr line `bittorrent: error: ...` that
 * names the file and carries no stack trace (a stack means `main` fell through to its
 * "unexpected error" branch); and nothing on stdout.
 */
function failureProblems(run: Run, path: string): string[] {
  const p: string[] = [];
  if (run.code !== 1) p.push(`exit code ${run.code}, not 1`);
  const line = run.err.endsWith("\n") ? run.err.slice(0, -1) : undefined;
  if (line === undefined || line.includes("\n")) {
    return [...p, `stderr is not one line: ${JSON.stringify(run.err.slice(0, 300))}`];
  }
  if (!line.startsWith("bittorrent: error: ")) p.push(`stderr: ${line.slice(0, 300)}`);
  if (/\n\s+at |unexpected error/.test(run.err)) p.push(`stack trace: ${line.slice(0, 300)}`);
  if (!line.includes(path)) p.push(`stderr does not name the file: ${line}`);
  // `info --json` prints one report or nothing: no event stream, no error object.
  if (run.out !== "") p.push(`stdout is not empty: ${JSON.stringify(run.out.slice(0, 300))}`);
  return p;
}

Deno.test({
  name: "info --json: every corpus file gives one report or one error, as expectations.tsv says",
  ignore: !present,
  async fn() {
    const expect = expectations();
    const onDisk = [...Deno.readDirSync(CORPUS)].map((e) => e.name)
      .filter((n) => n.endsWith(".torrent")).sort();
    assertEquals(onDisk, [...expect.keys()].sort(), "expectations.tsv lists every file");
    const runs = await runCorpus();
    const failures: string[] = [];
    let loaded = 0, refused = 0;
    for (const [file, want] of expect) {
      const run = runs.get(file)!;
      if ("threw" in run) {
        failures.push(`${file}: main threw ${Deno.inspect(run.threw).split("\n")[0]}`);
        continue;
      }
      let problems: string[];
      if (run.code === 0) {
        loaded++;
        problems = want === "reject" ? ["expected reject, got a report"] : [];
        problems.push(...reportProblems(run.out));
        if (run.err !== "") problems.push(`stderr: ${run.err.slice(0, 300)}`);
      } else {
        refused++;
        problems = want === "accept" ? [`expected accept, got: ${run.err.trim()}`] : [];
        problems.push(...failureProblems(run, CORPUS_DIR + file));
      }
      failures.push(...problems.map((p) => `${file} (${want}): ${p}`));
    }
    assert(failures.length === 0, `\n${failures.join("\n")}`);
    // 56 rows say accept and 37 reject: both paths must really have been exercised.
    assert(loaded >= 56 && refused >= 37, `loaded ${loaded}, refused ${refused}`);
  },
});

/** What libtorrent makes of one corpus file (one JSON line of {@link LIBTORRENT_SCRIPT}). */
interface LtRow {
  file: string;
  error?: string;
  v1?: string | null;
  v2?: string | null;
  totalSize?: number;
  numPieces?: number;
  pieceLength?: number;
  /** Every file entry in libtorrent's order: [size, is a pad file, is a symlink]. */
  files?: [number, boolean, boolean][];
}

/**
 * Loads each named torrent with libtorrent and prints one JSON line per file. An all-zero hash
 * is libtorrent's "absent" (a v1 torrent has no v2 hash and vice versa), printed as null.
 */
const LIBTORRENT_SCRIPT = `
import json, os, sys
import libtorrent as lt

def hexhash(h):
    s = str(h)
    return None if set(s) <= {"0"} else s

folder = sys.argv[1]
for name in sys.argv[2:]:
    row = {"file": name}
    try:
        ti = lt.torrent_info(os.path.join(folder, name))
    except Exception as e:
        row["error"] = str(e) or type(e).__name__
    else:
        hashes = ti.info_hashes()
        fs = ti.files()
        row.update(
            v1=hexhash(hashes.v1),
            v2=hexhash(hashes.v2),
            totalSize=ti.total_size(),
            numPieces=ti.num_pieces(),
            pieceLength=ti.piece_length(),
            files=[
                [fs.file_size(i), bool(fs.file_flags(i) & lt.file_storage.flag_pad_file),
                 bool(fs.file_flags(i) & lt.file_storage.flag_symlink)]
                for i in range(fs.num_files())
            ],
        )
    print(json.dumps(row))
`;

async function libtorrentRows(files: string[]): Promise<Map<string, LtRow>> {
  const { success, stdout, stderr } = await new Deno.Command(PYTHON, {
    args: ["-c", LIBTORRENT_SCRIPT, CORPUS_DIR, ...files],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  assert(success, `libtorrent script failed: ${new TextDecoder().decode(stderr)}`);
  const rows = text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as LtRow);
  assertEquals(rows.map((r) => r.file), files, "libtorrent answered for every file");
  return new Map(rows.map((r) => [r.file, r]));
}

Deno.test({
  name: "info --json: info-hashes, sizes, pieces and file sizes agree with libtorrent's",
  ignore: !libtorrent,
  async fn() {
    const files = [...expectations().keys()];
    const [runs, lt] = await Promise.all([runCorpus(), libtorrentRows(files)]);
    const failures: string[] = [];
    let ours = 0, theirs = 0, both = 0, v2 = 0;
    for (const file of files) {
      const run = runs.get(file)!;
      const row = lt.get(file)!;
      const weLoad = !("threw" in run) && run.code === 0;
      if (weLoad) ours++;
      if (row.error === undefined) theirs++;
      if (!weLoad || row.error !== undefined) continue;
      both++;
      const r: TorrentReport = JSON.parse(run.out);
      const differ = (what: string, we: unknown, they: unknown) => {
        if (JSON.stringify(we) !== JSON.stringify(they)) {
          failures.push(
            `${file}: ${what}: ours ${JSON.stringify(we)}, libtorrent's ` +
              JSON.stringify(they),
          );
        }
      };
      // A torrent libtorrent sees no v1 hash in (v2-only) must have none in ours either.
      differ("infoHash", r.infoHash, row.v1);
      differ("infoHashV2", r.infoHashV2, row.v2);
      if (r.infoHashV2 !== null) v2++;
      // Both count pad files (BEP 47) in the total and the piece count: they are part of
      // the v1 byte stream the pieces hash.
      differ("totalLength", r.totalLength, row.totalSize);
      differ("pieceLength", r.pieceLength, row.pieceLength);
      differ("pieceCount", r.pieceCount, row.numPieces);
      // Our list leaves pad files out (they hold no user data) and keeps symlinks (size 0).
      // Paths are not compared: each client sanitises names its own way.
      differ(
        "files (size, symlink)",
        r.files.map((f) => [f.length, f.symlink !== undefined]),
        row.files!.filter(([, pad]) => !pad).map(([size, , link]) => [size, link]),
      );
    }
    console.log(
      `corpus: ${ours} of ${files.length} load in ours, ${theirs} in libtorrent, ${both} in ` +
        `both, ${v2} of those v2 or hybrid`,
    );
    assert(failures.length === 0, `\n${failures.join("\n")}`);
    // The comparison means something only if it covered most of the corpus's good torrents.
    assert(both >= 50, `only ${both} files load in both`);
    assert(v2 >= 15, `only ${v2} v2 or hybrid files load in both`);
  },
});

/** The SHA-1 of `bytes` in lower-case hex, computed apart from the code under test. */
async function sha1Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", bytes.slice()));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("info: the report for people, terminal escapes from the torrent defused", async () => {
  const ESC = "\x1b", CSI = "\x9b", BEL = "\x07";
  const bytes = createTorrentFromBuffers("show" + ESC + "[31m", [
    { path: ["a.bin"], data: new Uint8Array(20000).fill(1) },
    { path: ["sub", "b" + BEL + ".txt"], data: new Uint8Array(12768).fill(2) },
  ], {
    pieceLength: 16384,
    announce: [
      ["http://tracker.invalid/announce", "http://backup.invalid/announce"],
      ["udp://tracker.invalid:6969"],
    ],
    urlList: ["http://seed.invalid/files/", "http://mirror.invalid/files/"],
    comment: "first line\n" + ESC + "]0;pwned" + BEL + " and " + CSI + "2J",
    createdBy: "maker" + ESC + "[2K",
    creationDate: 1_700_000_000,
    private: true,
  });
  // The info dictionary is the last value before url-list (keys are sorted), so its bytes
  // give the info-hash without our bencode code.
  const raw = new TextDecoder("latin1").decode(bytes);
  const infoHash = await sha1Hex(
    bytes.subarray(raw.indexOf("4:infod") + 6, raw.lastIndexOf("8:url-list")),
  );
  const path = await Deno.makeTempFile({ suffix: ".torrent" });
  try {
    await Deno.writeFile(path, bytes);
    const run = await runMain(["info", path], true);
    assert(!("threw" in run), "main threw");
    assertEquals([run.code, run.err], [0, ""]);
    // Only line breaks of our own: no control character of the torrent's reaches the terminal.
    // deno-lint-ignore no-control-regex
    const control = run.out.match(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    assert(control === null, `control character ${JSON.stringify(control?.[0])} in output`);
    const lines = run.out.split("\n");
    assertEquals(lines.pop(), "", "ends with a line break");
    const at = (label: string) => lines.findIndex((l) => l.startsWith(`${label}:`));
    for (const label of ["Name", "Info-hash", "Magnet", "Size", "Private", "Created"]) {
      assert(at(label) >= 0, `no ${label} line in\n${run.out}`);
    }
    // The name is sanitised (ESC -> "_") when parsed; the comment and creator are not, so
    // the report replaces their control characters (line break included) with "?".
    assertEquals(lines[at("Name")], "Name:         show_[31m");
    assertEquals(lines[at("Info-hash")], `Info-hash:    ${infoHash}`);
    assert(lines[at("Magnet")].startsWith(`Magnet:       magnet:?xt=urn:btih:${infoHash}`));
    assertEquals(
      lines[at("Size")],
      "Size:         32.0 KiB (32768 bytes) in 2 pieces of 16.0 KiB",
    );
    assertEquals(lines[at("Private")], "Private:      yes (peers from its trackers only)");
    assertEquals(lines[at("Created")], "Created:      2023-11-14 22:13:20 UTC by maker?[2K");
    assertEquals(lines[at("Comment")], "Comment:      first line??]0;pwned? and ?2J");
    const trackers = at("Trackers");
    assertEquals(lines.slice(trackers, trackers + 3), [
      "Trackers:     tier 1: http://tracker.invalid/announce",
      "                      http://backup.invalid/announce",
      "              tier 2: udp://tracker.invalid:6969",
    ]);
    const seeds = at("Web seeds");
    assertEquals(lines.slice(seeds, seeds + 2), [
      "Web seeds:    http://seed.invalid/files/",
      "              http://mirror.invalid/files/",
    ]);
    // Then the numbered file list, under the torrent's folder, sizes right-aligned.
    assertEquals(lines.slice(seeds + 2), [
      "show_[31m: 2 files, 32.0 KiB in 2 pieces of 16.0 KiB",
      "  1  19.5 KiB  show_[31m/a.bin",
      "  2  12.5 KiB  show_[31m/sub/b_.txt",
    ]);
    assert(at("Name") === 0 && at("Name") < at("Info-hash") && at("Comment") < trackers);
  } finally {
    await Deno.remove(path);
  }
});

/** `bittorrent info --json <file>` as a separate process of the real entry point. */
async function runExecutable(file: string): Promise<Run> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "src/main.ts", "info", "--json", file],
    cwd: REPO_DIR,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code, out: text.decode(stdout), err: text.decode(stderr) };
}

Deno.test("info: a hybrid torrent's report: labels apart from values, sizes without the pads", async () => {
  const bytes = createTorrentFromBuffers("set", [
    { path: ["a.bin"], data: new Uint8Array(40_000).fill(1) },
    { path: ["b.bin"], data: new Uint8Array(10).fill(2) },
  ], { version: "hybrid", pieceLength: 16384, creationDate: null });
  const path = await Deno.makeTempFile({ suffix: ".torrent" });
  try {
    await Deno.writeFile(path, bytes);
    const run = await runMain(["info", path]);
    assert(!("threw" in run), "main threw");
    const header = run.out.split("\n").filter((l) => /^[A-Z][a-z0-9 -]*:/.test(l));
    assert(header.some((l) => l.startsWith("Info-hash v2: ")), run.out);
    for (const line of header) assert(/^[A-Z][a-z0-9 -]*: +\S/.test(line), line);
    // The files' bytes first; the pieces' bytes, pad files in, after.
    assert(
      header.includes(
        "Size:         39.1 KiB (40010 bytes) in 4 pieces of 16.0 KiB, 64.0 KiB with pad files",
      ),
      run.out,
    );
    assert(run.out.includes("\nset: 2 files, 39.1 KiB in 4 pieces of 16.0 KiB\n"), run.out);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test({
  name: "info --json: the executable's exit codes and streams, for a good and a bad torrent",
  ignore: !present,
  async fn() {
    const expect = expectations();
    const good = "base.torrent", bad = "no_name.torrent";
    assertEquals([expect.get(good), expect.get(bad)], ["accept", "reject"]);
    const [accepted, rejected] = await Promise.all([
      runExecutable(CORPUS_DIR + good),
      runExecutable(CORPUS_DIR + bad),
    ]);
    assertEquals([accepted.code, accepted.err], [0, ""], "accept row");
    assertEquals(reportProblems(accepted.out), []);
    assertEquals(
      JSON.parse(accepted.out).infoHash,
      "c0fda1edafdbdbb96443424e0b3899af7159d10e",
      "the info-hash Python's SHA-1 of the raw info bytes gives",
    );
    assertEquals(failureProblems(rejected, CORPUS_DIR + bad), [], "reject row");
    // What the process prints is what main printed in-process for the same file.
    const runs = await runCorpus();
    assertEquals(accepted.out, (runs.get(good) as Run).out);
    assertEquals(rejected.err, (runs.get(bad) as Run).err);
  },
});
