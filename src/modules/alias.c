/* alias.c: Alias, Redirect, RedirectMatch (alias.h), as Apache's
 * mod_alias does them.
 *
 * Configuration: where the configuration loads (module.h); a virtual
 * host's list is its own entries, then the main server's.  Translation
 * (alias_translate): any thread, never blocks: redirects are tried first,
 * in list order, then aliases; the first match wins. */
#include "config.h"

#include "mpmd/modules/alias.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mpmd/core/config.h"
#include "mpmd/core/log.h"

enum alias_kind { ALIAS, REDIRECT, REDIRECT_MATCH };

struct alias_entry {
    enum alias_kind kind;
    int status;                   /* redirects: 3xx, or another status without a URL */
    char *from;                   /* URL prefix (slashes squeezed), or a regex */
    char *to;                     /* directory, URL or path; NULL for a status alone */
    pcre2_code *re;               /* REDIRECT_MATCH */
};

struct alias_conf {
    struct alias_entry *e;
    int n;
};

/* ---- configuration ------------------------------------------------------- */

static void *alias_create(void)
{
    return calloc(1, sizeof(struct alias_conf));
}

static void entry_free(struct alias_entry *e)
{
    free(e->from);
    free(e->to);
    pcre2_code_free(e->re);
}

static void alias_destroy(void *conf)
{
    struct alias_conf *c = conf;
    if (c == NULL)
        return;
    for (int i = 0; i < c->n; i++)
        entry_free(&c->e[i]);
    free(c->e);
    free(c);
}

static int entry_copy(struct alias_entry *dst, const struct alias_entry *src)
{
    *dst = (struct alias_entry){.kind = src->kind, .status = src->status};
    dst->from = strdup(src->from);
    dst->to = src->to ? strdup(src->to) : NULL;
    dst->re = src->re ? pcre2_code_copy(src->re) : NULL;
    return dst->from && (!src->to || dst->to) && (!src->re || dst->re) ? 0 : -1;
}

static int append_all(struct alias_conf *to, const struct alias_conf *from)
{
    for (int i = 0; from && i < from->n; i++)
        if (entry_copy(&to->e[to->n++], &from->e[i]) == -1)
            return -1;
    return 0;
}

/* The virtual host's entries first (they win), then the main server's. */
static void *alias_merge(const void *base, const void *add)
{
    const struct alias_conf *b = base, *a = add;
    struct alias_conf *m = alias_create();
    int total = (b ? b->n : 0) + (a ? a->n : 0);
    if (m == NULL || (total && (m->e = calloc((size_t)total, sizeof *m->e)) == NULL) ||
        append_all(m, a) == -1 || append_all(m, b) == -1) {
        alias_destroy(m);
        return NULL;
    }
    return m;
}

static int push_entry(struct alias_conf *c, const struct alias_entry *e, char *err,
                      size_t errlen)
{
    struct alias_entry *all = realloc(c->e, (size_t)(c->n + 1) * sizeof *all);
    if (all == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->e = all;
    all[c->n++] = *e;
    return 0;
}

static int set_alias(void *conf, const struct directive_place *at, int argc, char **argv,
                     char *err, size_t errlen)
{
    (void)at, (void)argc;
    if (argv[0][0] != '/') {
        snprintf(err, errlen, "expected a URL path starting with '/', got '%s'", argv[0]);
        return -1;
    }
    if (argv[1][0] != '/') {
        snprintf(err, errlen, "expected an absolute directory or file path, got '%s'", argv[1]);
        return -1;
    }
    struct alias_entry e = {.kind = ALIAS, .from = strdup(argv[0]), .to = strdup(argv[1])};
    if (e.from == NULL || e.to == NULL) {
        entry_free(&e);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    config_squeeze_slashes(e.from);
    if (push_entry(conf, &e, err, errlen) == -1) {
        entry_free(&e);
        return -1;
    }
    return 0;
}

/* The optional status word of Redirect/RedirectMatch: *USED gets 1 when
 * ARG was one. */
static int redirect_status(const char *arg, int *used)
{
    static const struct { const char *word; int status; } words[] = {
        {"permanent", 301}, {"temp", 302}, {"seeother", 303}, {"gone", 410},
    };
    *used = 1;
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strcasecmp(arg, words[i].word) == 0)
            return words[i].status;
    if (strlen(arg) == 3 && arg[0] >= '1' && arg[0] <= '5' && strspn(arg, "0123456789") == 3)
        return atoi(arg);
    *used = 0;
    return 302;
}

static int set_redirect_common(struct alias_conf *c, enum alias_kind kind, int argc, char **argv,
                               char *err, size_t errlen)
{
    int used, status = redirect_status(argv[0], &used);
    int rest = argc - used;
    char **a = argv + used;
    int is_3xx = status >= 300 && status < 400;
    if (rest != (is_3xx ? 2 : 1)) {
        if (is_3xx)
            snprintf(err, errlen, "expected [STATUS] %s URL", kind == REDIRECT ? "URL-PATH"
                                                                              : "REGEX");
        else
            snprintf(err, errlen, "status %d takes no URL: expected %d %s", status, status,
                     kind == REDIRECT ? "URL-PATH" : "REGEX");
        return -1;
    }
    if (status < 300 || status > 599) {
        snprintf(err, errlen, "expected a status from 300 to 599, got %d", status);
        return -1;
    }
    if (kind == REDIRECT && a[0][0] != '/') {
        snprintf(err, errlen, "expected a URL path starting with '/', got '%s'", a[0]);
        return -1;
    }
    if (rest == 2 && kind == REDIRECT && a[1][0] != '/' && strstr(a[1], "://") == NULL) {
        snprintf(err, errlen, "expected an absolute URL or a path starting with '/', got '%s'",
                 a[1]);
        return -1;
    }
    struct alias_entry e = {.kind = kind, .status = status, .from = strdup(a[0]),
                            .to = rest == 2 ? strdup(a[1]) : NULL};
    if (e.from == NULL || (rest == 2 && e.to == NULL)) {
        entry_free(&e);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (kind == REDIRECT) {
        config_squeeze_slashes(e.from);
    } else {
        int code;
        PCRE2_SIZE at;
        e.re = pcre2_compile((PCRE2_SPTR)e.from, PCRE2_ZERO_TERMINATED, 0, &code, &at, NULL);
        if (e.re == NULL) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(code, msg, sizeof msg);
            snprintf(err, errlen, "bad regular expression '%s': %s at offset %zu", e.from,
                     (const char *)msg, (size_t)at);
            entry_free(&e);
            return -1;
        }
    }
    if (push_entry(c, &e, err, errlen) == -1) {
        entry_free(&e);
        return -1;
    }
    return 0;
}

static int set_redirect(void *conf, const struct directive_place *at, int argc, char **argv,
                        char *err, size_t errlen)
{
    (void)at;
    return set_redirect_common(conf, REDIRECT, argc, argv, err, errlen);
}

static int set_redirect_match(void *conf, const struct directive_place *at, int argc, char **argv,
                              char *err, size_t errlen)
{
    (void)at;
    return set_redirect_common(conf, REDIRECT_MATCH, argc, argv, err, errlen);
}

static const struct module_directive alias_directives[] = {
    {"Alias", "URL-PATH DIRECTORY", "Serve URL-PATH and below from DIRECTORY (an absolute "
     "path) instead of DocumentRoot", CTX_SERVER | CTX_VHOST, 2, 2, set_alias, NULL, NULL},
    {"Redirect", "[STATUS] URL-PATH [URL]", "Answer requests for URL-PATH and below with a "
     "redirect to URL (the rest of the path and the query appended); STATUS permanent, temp "
     "(default), seeother, gone or a number", CTX_SERVER | CTX_VHOST, 2, 3, set_redirect, NULL, NULL},
    {"RedirectMatch", "[STATUS] REGEX URL", "Redirect when the URL path matches REGEX (PCRE2); "
     "$1..$9 in URL stand for its groups (the result must be a path or a URL)", CTX_SERVER | CTX_VHOST, 2, 3, set_redirect_match, NULL, NULL},
    {NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL},
};

const struct conf_module alias_conf_module = {
    .name = "alias",
    .directives = alias_directives,
    .create = alias_create,
    .merge = alias_merge,
    .destroy = alias_destroy,
};

/* ---- translation ------------------------------------------------------- */

/* Append S (N bytes) to OUT, percent-encoding what cannot stand in a URL
 * path.  Returns the new length, or CAP when it does not fit. */
static size_t put_escaped(char *out, size_t len, size_t cap, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n && len < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            strchr("/-._~!$&'()*+,;=:@", ch)) {
            out[len++] = (char)ch;
        } else if (len + 3 <= cap) {
            out[len++] = '%';
            out[len++] = hex[ch >> 4];
            out[len++] = hex[ch & 15];
        } else {
            return cap;
        }
    }
    return len;
}

/* TO with $0..$9 replaced by the groups of the match in PATH. */
static size_t substitute(const char *to, const char *path, const PCRE2_SIZE *ov, int groups,
                         char *out, size_t cap)
{
    size_t len = 0;
    for (const char *p = to; *p && len < cap; p++) {
        if (p[0] == '$' && p[1] >= '0' && p[1] <= '9') {
            int g = p[1] - '0';
            p++;
            if (g < groups && ov[2 * g] != PCRE2_UNSET) {
                size_t n = ov[2 * g + 1] - ov[2 * g];
                if (len + n >= cap)
                    return cap;
                memcpy(out + len, path + ov[2 * g], n);
                len += n;
            }
        } else if (p[0] == '\\' && (p[1] == '$' || p[1] == '\\')) {
            out[len++] = *++p;
        } else {
            out[len++] = *p;
        }
    }
    return len;
}

/* The redirect target of E for PATH into OUT: its length, 0 when E does
 * not match, CAP when it does not fit. */
static size_t redirect_target(const struct alias_entry *e, const struct route *rt, char *out,
                              size_t cap)
{
    if (e->kind == REDIRECT) {
        size_t l = route_prefix_len(e->from, rt->path, rt->path_len);
        if (l == 0)
            return 0;
        if (e->to == NULL)
            return 1;
        size_t len = strlen(e->to);
        if (len >= cap)
            return cap;
        memcpy(out, e->to, len);
        return put_escaped(out, len, cap, rt->path + l, rt->path_len - l);
    }
    pcre2_match_data *md = pcre2_match_data_create(10, NULL);
    if (md == NULL)
        return 0;
    int rc = pcre2_match(e->re, (PCRE2_SPTR)rt->path, rt->path_len, 0, 0, md, NULL);
    size_t len = rc < 0 ? 0 : e->to == NULL ? 1
                 : substitute(e->to, rt->path, pcre2_get_ovector_pointer(md),
                              rc == 0 ? 10 : rc, out, cap);
    pcre2_match_data_free(md);
    return len;
}

/* Answer with E's redirect: TARGET (LEN bytes) made absolute and given
 * the request's query when it has none of its own. */
static void reply_redirect_to(const struct req_ctx *rq, const struct alias_entry *e,
                              const char *target, size_t len, struct reply *rp)
{
    char loc[8192];
    const char *path, *query;
    size_t plen;
    if (e->to == NULL) {
        reply_error(rp, rq->date, e->status);
        return;
    }
    size_t n = len;
    if (target[0] == '/') {
        n = handler_absolute_url(rq, target, len, loc, sizeof loc);
    } else if (memmem(target, len, "://", 3) == NULL) {
        /* RedirectMatch may make anything; Apache too answers 500 then. */
        handler_log(rq, LOGM_ALIAS, LOGL_ERROR,
                    "RedirectMatch %s: '%.*s' is neither a path nor a URL", e->from, (int)len,
                    target);
        reply_error(rp, rq->date, 500);
        return;
    } else if (len < sizeof loc) {
        memcpy(loc, target, len);
    } else {
        n = sizeof loc;
    }
    if (http_request_path(rq->req, &path, &plen, &query) == 0 && query &&
        memchr(target, '?', len) == NULL && n < sizeof loc) {
        const char *end = rq->req->buf + rq->req->url_off + rq->req->url_len;
        int m = snprintf(loc + n, sizeof loc - n, "%.*s", (int)(end - query), query);
        n = m < 0 || (size_t)m >= sizeof loc - n ? sizeof loc : n + (size_t)m;
    }
    if (n >= sizeof loc) {
        reply_error(rp, rq->date, 500);
        handler_log(rq, LOGM_ALIAS, LOGL_ERROR, "redirect target too long for %s", e->from);
        return;
    }
    reply_redirect(rp, rq->date, e->status, loc, n);
}

static int alias_translate(const struct req_ctx *rq, struct route *rt, struct reply *rp)
{
    const struct alias_conf *c = handler_site_conf(rq, &alias_conf_module);
    if (c == NULL || !rt->path_ok)
        return HANDLER_DECLINED;
    char target[4096];
    for (int i = 0; i < c->n; i++) {
        const struct alias_entry *e = &c->e[i];
        if (e->kind == ALIAS)
            continue;
        size_t len = redirect_target(e, rt, target, sizeof target);
        if (len == 0)
            continue;
        if (len >= sizeof target) {
            reply_error(rp, rq->date, 500);
            handler_log(rq, LOGM_ALIAS, LOGL_ERROR, "redirect target too long for %s", e->from);
        } else {
            reply_redirect_to(rq, e, target, len, rp);
        }
        return HANDLER_DONE;
    }
    for (int i = 0; i < c->n; i++) {
        const struct alias_entry *e = &c->e[i];
        size_t l = e->kind == ALIAS ? route_prefix_len(e->from, rt->path, rt->path_len) : 0;
        if (l > 0) {
            rt->fs_base = e->to;
            rt->fs_skip = l;
            break;
        }
    }
    return HANDLER_DECLINED;
}

const struct handler alias_handler = {
    .name = "alias",
    .conf = &alias_conf_module,
    .translate = alias_translate,
};
