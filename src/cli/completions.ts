/**
 * Shell completion scripts for bash, zsh and fish, made from the same flag table the parser
 * uses, so a new flag is offered as soon as it exists. They complete command words, each
 * command's flags, the values of `--encryption` and `completions`, `.torrent` files as inputs
 * and folders where a folder is wanted.
 *
 * @module
 */
import { commandFlags, type CommandName, type FlagInfo, type Shell } from "./args.ts";

const COMMANDS: readonly CommandName[] = [
  "download",
  "verify",
  "info",
  "create",
  "daemon",
  "add",
  "ls",
  "pause",
  "resume",
  "rm",
  "stats",
  "completions",
];
const WORDS = [...COMMANDS, "help"];
const ENCRYPTION = "prefer require off";
const SHELLS = "bash zsh fish";
/** Flags whose value is a folder (the rest that take a value get files, or nothing). */
const FOLDER_FLAGS = new Set(["--log-dir"]);

/**
 * The completion script for `shell`.
 *
 * @example
 * ```ts
 * import { completionScript } from "./completions.ts";
 * console.log(completionScript("fish").includes("complete -c bittorrent")); // true
 * ```
 */
export function completionScript(shell: Shell): string {
  switch (shell) {
    case "bash":
      return bashScript();
    case "zsh":
      return zshScript();
    case "fish":
      return fishScript();
  }
}

function names(flags: readonly FlagInfo[]): string {
  return flags.flatMap((f) => f.short ? [f.short, f.long] : [f.long]).join(" ");
}

function valued(flags: readonly FlagInfo[]): string {
  return flags.filter((f) => f.metavar).flatMap((f) => f.short ? [f.short, f.long] : [f.long])
    .join(" ");
}

function bashScript(): string {
  const cases = COMMANDS.map((c) =>
    `    ${c}) flags="${names(commandFlags(c))}"; valued=" ${valued(commandFlags(c))} " ;;`
  ).join("\n");
  // Replies are read a line at a time (not word-split), so "My Show.torrent" stays one file.
  // No extglob (sourcing must not change the user's shell options) and no mapfile (macOS's
  // bash 3.2 lacks it). _bittorrent_add reads $cur from _bittorrent (bash scoping is dynamic).
  return `# bash completion for bittorrent (bittorrent completions bash)
_bittorrent_add() {
  local line
  while IFS= read -r line; do COMPREPLY+=("$line"); done < <(compgen "$@" -- "$cur")
}

_bittorrent_torrents() {
  _bittorrent_add -f -X '!*.torrent'
  _bittorrent_add -d
}

_bittorrent() {
  local cur prev cmd flags valued
  COMPREPLY=()
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  # bash splits --name=value into --name, =, value: complete the value as a word of its own.
  if [ "$cur" = "=" ]; then
    cur=""
  elif [ "$prev" = "=" ] && [ "$COMP_CWORD" -gt 2 ]; then
    prev="\${COMP_WORDS[COMP_CWORD-2]}"
  fi
  cmd=download
  case "\${COMP_WORDS[1]}" in
    ${WORDS.join("|")}) cmd="\${COMP_WORDS[1]}" ;;
  esac
  if [ "$COMP_CWORD" -eq 1 ] && [[ "$cur" != -* ]]; then
    _bittorrent_add -W "${WORDS.join(" ")}"
    _bittorrent_torrents
    return
  fi
  case "$cmd" in
${cases}
    help)
      if [ "$COMP_CWORD" -eq 2 ]; then _bittorrent_add -W "${COMMANDS.join(" ")}"; fi
      return ;;
  esac
  case "$prev" in
    --encryption) _bittorrent_add -W "${ENCRYPTION}"; return ;;
    ${[...FOLDER_FLAGS].join("|")}) _bittorrent_add -d; return ;;
    -i|--input) _bittorrent_torrents; return ;;
    --save-torrent) _bittorrent_add -f; return ;;
    -o|--output)
      if [ "$cmd" = create ]; then _bittorrent_add -f; else _bittorrent_add -d; fi
      return ;;
  esac
  # The value of a flag we cannot guess (a number, a URL): offer nothing rather than files.
  if [ -n "$prev" ] && [[ "$valued" == *" $prev "* ]]; then return; fi
  if [[ "$cur" == -* ]]; then
    _bittorrent_add -W "$flags"
  elif [ "$cmd" = completions ]; then
    if [ "$COMP_CWORD" -eq 2 ]; then _bittorrent_add -W "${SHELLS}"; fi
  elif [ "$cmd" = create ]; then
    _bittorrent_add -f
  elif [[ " daemon ls pause resume rm stats " == *" $cmd "* ]]; then
    return
  else
    _bittorrent_torrents
  fi
}
complete -o filenames -F _bittorrent bittorrent
`;
}

/**
 * A zsh `_arguments` spec of one flag and its short twin. A long flag's value may follow `=` or
 * come as the next word (`--name=[about]`), a short one's may be glued on (`-x+[about]`), as the
 * parser accepts.
 */
function zshSpec(f: FlagInfo, command: CommandName): string[] {
  const about = f.about.replace(/[[\]:\\]/g, " ").replace(/'/g, "'\\''");
  let value = "";
  if (f.metavar) {
    const action = f.long === "--encryption"
      ? `(${ENCRYPTION})`
      : FOLDER_FLAGS.has(f.long) || (f.long === "--output" && command !== "create")
      ? "_files -/"
      : f.long === "--input"
      ? `_files -g "*.torrent"`
      : f.long === "--output" || f.long === "--save-torrent"
      ? "_files"
      : " ";
    value = `:${f.metavar.replace(/[<>:]/g, "")}:${action}`;
  }
  const specs = [`'${f.long}${f.metavar ? "=" : ""}[${about}]${value}'`];
  if (f.short) specs.push(`'${f.short}${f.metavar ? "+" : ""}[${about}]${value}'`);
  return specs;
}

function zshScript(): string {
  const functions = COMMANDS.map((c) => {
    const args = commandFlags(c).flatMap((f) => zshSpec(f, c));
    const positional = c === "completions"
      ? [`'1:shell:(${SHELLS})'`]
      : c === "create"
      ? ["'1:file or folder:_files'"]
      : ["daemon", "ls", "pause", "resume", "rm", "stats"].includes(c)
      ? []
      : ["'1:torrent:_files -g \"*.torrent\"'"];
    return `_bittorrent_${c}() {\n  _arguments -s \\\n    ${
      [...args, ...positional].join(" \\\n    ")
    }\n}`;
  }).join("\n\n");
  // While the command word itself is being typed (CURRENT == 2), it is completed as a word.
  // Loaded from $fpath the file is the body of _bittorrent, called to complete; sourced, it
  // registers itself instead (calling _arguments outside completion is an error).
  return `#compdef bittorrent
# zsh completion for bittorrent (bittorrent completions zsh)

${functions}

_bittorrent() {
  local cmd=\${words[2]}
  if (( CURRENT > 2 )); then
    case "$cmd" in
      ${COMMANDS.join("|")})
        shift words; (( CURRENT-- ))
        _bittorrent_$cmd
        return ;;
      help)
        (( CURRENT == 3 )) && _values command ${COMMANDS.join(" ")}
        return ;;
    esac
  fi
  if (( CURRENT == 2 )) && [[ \${words[CURRENT]} != -* ]]; then
    _alternative 'commands:command:(${WORDS.join(" ")})' 'files:torrent:_files -g "*.torrent"'
  else
    _bittorrent_download
  fi
}

if [[ $funcstack[1] == _bittorrent ]]; then
  _bittorrent "$@"
else
  compdef _bittorrent bittorrent
fi
`;
}

/** fish's `complete` options for the value of flag `f` of `command`. */
function fishValue(f: FlagInfo, command: CommandName): string {
  // -r alone lets fish add file names to any value; -x (-r -f) keeps them out where they make
  // no sense, and -F puts them back where any file will do.
  if (f.long === "--encryption") return ` -x -a "${ENCRYPTION}"`;
  if (FOLDER_FLAGS.has(f.long) || (f.long === "--output" && command !== "create")) {
    return ` -x -a "(__bittorrent_folders)"`;
  }
  if (f.long === "--input") return ` -x -a "(__bittorrent_torrents)"`;
  if (f.long === "--output" || f.long === "--save-torrent") return " -r -F";
  return " -x";
}

function fishScript(): string {
  const lines = [
    "# fish completion for bittorrent (bittorrent completions fish)",
    `set -l commands ${WORDS.join(" ")}`,
    "complete -c bittorrent -f",
    "",
    "# The value being typed, without the --flag= that fish puts back by itself.",
    "function __bittorrent_value",
    "    commandline -ct | string replace -r -- '^-[^=]*=' ''",
    "end",
    "# fish 3.6's __fish_complete_suffix lists every file (matching ones first): keep those.",
    "function __bittorrent_torrents",
    "    set -l value (__bittorrent_value)",
    `    __fish_complete_suffix "$value" .torrent |`,
    String.raw`        string match -r -- '^[^\t]*(?:\.torrent|/)(?:\t.*)?$'`,
    "end",
    "function __bittorrent_folders",
    "    set -l value (__bittorrent_value)",
    `    __fish_complete_directories "$value" ''`,
    "end",
    "",
    ...COMMANDS.map((c) =>
      `complete -c bittorrent -n "not __fish_seen_subcommand_from $commands" -a ${c} ` +
      `-d ${fishQuote(commandAbout(c))}`
    ),
    `complete -c bittorrent -n "not __fish_seen_subcommand_from $commands" -a help -d 'show help'`,
    `complete -c bittorrent -n "__fish_seen_subcommand_from help" -a "${COMMANDS.join(" ")}"`,
    `complete -c bittorrent -n "__fish_seen_subcommand_from completions" -a "${SHELLS}"`,
    `complete -c bittorrent -n "not __fish_seen_subcommand_from create daemon ls pause ` +
    `resume rm stats completions help" ` +
    `-a "(__bittorrent_torrents)"`,
    `complete -c bittorrent -n "__fish_seen_subcommand_from create" -F`,
  ];
  for (const c of COMMANDS) {
    const when = c === "download"
      ? `not __fish_seen_subcommand_from ${WORDS.filter((x) => x !== "download").join(" ")}`
      : `__fish_seen_subcommand_from ${c}`;
    for (const f of commandFlags(c)) {
      let line = `complete -c bittorrent -n "${when}" -l ${f.long.slice(2)}`;
      if (f.short) line += ` -s ${f.short.slice(1)}`;
      if (f.metavar) line += fishValue(f, c);
      lines.push(`${line} -d ${fishQuote(f.about)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

function commandAbout(c: CommandName): string {
  return {
    download: "download a torrent or magnet link",
    verify: "check downloaded files against a torrent",
    info: "show what a torrent holds",
    create: "make a .torrent of a file or folder",
    daemon: "run many torrents, driven over Transmission's RPC",
    add: "add torrents to a running daemon",
    ls: "list a daemon's torrents",
    pause: "stop torrents of a daemon",
    resume: "start torrents of a daemon",
    rm: "remove torrents from a daemon",
    stats: "a daemon's totals",
    completions: "print a shell completion script",
  }[c];
}

function fishQuote(text: string): string {
  return `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}
