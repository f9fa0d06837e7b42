#!/usr/bin/env python3
"""soak.py: the kvcache soak (issue 17 items 4-5; docs/soak.md). Python 3 stdlib only.

  soak.py run --server BUILD/kvcache --seconds S --out DIR [--faults N:SEED] [--no-hostile]
              [--scale F] [--asan]

starts the server under GOMEMLIMIT=64MiB, then for S seconds:
  - load: redis-benchmark loops (pipelined SET/GET/INCR/DEL/EXPIRE, values 10 B to 1 MiB) and
    redis-cli --pipe loops (a pre-generated mix of SET/GET/DEL/PEXPIRE/INCR);
  - checker (a process of its own): keeps its own record of every write and delete the server
    acknowledged, under keys chk:*, and checks that every one that was not evicted or expired
    reads back with exactly its value; evictions are told apart by DEBUG EVICTLOG;
  - pinger: PING every 100 ms with a 1 s deadline; counts misses and latency; if the server
    stops answering, dumps its thread stacks (test/dumpstacks.sh) into DIR;
  - sampler: VmRSS/VmHWM from /proc every second, and INFO memory/stats;
  - hostile: clients that disconnect mid-command or send malformed RESP, each of which must
    get its error and a closed connection.
Then it prints one summary (also DIR/summary.txt, DIR/summary.json) and exits 1 if a write
was lost or wrong, a PING was missed, the server died, or a hostile client was not answered
as it should be. The roles are processes of their own (soak.py checker|pinger|sampler|
hostile ...), so none of them delays another's measurements.
"""
import argparse
import hashlib
import faulthandler
import json
import os
import random
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LIMIT = 64 << 20
now = time.monotonic


# ---- RESP ----

class RespError(Exception):
    pass


class Err(str):
    """An error reply."""


def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = b"%d" % a
        out.append(b"$%d\r\n" % len(a))
        out.append(a)
        out.append(b"\r\n")
    return b"".join(out)


class Reader:
    """Incremental RESP2 reply parser."""

    def __init__(self):
        self.buf = bytearray()
        self.pos = 0

    def feed(self, data):
        if self.pos > 65536 and self.pos > len(self.buf) // 2:
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += data

    def _line(self, pos):
        nl = self.buf.find(b"\r\n", pos)
        if nl < 0:
            return None, pos
        return bytes(self.buf[pos:nl]), nl + 2

    def _one(self, pos):
        line, p = self._line(pos)
        if line is None:
            return None, pos, False
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode("latin-1"), p, True
        if t == b"-":
            return Err(rest.decode("latin-1")), p, True
        if t == b":":
            return int(rest), p, True
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None, p, True
            if len(self.buf) < p + n + 2:
                return None, pos, False
            return bytes(self.buf[p:p + n]), p + n + 2, True
        if t == b"*":
            n = int(rest)
            if n < 0:
                return None, p, True
            items = []
            for _ in range(n):
                v, p, ok = self._one(p)
                if not ok:
                    return None, pos, False
                items.append(v)
            return items, p, True
        raise RespError("bad reply type %r" % line[:40])

    def get(self):
        """(True, reply) or (False, None) when incomplete."""
        v, p, ok = self._one(self.pos)
        if ok:
            self.pos = p
        return ok, v


def connect(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_reply(sock, reader, deadline):
    """The next reply; socket.timeout past the deadline, RespError at EOF."""
    while True:
        ok, v = reader.get()
        if ok:
            return v
        rem = deadline - now()
        if rem <= 0:
            raise socket.timeout("no reply")
        sock.settimeout(rem)
        d = sock.recv(1 << 20)
        if not d:
            raise RespError("connection closed")
        reader.feed(d)


def call(sock, reader, *args, timeout=5.0):
    sock.settimeout(timeout)
    sock.sendall(enc(*args))
    return read_reply(sock, reader, now() + timeout)


def pipeline(conns, reqs, timeout):
    """Sends reqs[i] (bytes) on conns[i] = (sock, reader) and reads counts[i] replies, all
    at once (a selector, so that neither side waits for the other's buffers). reqs is a list
    of (bytes, count). Returns a list of reply lists, or raises TimeoutError."""
    sel = selectors.DefaultSelector()
    out = [[] for _ in conns]
    state = []
    for i, ((sock, rd), (data, n)) in enumerate(zip(conns, reqs)):
        sock.setblocking(False)
        st = {"i": i, "data": memoryview(data), "off": 0, "n": n}
        state.append(st)
        if n or data:
            sel.register(sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if data else 0), st)
    left = sum(1 for st in state if st["n"])
    deadline = now() + timeout
    try:
        while left:
            rem = deadline - now()
            if rem <= 0:
                raise TimeoutError("no reply within %.0f s" % timeout)
            for key, ev in sel.select(min(rem, 1.0)):
                st = key.data
                sock, rd = conns[st["i"]]
                if ev & selectors.EVENT_WRITE:
                    try:
                        k = sock.send(st["data"][st["off"]:st["off"] + (1 << 20)])
                    except BlockingIOError:
                        k = 0
                    st["off"] += k
                    if st["off"] >= len(st["data"]):
                        sel.modify(sock, selectors.EVENT_READ, st)
                if ev & selectors.EVENT_READ:
                    try:
                        d = sock.recv(1 << 20)
                    except BlockingIOError:
                        continue
                    if not d:
                        raise RespError("connection closed by the server")
                    rd.feed(d)
                    while len(out[st["i"]]) < st["n"]:
                        ok, v = rd.get()
                        if not ok:
                            break
                        out[st["i"]].append(v)
                    if len(out[st["i"]]) == st["n"] and st["n"]:
                        st["n"] = 0
                        left -= 1
                        if st["off"] >= len(st["data"]):
                            sel.unregister(sock)
    finally:
        sel.close()
        for sock, _ in conns:
            sock.setblocking(True)
    return out


def pct(xs, p):
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100.0))]


def dump(path, obj):
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


# ---- checker ----

def value_of(ver, size):
    """The bytes of write number ver: its number first, so that no two writes' values are
    equal, then a pattern of its hash."""
    head = b"%x:" % ver
    pat = hashlib.blake2b(head, digest_size=64).digest()
    body = (head + pat * (size // 64 + 1))
    return body[:size]


def pick_size(rng, big):
    r = rng.random()
    if r < 0.70:
        return rng.randint(10, 1000)
    if r < 0.90:
        return rng.randint(1000, 16384)
    if r < 0.98 or not big:
        return rng.randint(16384, 262144)
    return rng.randint(262144, 1 << 20)


class Key:
    __slots__ = ("name", "state", "ver", "size", "exp_maybe", "exp_sure", "clean_after", "written", "written_in")

    def __init__(self, name):
        self.name = name
        self.state = "absent"      # live | absent | evicted | unknown
        self.ver = 0
        self.size = 0
        self.exp_maybe = None      # after this (monotonic s) it may have expired
        self.exp_sure = None       # after this it has surely expired
        self.clean_after = 0       # eviction log entries of earlier versions only up to this fetch
        self.written = False
        self.written_in = 0        # the fetch right after the batch of its last write


def checker(a):
    rng = random.Random(a.seed)
    K = 3
    conns = [(connect(a.port), Reader()) for _ in range(K)]
    logc = (connect(a.port), Reader())
    r = call(*logc, "DEBUG", "EVICTLOG", "WATCH", "chk:")
    if r != "OK":
        raise SystemExit("checker: DEBUG EVICTLOG WATCH answered %r" % (r,))
    keys = [Key("chk:%d" % i) for i in range(a.keys)]
    st = dict(acked_writes=0, acked_deletes=0, verified=0, verified_final=0, evicted=0, expired=0,
              ambiguous=0, oom=0, lost=0, wrong=0, phantom=0, overflow=0, batches=0, ops=0,
              suspects=0, errors=0)
    examples = []
    lat = []
    fetch = [0]        # sequence number of the last eviction-log fetch
    ver = [0]
    recent = []

    def problem(kind, k, msg):
        st[kind] += 1
        if len(examples) < 30:
            examples.append("%s %s: %s" % (kind, k.name, msg))

    def fetch_log():
        fetch[0] += 1
        j = fetch[0]
        rep = call(*logc, "DEBUG", "EVICTLOG", timeout=60)
        if isinstance(rep, Err) or not isinstance(rep, list):
            raise SystemExit("checker: DEBUG EVICTLOG answered %r" % (rep,))
        dropped, names = rep[0], rep[1:]
        if dropped:
            # the record is incomplete: nothing live can be vouched for until rewritten
            st["overflow"] += 1
            for k in keys:
                if k.state == "live":
                    k.state = "unknown"
                    st["ambiguous"] += 1
        evicted_now = set()
        for nm in names:
            i = int(nm[4:])
            k = keys[i]
            if j <= k.clean_after:
                if k.state in ("live", "unknown") and k.clean_after == j and k.written_in == j:
                    k.state = "unknown"      # of this version or of the one before it
                    st["ambiguous"] += 1
                continue                     # of an earlier version
            if k.state in ("live", "unknown"):
                k.state = "evicted"
                k.clean_after = j
                st["evicted"] += 1
                evicted_now.add(i)
            else:
                problem("phantom", k, "evicted in fetch %d while %s (clean after %d)" % (j, k.state, k.clean_after))
        return j, evicted_now

    def settle_expiry(k, t):
        if k.state == "live" and k.exp_sure is not None and t >= k.exp_sure:
            k.state = "absent"
            k.clean_after = fetch[0] + 1     # an eviction just before expiry is drained by the next fetch
            st["expired"] += 1

    deadline = now() + a.seconds
    final = False
    final_list = None
    while True:
        t_now = now()
        if not final and t_now >= deadline:
            final = True
            final_list = [k for k in keys if k.state == "live"]
            rng.shuffle(final_list)
        batch = []
        if final:
            while final_list and len(batch) < a.batch:
                k = final_list.pop()
                settle_expiry(k, t_now)
                if k.state == "live":
                    batch.append((k, "final"))
            if not batch and not final_list:
                break
        else:
            chosen = set()
            while len(batch) < a.batch:
                if recent and rng.random() < 0.5:
                    i = rng.choice(recent)
                else:
                    i = rng.randrange(len(keys))
                if i in chosen:
                    continue
                chosen.add(i)
                k = keys[i]
                settle_expiry(k, t_now)
                x = rng.random()
                if x < 0.35:
                    op = "set"
                elif x < 0.45:
                    op = "setpx"
                elif x < 0.80:
                    op = "get"
                elif x < 0.88:
                    op = "del"
                elif k.state == "live" and k.exp_sure is None:
                    op = "pexpire"
                else:
                    op = "get"
                batch.append((k, op))
        j = fetch[0] + 1          # the fetch after this batch
        reqs = [[bytearray(), 0] for _ in range(K)]
        plan = []
        for k, op in batch:
            c = int(k.name[4:]) % K
            if op in ("set", "setpx"):
                ver[0] += 1
                size = pick_size(rng, a.big)
                v = value_of(ver[0], size)
                if op == "setpx":
                    ttl = rng.randint(50, 3000)
                    reqs[c][0] += enc("SET", k.name, v, "PX", ttl)
                else:
                    ttl = None
                    reqs[c][0] += enc("SET", k.name, v)
                plan.append((k, op, c, (ver[0], size, ttl)))
            elif op in ("get", "final"):
                reqs[c][0] += enc("GET", k.name)
                plan.append((k, op, c, None))
            elif op == "del":
                reqs[c][0] += enc("DEL", k.name)
                plan.append((k, op, c, None))
            else:
                ttl = rng.randint(100, 3000)
                reqs[c][0] += enc("PEXPIRE", k.name, ttl)
                plan.append((k, op, c, ttl))
            reqs[c][1] += 1
        t0 = now()
        try:
            replies = pipeline(conns, [(bytes(d), n) for d, n in reqs], timeout=60)
        except (TimeoutError, RespError, OSError) as e:
            raise SystemExit("checker: batch %d failed: %s" % (st["batches"], e))
        t1 = now()
        lat.append(t1 - t0)
        st["batches"] += 1
        st["ops"] += len(plan)
        pos = [0] * K
        suspects = []
        for k, op, c, arg in plan:
            rep = replies[c][pos[c]]
            pos[c] += 1
            if isinstance(rep, Err):
                if rep.startswith("OOM") and op in ("set", "setpx"):
                    st["oom"] += 1         # not acknowledged; the old state stays
                    continue
                problem("errors", k, "%s answered %s" % (op, rep))
                continue
            if op in ("set", "setpx"):
                if rep != "OK":
                    problem("errors", k, "SET answered %r" % (rep,))
                    continue
                vno, size, ttl = arg
                prev_live = k.state in ("live", "unknown") or (k.written and k.clean_after >= j - 1)
                k.clean_after = j if prev_live or k.state == "evicted" else k.clean_after
                k.written_in = j
                k.state, k.ver, k.size, k.written = "live", vno, size, True
                if ttl is None:
                    k.exp_maybe = k.exp_sure = None
                else:
                    k.exp_maybe = t0 + ttl / 1000.0 - 0.002
                    k.exp_sure = t1 + ttl / 1000.0 + 0.002
                st["acked_writes"] += 1
                recent.append(int(k.name[4:]))
                if len(recent) > 2000:
                    del recent[:1000]
            elif op in ("get", "final"):
                if rep is None:
                    if k.state == "live":
                        if k.exp_maybe is not None and t1 >= k.exp_maybe:
                            k.state = "absent"          # expired (possibly)
                            k.clean_after = j
                            st["expired"] += 1
                        else:
                            suspects.append((k, op, "GET answered nil"))
                    continue
                if not isinstance(rep, bytes):
                    problem("errors", k, "GET answered %r" % (rep,))
                    continue
                if k.state in ("live", "unknown"):
                    if rep != value_of(k.ver, k.size):
                        problem("wrong", k, "GET answered %d bytes %r..., want write %x (%d bytes)"
                                % (len(rep), rep[:16], k.ver, k.size))
                    elif k.state == "live":
                        if k.exp_sure is not None and t0 >= k.exp_sure:
                            problem("wrong", k, "read back %.3f s after it surely expired" % (t0 - k.exp_sure))
                        st["verified_final" if op == "final" else "verified"] += 1
                else:
                    problem("wrong", k, "GET answered a value of write %r while the key is %s" % (rep[:12], k.state))
            elif op == "del":
                if rep == 1:
                    if k.state in ("absent", "evicted"):
                        problem("wrong", k, "DEL removed a key that was %s" % k.state)
                elif rep == 0:
                    if k.state == "live" and not (k.exp_maybe is not None and t1 >= k.exp_maybe):
                        suspects.append((k, op, "DEL found nothing"))
                        continue
                else:
                    problem("errors", k, "DEL answered %r" % (rep,))
                    continue
                if k.state in ("live", "unknown"):
                    k.clean_after = j
                k.state = "absent"
                k.exp_maybe = k.exp_sure = None
                st["acked_deletes"] += 1
            else:  # pexpire
                if rep == 1:
                    if k.state == "live":
                        k.exp_maybe = t0 + arg / 1000.0 - 0.002
                        k.exp_sure = t1 + arg / 1000.0 + 0.002
                elif rep == 0:
                    if k.state == "live":
                        suspects.append((k, op, "PEXPIRE found nothing"))
                else:
                    problem("errors", k, "PEXPIRE answered %r" % (rep,))
        # The fetch after the replies: a key gone by eviction before one of them is in it.
        j2, evicted_now = fetch_log()
        assert j2 == j
        for k, op, why in suspects:
            st["suspects"] += 1
            i = int(k.name[4:])
            if i in evicted_now or k.state in ("evicted", "unknown"):
                if op == "del" and k.state == "evicted":
                    k.state = "absent"
                continue
            problem("lost", k, "%s, and it was not evicted (write %x, %d bytes, ttl %s)"
                    % (why, k.ver, k.size, "none" if k.exp_sure is None else "set"))
            k.state = "unknown"
        if st["batches"] % 50 == 0:
            st["checker_batch_p99_ms"] = pct(lat, 99) * 1000
            dump(a.out, dict(st, examples=examples, running=True))
    st["checker_batch_p50_ms"] = pct(lat, 50) * 1000
    st["checker_batch_p99_ms"] = pct(lat, 99) * 1000
    st["checker_batch_max_ms"] = max(lat) * 1000 if lat else 0
    dump(a.out, dict(st, examples=examples, running=False))


# ---- pinger ----

def pinger(a):
    try:
        os.nice(-10)      # the prober measures the server, not its own turn on a busy CPU
    except OSError:
        pass
    lat, missed, miss_times = [], 0, []
    sock, rd = None, None
    consecutive, dumped, dump_window = 0, False, None
    end = now() + a.seconds
    tick = now()
    while now() < end:
        tick += 0.1
        if sock is None:
            try:
                sock, rd = connect(a.port, timeout=1.0), Reader()
            except OSError:
                sock = None
        t0 = now()
        ok = False
        if sock is not None:
            try:
                sock.settimeout(1.0)
                sock.sendall(b"PING\r\n")
                ok = read_reply(sock, rd, t0 + 1.0) == "PONG"
            except (OSError, RespError):
                ok = False
        if ok:
            lat.append(now() - t0)
            consecutive = 0
        else:
            missed += 1
            consecutive += 1
            miss_times.append(round(t0, 3))
            if sock is not None:
                sock.close()
            sock = None     # a late PONG must not answer the next PING
            if not dumped and a.server_pid:   # at the first miss, while it still waits
                dumped = True
                d0 = now()
                subprocess.run(["sh", a.dumpstacks, str(a.server_pid), a.stacks], timeout=300)
                # gdb holds the server stopped meanwhile: what fails then is the dump's doing
                dump_window = [round(d0, 3), round(now(), 3)]
        wait = tick - now()
        if wait > 0:
            time.sleep(wait)
        else:
            tick = now()
    dump(a.out, dict(pings=len(lat) + missed, missed=missed, miss_times=miss_times[:50], dump_window=dump_window,
                     p50_ms=pct(lat, 50) * 1000, p99_ms=pct(lat, 99) * 1000,
                     p999_ms=pct(lat, 99.9) * 1000, max_ms=max(lat) * 1000 if lat else 0,
                     stacks_dumped=dumped))


# ---- sampler ----

def parse_info(text):
    d = {}
    for line in text.decode("latin-1").split("\r\n"):
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            d[k] = v
    return d


def sampler(a):
    out = open(a.csv, "w")
    out.write("t,rss_kb,hwm_kb,used_memory,heap_inuse,gc_sys,next_gc,num_gc,pause_max_ns,commands,evicted,"
              "expired,oom,clients,utime_s,stime_s,minflt\n")
    tick = os.sysconf("SC_CLK_TCK")
    cpu = (0, 0, 0)
    peak = dict(rss_kb=0, hwm_kb=0, used_memory=0, heap_inuse=0, gc_sys=0)
    sock, rd = None, None
    gaps = 0
    start = now()
    end = start + a.seconds
    last = {}
    while now() < end:
        t = now()
        vm = {}
        try:
            with open("/proc/%d/status" % a.pid) as f:
                for line in f:
                    if line.startswith(("VmRSS:", "VmHWM:")):
                        vm[line.split(":")[0]] = int(line.split()[1])
            with open("/proc/%d/stat" % a.pid) as f:
                fs = f.read().rsplit(")", 1)[1].split()
            cpu = (int(fs[11]) / tick, int(fs[12]) / tick, int(fs[7]))   # utime, stime, minflt
        except OSError:
            break
        info = {}
        try:
            if sock is None:
                sock, rd = connect(a.port, timeout=5.0), Reader()
            r1 = call(sock, rd, "INFO", "memory", timeout=5.0)
            r2 = call(sock, rd, "INFO", "stats", timeout=5.0)
            info = parse_info(r1)
            info.update(parse_info(r2))
            info.update(parse_info(call(sock, rd, "INFO", "clients", timeout=5.0)))
            last = info
        except (OSError, RespError):
            gaps += 1
            if sock is not None:
                sock.close()
            sock = None

        def g(k):
            return int(info.get(k, 0) or 0)
        row = dict(rss_kb=vm.get("VmRSS", 0), hwm_kb=vm.get("VmHWM", 0), used_memory=g("used_memory"),
                   heap_inuse=g("gc_heap_inuse"), gc_sys=g("gc_sys"))
        for k, v in row.items():
            peak[k] = max(peak[k], v)
        out.write("%.1f,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%.2f,%.2f,%d\n" % ((
            t - start, row["rss_kb"], row["hwm_kb"], row["used_memory"], row["heap_inuse"], row["gc_sys"],
            g("gc_next_gc"), g("gc_num_gc"), g("gc_pause_max_ns"), g("total_commands_processed"),
            g("evicted_keys"), g("expired_keys"), g("oom_rejected_commands"), g("connected_clients")) + cpu))
        out.flush()
        time.sleep(max(0, t + 1.0 - now()))
    out.close()
    dump(a.out, dict(peak=peak, gaps=gaps, cpu=dict(user_s=cpu[0], sys_s=cpu[1], minor_faults=cpu[2]), last_info={k: last.get(k) for k in (
        "used_memory_peak", "gc_heap_inuse_peak", "gc_num_gc", "gc_pause_max_ns", "total_commands_processed",
        "evicted_keys", "expired_keys", "oom_rejected_commands")}))


# ---- hostile clients ----

def hostile(a):
    rng = random.Random(a.seed)
    st = {}
    bad = []
    held = []

    def note(case, outcome):
        st.setdefault(case, {}).setdefault(outcome, 0)
        st[case][outcome] += 1

    def exchange(data, wait=3.0, shut=True):
        """Sends data, half-closes, reads until EOF: (reply bytes, 'eof'|'reset'|'open')."""
        s = connect(a.port)
        out = b""
        try:
            s.sendall(data)
            if shut:
                s.shutdown(socket.SHUT_WR)
            s.settimeout(wait)
            while True:
                d = s.recv(65536)
                if not d:
                    return out, "eof"
                out += d
        except socket.timeout:
            return out, "open"
        except (ConnectionResetError, BrokenPipeError):
            return out, "reset"
        finally:
            s.close()

    def expect(case, data, err, may_reset=False):
        out, how = exchange(data)
        want = b"-ERR Protocol error: " + err + b"\r\n"
        if out == want and how == "eof":
            note(case, "error+close")
        elif may_reset and how == "reset" and (out == b"" or out == want):
            note(case, "reset")
        else:
            note(case, "UNEXPECTED")
            if len(bad) < 20:
                bad.append("%s: got %r, %s" % (case, out[:120], how))

    big_every = 30.0
    last_big = now() - big_every + 5
    end = now() + a.seconds
    while now() < end:
        c = rng.randrange(12)
        try:
            if c == 0:
                expect("huge bulk length", b"*1\r\n$9999999999\r\n", b"invalid bulk length")
            elif c == 1:
                expect("negative multibulk", b"*-%d\r\n" % rng.randint(1, 10**9), b"invalid multibulk length")
            elif c == 2:
                expect("huge multibulk", b"*%d\r\n" % rng.choice([99999999999, (1 << 20) + 1, 10**12]),
                       b"invalid multibulk length")
            elif c == 3:
                expect("unterminated bulk", b"*2\r\n$3\r\nGET\r\n$3\r\nabcdef\r\n", b"bulk not terminated by CRLF")
            elif c == 4:
                expect("over-long inline", b"x" * rng.randint(65536, 100000), b"too big inline request", True)
            elif c == 5 and now() - last_big >= big_every:
                last_big = now()
                data = b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$33554432\r\n" + b"a" * (32 << 20) + b"\r\n$33554432\r\n"
                expect("command over 64 MiB", data, b"command too big", True)
            elif c == 6:
                expect("bulk over 32 MiB", b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$33554433\r\n", b"invalid bulk length")
            elif c == 7:
                # random bytes: no promise but that the server stays up and the connection ends or answers
                data = os.urandom(rng.randint(1, 4096))
                if rng.random() < 0.5:
                    data = b"*" + data
                out, how = exchange(data, wait=1.0)
                note("random bytes", how)
            elif c == 8:
                # disconnects mid-command: in a length line, in a bulk, between elements
                cut = rng.choice([b"*3\r\n$3\r\nSE", b"*3\r\n$3\r\nSET\r\n$4\r\nhost\r\n$100000\r\n" + b"v" * 50000,
                                  b"*3\r\n$3\r\nSET\r\n$4\r\nhost\r\n", b"*2\r\n$3\r\nGET\r\n$"])
                s = connect(a.port)
                s.sendall(cut)
                s.close()
                note("disconnect mid-command", "done")
            elif c == 9:
                # held open mid-command for a few seconds (at most 16 at once)
                s = connect(a.port)
                s.sendall(b"*3\r\n$3\r\nSET\r\n$4\r\nheld\r\n$1000\r\n" + b"h" * rng.randint(0, 999))
                held.append((now() + rng.uniform(1, 5), s))
                note("held mid-command", "done")
            elif c == 10:
                # a big command dripped a few elements at a time, then completed: answered once
                n = rng.randint(1000, 20000)
                s = connect(a.port)
                s.sendall(b"*%d\r\n$3\r\nDEL\r\n" % n)
                el = b"$9\r\nhostile:x\r\n"
                sent = 1
                while sent < n:
                    k = min(n - sent, rng.randint(1, 500))
                    s.sendall(el * k)
                    sent += k
                try:
                    got = read_reply(s, Reader(), now() + 10)
                except RespError:
                    got = None
                s.close()
                if got == 0:
                    note("dripped big command", "answered")
                else:
                    note("dripped big command", "UNEXPECTED")
                    bad.append("dripped command: got %r" % (got,))
            else:
                # over the element limit, declared in pieces
                expect("multibulk over 2^20", b"*1048577\r\n$3\r\nDEL\r\n", b"invalid multibulk length")
        except OSError as e:
            note("client error", type(e).__name__)
            if len(bad) < 20:
                bad.append("case %d: %s" % (c, e))
        t = now()
        for item in [h for h in held if h[0] <= t]:
            item[1].close()
            held.remove(item)
        time.sleep(rng.uniform(0.02, 0.1))
    for _, s in held:
        s.close()
    unexpected = sum(v.get("UNEXPECTED", 0) for v in st.values()) + sum(
        v for k, v in st.get("client error", {}).items())
    dump(a.out, dict(cases=st, unexpected=unexpected, examples=bad))


# ---- load ----

class Load:
    """Loops of redis-benchmark and redis-cli --pipe runs until the deadline."""

    def __init__(self, port, out, deadline, scale, nice=0):
        self.port, self.out, self.deadline, self.scale, self.nice = port, out, deadline, scale, nice
        self.lock = threading.Lock()
        self.bench = {}
        self.runs = self.failed = self.cut = self.oom_stopped = 0
        self.pipe = dict(runs=0, replies=0, errors=0, oom=0)
        self.procs = set()
        self.fail_log = []

    def n(self, x):
        return max(1, int(x * self.scale))

    def run(self, cmd, **kw):
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             preexec_fn=(lambda: os.nice(self.nice)) if self.nice else None, **kw)
        with self.lock:
            self.procs.add(p)
        try:
            rem = self.deadline - now()
            out, _ = p.communicate(timeout=max(rem, 0.1))
            return p.returncode, out.decode("latin-1")
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            return None, ""
        finally:
            with self.lock:
                self.procs.discard(p)

    def bench_loop(self, configs):
        i = 0
        while now() < self.deadline:
            name, args = configs[i % len(configs)]
            i += 1
            rc, out = self.run(["redis-benchmark", "-p", str(self.port), "--csv"] + args)
            with self.lock:
                if rc is None:
                    self.cut += 1
                    continue
                self.runs += 1
                rows = [l for l in out.splitlines() if l.startswith('"') and not l.startswith('"test"')]
                if rc != 0 and "Error from server: OOM" in out:
                    self.oom_stopped += 1    # redis-benchmark stops at an error reply: -OOM under faults
                    continue
                if rc != 0 or not rows:
                    self.failed += 1
                    if len(self.fail_log) < 10:
                        self.fail_log.append("%s: exit %s: %s" % (name, rc, out[-300:]))
                    continue
                for row in rows:
                    f = [x.strip('"') for x in row.split('","')]
                    b = self.bench.setdefault("%s %s" % (name, f[0]), dict(runs=0, rps=[], p99=0.0, max=0.0))
                    b["runs"] += 1
                    b["rps"].append(float(f[1]))
                    b["p99"] = max(b["p99"], float(f[6]))
                    b["max"] = max(b["max"], float(f[7]))

    def pipe_input(self, seed):
        rng = random.Random(seed)
        parts = []
        for i in range(self.n(4000)):
            k = "pipe:%d" % rng.randrange(20000)
            x = rng.random()
            if x < 0.4:
                size = pick_size(rng, True)
                parts.append(enc("SET", k, os.urandom(size // 2 + 1).hex()[:size]))
            elif x < 0.7:
                parts.append(enc("GET", k))
            elif x < 0.8:
                parts.append(enc("DEL", k))
            elif x < 0.9:
                parts.append(enc("PEXPIRE", k, rng.randint(10, 2000)))
            else:
                parts.append(enc("INCR", "pipe:counter:%d" % rng.randrange(100)))
        path = os.path.join(self.out, "pipe-%d.resp" % seed)
        with open(path, "wb") as f:
            f.write(b"".join(parts))
        return path

    def pipe_loop(self, seed):
        path = self.pipe_input(seed)
        while now() < self.deadline:
            with open(path, "rb") as f:
                rc, out = self.run(["redis-cli", "-p", str(self.port), "--pipe"], stdin=f)
            if rc is None:
                continue
            m = re.search(r"errors: (\d+), replies: (\d+)", out)
            with self.lock:
                self.pipe["runs"] += 1
                if m:
                    self.pipe["errors"] += int(m.group(1))
                    self.pipe["replies"] += int(m.group(2))
                # errors: -OOM under injected faults; the INCRs on values SET by others
                # answer "not an integer" by design.

    def start(self):
        n = self.n
        r = lambda k: ["-r", str(k)]
        small = [("10B", ["-c", "8", "-P", "16", "-n", str(n(200000)), "-d", "10", "-t", "set,get,incr"] + r(200000)),
                 ("del", ["-c", "4", "-P", "16", "-n", str(n(50000))] + r(200000) + ["DEL", "key:__rand_int__"]),
                 ("expire", ["-c", "4", "-P", "16", "-n", str(n(50000))] + r(200000) +
                  ["SET", "key:__rand_int__", "expiring", "PX", "300"])]
        mid = [("1KB", ["-c", "4", "-P", "8", "-n", str(n(100000)), "-d", "1000", "-t", "set,get"] + r(100000)),
               ("64KB", ["-c", "2", "-P", "4", "-n", str(n(4000)), "-d", "65536", "-t", "set,get"] + r(20000)),
               ("1MB", ["-c", "2", "-P", "2", "-n", str(n(300)), "-d", "1048576", "-t", "set,get"] + r(2000)),
               ("expire-1s", ["-c", "2", "-P", "16", "-n", str(n(20000))] + r(100000) +
                ["EXPIRE", "key:__rand_int__", "1"])]
        self.threads = [threading.Thread(target=self.bench_loop, args=(small,), daemon=True, name="bench-small"),
                        threading.Thread(target=self.bench_loop, args=(mid,), daemon=True, name="bench-mid"),
                        threading.Thread(target=self.bench_loop, args=(mid[2:] + mid[:2],), daemon=True, name="bench-mid2"),
                        threading.Thread(target=self.pipe_loop, args=(1,), daemon=True, name="pipe")]
        for t in self.threads:
            t.start()

    def stop(self):
        for t in self.threads:
            t.join(timeout=30)
        with self.lock:
            for p in list(self.procs):
                p.kill()
        b = {k: dict(runs=v["runs"], rps_median=pct(v["rps"], 50), p99_ms=v["p99"], max_ms=v["max"])
             for k, v in sorted(self.bench.items())}
        return dict(bench=b, runs=self.runs, failed=self.failed, cut_at_deadline=self.cut, pipe=self.pipe,
                    stopped_by_oom=self.oom_stopped,
                    failures=self.fail_log)


# ---- run ----

GCLINE = re.compile(r"^gc (\d+) @([\d.]+)s [^:]*: ([\d.]+)\+([\d.]+)\+([\d.]+) ms clock")


def miss_context(log, misses, t0):
    """The server's gctrace lines of the cycles that overlap each missed PING's second
    (server time = pinger time - spawn time; gc_init runs a few ms after the spawn)."""
    cycles = []
    for line in log.splitlines():
        m = GCLINE.match(line)
        if m:
            at = float(m.group(2))
            cycles.append((at, at + sum(float(m.group(i)) for i in (3, 4, 5)) / 1000.0, line))
    ctx = []
    for t in misses[:5]:
        rel = t - t0
        ctx.append(dict(server_s=round(rel, 3), cycles=[l for (b, e, l) in cycles if e >= rel - 1.0 and b <= rel + 1.0]))
    return ctx


def start_server(a, out, name="server"):
    env = dict(os.environ, GOMEMLIMIT="64MiB")
    env.pop("GOGC", None)
    env.pop("GCRT_FAULT_MMAP", None)
    # Every cycle's gctrace line in the server's log: a stall's evidence names its phase.
    if "gctrace" not in env.get("GODEBUG", ""):
        env["GODEBUG"] = ",".join(x for x in (env.get("GODEBUG"), "gctrace=1") if x)
    if a.faults and name == "server":
        env["GCRT_FAULT_MMAP"] = a.faults
    if name == "server":   # and each cycle's phases per thread (a stall's evidence: who waited for what)
        env["GODEBUG"] += ",gctracefile=" + os.path.join(os.path.abspath(out), "timeline.json")
    if a.asan:
        env["ASAN_OPTIONS"] = "detect_stack_use_after_return=0:detect_leaks=0:halt_on_error=1:abort_on_error=1"
    so = open(os.path.join(out, name + ".out"), "w")
    se = open(os.path.join(out, name + ".log"), "w")
    spawned = now()   # gctrace's @ counts from gc_init, just after this
    p = subprocess.Popen([a.server, "-p", "0"], stdout=so, stderr=se, env=env, cwd=out)
    p.spawned = spawned
    for _ in range(400):
        time.sleep(0.05)
        with open(os.path.join(out, name + ".out")) as f:
            m = re.search(r"127\.0\.0\.1:(\d+)", f.read())
        if m:
            return p, int(m.group(1))
        if p.poll() is not None:
            break
    raise SystemExit("soak: the %s did not start: %s" % (name, open(os.path.join(out, name + ".log")).read()[-2000:]))


def role(a, name, extra, port, pid, cmd_name=None):
    cmd = [sys.executable, os.path.abspath(__file__), cmd_name or name, "--port", str(port), "--seconds", str(a.seconds),
           "--out", os.path.join(a.out, name + ".json")] + extra
    return subprocess.Popen(cmd, stdout=open(os.path.join(a.out, name + ".out"), "w"), stderr=subprocess.STDOUT)


def end_stall(out, why, roles):
    """A slow end of a run: where each process still alive is (its state, wait channel and,
    for a role, its Python stacks in ROLE.out), into end-stall.txt, and said on stderr."""
    path = os.path.join(out, "end-stall.txt")
    with open(path, "a") as f:
        f.write("--- %s: %s\n" % (time.strftime("%H:%M:%S"), why))
        for name, p in roles.items():
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGUSR1)
                except OSError:
                    pass
        f.flush()
        subprocess.run(["ps", "-eo", "pid,ppid,stat,wchan:32,etime,args", "--forest"], stdout=f,
                       stderr=subprocess.STDOUT, timeout=30)
    print("soak: %s: process states in %s, stacks of live roles in their .out" % (why, path),
          file=sys.stderr, flush=True)


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def run(a):
    out = a.out
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        p = os.path.join(out, f)
        if os.path.isfile(p):
            os.remove(p)
    t_start = time.time()
    srv, port = start_server(a, out)
    print("soak: kvcache pid %d on port %d, GOMEMLIMIT=64MiB%s, %d s, output in %s" % (
        srv.pid, port, ", GCRT_FAULT_MMAP=" + a.faults if a.faults else "", a.seconds, out), flush=True)
    stacks = os.path.join(out, "stacks.txt")
    dumpstacks = a.dumpstacks or os.path.join(HERE, "..", "dumpstacks.sh")
    roles = {
        "checker": role(a, "checker", ["--seed", str(a.seed), "--keys", str(a.keys), "--batch", str(a.batch)]
                        + (["--big"] if a.scale >= 1 else []), port, srv.pid),
        "pinger": role(a, "pinger", ["--server-pid", str(srv.pid), "--dumpstacks", dumpstacks, "--stacks", stacks],
                       port, srv.pid),
        "sampler": role(a, "sampler", ["--pid", str(srv.pid), "--csv", os.path.join(out, "samples.csv")], port,
                        srv.pid),
    }
    if a.hostile:
        roles["hostile"] = role(a, "hostile", ["--seed", str(a.seed)], port, srv.pid)
    ctl = None
    if a.control:
        # A second server that nothing loads, probed the same way: the PING latency any
        # process on this machine sees now, to read the loaded server's against.
        ctl, cport = start_server(a, out, "control")
        roles["pinger-control"] = role(a, "pinger-control", [], cport, ctl.pid, "pinger")
    load = Load(port, out, now() + a.seconds, a.scale, a.load_nice)
    load.start()
    deadline = now() + a.seconds
    died = None
    while now() < deadline:
        time.sleep(0.5)
        if srv.poll() is not None:
            died = "the server exited with status %s" % srv.returncode
            break
    t_end = now()
    # An end that takes a minute is a stall of the harness or the servers: where this
    # process is then, every thread, goes to late-end.txt (the test's time limit is 300 s).
    late = open(os.path.join(out, "late-end.txt"), "w")
    faulthandler.dump_traceback_later(60, repeat=True, file=late)
    loadres = load.stop()
    if now() - t_end > 5:
        end_stall(out, "the load's threads took %.1f s to stop (%s still running)" % (
            now() - t_end, ", ".join(t.name for t in load.threads if t.is_alive()) or "none"), roles)
    for name, p in roles.items():
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            end_stall(out, "the %s had not exited 30 s after the end" % name, roles)
            try:
                p.wait(timeout=a.seconds + 570 if name == "checker" else 90)
            except subprocess.TimeoutExpired:
                p.kill()
    # requests served: the server's own count
    info = {}
    if srv.poll() is None:
        try:
            s = connect(port)
            rd = Reader()
            info = parse_info(call(s, rd, "INFO", "stats"))
            info.update(parse_info(call(s, rd, "INFO", "memory")))
            s.close()
        except (OSError, RespError) as e:
            died = died or "the server did not answer INFO at the end: %s" % e
            subprocess.run(["sh", dumpstacks, str(srv.pid), stacks], timeout=300)
    elif not died:
        died = "the server exited with status %s" % srv.returncode
    for p in (srv, ctl):
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                end_stall(out, "a server (pid %d) had not exited 5 s after SIGTERM" % p.pid, {})
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
    faulthandler.cancel_dump_traceback_later()
    late.close()
    if not os.path.getsize(late.name):
        os.remove(late.name)   # a prompt end: no empty file among the evidence
    res = {n: load_json(os.path.join(out, n + ".json")) for n in roles}
    for n, r in res.items():
        if r is None:
            res[n] = {"missing": True, "log": open(os.path.join(out, n + ".out")).read()[-2000:]}
    log = open(os.path.join(out, "server.log"), errors="replace").read()
    refusals = log.count("GCRT_FAULT_MMAP: refused")
    c, pg, sm = res["checker"], res["pinger"], res["sampler"]
    peak = sm.get("peak", {})
    li = sm.get("last_info", {})
    summary = dict(
        seconds=a.seconds, started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_start)),
        server=a.server, faults=a.faults or "", hostile=a.hostile, load_nice=a.load_nice,
        requests_served=int(info.get("total_commands_processed", li.get("total_commands_processed") or 0)),
        evicted_keys=int(info.get("evicted_keys", 0) or 0), expired_keys=int(info.get("expired_keys", 0) or 0),
        oom_rejected_commands=int(info.get("oom_rejected_commands", 0) or 0), injected_mmap_refusals=refusals,
        ping=pg, ping_control=res.get("pinger-control"), checker=c, hostile_clients=res.get("hostile"), load=loadres,
        peak_rss_mib=peak.get("rss_kb", 0) / 1024.0, vm_hwm_mib=peak.get("hwm_kb", 0) / 1024.0,
        heap_peak_sampled_mib=peak.get("used_memory", 0) / 1048576.0,
        heap_peak_server_mib=int(info.get("used_memory_peak", li.get("used_memory_peak") or 0)) / 1048576.0,
        heap_inuse_peak_mib=int(info.get("gc_heap_inuse_peak", li.get("gc_heap_inuse_peak") or 0)) / 1048576.0,
        gc_sys_peak_mib=peak.get("gc_sys", 0) / 1048576.0, limit_mib=LIMIT / 1048576.0,
        gc_cycles=int(info.get("gc_num_gc", 0) or 0), gc_pause_max_ms=int(info.get("gc_pause_max_ns", 0) or 0) / 1e6,
        server_died=died, stacks=os.path.exists(stacks), server_cpu=sm.get("cpu"),
        miss_context=miss_context(log, pg.get("miss_times") or [], srv.spawned),
        dump_window=[round(t - srv.spawned, 3) for t in pg["dump_window"]] if pg.get("dump_window") else None)
    lost = (c.get("lost", 0) + c.get("wrong", 0)) if not c.get("missing") else None
    fails = ["the %s did not report: %s" % (n, r.get("log", "")[-300:]) for n, r in res.items() if r.get("missing")]
    if died:
        fails.append(died)
    if lost is None or c.get("running"):
        fails.append("the checker did not finish: %s" % c.get("log", ""))
    elif lost:
        fails.append("%d writes lost or wrong" % lost)
    if c.get("errors") or c.get("phantom"):
        fails.append("checker: %d unexpected replies, %d evictions of keys not there" % (c.get("errors", 0),
                                                                                       c.get("phantom", 0)))
    if pg.get("missing") or pg.get("missed", 1):
        fails.append("%s PINGs missed" % pg.get("missed", "?"))
    h = res.get("hostile")
    if h is not None and (h.get("missing") or h.get("unexpected")):
        fails.append("hostile clients: %s not answered as they should be" % h.get("unexpected", "?"))
    if loadres["failed"]:
        fails.append("%d redis-benchmark runs failed: %s" % (loadres["failed"], loadres["failures"][:2]))
    if a.faults and not refusals:
        fails.append("GCRT_FAULT_MMAP=%s refused no mapping" % a.faults)
    summary["lost_writes"] = lost
    summary["failures"] = fails
    dump(os.path.join(out, "summary.json"), summary)
    text = format_summary(summary)
    with open(os.path.join(out, "summary.txt"), "w") as f:
        f.write(text)
    print(text, end="")
    return 1 if fails else 0


def format_summary(s):
    c, pg = s["checker"], s["ping"]
    L = ["soak summary (%s, %d s%s%s)" % (s["started"], s["seconds"],
                                          ", GCRT_FAULT_MMAP=" + s["faults"] if s["faults"] else "",
                                          ", hostile clients" if s["hostile"] else "")]
    L.append("  requests served: %d (%.0f/s)" % (s["requests_served"], s["requests_served"] / max(s["seconds"], 1)))
    L.append("  PING: %s sent, %s missed; latency p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, worst %.2f ms" % (
        pg.get("pings"), pg.get("missed"), pg.get("p50_ms", 0), pg.get("p99_ms", 0), pg.get("p999_ms", 0),
        pg.get("max_ms", 0)))
    pc = s.get("ping_control")
    if pc:
        L.append("  PING to an idle second server beside it (the machine's own share): %s missed; p50 %.2f ms, "
                 "p99 %.2f ms, worst %.2f ms" % (pc.get("missed"), pc.get("p50_ms", 0), pc.get("p99_ms", 0),
                                                 pc.get("max_ms", 0)))
    L.append("  checker: %s writes and %s deletes acknowledged; %s reads verified during, %s at the end; "
             "%s evicted, %s expired, %s ambiguous (excluded), %s -OOM" % (
                 c.get("acked_writes"), c.get("acked_deletes"), c.get("verified"), c.get("verified_final"),
                 c.get("evicted"), c.get("expired"), c.get("ambiguous"), c.get("oom")))
    L.append("  checker batches: %s, round trip p50 %.1f ms, p99 %.1f ms, worst %.1f ms" % (
        c.get("batches"), c.get("checker_batch_p50_ms", 0), c.get("checker_batch_p99_ms", 0),
        c.get("checker_batch_max_ms", 0)))
    worst = max([b["max_ms"] for b in s["load"]["bench"].values()] or [0])
    p99 = max([b["p99_ms"] for b in s["load"]["bench"].values()] or [0])
    L.append("  redis-benchmark: %d runs (%d failed, %d stopped by -OOM, %d cut at the end); worst run p99 %.1f ms, "
             "worst request %.1f ms" % (s["load"]["runs"], s["load"]["failed"], s["load"]["stopped_by_oom"],
                                        s["load"]["cut_at_deadline"], p99, worst))
    for k, b in s["load"]["bench"].items():
        L.append("    %-22s runs %3d  median %9.0f rps  p99 %7.1f ms  max %7.1f ms" % (
            k, b["runs"], b["rps_median"], b["p99_ms"], b["max_ms"]))
    pp = s["load"]["pipe"]
    L.append("  redis-cli --pipe: %d runs, %d replies, %d error replies" % (pp["runs"], pp["replies"], pp["errors"]))
    L.append("  memory: peak RSS %.1f MiB (VmHWM %.1f MiB), heap peak %.1f MiB (sampled each second %.1f), "
             "heap in use peak %.1f MiB, gcrt sys peak %.1f MiB; limit %.0f MiB" % (
                 s["peak_rss_mib"], s["vm_hwm_mib"], s["heap_peak_server_mib"], s["heap_peak_sampled_mib"],
                 s["heap_inuse_peak_mib"], s["gc_sys_peak_mib"], s["limit_mib"]))
    L.append("  gc: %d cycles, longest pause %.2f ms; evicted %d, expired %d keys" % (
        s["gc_cycles"], s["gc_pause_max_ms"], s["evicted_keys"], s["expired_keys"]))
    cpu = s.get("server_cpu") or {}
    if cpu:
        L.append("  server CPU: %.1f s user, %.1f s system (%.2f CPUs), %d minor page faults" % (
            cpu.get("user_s", 0), cpu.get("sys_s", 0), (cpu.get("user_s", 0) + cpu.get("sys_s", 0)) / max(s["seconds"], 1),
            cpu.get("minor_faults", 0)))
    if s["faults"]:
        L.append("  faults: %d mmap refusals injected, %d commands answered -OOM" % (
            s["injected_mmap_refusals"], s["oom_rejected_commands"]))
    h = s.get("hostile_clients")
    if h:
        L.append("  hostile clients: %s unexpected; %s" % (h.get("unexpected"), "; ".join(
            "%s %s" % (k, ",".join("%s=%d" % kv for kv in sorted(v.items()))) for k, v in sorted(h.get("cases", {}).items()))))
        for e in h.get("examples", [])[:5]:
            L.append("    " + e)
    L.append("  lost writes: %s" % s["lost_writes"])
    for e in c.get("examples", [])[:10]:
        L.append("    " + e)
    for m in s.get("miss_context", []):
        L.append("  PING missed at server time %.3f s; GC cycles within 1 s of it (gctrace; timeline.json has "
                 "their phases per thread):" % m["server_s"])
        L.extend("    " + l for l in m["cycles"][:12] or ["(none)"])
    if s["stacks"]:
        L.append("  server thread stacks: stacks.txt")
    if s.get("dump_window"):
        w = s["dump_window"]
        L.append("  the stack dump held the server stopped from server time %.3f to %.3f s (%.1f s): the other "
                 "roles' stalls and failures in that window are the dump's, not the server's" % (w[0], w[1], w[1] - w[0]))
    L.append("  result: %s" % ("FAIL: " + "; ".join(s["failures"]) if s["failures"] else "PASS"))
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--server", required=True)
    r.add_argument("--seconds", type=float, default=600)
    r.add_argument("--out", required=True)
    r.add_argument("--faults", default="")
    r.add_argument("--no-hostile", dest="hostile", action="store_false")
    r.add_argument("--scale", type=float, default=1.0, help="load per benchmark run (the quick soak: less)")
    r.add_argument("--asan", action="store_true")
    r.add_argument("--load-nice", type=int, default=0,
                   help="run redis-benchmark and redis-cli at this nice value (an experiment: how much of the "
                        "latency is the clients' CPU)")
    r.add_argument("--no-control", dest="control", action="store_false",
                   help="no idle second server probed for comparison")
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--keys", type=int, default=20000)
    r.add_argument("--batch", type=int, default=60)
    r.add_argument("--dumpstacks", default="")
    for name in ("checker", "pinger", "sampler", "hostile"):
        p = sub.add_parser(name)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--seconds", type=float, required=True)
        p.add_argument("--out", required=True)
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--keys", type=int, default=20000)
        p.add_argument("--batch", type=int, default=60)
        p.add_argument("--big", action="store_true")
        p.add_argument("--server-pid", type=int, default=0)
        p.add_argument("--dumpstacks", default="")
        p.add_argument("--stacks", default="")
        p.add_argument("--pid", type=int, default=0)
        p.add_argument("--csv", default="")
    a = ap.parse_args()
    if a.cmd == "run":
        a.out = os.path.abspath(a.out)
        a.server = os.path.abspath(a.server)
        sys.exit(run(a))
    faulthandler.register(signal.SIGUSR1, all_threads=True)   # soak's end_stall asks where a late role is
    {"checker": checker, "pinger": pinger, "sampler": sampler, "hostile": hostile}[a.cmd](a)


if __name__ == "__main__":
    main()
