#!/usr/bin/env python3
# test_manpages.py: the man pages mpmd(8) and mpmd.conf(5) (TAP on stdout).
#
# - groff -ww -z -man prints nothing for either page (no warning of any kind);
# - rendered as man(1) would, no troff escape or Markdown backtick shows;
# - docs/mpmd.conf.5 is what `mpmd -5 docs/mpmd.conf.5.in` prints (the
#   program's option, end to end; the unit tests compare the library's);
# - mpmd.conf(5) has an entry for every directive `mpmd -V` lists;
# - mpmd(8) describes every option in main.c's getopt string.
# Skipped, saying so, without groff (Debian: groff-base).
# Run by hand:  MPMD=src/mpmd MPMD_SRCDIR=. python3 tests/docs/test_manpages.py

import os
import re
import shutil
import subprocess
import sys

SRCDIR = os.environ.get("MPMD_SRCDIR") or os.path.join(os.path.dirname(__file__), "..", "..")
MPMD = os.environ.get("MPMD") or "src/mpmd"
PAGES = ("docs/mpmd.8", "docs/mpmd.conf.5")


class Tap:
    def __init__(self):
        self.n = 0

    def ok(self, good, what, diag=""):
        self.n += 1
        print("%s %d - %s" % ("ok" if good else "not ok", self.n, what))
        for line in diag.splitlines()[:40] if not good else []:
            print("# " + line)


def src(path):
    return os.path.join(SRCDIR, path)


def groff(args, page):
    env = dict(os.environ, LC_ALL="C.UTF-8")
    r = subprocess.run(["groff"] + args + [src(page)], capture_output=True, text=True, env=env)
    return r.returncode, r.stdout, r.stderr


def check_groff(t):
    for page in PAGES:
        rc, out, err = groff(["-ww", "-z", "-man"], page)
        t.ok(rc == 0 and out == "" and err == "", "groff -ww -z -man %s prints nothing" % page,
             out + err)
        rc, out, err = groff(["-man", "-Tutf8", "-P-c", "-P-b", "-P-u"], page)
        leaks = [l for l in out.splitlines() if re.search(r"\\[fe(&-]|`", l)]
        t.ok(rc == 0 and out and not leaks, "%s renders without literal escapes" % page,
             err + "\n".join(leaks))


def check_generated(t):
    r = subprocess.run([MPMD, "-5", src("docs/mpmd.conf.5.in")], capture_output=True, text=True)
    with open(src("docs/mpmd.conf.5")) as f:
        committed = f.read()
    t.ok(r.returncode == 0 and r.stdout == committed,
         "docs/mpmd.conf.5 is what mpmd -5 docs/mpmd.conf.5.in prints "
         "(else: make update-directives)", r.stderr)
    r = subprocess.run([MPMD, "-V"], capture_output=True, text=True)
    listed = r.stdout.split("# Directive", 1)[-1].splitlines()[1:]
    names = [l.split()[0] for l in listed if l.strip()]
    missing = [n for n in names
               if "\n.TP\n\\fB%s\\fR" % (n[:-1] if n.startswith("<") else n) not in committed]
    t.ok(len(names) > 50 and not missing,
         "mpmd.conf(5) has an entry for each of the %d directives and sections of mpmd -V"
         % len(names), "missing: " + " ".join(missing))


def check_options(t):
    with open(src("src/main.c")) as f:
        m = re.search(r'getopt\(argc, argv, "([^"]+)"\)', f.read())
    with open(src("docs/mpmd.8")) as f:
        page = f.read()
    opts = [c for c in (m.group(1) if m else "") if c != ":"]
    options = page.split(".SH OPTIONS", 1)[-1].split("\n.SH ", 1)[0]
    missing = [c for c in opts
               if not re.search(r"^\.TP\n\.(B|BI|BR) \\-%s\b" % re.escape(c), options, re.M)]
    t.ok(opts and not missing, "mpmd(8) OPTIONS describes each of -%s" % "".join(opts),
         "missing: " + " ".join("-" + c for c in missing))


def main():
    if shutil.which("groff") is None:
        print("1..0 # SKIP groff not installed (Debian: apt-get install groff-base)")
        return 0
    t = Tap()
    check_groff(t)
    check_generated(t)
    check_options(t)
    print("1..%d" % t.n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
