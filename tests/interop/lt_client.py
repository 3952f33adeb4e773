#!/usr/bin/python3
"""A libtorrent (python3-libtorrent 2.0.x) seeder/downloader for loopback interop tests.

Run it with Debian's /usr/bin/python3: the libtorrent module imports only there.

    lt_client.py seed --torrent T --data DIR --port P [--tracker-off] [--seed-mode]
    lt_client.py download (--torrent T | --magnet M) --out DIR --port P
                          [--peer HOST:PORT ...] [--timeout S] [--tracker-off]
    lt_client.py dht-node --port P [--dht-bootstrap HOST:PORT ...]
    lt_client.py create --source PATH --out T --piece-length N [--version v1|v2|hybrid]
                        [--announce URL ...] [--web-seed URL ...]

All accept --encryption enabled|forced|disabled (libtorrent's policy for both directions;
forced also allows RC4 only, so every connection is MSE with RC4; default enabled, libtorrent's
own default), --dht-port P2 and --dht-bootstrap HOST:PORT (repeatable) to run libtorrent's DHT on
127.0.0.1 only; without --dht-port the DHT is off (dht-node always runs it, on --port). A
loopback DHT needs three nodes: libtorrent does not search its own store, so a seeder and a
downloader find each other only through a third node (dht-node) they both bootstrap from.

`--data` / `--out` is the save path: the folder that holds (or will hold) the torrent's root
file or folder, as with aria2's `-d`.

Protocol on stdout (one line each, flushed):
    seed:     "READY <port>" once listening, all pieces verified, and (unless --tracker-off or the
              torrent has no tracker) the first tracker announce answered or failed; then
              "UPLOADED <bytes>" (payload sent so far) whenever that number grows.
    dht-node: "READY <port>" once listening with the DHT running.
    download: "DONE <seconds>" once every piece is verified and written (exit code 0).
    create:   "CREATED <v1 hex or -> <v2 hex or ->" once the .torrent is written.
Errors go to stderr as one line each; libtorrent alerts of the error category are echoed there
prefixed with "ALERT". Exit codes: 0 done, 2 bad arguments or input, 3 timeout, 4 seed data
incomplete.

Everything stays on 127.0.0.1: listen and outgoing interfaces are loopback, DHT (unless asked
for with loopback bootstrap nodes only), LSD, UPnP, NAT-PMP and the IP-change notifier are off,
and uTP is off because it is slower than TCP on loopback.
"""

import argparse
import os
import signal
import sys
import time

try:
    import libtorrent as lt
except ImportError as e:  # pragma: no cover - depends on the interpreter
    sys.stderr.write(
        "lt_client: cannot import libtorrent (%s); run with /usr/bin/python3 and install "
        "python3-libtorrent\n" % e
    )
    sys.exit(2)

LOOPBACK = "127.0.0.1"


def fail(code, message):
    sys.stderr.write("lt_client: %s\n" % message)
    sys.stderr.flush()
    # os._exit: skip the session destructor (which may wait on tracker "stopped" announces).
    os._exit(code)


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def host_port(text):
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError("expected HOST:PORT, got %r" % text)
    return (host.strip("[]"), int(port))


def loopback_host_port(text):
    host, port = host_port(text)
    if host not in (LOOPBACK, "localhost"):
        raise argparse.ArgumentTypeError("only 127.0.0.1 is allowed, got %r" % text)
    return (LOOPBACK, port)


def loopback_settings(listen_interfaces, upload_rate=0):
    """Session settings for a libtorrent on 127.0.0.1 only (also used by bench/lt_seeders.py).

    DHT, LSD, UPnP, NAT-PMP and uTP are off; several connections per IP are allowed (every
    loopback peer is 127.0.0.1); alerts: errors, status and trackers.
    """
    return {
        "listen_interfaces": listen_interfaces,
        "outgoing_interfaces": LOOPBACK,
        "listen_system_port_fallback": False,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_ip_notifier": False,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        # A refused first dial (peer not yet listening) would otherwise wait 60 s.
        "min_reconnect_time": 1,
        # Outgoing connections are made on the session tick (500 ms by default).
        "tick_interval": 100,
        "peer_connect_timeout": 5,
        "upload_rate_limit": upload_rate,
        "download_rate_limit": 0,
        "alert_mask": lt.alert.category_t.error_notification
        | lt.alert.category_t.status_notification
        | lt.alert.category_t.tracker_notification,
    }


def make_session(args):
    listen = ["%s:%d" % (LOOPBACK, args.port)]
    dht = args.dht_port is not None
    if dht and args.dht_port != args.port:
        # libtorrent 2 runs the DHT on the UDP socket of each listen interface, so a distinct
        # DHT port means one more (TCP+UDP) listen interface on loopback.
        listen.append("%s:%d" % (LOOPBACK, args.dht_port))
    settings = loopback_settings(",".join(listen))
    settings.update(encryption_settings(args.encryption))
    settings.update(transport_settings(args.transport))
    settings.update(
        {
            "enable_dht": dht,
            "dht_bootstrap_nodes": ",".join("%s:%d" % hp for hp in args.dht_bootstrap),
            "announce_to_all_trackers": True,
            "announce_to_all_tiers": True,
            "alert_mask": settings["alert_mask"] | lt.alert.category_t.storage_notification,
        }
    )
    if dht:
        # Every node of a loopback DHT shares one address: lift the per-IP/subnet limits and the
        # "dark internet" filter that would drop 127.0.0.1.
        settings.update(
            {
                # Re-announce and re-search often: a loopback DHT starts empty.
                "dht_announce_interval": 5,
                "dht_restrict_routing_ips": False,
                "dht_restrict_search_ips": False,
                "dht_ignore_dark_internet": False,
                "dht_enforce_node_id": False,
                "dht_prefer_verified_node_ids": False,
            }
        )
    return lt.session(settings)


def encryption_settings(mode):
    """Session settings for --encryption: libtorrent's policy, both ways."""
    if mode == "enabled":
        return {}
    policy = lt.enc_policy.forced if mode == "forced" else lt.enc_policy.disabled
    settings = {"out_enc_policy": int(policy), "in_enc_policy": int(policy)}
    if mode == "forced":
        settings["allowed_enc_level"] = int(lt.enc_level.rc4)
    return settings


def transport_settings(transport):
    """Session settings for --transport: TCP only (the default), uTP only, or both."""
    tcp = transport in ("tcp", "both")
    utp = transport in ("utp", "both")
    return {
        "enable_outgoing_tcp": tcp,
        "enable_incoming_tcp": tcp,
        "enable_outgoing_utp": utp,
        "enable_incoming_utp": utp,
    }


def torrent_params(args, save_path):
    if getattr(args, "magnet", None):
        try:
            atp = lt.parse_magnet_uri(args.magnet)
        except Exception as e:  # libtorrent raises RuntimeError/ValueError variants
            fail(2, "bad magnet link: %s" % e)
    else:
        try:
            atp = lt.add_torrent_params()
            atp.ti = lt.torrent_info(args.torrent)
        except Exception as e:
            fail(2, "cannot read torrent %s: %s" % (args.torrent, e))
    atp.save_path = save_path
    flags = atp.flags
    flags &= ~lt.torrent_flags.auto_managed
    flags |= lt.torrent_flags.paused  # resumed after trackers are set
    flags |= lt.torrent_flags.disable_lsd
    if args.dht_port is None:
        flags |= lt.torrent_flags.disable_dht
    if getattr(args, "seed_mode", False):
        flags |= lt.torrent_flags.seed_mode
    atp.flags = flags
    return atp


def report_alert(a, verbose):
    if a.category() & lt.alert.category_t.error_notification:
        sys.stderr.write("ALERT %s: %s\n" % (a.what(), a.message()))
        sys.stderr.flush()
    elif verbose:
        sys.stderr.write("alert %s: %s\n" % (a.what(), a.message()))
        sys.stderr.flush()


def install_signal_handlers():
    def on_signal(_signum, _frame):
        os._exit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def add(ses, atp, tracker_off):
    try:
        h = ses.add_torrent(atp)
    except Exception as e:
        fail(2, "cannot add torrent: %s" % e)
    if tracker_off:
        h.replace_trackers([])
    h.resume()
    return h


def cmd_seed(args):
    ses = make_session(args)
    atp = torrent_params(args, args.data)
    has_trackers = len(list(atp.ti.trackers())) > 0 and not args.tracker_off
    h = add(ses, atp, args.tracker_off)
    announced = not has_trackers
    listening = False
    ready = False
    last_dht = 0.0
    uploaded = 0
    while True:
        ses.wait_for_alert(200)
        if args.dht_port is not None and time.monotonic() - last_dht >= 2.0:
            # The DHT starts empty on loopback: keep announcing so nodes that join later
            # learn about this seed.
            last_dht = time.monotonic()
            h.force_dht_announce()
        for a in ses.pop_alerts():
            report_alert(a, args.verbose)
            if isinstance(a, lt.listen_succeeded_alert):
                listening = True
            elif isinstance(a, lt.listen_failed_alert):
                # A UDP failure alone is harmless (uTP is off); a TCP failure is fatal.
                if "TCP" in a.message() or "tcp" in a.message():
                    fail(2, "cannot listen on %s:%d: %s" % (LOOPBACK, args.port, a.message()))
            elif isinstance(a, (lt.tracker_reply_alert, lt.tracker_error_alert)):
                announced = True
        if ready:
            sent = h.status().total_payload_upload
            if sent > uploaded:
                uploaded = sent
                say("UPLOADED %d" % sent)
            continue
        st = h.status()
        if st.errc.value() != 0:
            fail(2, "torrent error: %s" % st.errc.message())
        if st.state in (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data):
            continue
        if not st.is_seeding:
            if st.state == lt.torrent_status.downloading:
                fail(
                    4,
                    "seed data under %s is incomplete (%.1f%% verified)"
                    % (args.data, st.progress * 100),
                )
            continue
        if (listening or ses.is_listening()) and announced:
            ready = True
            say("READY %d" % ses.listen_port())


def cmd_dht_node(args):
    ses = make_session(args)
    ready = False
    while True:
        ses.wait_for_alert(200)
        for a in ses.pop_alerts():
            report_alert(a, args.verbose)
            if isinstance(a, lt.listen_failed_alert):
                fail(2, "cannot listen on %s:%d: %s" % (LOOPBACK, args.port, a.message()))
        if not ready and ses.is_listening() and ses.is_dht_running():
            ready = True
            say("READY %d" % ses.listen_port())


def cmd_download(args):
    ses = make_session(args)
    atp = torrent_params(args, args.out)
    started = time.monotonic()
    h = add(ses, atp, args.tracker_off)
    deadline = started + args.timeout
    last_dial = 0.0
    while True:
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            report_alert(a, args.verbose)
        now = time.monotonic()
        st = h.status()
        if st.errc.value() != 0:
            fail(2, "torrent error: %s" % st.errc.message())
        if st.has_metadata and st.is_seeding:
            break
        if now > deadline:
            fail(
                3,
                "timed out after %ds: %.1f%% done, %d peers connected"
                % (args.timeout, st.progress * 100, st.num_peers),
            )
        # connect_peer is ignored while the torrent checks or the dial fails; repeat it while
        # no peer is connected (duplicates are harmless).
        if st.num_peers == 0 and now - last_dial >= 0.25:
            last_dial = now
            for host, port in args.peer:
                h.connect_peer((host, port))
            if args.dht_port is not None:
                h.force_dht_announce()  # also searches (get_peers) for the torrent
    seconds = time.monotonic() - started
    # A piece counts as "have" once its hash passed, which can be before libtorrent's disk
    # thread wrote it (measured: files still differed after os._exit). So: flush the
    # torrent's writes, remove it, then destroy the session, which joins the disk threads.
    h.flush_cache()
    wait_for(ses, args, lt.cache_flushed_alert, 20)
    ses.remove_torrent(h)
    wait_for(ses, args, lt.torrent_removed_alert, 20)
    del h
    del ses
    say("DONE %.3f" % seconds)
    sys.exit(0)


def cmd_create(args):
    """Makes a .torrent of --source the way libtorrent does (v1, v2-only or hybrid)."""
    flags = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only, "hybrid": 0}
    source = os.path.abspath(args.source)
    fs = lt.file_storage()
    lt.add_files(fs, source)
    if fs.num_files() == 0:
        fail(2, "nothing to share under %s" % source)
    ct = lt.create_torrent(fs, args.piece_length, flags=flags[args.version])
    for tier, url in enumerate(args.announce):
        ct.add_tracker(url, tier)
    for url in args.web_seed:
        ct.add_url_seed(url)
    lt.set_piece_hashes(ct, os.path.dirname(source))
    with open(args.out, "wb") as f:
        f.write(lt.bencode(ct.generate()))
    ih = lt.torrent_info(args.out).info_hashes()
    say("CREATED %s %s" % (str(ih.v1) if ih.has_v1() else "-", str(ih.v2) if ih.has_v2() else "-"))


def wait_for(ses, args, alert_type, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            report_alert(a, args.verbose)
            if isinstance(a, alert_type):
                return
    fail(2, "no %s within %ds" % (alert_type.__name__, seconds))


def main():
    p = argparse.ArgumentParser(prog="lt_client.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(sp):
        sp.add_argument("--port", type=int, required=True, help="listen port on 127.0.0.1")
        sp.add_argument("--tracker-off", action="store_true", help="never announce to trackers")
        sp.add_argument("--dht-port", type=int, default=None, help="enable DHT on 127.0.0.1")
        sp.add_argument(
            "--dht-bootstrap",
            type=loopback_host_port,
            action="append",
            default=[],
            help="DHT bootstrap node on 127.0.0.1 (repeatable)",
        )
        sp.add_argument("--verbose", action="store_true", help="echo every alert to stderr")
        sp.add_argument(
            "--encryption",
            choices=("enabled", "forced", "disabled"),
            default="enabled",
            help="MSE policy both ways; forced: RC4-encrypted connections only",
        )
        sp.add_argument(
            "--transport",
            choices=("tcp", "utp", "both"),
            default="tcp",
            help="how peers are reached and accepted, both ways (default: TCP only)",
        )

    s = sub.add_parser("seed", help="seed complete data until killed")
    s.add_argument("--torrent", required=True)
    s.add_argument("--data", required=True, help="save path holding the torrent's content")
    s.add_argument("--seed-mode", action="store_true", help="skip the initial hash check")
    common(s)

    d = sub.add_parser("download", help="download, then exit")
    src = d.add_mutually_exclusive_group(required=True)
    src.add_argument("--torrent")
    src.add_argument("--magnet")
    d.add_argument("--out", required=True, help="save path")
    d.add_argument("--peer", type=loopback_host_port, action="append", default=[], help="HOST:PORT")
    d.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")
    common(d)

    n = sub.add_parser(
        "dht-node",
        help="a bare DHT node on 127.0.0.1 (bootstrap for loopback DHT tests)",
    )
    common(n)

    c = sub.add_parser("create", help="make a .torrent of a file or folder, then exit")
    c.add_argument("--source", required=True, help="the file or folder to share")
    c.add_argument("--out", required=True, help="the .torrent to write")
    c.add_argument("--piece-length", type=int, required=True)
    c.add_argument("--version", choices=("v1", "v2", "hybrid"), default="hybrid")
    c.add_argument("--announce", action="append", default=[], help="tracker URL (one a tier)")
    c.add_argument("--web-seed", action="append", default=[], help="web seed URL (BEP 19)")

    args = p.parse_args()
    if args.cmd == "create":
        cmd_create(args)
        return
    if args.cmd == "dht-node" and args.dht_port is None:
        args.dht_port = args.port
    if not 0 <= args.port < 65536:
        fail(2, "bad --port %d" % args.port)
    if args.dht_port is not None and not 0 < args.dht_port < 65536:
        fail(2, "bad --dht-port %d" % args.dht_port)
    if args.dht_port is None and args.dht_bootstrap:
        fail(2, "--dht-bootstrap needs --dht-port")
    install_signal_handlers()
    if args.cmd == "seed":
        cmd_seed(args)
    elif args.cmd == "dht-node":
        cmd_dht_node(args)
    else:
        cmd_download(args)


if __name__ == "__main__":
    main()
