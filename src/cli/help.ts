/**
 * The help screens: one for the program (with the download options, the command people run
 * most) and one per other command. Every line fits 80 columns.
 *
 * @module
 */
import { type CommandName, DEFAULT_MAX_PEERS, DEFAULT_PORT, DEFAULT_RPC_PORT } from "./args.ts";

const NETWORK_OPTIONS =
  `      --port <N>              port to accept peers on, 0 = any (default: ${DEFAULT_PORT})
      --bind <ADDR>           listen for peers and run the DHT on this address
                              only (default: every IPv4 and IPv6 address)
      --encryption <MODE>     prefer: encrypt where the peer can (default);
                              require: encrypted peers only; off: plaintext only
      --peer <HOST:PORT>      dial this peer at start (repeat for more; IPv6 as
                              [addr]:port)
      --max-peers <NUM>       most peer connections, 1-1000 (default: ${DEFAULT_MAX_PEERS})
      --no-dht                do not use the DHT to find peers
      --no-utp                reach peers over TCP only (default: uTP first,
                              then TCP; both accepted)
      --no-pex                do not trade peer lists with peers (PEX)
      --dht-bootstrap <HOST:PORT,...>
                              DHT nodes to start from (default: public routers
                              and the nodes saved by the last run)
      --blocklist <FILE|URL>  never connect with the addresses this list names
                              (P2P or DAT lines, or CIDR blocks; gzipped or not)
      --log-dir <DIR>         folder for the log file (default: ./logs;
                              ~/Library/Logs/bittorrent on macOS)
  -v, --verbose               write debug messages to the log`;

/** The program's help: commands, download options, rates and examples. */
export const HELP_TEXT: string = `bittorrent - download, check, inspect and make torrents

Usage:
  bittorrent [download] [options] <torrent-file|magnet>
  bittorrent verify [-o <dir>] [-q] [--json] <torrent-file>
  bittorrent info [--json] <torrent-file|magnet>
  bittorrent create <file-or-folder> -o <file.torrent> [options]
  bittorrent daemon [-o <download-dir>] [options]
  bittorrent add|ls|pause|resume|rm|stats [--rpc <URL>] ...
  bittorrent completions <bash|zsh|fish>
  bittorrent help [<command>]

Commands:
  download (the default)      download, resuming what the output folder holds
  verify                      hash the files in the output folder and report
                              each file's completeness; exit 0 when complete,
                              1 when not
  info                        show what a torrent or magnet link holds
  create                      make a .torrent of a file or folder
  daemon                      run in the foreground for many torrents, driven
                              over Transmission's RPC (transmission-remote)
  add, ls, pause, resume, rm, stats
                              drive a running daemon (bittorrent help add)
  completions                 print a shell completion script
  help                        this text, or a command's (bittorrent help create)

Download options:
  -i, --input <torrent-file|magnet>
                              .torrent file or magnet link to download
                              (a bare argument works too)
  -o, --output <dir>          folder to save the files in (default: .)
      --max-download-rate <RATE>
                              download limit (default: 0 = unlimited)
      --max-upload-rate <RATE>
                              upload limit (default: 0 = unlimited)
${NETWORK_OPTIONS}
      --files                 list the torrent's files with indexes and sizes,
                              then exit (for a magnet, once its info arrived)
      --select <LIST>         download only these files, e.g. 1,3-5
      --exclude <LIST>        download every file but these, e.g. 2,7-9
      --sequential            download pieces in order (to play media early)
      --prealloc              reserve the files' full size on disk before
                              downloading (default: sparse files that grow)
      --no-web-seeds          do not fetch from the torrent's web seeds (HTTP
                              mirrors, BEP 19)
      --seed                  keep seeding after completion, until Ctrl-C
      --seed-ratio <R>        seed until uploaded / size reaches R, then exit
      --seed-time <DURATION>  seed this long, then exit (e.g. 90s, 30m, 2h,
                              1h30m; a bare number is minutes)
      --no-seed               stop when the download completes (the default)
      --save-torrent <FILE>   for a magnet link, save the fetched .torrent
      --json                  newline-delimited JSON events on stdout instead
                              of the status line
  -q, --quiet                 no progress line
  -h, --help                  show this help and exit
      --version               show the version and exit

With both --seed-ratio and --seed-time, seeding stops at whichever comes
first; --seed alone seeds until Ctrl-C.

RATE is bytes per second with an optional K, M or G suffix
(K = 1024, M = 1024^2, G = 1024^3), e.g. 500K, 2M, 1.5M; a trailing B or /s
is allowed, in any case. 0 means unlimited.

Examples:
  bittorrent -o ~/Downloads ubuntu.iso.torrent
  bittorrent --max-download-rate 2M --seed "magnet:?xt=urn:btih:<info-hash>"
  bittorrent --files series.torrent
  bittorrent --select 2,4-6 --sequential --seed-ratio 1.5 series.torrent
  bittorrent info --json debian.torrent
  bittorrent create ./album -o album.torrent --tracker udp://tracker.example:80
`;

const VERIFY_HELP = `bittorrent verify - check the files in a folder against a torrent

Usage:
  bittorrent verify [-o <dir>] [-q] [--json] <torrent-file>

Hashes the data in the output folder and prints each file's completeness and
a total. Exit code 0 when every piece verifies and every file is present, 1
otherwise. It only reads: missing files are reported, never created.

Options:
  -i, --input <torrent-file>  the .torrent (a bare argument works too)
  -o, --output <dir>          the folder the torrent was downloaded into
                              (default: .)
      --json                  newline-delimited JSON events on stdout
  -q, --quiet                 print only the total line
`;

const INFO_HELP = `bittorrent info - show what a torrent or magnet link holds

Usage:
  bittorrent info [--json] <torrent-file|magnet>

Prints the name, info-hash, size, pieces, private flag, files, trackers by
tier, web seeds, comment and creator. For a magnet link it first fetches the
torrent's info from peers, as a download does (these options then apply).

Options:
      --json                  print one JSON object instead
  -q, --quiet                 no progress line while fetching a magnet's info
${NETWORK_OPTIONS}
`;

const CREATE_HELP = `bittorrent create - make a .torrent of a file or folder

Usage:
  bittorrent create <file-or-folder> -o <file.torrent> [options]

Files are taken in byte order of their names, folder by folder. Symbolic links
and hidden files and folders (names starting with ".") inside a folder are left
out; a path given on the command line is taken as it is.

Options:
  -o, --output <FILE>         where to write the torrent (never overwritten)
      --tracker <URL>         announce URL (http, https or udp); repeat for
                              more in the same tier; --tracker "" starts a new
                              tier
      --web-seed <URL>        a web seed (BEP 19); repeat for more
      --piece-size <SIZE>     bytes per piece, a power of two from 16K to 256M
                              (default: from the total size, 16K to 16M, for
                              at most about 2000 pieces)
      --private               private torrent (BEP 27): peers from trackers only
      --comment <TEXT>        a comment
      --source <TEXT>         a source tag (changes the info-hash; private
                              trackers use it)
      --no-date               leave the creation date out, so the same files
                              make the same torrent
      --hybrid                v1 and v2 hashes in one torrent, for every
                              client (the default; files start on pieces,
                              behind pad files)
      --v2                    v2 only (BEP 52): SHA-256 merkle trees; older
                              clients cannot read it
      --v1                    v1 only: SHA-1 pieces, files end to end
      --json                  newline-delimited JSON events on stdout
  -q, --quiet                 no progress line
`;

const COMPLETIONS_HELP = `bittorrent completions - print a shell completion script

Usage:
  bittorrent completions <bash|zsh|fish>

Install it, for example:
  bash: bittorrent completions bash \
          > ~/.local/share/bash-completion/completions/bittorrent
  zsh:  bittorrent completions zsh > ~/.zfunc/_bittorrent  (~/.zfunc in fpath)
  fish: bittorrent completions fish > ~/.config/fish/completions/bittorrent.fish
`;

/** `bittorrent help daemon`. */
const DAEMON_HELP = `bittorrent daemon - many torrents in one process, driven over RPC

Usage:
  bittorrent daemon [-o <download-dir>] [options]

Runs in the foreground until Ctrl-C, SIGTERM or an RPC session-close
(transmission-remote --exit), which stop every torrent cleanly. It speaks Transmission's RPC at
http://<rpc-bind>:<rpc-port>/transmission/rpc, so transmission-remote and other
Transmission tools drive it, e.g.
  transmission-remote -a file.torrent      transmission-remote -l
  transmission-remote -t 1 -r              (--remove-and-delete: with the data)
Added torrents download into --output (or the folder the request names) and
then seed.

Options:
  -o, --output <dir>          where torrents go (default: .)
      --rpc-port <N>          RPC port (default: ${DEFAULT_RPC_PORT})
      --rpc-bind <ADDR>       RPC address (default: 127.0.0.1)
      --rpc-auth <USER:PASS>  ask RPC clients for this login (HTTP Basic)
      --rpc-host <NAME>       a host name the RPC answers to, besides localhost,
                              127.0.0.1, [::1] and the RPC address (repeatable)
      --state-dir <DIR>       where torrents are kept between runs (default:
                              the state folder's daemon/)
      --watch-dir <DIR>       add the .torrent files put in this folder (each
                              then renamed <name>.torrent.added)
      --incomplete-dir <DIR>  download here, then move to the download folder
                              once complete
      --done-script <FILE>    run this program when a torrent finishes
                              downloading (told of it as Transmission tells:
                              TR_TORRENT_DIR, TR_TORRENT_NAME, ...)
      --max-active <NUM>      torrents downloading at once, the rest queued in
                              order (default: 5)
      --max-connections <NUM> peer connections of all torrents together, shared
                              evenly (default: 600)
      --seed-ratio <R>        stop seeding a torrent at this share ratio
      --seed-idle <DURATION>  stop seeding a torrent after this long without
                              uploading (e.g. 30m, 2h)
      --paused                torrents added over RPC start stopped
      --alt-download-rate <RATE>, --alt-upload-rate <RATE>
                              turtle mode's limits (default: 50K each)
      --alt-speed             start in turtle mode
      --alt-speed-schedule <WHEN>
                              turtle mode daily, e.g. 09:00-17:00@weekdays or
                              23:00-07:00@mon,tue (a window past midnight ends
                              the next day)
      --port <N>              port to accept peers on (default: ${DEFAULT_PORT})
      --bind <ADDR>           listen for peers and run the DHT on this address
      --encryption <MODE>     prefer (default), require or off
      --max-peers <NUM>       most peer connections a torrent (default: ${DEFAULT_MAX_PEERS})
      --max-download-rate <RATE>, --max-upload-rate <RATE>
                              limits for all torrents together (0 = none)
      --no-dht, --no-utp, --no-pex, --dht-bootstrap <HOST:PORT,...>,
      --blocklist <FILE|URL>  as for download
      --log-dir <DIR>         folder for the log file
  -v, --verbose               write debug messages to the log

Options may also be kept in <state-dir>/settings.json, each long flag without
its dashes, e.g. {"output": "/srv/t", "max-active": 3, "no-dht": true}; the
command line wins. What a remote changes with session-set is saved there.
`;

/** `bittorrent help add` (and ls, pause, resume, rm, stats). */
const REMOTE_HELP = `bittorrent add, ls, pause, resume, rm, stats - drive a running daemon

Usage:
  bittorrent add <torrent-file|magnet>... [-o <dir>] [--paused]
  bittorrent ls [--json]
  bittorrent pause <id|info-hash|all>...
  bittorrent resume <id|info-hash|all>...
  bittorrent rm <id|info-hash|all>... [--delete]
  bittorrent stats [--json]

They talk to bittorrent daemon (or any daemon that speaks Transmission's RPC)
at --rpc. add sends a .torrent file's contents, so the daemon need not see this
machine's folders; -o names the folder the daemon saves into. ls shows each
torrent's id, progress, size, ETA, rates, ratio, peers and state.

Options:
      --rpc <URL>             the daemon (default: http://127.0.0.1:${DEFAULT_RPC_PORT});
                              a login may be in it (http://user:pass@host:port)
      --rpc-auth <USER:PASS>  the daemon's login
  -o, --output <dir>          add: where the daemon saves (default: its own)
      --paused                add: without starting
      --delete                rm: delete the data too
      --json                  ls, stats: JSON on stdout
`;

/**
 * The help screen for `topic` (the program's when none).
 *
 * @example
 * ```ts
 * import { helpText } from "./help.ts";
 * console.log(helpText("create").split("\n")[0]); // bittorrent create - make a .torrent of a file or folder
 * ```
 */
export function helpText(topic?: CommandName): string {
  switch (topic) {
    case "verify":
      return VERIFY_HELP;
    case "info":
      return INFO_HELP;
    case "create":
      return CREATE_HELP;
    case "daemon":
      return DAEMON_HELP;
    case "add":
    case "ls":
    case "pause":
    case "resume":
    case "rm":
    case "stats":
      return REMOTE_HELP;
    case "completions":
      return COMPLETIONS_HELP;
    default:
      return HELP_TEXT;
  }
}
