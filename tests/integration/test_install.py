#!/usr/bin/env python3
# test_install.py: make install and make uninstall into a DESTDIR (TAP on stdout).
#
# - make install DESTDIR=TMP writes exactly the expected files and links,
#   computed from the configured directories (make print-dirs): the binary,
#   the Debian-style configuration tree under $(sysconfdir)/mpmd, the
#   logrotate snippet, the welcome site, man pages, docs, systemd units;
# - sites-enabled/000-default.conf is a relative link to sites-available/;
# - the installed binary's compiled-in config path follows --sysconfdir;
# - the installed configuration passes mpmd -t and reads conf.d/*.conf and
#   sites-enabled/*.conf (the welcome site's path mapped into DESTDIR);
# - the logrotate snippet parses (logrotate -d; skipped without logrotate);
# - a second install keeps an edited config file and puts the new one next
#   to it as FILE.dist;
# - make uninstall leaves only directories;
# - nothing changed in the real target directories (outside DESTDIR).
# Run by hand:  MPMD=src/mpmd MPMD_BUILDDIR=. python3 tests/integration/test_install.py

import os
import re
import shutil
import subprocess
import tempfile

from mpmdtest import MPMD, run_tests

BUILDDIR = os.environ.get("MPMD_BUILDDIR") or os.path.dirname(os.path.dirname(
    os.path.abspath(MPMD)))
MAKE = os.environ.get("MAKE_PROGRAM", "make")
MAKE_TIMEOUT = 300
LOGROTATE = "/usr/sbin/logrotate"
CONF_FILES = ("server.conf", "conf.d/security.conf", "sites-available/000-default.conf")


def make_env():
    """The environment without the parent make's (inside make check)."""
    env = dict(os.environ)
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "DESTDIR"):
        env.pop(name, None)
    return env


def make(*args):
    return subprocess.run([MAKE, "-s", "-C", BUILDDIR] + list(args), env=make_env(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=MAKE_TIMEOUT)


def print_dirs():
    r = make("print-dirs")
    if r.returncode != 0:
        raise RuntimeError("make print-dirs failed:\n" + r.stdout + r.stderr)
    return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)


def expected_files(d):
    conf = d["mpmdconfdir"]
    files = [os.path.join(d["sbindir"], "mpmd"),
             os.path.join(d["sysconfdir"], "logrotate.d", "mpmd"),
             os.path.join(conf, "sites-enabled", "000-default.conf"),
             os.path.join(d["mpmdwwwdir"], "index.html"),
             os.path.join(d["mpmdwwwdir"], "mpmd.css"),
             os.path.join(d["mandir"], "man8", "mpmd.8"),
             os.path.join(d["mandir"], "man5", "mpmd.conf.5")]
    files += [os.path.join(conf, f) for f in CONF_FILES]
    files += [os.path.join(d["docdir"], os.path.basename(f)) for f in d["doc"].split()]
    if d["systemd"] == "yes":
        files += [os.path.join(d["systemdsystemunitdir"], u)
                  for u in ("mpmd.service", "mpmd.socket")]
    return sorted(os.path.normpath(f) for f in files)


def installed(dest):
    """Every file and link under DEST, as absolute paths without DEST; and the directories."""
    files, dirs = [], []
    for top, subdirs, names in os.walk(dest):
        rel = "/" + os.path.relpath(top, dest) if top != dest else "/"
        for n in subdirs:
            p = os.path.join(top, n)
            (files if os.path.islink(p) else dirs).append(os.path.normpath(os.path.join(rel, n)))
        files += [os.path.normpath(os.path.join(rel, n)) for n in names]
    return sorted(files), dirs


def snapshot(paths):
    """What each target directory (or its nearest existing parent) holds now."""
    shot = {}
    for p in paths:
        while not os.path.exists(p):
            p = os.path.dirname(p)
        if p in shot:
            continue
        entries = []
        for n in sorted(os.listdir(p)):
            try:
                st = os.lstat(os.path.join(p, n))
                entries.append((n, st.st_mtime_ns, st.st_size))
            except OSError:
                continue
        shot[p] = entries
    return shot


def target_dirs(d):
    dirs = [d["sbindir"], d["mpmdconfdir"], os.path.join(d["sysconfdir"], "logrotate.d"),
            d["mpmdwwwdir"], os.path.join(d["mandir"], "man8"),
            os.path.join(d["mandir"], "man5"), d["docdir"]]
    dirs += [os.path.join(d["mpmdconfdir"], s) for s in ("conf.d", "sites-available",
                                                         "sites-enabled")]
    if d["systemd"] == "yes":
        dirs.append(d["systemdsystemunitdir"])
    return dirs


def check_files(t, d, dest):
    files, _ = installed(dest)
    want = expected_files(d)
    t.ok(files == want, "make install writes the %d expected files" % len(want),
         "missing: %s\nunexpected: %s" % (sorted(set(want) - set(files)),
                                          sorted(set(files) - set(want))))
    link = dest + os.path.join(d["mpmdconfdir"], "sites-enabled", "000-default.conf")
    t.eq(os.readlink(link) if os.path.islink(link) else None,
         "../sites-available/000-default.conf",
         "sites-enabled/000-default.conf is a relative link to sites-available/")
    left = []
    generated = (d["sysconfdir"] + "/", d["systemdsystemunitdir"] + "/")
    for f in files:
        if f.startswith(generated) and os.path.isfile(dest + f):
            with open(dest + f, errors="replace") as fh:
                if re.search(r"@[a-z]+dir@", fh.read()):
                    left.append(f)
    t.eq(left, [], "no @...dir@ left in the installed configuration and units")


def check_conf(t, d, dest):
    conf = dest + d["mpmdconfdir"]
    with open(os.path.join(conf, "server.conf")) as f:
        text = f.read()
    t.contains('\nServerRoot "%s"\n' % d["mpmdconfdir"], text,
               "server.conf: ServerRoot is $(sysconfdir)/mpmd")
    t.ok(text.rstrip().endswith("IncludeOptional conf.d/*.conf\n"
                                "IncludeOptional sites-enabled/*.conf"),
         "server.conf ends with the Includes of conf.d/ and sites-enabled/", text[-300:])
    mpmd = dest + os.path.join(d["sbindir"], "mpmd")
    r = subprocess.run([mpmd, "-V"], capture_output=True, text=True, timeout=30)
    t.contains("Default config: %s/mpmd/server.conf" % d["sysconfdir"], r.stdout,
               "the installed mpmd's compiled-in config is $(sysconfdir)/mpmd/server.conf")
    # The welcome site is at its installed path only inside DESTDIR: check
    # a copy of the tree (links kept) with that path mapped, ServerRoot by -d.
    work = tempfile.mkdtemp(prefix="mpmd-install-conf.")
    try:
        copy = os.path.join(work, "mpmd")
        shutil.copytree(conf, copy, symlinks=True)
        for top, _, names in os.walk(copy):
            for n in names:
                p = os.path.join(top, n)
                if os.path.islink(p):
                    continue
                with open(p) as f:
                    body = f.read()
                with open(p, "w") as f:
                    f.write(body.replace('"%s"' % d["mpmdwwwdir"],
                                         '"%s%s"' % (dest, d["mpmdwwwdir"])))
        r = subprocess.run([mpmd, "-t", "-D", "DUMP_INCLUDES", "-d", copy, "-f",
                            os.path.join(copy, "server.conf")],
                           capture_output=True, text=True, timeout=30)
        t.ok(r.returncode == 0 and "Syntax OK" in r.stderr,
             "mpmd -t passes on the installed configuration", r.stdout + r.stderr)
        for inc in ("conf.d/security.conf", "sites-enabled/000-default.conf"):
            t.contains(os.path.join(copy, inc), r.stdout, "mpmd -t reads %s" % inc)
        r = subprocess.run([mpmd, "-S", "-d", copy, "-f", os.path.join(copy, "server.conf")],
                           capture_output=True, text=True, timeout=30)
        t.match(r"\n\*:80 +\S+ \(\S+/sites-enabled/000-default\.conf:\d+\)", r.stdout,
                "mpmd -S: the default site answers on *:80")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def check_logrotate(t, d, dest):
    if not os.access(LOGROTATE, os.X_OK):
        t.skip("logrotate -d parses the snippet", "%s not installed" % LOGROTATE)
        return
    snippet = dest + os.path.join(d["sysconfdir"], "logrotate.d", "mpmd")
    with tempfile.TemporaryDirectory(prefix="mpmd-logrotate.") as work:
        r = subprocess.run([LOGROTATE, "-d", "-s", os.path.join(work, "state"), snippet],
                           capture_output=True, text=True, timeout=30)
    out = r.stdout + r.stderr
    t.ok(r.returncode == 0 and "error" not in out.lower(),
         "logrotate -d parses the snippet", out)
    t.contains("%s/log/mpmd/*.log" % d["localstatedir"], out,
               "the snippet rotates $(localstatedir)/log/mpmd/*.log")


def check_reinstall(t, d, dest):
    conf = dest + os.path.join(d["mpmdconfdir"], "server.conf")
    with open(conf, "a") as f:
        f.write("# edited by test_install.py\n")
    r = make("install", "DESTDIR=" + dest)
    t.ok(r.returncode == 0, "make install again exits 0", r.stdout + r.stderr)
    with open(conf) as f:
        t.contains("# edited by test_install.py", f.read(), "a second install keeps server.conf")
    t.ok(os.path.isfile(conf + ".dist"), "... and puts the new one in server.conf.dist")


def main(t):
    if not os.path.isfile(os.path.join(BUILDDIR, "Makefile")):
        t.skip("make install", "no Makefile in %s (set MPMD_BUILDDIR)" % BUILDDIR)
        return
    d = print_dirs()
    before = snapshot(target_dirs(d))
    dest = tempfile.mkdtemp(prefix="mpmd-destdir.")
    try:
        r = make("install", "DESTDIR=" + dest)
        if t.ok(r.returncode == 0, "make install DESTDIR=... exits 0", r.stdout + r.stderr):
            with t.guard("installed files"):
                check_files(t, d, dest)
            with t.guard("installed configuration"):
                check_conf(t, d, dest)
            with t.guard("logrotate"):
                check_logrotate(t, d, dest)
            with t.guard("reinstall"):
                check_reinstall(t, d, dest)
        r = make("uninstall", "DESTDIR=" + dest)
        t.ok(r.returncode == 0, "make uninstall DESTDIR=... exits 0", r.stdout + r.stderr)
        files, dirs = installed(dest)
        t.ok(files == [] and dirs, "make uninstall leaves only directories (%d)" % len(dirs),
             "left: %s" % files)
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    after = snapshot(target_dirs(d))
    t.ok(after == before, "nothing changed outside DESTDIR (the real target directories)",
         "\n".join("%s: %s -> %s" % (p, before.get(p), after.get(p))
                   for p in sorted(set(before) | set(after)) if before.get(p) != after.get(p)))


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
