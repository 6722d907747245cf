# common.py: helpers shared by the upstream fixtures wsgi_app.py and
# asgi_app.py (imported from the fixture directory; stdlib only).
#
# The deterministic byte pattern the /big endpoints stream is also
# computed on the test side (tests/integration/upstreams.py: pattern_bytes
# and pattern_sha256 there must stay equal to the ones here).

import hashlib

# 65521 (a prime) bytes: a dropped, repeated or reordered 4 KiB..1 MiB
# chunk of the stream changes its sha256.
PATTERN_LEN = 65521
PATTERN = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(2048))[:PATTERN_LEN]


def pattern_chunks(n, chunk=65536):
    """The first N bytes of the endless repetition of PATTERN, in pieces of CHUNK bytes."""
    doubled = PATTERN * ((chunk // PATTERN_LEN) + 2)
    pos = 0
    while pos < n:
        size = min(chunk, n - pos)
        off = pos % PATTERN_LEN
        yield doubled[off:off + size]
        pos += size


def query_int(query, name, default, lo=0, hi=1 << 40):
    """Integer parameter NAME of a query string, clamped to [LO, HI]."""
    for part in query.split("&"):
        k, _, v = part.partition("=")
        if k == name:
            try:
                return max(lo, min(hi, int(v)))
            except ValueError:
                return default
    return default


def query_float(query, name, default):
    for part in query.split("&"):
        k, _, v = part.partition("=")
        if k == name:
            try:
                return float(v)
            except ValueError:
                return default
    return default
