import { type FinishedTorrent, runDoneScript } from "../../src/client/mod.ts";
import { assert, assertEquals } from "../assert.ts";
import { waitFor } from "../integration/helpers.ts";

const FINISHED: Omit<FinishedTorrent, "dir"> = {
  id: 7,
  name: "album",
  hash: "ab".repeat(20),
  labels: ["music", "flac"],
  downloaded: 12345,
  trackers: ["http://127.0.0.1:1/a", "udp://127.0.0.1:2"],
};

/** A log that keeps what it is told. */
function recording() {
  const lines: string[] = [];
  return {
    lines,
    info: (m: string) => lines.push(`info ${m}`),
    warn: (m: string) => lines.push(`warn ${m}`),
  };
}

Deno.test("done script: told of the torrent in Transmission's variables, run in its folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt-done-" });
  try {
    const script = `${dir}/done.sh`;
    await Deno.writeTextFile(
      script,
      '#!/bin/sh\nenv | grep ^TR_ | sort > "$0.env"\npwd >> "$0.env"\n',
    );
    await Deno.chmod(script, 0o755);
    const log = recording();
    runDoneScript(script, { ...FINISHED, dir }, "bittorrent 9.9", log);
    await waitFor("its end logged", () => log.lines.length === 1, 5_000);
    assertEquals(log.lines, [`info done script ${script} for torrent 7 ended`]);
    const told = (await Deno.readTextFile(`${script}.env`)).trim().split("\n");
    assertEquals(told.filter((l) => !l.startsWith("TR_TIME_LOCALTIME=")), [
      "TR_APP_VERSION=bittorrent 9.9",
      `TR_TORRENT_BYTES_DOWNLOADED=12345`,
      `TR_TORRENT_DIR=${dir}`,
      `TR_TORRENT_HASH=${"ab".repeat(20)}`,
      "TR_TORRENT_ID=7",
      "TR_TORRENT_LABELS=music,flac",
      "TR_TORRENT_NAME=album",
      "TR_TORRENT_TRACKERS=http://127.0.0.1:1/a,udp://127.0.0.1:2",
      dir,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("done script: a failure, a program not there or not executable, is one line in the log", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bt-done-" });
  try {
    const failing = `${dir}/fail.sh`;
    await Deno.writeTextFile(failing, "#!/bin/sh\necho 'no space\n left' >&2\nexit 3\n");
    await Deno.chmod(failing, 0o755);
    const plain = `${dir}/plain.sh`;
    await Deno.writeTextFile(plain, "#!/bin/sh\n");
    const log = recording();
    runDoneScript(failing, { ...FINISHED, dir }, "v", log);
    runDoneScript(`${dir}/missing.sh`, { ...FINISHED, dir }, "v", log);
    runDoneScript(plain, { ...FINISHED, dir }, "v", log);
    await waitFor("three lines", () => log.lines.length === 3, 5_000);
    const line = (what: string) => log.lines.find((l) => l.includes(what)) ?? "";
    assertEquals(
      line("fail.sh"),
      `warn done script ${failing} for torrent 7 ended with code 3: no space left`,
    );
    assert(line("missing.sh").endsWith("did not start: no such program"), line("missing.sh"));
    assert(line("plain.sh").includes("did not start: it is not executable"), line("plain.sh"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
