#!/usr/bin/python3
# env.py: the CGI environment as JSON, plus the length and sha256 of the
# request body read from stdin (CONTENT_LENGTH bytes, or to EOF without
# CONTENT_LENGTH).  The test rewrites the first line to a python3 it has.
import hashlib
import json
import os
import sys

length = os.environ.get("CONTENT_LENGTH")
h = hashlib.sha256()
n = 0
remaining = int(length) if length and length.isdigit() else None
while remaining is None or remaining > 0:
    want = 65536 if remaining is None else min(65536, remaining)
    data = sys.stdin.buffer.read(want)
    if not data:
        break
    n += len(data)
    h.update(data)
    if remaining is not None:
        remaining -= len(data)
out = {"env": dict(os.environ), "body_len": n, "body_sha256": h.hexdigest()}
body = json.dumps(out, sort_keys=True).encode()
sys.stdout.buffer.write(b"Content-Type: application/json\r\n\r\n" + body)
sys.stdout.buffer.flush()
