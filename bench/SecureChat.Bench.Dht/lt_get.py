#!/usr/bin/python3
"""The libtorrent side of dht_lookup_libtorrent_p50_ms: a fresh libtorrent-rasterbar DHT node
(Debian's python3-libtorrent) that joins a loopback swarm and times BEP 44 gets.

Run with Debian's interpreter (the module is not in other Pythons):

    /usr/bin/python3 lt_get.py --bind 127.0.2.2 --bootstrap 127.0.1.1:P [--bootstrap ...]

It speaks the same protocol as the SecureChat looker of SecureChat.Bench.Dht: one JSON object per
line on stdin, exactly one JSON line per command on stdout, everything else on stderr.

    {"op": "warm", "targets": [hex, ...], "timeout": s}
        joins through the bootstrap nodes (a lookup next to its own ID once one answered), then
        looks up each target (an immutable get of an item nobody stored, which runs a full
        lookup) one after the other, to fill the routing table
        -> {"ok", "nodes": live nodes in the routing table}
    {"op": "get", "pubkey": hex, "salt": hex, "seq": n, "timeout": s}
        a BEP 44 mutable get -> {"ok", "found": the expected seq came back, "seq", "ms": from the
        call until the authoritative dht_mutable_item_alert (the end of the lookup), "first_ms":
        until the first alert that carried the item}
    {"op": "quit"}

The session runs on loopback only: no default routers, no LSD/UPnP/NAT-PMP, no TCP or uTP, and the
limits that assume one node per IP address on the internet (every swarm node sits in one /24
here) are off, and so are the rate limits meant for the internet; see settings_for().
"""

import argparse
import ipaddress
import json
import os
import signal
import sys
import time
import warnings

try:
    import libtorrent as lt
except ImportError:
    print("lt_get.py: the libtorrent module is missing: install Debian's python3-libtorrent "
          "(apt-get install python3-libtorrent, or scripts/install-deps --tests) and run this "
          "script with /usr/bin/python3", file=sys.stderr, flush=True)
    sys.exit(3)

MAX_TIMEOUT = 120.0
LIFETIME = 15 * 60  # whatever happens to the driver, this process ends after this many seconds

warnings.simplefilter("ignore", DeprecationWarning)  # session.dht_state() is deprecated but works


def loopback_endpoint(text):
    host, _, port = text.rpartition(":")
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError("refusing non-loopback address %s" % text)
    return host, int(port)


def settings_for(bind):
    cat = lt.alert.category_t
    return {
        # a client node on its own loopback address, on a port the system picks
        "listen_interfaces": "%s:0" % bind,
        "outgoing_interfaces": bind,
        "enable_dht": True,
        # only the swarm nodes handed over on the command line; never the default routers
        "dht_bootstrap_nodes": "",
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_ip_notifier": False,
        "enable_incoming_tcp": False,
        "enable_outgoing_tcp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        # all swarm nodes sit in 127.0.1.0/24: the one-node-per-/24 rules would keep all but a
        # few of them out of the routing table and out of each lookup
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "dht_prefer_verified_node_ids": False,
        "dht_enforce_node_id": False,
        "dht_ignore_dark_internet": False,
        "dht_read_only": False,
        # the defaults (8 KB/s of DHT upload, a ban after 5 packets/s from one IP) are for the
        # internet; on loopback they would only throttle the warm-up
        "dht_block_ratelimit": 100000,
        "dht_upload_rate_limit": 10000000,
        "alert_queue_size": 100000,
        # the DHT log only while starting (to see the node start), not while timing
        "alert_mask": cat.dht_notification | cat.dht_log_notification | cat.error_notification
        | cat.status_notification,
    }


class Looker:
    def __init__(self, bind, bootstrap):
        self.bootstrap = bootstrap
        self.ses = lt.session(settings_for(bind))
        self.pending = []
        self._wait_started(time.monotonic() + 10)
        self.ses.apply_settings({"alert_mask": lt.alert.category_t.dht_notification
                                 | lt.alert.category_t.error_notification})
        self._drain()
        self.port = self.ses.listen_port()

    def _alerts(self, deadline):
        """Yields alerts until the deadline passes. An alert is valid only until the next
        pop_alerts(): read what is needed when it is yielded."""
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
                return
            if isinstance(a, lt.listen_failed_alert):
                raise RuntimeError(a.message())
        raise RuntimeError("the DHT did not start within 10 s")

    def _node_id(self):
        state = self.ses.dht_state()
        ids = state.get(b"node-id") if isinstance(state, dict) else None
        if not ids:
            return None
        return bytes(ids[0][:20]) if isinstance(ids, list) else bytes(ids[:20])

    def _live_nodes(self, deadline):
        nid = self._node_id()
        if nid is None:
            return 0
        self.ses.dht_live_nodes(lt.sha1_hash(nid))
        for a in self._alerts(deadline):
            if isinstance(a, lt.dht_live_nodes_alert):
                return a.num_nodes
        return 0

    def op_warm(self, cmd, deadline):
        # join: libtorrent pings the nodes it is given and looks up its own ID through them
        next_add = 0.0
        nodes = 0
        while time.monotonic() < deadline:
            if time.monotonic() >= next_add:
                for endpoint in self.bootstrap:
                    self.ses.add_dht_node(endpoint)
                next_add = time.monotonic() + 1.0
            nodes = self._live_nodes(min(deadline, time.monotonic() + 2))
            if nodes > 0:
                break
            time.sleep(0.05)
        if nodes == 0:
            return {"ok": False, "error": "no swarm node answered"}
        # first a lookup next to its own ID (what a join is, as SecureChat's looker does it), then
        # the targets; a get of an item nobody stored ends with an alert, so it is easy to await
        nid = self._node_id()
        own = bytes(nid[:19]) + bytes([nid[19] ^ 1])
        for t in [own] + [bytes.fromhex(target) for target in cmd.get("targets", [])]:
            self._drain()
            self.ses.dht_get_immutable_item(lt.sha1_hash(t))
            for a in self._alerts(deadline):
                if isinstance(a, lt.dht_immutable_item_alert) and bytes(a.target.to_bytes()) == t:
                    break
        return {"ok": True, "nodes": self._live_nodes(min(deadline, time.monotonic() + 2))}

    def op_get(self, cmd, deadline):
        key = bytes.fromhex(cmd["pubkey"])
        salt = bytes.fromhex(cmd.get("salt", ""))
        expected = int(cmd["seq"])
        self._drain()
        first = None
        started = time.perf_counter()
        self.ses.dht_get_mutable_item(key, salt)
        # libtorrent posts an alert for each newer item the lookup finds and a last,
        # authoritative one when the lookup is over (only the key is compared: each item of the
        # benchmark has a key of its own; the alert's salt and item are not read, because the
        # bindings cannot convert binary strings)
        for a in self._alerts(deadline):
            if isinstance(a, lt.dht_mutable_item_alert) and bytes(a.key) == key:
                now = time.perf_counter()
                seq = a.seq
                if first is None and seq == expected:
                    first = now
                if a.authoritative:
                    reply = {"ok": True, "found": seq == expected, "seq": seq,
                             "ms": (now - started) * 1000}
                    if first is not None:
                        reply["first_ms"] = (first - started) * 1000
                    return reply
        return {"ok": False, "error": "no authoritative alert before the timeout"}

    def op_quit(self, cmd, deadline):
        return {"ok": True}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", required=True)
    ap.add_argument("--bootstrap", action="append", default=[])
    args = ap.parse_args()
    signal.alarm(LIFETIME)
    if not ipaddress.ip_address(args.bind).is_loopback:
        print("lt_get.py: --bind must be a loopback address", file=sys.stderr)
        return 2
    try:
        looker = Looker(args.bind, [loopback_endpoint(b) for b in args.bootstrap])
    except Exception as e:  # noqa: BLE001
        print("lt_get.py: start failed: %s" % e, file=sys.stderr, flush=True)
        return 1
    sys.stdout.write(json.dumps({"ok": True, "port": looker.port, "version": lt.__version__}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        cmd = None
        try:
            cmd = json.loads(line)
            deadline = time.monotonic() + min(float(cmd.get("timeout", 30)), MAX_TIMEOUT)
            handler = getattr(looker, "op_" + str(cmd.get("op")), None)
            if handler is None:
                reply = {"ok": False, "error": "unknown op %r" % cmd.get("op")}
            else:
                reply = handler(cmd, deadline)
        except Exception as e:  # noqa: BLE001
            reply = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
        if isinstance(cmd, dict) and cmd.get("op") == "quit":
            break
    sys.stdout.flush()
    sys.stderr.flush()
    # skip the session's orderly shutdown: there is nothing to save and it can take seconds
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
