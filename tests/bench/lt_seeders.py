#!/usr/bin/python3
"""Several libtorrent (python3-libtorrent 2.0.x) seeders in one process, for the benchmark.

Run it with Debian's /usr/bin/python3: the libtorrent module imports only there.

    lt_seeders.py --torrent T --data DIR --port P [--port P2 ...] [--upload-rate BYTES]
                  [--seed-mode] [--tracker-off] [--encryption MODE] [--transport tcp|utp|both]

Each --port is one seeder: its own libtorrent session listening on 127.0.0.1:PORT with the
torrent added, so a tracker sees as many peers as ports. Sessions allow several connections per
IP (every loopback peer is 127.0.0.1), have DHT, LSD, UPnP, NAT-PMP, uTP (unless --transport
says otherwise) and the extension plugins (ut_pex, ut_metadata, smart_ban) off, and no rate limit unless --upload-rate (bytes per
second, per seeder) is given. --seed-mode skips the initial hash check (libtorrent then verifies
each piece when first asked for it), which keeps hundreds of seeders from hashing the payload
hundreds of times. --tracker-off keeps the seeders off the torrent's trackers (they then only
dial the peers they are told to).

stdout: "READY <n>" once every seeder listens, seeds, and got its first tracker answer.
stdin, one command a line:
    connect HOST:PORT   every seeder dials that peer (a client such as Transmission that
                        ignores loopback addresses from trackers but accepts incoming peers)
SIGTERM ends the process at once. Errors go to stderr; exit 2 for bad input, 4 when the data
does not verify.
"""

import argparse
import os
import select
import signal
import sys
import time

try:
    import libtorrent as lt
except ImportError as e:  # pragma: no cover - depends on the interpreter
    sys.stderr.write("lt_seeders: cannot import libtorrent (%s); use /usr/bin/python3\n" % e)
    sys.exit(2)

# The session settings are shared with the interop driver beside the interop tests (imported
# without leaving a __pycache__ folder in the source tree).
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
from lt_client import (  # noqa: E402
    LOOPBACK,
    encryption_settings,
    loopback_settings,
    transport_settings,
)


def fail(code, message):
    sys.stderr.write("lt_seeders: %s\n" % message)
    sys.stderr.flush()
    os._exit(code)


def make_session(port, upload_rate, encryption, transport):
    settings = loopback_settings("%s:%d" % (LOOPBACK, port), upload_rate)
    settings.update(encryption_settings(encryption))
    settings.update(transport_settings(transport))
    ses = lt.session(
        settings,
        # No default plugins: without ut_pex, a downloader's peer list cannot make hundreds of
        # seeders dial each other.
        0,
    )
    if upload_rate > 0:
        # libtorrent puts loopback and LAN peers in its unlimited "local" peer class: put
        # every address in the global class so the session's rate limit applies to them.
        f = lt.ip_filter()
        f.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
        ses.set_peer_class_filter(f)
    return ses


def parse_peer(text):
    host, sep, port = text.rpartition(":")
    if not sep or host not in (LOOPBACK, "localhost") or not port.isdigit():
        return None
    port = int(port)
    return (LOOPBACK, port) if 0 < port < 65536 else None


def main():
    p = argparse.ArgumentParser(prog="lt_seeders.py", description=__doc__.split("\n")[0])
    p.add_argument("--torrent", required=True)
    p.add_argument("--data", required=True, help="save path holding the torrent's content")
    p.add_argument("--port", type=int, action="append", required=True, help="one per seeder")
    p.add_argument("--upload-rate", type=int, default=0, help="bytes/s per seeder, 0 = none")
    p.add_argument("--seed-mode", action="store_true", help="skip the initial hash check")
    p.add_argument("--tracker-off", action="store_true", help="never announce to trackers")
    p.add_argument(
        "--encryption",
        choices=("enabled", "forced", "disabled"),
        default="enabled",
        help="MSE policy both ways; forced: RC4-encrypted connections only",
    )
    p.add_argument(
        "--transport",
        choices=("tcp", "utp", "both"),
        default="tcp",
        help="how peers are reached and accepted (default: TCP only)",
    )
    args = p.parse_args()
    if len(args.port) > 1000 or any(not 0 < q < 65536 for q in args.port):
        fail(2, "ports must be 1..65535, at most 1000 of them")
    if args.upload_rate < 0:
        fail(2, "--upload-rate must not be negative")
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    try:
        info = lt.torrent_info(args.torrent)
    except Exception as e:
        fail(2, "cannot read torrent %s: %s" % (args.torrent, e))
    has_trackers = len(list(info.trackers())) > 0 and not args.tracker_off
    seeders = []
    for port in args.port:
        ses = make_session(port, args.upload_rate, args.encryption, args.transport)
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(info)
        atp.save_path = args.data
        flags = atp.flags
        flags &= ~lt.torrent_flags.auto_managed
        # Added paused and then resumed: added running but not auto-managed, libtorrent 2.0.8
        # leaves the torrent in checking_files for good.
        flags |= lt.torrent_flags.paused
        flags |= lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd
        if args.seed_mode:
            flags |= lt.torrent_flags.seed_mode
        atp.flags = flags
        h = ses.add_torrent(atp)
        if args.tracker_off:
            h.replace_trackers([])
        h.resume()
        seeders.append({"ses": ses, "h": h, "announced": not has_trackers, "port": port})
    ready = False
    pending = b""
    stdin_open = True
    while True:
        if stdin_open:
            readable, _, _ = select.select([sys.stdin.buffer], [], [], 0.05)
            if readable:
                chunk = os.read(sys.stdin.fileno(), 4096)
                if not chunk:
                    stdin_open = False
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    words = line.decode("utf-8", "replace").split()
                    if len(words) == 2 and words[0] == "connect":
                        peer = parse_peer(words[1])
                        if peer is None:
                            sys.stderr.write("lt_seeders: ignoring %r\n" % words[1])
                            continue
                        for s in seeders:
                            s["h"].connect_peer(peer)
                pending = pending[-4096:]
        else:
            time.sleep(0.05)
        for s in seeders:
            for a in s["ses"].pop_alerts():
                if a.category() & lt.alert.category_t.error_notification:
                    sys.stderr.write("ALERT %d %s: %s\n" % (s["port"], a.what(), a.message()))
                if isinstance(a, lt.listen_failed_alert) and "TCP" in a.message().upper():
                    fail(2, "cannot listen on port %d: %s" % (s["port"], a.message()))
                if isinstance(a, (lt.tracker_reply_alert, lt.tracker_error_alert)):
                    s["announced"] = True
        if ready:
            continue
        all_ready = True
        for s in seeders:
            st = s["h"].status()
            if st.errc.value() != 0:
                fail(2, "torrent error on port %d: %s" % (s["port"], st.errc.message()))
            if st.state in (
                lt.torrent_status.checking_files,
                lt.torrent_status.checking_resume_data,
            ):
                all_ready = False
                continue
            if not st.is_seeding:
                if st.state == lt.torrent_status.downloading:
                    fail(4, "seed data under %s is incomplete" % args.data)
                all_ready = False
                continue
            if not (s["ses"].is_listening() and s["announced"]):
                all_ready = False
        if all_ready:
            ready = True
            sys.stdout.write("READY %d\n" % len(seeders))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
