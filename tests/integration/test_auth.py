#!/usr/bin/env python3
# test_auth.py: Basic authentication (AuthType, AuthName, AuthUserFile,
# AuthGroupFile, Require valid-user / user / group) against files made by
# Apache's htpasswd (TAP on stdout).
#
# Every hash format htpasswd makes (-B bcrypt, -m APR1-MD5, -s {SHA},
# -2/-5 SHA-crypt), wrong passwords and users, a missing user file (500),
# malformed Authorization fields, Require ip mixed with valid-user in
# <RequireAny>/<RequireAll>, Require user and group, 401 with the realm
# versus 403, HEAD; under MPM event and worker.  Then, under event: the
# cache of verified credentials (its debug lines), a user file changed
# while running, the timing of a wrong password against an unknown user
# (bcrypt cost 10: no user enumeration), and the same requests against
# Debian's apache2 with the same files (same status codes).
# Needs htpasswd (apache2-utils); skipped without it.
# Run by hand:  MPMD=src/mpmd python3 tests/integration/test_auth.py

import base64
import os
import shutil
import statistics
import subprocess
import tempfile
import time

import mpmdtest
from mpmdtest import Conn, Server, request, run_tests, wait_until

HTPASSWD = shutil.which("htpasswd") or "/usr/bin/htpasswd"
APACHE = os.environ.get("APACHE2") or "/usr/sbin/apache2"

# user, htpasswd flags, password: one user per format htpasswd makes.
USERS = [
    ("alice", ["-B", "-C", "10"], "alice-pw"),   # bcrypt cost 10 ($2y$)
    ("bob", ["-m"], "bob-pw"),                   # APR1-MD5 ($apr1$)
    ("carol", ["-s"], "carol-pw"),               # {SHA}
    ("dave", ["-5"], "dave-pw"),                 # SHA-512-crypt ($6$)
    ("erin", ["-2"], "erin-pw"),                 # SHA-256-crypt ($5$)
    ("fred", ["-B", "-C", "4"], "fred-pw"),      # bcrypt cost 4 (fast)
]
PW = {u: p for u, _, p in USERS}
GROUPS = "# groups\nstaff: alice bob\nops: carol\nstaff: erin\n"
REALM = "Test Realm"

SECTIONS = """
<Location /priv>
    AuthType Basic
    AuthName "{realm}"
    AuthBasicProvider file
    AuthUserFile {users}
    Require valid-user
</Location>
<Location /users>
    AuthType Basic
    AuthName "{realm}"
    AuthUserFile {users}
    Require user bob carol
</Location>
<Location /grp>
    AuthType Basic
    AuthName "{realm}"
    AuthUserFile {users}
    AuthGroupFile {groups}
    Require group staff
</Location>
<Location /anyip>
    AuthType Basic
    AuthName "{realm}"
    AuthUserFile {users}
    <RequireAny>
        Require ip 127.0.0.1
        Require valid-user
    </RequireAny>
</Location>
<Location /anyother>
    AuthType Basic
    AuthName "{realm}"
    AuthUserFile {users}
    <RequireAny>
        Require ip 192.0.2.1
        Require valid-user
    </RequireAny>
</Location>
<Location /allip>
    AuthType Basic
    AuthName "{realm}"
    AuthUserFile {users}
    <RequireAll>
        Require ip 127.0.0.1
        Require valid-user
    </RequireAll>
</Location>
<Location /allother>
    AuthType Basic
    AuthName "{realm}"
    AuthUserFile {users}
    <RequireAll>
        Require ip 192.0.2.1
        Require valid-user
    </RequireAll>
</Location>
<Location /notfred>
    AuthType Basic
    AuthName "{realm}"
    AuthUserFile {users}
    <RequireAll>
        Require valid-user
        Require not user fred
    </RequireAll>
</Location>
<Location /missing>
    AuthType Basic
    AuthName "{realm}"
    AuthUserFile {missing}
    Require valid-user
</Location>
<Location /nogroupfile>
    AuthType Basic
    AuthName "{realm}"
    AuthUserFile {users}
    AuthGroupFile {missing}
    Require group staff
</Location>
<Location /typenone>
    AuthType None
    Require valid-user
</Location>
<Location /open>
    Require all granted
</Location>
<Location /noreq>
    AuthType Basic
    AuthName "{realm}"
    AuthUserFile {users}
</Location>
<Location /ederr>
    AuthType Basic
    AuthName "{realm}"
    AuthUserFile {users}
    Require valid-user
    ErrorDocument 401 /open/f.txt
</Location>
"""

AREAS = ["priv", "users", "grp", "anyip", "anyother", "allip", "allother", "notfred", "missing",
         "nogroupfile", "typenone", "open", "change", "noreq", "ederr"]


def basic(user, pw):
    return "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()


def auth_hdr(user, pw):
    return [("Authorization", basic(user, pw))]


def make_files(d):
    """The user and group files (htpasswd), readable by Apache's 'nobody'."""
    users = os.path.join(d, "users")
    for i, (name, flags, pw) in enumerate(USERS):
        argv = [HTPASSWD, "-b"] + (["-c"] if i == 0 else []) + flags + [users, name, pw]
        subprocess.run(argv, check=True, capture_output=True, timeout=30)
    groups = os.path.join(d, "groups")
    with open(groups, "w") as f:
        f.write(GROUPS)
    for p in (users, groups):
        os.chmod(p, 0o644)
    return users, groups


def make_areas(root):
    for a in AREAS:
        os.makedirs(os.path.join(root, a), exist_ok=True)
        with open(os.path.join(root, a, "f.txt"), "w") as f:
            f.write("area %s\n" % a)
    for dirpath, dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for n in filenames:
            os.chmod(os.path.join(dirpath, n), 0o644)


def sections(users, groups, missing):
    return SECTIONS.format(realm=REALM, users=users, groups=groups, missing=missing)

# ---------------------------------------------------------------- the set for each MPM


def status(port, path, headers=None, method="GET"):
    return request(port, method, path, headers=headers).status


def formats(t, port):
    for name, flags, pw in USERS:
        t.eq(status(port, "/priv/f.txt", auth_hdr(name, pw)), 200,
             "htpasswd %s: right password -> 200" % " ".join(flags))
        t.eq(status(port, "/priv/f.txt", auth_hdr(name, pw + "x")), 401,
             "htpasswd %s: wrong password -> 401" % " ".join(flags))
    t.eq(status(port, "/priv/f.txt", auth_hdr("nobody", "alice-pw")), 401, "unknown user -> 401")
    t.eq(status(port, "/priv/f.txt", auth_hdr("ALICE", "alice-pw")), 401,
         "user names are case-sensitive")


def challenge(t, port):
    r = request(port, "GET", "/priv/f.txt")
    t.eq(r.status, 401, "no credentials -> 401")
    t.eq(r.header("WWW-Authenticate"), 'Basic realm="%s"' % REALM, "401 names the realm")
    t.contains(b"Unauthorized", r.body, "401 page says Unauthorized")
    r = request(port, "HEAD", "/priv/f.txt")
    t.ok(r.status == 401 and r.body == b"" and r.header("WWW-Authenticate"),
         "HEAD without credentials: 401, challenge, no body", repr(r))
    r = request(port, "HEAD", "/priv/f.txt", headers=auth_hdr("fred", PW["fred"]))
    t.ok(r.status == 200 and r.body == b"" and r.header("Content-Length") == "10",
         "HEAD with credentials: 200, no body", repr(r))
    r = request(port, "GET", "/priv/f.txt", headers=auth_hdr("fred", PW["fred"]))
    t.eq(r.body, b"area priv\n", "the file is served after authentication")
    t.eq(status(port, "/open/f.txt"), 200, "an area without user rules asks for nothing")
    r = request(port, "GET", "/ederr/f.txt")
    t.ok(r.status == 401 and r.body == b"area open\n" and
         r.header("WWW-Authenticate") == 'Basic realm="%s"' % REALM,
         "ErrorDocument 401: the local page, still with the challenge", repr(r))


MALFORMED = [
    ("scheme only", "Basic"),
    ("not base64", "Basic !!!not*base64!!!"),
    ("no colon", "Basic " + base64.b64encode(b"alicealice-pw").decode()),
    ("another scheme", "Bearer abcdef"),
    ("Digest", 'Digest username="alice", realm="Test Realm"'),
    ("NUL in credentials", "Basic " + base64.b64encode(b"alice\0:alice-pw").decode()),
    ("bad length", "Basic YWxpY2U6YWxpY2UtcH"),
    ("very long", "Basic " + "QUFB" * 600),
]


def malformed(t, port):
    for desc, value in MALFORMED:
        r = request(port, "GET", "/priv/f.txt", headers=[("Authorization", value)])
        t.ok(r.status == 401 and r.header("WWW-Authenticate"),
             "malformed Authorization (%s) -> 401 with a challenge" % desc, repr(r))
    ok = "Basic  " + base64.b64encode(b"fred:fred-pw").decode()
    t.eq(status(port, "/priv/f.txt", [("Authorization", ok.replace("Basic", "bAsIc"))]), 200,
         "the scheme is case-insensitive, spaces before the credentials skipped")


def rules(t, port):
    a, b, c, e, f = (auth_hdr(u, PW[u]) for u in ("alice", "bob", "carol", "erin", "fred"))
    t.eq(status(port, "/users/f.txt", b), 200, "Require user bob carol: bob -> 200")
    t.eq(status(port, "/users/f.txt", c), 200, "Require user bob carol: carol -> 200")
    t.eq(status(port, "/users/f.txt", f), 401, "Require user: another valid user -> 401")
    t.eq(status(port, "/users/f.txt"), 401, "Require user: no credentials -> 401")
    t.eq(status(port, "/grp/f.txt", a), 200, "Require group staff: alice -> 200")
    t.eq(status(port, "/grp/f.txt", e), 200, "Require group: a group on two lines (erin)")
    t.eq(status(port, "/grp/f.txt", c), 401, "Require group: not in the group -> 401")
    t.eq(status(port, "/anyip/f.txt"), 200, "RequireAny ip (matching) + valid-user: no password")
    t.eq(status(port, "/anyother/f.txt"), 401, "RequireAny ip (other) + valid-user: 401")
    t.eq(status(port, "/anyother/f.txt", f), 200, "RequireAny ip (other) + valid-user: user 200")
    t.eq(status(port, "/allip/f.txt"), 401, "RequireAll ip (matching) + valid-user: 401")
    t.eq(status(port, "/allip/f.txt", f), 200, "RequireAll ip (matching) + valid-user: 200")
    t.eq(status(port, "/allother/f.txt"), 403, "RequireAll ip (other) + valid-user: 403")
    t.eq(status(port, "/allother/f.txt", f), 403, "RequireAll ip (other): a user can't help")
    t.eq(status(port, "/notfred/f.txt", a), 200, "RequireAll valid-user, not user fred: alice")
    t.eq(status(port, "/notfred/f.txt", f), 401, "RequireAll valid-user, not user fred: fred 401")


def server_errors(t, s):
    port = s.port
    t.eq(status(port, "/missing/f.txt", auth_hdr("fred", "fred-pw")), 500,
         "AuthUserFile missing -> 500")
    t.eq(status(port, "/missing/f.txt"), 401, "AuthUserFile missing, no credentials -> 401")
    t.eq(status(port, "/nogroupfile/f.txt", auth_hdr("alice", PW["alice"])), 401,
         "AuthGroupFile missing: in no group -> 401 (as Apache)")
    t.eq(status(port, "/typenone/f.txt", auth_hdr("fred", "fred-pw")), 500,
         "AuthType None with Require valid-user -> 500 (as Apache)")
    t.eq(status(port, "/noreq/f.txt"), 500, "AuthType Basic with no Require -> 500 (as Apache)")
    log = s.errlog_text()
    t.match(r"AH01620: Could not open password file: \S*nonexistent", log,
            "the missing user file is logged (AH01620)")
    t.match(r"AH01666: Could not open group file: \S*nonexistent", log,
            "the missing group file is logged (AH01666)")
    t.match(r"AH01627: AuthType configured with no corresponding authorization directives",
            log, "AuthType without Require logged (AH01627)")
    t.match(r"AH01618: user nobody not found: /priv/f.txt", log, "unknown user logged (AH01618)")
    t.match(r'AH01617: user alice: authentication failure for "/priv/f.txt": Password Mismatch',
            log, "wrong password logged (AH01617)")


def one_mpm(t, tmp, mpm):
    users, groups = make_files(tmp)
    conf = sections(users, groups, os.path.join(tmp, "nonexistent"))
    with Server(conf_extra=conf, mpm=mpm, threads=4, start_servers=1, tap=t) as s:
        make_areas(s.docroot)
        for name, fn in (("formats", formats), ("challenge", challenge),
                         ("malformed", malformed), ("rules", rules)):
            with t.guard("%s: %s" % (mpm, name)):
                fn(Prefixed(t, mpm), s.port)
        with t.guard("%s: errors" % mpm):
            server_errors(Prefixed(t, mpm), s)
        t.ok(s.is_running(), "%s: server still running" % mpm)


class Prefixed:
    """A Tap whose descriptions start with TAG."""

    def __init__(self, tap, tag):
        self.tap, self.tag = tap, tag

    def __getattr__(self, name):
        fn = getattr(self.tap, name)

        def call(*args, **kw):
            args = list(args)
            i = 2 if name in ("eq", "ne", "contains", "match") else 1
            if len(args) > i:
                args[i] = "%s: %s" % (self.tag, args[i])
            return fn(*args, **kw)
        return call

# ---------------------------------------------------------------- event only


def cache(t, s):
    """A repeated credential is answered from the child's cache: one
    password check, then cache hits (one connection: one child)."""
    before = s.errlog_text().count("user erin: password checked")
    with Conn(s.port) as c:
        for _ in range(5):
            c.request("GET", "/priv/f.txt", headers=auth_hdr("erin", PW["erin"]))
            r = c.read_response()
            if r.status != 200:
                break
    t.eq(r.status, 200, "cache: five requests on one connection -> 200")
    wait_until(lambda: s.errlog_text().count("user erin: credentials found in the cache") >= 4,
               3.0)
    log = s.errlog_text()
    t.eq(log.count("user erin: password checked") - before, 1,
         "cache: the password was checked once")
    t.ok(log.count("user erin: credentials found in the cache") >= 4,
         "cache: the next four came from the cache")
    r = request(s.port, "GET", "/priv/f.txt", headers=auth_hdr("erin", "wrong"))
    t.eq(r.status, 401, "cache: a wrong password for a cached user is still refused")


def change(t, s, tmp):
    """The user file rewritten while running: the new password works, the
    old one (cached) is refused within a second or two."""
    cu = os.path.join(tmp, "changing")
    subprocess.run([HTPASSWD, "-bc", "-B", "-C", "4", cu, "zed", "old-pw"], check=True,
                   capture_output=True, timeout=30)
    old, new = auth_hdr("zed", "old-pw"), auth_hdr("zed", "new-pw")
    t.eq(status(s.port, "/change/f.txt", old), 200, "change: the old password before")
    t.eq(status(s.port, "/change/f.txt", old), 200, "change: the old password again (cached)")
    subprocess.run([HTPASSWD, "-b", "-B", "-C", "4", cu, "zed", "new-pw"], check=True,
                   capture_output=True, timeout=30)
    t.ok(wait_until(lambda: status(s.port, "/change/f.txt", old) == 401, 5.0),
         "change: the old password is refused after the change")
    t.eq(status(s.port, "/change/f.txt", new), 200, "change: the new password works")
    os.unlink(cu)
    t.ok(wait_until(lambda: status(s.port, "/change/f.txt", new) == 500, 5.0),
         "change: the file removed -> 500 (within the second the listener trusts its stat)")


def median_time(port, hdr, n):
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        st = status(port, "/priv/f.txt", hdr)
        times.append(time.monotonic() - t0)
        if st != 401:
            return None
    return statistics.median(times)


def timing(t, s):
    """Wrong password of a bcrypt-cost-10 user versus an unknown user: the
    same order of time (a server that skips the hash for unknown users
    answers them ~100 times faster)."""
    n = 9
    known = median_time(s.port, auth_hdr("alice", "wrong"), n)
    unknown = median_time(s.port, auth_hdr("nosuchuser", "wrong"), n)
    t.ok(known is not None and unknown is not None, "timing: all wrong attempts -> 401")
    if known and unknown:
        ratio = unknown / known
        t.ok(0.5 <= ratio <= 2.0, "timing: unknown user / wrong password median within 0.5..2",
             "known %.1f ms, unknown %.1f ms, ratio %.2f" % (known * 1e3, unknown * 1e3, ratio))
        t.ok(known > 0.005, "timing: a bcrypt cost 10 check takes time (%.1f ms)" % (known * 1e3))


def cgi_and_log(t, s):
    """A CGI script learns who was let in (AUTH_TYPE, REMOTE_USER, never
    the password); the access log's %u names the user, even on a 401."""
    r = request(s.port, "GET", "/cgi-auth/env.sh", headers=auth_hdr("fred", PW["fred"]))
    t.eq(r.status, 200, "CGI behind Basic auth -> 200")
    env = dict(line.split("=", 1) for line in r.text().splitlines() if "=" in line)
    t.eq(env.get("REMOTE_USER"), "fred", "CGI: REMOTE_USER")
    t.eq(env.get("AUTH_TYPE"), "Basic", "CGI: AUTH_TYPE")
    t.ok("HTTP_AUTHORIZATION" not in env, "CGI: the Authorization field is not passed on")
    t.eq(status(s.port, "/cgi-auth/env.sh"), 401, "CGI without credentials -> 401")
    status(s.port, "/priv/f.txt?log-ok", auth_hdr("fred", PW["fred"]))
    status(s.port, "/priv/f.txt?log-bad", auth_hdr("fred", "wrong"))
    status(s.port, "/open/f.txt?log-open", auth_hdr("fred", PW["fred"]))
    wait_until(lambda: "log-open" in s.access_text(), 3.0)
    lines = s.access_text().splitlines()

    def user_of(marker):
        hit = [ln for ln in lines if marker in ln]
        return hit[-1].split(" ")[2] if hit else None
    t.eq(user_of("log-ok"), "fred", "access log %u: the authenticated user")
    t.eq(user_of("log-bad"), "fred", "access log %u: the user of a refused password (Apache)")
    t.eq(user_of("log-open"), "-", "access log %u: '-' where no authentication ran")


def event_only(t, tmp):
    users, groups = make_files(tmp)
    conf = sections(users, groups, os.path.join(tmp, "nonexistent")) + """
<Location /change>
    AuthType Basic
    AuthName "{realm}"
    AuthUserFile {cu}
    Require valid-user
</Location>
<Location /cgi-auth>
    AuthType Basic
    AuthName "{realm}"
    AuthUserFile {users}
    Require valid-user
</Location>
ScriptAlias /cgi-auth/ {cgi}/
LogLevel debug
""".format(realm=REALM, cu=os.path.join(tmp, "changing"), users=users, cgi=os.path.join(tmp, "cgi"))
    os.makedirs(os.path.join(tmp, "cgi"))
    env_sh = os.path.join(tmp, "cgi", "env.sh")
    shutil.copy(os.path.join(mpmdtest.SRCDIR, "tests/integration/upstreams/cgi/env.sh"), env_sh)
    os.chmod(env_sh, 0o755)
    with Server(conf_extra=conf, mpm="event", threads=4, start_servers=1, tap=t) as s:
        make_areas(s.docroot)
        with t.guard("cache"):
            cache(t, s)
        with t.guard("change"):
            change(t, s, tmp)
        with t.guard("timing"):
            timing(t, s)
        with t.guard("CGI and access log"):
            cgi_and_log(t, s)

# ---------------------------------------------------------------- apache2


COMPARED = [
    ("/priv/f.txt", None), ("/priv/f.txt", ("alice", "alice-pw")),
    ("/priv/f.txt", ("bob", "bob-pw")), ("/priv/f.txt", ("carol", "carol-pw")),
    ("/priv/f.txt", ("dave", "dave-pw")), ("/priv/f.txt", ("erin", "erin-pw")),
    ("/priv/f.txt", ("bob", "wrong")), ("/priv/f.txt", ("nobody", "x")),
    ("/users/f.txt", ("bob", "bob-pw")), ("/users/f.txt", ("fred", "fred-pw")),
    ("/grp/f.txt", ("alice", "alice-pw")), ("/grp/f.txt", ("carol", "carol-pw")),
    ("/anyip/f.txt", None), ("/anyother/f.txt", None), ("/anyother/f.txt", ("fred", "fred-pw")),
    ("/allip/f.txt", None), ("/allip/f.txt", ("fred", "fred-pw")), ("/allother/f.txt", None),
    ("/allother/f.txt", ("fred", "fred-pw")), ("/notfred/f.txt", ("fred", "fred-pw")),
    ("/notfred/f.txt", ("bob", "bob-pw")), ("/missing/f.txt", ("fred", "fred-pw")),
    ("/nogroupfile/f.txt", ("alice", "alice-pw")), ("/typenone/f.txt", ("fred", "fred-pw")),
    ("/open/f.txt", None), ("/noreq/f.txt", None), ("/ederr/f.txt", None),
]
COMPARED_RAW = [("Bearer abc", "another scheme"), ("Basic", "scheme only"),
                ("Basic " + base64.b64encode(b"nocolon").decode(), "no colon")]


def apache_conf(adir, root, users, groups, missing):
    import test_apache_compare as ac
    static = ac.compiled_in_modules()
    lines = ['ServerRoot "%s"' % adir, 'DefaultRuntimeDir "%s"' % adir,
             'PidFile "%s/apache.pid"' % adir, 'ErrorLog "%s/error.log"' % adir,
             "LogLevel warn"]
    for mod in ("mpm_event", "authz_core", "authz_host", "authn_core", "authn_file",
                "auth_basic", "authz_user", "authz_groupfile", "unixd", "mime", "log_config"):
        if "mod_" + mod not in static:
            lines.append("LoadModule %s_module %s/mod_%s.so" % (mod, ac.APACHE_MODULES, mod))
    lines += ["ServerName localhost", "TypesConfig /etc/mime.types", 'DocumentRoot "%s"' % root,
              "StartServers 1", "ServerLimit 1", "ThreadsPerChild 4", "MaxRequestWorkers 4",
              "Timeout 10"]
    if os.geteuid() == 0:
        lines += ["User nobody", "Group nogroup"]
    return "\n".join(lines) + "\n" + sections(users, groups, missing)


def against_apache(t, tmp):
    import test_apache_compare as ac
    shared = tempfile.mkdtemp(prefix="auth-shared-", dir=tmp)
    root = os.path.join(shared, "root")
    make_areas(root)
    users, groups = make_files(shared)
    os.chmod(shared, 0o755)
    os.chmod(tmp, 0o755)
    missing = os.path.join(shared, "nonexistent")
    adir = os.path.join(tmp, "apache")
    os.makedirs(adir)

    def conf(ports):
        return "Listen 127.0.0.1:%d\nListen 127.0.0.1:%d\n" % (ports["P1"], ports["P2"]) + \
            apache_conf(adir, root, users, groups, missing)
    d = ac.Daemon("apache", adir, lambda c: [APACHE, "-f", c, "-DFOREGROUND"], conf, 20.0)
    answers = {}
    try:
        if not t.ok(d.start(), "apache2 starts with the auth config", d.output()):
            return
        for path, cred in COMPARED:
            answers[(path, cred)] = status(d.ports["P1"], path, auth_hdr(*cred) if cred else None)
        for value, desc in COMPARED_RAW:
            answers[desc] = status(d.ports["P1"], "/priv/f.txt", [("Authorization", value)])
    finally:
        d.stop()
    with Server(conf_extra=sections(users, groups, missing), docroot_conf=root, tap=t,
                start_servers=1) as s:
        for path, cred in COMPARED:
            got = status(s.port, path, auth_hdr(*cred) if cred else None)
            t.eq(got, answers[(path, cred)], "as apache2: %s as %s" % (path, cred and cred[0]))
        for value, desc in COMPARED_RAW:
            got = status(s.port, "/priv/f.txt", [("Authorization", value)])
            t.eq(got, answers[desc], "as apache2: Authorization %s" % desc)


def main(t):
    tmp = tempfile.mkdtemp(prefix="mpmd-auth-")
    try:
        for mpm in ("event", "worker"):
            sub = os.path.join(tmp, mpm)
            os.makedirs(sub)
            one_mpm(t, sub, mpm)
        sub = os.path.join(tmp, "event-only")
        os.makedirs(sub)
        event_only(t, sub)
        if os.access(APACHE, os.X_OK):
            with t.guard("apache2 comparison"):
                against_apache(t, tmp)
        else:
            t.skip("apache2 comparison", "apache2 not installed")
    finally:
        if os.environ.get("MPMD_KEEP"):
            t.diag("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if not os.access(HTPASSWD, os.X_OK):
        print("1..0 # SKIP htpasswd not installed (apt-get install apache2-utils)")
        raise SystemExit(0)
    raise SystemExit(run_tests(main))
