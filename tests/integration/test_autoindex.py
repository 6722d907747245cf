#!/usr/bin/env python3
# test_autoindex.py: directory listings (Options +Indexes) of a running
# mpmd, and the same tree listed by Apache httpd (TAP on stdout).
#
# One tree (make_tree: odd names, files of several sizes and dates,
# symbolic links inside and outside the DocumentRoot, 10,000 files, an
# Alias) and one site block (SITE) of <Directory> sections with the Index*
# directives serve both servers.  mpmd's answers are checked on their own
# (403 without Indexes, the index file first, every link of the odd names
# followed, the sort orders against a model of Apache's, IndexIgnore,
# JSON by ?F=json and by Accept, HEAD, the 10,000 files, symbolic links,
# ".." and "%2e%2e", the Alias) and then against Apache's: every listing
# URL of COMPARED, in every ?C=/O= combination and format, must give the
# same status and the same body once links are decoded (mpmd encodes
# every byte outside RFC 3986's unreserved set, Apache fewer and in lower
# case).  Without /usr/sbin/apache2 the comparison is skipped.
# Run by hand:
#   MPMD=$PWD/src/mpmd PYTHONPATH=tests/integration python3 tests/integration/test_autoindex.py

import html
import html.parser
import json
import os
import re
import shutil
import tempfile
import time
import urllib.parse

import mpmdtest
from mpmdtest import Server, run_tests

try:
    import test_apache_compare as apache
except ImportError:            # run from elsewhere: no comparison
    apache = None

ODD_NAMES = [
    b"sp ace.txt", b"lt<gt>.txt", b"amp&er.txt", b'quo"te.txt', b"apos'.txt",
    b"per%25cent%.txt", b"hash#.txt", b"ques?tion.txt", b"plus+semi;eq=.txt",
    b"colon:first.txt", b"back\\slash.txt", b"\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac.txt",
    b"..dotdot.txt", b"...", b"bad\xffbyte.txt", b"tab\there.txt", b"~tilde-_.txt",
    b"new\nline.txt",
]
BIG_COUNT = 10000
BASE_MTIME = 1700000000

# The sort tree: name -> (size or None for a directory, mtime offset).
SORT_TREE = {
    b"b.txt": (30, 300), b"a": (None, 200), b"a.txt": (10, 300), b"C.txt": (20, 100),
    b"f10": (20, 50), b"f9": (20, 50), b"dir2": (None, 400), b".hidden": (5, 250),
    b"x~": (1, 260), b"README.txt": (7, 270), b"log.log": (3, 280), b"Zed": (None, 10),
}

SITE = r'''
<Directory "@ROOT@/www">
    Options +Indexes
</Directory>
<Directory "@ROOT@/www/ff">
    IndexOptions FancyIndexing FoldersFirst
</Directory>
<Directory "@ROOT@/www/table">
    IndexOptions FancyIndexing HTMLTable
</Directory>
<Directory "@ROOT@/www/ign">
    IndexIgnore .??* *~ *# HEADER* README* RCS CVS *,v *,t
</Directory>
<Directory "@ROOT@/www/ign/reset">
    IndexIgnoreReset On
    IndexIgnore *.log
</Directory>
<Directory "@ROOT@/www/ordered">
    IndexOptions FancyIndexing
    IndexOrderDefault Descending Size
</Directory>
<Directory "@ROOT@/www/ic">
    IndexOptions FancyIndexing IgnoreCase SuppressIcon
</Directory>
<Directory "@ROOT@/www/vs">
    IndexOptions FancyIndexing VersionSort NameWidth=* SuppressRules
</Directory>
<Directory "@ROOT@/www/client">
    IndexOptions FancyIndexing IgnoreClient
</Directory>
<Directory "@ROOT@/www/plus">
    IndexOptions FancyIndexing
</Directory>
<Directory "@ROOT@/www/plus/more">
    IndexOptions +SuppressSize +SuppressLastModified -FancyIndexing +HTMLTable
</Directory>
<Directory "@ROOT@/www/noidx">
    Options -Indexes
</Directory>
<Directory "@ROOT@/www/nolinks">
    Options -FollowSymLinks
</Directory>
<Files "secret.txt">
    Require all denied
</Files>
Alias /al/ "@ROOT@/aliased/"
<Directory "@ROOT@/aliased">
    Options +Indexes
    IndexOptions FancyIndexing NameWidth=20
</Directory>
'''

# Listing URLs compared with Apache (each with every ?C=/O= and F=).
COMPARED = ["/", "/sort/", "/ff/", "/table/", "/ign/", "/ign/reset/", "/ordered/", "/ic/",
            "/vs/", "/client/", "/plus/", "/plus/more/", "/links/", "/nolinks/", "/deny/",
            "/al/", "/al/sub/", "/odd/", "/hasindex/", "/noidx/"]
SORT_QUERIES = [""] + ["?C=%s;O=%s" % (c, o) for c in "NMSD" for o in "AD"]


def write(path, data, mtime=BASE_MTIME):
    with open(path, "wb") as f:
        f.write(data)
    os.utime(path, (mtime, mtime))


def make_sort_tree(d):
    os.makedirs(d)
    for name, (size, off) in SORT_TREE.items():
        p = os.path.join(d, os.fsdecode(name))
        if size is None:
            os.mkdir(p)
        else:
            write(p, b"s" * size)
        os.utime(p, (BASE_MTIME + off, BASE_MTIME + off))


def make_tree(root):
    www = os.path.join(root, "www")
    out = os.path.join(root, "outside")
    os.makedirs(os.path.join(out, "outdir"))
    write(os.path.join(out, "secret-out.txt"), b"outside\n")
    write(os.path.join(out, "outdir", "o.txt"), b"o\n")
    os.makedirs(os.path.join(www, "hasindex"))
    write(os.path.join(www, "hasindex", "index.html"), b"<p>the index</p>\n")
    write(os.path.join(www, "hasindex", "other.txt"), b"other\n")
    write(os.path.join(www, "top.txt"), b"top\n")
    for d in ("sort", "ff", "table", "ign", "ordered", "ic", "vs", "client", "plus",
              "plus/more", "noidx"):
        make_sort_tree(os.path.join(www, d))
    make_sort_tree(os.path.join(www, "ign", "reset"))
    write(os.path.join(www, "ign", "#auto#"), b"#\n")
    odd = os.path.join(www, "odd")
    os.makedirs(os.path.join(odd, "sub dir#1"))
    write(os.path.join(odd, "sub dir#1", "in.txt"), b"in sub\n")
    for i, name in enumerate(ODD_NAMES):
        write(os.path.join(os.fsencode(odd), name), b"content of " + name + b"\n",
              BASE_MTIME + i)
    for d in ("links", "nolinks"):
        ld = os.path.join(www, d)
        os.makedirs(ld)
        write(os.path.join(ld, "plain.txt"), b"plain\n")
        os.symlink("plain.txt", os.path.join(ld, "link-in"))
        os.symlink(os.path.join(out, "secret-out.txt"), os.path.join(ld, "link-out"))
        os.symlink(os.path.join(out, "outdir"), os.path.join(ld, "link-outdir"))
        os.symlink("nothing-here", os.path.join(ld, "dangling"))
        os.mkfifo(os.path.join(ld, "fifo"))
    os.makedirs(os.path.join(www, "deny"))
    write(os.path.join(www, "deny", "secret.txt"), b"no\n")
    write(os.path.join(www, "deny", "public.txt"), b"yes\n")
    big = os.path.join(www, "big")
    os.makedirs(big)
    for i in range(BIG_COUNT):
        with open(os.path.join(big, "f%05d" % i), "wb"):
            pass
    al = os.path.join(root, "aliased")
    os.makedirs(os.path.join(al, "sub"))
    write(os.path.join(al, "a-rather-long-name-for-the-column.txt"), b"long\n")
    write(os.path.join(al, "sub", "s.txt"), b"s\n")
    for dirpath, dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for f in filenames:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p) and os.path.isfile(p):
                os.chmod(p, 0o644)
    return www


def site(root):
    return SITE.replace("@ROOT@", root)

# ---------------------------------------------------------------- reading listings


class Anchors(html.parser.HTMLParser):
    """Every <a href> of a page: [(href, text)]."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links = []
        self._href = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href = dict(attrs).get("href")
            self._text = ""

    def handle_data(self, data):
        if self._href is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links.append((self._href, self._text))
            self._href = None


def anchors(body):
    p = Anchors()
    p.feed(body.decode("utf-8", "surrogateescape"))
    p.close()
    return p.links


def entry_links(body):
    """The entries' links of a listing: no column links, no Parent Directory."""
    return [(h, t.strip()) for h, t in anchors(body)
            if not h.startswith("?") and t.strip() != "Parent Directory"]


def listed(body):
    """The entries' names, as bytes (directories with their '/'), in page order."""
    names = [urllib.parse.unquote_to_bytes(h) for h, _ in entry_links(body)]
    return [n[2:] if n.startswith(b"./") else n for n in names]   # Apache's "./a:b"


def get(s, path, headers=None, method="GET"):
    return s.get(path, method=method, headers=headers)

# ---------------------------------------------------------------- a model of Apache's order


def model_order(key, order, folders_first=False, ignore_case=False, fancy=True,
                tree=SORT_TREE, hidden=()):
    def name(n):
        return n + b"/" if tree[n][0] is None else n

    def size(n):
        return -1 if not fancy or tree[n][0] is None else tree[n][0]

    def mtime(n):
        return tree[n][1] if fancy else 0

    names = [n for n in tree if n not in hidden]

    def cmp_key(n):
        k = {"M": mtime(n), "S": size(n)}.get(key, 0)
        nm = name(n)
        return (k, nm.lower() if ignore_case else nm, nm)
    asc = sorted(names, key=cmp_key)
    if order == "D":
        asc.reverse()
    if folders_first and fancy:
        asc = ([n for n in asc if tree[n][0] is None] +
               [n for n in asc if tree[n][0] is not None])
    return [name(n) for n in asc]

# ---------------------------------------------------------------- checks against mpmd alone


def basics(t, s):
    r = get(s, "/top.txt")
    t.eq((r.status, r.body), (200, b"top\n"), "a file still answers as a file")
    r = get(s, "/noidx/")
    t.eq(r.status, 403, "Options -Indexes: a directory without an index file is 403")
    r = get(s, "/hasindex/")
    t.eq((r.status, r.body), (200, b"<p>the index</p>\n"), "the index file wins over the listing")
    r = get(s, "/sort")
    t.eq(r.status, 301, "a directory without its slash still redirects first")
    r = get(s, "/")
    t.eq(r.status, 200, "Options +Indexes: / lists")
    t.eq(r.header("Content-Type"), "text/html;charset=UTF-8", "listing: Content-Type")
    t.eq(r.header("Vary"), "Accept", "listing: Vary: Accept (the format may come from Accept)")
    t.eq(r.header("ETag"), None, "listing: no ETag")
    t.eq(r.header("Last-Modified"), None, "listing: no Last-Modified (as Apache's)")
    t.contains(b"<title>Index of /</title>", r.body, "title: Index of /")
    t.ok(b"Parent Directory" not in r.body, "no Parent Directory at the DocumentRoot")
    names = listed(r.body)
    t.ok(b"top.txt" in names and b"sort/" in names and b"odd/" in names,
         "/ lists its files and directories (directories with '/')", diag=repr(names[:20]))
    r = get(s, "/sort/")
    t.contains(b'<h1>Index of /sort</h1>', r.body, "h1 without the trailing slash")
    links = anchors(r.body)
    t.eq(links[0] if links else None, ("/", " Parent Directory"),
         "the plain list starts with Parent Directory, linked to the parent")
    t.eq(listed(r.body), model_order("N", "A", fancy=False),
         "built-in default: every name but . and .. (dot files too), by name")
    t.ok(b"<ul>" in r.body and b"<pre>" not in r.body, "no IndexOptions: Apache's plain <ul> list")


def head_and_cache(t, s, www):
    g = get(s, "/sort/")
    h = get(s, "/sort/", method="HEAD")
    t.eq((h.status, h.body), (200, b""), "HEAD of a listing: 200, no body")
    t.eq(h.header("Content-Length"), str(len(g.body)), "HEAD: Content-Length of the GET body")
    t.eq(h.header("Content-Type"), g.header("Content-Type"), "HEAD: same Content-Type")
    d = os.path.join(www, "sort")
    before = os.stat(d)
    p = os.path.join(d, "new-file.txt")
    write(p, b"n")
    try:
        r = get(s, "/sort/")
        t.ok(b"new-file.txt" in listed(r.body),
             "a new file shows at once (listings are not cached)")
    finally:
        os.unlink(p)
        os.utime(d, ns=(before.st_atime_ns, before.st_mtime_ns))   # as Apache saw it
    r = get(s, "/sort/")
    t.ok(b"new-file.txt" not in listed(r.body), "a removed file is gone at once")


def odd_names(t, s):
    r = get(s, "/odd/")
    t.eq(r.status, 200, "odd names: listing answers")
    links = entry_links(r.body)
    got = {urllib.parse.unquote_to_bytes(h): txt for h, txt in links}
    want = set(ODD_NAMES) | {b"sub dir#1/"}
    t.eq(set(got), want, "odd names: every name is listed once, its link decodes to it")
    for h, txt in links:
        name = urllib.parse.unquote_to_bytes(h)
        t.ok(re.fullmatch(r"[A-Za-z0-9._~%/-]+", h) is not None,
             "odd names: link of %r is fully percent-encoded (%s)" % (name, h))
        t.eq(txt.encode("utf-8", "surrogateescape"), name,
             "odd names: text of %r is the name, HTML-escaped" % name)
        resp = get(s, "/odd/" + h)
        if name.endswith(b"/"):
            t.eq((resp.status, listed(resp.body)), (200, [b"in.txt"]),
                 "odd names: following %s lists the subdirectory" % h)
        else:
            t.eq((resp.status, resp.body), (200, b"content of " + name + b"\n"),
                 "odd names: following %s gives the file" % h)
    t.ok(b"<" + b"lt" not in r.body and b"lt<gt>" not in r.body and b"quo\"te" not in r.body,
         "odd names: no raw '<' or '\"' of a name in the page")


def json_listing(t, s):
    r = get(s, "/odd/?F=json")
    t.eq((r.status, r.header("Content-Type")), (200, "application/json"), "?F=json: JSON")
    t.eq(r.header("Vary"), None, "?F=json: no Vary (the query chose)")
    try:
        data = json.loads(r.body.decode("ascii", "strict") if r.body.isascii()
                          else r.body.decode("utf-8"))
    except ValueError as e:
        t.ok(False, "?F=json parses", diag="%s\n%r" % (e, r.body[:500]))
        return
    t.ok(isinstance(data, list), "JSON: an array")
    names = {os.fsencode(e["name"]) for e in data}
    t.eq(names, set(ODD_NAMES) | {b"sub dir#1"}, "JSON: names round-trip exactly "
         "(UTF-8 as is, a stray byte as \\udcXX, control characters escaped)")
    by_name = {os.fsencode(e["name"]): e for e in data}
    e = by_name.get(b"sp ace.txt", {})
    t.eq((e.get("type"), e.get("size"), e.get("mtime_epoch"), e.get("mtime")),
         ("file", len(b"content of sp ace.txt\n"), BASE_MTIME,
          time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(BASE_MTIME))),
         "JSON: type, size, mtime_epoch and ISO 8601 mtime of a file")
    d = by_name.get(b"sub dir#1", {})
    t.eq((d.get("type"), d.get("size"), d.get("href")), ("directory", None, "sub%20dir%231/"),
         "JSON: a directory: type, null size, href with its slash")
    for e in data:
        t.eq(urllib.parse.unquote_to_bytes(e["href"]).rstrip(b"/"), os.fsencode(e["name"]),
             "JSON: href of %r decodes to its name" % e["name"])
    r = get(s, "/?F=json")
    dirs = {e["name"]: e for e in json.loads(r.body)}
    own = int(os.stat(os.path.join(s.docroot_conf, "hasindex")).st_mtime)
    t.eq(dirs.get("hasindex", {}).get("mtime_epoch"), own,
         "JSON: a directory's own date, even with an index file in it")
    for accept, want in (("application/json", "application/json"),
                         ("text/html, application/json", "text/html;charset=UTF-8"),
                         ("*/*", "text/html;charset=UTF-8"),
                         ("Application/JSON; q=0.9", "application/json")):
        r = get(s, "/sort/", headers=[("Accept", accept)])
        t.eq((r.header("Content-Type"), r.header("Vary")), (want, "Accept"),
             "Accept: %s -> %s, Vary: Accept" % (accept, want))
    r = get(s, "/sort/?C=S;O=D&F=json")
    got = [os.fsencode(e["name"]) + (b"/" if e["type"] == "directory" else b"")
           for e in json.loads(r.body)]
    t.eq(got, model_order("S", "D"), "JSON follows ?C=S;O=D")
    r = get(s, "/sort/?F=1", headers=[("Accept", "application/json")])
    t.eq((r.header("Content-Type"), r.header("Vary")), ("text/html;charset=UTF-8", None),
         "?F=1 wins over Accept: application/json (no Vary)")


def sort_orders(t, s):
    for key in "NMSD":
        for order in "AD":
            q = "?C=%s;O=%s" % (key, order)
            for fmt, fancy in (("0", False), ("1", True), ("2", True)):
                r = get(s, "/sort/%s;F=%s" % (q, fmt))
                t.eq(listed(r.body), model_order(key, order, fancy=fancy),
                     "/sort/%s;F=%s: Apache's order" % (q, fmt))
            r = get(s, "/ff/" + q.replace(";", "&"))
            t.eq(listed(r.body), model_order(key, order, folders_first=True),
                 "FoldersFirst %s ('&' separators): directories first, then the order" % q)
            r = get(s, "/ic/" + q)
            t.eq(listed(r.body), model_order(key, order, ignore_case=True),
                 "IgnoreCase %s" % q)
    r = get(s, "/ff/?C=N;O=D")
    t.contains(b'<a href="?C=N;O=A">Name</a>', r.body,
               "the active column's link flips the order (O=D -> O=A)")
    t.contains(b'<a href="?C=S;O=A">Size</a>', r.body, "other columns link ascending")
    r = get(s, "/ordered/")
    t.eq(listed(r.body), model_order("S", "D"), "IndexOrderDefault Descending Size")
    r = get(s, "/ordered/?C=N")
    t.eq(listed(r.body), model_order("N", "D"), "?C=N alone keeps IndexOrderDefault's direction")
    r = get(s, "/client/?C=S;O=D")
    t.eq(listed(r.body), model_order("N", "A"), "IgnoreClient: ?C=S;O=D ignored")
    t.ok(b"?C=" not in r.body, "IgnoreClient: no sort links")
    r = get(s, "/vs/")
    names = listed(r.body)
    t.ok(b"f9" in names and b"f10" in names and names.index(b"f9") < names.index(b"f10"),
         "VersionSort: f9 before f10", diag=repr(names))
    r = get(s, "/sort/?P=*.txt;C=S;O=D;F=1")
    t.eq(listed(r.body), [n for n in model_order("S", "D") if n.endswith(b".txt")],
         "?P=*.txt: only the names the pattern matches (hidden ones too: *.txt, not .*)")
    t.contains(b'href="?C=N;O=A;F=1;P=%2A.txt"', r.body, "the column links keep P=, encoded")
    r = get(s, "/sort/?P=%22%3E%3Cb%3Ex;F=1")
    t.eq((r.status, listed(r.body)), (200, []), "a P= that matches nothing: an empty listing")
    t.ok(b'"><b>' not in r.body and b"P=%22%3E%3Cb%3Ex" in r.body,
         "a hostile P= never reaches the page unescaped")
    r = get(s, "/sort/?C=X;O=D")
    t.eq(listed(r.body), model_order("N", "A", fancy=False),
         "an unknown C= ends the query parse (the rest is ignored, as Apache's)")


def ignore_and_options(t, s):
    hidden = (b".hidden", b"x~", b"README.txt")
    r = get(s, "/ign/")
    names = listed(r.body)
    t.eq(names, sorted(names), "IndexIgnore: what is left is still by name")
    t.eq(set(names), {n + (b"/" if SORT_TREE[n][0] is None else b"")
                      for n in SORT_TREE if n not in hidden} | {b"reset/"},
         "IndexIgnore .??* *~ README* and the rest: dot files, backups, README*, "
         "autosaves left out")
    r = get(s, "/ign/reset/")
    names = set(listed(r.body))
    t.ok(b".hidden" in names and b"x~" in names and b"log.log" not in names,
         "IndexIgnoreReset On: inherited patterns dropped, its own *.log applies",
         diag=repr(sorted(names)))
    r = get(s, "/plus/more/")
    t.ok(b"<table>" in r.body and b"Size</a>" not in r.body and b"Last modified" not in r.body,
         "IndexOptions +HTMLTable +SuppressSize +SuppressLastModified over a parent's "
         "FancyIndexing",
         diag=r.body[:600].decode("utf-8", "replace"))
    r = get(s, "/deny/")
    t.eq(listed(r.body), [b"public.txt"], "a file Require denies (<Files>) is not listed")
    t.eq(get(s, "/deny/secret.txt").status, 403, "... and is 403 itself")


def big_directory(t, s):
    t0 = time.monotonic()
    r = get(s, "/big/?F=json")
    took = time.monotonic() - t0
    data = json.loads(r.body) if r.status == 200 else []
    t.eq(len(data), BIG_COUNT, "10,000 entries: all in the JSON listing (%.2fs)" % took)
    t.eq([e["name"] for e in data[:2]] + [data[-1]["name"]] if data else [],
         ["f00000", "f00001", "f%05d" % (BIG_COUNT - 1)], "10,000 entries: by name")
    r = get(s, "/big/?F=1;C=N;O=D")
    names = listed(r.body)
    t.eq((len(names), names[0] if names else None), (BIG_COUNT, b"f%05d" % (BIG_COUNT - 1)),
         "10,000 entries: HTML, descending")


def symlinks(t, s):
    r = get(s, "/links/")
    names = set(listed(r.body))
    t.eq(names, {b"plain.txt", b"link-in", b"link-out", b"link-outdir/"},
         "FollowSymLinks: links whose target exists are listed (a directory's with '/'); "
         "no dangling link, no fifo")
    t.eq(get(s, "/links/link-out").status, 200, "... and a listed link is served")
    r = get(s, "/nolinks/")
    t.eq(set(listed(r.body)), {b"plain.txt"}, "-FollowSymLinks: no symbolic link is listed")
    t.eq(get(s, "/nolinks/link-outdir/").status, 403,
         "-FollowSymLinks: a linked directory outside the DocumentRoot is not listed (403)")
    for path in ("/../", "/%2e%2e/", "/sort/../../", "/%2E%2E/%2e%2e/", "/sort/%2e%2e/%2e%2e/"):
        r = get(s, path)
        t.ok(r.status in (400, 403, 404) and b"Index of" not in r.body,
             "%s: no listing above the DocumentRoot (%d)" % (path, r.status))


def aliased(t, s):
    r = get(s, "/al/")
    t.eq(r.status, 200, "Alias'ed directory lists")
    t.contains(b"<title>Index of /al</title>", r.body, "Alias: title is the URL path")
    links = anchors(r.body)
    parent = [h for h, txt in links if txt.strip() == "Parent Directory"]
    t.eq(parent, ["/"], "Alias: Parent Directory is the URL's parent")
    for h, _ in entry_links(r.body):
        t.eq(get(s, "/al/" + h).status, 200, "Alias: link %s resolves under /al/" % h)
    t.contains(b">a-rather-long-nam..&gt;</a> ", r.body, "NameWidth=20 cuts long names with '..>'")
    r = get(s, "/al/sub/")
    t.eq(([h for h, txt in anchors(r.body) if txt.strip() == "Parent Directory"],
          listed(r.body)), (["/al/"], [b"s.txt"]), "Alias: a subdirectory's parent is /al/")


def vhost_conf(root):
    """A virtual host over the main server's Index* settings (ai_merge)."""
    return "\n".join([
        "<Directory \"%s/www\">" % root, "    Options +Indexes", "</Directory>",
        "IndexOptions FancyIndexing", "IndexIgnore *.log",
        "<VirtualHost *>", "    ServerName v.example", "    DocumentRoot \"%s/www\"" % root,
        "    IndexOptions +FoldersFirst", "    IndexIgnore *.txt", "</VirtualHost>",
        "<VirtualHost *>", "    ServerName r.example", "    DocumentRoot \"%s/www\"" % root,
        "    IndexIgnoreReset On", "    IndexOrderDefault Descending Name", "</VirtualHost>",
    ])


def virtual_hosts(t, s):
    txt = [n for n in SORT_TREE if n.endswith(b".txt")]
    r = get(s, "/sort/", headers=[("Host", "v.example")])
    t.eq(listed(r.body), model_order("N", "A", folders_first=True, hidden=txt + [b"log.log"]),
         "virtual host: +FoldersFirst over the main server's FancyIndexing; its IndexIgnore "
         "*.txt added to the main server's *.log")
    r = get(s, "/sort/", headers=[("Host", "r.example")])
    t.eq(listed(r.body), model_order("N", "D"),
         "virtual host with IndexIgnoreReset On: the main server's *.log shows again; "
         "its IndexOrderDefault Descending Name")
    t.contains(b"<pre>", r.body, "virtual host: the main server's FancyIndexing inherited")

# ---------------------------------------------------------------- against Apache


HREF = re.compile(rb'href="([^"?][^"]*)"')


def normalized(body):
    """BODY with every entry link decoded (Apache encodes fewer bytes, in lower case)."""
    def dec(m):
        v = html.unescape(m.group(1).decode("latin-1")).encode("latin-1")
        v = urllib.parse.unquote_to_bytes(v)
        if v.startswith(b"./"):
            v = v[2:]
        return b'href="' + v + b'"'
    return HREF.sub(dec, body)


def fetch_all(port, urls):
    out = {}
    for u in urls:
        try:
            out[u] = mpmdtest.request(port, "GET", u)
        except (OSError, mpmdtest.ProtocolError) as e:
            out[u] = "error: %s" % e
    return out


def compared_urls():
    urls = []
    for d in COMPARED:
        for q in SORT_QUERIES:
            urls.append(d + q)
        for f in "012":
            urls.append(d + "?C=M;O=D;F=" + f)
            urls.append(d + "?F=%s&C=S&O=A" % f)
    return urls


def apache_side(t, tmp, root):
    if apache is None or not os.access(apache.APACHE, os.X_OK):
        t.skip("comparison with Apache", "apache2 not installed")
        return None
    adir = os.path.join(tmp, "apache")
    os.makedirs(adir)
    os.chmod(adir, 0o755)
    os.makedirs(os.path.join(root, "main"), mode=0o755, exist_ok=True)  # the base config's

    def conf(ports):
        text = apache.apache_conf(adir, root, ports)
        head, _sep, _rest = text.partition("# ---- shared site block")
        static = apache.compiled_in_modules()
        mods = "".join("LoadModule %s_module %s/mod_%s.so\n" % (m, apache.APACHE_MODULES, m)
                       for m in ("autoindex",) if "mod_" + m not in static)
        return head + mods + 'DocumentRoot "%s/www"\n' % root + site(root)

    d = apache.Daemon("apache", adir, lambda c: [apache.APACHE, "-f", c, "-DFOREGROUND"],
                      conf, apache.APACHE_START_TIMEOUT)
    try:
        if not t.ok(d.start(), "apache2 starts with the listing site", diag=d.output()):
            return None
        return fetch_all(d.ports["P1"], compared_urls())
    finally:
        d.stop()


def compare_with_apache(t, s, answers):
    ours = fetch_all(s.port, compared_urls())
    same = 0
    for u in compared_urls():
        a, m = answers[u], ours[u]
        if isinstance(a, str) or isinstance(m, str):
            t.ok(False, "apache vs mpmd %s: both answer" % u, diag="%r / %r" % (a, m))
            continue
        ok = (a.status, listed(a.body) if a.status == 200 else None) == \
            (m.status, listed(m.body) if m.status == 200 else None)
        t.ok(ok, "apache vs mpmd %s: same status, same names in the same order" % u,
             diag="apache %d %r\nmpmd   %d %r" % (a.status, listed(a.body)[:30], m.status,
                                                  listed(m.body)[:30]))
        if a.status == 200 and m.status == 200:
            if normalized(a.body) == normalized(m.body):
                same += 1
            else:
                t.ok(False, "apache vs mpmd %s: same page once links are decoded" % u,
                     diag="apache:\n%s\nmpmd:\n%s" % (
                         normalized(a.body)[:1500].decode("utf-8", "replace"),
                         normalized(m.body)[:1500].decode("utf-8", "replace")))
    t.diag("%d listings byte-identical to Apache's once links are decoded" % same)

# ---------------------------------------------------------------- main


def main(t):
    tmp = tempfile.mkdtemp(prefix="mpmdtest-autoindex-")
    try:
        os.chmod(tmp, 0o755)
        root = os.path.realpath(tmp)
        www = make_tree(root)
        answers = apache_side(t, tmp, root)
        with Server(conf_extra=site(root), tap=t, docroot_conf=www) as s:
            for name, fn in (("basics", lambda: basics(t, s)),
                             ("HEAD and no cache", lambda: head_and_cache(t, s, www)),
                             ("odd names", lambda: odd_names(t, s)),
                             ("JSON", lambda: json_listing(t, s)),
                             ("sort orders", lambda: sort_orders(t, s)),
                             ("IndexIgnore and IndexOptions", lambda: ignore_and_options(t, s)),
                             ("10,000 entries", lambda: big_directory(t, s)),
                             ("symbolic links and ..", lambda: symlinks(t, s)),
                             ("Alias", lambda: aliased(t, s))):
                with t.guard(name):
                    fn()
            if answers is not None:
                with t.guard("comparison with Apache"):
                    compare_with_apache(t, s, answers)
        with Server(conf_extra=vhost_conf(root), tap=t, docroot_conf=www) as s:
            with t.guard("virtual hosts"):
                virtual_hosts(t, s)
        with Server(conf_extra=site(root), tap=t, docroot_conf=www, mpm="worker") as s:
            r = get(s, "/sort/?C=M;O=D;F=2")
            t.eq((r.status, listed(r.body)), (200, model_order("M", "D")),
                 "MPM worker: the listing answers the same")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(run_tests(main))
