#!/usr/bin/python3
"""Mainline DHT peer driven over stdin/stdout, backed by libtorrent-rasterbar (python3-libtorrent).

Run with Debian's interpreter (the module is not in other Pythons):

    /usr/bin/python3 lt_peer.py --bind 127.0.0.X --port P [--bootstrap 127.0.0.Y:Q ...]

Reads one JSON object per line on stdin and writes exactly one JSON line per command on stdout.
See README.md for the commands. Everything the peer prints besides replies goes to stderr.

The session is configured for a loopback-only swarm: no default routers, no LSD/UPnP/NAT-PMP,
no IP-based restrictions in the routing table or in lookups, and no per-IP rate-limit bans.
"""

import argparse
import hashlib
import ipaddress
import json
import os
import re
import shutil
import sys
import tempfile
import time
import warnings

import libtorrent as lt

warnings.simplefilter("ignore", DeprecationWarning)  # session.dht_state() is deprecated but works

DEFAULT_TIMEOUT = 30.0
PROTECTED_SETTINGS = {"listen_interfaces", "outgoing_interfaces", "enable_lsd", "enable_upnp",
                      "enable_natpmp", "enable_outgoing_tcp", "enable_outgoing_utp", "proxy_type",
                      "proxy_hostname"}
MAX_TIMEOUT = 120.0


# --------------------------------------------------------------------------------------------
# Ed25519 public key from a 32-byte seed (RFC 8032), and libtorrent's 64-byte secret key form.
# The python bindings of libtorrent 2.0 expose no key generation, so derive it here.
# --------------------------------------------------------------------------------------------

_P = 2 ** 255 - 19
_L = 2 ** 252 + 27742317777372353535851937790883648493
_D = (-121665 * pow(121666, _P - 2, _P)) % _P


def _recover_x(y, sign):
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * pow(2, (_P - 1) // 4, _P) % _P
    if x % 2 != sign:
        x = _P - x
    return x


_BY = 4 * pow(5, _P - 2, _P) % _P
_BX = _recover_x(_BY, 0)
_BASE = (_BX, _BY, 1, _BX * _BY % _P)  # extended coordinates (X, Y, Z, T)


def _add(p, q):
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % _P
    b = (y1 + x1) * (y2 + x2) % _P
    c = 2 * t1 * t2 * _D % _P
    d = 2 * z1 * z2 % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _mul(k, p):
    acc = (0, 1, 1, 0)
    while k:
        if k & 1:
            acc = _add(acc, p)
        p = _add(p, p)
        k >>= 1
    return acc


def _encode_point(p):
    x, y, z, _ = p
    zi = pow(z, _P - 2, _P)
    x, y = x * zi % _P, y * zi % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def ed25519_keys_from_seed(seed):
    """Returns (public key 32 bytes, libtorrent secret key 64 bytes) for an RFC 8032 seed."""
    if len(seed) != 32:
        raise ValueError("seed must be 32 bytes")
    h = bytearray(hashlib.sha512(seed).digest())
    h[0] &= 248
    h[31] &= 63
    h[31] |= 64
    a = int.from_bytes(h[:32], "little")
    return _encode_point(_mul(a, _BASE)), bytes(h)


# --------------------------------------------------------------------------------------------


def bencode_bytes(b):
    return str(len(b)).encode() + b":" + b


def parse_endpoint(text):
    host, _, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # an IPv6 address, written [::1]:PORT
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"refusing non-loopback address {text}")
    return host, int(port)


def endpoint_text(host, port):
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def log(args, *msg):
    if args.verbose:
        print("[lt_peer %s:%d]" % (args.bind, args.port), *msg, file=sys.stderr, flush=True)


class Peer:
    def __init__(self, args):
        self.args = args
        self.bootstrap = [parse_endpoint(b) for b in args.bootstrap]
        cat = lt.alert.category_t
        settings = {
            "listen_interfaces": endpoint_text(args.bind, args.port),
            "outgoing_interfaces": args.bind,
            "enable_dht": True,
            # only the loopback nodes handed over on the command line; never the default routers
            "dht_bootstrap_nodes": "",
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            "enable_ip_notifier": False,
            # fail when the port is taken instead of quietly listening on another one
            "max_retry_port_bind": 0,
            "listen_system_port_fallback": False,
            "enable_incoming_tcp": False,
            "enable_outgoing_tcp": False,
            "enable_incoming_utp": False,
            "enable_outgoing_utp": False,
            "announce_to_all_trackers": False,
            "announce_to_all_tiers": False,
            # a swarm of nodes that all sit in 127.0.0.0/8 (one /24 for libtorrent's purposes)
            "dht_restrict_routing_ips": False,
            "dht_restrict_search_ips": False,
            "dht_prefer_verified_node_ids": False,
            "dht_enforce_node_id": False,
            "dht_ignore_dark_internet": False,
            "dht_read_only": False,
            # the per-IP DoS blocker bans an IP that sends >= 10*limit packets in 10 s
            "dht_block_ratelimit": 100000,
            "dht_upload_rate_limit": 10000000,
            "dht_aggressive_lookups": True,
            "alert_queue_size": 100000,
            "alert_mask": cat.dht_notification | cat.dht_operation_notification
            | cat.dht_log_notification | cat.error_notification | cat.status_notification,
        }
        for item in args.setting:
            # e.g. --setting dht_restrict_routing_ips=true, to try what the defaults would do
            name, _, value = item.partition("=")
            if name in PROTECTED_SETTINGS:
                raise ValueError("%s cannot be overridden: it keeps the node on loopback" % name)
            old = settings.get(name, lt.default_settings().get(name))
            if isinstance(old, bool):
                settings[name] = value.lower() in ("1", "true", "yes")
            elif isinstance(old, int):
                settings[name] = int(value)
            else:
                settings[name] = value
        for e in filter(None, settings["dht_bootstrap_nodes"].split(",")):
            parse_endpoint(e)  # routers, if any, must be loopback nodes too
        self.ses = lt.session(settings)
        self.pending = []
        self.torrents = {}
        self.tmpdir = None  # made on the first announce (the torrent needs a save path)
        self._wait_started(time.monotonic() + 10)
        self._add_bootstrap()

    # ---- alerts ------------------------------------------------------------------------------

    def _alerts(self, deadline):
        """Yields alerts until the deadline passes; the consumer stops when it has what it needs.

        An alert is valid only until the next pop_alerts(): read it when it is yielded."""
        while True:
            while self.pending:
                yield self.pending.pop(0)
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.ses.wait_for_alert(int(min(left, 0.25) * 1000) + 1)
            self.pending.extend(self.ses.pop_alerts())

    def _drain(self):
        self.pending = []
        self.ses.pop_alerts()

    def _wait_started(self, deadline):
        for a in self._alerts(deadline):
            if isinstance(a, lt.dht_log_alert) and "DHT tracker with node id" in a.message():
                log(self.args, a.message())
                return True
            if isinstance(a, lt.listen_failed_alert):
                raise RuntimeError(a.message())
        return False

    def _add_bootstrap(self):
        for host, port in self.bootstrap:
            self.ses.add_dht_node((host, port))

    def node_id(self):
        state = self.ses.dht_state()
        ids = state.get(b"node-id") if isinstance(state, dict) else None
        if not ids:
            return None
        return bytes(ids[0][:20]) if isinstance(ids, list) else bytes(ids[:20])

    def live_nodes(self, deadline):
        nid = self.node_id()
        if nid is None:
            return None, []
        self.ses.dht_live_nodes(lt.sha1_hash(nid))
        for a in self._alerts(deadline):
            if isinstance(a, lt.dht_live_nodes_alert):
                return nid, [endpoint_text(n["endpoint"][0], n["endpoint"][1]) for n in a.nodes]
        return nid, None

    # ---- commands ----------------------------------------------------------------------------

    def op_ready(self, cmd, deadline):
        nodes = []
        next_retry = 0.0
        while time.monotonic() < deadline:
            _, nodes = self.live_nodes(min(deadline, time.monotonic() + 2))
            if nodes:
                break
            if not self.bootstrap:
                break
            if time.monotonic() >= next_retry:
                self._add_bootstrap()
                next_retry = time.monotonic() + 1.0
            time.sleep(0.2)
        if nodes and cmd.get("refresh", True):
            # a lookup towards our own ID fills the routing table (what a bootstrap does);
            # a get for an item that does not exist ends with an alert, so it is easy to await
            nid = self.node_id()
            target = bytes(nid[:19]) + bytes([nid[19] ^ 1])
            self._drain()
            self.ses.dht_get_immutable_item(lt.sha1_hash(target))
            for a in self._alerts(min(deadline, time.monotonic() + 10)):
                if isinstance(a, lt.dht_immutable_item_alert) and bytes(a.target.to_bytes()) == target:
                    break
            _, nodes = self.live_nodes(min(deadline, time.monotonic() + 2))
        nid = self.node_id()
        return {"ok": bool(nodes) or not self.bootstrap, "nodes": len(nodes or []),
                "id": nid.hex() if nid else None}

    def op_nodes(self, cmd, deadline):
        nid, nodes = self.live_nodes(deadline)
        if nid is None or nodes is None:
            return {"ok": False, "error": "the DHT is not running"}
        return {"ok": True, "id": nid.hex(), "nodes": nodes}

    def op_id(self, cmd, deadline):
        nid = self.node_id()
        return {"ok": nid is not None, "id": nid.hex() if nid else None}

    def op_put_immutable(self, cmd, deadline):
        v = cmd["value"].encode("utf-8")
        expected = hashlib.sha1(bencode_bytes(v)).digest()
        self._drain()
        target = self.ses.dht_put_immutable_item(v)
        target_b = bytes(target.to_bytes())
        if target_b != expected:
            return {"ok": False, "error": "libtorrent target %s != sha1(bencode(v)) %s"
                    % (target_b.hex(), expected.hex())}
        for a in self._alerts(deadline):
            if isinstance(a, lt.dht_put_alert) and bytes(a.target.to_bytes()) == target_b:
                if a.num_success <= 0:
                    return {"ok": False, "error": "stored on no node", "target": target_b.hex()}
                return {"ok": True, "target": target_b.hex(), "stored": a.num_success}
        return {"ok": False, "error": "timeout", "target": target_b.hex()}

    def op_get_immutable(self, cmd, deadline):
        target = bytes.fromhex(cmd["target"])
        self._drain()
        self.ses.dht_get_immutable_item(lt.sha1_hash(target))
        for a in self._alerts(deadline):
            if isinstance(a, lt.dht_immutable_item_alert) and bytes(a.target.to_bytes()) == target:
                return value_reply(_item(a), {})
        return {"ok": False, "error": "timeout"}

    def op_put_mutable(self, cmd, deadline):
        pk, sk = ed25519_keys_from_seed(bytes.fromhex(cmd["seed"]))
        salt = cmd.get("salt", "").encode("utf-8")
        v = cmd["value"].encode("utf-8")
        self._drain()
        # libtorrent first gets the current item, then puts with seq = (found seq, or 0) + 1
        # and signs it itself: the python bindings offer no way to choose seq or cas
        self.ses.dht_put_mutable_item(sk, pk, v, salt)
        for a in self._alerts(deadline):
            if (isinstance(a, lt.dht_put_alert) and bytes(a.public_key) == pk
                    and _b(a.salt) == salt):
                reply = {"ok": a.num_success > 0, "pubkey": pk.hex(), "seq": a.seq,
                         "stored": a.num_success}
                if a.num_success <= 0:
                    reply["error"] = "stored on no node"
                if "seq" in cmd and cmd["seq"] != a.seq:
                    reply["seq_requested"] = cmd["seq"]
                return reply
        return {"ok": False, "error": "timeout", "pubkey": pk.hex()}

    def op_get_mutable(self, cmd, deadline):
        pk = bytes.fromhex(cmd["pubkey"])
        salt = cmd.get("salt", "").encode("utf-8")
        self._drain()
        self.ses.dht_get_mutable_item(pk, salt)
        # libtorrent posts one alert per better item found and a last, authoritative one when
        # the lookup is over. Copy what is needed at once: an alert object is freed by the next
        # pop_alerts(), and touching it afterwards fails.
        best = None
        for a in self._alerts(deadline):
            if (isinstance(a, lt.dht_mutable_item_alert) and bytes(a.key) == pk
                    and _b(a.salt) == salt):
                found = {"item": _item(a), "seq": a.seq, "authoritative": bool(a.authoritative),
                         "sig": bytes(a.signature).hex()}
                if found["authoritative"]:
                    best = found
                    break
                if best is None or found["seq"] > best["seq"]:
                    best = found
        if best is None:
            return {"ok": False, "error": "timeout"}
        return value_reply(best["item"], {"seq": best["seq"], "authoritative": best["authoritative"],
                                          "sig": best["sig"]})

    def op_announce(self, cmd, deadline):
        ih = bytes.fromhex(cmd["infohash"])
        self._drain()
        # session.dht_announce() cannot be called from Python in 2.0.8 (its flags argument has
        # no converter), so announce the way a client does: add a (metadata-less) torrent for the
        # info-hash; libtorrent announces it at once, with the port of its DHT socket.
        handle = self.torrents.get(ih)
        if handle is None:
            if self.tmpdir is None:
                self.tmpdir = tempfile.mkdtemp(prefix="lt_peer_")
            atp = lt.add_torrent_params()
            atp.info_hashes = lt.info_hash_t(lt.sha1_hash(ih))
            atp.save_path = self.tmpdir
            atp.name = ih.hex()
            atp.flags = (lt.torrent_flags.upload_mode | lt.torrent_flags.disable_lsd
                         | lt.torrent_flags.disable_pex)
            self.torrents[ih] = self.ses.add_torrent(atp)
        else:
            handle.force_dht_announce()
        # libtorrent posts no alert when an announce finishes; its DHT log says when it sends
        # the announce_peer queries (to the nodes that gave it a token in the get_peers phase)
        pat = re.compile(r"sending announce_peer \[ ih: %s\s+p: (\d+) nodes: (\d+) \]" % ih.hex())
        for a in self._alerts(deadline):
            if isinstance(a, lt.dht_log_alert):
                m = pat.search(a.message())
                if m:
                    port, n = int(m.group(1)), int(m.group(2))
                    # let the announce_peer queries reach loopback nodes before replying
                    time.sleep(0.3)
                    reply = {"ok": n > 0, "nodes": n, "port": port}
                    if n == 0:
                        reply["error"] = "no node to announce to"
                    if "port" in cmd and int(cmd["port"]) != port:
                        reply["port_requested"] = int(cmd["port"])
                    return reply
        return {"ok": False, "error": "timeout"}

    def op_get_peers(self, cmd, deadline):
        ih = bytes.fromhex(cmd["infohash"])
        self._drain()
        self.ses.dht_get_peers(lt.sha1_hash(ih))
        peers = []
        tid = None
        done = False
        for a in self._alerts(deadline):
            if isinstance(a, lt.dht_get_peers_reply_alert) and bytes(a.info_hash.to_bytes()) == ih:
                for ep in a.peers():
                    s = endpoint_text(ep[0], ep[1])
                    if s not in peers:
                        peers.append(s)
            elif isinstance(a, lt.dht_log_alert):
                m = a.message()
                if tid is None:
                    mm = re.search(r"\[(\d+)\] NEW target: ([0-9a-f]{40})", m)
                    if mm and mm.group(2) == ih.hex():
                        tid = mm.group(1)
                elif re.search(r"\[%s\] COMPLETED .*type: get_peers" % tid, m):
                    done = True
                    break
        if not peers:
            return {"ok": False, "error": "no peers found" if done else "timeout", "peers": []}
        return {"ok": True, "peers": peers}

    def op_quit(self, cmd, deadline):
        return {"ok": True}


def _item(alert):
    """The alert's item; None when nothing was found (libtorrent then holds an undefined entry,
    which the bindings refuse to convert)."""
    try:
        return alert.item
    except RuntimeError:
        return None


def _b(x):
    return x if isinstance(x, bytes) else str(x).encode("utf-8")


def value_reply(item, extra):
    """Turns the item of a dht_*_item_alert (a dict whose 'value' is the decoded v) into a reply."""
    v = item.get("value") if isinstance(item, dict) else item
    if v is None:
        return {"ok": False, "error": "not found"}
    if isinstance(v, str):
        v = v.encode("utf-8", "surrogateescape")
    if not isinstance(v, bytes):
        return {"ok": False, "error": "v is not a byte string", "v": repr(v)}
    try:
        text = v.decode("utf-8")
    except UnicodeDecodeError:
        return {"ok": False, "error": "v is not UTF-8", "v_hex": v.hex()}
    reply = {"ok": True, "value": text}
    reply.update(extra)
    return reply


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bootstrap", action="append", default=[])
    ap.add_argument("--setting", action="append", default=[],
                    help="NAME=VALUE overriding one libtorrent setting (for experiments)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    if not ipaddress.ip_address(args.bind).is_loopback:
        print("--bind must be a loopback address", file=sys.stderr)
        return 2
    try:
        peer = Peer(args)
    except Exception as e:  # noqa: BLE001
        print("start failed: %s" % e, file=sys.stderr, flush=True)
        return 1
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        started = time.monotonic()
        cmd = None
        try:
            cmd = json.loads(line)
            timeout = min(float(cmd.get("timeout", DEFAULT_TIMEOUT)), MAX_TIMEOUT)
            handler = getattr(peer, "op_" + str(cmd.get("op")), None)
            if handler is None:
                reply = {"ok": False, "error": "unknown op %r" % cmd.get("op")}
            else:
                reply = handler(cmd, started + timeout)
        except Exception as e:  # noqa: BLE001
            reply = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        reply["ms"] = int((time.monotonic() - started) * 1000)
        log(args, line, "->", reply)
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
        if isinstance(cmd, dict) and cmd.get("op") == "quit":
            break
    sys.stdout.flush()
    sys.stderr.flush()
    if peer.tmpdir:
        shutil.rmtree(peer.tmpdir, ignore_errors=True)
    # skip the session's orderly shutdown: there is nothing to save and it can take seconds
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
