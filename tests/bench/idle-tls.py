#!/usr/bin/env python3
"""idle-tls.py - hold many idle TLS keep-alive connections; report the server's memory growth.

usage: idle-tls.py HOST:PORT [-n 10000] [--pid PID[,PID...]] [--label NAME]
                   [--path /index.html] [--sni NAME] [--cafile CA] [--tls13]
                   [--fresh 50] [--hold 5] [--time-limit 120] [--window 256]

The TLS twin of ../shared/bench/idle-conns.py (run by tests/bench/bench-tls.sh):
1. Measures the server's memory: VmRSS (and PSS) summed over --pid and all
   their descendants.
   Before that, --warm connections are opened at once and closed, so every
   server process has done TLS handshakes (OpenSSL's lazily made state).
   Measure a freshly started server: memory a server freed may stay in
   its heap, and a second run on it would show less growth.
2. Opens N TCP connections (--window in flight at a time), completes a full
   TLS handshake on each (no session resumption), sends one HTTP/1.1
   keep-alive GET and reads the whole response (Content-Length; TLS 1.3
   session tickets are read on the way), then leaves them idle.
3. While holding them: measures memory again, then makes --fresh requests one
   after another, each on a new TLS connection (Connection: close), and
   records their latency (handshake included).
4. Counts the idle connections the server closed meanwhile, sends a second
   request on a sample of 100 idle connections, closes everything and prints
   one line:
   label=L idle-tls target=... n=... opened=... rss_before_kb=... rss_holding_kb=...
   growth_kb=... per_conn_b=... protocol=... cipher=... resumed=...
Python 3 standard library only (ssl, selectors). Needs an fd limit above N
(it raises the soft limit up to the hard one). The whole run is bounded by
--time-limit. Exit status: 0 all N opened and every fresh request answered,
1 otherwise, 2 usage/setup error.
"""
import argparse, errno, os, random, resource, selectors, socket, ssl, statistics, sys, time


def log(msg):
    print(f"[idle-tls] {msg}", file=sys.stderr, flush=True)


def scan_procs():
    procs = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
            rp = s.rindex(")")
            procs[int(d)] = int(s[rp + 2:].split()[1])
        except (OSError, ValueError):
            pass
    return procs


def tree(pids):
    procs = scan_procs()
    sel = {p for p in pids if p in procs}
    grew = True
    while grew:
        grew = False
        for p, pp in procs.items():
            if pp in sel and p not in sel:
                sel.add(p)
                grew = True
    return sorted(sel)


def mem_kb(pids):
    rss = pss = 0
    ps = tree(pids)
    for p in ps:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return rss, pss, len(ps)


def parse_response(buf):
    """Length of the first complete response in buf, or None if incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    length = 0
    for line in buf[:end].split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        k = k.strip().lower()
        if k == b"content-length":
            length = int(v.strip())
        elif k == b"transfer-encoding":
            raise ValueError("chunked response not supported; use a static file")
    total = end + 4 + length
    return total if len(buf) >= total else None


class Conn:
    __slots__ = ("raw", "tls", "state", "buf", "sent")

    def __init__(self):
        self.raw = None     # the TCP socket until the TLS wrapper exists
        self.tls = None
        self.state = "new"
        self.buf = b""
        self.sent = 0

    def sock(self):
        return self.tls if self.tls is not None else self.raw

    def close(self):
        s = self.sock()
        if s is not None:
            try:
                s.close()
            except OSError:
                pass


def drive(conns, addr, ctx, sni, req, deadline, window):
    """Run conns (state 'new' or 'send') until each is 'idle' (response read) or 'failed'."""
    sel = selectors.DefaultSelector()
    todo = list(reversed(conns))
    active = 0

    def finish(c, state):
        nonlocal active
        try:
            sel.unregister(c.sock())
        except (KeyError, ValueError):
            pass
        if state == "failed":
            c.close()
        c.state = state
        active -= 1

    def want(c, ev):
        sel.modify(c.sock(), ev, c)

    def step(c):
        """Advance c as far as it goes without blocking."""
        while True:
            if c.state == "handshake":
                try:
                    c.tls.do_handshake()
                except ssl.SSLWantReadError:
                    return want(c, selectors.EVENT_READ)
                except ssl.SSLWantWriteError:
                    return want(c, selectors.EVENT_WRITE)
                c.state = "sending"
                c.sent = 0
            elif c.state == "sending":
                try:
                    c.sent += c.tls.send(req[c.sent:])
                except ssl.SSLWantReadError:
                    return want(c, selectors.EVENT_READ)
                except ssl.SSLWantWriteError:
                    return want(c, selectors.EVENT_WRITE)
                if c.sent < len(req):
                    continue
                c.state = "reading"
                c.buf = b""
            elif c.state == "reading":
                try:
                    data = c.tls.recv(65536)
                except ssl.SSLWantReadError:
                    return want(c, selectors.EVENT_READ)
                except ssl.SSLWantWriteError:
                    return want(c, selectors.EVENT_WRITE)
                if not data:
                    return finish(c, "failed")
                c.buf += data
                n = parse_response(c.buf)
                if n is not None:
                    ok = c.buf.startswith(b"HTTP/1.1 200")
                    c.buf = b""
                    return finish(c, "idle" if ok else "failed")
            else:
                return

    while (todo or active) and time.monotonic() < deadline:
        while todo and active < window:
            c = todo.pop()
            if c.state == "new":
                c.raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                c.raw.setblocking(False)
                c.raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                err = c.raw.connect_ex(addr)
                if err not in (0, errno.EINPROGRESS):
                    c.close()
                    c.state = "failed"
                    continue
                c.state = "connecting"
                sel.register(c.raw, selectors.EVENT_WRITE, c)
            else:  # 'send': a second request on an idle connection
                c.state = "sending"
                c.sent = 0
                sel.register(c.tls, selectors.EVENT_WRITE, c)
            active += 1
        for key, _ in sel.select(timeout=0.2):
            c = key.data
            try:
                if c.state == "connecting":
                    if c.raw.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        finish(c, "failed")
                        continue
                    sel.unregister(c.raw)
                    c.tls = ctx.wrap_socket(c.raw, server_hostname=sni, do_handshake_on_connect=False)
                    c.raw = None
                    sel.register(c.tls, selectors.EVENT_WRITE, c)
                    c.state = "handshake"
                step(c)
            except (OSError, ValueError):
                finish(c, "failed")
    for c in conns:
        if c.state not in ("idle", "failed"):
            try:
                sel.unregister(c.sock())
            except (KeyError, ValueError):
                pass
            c.state = "timeout"
    sel.close()


def fresh_request(addr, ctx, sni, req, timeout):
    t0 = time.monotonic()
    try:
        with socket.create_connection(addr, timeout=timeout) as raw:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with ctx.wrap_socket(raw, server_hostname=sni) as s:
                s.sendall(req)
                buf = b""
                while parse_response(buf) is None:
                    left = timeout - (time.monotonic() - t0)
                    if left <= 0:
                        return None
                    s.settimeout(left)
                    data = s.recv(65536)
                    if not data:
                        return None
                    buf += data
                if not buf.startswith(b"HTTP/1.1 200"):
                    return None
    except (OSError, ValueError):
        return None
    return (time.monotonic() - t0) * 1000.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("target", help="HOST:PORT of the TLS listener")
    ap.add_argument("-n", type=int, default=10000, help="idle connections to hold (default 10000)")
    ap.add_argument("--pid", default="", help="server PID(s), comma separated; descendants included")
    ap.add_argument("--label", default="")
    ap.add_argument("--path", default="/index.html")
    ap.add_argument("--sni", default=None, help="server name to send (default: none, as for an IP address)")
    ap.add_argument("--cafile", default=None, help="verify the chain against this CA (default: no verification)")
    ap.add_argument("--tls13", action="store_true", help="offer TLS 1.3 only")
    ap.add_argument("--fresh", type=int, default=50, help="fresh TLS requests while holding (default 50)")
    ap.add_argument("--fresh-timeout", type=float, default=2.0)
    ap.add_argument("--hold", type=float, default=5.0, help="hold at least this long after opening (default 5 s)")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds between opening and measuring")
    ap.add_argument("--warm", type=int, default=64,
                    help="TLS connections opened at once and closed before the first measurement, so "
                         "every server process has done handshakes (default 64)")
    ap.add_argument("--window", type=int, default=256, help="connections in flight while opening")
    ap.add_argument("--time-limit", type=float, default=120.0, help="whole run, seconds (default 120)")
    a = ap.parse_args()

    t_start = time.monotonic()
    T = a.time_limit
    host, _, port = a.target.rpartition(":")
    if not host or not port.isdigit():
        ap.error("target must be HOST:PORT")
    addr = (host, int(port))
    pids = [int(p) for p in a.pid.split(",") if p.strip()]
    if not pids:
        log("warning: no --pid given, memory will not be reported")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = a.n + 100
    want = need if hard == resource.RLIM_INFINITY else min(need, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < need:
        log(f"warning: fd hard limit {hard} < {need}; holding only {hard - 100} connections")
        a.n = hard - 100

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if a.cafile:
        ctx.load_verify_locations(cafile=a.cafile)
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if a.tls13:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_alpn_protocols(["http/1.1"])
    # Every connection a full handshake: the client keeps no sessions (python
    # resumes only when given session=), so nothing more is needed.

    hosthdr = a.sni or a.target
    keep_req = f"GET {a.path} HTTP/1.1\r\nHost: {hosthdr}\r\nUser-Agent: idle-tls\r\n\r\n".encode()
    close_req = (f"GET {a.path} HTTP/1.1\r\nHost: {hosthdr}\r\nUser-Agent: idle-tls\r\n"
                 "Connection: close\r\n\r\n").encode()

    # What the connections negotiate (one probe, not counted).
    proto = cipher = "-"
    try:
        with socket.create_connection(addr, timeout=5) as raw, \
                ctx.wrap_socket(raw, server_hostname=a.sni) as s:
            proto, cipher = s.version(), s.cipher()[0]
    except (OSError, ValueError) as e:
        log(f"ERROR: no TLS handshake with {a.target}: {e}")
        return 2
    if fresh_request(addr, ctx, a.sni, close_req, 5.0) is None:
        log(f"ERROR: server at {a.target} does not answer GET {a.path} over TLS with 200")
        return 2

    if a.warm > 0:
        warm = [Conn() for _ in range(a.warm)]
        drive(warm, addr, ctx, a.sni, close_req, time.monotonic() + 10.0, a.warm)
        for c in warm:
            c.close()
        time.sleep(0.5)

    rss0, pss0, np0 = mem_kb(pids)
    log(f"before: {np0} procs rss={rss0} kB pss={pss0} kB; opening {a.n} TLS connections ({proto} {cipher})")

    conns = [Conn() for _ in range(a.n)]
    t1 = time.monotonic()
    drive(conns, addr, ctx, a.sni, keep_req, t_start + 0.6 * T, a.window)
    open_s = time.monotonic() - t1
    idle = [c for c in conns if c.state == "idle"]
    pending = sum(1 for c in conns if c.state == "timeout")
    failed = sum(1 for c in conns if c.state == "failed")
    resumed = sum(1 for c in idle if c.tls.session_reused)
    log(f"opened {len(idle)}/{a.n} in {open_s:.1f}s (no response yet: {pending}, failed: {failed}, resumed: {resumed})")

    time.sleep(a.settle)
    rss1, pss1, np1 = mem_kb(pids)
    log(f"holding: {np1} procs rss={rss1} kB pss={pss1} kB")

    lat = []
    attempted = 0
    fresh_deadline = t_start + 0.8 * T
    for _ in range(a.fresh):
        if time.monotonic() + 0.05 > fresh_deadline:
            break
        attempted += 1
        r = fresh_request(addr, ctx, a.sni, close_req,
                          min(a.fresh_timeout, max(0.05, fresh_deadline - time.monotonic())))
        if r is not None:
            lat.append(r)
    log(f"fresh: {len(lat)}/{a.fresh} answered ({attempted} attempted)")

    t_hold_end = min(t1 + open_s + a.hold, t_start + 0.85 * T)
    if time.monotonic() < t_hold_end:
        time.sleep(t_hold_end - time.monotonic())

    # Closed by the server meanwhile: readable, and the read says EOF/error
    # (a post-handshake message alone would read as "want read").
    sel = selectors.DefaultSelector()
    for c in idle:
        sel.register(c.tls, selectors.EVENT_READ, c)
    closed = 0
    for key, _ in sel.select(timeout=0):
        c = key.data
        try:
            c.tls.setblocking(False)
            if c.tls.recv(1) == b"":
                closed += 1
                c.state = "closed"
        except ssl.SSLWantReadError:
            pass
        except (OSError, ValueError):
            closed += 1
            c.state = "closed"
    sel.close()
    alive = [c for c in idle if c.state == "idle"]

    sample = random.sample(alive, min(100, len(alive)))
    for c in sample:
        c.state = "send"
    drive(sample, addr, ctx, a.sni, keep_req, min(time.monotonic() + 5.0, t_start + 0.98 * T), a.window)
    reused_ok = sum(1 for c in sample if c.state == "idle")

    for c in conns:
        c.close()
    total_s = time.monotonic() - t_start

    growth = rss1 - rss0
    per = growth * 1024 / len(idle) if idle else float("nan")
    med = f"{statistics.median(lat):.3f}" if lat else "nan"
    p99 = f"{sorted(lat)[max(0, int(len(lat) * 0.99) - 1)]:.3f}" if lat else "nan"
    lab = f"label={a.label} " if a.label else ""
    print(f"{lab}idle-tls target={a.target} n={a.n} opened={len(idle)} open_s={open_s:.1f} "
          f"unanswered={pending} failed={failed} resumed={resumed} protocol={proto} cipher={cipher} "
          f"alive_after_fresh={len(alive)} reuse_ok={reused_ok}/{len(sample)} "
          f"fresh_ok={len(lat)}/{a.fresh} fresh_median_ms={med} fresh_p99_ms={p99} "
          f"procs_before={np0} rss_before_kb={rss0} pss_before_kb={pss0} "
          f"procs_holding={np1} rss_holding_kb={rss1} pss_holding_kb={pss1} "
          f"growth_kb={growth} per_conn_b={per:.0f} total_s={total_s:.1f}", flush=True)
    return 0 if (len(idle) == a.n and len(lat) == a.fresh) else 1


if __name__ == "__main__":
    sys.exit(main())
