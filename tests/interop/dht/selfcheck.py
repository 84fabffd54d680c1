#!/usr/bin/python3
"""Self-check of the two DHT peer drivers: a loopback swarm of libtorrent and bittorrent-dht nodes.

    /usr/bin/python3 selfcheck.py [--port P] [--lt N] [--bt N] [--verbose]

Starts N libtorrent peers on 127.0.0.11.. and N bittorrent-dht peers on 127.0.0.21.., all on
port P, each bootstrapped off nodes started before it, then stores and fetches items and peers
across the two implementations. Prints PASS/FAIL per check and 'N passed, M failed'; exits non-zero
on any failure. Every child is killed on exit; the whole run is bounded (about two minutes).
"""

import argparse
import hashlib
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"
DEADLINE = time.monotonic() + 150


class Peer:
    def __init__(self, kind, ip, port, bootstrap, verbose, extra=()):
        self.kind, self.ip, self.port = kind, ip, port
        self.name = "%s@%s:%d" % (kind, ip, port)
        if kind == "lt":
            argv = [PYTHON, os.path.join(HERE, "lt_peer.py")]
        else:
            argv = ["node", os.path.join(HERE, "btdht_peer.mjs")]
        argv += ["--bind", ip, "--port", str(port)]
        for b in bootstrap:
            argv += ["--bootstrap", b]
        for e in extra:
            argv += ["--setting", e]
        if verbose:
            argv.append("--verbose")
        self.stderr = None if verbose else tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, cwd=HERE)
        self.buf = b""

    @property
    def endpoint(self):
        return "%s:%d" % (self.ip, self.port)

    def call(self, cmd, timeout=40.0):
        timeout = min(timeout, max(1.0, DEADLINE - time.monotonic()))
        try:
            self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:
            return {"ok": False, "error": "driver exited (%s)" % self.proc.poll()}
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                return {"ok": False, "error": "driver did not answer in %.0f s" % timeout}
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    return {"ok": False, "error": "driver exited (%s)" % self.proc.poll()}
                self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)

    def stderr_tail(self, lines=5):
        if self.stderr is None:
            return []
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace").splitlines()[-lines:]

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b'{"op":"quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(timeout=3)
            except Exception:  # noqa: BLE001
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


def free_port(ips, start, count=1):
    """A UDP port (or `count` consecutive ones) free on every one of the given loopback IPs."""
    for port in range(start, start + 200):
        socks = []
        try:
            for ip in ips:
                for k in range(count):
                    # libtorrent binds TCP as well as UDP on its port
                    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                        s = socket.socket(socket.AF_INET, kind)
                        socks.append(s)
                        s.bind((ip, port + k))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port")


def immutable_target(text):
    v = text.encode()
    return hashlib.sha1(str(len(v)).encode() + b":" + v).hexdigest()


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print("%s  %s  %s" % ("PASS" if ok else "FAIL", name, detail), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--lt", type=int, default=4)
    ap.add_argument("--bt", type=int, default=4)
    ap.add_argument("--same-ip", action="store_true",
                    help="put every node on 127.0.0.1, on consecutive ports")
    ap.add_argument("--lt-setting", action="append", default=[],
                    help="NAME=VALUE passed to every libtorrent peer (--setting)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    if args.same_ip:
        lt_ips = ["127.0.0.1"] * args.lt
        bt_ips = ["127.0.0.1"] * args.bt
        base = args.port or free_port(["127.0.0.1"], 26881 + os.getpid() % 1000, args.lt + args.bt)
    else:
        lt_ips = ["127.0.0.%d" % (11 + i) for i in range(args.lt)]
        bt_ips = ["127.0.0.%d" % (21 + i) for i in range(args.bt)]
        base = args.port or free_port(lt_ips + bt_ips, 26881 + os.getpid() % 1000)
    c = Checks()
    peers = []
    lts, bts = [], []
    try:
        # interleave the kinds; each node bootstraps off the first node and the one before it
        order = []
        for i in range(max(args.lt, args.bt)):
            if i < args.lt:
                order.append(("lt", lt_ips[i]))
            if i < args.bt:
                order.append(("bt", bt_ips[i]))
        for kind, ip in order:
            boot = sorted({p.endpoint for p in peers[:1] + peers[-1:]})
            port = base + len(peers) if args.same_ip else base
            p = Peer(kind, ip, port, boot, args.verbose,
                     args.lt_setting if kind == "lt" else [])
            peers.append(p)
            (lts if kind == "lt" else bts).append(p)
            time.sleep(0.2)

        t0 = time.monotonic()
        for p in peers:
            r = p.call({"op": "ready", "timeout": 10})
            c.check("ready %s" % p.name, r.get("ok"), "nodes=%s (%d ms)" % (r.get("nodes"), r.get("ms", -1)))
        for p in peers:
            r = p.call({"op": "nodes", "timeout": 5})
            nodes = r.get("nodes") or []
            c.check("routing table %s" % p.name, r.get("ok") and len(nodes) >= 2,
                    "%d nodes: %s" % (len(nodes), " ".join(sorted(nodes))))
        print("# swarm up in %.1f s" % (time.monotonic() - t0), flush=True)

        def imm(src, dst, text):
            r = src.call({"op": "put_immutable", "value": text})
            want = immutable_target(text)
            c.check("immutable put %s" % src.name, r.get("ok") and r.get("target") == want,
                    json.dumps(r))
            g = dst.call({"op": "get_immutable", "target": want})
            c.check("immutable get %s <- %s" % (dst.name, src.name),
                    g.get("ok") and g.get("value") == text, json.dumps(g, ensure_ascii=False))

        imm(lts[0], bts[-1], "hello from libtorrent \u2713 " + os.urandom(4).hex())
        imm(bts[0], lts[-1], "hello from bittorrent-dht \u2713 " + os.urandom(4).hex())

        def mut(src, dst, seed, salt, text, label, want_seq=None, seq=None):
            cmd = {"op": "put_mutable", "seed": seed, "salt": salt, "value": text}
            if seq is not None:
                cmd["seq"] = seq
            r = src.call(cmd)
            c.check("mutable put %s %s" % (label, src.name), r.get("ok")
                    and (want_seq is None or r.get("seq") == want_seq), json.dumps(r))
            g = dst.call({"op": "get_mutable", "pubkey": r.get("pubkey") or "", "salt": salt})
            c.check("mutable get %s %s <- %s" % (label, dst.name, src.name),
                    g.get("ok") and g.get("value") == text and g.get("seq") == r.get("seq"),
                    json.dumps(g, ensure_ascii=False))

        seed_a, seed_b, seed_c = (os.urandom(32).hex() for _ in range(3))
        mut(lts[1], bts[2], seed_a, "chat/\u00e9t\u00e9", "lt says hi", "salted", want_seq=1)
        mut(bts[1], lts[2], seed_b, "inbox", "bt says hi", "salted", want_seq=1)
        mut(lts[2], bts[3], seed_c, "", "no salt from lt", "unsalted", want_seq=1)
        # the same slot, updated alternately by the two implementations
        mut(bts[3], lts[3], seed_a, "chat/\u00e9t\u00e9", "bt overwrote", "update", want_seq=2)
        mut(lts[3], bts[0], seed_a, "chat/\u00e9t\u00e9", "lt overwrote", "update", want_seq=3)
        mut(bts[2], lts[0], seed_a, "chat/\u00e9t\u00e9", "bt jumps", "update-seq", want_seq=10, seq=10)

        def ann(src, dst, port_):
            ih = os.urandom(20).hex()
            r = src.call({"op": "announce", "infohash": ih, "port": port_})
            c.check("announce %s" % src.name, r.get("ok"), json.dumps(r))
            want = "%s:%d" % (src.ip, r.get("port") or port_)  # noqa: F841
            g = dst.call({"op": "get_peers", "infohash": ih})
            c.check("get_peers %s <- %s" % (dst.name, src.name),
                    g.get("ok") and want in (g.get("peers") or []), json.dumps(g))

        ann(lts[0], bts[1], lts[0].port)  # libtorrent announces its own DHT port
        ann(bts[0], lts[1], 6881)
    finally:
        for p in peers:
            p.stop()
        if c.failed:
            for p in peers:
                for line in p.stderr_tail():
                    print("# %s stderr: %s" % (p.name, line))
    print("%d passed, %d failed" % (c.passed, c.failed), flush=True)
    return 0 if c.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
