#!/usr/bin/env python3
# test_config.py: mpmd's command line and config checking (TAP on stdout).
#
# -t on good and bad files (exit status, "FILE:LINE: Directive: message"),
# starting with a bad config (exit 1, nothing bound), -V, -d (ServerRoot),
# -t on the repository's etc/server.conf, and IncludeOptional across a
# graceful restart (-t -D DUMP_INCLUDES, errors naming the included file),
# ListenBacklog (ss shows the socket's backlog, also after a restart).
# Run by hand:  MPMD=src/mpmd python3 tests/integration/test_config.py

import os
import re
import shutil
import subprocess
import tempfile

import mpmdtest
from mpmdtest import A_TXT, Server, config_lines, free_port, run_mpmd, run_tests


def write_conf(tmp, name, lines):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def base_lines(tmp, port, **kw):
    docroot = os.path.join(tmp, "htdocs")
    os.makedirs(docroot, exist_ok=True)
    return config_lines(port, tmp, docroot, **kw)


def replace_line(lines, prefix, new):
    """Replace the line starting with PREFIX by NEW; returns (lines, 1-based line number)."""
    out = list(lines)
    for i, line in enumerate(out):
        if line.split(" ", 1)[0] == prefix:
            out[i] = new
            return out, i + 1
    raise KeyError(prefix)


def insert_after(lines, prefix, new):
    out = list(lines)
    for i, line in enumerate(out):
        if line.split(" ", 1)[0] == prefix:
            out.insert(i + 1, new)
            return out, i + 2
    raise KeyError(prefix)


def check_good(t, tmp):
    path = write_conf(tmp, "good.conf", base_lines(tmp, free_port()))
    rc, out, err = run_mpmd(["-t", "-f", path])
    t.eq(rc, 0, "-t good.conf: exit 0")
    t.contains("Syntax OK", out + err, "-t good.conf: Syntax OK")
    path = write_conf(tmp, "worker.conf", base_lines(tmp, free_port(), mpm="worker"))
    rc, out, err = run_mpmd(["-t", "-f", path])
    t.eq(rc, 0, "-t with MPM worker: exit 0")
    t.contains("Syntax OK", out + err, "-t with MPM worker: Syntax OK")
    path = write_conf(tmp, "comments.conf", ["", "# comment", "   # indented comment", ""]
                      + base_lines(tmp, free_port()) + ["", "  "])
    rc, out, err = run_mpmd(["-t", "-f", path])
    t.eq((rc, "Syntax OK" in out + err), (0, True), "-t with comments and blank lines: OK")


def bad_cases(tmp, port):
    base = base_lines(tmp, port)
    small = base_lines(tmp, port, server_limit=2, threads=4)
    cases = []
    lines, n = insert_after(base, "DocumentRoot", "FrobnicateWidgets On")
    cases.append(("unknown", lines, n, "FrobnicateWidgets", "unknown directive"))
    lines, n = replace_line(base, "Timeout", "Timeout 12x")
    cases.append(("badnum", lines, n, "Timeout", "bad number"))
    lines, n = replace_line(base, "StartServers", "StartServers -3")
    cases.append(("negative", lines, n, "StartServers", "negative number"))
    lines, n = replace_line(base, "ThreadsPerChild", "ThreadsPerChild abc")
    cases.append(("threadsabc", lines, n, "ThreadsPerChild", "ThreadsPerChild abc"))
    lines, n = replace_line(small, "MaxRequestWorkers", "MaxRequestWorkers 100")
    cases.append(("toomany", lines, n, "MaxRequestWorkers",
                  "MaxRequestWorkers > ServerLimit*ThreadsPerChild"))
    lines, n = replace_line(base, "MPM", "MPM prefork")
    cases.append(("badmpm", lines, n, "MPM", "unknown MPM"))
    lines, n = replace_line(base, "KeepAlive", "KeepAlive Maybe")
    cases.append(("badbool", lines, n, "KeepAlive", "bad On/Off"))
    lines, n = replace_line(base, "Listen", "Listen 127.0.0.1:99999")
    cases.append(("badport", lines, n, "Listen", "port out of range"))
    lines, n = replace_line(base, "LogLevel", "LogLevel chatty")
    cases.append(("badlevel", lines, n, "LogLevel", "unknown LogLevel"))
    lines, n = replace_line(base, "ThreadsPerChild", "ThreadsPerChild")
    cases.append(("noarg", lines, n, "ThreadsPerChild", "missing argument"))
    return cases


def check_bad(t, tmp):
    for name, lines, line_no, directive, what in bad_cases(tmp, free_port()):
        fname = "bad_%s.conf" % name
        path = write_conf(tmp, fname, lines)
        rc, out, err = run_mpmd(["-t", "-f", path])
        t.eq(rc, 1, "-t %s (%s): exit 1" % (fname, what))
        t.match(r"%s:%d: %s:" % (re.escape(fname), line_no, re.escape(directive)), err,
                "-t %s: stderr has '%s:%d: %s:'" % (fname, fname, line_no, directive))
        t.ok("Syntax OK" not in out + err, "-t %s: no Syntax OK" % fname)
    # No Listen at all: no line to blame; the file name and the directive must appear.
    lines = [ln for ln in base_lines(tmp, free_port()) if not ln.startswith("Listen")]
    path = write_conf(tmp, "nolisten.conf", lines)
    rc, out, err = run_mpmd(["-t", "-f", path])
    t.eq(rc, 1, "-t nolisten.conf (missing Listen): exit 1")
    t.match(r"nolisten\.conf(:\d+)?: .*Listen", err,
            "-t nolisten.conf: stderr names the file and Listen")
    missing = os.path.join(tmp, "does-not-exist.conf")
    rc, out, err = run_mpmd(["-t", "-f", missing])
    t.eq(rc, 1, "-t on a missing file: exit 1")
    t.contains("does-not-exist.conf", err, "-t on a missing file: names it on stderr")


def check_bad_start(t, tmp):
    """Starting (no -t) with a bad config: exit 1, FILE:LINE on stderr, port left free."""
    for name, mutate, directive in [
            ("start_unknown", lambda b: insert_after(b, "PidFile", "NoSuchDirective x"),
             "NoSuchDirective"),
            ("start_toomany", lambda b: replace_line(b, "MaxRequestWorkers",
                                                     "MaxRequestWorkers 100000"),
             "MaxRequestWorkers")]:
        port = free_port()
        lines, line_no = mutate(base_lines(tmp, port))
        fname = name + ".conf"
        path = write_conf(tmp, fname, lines)
        rc, out, err = run_mpmd(["-f", path], timeout=10)
        t.eq(rc, 1, "start with %s: exit 1" % fname)
        t.match(r"%s:%d: %s:" % (re.escape(fname), line_no, directive), err,
                "start with %s: stderr has FILE:LINE: Directive:" % fname)
        t.ok(mpmdtest.port_is_free(port), "start with %s: port %d not bound" % (fname, port))
        t.ok(not os.path.exists(os.path.join(tmp, "mpmd.pid")),
             "start with %s: no PidFile left" % fname)


def check_version(t):
    rc, out, err = run_mpmd(["-V"])
    t.eq(rc, 0, "-V: exit 0")
    t.match(r"mpmd/\d+\.\d+\S*", out + err, "-V: prints mpmd/<version>")


def check_repo_conf(t):
    conf = os.path.join(mpmdtest.SRCDIR, "etc", "server.conf")
    if not t.ok(os.path.isfile(conf), "repository has etc/server.conf", diag=conf):
        return
    rc, out, err = run_mpmd(["-d", mpmdtest.SRCDIR, "-t", "-f", conf])
    t.eq(rc, 0, "-t -d SRCDIR etc/server.conf: exit 0")
    t.contains("Syntax OK", out + err, "-t etc/server.conf: Syntax OK")


def check_dash_d(t):
    """-d DIR: a relative DocumentRoot resolves against DIR (the server runs with cwd /)."""
    with Server(tap=t, docroot_conf="htdocs", chdir="/", args=["-d", "{dir}"]) as s:
        r = s.get("/a.txt")
        t.eq((r.status, r.body), (200, A_TXT), "-d DIR: relative DocumentRoot htdocs served")


def keepalive_limit_seen(port):
    """Responses on one connection until the server says close (at most 5)."""
    with mpmdtest.Conn(port) as c:
        for n in range(1, 6):
            c.request("GET", "/a.txt")
            if c.read_response().header("Connection") == "close":
                return n
    return None


def check_include(t):
    """IncludeOptional conf.d/*.conf (relative to -d): empty at start, then a
    file that a graceful restart (USR1) picks up, then a broken one that the
    running server survives with an error naming the included file."""
    with Server(tap=t, args=["-d", "{dir}"],
                conf_extra="IncludeOptional conf.d/*.conf") as s:
        t.eq(keepalive_limit_seen(s.port), None,
             "Include: empty conf.d: MaxKeepAliveRequests 100 in force")
        confd = os.path.join(s.dir, "conf.d")
        os.makedirs(confd)
        extra = write_conf(confd, "limit.conf", ["# one more site setting",
                                                 "MaxKeepAliveRequests 2"])
        rc, out, err = run_mpmd(["-t", "-D", "DUMP_INCLUDES", "-d", s.dir, "-f", s.conf])
        t.eq((rc, out.splitlines()), (0, ["Included configuration files:",
                                          "  (*) %s" % s.conf,
                                          "    (%d) %s" % (len(open(s.conf).read().splitlines()),
                                                         extra)]),
             "Include: -t -D DUMP_INCLUDES lists the included file")
        os.kill(s.pid, mpmdtest.signal.SIGUSR1)
        t.ok(mpmdtest.wait_until(lambda: keepalive_limit_seen(s.port) == 2, 10),
             "Include: after USR1 the included MaxKeepAliveRequests 2 is in force")
        write_conf(confd, "limit.conf", ["MaxKeepAliveRequests 3", "Timeout soon"])
        os.kill(s.pid, mpmdtest.signal.SIGUSR1)
        t.ok(mpmdtest.wait_until(lambda: "%s:2: Timeout:" % extra in s.errlog_text(), 10),
             "Include: a broken included file at USR1 is named with its line in the log",
             diag=s.errlog_text()[-1000:])
        t.eq(keepalive_limit_seen(s.port), 2, "Include: the running generation keeps serving")


def listen_backlog(port):
    """The backlog of the listening socket on PORT, as ss shows it (Send-Q), or None."""
    out = subprocess.run(["ss", "-ltnH", "sport = :%d" % port], capture_output=True,
                         text=True, timeout=10).stdout.split()
    return int(out[2]) if len(out) >= 3 else None


def check_listen_backlog(t):
    """ListenBacklog sets listen(2)'s backlog; a graceful restart applies a new one
    to the open socket; a bad value names FILE:LINE."""
    if shutil.which("ss") is None:
        t.skip("ListenBacklog", "no ss (apt-get install iproute2)")
        return
    with Server(tap=t, conf_extra="ListenBacklog 7") as s:
        t.eq(listen_backlog(s.port), 7, "ListenBacklog 7: the socket's backlog is 7")
        s.conf_extra = "ListenBacklog 9"
        s.write_config()
        os.kill(s.pid, mpmdtest.signal.SIGUSR1)
        t.ok(mpmdtest.wait_until(lambda: listen_backlog(s.port) == 9, 10),
             "ListenBacklog 9 after USR1: the same socket's backlog is 9",
             diag=repr(listen_backlog(s.port)))
        r = mpmdtest.request(s.port, "GET", "/a.txt")
        t.eq((r.status, r.body), (200, A_TXT), "ListenBacklog: served after the restart")
    with Server(tap=t) as s:
        t.eq(listen_backlog(s.port), 511, "no ListenBacklog: 511, as Apache")
    tmp = tempfile.mkdtemp(prefix="mpmdtest-backlog-")
    try:
        lines, n = insert_after(base_lines(tmp, free_port()), "Listen", "ListenBacklog 0")
        path = write_conf(tmp, "backlog.conf", lines)
        rc, out, err = run_mpmd(["-t", "-f", path])
        t.ok(rc == 1 and ("backlog.conf:%d: ListenBacklog:" % n) in err,
             "ListenBacklog 0: -t fails naming backlog.conf:%d" % n, diag=err)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_types_config(t):
    """TypesConfig names the extension map; a graceful restart reloads it."""
    tmp = tempfile.mkdtemp(prefix="mpmdtest-types-")
    try:
        types = write_conf(tmp, "my.types", ["# test types", "application/x-zz-one zzqq"])
        with Server(tap=t, conf_extra="TypesConfig %s" % types) as s:
            r = s.get("/x.zzqq")
            t.eq((r.status, r.header("Content-Type")), (200, "application/x-zz-one"),
                 "TypesConfig: x.zzqq typed from the named file")
            t.eq(s.get("/index.html").header("Content-Type"), "text/html",
                 "TypesConfig: the built-in table fills the gaps")
            write_conf(tmp, "my.types", ["application/x-zz-two zzqq"])
            os.kill(s.pid, mpmdtest.signal.SIGUSR1)
            t.ok(mpmdtest.wait_until(
                lambda: s.get("/x.zzqq").header("Content-Type") == "application/x-zz-two", 10),
                "TypesConfig: re-read on a graceful restart")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


DEBIAN_SITE = "/etc/apache2/sites-available/000-default.conf"


def check_debian_site(t):
    """Debian's default Apache site file loads as it is (apache2 installed)."""
    if not os.path.exists(DEBIAN_SITE) or not os.path.isdir("/var/www/html"):
        t.skip("Debian's 000-default.conf", "apache2 is not installed (%s)" % DEBIAN_SITE)
        return
    tmp = tempfile.mkdtemp(prefix="mpmdtest-debsite-")
    try:
        os.makedirs(os.path.join(tmp, "logs"))
        conf = write_conf(tmp, "server.conf", ["Listen 127.0.0.1:%d" % free_port(),
                                               "DocumentRoot /var/www/html",
                                               "Include %s" % DEBIAN_SITE])
        env = dict(os.environ, APACHE_LOG_DIR=os.path.join(tmp, "logs"))
        p = subprocess.run([mpmdtest.MPMD, "-t", "-f", conf], env=env, capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=10)
        t.eq((p.returncode, p.stderr.decode().strip()), (0, "Syntax OK"),
             "Debian's 000-default.conf loads with APACHE_LOG_DIR set (as envvars does)")
        env.pop("APACHE_LOG_DIR")
        p = subprocess.run([mpmdtest.MPMD, "-t", "-f", conf], env=env, capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=10)
        err = p.stderr.decode()
        t.ok(p.returncode != 0 and DEBIAN_SITE + ":" in err and
             "${APACHE_LOG_DIR} is not defined" in err,
             "without APACHE_LOG_DIR: refused, naming the file, line and variable", diag=err)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(t):
    tmp = tempfile.mkdtemp(prefix="mpmdtest-conf-")
    try:
        for name, fn in [("good", check_good), ("bad", check_bad),
                         ("bad start", check_bad_start)]:
            with t.guard(name):
                fn(t, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    with t.guard("-V"):
        check_version(t)
    with t.guard("etc/server.conf"):
        check_repo_conf(t)
    with t.guard("-d"):
        check_dash_d(t)
    with t.guard("Include"):
        check_include(t)
    with t.guard("ListenBacklog"):
        check_listen_backlog(t)
    with t.guard("TypesConfig"):
        check_types_config(t)
    with t.guard("Debian site"):
        check_debian_site(t)


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
