# asgi_app.py: the ASGI upstream of mpmd's reverse-proxy and WebSocket
# tests, served by uvicorn (python3-uvicorn with python3-websockets;
# started by tests/integration/upstreams.py as
#   /usr/bin/python3 -m uvicorn --app-dir <this dir> asgi_app:app ...).
# Plain ASGI 3, no framework.  Every HTTP answer carries
# "X-Upstream: uvicorn".  Endpoints:
#   HTTP /echo         JSON like wsgi_app.py's /echo (headers as HTTP_* keys)
#   HTTP /sse          text/event-stream: 5 events "data: N\n\n" (N = 0..4),
#                      300 ms apart, each sent as its own body part
#   HTTP /big?n=BYTES  N bytes of the pattern of common.py, streamed
#   WebSocket /ws, /ws/...   echo: every text or binary message is sent back
#                      as it came; other paths are refused (403)
# A path may start with /via/NAME/: those two segments are dropped, as in
# wsgi_app.py (distinct upstream URLs for distinct ProxyPass workers).

import asyncio
import hashlib
import json

from common import pattern_chunks, query_int


def environ_headers(scope):
    """The request headers as WSGI-style HTTP_* keys (repeated ones joined with ',')."""
    out = {}
    for name, value in scope.get("headers", []):
        key = name.decode("latin-1").upper().replace("-", "_")
        val = value.decode("latin-1")
        if key in ("CONTENT_LENGTH", "CONTENT_TYPE"):
            out.setdefault("_" + key, val)
            continue
        key = "HTTP_" + key
        out[key] = out[key] + "," + val if key in out else val
    return out


async def read_body(receive):
    h = hashlib.sha256()
    n = 0
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            break
        data = msg.get("body", b"")
        n += len(data)
        h.update(data)
        if not msg.get("more_body"):
            break
    return n, h.hexdigest()


async def send_simple(send, status, body, ctype=b"text/plain"):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype),
                            (b"content-length", str(len(body)).encode()),
                            (b"x-upstream", b"uvicorn")]})
    await send({"type": "http.response.body", "body": body})


async def http(scope, receive, send):
    path = scope["path"]
    query = scope.get("query_string", b"").decode("latin-1")
    if path == "/echo":
        n, digest = await read_body(receive)
        hdrs = environ_headers(scope)
        body = json.dumps({
            "method": scope["method"], "path": path, "query": query,
            "headers": {k: v for k, v in hdrs.items() if k.startswith("HTTP_")},
            "CONTENT_LENGTH": hdrs.get("_CONTENT_LENGTH"),
            "CONTENT_TYPE": hdrs.get("_CONTENT_TYPE"),
            "body_len": n, "body_sha256": digest,
        }, sort_keys=True).encode()
        await send_simple(send, 200, body, b"application/json")
        return
    if path == "/sse":
        await read_body(receive)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream"),
                                (b"cache-control", b"no-cache"),
                                (b"x-upstream", b"uvicorn")]})
        for i in range(5):
            if i:
                await asyncio.sleep(0.3)
            await send({"type": "http.response.body", "body": b"data: %d\n\n" % i,
                        "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/big":
        await read_body(receive)
        n = query_int(query, "n", 0)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/octet-stream"),
                                (b"x-upstream", b"uvicorn")]})
        for chunk in pattern_chunks(n):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    await read_body(receive)
    await send_simple(send, 404, b"no such endpoint: " + path.encode() + b"\n")


async def websocket(scope, receive, send):
    path = scope["path"]
    msg = await receive()
    if msg["type"] != "websocket.connect":
        return
    if not (path == "/ws" or path.startswith("/ws/")):
        await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "websocket.accept"})
    while True:
        msg = await receive()
        if msg["type"] == "websocket.disconnect":
            return
        if msg["type"] != "websocket.receive":
            continue
        if msg.get("bytes") is not None:
            await send({"type": "websocket.send", "bytes": msg["bytes"]})
        else:
            await send({"type": "websocket.send", "text": msg.get("text") or ""})


def strip_via(scope):
    path = scope.get("path", "")
    if path.startswith("/via/"):
        parts = path.split("/", 3)          # "", "via", NAME, the rest
        scope = dict(scope, path="/" + (parts[3] if len(parts) > 3 else ""), via=parts[2])
    return scope


async def app(scope, receive, send):
    if scope["type"] in ("http", "websocket"):
        scope = strip_via(scope)
    if scope["type"] == "http":
        await http(scope, receive, send)
    elif scope["type"] == "websocket":
        await websocket(scope, receive, send)
    elif scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
