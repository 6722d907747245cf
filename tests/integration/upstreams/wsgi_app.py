# wsgi_app.py: the WSGI upstream of mpmd's reverse-proxy tests, served by
# gunicorn (python3-gunicorn; started by tests/integration/upstreams.py as
#   /usr/bin/python3 -m gunicorn --chdir <this dir> wsgi_app:app ...).
#
# Every answer carries "X-Upstream: gunicorn" so a test can tell the
# upstream's answers from mpmd's own.  Endpoints:
#   /echo            JSON: method, path, raw_uri, query, every HTTP_* header,
#                    CONTENT_LENGTH, CONTENT_TYPE, the body's length and sha256
#   /upload          reads wsgi.input to its end (Content-Length or chunked),
#                    JSON: length, sha256, CONTENT_LENGTH, HTTP_TRANSFER_ENCODING
#   /big?n=BYTES     N bytes of the pattern of common.py, streamed by a
#                    generator without Content-Length (gunicorn: chunked)
#   /bigcl?n=BYTES   the same with Content-Length
#   /slow?s=SECONDS  sleeps, then answers "slept"
#   /status?code=N   answers status N
#   /redirect        302 to http://127.0.0.1:<our port>/target (the port
#                    from $MPMD_UPSTREAM_PORT), for ProxyPassReverse
#   /target          "target"
#   /bighead?n=BYTES a header X-Big of N bytes
#   anything else    404 "no such endpoint"
# A path may start with /via/NAME/: those two segments are dropped (and
# NAME reported as "via" by /echo), so that several ProxyPass lines can
# name distinct upstream URLs on one gunicorn (Apache shares one worker,
# and its parameters, among ProxyPass lines with the same URL).
# Stdlib only, so the same file runs under any python3.

import hashlib
import json
import os
import time

from common import pattern_chunks, query_float, query_int

REASONS = {200: "OK", 201: "Created", 204: "No Content", 302: "Found", 304: "Not Modified",
           400: "Bad Request", 403: "Forbidden", 404: "Not Found", 418: "I'm a teapot",
           500: "Internal Server Error", 503: "Service Unavailable"}


def status_line(code):
    return "%d %s" % (code, REASONS.get(code, "Status %d" % code))


def read_body(environ):
    """(length, sha256 hex) of the request body, read in pieces to its end."""
    h = hashlib.sha256()
    n = 0
    stream = environ["wsgi.input"]
    while True:
        data = stream.read(65536)
        if not data:
            break
        n += len(data)
        h.update(data)
    return n, h.hexdigest()


def json_answer(start_response, obj, code=200, extra=()):
    body = json.dumps(obj, sort_keys=True).encode()
    start_response(status_line(code), [("Content-Type", "application/json"),
                                       ("Content-Length", str(len(body))),
                                       ("X-Upstream", "gunicorn")] + list(extra))
    return [body]


def text_answer(start_response, text, code=200, extra=()):
    body = text.encode() if isinstance(text, str) else text
    start_response(status_line(code), [("Content-Type", "text/plain"),
                                       ("Content-Length", str(len(body))),
                                       ("X-Upstream", "gunicorn")] + list(extra))
    return [body]


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    via = None
    if path.startswith("/via/"):
        parts = path.split("/", 3)          # "", "via", NAME, the rest
        via = parts[2]
        path = "/" + (parts[3] if len(parts) > 3 else "")
    query = environ.get("QUERY_STRING", "")
    if path == "/echo":
        n, digest = read_body(environ)
        return json_answer(start_response, {
            "method": environ["REQUEST_METHOD"],
            "path": path,
            "via": via,
            "raw_uri": environ.get("RAW_URI"),
            "query": query,
            "headers": {k: v for k, v in environ.items() if k.startswith("HTTP_")},
            "CONTENT_LENGTH": environ.get("CONTENT_LENGTH"),
            "CONTENT_TYPE": environ.get("CONTENT_TYPE"),
            "body_len": n,
            "body_sha256": digest,
        })
    if path == "/upload":
        n, digest = read_body(environ)
        return json_answer(start_response, {
            "method": environ["REQUEST_METHOD"],
            "length": n, "sha256": digest,
            "CONTENT_LENGTH": environ.get("CONTENT_LENGTH"),
            "HTTP_TRANSFER_ENCODING": environ.get("HTTP_TRANSFER_ENCODING"),
        })
    if path in ("/big", "/bigcl"):
        n = query_int(query, "n", 0)
        headers = [("Content-Type", "application/octet-stream"), ("X-Upstream", "gunicorn")]
        if path == "/bigcl":
            headers.append(("Content-Length", str(n)))
        start_response("200 OK", headers)
        return pattern_chunks(n)
    if path == "/slow":
        time.sleep(min(query_float(query, "s", 1.0), 120.0))
        return text_answer(start_response, "slept\n")
    if path == "/status":
        code = query_int(query, "code", 200, 200, 599)
        return text_answer(start_response, "status %d\n" % code, code)
    if path == "/redirect":
        port = os.environ.get("MPMD_UPSTREAM_PORT", "80")
        return text_answer(start_response, "moved\n", 302,
                           [("Location", "http://127.0.0.1:%s/target" % port)])
    if path == "/target":
        return text_answer(start_response, "target\n")
    if path == "/bighead":
        n = query_int(query, "n", 100, 1, 1 << 20)
        return text_answer(start_response, "big header of %d bytes\n" % n, 200,
                           [("X-Big", "b" * n)])
    return text_answer(start_response, "no such endpoint: %s\n" % path, 404)
