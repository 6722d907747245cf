#!/usr/bin/python3
# ws_client.py: WebSocket client for mpmd's tests; needs python3-websockets,
# so the tests run it as "/usr/bin/python3 ws_client.py MODE URL ...".
# Every result is one JSON object on its own stdout line.  Every wait is
# bounded (TIMEOUT seconds per operation).
#
#   echo URL COUNT        one connection; COUNT messages (text and binary
#                         alternating, 1 B .. 200 KB, up to 64 in flight),
#                         each echo compared in order:
#                         {"ok", "sent", "matched", "error", "seconds"}
#   idle URL COUNT        opens COUNT connections (64 handshakes at a time,
#                         none started after OPEN_DEADLINE seconds: those
#                         count as failed) and keeps them all open: {"phase": "open",
#                         "opened", "failed", "errors", "seconds"}; then
#                         waits for a line on stdin ("echo"), sends one
#                         message on every open connection and checks its
#                         echo: {"phase": "echo", "echoed", "failed",
#                         "errors"}; then closes them all and exits.
#   handshake URL         one opening handshake: {"ok", "status", "error"}

import asyncio
import json
import resource
import sys
import time

import websockets

TIMEOUT = 10.0
OPEN_DEADLINE = 30.0


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def raise_nofile(want=20000):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def connect(url):
    return websockets.connect(url, max_size=None, ping_interval=None, open_timeout=TIMEOUT,
                              close_timeout=2, compression=None)


def message(i):
    """Message I: text on even, binary on odd; mostly small, now and then big."""
    size = [1, 7, 125, 126, 1000, 65535, 65536, 200000][i % 8] if i % 97 == 0 else 1 + (i * 37) % 1500
    if i % 2 == 0:
        head = "msg-%d-" % i
        return (head + "x" * size)[:max(size, len(head))]
    seed = bytes([(i * 7 + k) & 0xFF for k in range(251)])
    return (seed * (size // 251 + 1))[:size]


async def echo(url, count):
    started = time.monotonic()
    sent = matched = 0
    try:
        async with connect(url) as ws:
            window = 64
            pending = []
            while matched < count:
                while sent < count and len(pending) < window:
                    m = message(sent)
                    await asyncio.wait_for(ws.send(m), TIMEOUT)
                    pending.append(m)
                    sent += 1
                got = await asyncio.wait_for(ws.recv(), TIMEOUT)
                want = pending.pop(0)
                if got != want:
                    raise ValueError("echo %d differs: sent %s %d bytes, got %s %d bytes"
                                     % (matched, type(want).__name__, len(want),
                                        type(got).__name__, len(got)))
                matched += 1
        error = None
    except Exception as e:  # noqa: BLE001 - reported to the test
        error = "%s: %s" % (type(e).__name__, e)
    out({"ok": error is None and matched == count, "sent": sent, "matched": matched,
         "error": error, "seconds": round(time.monotonic() - started, 3)})


async def idle(url, count):
    started = time.monotonic()
    deadline = started + OPEN_DEADLINE
    sem = asyncio.Semaphore(64)
    conns, errors = [], []

    async def open_one():
        async with sem:
            left = deadline - time.monotonic()
            if left <= 0:
                errors.append("not started within %d s" % OPEN_DEADLINE)
                return
            try:
                ws = await asyncio.wait_for(connect(url), min(TIMEOUT + 2, left))
                conns.append(ws)
            except Exception as e:  # noqa: BLE001
                errors.append("%s: %s" % (type(e).__name__, e))

    await asyncio.gather(*(open_one() for _ in range(count)))
    out({"phase": "open", "opened": len(conns), "failed": len(errors),
         "errors": sorted(set(errors))[:5], "seconds": round(time.monotonic() - started, 3)})
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.run_in_executor(None, sys.stdin.readline), 120)
    except asyncio.TimeoutError:
        pass

    async def echo_one(i, ws):
        m = "idle-%d" % i
        try:
            await asyncio.wait_for(ws.send(m), TIMEOUT)
            got = await asyncio.wait_for(ws.recv(), TIMEOUT)
            return got == m, None if got == m else "wrong echo %r" % (got,)
        except Exception as e:  # noqa: BLE001
            return False, "%s: %s" % (type(e).__name__, e)

    results = await asyncio.gather(*(echo_one(i, ws) for i, ws in enumerate(conns)))
    bad = [err for ok, err in results if not ok]
    out({"phase": "echo", "echoed": len(results) - len(bad), "failed": len(bad),
         "errors": sorted(set(bad))[:5]})

    async def close_one(ws):
        try:
            await asyncio.wait_for(ws.close(), 3)
        except Exception:  # noqa: BLE001
            pass
    await asyncio.gather(*(close_one(ws) for ws in conns))


async def handshake(url):
    try:
        async with connect(url) as ws:
            await asyncio.wait_for(ws.send("hi"), TIMEOUT)
            got = await asyncio.wait_for(ws.recv(), TIMEOUT)
        out({"ok": got == "hi", "status": 101, "error": None if got == "hi" else repr(got)})
    except websockets.exceptions.InvalidStatusCode as e:
        out({"ok": False, "status": e.status_code, "error": str(e)})
    except Exception as e:  # noqa: BLE001
        out({"ok": False, "status": None, "error": "%s: %s" % (type(e).__name__, e)})


def main(argv):
    raise_nofile()
    mode, url = argv[1], argv[2]
    if mode == "echo":
        asyncio.run(echo(url, int(argv[3])))
    elif mode == "idle":
        asyncio.run(idle(url, int(argv[3])))
    elif mode == "handshake":
        asyncio.run(handshake(url))
    else:
        sys.stderr.write("usage: ws_client.py echo|idle|handshake URL [COUNT]\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
