/**
 * Shell completion scripts: bash, zsh and fish each run their own script in a folder of sample
 * files and must offer the right words (command words, each command's flags, flag values,
 * `.torrent` files, folders); every flag of the parser's table is in every script; the scripts
 * parse. zsh and fish tests are skipped where those shells are not installed.
 */
import { assert, assertEquals } from "../assert.ts";
import { COMMAND_WORDS, commandFlags, type CommandName } from "../../src/cli/args.ts";
import { completionScript } from "../../src/cli/completions.ts";

const BASH = "/usr/bin/bash";
const COMMANDS = COMMAND_WORDS.filter((w): w is CommandName => w !== "help");
/** Files of the sample folder; a folder name ends in `/`. */
const SAMPLE = ["a.torrent", "b.txt", "my file.torrent", "sub/", "sub/c.torrent"];
/** What completes where a torrent is wanted: `.torrent` files and folders to descend into. */
const TORRENTS = ["a.torrent", "my file.torrent", "sub"];
const EVERY_FILE = ["a.torrent", "b.txt", "my file.torrent", "sub"];
const FOLDERS = ["sub"];
const TIMEOUT_MS = 10_000;

function longFlags(command: CommandName): string[] {
  return commandFlags(command).map((f) => f.long).sort();
}

function allFlags(command: CommandName): string[] {
  return commandFlags(command).flatMap((f) => f.short ? [f.short, f.long] : [f.long]).sort();
}

async function onPath(tool: string): Promise<boolean> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if ((await Deno.stat(`${dir || "."}/${tool}`)).isFile) return true;
    } catch {
      // not in this folder
    }
  }
  return false;
}

const HAVE_ZSH = await onPath("zsh");
const HAVE_FISH = await onPath("fish");

/** True (ignore the test) when `tool` is missing, saying so, as the interop tests do. */
function missing(tool: string, installed: boolean, test: string): boolean {
  if (!installed) console.log(`skipping "${test}": ${tool} not installed`);
  return !installed;
}

/** A temp folder with the three scripts and the sample files (in `files/`, the cwd). */
async function withSample(fn: (root: string, cwd: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "completions_test_" });
  try {
    const cwd = `${root}/files`;
    await Deno.mkdir(cwd);
    for (const name of SAMPLE) {
      if (name.endsWith("/")) await Deno.mkdir(`${cwd}/${name}`);
      else await Deno.writeTextFile(`${cwd}/${name}`, "");
    }
    await Deno.writeTextFile(`${root}/bittorrent.bash`, completionScript("bash"));
    // zsh autoloads a completion function from a file named after it, in $fpath.
    await Deno.mkdir(`${root}/zfunc`);
    await Deno.writeTextFile(`${root}/zfunc/_bittorrent`, completionScript("zsh"));
    await Deno.writeTextFile(`${root}/bittorrent.fish`, completionScript("fish"));
    await fn(root, cwd);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `cmd` with a minimal environment, so the user's shell setup cannot change results. A
 * shell stuck waiting (the zsh driver, if a completion never ends) is killed after a while.
 */
async function run(cmd: string, args: string[], cwd: string, root: string): Promise<Run> {
  const child = new Deno.Command(cmd, {
    args,
    cwd,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: root,
      XDG_CONFIG_HOME: `${root}/config`,
      XDG_DATA_HOME: `${root}/data`,
      TERM: "xterm",
      LC_ALL: "C.UTF-8",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const out = await child.output().catch((e) => {
    throw new Error(`${cmd} ${args.join(" ")}: did not finish in ${TIMEOUT_MS} ms`, { cause: e });
  });
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

function sorted(words: Iterable<string>): string[] {
  return [...new Set(words)].sort();
}

// ---- bash ---------------------------------------------------------------------------------

/** Sources the script, sets up what bash gives a completion function, prints COMPREPLY. */
const BASH_DRIVER = `source "$1" || exit 9
shift
COMP_WORDS=("$@")
COMP_CWORD=$(( $# - 1 ))
COMP_LINE="\${COMP_WORDS[*]}"
COMP_POINT=\${#COMP_LINE}
_bittorrent
printf '%s\\n' "\${COMPREPLY[@]}"`;

/** What bash offers for the last word of `words` (bash's split: `--a=b` is `--a`, `=`, `b`). */
async function bashComplete(root: string, cwd: string, words: string[]): Promise<string[]> {
  const args = ["--norc", "--noprofile", "-c", BASH_DRIVER, "bash", `${root}/bittorrent.bash`];
  const r = await run(BASH, [...args, ...words], cwd, root);
  assertEquals(r.stderr, "", `bash stderr for ${JSON.stringify(words)}`);
  assertEquals(r.code, 0, `bash exit code for ${JSON.stringify(words)}`);
  return sorted(r.stdout.split("\n").filter((l) => l !== ""));
}

/** `line` as bash splits it; a trailing space starts an empty word. */
function words(line: string): string[] {
  return line.split(" ");
}

Deno.test("completions bash: the script parses and registers _bittorrent", async () => {
  await withSample(async (root, cwd) => {
    const script = `${root}/bittorrent.bash`;
    const syntax = await run(BASH, ["--norc", "--noprofile", "-n", script], cwd, root);
    assertEquals([syntax.code, syntax.stderr], [0, ""]);
    const args = ["--norc", "--noprofile", "-c", 'source "$1" && complete -p bittorrent', "bash"];
    const registered = await run(BASH, [...args, script], cwd, root);
    assertEquals(registered.stdout.trim(), "complete -o filenames -F _bittorrent bittorrent");
  });
});

Deno.test("completions bash: the first word is a command word or a torrent", async () => {
  await withSample(async (root, cwd) => {
    const first = await bashComplete(root, cwd, words("bittorrent "));
    assertEquals(first, sorted([...COMMAND_WORDS, ...TORRENTS]));
    assert(!first.includes("b.txt"), "b.txt is not a torrent");
    assertEquals(await bashComplete(root, cwd, words("bittorrent ve")), ["verify"]);
    // A name with a space must stay one word, not split in two.
    assertEquals(await bashComplete(root, cwd, words("bittorrent my")), ["my file.torrent"]);
    assertEquals(await bashComplete(root, cwd, words("bittorrent --")), longFlags("download"));
  });
});

Deno.test("completions bash: each command offers its own flags", async () => {
  await withSample(async (root, cwd) => {
    for (const c of COMMANDS) {
      assertEquals(await bashComplete(root, cwd, ["bittorrent", c, "--"]), longFlags(c), c);
      assertEquals(await bashComplete(root, cwd, ["bittorrent", c, "-"]), allFlags(c), c);
    }
    const verify = await bashComplete(root, cwd, words("bittorrent verify --"));
    assert(!verify.includes("--seed"), "--seed is download's, not verify's");
    assert(!verify.includes("--encryption"), "--encryption is not verify's");
  });
});

Deno.test("completions bash: flag values, shells and help topics", async () => {
  await withSample(async (root, cwd) => {
    const complete = (line: string) => bashComplete(root, cwd, words(line));
    const modes = ["off", "prefer", "require"];
    assertEquals(await complete("bittorrent --encryption "), modes);
    assertEquals(await complete("bittorrent info --encryption r"), ["require"]);
    assertEquals(await bashComplete(root, cwd, ["bittorrent", "--encryption", "="]), modes);
    assertEquals(await bashComplete(root, cwd, ["bittorrent", "--encryption", "=", "o"]), ["off"]);
    assertEquals(await complete("bittorrent completions "), ["bash", "fish", "zsh"]);
    assertEquals(await complete("bittorrent completions z"), ["zsh"]);
    assertEquals(await complete("bittorrent completions --"), ["--help"]);
    assertEquals(await complete("bittorrent help "), sorted(COMMANDS));
    // Values nobody can guess get nothing rather than file names.
    assertEquals(await complete("bittorrent --port "), []);
    assertEquals(await complete("bittorrent create x --tracker "), []);
  });
});

Deno.test("completions bash: files, torrents and folders where each is wanted", async () => {
  await withSample(async (root, cwd) => {
    const complete = (line: string) => bashComplete(root, cwd, words(line));
    assertEquals(await complete("bittorrent download "), TORRENTS);
    assertEquals(await complete("bittorrent verify a.torrent "), TORRENTS);
    assertEquals(await complete("bittorrent -i "), TORRENTS);
    assertEquals(await complete("bittorrent info --input "), TORRENTS);
    assertEquals(await complete("bittorrent sub/"), ["sub/c.torrent"]);
    assertEquals(await complete("bittorrent download --log-dir "), FOLDERS);
    assertEquals(await bashComplete(root, cwd, ["bittorrent", "--log-dir", "=", "s"]), FOLDERS);
    assertEquals(await complete("bittorrent -o "), FOLDERS);
    assertEquals(await complete("bittorrent verify x.torrent --output "), FOLDERS);
    assertEquals(await complete("bittorrent --save-torrent "), EVERY_FILE);
    assertEquals(await complete("bittorrent create "), EVERY_FILE);
    assertEquals(await complete("bittorrent create x -o "), EVERY_FILE);
    assertEquals(await complete("bittorrent create x --output b"), ["b.txt"]);
  });
});

// ---- zsh ----------------------------------------------------------------------------------

/**
 * Completes each line in a real interactive zsh on a pseudo-terminal (zpty): `compadd` is
 * wrapped to print every match it adds, and `comppostfuncs` marks the end of each completion.
 * The markers are split in the typed text (`<""HIT>`), so the terminal's echo never matches.
 * Prints the matches of each line, then `<DONE>`.
 */
const ZSH_DRIVER = `zmodload zsh/zpty || exit 9
zpty z zsh -f -i
zpty -w z 'PROMPT= RPROMPT= LISTMAX=100000; bindkey -e; unsetopt auto_list'
zpty -w z "fpath=(\${(q)1} \\$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z 'compadd() {
  if (( \${@[(I)-(O|A|D)]} )); then builtin compadd "$@"; return; fi
  local -a hits; local h
  builtin compadd -A hits "$@"
  for h in $hits; do print -r -- "<""HIT>$h"; done
  builtin compadd "$@"
}'
zpty -w z '_bt_end() { print -r -- "<""END>" }'
shift
for line in "$@"; do
  zpty -w z 'comppostfuncs=(_bt_end)'
  zpty -wn z "$line"$'\\t'
  while zpty -r z out; do
    [[ $out == *'<END>'* ]] && break
    [[ $out == *'<HIT>'* ]] && print -r -- "\${\${out##*<HIT>}%%$'\\r'*}"
  done
  print -r -- '<DONE>'
  zpty -wn z $'\\C-u'
done
zpty -d z`;

/** What zsh offers for each line (backslash quoting undone), in order of `lines`. */
async function zshComplete(root: string, cwd: string, lines: string[]): Promise<string[][]> {
  const r = await run("zsh", ["-f", "-c", ZSH_DRIVER, "zsh", `${root}/zfunc`, ...lines], cwd, root);
  assertEquals(r.code, 0, `zsh driver failed: ${r.stderr}`);
  const blocks = r.stdout.split("<DONE>\n").slice(0, -1);
  assertEquals(blocks.length, lines.length, `zsh driver output: ${r.stdout}${r.stderr}`);
  return blocks.map((b) =>
    sorted(b.split("\n").filter((l) => l !== "").map((l) => l.replace(/\\(.)/g, "$1")))
  );
}

const ZSH_SYNTAX = "completions zsh: the script parses, and registers itself when sourced";
Deno.test({
  name: ZSH_SYNTAX,
  ignore: missing("zsh", HAVE_ZSH, ZSH_SYNTAX),
  fn: async () => {
    await withSample(async (root, cwd) => {
      const script = `${root}/zfunc/_bittorrent`;
      const syntax = await run("zsh", ["-f", "-n", script], cwd, root);
      assertEquals([syntax.code, syntax.stderr], [0, ""]);
      // `source <(bittorrent completions zsh)` must work as well as a file in $fpath.
      const setup =
        'autoload -Uz compinit && compinit -u -D && source "$1" && print $_comps[bittorrent]';
      const sourced = await run("zsh", ["-f", "-c", setup, "zsh", script], cwd, root);
      assertEquals([sourced.stdout, sourced.stderr], ["_bittorrent\n", ""]);
    });
  },
});

const ZSH_BEHAVIOUR = "completions zsh: commands, flags, values, files and folders";
Deno.test({
  name: ZSH_BEHAVIOUR,
  ignore: missing("zsh", HAVE_ZSH, ZSH_BEHAVIOUR),
  fn: async () => {
    await withSample(async (root, cwd) => {
      const cases: [string, string[]][] = [
        ["bittorrent ", sorted([...COMMAND_WORDS, ...TORRENTS])],
        // A whole command word still completes (to itself, then a space), not its arguments.
        ["bittorrent verify", ["verify"]],
        ["bittorrent help", ["help"]],
        ...COMMANDS.map((c): [string, string[]] => [`bittorrent ${c} --`, longFlags(c)]),
        ["bittorrent --", longFlags("download")],
        ["bittorrent --encryption ", ["off", "prefer", "require"]],
        ["bittorrent info --encryption=", ["off", "prefer", "require"]],
        ["bittorrent completions ", ["bash", "fish", "zsh"]],
        ["bittorrent help ", sorted(COMMANDS)],
        ["bittorrent verify ", TORRENTS],
        ["bittorrent -i ", TORRENTS],
        ["bittorrent --log-dir ", FOLDERS],
        ["bittorrent --log-dir=", FOLDERS],
        ["bittorrent -o ", FOLDERS],
        ["bittorrent create ", EVERY_FILE],
        ["bittorrent create x -o ", EVERY_FILE],
      ];
      const got = await zshComplete(root, cwd, cases.map(([line]) => line));
      cases.forEach(([line, want], i) => assertEquals(got[i], want, JSON.stringify(line)));
    });
  },
});

// ---- fish ---------------------------------------------------------------------------------

/** Loads the script, then prints what `complete -C` gives for each line, then `<DONE>`. */
const FISH_DRIVER = `source $argv[1]; or exit 9
for line in $argv[2..-1]
  complete -C $line
  echo '<DONE>'
end`;

/** What fish offers for each line (descriptions dropped), in order of `lines`. */
async function fishComplete(root: string, cwd: string, lines: string[]): Promise<string[][]> {
  const args = ["--no-config", "-c", FISH_DRIVER, `${root}/bittorrent.fish`, ...lines];
  const r = await run("fish", args, cwd, root);
  assertEquals([r.code, r.stderr], [0, ""], "fish driver");
  const blocks = r.stdout.split("<DONE>\n").slice(0, -1);
  assertEquals(blocks.length, lines.length, `fish driver output: ${r.stdout}`);
  return blocks.map((b) =>
    sorted(b.split("\n").filter((l) => l !== "").map((l) => l.split("\t")[0].replace(/\/$/, "")))
  );
}

const FISH_SYNTAX = "completions fish: the script parses";
Deno.test({
  name: FISH_SYNTAX,
  ignore: missing("fish", HAVE_FISH, FISH_SYNTAX),
  fn: async () => {
    await withSample(async (root, cwd) => {
      const r = await run("fish", ["--no-execute", `${root}/bittorrent.fish`], cwd, root);
      assertEquals([r.code, r.stderr], [0, ""]);
    });
  },
});

const FISH_BEHAVIOUR = "completions fish: commands, flags, values, files and folders";
Deno.test({
  name: FISH_BEHAVIOUR,
  ignore: missing("fish", HAVE_FISH, FISH_BEHAVIOUR),
  fn: async () => {
    await withSample(async (root, cwd) => {
      const cases: [string, string[]][] = [
        ["bittorrent ", sorted([...COMMAND_WORDS, ...TORRENTS])],
        ...COMMANDS.map((c): [string, string[]] => [`bittorrent ${c} --`, longFlags(c)]),
        ["bittorrent --", longFlags("download")],
        ["bittorrent --encryption ", ["off", "prefer", "require"]],
        ["bittorrent info --encryption=", [
          "--encryption=off",
          "--encryption=prefer",
          "--encryption=require",
        ]],
        ["bittorrent completions ", ["bash", "fish", "zsh"]],
        ["bittorrent help ", sorted(COMMANDS)],
        ["bittorrent help --", []],
        ["bittorrent verify ", TORRENTS],
        ["bittorrent info ", TORRENTS],
        ["bittorrent -i ", TORRENTS],
        ["bittorrent --port ", []],
        ["bittorrent --log-dir ", FOLDERS],
        ["bittorrent --log-dir=", ["--log-dir=sub"]],
        ["bittorrent -o ", FOLDERS],
        ["bittorrent --save-torrent ", EVERY_FILE],
        ["bittorrent create ", EVERY_FILE],
        ["bittorrent create x -o ", EVERY_FILE],
        ["bittorrent create x --comment ", []],
      ];
      const got = await fishComplete(root, cwd, cases.map(([line]) => line));
      cases.forEach(([line, want], i) => assertEquals(got[i], want, JSON.stringify(line)));
    });
  },
});

// ---- every flag in every script -----------------------------------------------------------

Deno.test("completions: bash lists exactly each command's flags", () => {
  const script = completionScript("bash");
  for (const c of COMMANDS) {
    const m = script.match(new RegExp(`^\\s*${c}\\) flags="([^"]*)"`, "m"));
    assert(m, `no flag list for ${c} in the bash script`);
    assertEquals(m[1].split(" ").sort(), allFlags(c), c);
  }
});

Deno.test("completions: zsh has an _arguments spec for each flag of each command", () => {
  const script = completionScript("zsh");
  for (const c of COMMANDS) {
    const body = script.match(new RegExp(`^_bittorrent_${c}\\(\\) \\{\\n([^]*?)\\n\\}`, "m"));
    assert(body, `no _bittorrent_${c} function in the zsh script`);
    // A spec starts '--name[', '--name=[' (value after = or next) or '-x+[' (-xVALUE or next).
    const specs = [...body[1].matchAll(/'(-{1,2}[\w-]+)[=+]?\[/g)].map((s) => s[1]);
    assertEquals(specs.sort(), allFlags(c), c);
  }
});

Deno.test("completions: fish has a complete line for each flag of each command", () => {
  const lines = completionScript("fish").split("\n")
    .filter((l) => l.startsWith("complete ") && l.includes(" -l "));
  const byCommand = new Map<string, string[]>(COMMANDS.map((c) => [c, []]));
  for (const line of lines) {
    assert(line.startsWith("complete -c bittorrent "), line);
    const when = line.match(/-n "(not )?__fish_seen_subcommand_from ([^"]+)"/);
    assert(when, `no command condition: ${line}`);
    const named = when[2].split(" ");
    // "not seen any of the others" is how the default command, download, is written.
    const commands = when[1] ? COMMANDS.filter((c) => !named.includes(c)) : named;
    assertEquals(commands.length, 1, `one command per line: ${line}`);
    const long = line.match(/ -l ([\w-]+)/)![1];
    const short = line.match(/ -s (\w)\b/)?.[1];
    byCommand.get(commands[0])!.push(`--${long}`, ...(short ? [`-${short}`] : []));
  }
  for (const c of COMMANDS) assertEquals(byCommand.get(c)!.sort(), allFlags(c), c);
});
