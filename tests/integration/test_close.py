#!/usr/bin/env python3
# test_close.py: how mpmd ends connections and answers requests whose body
# it does not need (TAP on stdout).  RFC 9112 9.6 (a server that closes
# while the client may still be sending must not let a reset destroy the
# responses it wrote) and RFC 9110 10.1.1 (answer from the head, no
# 100 Continue), as in issue 10:
#   - pipelining past MaxKeepAliveRequests (100 and 1000, MPM event and
#     worker): every response arrives, the last says Connection: close,
#     the connection ends with FIN, never ECONNRESET;
#   - an error answer while the body keeps arriving (413 for a
#     Content-Length over LimitRequestBody, 400 for a head with both
#     Content-Length and Transfer-Encoding, 405 for a chunked body with a
#     malformed chunk): the client, still streaming 2 MB, reads it whole;
#   - a large declared body to a static file: the 405 arrives before any
#     body byte, no 100 Continue, then the documented rule (small known
#     body: dropped, connection kept; otherwise Connection: close);
#   - KeepAlive Off and keep-alive timeouts end with FIN too; a lingering
#     connection holds no handler thread (MPM worker, one thread);
#   - a graceful stop (WINCH) while clients pipeline: every response the
#     server logged as written is received, and no connection is reset;
#   - h2load --h1 -m 10 and autocannon -p 10 past MaxKeepAliveRequests:
#     no request lost beyond what the tool itself abandons.
# Timing: only upper bounds, never lower bounds.
# Run by hand:  MPMD=src/mpmd python3 tests/integration/test_close.py

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

from mpmdtest import INDEX_HTML, Server, run_tests, wait_until

GET_INDEX = b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
IO_TIMEOUT = 10.0
STREAM_BYTES = 2 * 1024 * 1024


def connect(s, timeout=IO_TIMEOUT):
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def read_to_end(sock):
    """Read until the server closes.  Returns (bytes, how): how is "fin",
    "reset" or "timeout"."""
    data = []
    try:
        while True:
            chunk = sock.recv(262144)
            if not chunk:
                return b"".join(data), "fin"
            data.append(chunk)
    except ConnectionResetError:
        return b"".join(data), "reset"
    except socket.timeout:
        return b"".join(data), "timeout"


RESPONSE_HEAD = re.compile(rb"HTTP/1\.1 (\d{3}) [^\r\n]*\r\n((?:[^\r\n]+\r\n)*)\r\n")


def split_responses(data):
    """Parse back-to-back responses with Content-Length bodies.  Returns
    ([(status, {lower-case name: value})], bytes left over)."""
    out = []
    pos = 0
    while True:
        m = RESPONSE_HEAD.match(data, pos)
        if not m:
            return out, data[pos:]
        headers = {}
        for line in m.group(2).split(b"\r\n")[:-1]:
            k, v = line.split(b":", 1)
            headers[k.strip().lower().decode()] = v.strip().decode()
        end = m.end() + int(headers.get("content-length", "0"))
        if end > len(data):
            return out, data[pos:]
        out.append((int(m.group(1)), headers))
        pos = end


def streamer(sock, total, result):
    """Send TOTAL bytes of body in 64 KiB writes; note how it ended."""
    chunk = b"x" * 65536
    sent = 0
    try:
        while sent < total:
            n = min(len(chunk), total - sent)
            sock.sendall(chunk[:n])
            sent += n
        result["how"] = "sent"
    except (BrokenPipeError, ConnectionResetError) as e:
        result["how"] = type(e).__name__
    except OSError as e:
        result["how"] = "OSError %s" % e
    result["sent"] = sent

# ------------------------------------------------------------ pipelining past the limit


def pipelined_past_limit(t, s, label, limit):
    """The reporter's client: LIMIT pipelined GETs, 300 ms pause, 10 more,
    then read everything."""
    sock = connect(s)
    try:
        sock.sendall(GET_INDEX * limit)
        time.sleep(0.3)
        try:
            sock.sendall(GET_INDEX * 10)
            late = "sent"
        except OSError as e:
            late = type(e).__name__
        data, how = read_to_end(sock)
    finally:
        sock.close()
    resps, rest = split_responses(data)
    t.eq(len(resps), limit, "%s: all %d pipelined responses arrive" % (label, limit))
    t.ok(all(st == 200 for st, _ in resps), "%s: every response is 200" % label,
         diag=sorted(set(st for st, _ in resps)))
    t.eq(resps[-1][1].get("connection") if resps else None, "close",
         "%s: the last response says Connection: close" % label)
    t.ok(all(h.get("connection") != "close" for _, h in resps[:-1]),
         "%s: no earlier response says close" % label)
    t.eq((how, rest), ("fin", b""), "%s: the connection ends with FIN, nothing after the "
         "last response (the 10 late requests: %s)" % (label, late))

# ------------------------------------------------------------ errors while a body arrives


def error_while_streaming(t, s, label, head, want_status, total=STREAM_BYTES):
    """Send HEAD, then stream TOTAL body bytes from a thread while reading
    the answer on this one: the client must read the whole answer and a
    FIN, never a reset."""
    sock = connect(s)
    result = {}
    try:
        sock.sendall(head)
        th = threading.Thread(target=streamer, args=(sock, total, result), daemon=True)
        th.start()
        data, how = read_to_end(sock)
        th.join(IO_TIMEOUT)
    finally:
        sock.close()
    resps, rest = split_responses(data)
    t.eq([st for st, _ in resps], [want_status], "%s: exactly one %d arrives whole"
         % (label, want_status))
    t.eq(resps[0][1].get("connection") if resps else None, "close",
         "%s: it says Connection: close" % label)
    t.eq((how, rest), ("fin", b""), "%s: then FIN, no reset (streamer: %s after %s bytes)"
         % (label, result.get("how"), result.get("sent")))


def error_after_streaming(t, s, label, head, want_status, total=STREAM_BYTES):
    """A client that writes the whole body first and only then reads."""
    sock = connect(s)
    result = {}
    try:
        sock.sendall(head)
        streamer(sock, total, result)
        data, how = read_to_end(sock)
    finally:
        sock.close()
    resps, rest = split_responses(data)
    t.eq([st for st, _ in resps], [want_status], "%s: the %d is read after sending %d bytes"
         % (label, want_status, total))
    t.eq((result.get("how"), how, rest), ("sent", "fin", b""),
         "%s: every body byte accepted, then FIN" % label)


def errors_with_bodies(t, s, tag):
    error_while_streaming(
        t, s, "%s 413, Content-Length over LimitRequestBody, 2 MB streamed" % tag,
        b"POST /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 20000000\r\n\r\n", 413)
    error_after_streaming(
        t, s, "%s 413, body written before reading" % tag,
        b"PUT /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 20000000\r\n\r\n", 413)
    error_while_streaming(
        t, s, "%s 400, Content-Length with Transfer-Encoding, 2 MB streamed" % tag,
        b"POST /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000000\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n", 400)
    # The static handler answers from the head, so the malformed chunk is
    # only met while the body is dropped after the answer: the answer is
    # the 405, and it must survive the broken body behind it.
    error_while_streaming(
        t, s, "%s 405, chunked body with a malformed chunk mid-body" % tag,
        b"POST /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"10\r\n0123456789abcdef\r\nZZ-not-hex\r\n", 405, total=STREAM_BYTES)

# ------------------------------------------------------------ answering from the head


def read_one(sock):
    """Read exactly one response (Content-Length framed) from SOCK."""
    buf = b""
    while True:
        resps, rest = split_responses(buf)
        if resps:
            return resps[0], buf, rest
        chunk = sock.recv(65536)
        if not chunk:
            return None, buf, b""
        buf += chunk


def answer_from_head(t, s, tag):
    label = "%s POST 500000-byte body, none sent" % tag
    with connect(s, timeout=5) as sock:
        sock.sendall(b"POST /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Length: 500000\r\n\r\n")
        (status, hdrs), raw, _ = read_one(sock)
        t.eq(status, 405, "%s: 405 before any body byte" % label)
        t.eq(hdrs.get("connection"), "close", "%s: Connection: close (large body)" % label)
        t.eq(hdrs.get("allow"), "GET, HEAD, OPTIONS", "%s: Allow" % label)
        sock.sendall(b"y" * 500000)
        data, how = read_to_end(sock)
        t.eq((how, data), ("fin", b""), "%s: body dropped, then FIN" % label)

    label = "%s POST with Expect: 100-continue" % tag
    with connect(s, timeout=5) as sock:
        sock.sendall(b"POST /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        (status, hdrs), raw, _ = read_one(sock)
        t.ok(not raw.startswith(b"HTTP/1.1 100"), "%s: no 100 Continue" % label,
             diag=raw[:100])
        t.eq(status, 405, "%s: the final status at once" % label)
        t.eq(hdrs.get("connection"), "close",
             "%s: Connection: close (the client may or may not send the body)" % label)
        data, how = read_to_end(sock)
        t.eq((how, data), ("fin", b""), "%s: FIN without a body sent" % label)

    label = "%s POST small body sent after the answer" % tag
    with connect(s, timeout=5) as sock:
        sock.sendall(b"POST /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3000\r\n"
                     b"\r\n")
        (status, hdrs), raw, _ = read_one(sock)
        t.eq(status, 405, "%s: 405 before the body" % label)
        t.eq(hdrs.get("connection"), None, "%s: connection kept (3000 bytes to drop)" % label)
        sock.sendall(b"z" * 3000 + GET_INDEX)
        (status, hdrs), raw, rest = read_one(sock)
        t.eq(status, 200, "%s: the next request on it is served" % label)
        t.ok(raw.endswith(INDEX_HTML) and rest == b"", "%s: with the right body" % label)

    label = "%s POST small body pipelined with a GET" % tag
    with connect(s, timeout=5) as sock:
        sock.sendall(b"POST /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\n"
                     b"hello" + GET_INDEX + b"PUT /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Length: 2\r\nConnection: close\r\n\r\nhi")
        data, how = read_to_end(sock)
        resps, rest = split_responses(data)
        t.eq([st for st, _ in resps], [405, 200, 405], "%s: 405, 200, 405" % label)
        t.eq((how, rest), ("fin", b""), "%s: FIN after the last" % label)

    label = "%s CONNECT with a body" % tag
    with connect(s, timeout=5) as sock:
        # After CONNECT the bytes may be tunnel data: never a next request.
        sock.sendall(b"CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(GET_INDEX) + GET_INDEX)
        data, how = read_to_end(sock)
        resps, rest = split_responses(data)
        t.ok(len(resps) == 1, "%s: one answer, the bytes after it not served as a request"
             % label, diag=[st for st, _ in resps])
        t.eq((resps[0][1].get("connection") if resps else None, how, rest),
             ("close", "fin", b""), "%s: Connection: close, then FIN" % label)

    label = "%s chunked POST" % tag
    with connect(s, timeout=5) as sock:
        sock.sendall(b"POST /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        (status, hdrs), raw, _ = read_one(sock)
        t.eq((status, hdrs.get("connection")), (405, "close"),
             "%s: 405 with Connection: close (unknown length)" % label)
        sock.sendall(b"5\r\nhello\r\n0\r\n\r\n")
        data, how = read_to_end(sock)
        t.eq((how, data), ("fin", b""), "%s: FIN" % label)

# ------------------------------------------------------------ other closes


def keepalive_off(t, tag, mpm):
    with Server(mpm=mpm, tap=t, conf_extra="KeepAlive Off") as s:
        sock = connect(s)
        try:
            sock.sendall(GET_INDEX * 50)
            time.sleep(0.2)
            sock.sendall(GET_INDEX * 50)
            data, how = read_to_end(sock)
        finally:
            sock.close()
        resps, rest = split_responses(data)
        t.eq([(st, h.get("connection")) for st, h in resps], [(200, "close")],
             "%s KeepAlive Off, 100 pipelined: one answer, Connection: close" % tag)
        t.eq((how, rest), ("fin", b""), "%s KeepAlive Off: FIN, no reset" % tag)


def keepalive_timeout(t, s, tag):
    sock = connect(s)
    try:
        sock.sendall(GET_INDEX)
        (status, _), _, _ = read_one(sock)
        data, how = read_to_end(sock)  # KeepAliveTimeout 1, then lingering close
        t.eq((status, how, data), (200, "fin", b""),
             "%s KeepAliveTimeout: the idle connection ends with FIN" % tag)
    finally:
        sock.close()


def client_closes_first(t, s, tag):
    """A close the client started closes at once: the server does not hold
    the connection after the client's FIN."""
    sock = connect(s)
    try:
        sock.sendall(GET_INDEX.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        sock.shutdown(socket.SHUT_WR)
        data, how = read_to_end(sock)
        resps, _ = split_responses(data)
        t.eq(([st for st, _ in resps], how), ([200], "fin"),
             "%s client half-closes after its request: 200, FIN" % tag)
    finally:
        sock.close()


def linger_holds_no_thread(t):
    """MPM worker with one handler thread: a connection lingering (its
    client still sending a byte every 0.2 s, which keeps the lingering
    close going) must not keep the next client waiting."""
    with Server(mpm="worker", tap=t, threads=1, start_servers=1, server_limit=1,
                conf_extra="KeepAlive Off") as s:
        first = connect(s)
        stop = threading.Event()

        def trickle():
            while not stop.wait(0.2):
                try:
                    first.sendall(b"x")
                except OSError:
                    return
        try:
            first.sendall(GET_INDEX)
            (status, hdrs), _, _ = read_one(first)
            t.eq((status, hdrs.get("connection")), (200, "close"),
                 "worker 1 thread: first client answered, Connection: close")
            th = threading.Thread(target=trickle, daemon=True)
            th.start()
            try:
                second = connect(s)
                try:
                    second.sendall(GET_INDEX)
                    got, _, _ = read_one(second)
                    t.eq(got[0] if got else None, 200,
                         "worker 1 thread: a second client is served while the first lingers")
                finally:
                    second.close()
            finally:
                stop.set()
                th.join(5)
            data, how = read_to_end(first)
            t.eq((how, data), ("fin", b""), "worker 1 thread: the lingering client gets FIN")
        finally:
            first.close()


# ------------------------------------------------------------ graceful stop


def graceful_stop_while_pipelining(t, mpm):
    tag = "%s WINCH while pipelining" % mpm
    clients = 8
    with Server(mpm=mpm, tap=t, conf_extra="MaxKeepAliveRequests 0") as s:
        results = [None] * clients
        started = threading.Barrier(clients + 1)

        def client(i):
            sock = connect(s)
            got = []
            buf = b""
            how = None
            deadline = time.monotonic() + 20
            try:
                started.wait(IO_TIMEOUT)
                while how is None and time.monotonic() < deadline:
                    sock.sendall(GET_INDEX * 20)
                    want = len(got) + 20
                    while len(got) < want:
                        resps, buf = split_responses(buf)
                        got.extend(resps)
                        if got and got[-1][1].get("connection") == "close":
                            break
                        if len(got) >= want:
                            break
                        chunk = sock.recv(262144)
                        if not chunk:
                            how = "eof before Connection: close"
                            break
                        buf += chunk
                    if got and got[-1][1].get("connection") == "close":
                        break
                if how is None:
                    data, how = read_to_end(sock)
                    resps, buf = split_responses(buf + data)
                    got.extend(resps)
            except ConnectionResetError:
                how = "reset"
            except OSError as e:
                how = "error %r" % e
            finally:
                sock.close()
            results[i] = (got, how, buf)

        threads = [threading.Thread(target=client, args=(i,), daemon=True)
                   for i in range(clients)]
        for th in threads:
            th.start()
        started.wait(IO_TIMEOUT)
        time.sleep(0.5)
        os.kill(s.pid, signal.SIGWINCH)
        for th in threads:
            th.join(30)
        try:
            status = s.proc.wait(30)
        except subprocess.TimeoutExpired:
            status = None
        t.ok(all(r is not None for r in results), "%s: every client finished" % tag)
        done = [r for r in results if r is not None]
        resets = [r[1] for r in done if r[1] != "fin"]
        t.eq(resets, [], "%s: every connection ended with FIN" % tag)
        t.ok(all(r[0] and r[0][-1][1].get("connection") == "close" for r in done),
             "%s: each connection's last response says Connection: close" % tag)
        received = sum(len(r[0]) for r in done)
        logged = s.access_text().count('"GET /index.html HTTP/1.1" 200')
        t.ok(received > 0, "%s: responses were received (%d)" % (tag, received))
        t.eq(received, logged, "%s: every response the server wrote (access log) was "
             "received" % tag)
        t.ok(status is not None, "%s: the server exited by itself (%r)" % (tag, status))

# ------------------------------------------------------------ h2load


def h2load_pipelining(t, s, tag, limit, clients=10, depth=10, n=20000):
    """h2load pipelining DEPTH requests on each of CLIENTS connections.
    h2load cannot re-send requests in flight when a response says
    Connection: close and counts them as errored (nginx gets the same
    count), so past the limit up to DEPTH - 1 per close may fail; with no
    limit none may.  A reset that destroys written responses adds more."""
    h2load = shutil.which("h2load")
    if not h2load:
        t.skip("%s h2load -m%d" % (tag, depth),
               "h2load not installed (Debian package nghttp2-client)")
        return
    p = subprocess.run([h2load, "--h1", "-c%d" % clients, "-m%d" % depth, "-n%d" % n,
                        "http://127.0.0.1:%d/index.html" % s.port],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    out = p.stdout.decode("utf-8", "replace")
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    if not t.ok(m is not None and codes is not None, "%s h2load ran" % tag, diag=out[-1500:]):
        return
    succeeded, failed, errored, timeout = (int(m.group(i)) for i in (4, 5, 6, 7))
    closes = clients * -(-(n // clients) // limit) if limit else 0
    bound = closes * (depth - 1)
    label = "%s h2load --h1 -c%d -m%d -n%d" % (tag, clients, depth, n)
    t.ok(failed == errored and timeout == 0 and errored <= bound,
         "%s: %d errored (at most %d: requests in flight at %d closes)"
         % (label, errored, bound, closes), diag=out[-1500:])
    t.eq((succeeded + failed, int(codes.group(1))), (n, succeeded),
         "%s: every request accounted for, every answer 2xx" % label)


def autocannon_pipelining(t, s, tag):
    """autocannon -p 10 (Node): it reports a reset that destroys written
    responses as errors (the build before issue 10 gave ~177 per run)."""
    autocannon = shutil.which("autocannon")
    if not autocannon:
        t.skip("%s autocannon -p10" % tag, "autocannon not installed (npm install -g autocannon)")
        return
    p = subprocess.run([autocannon, "-j", "-p", "10", "-c", "20", "-a", "20000",
                        "http://127.0.0.1:%d/index.html" % s.port],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    try:
        res = json.loads(p.stdout.decode("utf-8", "replace"))
    except ValueError:
        res = None
    if not t.ok(isinstance(res, dict), "%s autocannon ran" % tag,
                diag=(p.stdout + p.stderr)[-1500:]):
        return
    got = {k: res.get(k) for k in ("errors", "timeouts", "non2xx")}
    t.eq(got, {"errors": 0, "timeouts": 0, "non2xx": 0},
         "%s autocannon -p10 -c20 -a20000: no errors, timeouts or non-2xx" % tag)
    t.ok((res.get("2xx") or 0) > 0, "%s autocannon: %r answers 2xx" % (tag, res.get("2xx")))


# ------------------------------------------------------------ main


def main(t):
    for mpm in ("event", "worker"):
        for limit in (100, 1000):
            tag = "%s MaxKeepAliveRequests %d" % (mpm, limit)
            with t.guard(tag), Server(mpm=mpm, tap=t,
                                      conf_extra="MaxKeepAliveRequests %d" % limit) as s:
                pipelined_past_limit(t, s, tag, limit)
                h2load_pipelining(t, s, tag, limit)
                autocannon_pipelining(t, s, tag)
        with t.guard("%s no keep-alive limit" % mpm), Server(
                mpm=mpm, tap=t, conf_extra="MaxKeepAliveRequests 0") as s:
            h2load_pipelining(t, s, "%s MaxKeepAliveRequests 0" % mpm, 0)
    for mpm in ("event", "worker"):
        with t.guard("%s bodies" % mpm), Server(
                mpm=mpm, tap=t, conf_extra="LimitRequestBody 1000000\nKeepAliveTimeout 1") as s:
            errors_with_bodies(t, s, mpm)
            answer_from_head(t, s, mpm)
            keepalive_timeout(t, s, mpm)
            client_closes_first(t, s, mpm)
        with t.guard("%s KeepAlive Off" % mpm):
            keepalive_off(t, mpm, mpm)
    with t.guard("lingering holds no thread"):
        linger_holds_no_thread(t)
    for mpm in ("event", "worker"):
        with t.guard("%s graceful stop" % mpm):
            graceful_stop_while_pipelining(t, mpm)


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
