#!/usr/bin/env python3
# check_layering.py: the include rules between mpmd's layers (TAP on stdout).
#
# The sources are grouped in layers, one directory each (docs/architecture.md,
# "Handlers and layers"):
#   core     process-independent services: configuration, logs, systemd
#   mpm      processes and threads: supervisor, children, listener, pool
#   http     connections, request parsing, replies, the handler API
#   modules  handlers and what they use (static files, file cache, ...)
# Rules, checked on every #include "mpmd/LAYER/..." of every source:
#   - modules include core, the handler API (handler.h, reply.h, http.h, route.h,
#     response.h) and other modules; never mpm, never conn.h;
#   - http includes no module; of mpm, only conn.c may include child.h
#     (its connection environment, until that becomes its own struct);
#   - core includes only core; main.c (the program) may include anything.
# A file outside the layer directories fails too, so a new file must be placed.
# Run by hand:  MPMD_SRCDIR=. python3 tests/layering/check_layering.py

import os
import re
import sys

# A file's layer is its directory: src/LAYER/x.c, include/mpmd/LAYER/x.h;
# src/main.c is the program.
LAYER_NAMES = ("core", "mpm", "http", "modules")
HANDLER_API = {"handler", "reply", "http", "response", "route"}   # http headers modules may use
# conn.c reaches its child through child.h, and struct conn starts with
# the work queue's link (workq.h); both go when the connection gets an
# environment struct of its own.
EXCEPTIONS = {("conn", "child"), ("conn", "workq")}
ALLOWED = {
    "program": {"program", "core", "mpm", "http", "modules"},
    "core": {"core"},
    "mpm": {"core", "mpm", "http", "modules"},
    "http": {"core", "http"},
    "modules": {"core", "modules"},
}

SRCDIR = os.environ.get("MPMD_SRCDIR") or os.path.join(os.path.dirname(__file__), "..", "..")
INCLUDE = re.compile(r'^\s*#\s*include\s+"mpmd/([a-z_]+)/([a-z_]+)\.h"', re.M)


def layer_of_path(path):
    parts = path.split(os.sep)
    if parts == ["src", "main.c"]:
        return "program"
    for layer in LAYER_NAMES:
        if parts[:2] == ["src", layer] or parts[:3] == ["include", "mpmd", layer]:
            return layer
    return None


def sources():
    """(path relative to SRCDIR, file name without extension) of every source."""
    for top in ("src", "include"):
        for dirpath, _dirs, files in os.walk(os.path.join(SRCDIR, top)):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    rel = os.path.relpath(os.path.join(dirpath, f), SRCDIR)
                    yield rel, os.path.splitext(f)[0]


def violations(path, name):
    layer = layer_of_path(path)
    if layer is None:
        return ["%s is in no layer: put it under src/LAYER/ or include/mpmd/LAYER/ "
                "(LAYER one of %s)" % (path, ", ".join(LAYER_NAMES))]
    with open(os.path.join(SRCDIR, path)) as f:
        text = f.read()
    bad = []
    for target, inc in INCLUDE.findall(text):
        if inc == name or (name, inc) in EXCEPTIONS:
            continue
        ok = target in ALLOWED[layer] or (layer == "modules" and target == "http" and
                                          inc in HANDLER_API)
        if not ok:
            bad.append("%s (%s) includes mpmd/%s/%s.h" % (path, layer, target, inc))
    return bad


def main():
    n = 0
    for path, name in sources():
        n += 1
        bad = violations(path, name)
        print("%s %d - %s follows the layer rules" % ("not ok" if bad else "ok", n, path))
        for b in bad:
            print("# " + b)
    print("1..%d" % n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
