#!/usr/bin/env python3
# check_layering.py: the include rules between mpmd's layers (TAP on stdout).
#
# The sources are grouped in layers (docs/architecture.md, "Layers"):
#   core     process-independent services: configuration, logs, systemd
#   mpm      processes and threads: supervisor, children, listener, pool
#   http     connections, request parsing, replies, the handler API
#   modules  handlers and what they use (static files, file cache, ...)
# Rules, checked on every #include "mpmd/..." of every src/*.c and
# include/mpmd/*.h:
#   - modules include core, the handler API (handler.h, reply.h, http.h,
#     response.h) and other modules; never mpm, never conn.h;
#   - http includes no module; of mpm, only conn.c may include child.h
#     (its connection environment, until that becomes its own struct);
#   - core includes only core; main.c (the program) may include anything.
# A file that is in no layer fails too, so a new file must be placed.
# Run by hand:  MPMD_SRCDIR=. python3 tests/layering/check_layering.py

import os
import re
import sys

LAYERS = {
    "program": ["main"],
    "core": ["config", "conffile", "log", "sd", "version"],
    "mpm": ["supervisor", "bind", "scoreboard", "balance", "child", "listener", "workq",
            "pool"],
    "http": ["conn", "http", "reply", "response", "handler"],
    "modules": ["static", "filecache", "precond", "path", "mime"],
}
HANDLER_API = {"handler", "reply", "http", "response"}
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
INCLUDE = re.compile(r'^\s*#\s*include\s+"mpmd/([a-z_]+)\.h"', re.M)


def layer_of(name):
    for layer, names in LAYERS.items():
        if name in names:
            return layer
    return None


def sources():
    for sub, ext in (("src", ".c"), (os.path.join("include", "mpmd"), ".h")):
        d = os.path.join(SRCDIR, sub)
        for f in sorted(os.listdir(d)):
            if f.endswith(ext):
                yield os.path.join(sub, f), f[:-len(ext)]


def violations(path, name):
    layer = layer_of(name)
    if layer is None:
        return ["%s is in no layer (add it to LAYERS in this script)" % path]
    with open(os.path.join(SRCDIR, path)) as f:
        text = f.read()
    bad = []
    for inc in INCLUDE.findall(text):
        if inc == name or (name, inc) in EXCEPTIONS:
            continue
        target = layer_of(inc)
        ok = target in ALLOWED[layer] or (layer == "modules" and inc in HANDLER_API)
        if target is None or not ok:
            bad.append("%s (%s) includes mpmd/%s.h (%s)" % (path, layer, inc, target))
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
