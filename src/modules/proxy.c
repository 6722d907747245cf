/* proxy.c: mod_proxy's configuration and the "proxy" handler (proxy.h).
 *
 * Configuration runs where it loads: ProxyPass PATH URL in a server or
 * virtual host (a list, first match wins, the virtual host's entries
 * before the main server's), ProxyPass URL in a <Location> (the handler
 * for that section), SetHandler "proxy:URL", and the settings around
 * them.  proxy_translate (any thread, never blocks) claims a request whose
 * path a server-level ProxyPass names; proxy_handle (handler threads)
 * works out the upstream and the target and calls the forwarder of the
 * URL's scheme.  Each child keeps its upstream connections in a
 * struct upstream_set (child_init). */
#include "config.h"

#include "mpmd/modules/proxy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mpmd/core/config.h"
#include "mpmd/core/dirconf.h"
#include "mpmd/core/log.h"
#include "mpmd/core/scoreboard.h"

#define PROXY_DEFAULT_TTL 1       /* below gunicorn's 2 s keep-alive (docs/proxy.md) */
#define PROXY_DEFAULT_FIELD_SIZE 8192

/* ProxyPass PATH URL|! (or, in a <Location>, URL|! with the section's path). */
struct proxy_pass {
    char *prefix;                 /* local URL path, slashes squeezed */
    int exclude;                  /* "!" */
    struct proxy_worker *w;       /* owned; NULL when EXCLUDE */
};

/* ProxyPassReverse PATH URL. */
struct proxy_reverse {
    char *path;
    char *url;
};

struct proxy_conf {
    struct proxy_pass *pass;      /* server/vhost ProxyPass, in order */
    int n_pass;
    struct proxy_pass *here;      /* ProxyPass in a <Location>, or NULL */
    struct proxy_worker *handler_worker; /* SetHandler "proxy:URL", or NULL */
    struct proxy_reverse *rev;
    int n_rev;
    int preserve_host;            /* -1: not set */
    int add_headers;              /* -1: not set */
    int timeout;                  /* ProxyTimeout; -1: not set */
    struct authz *trusted;        /* ProxyTrustForwardedFrom; owned; NULL: nobody */
    char **trusted_args;          /* its addresses as written (for merging); owned */
    int n_trusted;
};

/* ---- configuration -------------------------------------------------------- */

static void *proxy_create(void)
{
    struct proxy_conf *c = calloc(1, sizeof *c);
    if (c)
        c->preserve_host = c->add_headers = c->timeout = -1;
    return c;
}

static void worker_free(struct proxy_worker *w)
{
    if (w == NULL)
        return;
    free(w->authority);
    free(w->path);
    free(w);
}

static void pass_free(struct proxy_pass *p)
{
    free(p->prefix);
    worker_free(p->w);
}

static void proxy_destroy(void *conf)
{
    struct proxy_conf *c = conf;
    if (c == NULL)
        return;
    for (int i = 0; i < c->n_pass; i++)
        pass_free(&c->pass[i]);
    free(c->pass);
    if (c->here) {
        pass_free(c->here);
        free(c->here);
    }
    worker_free(c->handler_worker);
    for (int i = 0; i < c->n_rev; i++) {
        free(c->rev[i].path);
        free(c->rev[i].url);
    }
    free(c->rev);
    authz_free(c->trusted);
    for (int i = 0; i < c->n_trusted; i++)
        free(c->trusted_args[i]);
    free(c->trusted_args);
    free(c);
}

static struct proxy_worker *worker_copy(const struct proxy_worker *src)
{
    if (src == NULL)
        return NULL;
    struct proxy_worker *w = malloc(sizeof *w);
    if (w == NULL)
        return NULL;
    *w = *src;
    w->authority = strdup(src->authority);
    w->path = strdup(src->path);
    if (w->authority == NULL || w->path == NULL) {
        worker_free(w);
        return NULL;
    }
    return w;
}

static int pass_copy(struct proxy_pass *dst, const struct proxy_pass *src)
{
    *dst = (struct proxy_pass){.exclude = src->exclude, .prefix = strdup(src->prefix)};
    dst->w = worker_copy(src->w);
    return dst->prefix && (src->w == NULL || dst->w) ? 0 : -1;
}

static int append_passes(struct proxy_conf *to, const struct proxy_conf *from)
{
    for (int i = 0; from && i < from->n_pass; i++)
        if (pass_copy(&to->pass[to->n_pass++], &from->pass[i]) == -1)
            return -1;
    return 0;
}

static int append_reverse(struct proxy_conf *to, const struct proxy_conf *from)
{
    for (int i = 0; from && i < from->n_rev; i++) {
        struct proxy_reverse *r = &to->rev[to->n_rev++];
        r->path = strdup(from->rev[i].path);
        r->url = strdup(from->rev[i].url);
        if (r->path == NULL || r->url == NULL)
            return -1;
    }
    return 0;
}

/* ProxyTrustForwardedFrom's addresses ARGV into C: a `Require ip` rule. */
static int add_trusted(struct proxy_conf *c, int argc, char **argv, char *err, size_t errlen)
{
    char *args[66];
    if (argc > 64 || c->n_trusted + argc > 256) {
        snprintf(err, errlen, "at most 256 addresses");
        return -1;
    }
    args[0] = (char *)"ip";
    for (int i = 0; i < argc; i++)
        args[i + 1] = argv[i];
    char **all = realloc(c->trusted_args, (size_t)(c->n_trusted + argc) * sizeof *all);
    if (all)
        c->trusted_args = all;
    if (all == NULL || (c->trusted == NULL && (c->trusted = authz_new(AUTHZ_ANY)) == NULL)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (authz_add_require(c->trusted, argc + 1, args, err, errlen) == -1)
        return -1;
    for (int i = 0; i < argc; i++)
        if ((c->trusted_args[c->n_trusted++] = strdup(argv[i])) == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    return 0;
}

static int pick(int add, int base)
{
    return add != -1 ? add : base;
}

/* A virtual host over the main server: its ProxyPass and
 * ProxyPassReverse entries first, then the main server's; its settings
 * where it has them.  (Sections are not merged: the handler reads their
 * chain, handler_dir_confs.) */
static void *proxy_merge(const void *base, const void *add)
{
    const struct proxy_conf *b = base, *a = add;
    struct proxy_conf *m = proxy_create();
    int n_pass = (a ? a->n_pass : 0) + (b ? b->n_pass : 0);
    int n_rev = (a ? a->n_rev : 0) + (b ? b->n_rev : 0);
    if (m == NULL)
        return NULL;
    if ((n_pass && (m->pass = calloc((size_t)n_pass, sizeof *m->pass)) == NULL) ||
        (n_rev && (m->rev = calloc((size_t)n_rev, sizeof *m->rev)) == NULL) ||
        append_passes(m, a) == -1 || append_passes(m, b) == -1 || append_reverse(m, a) == -1 ||
        append_reverse(m, b) == -1) {
        proxy_destroy(m);
        return NULL;
    }
    m->preserve_host = pick(a ? a->preserve_host : -1, b ? b->preserve_host : -1);
    m->add_headers = pick(a ? a->add_headers : -1, b ? b->add_headers : -1);
    m->timeout = pick(a ? a->timeout : -1, b ? b->timeout : -1);
    const struct proxy_conf *t = a && a->n_trusted ? a : b;
    char err[256];
    if (t && t->n_trusted && add_trusted(m, t->n_trusted, t->trusted_args, err, sizeof err) == -1) {
        proxy_destroy(m);
        return NULL;
    }
    return m;
}

/* ---- URLs and worker parameters -------------------------------------------- */

static int set_error(char *err, size_t errlen, const char *fmt, const char *arg)
{
    snprintf(err, errlen, fmt, arg);
    return -1;
}

/* Parse URL (with an optional "unix:/path|" before it) into W. */
static int parse_url(struct proxy_worker *w, const char *url, char *err, size_t errlen)
{
    char sock[256] = "";
    const char *bar = NULL;
    if (strncasecmp(url, "unix:", 5) == 0) {
        bar = strchr(url, '|');
        if (bar == NULL || (size_t)(bar - url - 5) >= sizeof sock)
            return set_error(err, errlen, "expected unix:/PATH|SCHEME://HOST/..., got '%s'", url);
        memcpy(sock, url + 5, (size_t)(bar - url - 5));
        sock[bar - url - 5] = '\0';
        url = bar + 1;
    }
    static const struct { const char *name; enum proxy_scheme scheme; const char *port; } schemes[] = {
        {"http://", PROXY_HTTP, "80"}, {"ws://", PROXY_WS, "80"}, {"fcgi://", PROXY_FCGI, "8000"},
    };
    const char *rest = NULL, *defport = NULL;
    for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++)
        if (strncasecmp(url, schemes[i].name, strlen(schemes[i].name)) == 0) {
            w->scheme = schemes[i].scheme;
            rest = url + strlen(schemes[i].name);
            defport = schemes[i].port;
        }
    if (rest == NULL)
        return set_error(err, errlen, "expected an http://, ws:// or fcgi:// URL (https:// "
                         "upstreams are not supported yet), got '%s'", url);
    size_t alen = strcspn(rest, "/?#");
    if (alen == 0 || alen >= 200)
        return set_error(err, errlen, "expected a host in the URL, got '%s'", url);
    char host[256], port[16];
    const char *a = rest, *colon;
    if (a[0] == '[') {
        const char *close = memchr(a, ']', alen);
        if (close == NULL)
            return set_error(err, errlen, "expected ']' after an IPv6 address, got '%s'", url);
        snprintf(host, sizeof host, "%.*s", (int)(close - a - 1), a + 1);
        colon = close + 1 < a + alen && close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = memchr(a, ':', alen);
        snprintf(host, sizeof host, "%.*s", (int)((colon ? colon : a + alen) - a), a);
    }
    size_t plen = colon ? (size_t)(a + alen - colon - 1) : 0;
    if (colon && (plen == 0 || plen > 5 || strspn(colon + 1, "0123456789") < plen ||
                  atoi(colon + 1) < 1 || atoi(colon + 1) > 65535))
        return set_error(err, errlen, "expected a port number after ':', got '%s'", url);
    snprintf(port, sizeof port, "%.*s", (int)plen, colon ? colon + 1 : "");
    if (!colon)
        snprintf(port, sizeof port, "%s", defport);
    if (strpbrk(rest + alen, "?#") != NULL)
        return set_error(err, errlen, "expected no query or fragment in the URL, got '%s'", url);
    w->authority = strndup(rest, alen);
    w->path = strdup(rest[alen] ? rest + alen : "/");
    if (w->authority == NULL || w->path == NULL)
        return set_error(err, errlen, "%s", "out of memory");
    return upstream_addr_parse(&w->addr, host, port, sock[0] ? sock : NULL, err, errlen);
}

static int param_int(const char *v, int min, int max, int *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || n < min || n > max)
        return -1;
    *out = (int)n;
    return 0;
}

static int on_off(const char *v, int *out)
{
    if (strcasecmp(v, "on") == 0)
        return *out = 1, 0;
    if (strcasecmp(v, "off") == 0)
        return *out = 0, 0;
    return -1;
}

/* One key=value worker parameter. */
static int set_param(struct proxy_worker *w, const char *kv, char *err, size_t errlen)
{
    const char *eq = strchr(kv, '=');
    char key[32];
    if (eq == NULL || eq == kv || (size_t)(eq - kv) >= sizeof key)
        return set_error(err, errlen, "expected KEY=VALUE after the URL, got '%s'", kv);
    snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
    const char *v = eq + 1;
    int on, r = 0;
    if (strcasecmp(key, "max") == 0)
        r = param_int(v, 1, 100000, &w->max);
    else if (strcasecmp(key, "ttl") == 0)
        r = param_int(v, 0, 86400, &w->ttl);
    else if (strcasecmp(key, "connectiontimeout") == 0)
        r = param_int(v, 1, 86400, &w->connect_timeout);
    else if (strcasecmp(key, "timeout") == 0)
        r = param_int(v, 1, 86400, &w->timeout);
    else if (strcasecmp(key, "retry") == 0)
        r = param_int(v, 0, 86400, &w->retry);
    else if (strcasecmp(key, "responsefieldsize") == 0)
        r = param_int(v, 256, 1 << 20, &w->response_field_size);
    else if (strcasecmp(key, "upgrade") == 0) {
        if (strcasecmp(v, "websocket") != 0)
            return set_error(err, errlen, "expected upgrade=websocket (the only protocol "
                             "tunnelled), got '%s'", kv);
        w->upgrade_ws = 1;
    } else if (strcasecmp(key, "disablereuse") == 0) {
        if ((r = on_off(v, &on)) == 0)
            w->reuse = !on;
    } else if (strcasecmp(key, "enablereuse") == 0) {
        if ((r = on_off(v, &on)) == 0)
            w->reuse = on;
    } else if (strcasecmp(key, "keepalive") == 0 || strcasecmp(key, "flushpackets") == 0) {
        r = strcasecmp(v, "on") && strcasecmp(v, "off") && strcasecmp(v, "auto") ? -1 : 0;
    } else {
        return set_error(err, errlen, "unknown parameter '%s': expected max=, ttl=, "
                         "connectiontimeout=, timeout=, retry=, upgrade=websocket, "
                         "responsefieldsize=, disablereuse=, enablereuse=, keepalive=, "
                         "flushpackets=", kv);
    }
    if (r == -1)
        return set_error(err, errlen, "bad value in '%s'", kv);
    return 0;
}

/* A worker from URL and its parameters. */
static struct proxy_worker *worker_new(const char *url, int argc, char **argv, char *err,
                                       size_t errlen)
{
    struct proxy_worker *w = calloc(1, sizeof *w);
    if (w == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->max = w->ttl = w->connect_timeout = w->timeout = -1;
    w->response_field_size = PROXY_DEFAULT_FIELD_SIZE;
    w->reuse = -1;
    if (parse_url(w, url, err, errlen) == -1) {
        worker_free(w);
        return NULL;
    }
    if (w->scheme == PROXY_WS)
        w->upgrade_ws = 1;
    for (int i = 0; i < argc; i++)
        if (set_param(w, argv[i], err, errlen) == -1) {
            worker_free(w);
            return NULL;
        }
    /* php-fpm gives each connection a worker until it closes: pooled idle
     * connections would hold all of pm.max_children and starve new ones.
     * As Apache and nginx, FastCGI connections are reused only when asked
     * (enablereuse=On, with max= at most pm.max_children / StartServers). */
    if (w->reuse == -1)
        w->reuse = w->scheme != PROXY_FCGI;
    return w;
}

static int set_pass(void *conf, const struct directive_place *at, int argc, char **argv,
                    char *err, size_t errlen)
{
    struct proxy_conf *c = conf;
    struct proxy_pass p = {0};
    int in_location = at->ctx == CTX_DIR;
    if (in_location && (at->section_kind != SEC_LOCATION || at->section_regex))
        return set_error(err, errlen, "%s", "ProxyPass stands in a server, a <VirtualHost> or "
                         "a plain <Location> (not a Match form, <Directory> or <Files>)");
    if (!in_location && (argc < 2 || argv[0][0] != '/'))
        return set_error(err, errlen, "expected a URL path starting with '/' and a URL, got "
                         "'%s'", argv[0]);
    const char *path = in_location ? at->section : argv[0];
    const char *url = in_location ? argv[0] : argv[1];
    int nparams = argc - (in_location ? 1 : 2);
    char **params = argv + (in_location ? 1 : 2);
    p.prefix = strdup(path);
    if (p.prefix == NULL)
        return set_error(err, errlen, "%s", "out of memory");
    config_squeeze_slashes(p.prefix);
    if (strcmp(url, "!") == 0) {
        p.exclude = 1;
        if (nparams > 0) {
            free(p.prefix);
            return set_error(err, errlen, "expected nothing after '!', got '%s'", params[0]);
        }
    } else if ((p.w = worker_new(url, nparams, params, err, errlen)) == NULL) {
        free(p.prefix);
        return -1;
    }
    if (in_location) {
        if (c->here) {
            pass_free(&p);
            return set_error(err, errlen, "%s", "one ProxyPass per <Location>");
        }
        if ((c->here = malloc(sizeof *c->here)) == NULL) {
            pass_free(&p);
            return set_error(err, errlen, "%s", "out of memory");
        }
        *c->here = p;
        return p.exclude ? MODULE_SET_NO_HANDLER : MODULE_SET_HANDLER;
    }
    struct proxy_pass *all = realloc(c->pass, (size_t)(c->n_pass + 1) * sizeof *all);
    if (all == NULL) {
        pass_free(&p);
        return set_error(err, errlen, "%s", "out of memory");
    }
    c->pass = all;
    all[c->n_pass++] = p;
    return 0;
}

static int set_reverse(void *conf, const struct directive_place *at, int argc, char **argv,
                       char *err, size_t errlen)
{
    struct proxy_conf *c = conf;
    int in_location = at->ctx == CTX_DIR;
    if (in_location && (at->section_kind != SEC_LOCATION || at->section_regex))
        return set_error(err, errlen, "%s", "ProxyPassReverse stands in a server, a "
                         "<VirtualHost> or a plain <Location> (not a Match form, <Directory> "
                         "or <Files>)");
    if (in_location ? argc != 1 : argc != 2)
        return set_error(err, errlen, "%s", in_location ? "expected a URL (the <Location>'s "
                         "path is the local one)" : "expected a URL path and a URL");
    const char *path = in_location ? at->section : argv[0];
    const char *url = in_location ? argv[0] : argv[1];
    if (path == NULL || path[0] != '/')
        return set_error(err, errlen, "expected a URL path starting with '/', got '%s'",
                         path ? path : "");
    struct proxy_reverse *all = realloc(c->rev, (size_t)(c->n_rev + 1) * sizeof *all);
    if (all == NULL)
        return set_error(err, errlen, "%s", "out of memory");
    c->rev = all;
    struct proxy_reverse r = {strdup(path), strdup(url)};
    if (r.path == NULL || r.url == NULL) {
        free(r.path);
        free(r.url);
        return set_error(err, errlen, "%s", "out of memory");
    }
    c->rev[c->n_rev++] = r;
    return 0;
}

static int set_flag(int *field, const char *v, char *err, size_t errlen)
{
    if (on_off(v, field) == -1)
        return set_error(err, errlen, "expected On or Off, got '%s'", v);
    return 0;
}

static int set_preserve_host(void *conf, const struct directive_place *at, int argc,
                             char **argv, char *err, size_t errlen)
{
    (void)at, (void)argc;
    return set_flag(&((struct proxy_conf *)conf)->preserve_host, argv[0], err, errlen);
}

static int set_add_headers(void *conf, const struct directive_place *at, int argc, char **argv,
                           char *err, size_t errlen)
{
    (void)at, (void)argc;
    return set_flag(&((struct proxy_conf *)conf)->add_headers, argv[0], err, errlen);
}

static int set_timeout(void *conf, const struct directive_place *at, int argc, char **argv,
                       char *err, size_t errlen)
{
    (void)at, (void)argc;
    if (param_int(argv[0], 1, 86400, &((struct proxy_conf *)conf)->timeout) == -1)
        return set_error(err, errlen, "expected seconds (1 to 86400), got '%s'", argv[0]);
    return 0;
}

static int set_trusted(void *conf, const struct directive_place *at, int argc, char **argv,
                       char *err, size_t errlen)
{
    (void)at;
    return add_trusted(conf, argc, argv, err, errlen);
}

static int set_requests(void *conf, const struct directive_place *at, int argc, char **argv,
                        char *err, size_t errlen)
{
    (void)conf, (void)at, (void)argc;
    if (strcasecmp(argv[0], "off") != 0)
        return set_error(err, errlen, "mpmd is no forward proxy: only Off is accepted, got "
                         "'%s'", argv[0]);
    return 0;
}

static int set_backend_type(void *conf, const struct directive_place *at, int argc,
                            char **argv, char *err, size_t errlen)
{
    (void)conf, (void)at, (void)argc;
    if (strcasecmp(argv[0], "FPM") != 0)
        return set_error(err, errlen, "only FPM is supported (SCRIPT_FILENAME is the file's "
                         "path), got '%s'", argv[0]);
    return 0;
}

/* SetHandler "proxy:URL". */
static int set_handler_url(void *conf, const char *arg, char *err, size_t errlen)
{
    struct proxy_conf *c = conf;
    struct proxy_worker *w = worker_new(arg, 0, NULL, err, errlen);
    if (w == NULL)
        return -1;
    worker_free(c->handler_worker);
    c->handler_worker = w;
    return 0;
}

static const struct module_directive proxy_directives[] = {
    {"ProxyPass", "[PATH] URL|! [KEY=VALUE...]", "Answer PATH and below from the upstream URL "
     "(http://, ws://, fcgi://, unix:/SOCKET|...); in a <Location> without PATH; '!' exempts "
     "PATH. The first match wins", CTX_SERVER | CTX_VHOST | CTX_DIR, 1, 14, set_pass, NULL,
     "PATH matches whole path segments (`/app` covers `/app` and `/app/x`, not `/apple`). "
     "Parameters: `max=N` connections to this upstream per child (default: no limit; "
     "more requests wait up to connectiontimeout, then 503), `ttl=S` seconds an idle "
     "connection is kept for reuse (default 1: below gunicorn's 2 s and uvicorn's 5 s "
     "keep-alive; 0 never reuses), `connectiontimeout=S` (default: timeout), `timeout=S` "
     "(default ProxyTimeout), `retry=S` seconds to answer 503 at once after a failed connect "
     "(default 0; Apache's is 60), `upgrade=websocket` (tunnel WebSocket upgrades; implied by "
     "ws://), `responsefieldsize=BYTES` (the longest response header line, default 8192), "
     "`disablereuse=On`, `enablereuse=On|Off` (FastCGI connections are reused only with "
     "enablereuse=On: php-fpm gives each open connection a worker, so keep max= at most "
     "pm.max_children divided by the children); `keepalive=` and `flushpackets=` are accepted "
     "(responses are always flushed as they come). A refused connection or a malformed "
     "response is 502, a timeout 504."},
    {"ProxyPassReverse", "[PATH] URL", "Rewrite Location, Content-Location and URI response "
     "fields that start with URL to this server's PATH", CTX_SERVER | CTX_VHOST | CTX_DIR, 1, 2,
     set_reverse, NULL, NULL},
    {"ProxyPreserveHost", "On|Off", "Send the client's Host upstream instead of the URL's host",
     CTX_SERVER | CTX_VHOST | CTX_DIR, 1, 1, set_preserve_host, "Off", NULL},
    {"ProxyAddHeaders", "On|Off", "Add X-Forwarded-For, -Host, -Server and -Proto to proxied "
     "requests", CTX_SERVER | CTX_VHOST | CTX_DIR, 1, 1, set_add_headers, "On", NULL},
    {"ProxyTimeout", "SECONDS", "How long to wait for an upstream to accept, read or answer",
     CTX_SERVER | CTX_VHOST, 1, 1, set_timeout, "Timeout", NULL},
    {"ProxyTrustForwardedFrom", "ADDRESS[/BITS]...", "Clients whose X-Forwarded-* fields are "
     "passed on (appended to); from anyone else they are dropped", CTX_SERVER | CTX_VHOST, 1,
     60, set_trusted, "none", "Apache and nginx pass on whatever X-Forwarded-For a client "
     "sends, so an application that trusts the first address can be told any address. mpmd "
     "drops the client's X-Forwarded-* fields unless it connects from one of these addresses "
     "(a load balancer in front), and then appends its address to the list."},
    {"ProxyRequests", "Off", "Forward proxying: mpmd never does it, only Off is accepted",
     CTX_SERVER | CTX_VHOST, 1, 1, set_requests, "Off", NULL},
    {"ProxyFCGIBackendType", "FPM", "The FastCGI server's kind: FPM (php-fpm) only",
     CTX_SERVER | CTX_VHOST | CTX_DIR, 1, 1, set_backend_type, "FPM", NULL},
    {NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL},
};

const struct conf_module proxy_conf_module = {
    .name = "proxy",
    .handler = "proxy:",
    .handler_arg = set_handler_url,
    .directives = proxy_directives,
    .create = proxy_create,
    .merge = proxy_merge,
    .destroy = proxy_destroy,
};

/* ---- routing --------------------------------------------------------------- */

/* The server-level ProxyPass entry for RT's path, or NULL. */
static const struct proxy_pass *site_pass(const struct proxy_conf *c, const struct route *rt)
{
    for (int i = 0; c && rt->path_ok && i < c->n_pass; i++)
        if (route_prefix_len(c->pass[i].prefix, rt->path, rt->path_len))
            return c->pass[i].exclude ? NULL : &c->pass[i];
    return NULL;
}

/* The server-level ProxyPass entry translate matched for RT, or NULL. */
static const struct proxy_pass *forced_pass(const struct route *rt)
{
    return rt->handler_forced == module_index(&proxy_conf_module) + 1 ? rt->forced_data : NULL;
}

static int proxy_translate(const struct req_ctx *rq, struct route *rt, struct reply *rp)
{
    (void)rp;
    const struct proxy_pass *pass = site_pass(handler_site_conf(rq, &proxy_conf_module), rt);
    if (pass) {
        rt->handler_forced = module_index(&proxy_conf_module) + 1;
        rt->forced_data = pass;
    }
    return HANDLER_DECLINED;
}

/* ---- the handler ----------------------------------------------------------- */

/* The settings along RQ's route, the latest that sets each. */
static void fold_settings(const struct req_ctx *rq, struct proxy_request *pr,
                          const struct proxy_pass **here, const struct proxy_worker **hw)
{
    const void *confs[CONFIG_MAX_CHAIN];
    int n = handler_dir_confs(rq, &proxy_conf_module, confs, CONFIG_MAX_CHAIN);
    const struct proxy_conf *site = handler_site_conf(rq, &proxy_conf_module);
    int preserve = site ? site->preserve_host : -1, add = site ? site->add_headers : -1;
    *here = NULL;
    *hw = site ? site->handler_worker : NULL;
    for (int i = 0; i < n; i++) {
        const struct proxy_conf *c = confs[i];
        preserve = pick(c->preserve_host, preserve);
        add = pick(c->add_headers, add);
        if (c->here)
            *here = c->here;
        if (c->here || c->n_rev)
            pr->dir = c;          /* its ProxyPassReverse lines apply */
        if (c->handler_worker)
            *hw = c->handler_worker;
    }
    pr->site = site;
    pr->preserve_host = preserve == 1;
    pr->add_headers = add != 0;
    pr->trusted_peer = site && site->trusted && rq->peer && authz_check(site->trusted, rq->peer);
    const char *sendcl = route_env(rq->route, "proxy-sendcl");
    pr->send_cl = sendcl != NULL;
}

/* Append the URL-path bytes S (N, decoded) to OUT at *LEN, percent-encoding
 * what may not stand in a path.  0, or -1 when it does not fit. */
static int append_encoded(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        int plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || strchr("-._~!$&'()*+,;=:@/", ch);
        if (*len + 4 > cap)
            return -1;
        if (plain && ch) {
            out[(*len)++] = (char)ch;
        } else {
            out[(*len)++] = '%';
            out[(*len)++] = hex[ch >> 4];
            out[(*len)++] = hex[ch & 15];
        }
    }
    return 0;
}

/* What follows PREFIX in RT's path, to be appended to the upstream path
 * BASE (*LEN bytes): without its leading '/' when BASE ends in one
 * (ProxyPass /app http://u/ : "/app/x" is "/x", not "//x"). */
static const char *path_after(const struct route *rt, const char *prefix, const char *base,
                              size_t *len)
{
    size_t plen = strlen(prefix), blen = strlen(base);
    const char *rest = rt->path + (plen <= rt->path_len ? plen : rt->path_len);
    *len = rt->path_len - (size_t)(rest - rt->path);
    if (blen > 0 && base[blen - 1] == '/' && *len > 0 && rest[0] == '/')
        rest++, --*len;
    return rest;
}

/* The request-target to send: the worker's path, then what follows
 * PREFIX in the request's path (re-encoded), then the query as sent. */
static char *http_target(const struct req_ctx *rq, const struct proxy_worker *w,
                         const char *prefix)
{
    const struct route *rt = rq->route;
    const char *raw, *query = NULL;
    size_t rawlen;
    if (http_request_path(rq->req, &raw, &rawlen, &query) != 0)
        query = NULL;
    size_t qlen = 0;
    if (query) {
        const char *url = rq->req->buf + rq->req->url_off;
        qlen = (size_t)(url + rq->req->url_len - query);
        const char *hash = memchr(query, '#', qlen);
        if (hash)
            qlen = (size_t)(hash - query);
    }
    size_t cap = strlen(w->path) + 3 * rt->path_len + qlen + 8, len = 0;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    size_t rest_len;
    const char *rest = path_after(rt, prefix, w->path, &rest_len);
    len = strlen(w->path);
    memcpy(out, w->path, len);
    if (append_encoded(out, cap, &len, rest, rest_len) == -1) {
        free(out);
        return NULL;
    }
    memcpy(out + len, query ? query : "", qlen);
    len += qlen;
    out[len] = '\0';
    return out;
}

/* FastCGI: SCRIPT_FILENAME, SCRIPT_NAME and PATH_INFO.  Through
 * SetHandler, the script is the file the request maps to (a path below
 * it is PATH_INFO); through ProxyPass fcgi://HOST/DIR/, DIR followed by
 * the path after the prefix. */
static char *fcgi_script(const struct req_ctx *rq, struct proxy_request *pr, const char *prefix)
{
    const struct route *rt = rq->route;
    char path[ROUTE_PATH_MAX + 1024];
    size_t skip = 0;
    if (prefix == NULL) {
        if (route_fs_path(rt, path, sizeof path) == NULL)
            return NULL;
    } else {
        size_t rest_len;
        const char *rest = path_after(rt, prefix, pr->w->path, &rest_len);
        int n = snprintf(path, sizeof path, "%s%.*s", pr->w->path, (int)rest_len, rest);
        if (n < 0 || (size_t)n >= sizeof path)
            return NULL;
    }
    /* PATH_INFO: the part after the first segment ending in ".php" (php-fpm's
     * own split: security.limit_extensions) */
    const char *php = NULL;
    for (const char *p = path; (p = strstr(p, ".php")) != NULL; p += 4)
        if (p[4] == '/' || p[4] == '\0') {
            php = p + 4;
            break;
        }
    if (php && *php == '/') {
        skip = strlen(php);
        pr->path_info = rt->path + rt->path_len - skip;
        pr->path_info_len = skip;
    }
    pr->script_name = rt->path;
    pr->script_name_len = rt->path_len - skip;
    return strndup(path, strlen(path) - skip);
}

int proxy_fail_status(const struct proxy_request *pr, int e, const char *what)
{
    int status = e == ETIMEDOUT ? 504 : (e == EAGAIN || e == EHOSTDOWN) ? 503 : 502;
    const char *why = e == EHOSTDOWN ? "refused for its retry= time after a failure"
                      : e == EAGAIN  ? "every connection of max= busy" : strerror(e);
    handler_log(pr->rq, LOGM_PROXY, status == 502 ? LOGL_ERROR : LOGL_WARN,
                "%s %s: %s (answered %d)", what, pr->w->addr.text, why, status);
    return status;
}

size_t proxy_reverse_map(const struct proxy_request *pr, const char *value, size_t len,
                         char *out, size_t cap)
{
    const struct proxy_conf *lists[2] = {pr->dir, pr->site};
    for (int k = 0; k < 2; k++)
        for (int i = 0; lists[k] && i < lists[k]->n_rev; i++) {
            const struct proxy_reverse *r = &lists[k]->rev[i];
            size_t ulen = strlen(r->url);
            if (ulen > len || strncmp(value, r->url, ulen) != 0)
                continue;
            char path[ROUTE_PATH_MAX];
            const char *rest = value + ulen;
            size_t rlen = len - ulen, plen = strlen(r->path);
            if (plen > 0 && r->path[plen - 1] == '/' && rlen > 0 && rest[0] == '/')
                rest++, rlen--;
            int n = snprintf(path, sizeof path, "%s%.*s", r->path, (int)rlen, rest);
            if (n < 0 || (size_t)n >= sizeof path)
                return 0;
            size_t got = handler_absolute_url(pr->rq, path, (size_t)n, out, cap);
            return got < cap ? got : 0;
        }
    return 0;
}

/* Fill in PR for RQ: the worker, the settings, the pool; *PREFIX the
 * ProxyPass path (NULL through SetHandler).  0, or -1 with RP an error. */
static int proxy_prepare(const struct req_ctx *rq, struct proxy_request *pr, const char **prefix,
                         struct reply *rp)
{
    const struct proxy_pass *here, *pass;
    const struct proxy_worker *hw;
    *pr = (struct proxy_request){.rq = rq};
    fold_settings(rq, pr, &here, &hw);
    *prefix = NULL;
    if ((pass = forced_pass(rq->route)) != NULL) {
        pr->w = pass->w;
        *prefix = pass->prefix;
    } else if (here && !here->exclude) {
        pr->w = here->w;
        *prefix = here->prefix;
    } else if (hw) {
        pr->w = hw;
    }
    if (pr->w == NULL) {
        reply_error(rp, rq->date, 404);
        return -1;
    }
    const struct config *cfg = rq->env->cfg;
    int ptimeout = pr->site && pr->site->timeout > 0 ? pr->site->timeout : cfg->timeout;
    pr->timeout = pr->w->timeout > 0 ? pr->w->timeout : ptimeout;
    pr->connect_timeout = pr->w->connect_timeout > 0 ? pr->w->connect_timeout : pr->timeout;
    pr->ttl = !pr->w->reuse ? 0 : pr->w->ttl >= 0 ? pr->w->ttl : PROXY_DEFAULT_TTL;
    struct upstream_set *set = handler_state(rq, &proxy_handler);
    pr->pool = set ? upstream_pool(set, &pr->w->addr, pr->w->max, pr->ttl) : NULL;
    if (pr->pool == NULL) {
        reply_error(rp, rq->date, 500);
        return -1;
    }
    return 0;
}

/* A proxied request is answered: count it in its upstream's record
 * (requests, the upstream's answers by class, or mpmd's own 502/503/504
 * when the upstream failed; the time since the request's first byte). */
static void proxy_account(const struct proxy_request *pr, const struct reply *rp)
{
    struct sb_upstream *u = pr->pool ? upstream_stats(pr->pool) : NULL;
    if (!u)
        return;
    int64_t dur = realtime_us() - pr->rq->start_us;
    int own = !rp->streamed && !rp->relayed;
    sb_count_upstream(u, rp->status, own, pr->rq->start_us ? dur : 0);
}

/* The listener's entry point: an HTTP or FastCGI request without a body
 * is sent and answered from the event loop (proxy_async.c,
 * fcgi_async.c); the rest declines to a handler thread. */
static int proxy_fast(const struct req_ctx *rq, struct reply *rp)
{
    if (rq->async == NULL && rq->resumed == NULL)
        return HANDLER_DECLINED;
    struct proxy_request pr;
    const char *prefix;
    if (proxy_prepare(rq, &pr, &prefix, rp) == -1) {
        proxy_async_drop(rq->resumed);
        return HANDLER_DONE;
    }
    int fcgi = pr.w->scheme == PROXY_FCGI;
    if (!fcgi && pr.w->scheme != PROXY_HTTP)
        return HANDLER_DECLINED;
    pr.target = fcgi ? fcgi_script(rq, &pr, prefix) : http_target(rq, pr.w, prefix ? prefix : "");
    if (pr.target == NULL) {
        proxy_async_drop(rq->resumed);
        reply_error(rp, rq->date, fcgi ? 404 : 414);
        return HANDLER_DONE;
    }
    int r = rq->resumed ? proxy_async_answer(&pr, rq->resumed, rp)
            : fcgi      ? proxy_fcgi_async_start(&pr, rp)
                        : proxy_async_start(&pr, rp);
    if (r == HANDLER_DONE)
        proxy_account(&pr, rp);
    free(pr.target);
    return r;
}

static int proxy_handle(const struct req_ctx *rq, struct reply *rp)
{
    struct proxy_request pr;
    const char *prefix;
    if (proxy_prepare(rq, &pr, &prefix, rp) == -1) {
        proxy_async_drop(rq->resumed);
        return HANDLER_DONE;
    }
    if (pr.w->scheme == PROXY_FCGI) {
        pr.target = fcgi_script(rq, &pr, prefix);
        if (pr.target == NULL) {
            proxy_async_drop(rq->resumed);
            reply_error(rp, rq->date, 404);
            return HANDLER_DONE;
        }
        if (rq->resumed)
            proxy_async_relay(&pr, rq->resumed, rp);
        else
            proxy_fcgi_forward(&pr, rp);
    } else {
        pr.target = http_target(rq, pr.w, prefix ? prefix : "");
        if (pr.target == NULL) {
            proxy_async_drop(rq->resumed);
            reply_error(rp, rq->date, 414);
            return HANDLER_DONE;
        }
        if (rq->resumed)
            proxy_async_relay(&pr, rq->resumed, rp);
        else
            proxy_http_forward(&pr, rp);
    }
    proxy_account(&pr, rp);
    free(pr.target);
    return HANDLER_DONE;
}

static void *proxy_child_init(const struct handler_env *env, char *err, size_t errlen)
{
    struct upstream_set *s = upstream_set_new();
    if (s == NULL)
        snprintf(err, errlen, "out of memory for the upstream pools");
    else
        upstream_set_scoreboard(s, env->scoreboard);
    return s;
}

static void proxy_child_exit(void *state)
{
    upstream_set_free(state);
}

const struct handler proxy_handler = {
    .name = "proxy",
    .conf = &proxy_conf_module,
    .child_init = proxy_child_init,
    .child_exit = proxy_child_exit,
    .translate = proxy_translate,
    .fast = proxy_fast,
    .handle = proxy_handle,
};
