/* compress.c: gzip (zlib) and Brotli content coding (compress.h):
 * mod_deflate's and mod_brotli's directives, the choice of a coding from
 * Accept-Encoding, whole-buffer compression for the file cache's
 * variants, and a streaming compressor for responses sent as they come.
 *
 * Configuration runs where it loads; a route's settings are folded per
 * request from handler_dir_confs (a lookup, no allocation).  Choosing
 * runs on any thread; compressing is CPU work and runs on handler
 * threads only (static.c and dispatch.c call it there). */
#include "config.h"

#include "mpmd/modules/compress.h"

#include <brotli/encode.h>
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "mpmd/core/config.h"

/* "AddOutputFilterByType FILTERS TYPE": TYPE ("text/html", "text/" and a
 * star, or star/star) is sent in the codings CODINGS (a set; 0: not compressed,
 * which is how "Compress Off" is kept). */
struct compress_type {
    char *type;
    size_t len;                  /* of TYPE, or of its "major/" when WILD */
    int wild;
    unsigned codings;
};

enum alter_etag { ETAG_ADD_SUFFIX, ETAG_NO_CHANGE, ETAG_REMOVE };

struct compress_conf {
    struct compress_type *types;  /* owned, in file order; the last match wins */
    int n_types;
    int level;                    /* DeflateCompressionLevel; -1 unset */
    int mem_level;                /* DeflateMemLevel */
    int window;                   /* DeflateWindowSize */
    int quality;                  /* BrotliCompressionQuality */
    int br_window;                /* BrotliCompressionWindow */
    long long min_size;           /* CompressMinSize; -1 unset */
    int static_files;             /* CompressStatic; -1 unset */
    int alter_etag;               /* DeflateAlterETag; -1 unset */
};

#define DEFAULT_LEVEL 6           /* zlib's default, as Apache's */
#define DEFAULT_MEM_LEVEL 8       /* zlib's and nginx's (Apache's is 9: 8 % slower, no smaller) */
#define DEFAULT_WINDOW 15
#define DEFAULT_QUALITY 5         /* mod_brotli's */
#define DEFAULT_BR_WINDOW 18
#define DEFAULT_MIN_SIZE 256      /* a gzip header and trailer cost 18 bytes */

/* What "Compress On" compresses when no types follow. */
static const char *const default_types[] = {
    "text/html", "text/plain", "text/css", "text/xml", "text/javascript", "text/markdown",
    "text/csv", "application/javascript", "application/json", "application/xml",
    "application/xhtml+xml", "application/rss+xml", "application/atom+xml",
    "application/ld+json", "application/manifest+json", "application/wasm",
    "image/svg+xml", "image/x-icon", "font/ttf", "font/otf", "application/vnd.ms-fontobject",
    NULL,
};

/* Media types whose content is compressed already: never coded again,
 * even when a wildcard names them. */
static int already_compressed(const char *t, size_t n)
{
    static const char *const packed[] = {
        "application/zip", "application/gzip", "application/x-gzip", "application/x-bzip2",
        "application/x-xz", "application/zstd", "application/x-7z-compressed",
        "application/x-rar-compressed", "application/vnd.rar", "font/woff", "font/woff2", NULL,
    };
    static const char *const plain_images[] = {"image/svg+xml", "image/x-icon", "image/bmp",
                                               NULL};
    for (int i = 0; packed[i]; i++)
        if (strlen(packed[i]) == n && strncasecmp(packed[i], t, n) == 0)
            return 1;
    for (int i = 0; plain_images[i]; i++)
        if (strlen(plain_images[i]) == n && strncasecmp(plain_images[i], t, n) == 0)
            return 0;
    return n > 6 && (strncasecmp(t, "image/", 6) == 0 || strncasecmp(t, "audio/", 6) == 0 ||
                     strncasecmp(t, "video/", 6) == 0);
}

/* ---- configuration ------------------------------------------------------- */

static void *compress_create(void)
{
    struct compress_conf *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->level = c->mem_level = c->window = c->quality = c->br_window = -1;
    c->min_size = -1;
    c->static_files = c->alter_etag = -1;
    return c;
}

static void compress_destroy(void *conf)
{
    struct compress_conf *c = conf;
    if (c == NULL)
        return;
    for (int i = 0; i < c->n_types; i++)
        free(c->types[i].type);
    free(c->types);
    free(c);
}

static int add_type(struct compress_conf *c, const char *type, unsigned codings)
{
    struct compress_type *t = realloc(c->types, (size_t)(c->n_types + 1) * sizeof *t);
    if (t == NULL)
        return -1;
    c->types = t;
    char *copy = strdup(type);
    if (copy == NULL)
        return -1;
    size_t n = strlen(copy);
    int wild = n >= 2 && copy[n - 1] == '*' && copy[n - 2] == '/';
    t[c->n_types++] = (struct compress_type){copy, wild ? n - 1 : n, wild, codings};
    return 0;
}

/* ADD over BASE: scalars ADD sets win; types are BASE's then ADD's (the
 * last match wins, so ADD's come first in effect). */
static void *compress_merge(const void *base_, const void *add_)
{
    const struct compress_conf *base = base_, *add = add_;
    struct compress_conf *m = compress_create();
    if (m == NULL)
        return NULL;
    const struct compress_conf *parts[2] = {base, add};
    for (int p = 0; p < 2; p++) {
        const struct compress_conf *c = parts[p];
        if (c == NULL)
            continue;
        for (int i = 0; i < c->n_types; i++)
            if (add_type(m, c->types[i].type, c->types[i].codings) == -1) {
                compress_destroy(m);
                return NULL;
            }
#define TAKE(f) if (c->f != -1) m->f = c->f
        TAKE(level); TAKE(mem_level); TAKE(window); TAKE(quality); TAKE(br_window);
        TAKE(min_size); TAKE(static_files); TAKE(alter_etag);
#undef TAKE
    }
    return m;
}

/* "DEFLATE", "BROTLI_COMPRESS", or both joined with ';' (Apache's filter
 * chain syntax) into a set of codings. */
static int parse_filters(const char *s, unsigned *out, char *err, size_t errlen)
{
    *out = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL;
    for (char *f = strtok_r(buf, ";", &save); f; f = strtok_r(NULL, ";", &save)) {
        if (strcasecmp(f, "DEFLATE") == 0)
            *out |= COMPRESS_GZIP;
        else if (strcasecmp(f, "BROTLI_COMPRESS") == 0)
            *out |= COMPRESS_BR;
        else {
            snprintf(err, errlen, "expected DEFLATE or BROTLI_COMPRESS (joined with ';'), got "
                     "'%s': mpmd has no such output filter", f);
            return -1;
        }
    }
    if (*out == 0) {
        snprintf(err, errlen, "expected DEFLATE or BROTLI_COMPRESS, got '%s'", s);
        return -1;
    }
    return 0;
}

/* A media type as configured: "major/minor", "major/" and a star, or
 * star/star. */
static int check_type(const char *t, char *err, size_t errlen)
{
    const char *slash = strchr(t, '/');
    if (slash == NULL || slash == t || slash[1] == '\0' || strchr(slash + 1, '/') ||
        strchr(t, ';') || (t[0] == '*' && strcmp(t, "*/*") != 0)) {
        snprintf(err, errlen, "expected a media type (type/subtype, type/* or */*), got '%s'", t);
        return -1;
    }
    return 0;
}

static int set_by_type(void *conf, const struct directive_place *at, int argc, char **argv,
                       char *err, size_t errlen)
{
    unsigned codings;
    (void)at;
    if (parse_filters(argv[0], &codings, err, errlen) == -1)
        return -1;
    for (int i = 1; i < argc; i++) {
        if (check_type(argv[i], err, errlen) == -1)
            return -1;
        if (add_type(conf, argv[i], codings) == -1)
            goto oom;
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

static int set_output_filter(void *conf, const struct directive_place *at, int argc, char **argv,
                             char *err, size_t errlen)
{
    unsigned codings;
    (void)at, (void)argc;
    if (parse_filters(argv[0], &codings, err, errlen) == -1)
        return -1;
    if (add_type(conf, "*/*", codings) == -1) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int set_compress(void *conf, const struct directive_place *at, int argc, char **argv,
                        char *err, size_t errlen)
{
    (void)at;
    int on = strcasecmp(argv[0], "on") == 0;
    if (!on && strcasecmp(argv[0], "off") != 0) {
        snprintf(err, errlen, "expected On or Off, got '%s'", argv[0]);
        return -1;
    }
    if (!on && argc > 1) {
        snprintf(err, errlen, "Compress Off takes no types");
        return -1;
    }
    int rc = 0;
    if (!on)
        rc = add_type(conf, "*/*", 0);
    for (int i = 1; on && i < argc && rc == 0; i++) {
        if (check_type(argv[i], err, errlen) == -1)
            return -1;
        rc = add_type(conf, argv[i], COMPRESS_GZIP | COMPRESS_BR);
    }
    for (int i = 0; on && argc == 1 && default_types[i] && rc == 0; i++)
        rc = add_type(conf, default_types[i], COMPRESS_GZIP | COMPRESS_BR);
    if (rc == -1)
        snprintf(err, errlen, "out of memory");
    return rc;
}

/* A whole number from LO to HI into *OUT. */
static int parse_range(const char *s, long long lo, long long hi, long long *out, char *err,
                       size_t errlen)
{
    char *end;
    long long n = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || n < lo || n > hi) {
        snprintf(err, errlen, "expected a whole number from %lld to %lld, got '%s'", lo, hi, s);
        return -1;
    }
    *out = n;
    return 0;
}

#define INT_SETTER(fn, field, lo, hi)                                                       \
    static int fn(void *conf, const struct directive_place *at, int argc, char **argv,     \
                  char *err, size_t errlen)                                                 \
    {                                                                                       \
        long long n;                                                                        \
        (void)at, (void)argc;                                                               \
        if (parse_range(argv[0], lo, hi, &n, err, errlen) == -1)                            \
            return -1;                                                                      \
        ((struct compress_conf *)conf)->field = (int)n;                                     \
        return 0;                                                                           \
    }
INT_SETTER(set_level, level, 1, 9)
INT_SETTER(set_mem_level, mem_level, 1, 9)
INT_SETTER(set_window, window, 9, 15)
INT_SETTER(set_quality, quality, 0, 11)
INT_SETTER(set_br_window, br_window, 10, 24)

static int set_min_size(void *conf, const struct directive_place *at, int argc, char **argv,
                        char *err, size_t errlen)
{
    (void)at, (void)argc;
    return parse_range(argv[0], 0, (long long)1 << 40, &((struct compress_conf *)conf)->min_size,
                       err, errlen);
}

static int set_static(void *conf, const struct directive_place *at, int argc, char **argv,
                      char *err, size_t errlen)
{
    (void)at, (void)argc;
    int on = strcasecmp(argv[0], "on") == 0;
    if (!on && strcasecmp(argv[0], "off") != 0) {
        snprintf(err, errlen, "expected On or Off, got '%s'", argv[0]);
        return -1;
    }
    ((struct compress_conf *)conf)->static_files = on;
    return 0;
}

static int set_alter_etag(void *conf, const struct directive_place *at, int argc, char **argv,
                          char *err, size_t errlen)
{
    static const char *const names[] = {"AddSuffix", "NoChange", "Remove"};
    (void)at, (void)argc;
    for (int i = 0; i < 3; i++)
        if (strcasecmp(argv[0], names[i]) == 0) {
            ((struct compress_conf *)conf)->alter_etag = i;
            return 0;
        }
    snprintf(err, errlen, "expected AddSuffix, NoChange or Remove, got '%s'", argv[0]);
    return -1;
}

#define ALL_CTX (CTX_SERVER | CTX_VHOST | CTX_DIR)
#define SITE_CTX (CTX_SERVER | CTX_VHOST)

static const struct module_directive compress_directives[] = {
    {"AddOutputFilterByType", "DEFLATE|BROTLI_COMPRESS[;...] TYPE...",
     "Compress responses of these media types (type/subtype, type/* or */*) with gzip "
     "(DEFLATE), Brotli (BROTLI_COMPRESS) or either, as the client's Accept-Encoding prefers",
     ALL_CTX, 2, 64, set_by_type, NULL,
     "As in Apache: a section's types are added to those of the places before it, and the "
     "last setting for a type wins.  Images, audio, video and archive types are never "
     "compressed, even when a wildcard names them.  Brotli wins over gzip when the client "
     "takes both equally."},
    {"SetOutputFilter", "DEFLATE|BROTLI_COMPRESS[;...]",
     "Compress every compressible response here (AddOutputFilterByType ... */*)", ALL_CTX, 1,
     1, set_output_filter, NULL, "mpmd has only the compression filters."},
    {"Compress", "On|Off [TYPE...]",
     "mpmd's shorthand: On compresses the usual text types (or the TYPEs given) with gzip "
     "and Brotli; Off compresses nothing here", ALL_CTX, 1, 64, set_compress, "Off",
     "The usual types: text/html, text/plain, text/css, text/xml, text/javascript, "
     "text/markdown, text/csv, application/javascript, application/json, application/xml, "
     "application/xhtml+xml, application/rss+xml, application/atom+xml, application/ld+json, "
     "application/manifest+json, application/wasm, image/svg+xml, image/x-icon, font/ttf, "
     "font/otf, application/vnd.ms-fontobject."},
    {"CompressMinSize", "BYTES", "Responses shorter than this are sent as they are", ALL_CTX, 1,
     1, set_min_size, "256", NULL},
    {"CompressStatic", "On|Off",
     "Serve FILE.br or FILE.gz beside FILE, when not older than FILE, to clients that take "
     "that coding (nginx's gzip_static and brotli_static)", ALL_CTX, 1, 1, set_static, "Off",
     "The precompressed file is served for any media type; the response carries FILE's "
     "Content-Type, Last-Modified and ETag (with the coding's suffix)."},
    {"DeflateCompressionLevel", "1-9", "zlib's compression level for gzip", SITE_CTX, 1, 1,
     set_level, "6", NULL},
    {"DeflateMemLevel", "1-9", "zlib's memory level for gzip", SITE_CTX, 1, 1, set_mem_level,
     "8", "zlib's and nginx's default; Apache's is 9, which codes 8 % slower here for output "
     "no smaller."},
    {"DeflateWindowSize", "9-15", "zlib's window size (log2) for gzip", SITE_CTX, 1, 1,
     set_window, "15", NULL},
    {"DeflateAlterETag", "AddSuffix|NoChange|Remove",
     "How a compressed response's ETag differs from the identity one", SITE_CTX, 1, 1,
     set_alter_etag, "AddSuffix",
     "AddSuffix appends -gzip or -br inside the quotes, as Apache does; mpmd also answers "
     "If-None-Match with such an ETag with 304."},
    {"BrotliCompressionQuality", "0-11", "Brotli's quality", SITE_CTX, 1, 1, set_quality, "5",
     NULL},
    {"BrotliCompressionWindow", "10-24", "Brotli's window size (log2)", SITE_CTX, 1, 1,
     set_br_window, "18", NULL},
    {"BrotliAlterETag", "AddSuffix|NoChange|Remove", "DeflateAlterETag, for Brotli", SITE_CTX, 1,
     1, set_alter_etag, "AddSuffix", "One setting serves both codings."},
    {NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL},
};

const struct conf_module compress_conf_module = {
    .name = "compress",
    .directives = compress_directives,
    .create = compress_create,
    .merge = compress_merge,
    .destroy = compress_destroy,
};

/* ---- folding a route's settings ------------------------------------------ */

/* The codings configured for media type T (N bytes, no parameters) in C:
 * the last matching entry's, or -1 when none matches. */
static int codings_in(const struct compress_conf *c, const char *t, size_t n)
{
    for (int i = c->n_types - 1; i >= 0; i--) {
        const struct compress_type *e = &c->types[i];
        if (e->wild ? ((e->len == 2 && e->type[0] == '*') ||
                       (n > e->len && strncasecmp(e->type, t, e->len) == 0))
                    : (e->len == n && strncasecmp(e->type, t, n) == 0))
            return (int)e->codings;
    }
    return -1;
}

static size_t media_type_len(const char *type, size_t len)
{
    size_t n = 0;
    while (n < len && type[n] != ';' && type[n] != ' ' && type[n] != '\t')
        n++;
    return n;
}

unsigned compress_allowed(const struct req_ctx *rq, const char *type, size_t type_len,
                          long long len, int *static_files)
{
    const void *confs[CONFIG_MAX_CHAIN];
    int n = handler_dir_confs(rq, &compress_conf_module, confs, CONFIG_MAX_CHAIN);
    const struct compress_conf *site = handler_site_conf(rq, &compress_conf_module);
    if (static_files)
        *static_files = site && site->static_files == 1;
    if (n == 0 && site == NULL)
        return 0;
    long long min = site && site->min_size != -1 ? site->min_size : DEFAULT_MIN_SIZE;
    int codings = -1;
    for (int i = 0; i < n; i++) {
        const struct compress_conf *c = confs[i];
        if (c->min_size != -1)
            min = c->min_size;
        if (static_files && c->static_files != -1)
            *static_files = c->static_files;
    }
    size_t tn = type ? media_type_len(type, type_len) : 0;
    if (tn == 0 || already_compressed(type, tn) || (len >= 0 && len < min))
        return 0;
    for (int i = n - 1; i >= 0 && codings == -1; i--)
        codings = codings_in(confs[i], type, tn);
    if (codings == -1 && site)
        codings = codings_in(site, type, tn);
    return codings > 0 ? (unsigned)codings : 0;
}

static const struct compress_conf *site_conf(const struct req_ctx *rq)
{
    return handler_site_conf(rq, &compress_conf_module);
}

/* Site setting FIELD of C (site_conf's result), or DEF when unset. */
#define SITE_SETTING(c, field, def) ((c) && (c)->field != -1 ? (c)->field : (def))

/* ---- choosing a coding --------------------------------------------------- */

/* A qvalue (RFC 9110 12.4.2) in thousandths, or -1 when it is not one. */
static int parse_qvalue(const char *s, size_t n)
{
    if (n == 0 || (s[0] != '0' && s[0] != '1'))
        return -1;
    int q = (s[0] - '0') * 1000, scale = 100;
    if (n == 1)
        return q;
    if (s[1] != '.' || n > 5)
        return -1;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        q += (s[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* The q of one element's parameters P..END (";q=0.5"), 1000 without one;
 * -1 when they are malformed. */
static int element_q(const char *p, const char *end)
{
    int q = 1000;
    while (p < end) {
        while (p < end && (is_ows(*p) || *p == ';'))
            p++;
        const char *name = p;
        while (p < end && *p != '=' && *p != ';' && !is_ows(*p))
            p++;
        size_t nlen = (size_t)(p - name);
        while (p < end && is_ows(*p))
            p++;
        if (p >= end || *p != '=')
            return nlen ? -1 : q;
        p++;
        while (p < end && is_ows(*p))
            p++;
        const char *v = p;
        while (p < end && *p != ';' && !is_ows(*p))
            p++;
        if (nlen == 1 && (name[0] == 'q' || name[0] == 'Q'))
            q = parse_qvalue(v, (size_t)(p - v));
        if (q < 0)
            return -1;
    }
    return q;
}

static int token_is(const char *t, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(t, name, n) == 0;
}

/* The q-values (thousandths) an Accept-Encoding gives gzip, br and "*":
 * -1 where it names none. */
struct ae_q {
    int gzip, br, star;
};

/* Fold the elements of one Accept-Encoding line AE (LEN bytes) into Q. */
static void ae_scan(const char *ae, size_t len, struct ae_q *q)
{
    const char *p = ae, *end = ae + len;
    while (p < end) {
        const char *e = memchr(p, ',', (size_t)(end - p));
        if (e == NULL)
            e = end;
        while (p < e && is_ows(*p))
            p++;
        const char *t = p;
        while (p < e && *p != ';' && !is_ows(*p))
            p++;
        size_t tn = (size_t)(p - t);
        int v = element_q(p, e);
        if (tn && v >= 0) {
            if (token_is(t, tn, "gzip") || token_is(t, tn, "x-gzip"))
                q->gzip = v > q->gzip ? v : q->gzip;
            else if (token_is(t, tn, "br"))
                q->br = v > q->br ? v : q->br;
            else if (token_is(t, tn, "*"))
                q->star = v;
        }
        p = e < end ? e + 1 : end;
    }
}

/* The coding Q prefers among ALLOWED. */
static int ae_decide(struct ae_q q, unsigned allowed)
{
    int qg = q.gzip >= 0 ? q.gzip : q.star > 0 ? q.star : 0;
    int qb = q.br >= 0 ? q.br : q.star > 0 ? q.star : 0;
    if (!(allowed & COMPRESS_GZIP))
        qg = 0;
    if (!(allowed & COMPRESS_BR))
        qb = 0;
    if (qb > 0 && qb >= qg)
        return COMPRESS_BR;
    return qg > 0 ? COMPRESS_GZIP : COMPRESS_NONE;
}

int compress_choose(const char *ae, size_t len, unsigned allowed)
{
    if (ae == NULL || allowed == 0)
        return COMPRESS_NONE;
    struct ae_q q = {-1, -1, -1};
    ae_scan(ae, len, &q);
    return ae_decide(q, allowed);
}

/* Every Accept-Encoding line of the request counts: repeated lines are
 * one list (RFC 9110 5.3). */
int compress_choose_for(const struct req_ctx *rq, unsigned allowed)
{
    if (allowed == 0)
        return COMPRESS_NONE;
    const struct request *r = rq->req;
    struct ae_q q = {-1, -1, -1};
    int seen = 0;
    for (uint32_t i = 0; i < r->nhdr; i++) {
        const struct http_header *h = &r->hdr[i];
        if (h->name_len == 15 && strncasecmp(r->buf + h->name_off, "Accept-Encoding", 15) == 0) {
            ae_scan(r->buf + h->value_off, h->value_len, &q);
            seen = 1;
        }
    }
    return seen ? ae_decide(q, allowed) : COMPRESS_NONE;
}

const char *compress_coding_name(int coding)
{
    return coding == COMPRESS_BR ? "br" : "gzip";
}

size_t compress_etag(const struct req_ctx *rq, const char *etag, int coding, char *out,
                     size_t cap)
{
    const struct compress_conf *sc = site_conf(rq);
    int how = SITE_SETTING(sc, alter_etag, ETAG_ADD_SUFFIX);
    size_t n = etag ? strlen(etag) : 0;
    if (n < 2 || etag[n - 1] != '"' || how == ETAG_REMOVE)
        return 0;
    int w = how == ETAG_NO_CHANGE
                ? snprintf(out, cap, "%s", etag)
                : snprintf(out, cap, "%.*s-%s\"", (int)(n - 1), etag, compress_coding_name(coding));
    return w < 0 || (size_t)w >= cap ? 0 : (size_t)w;
}

/* ---- compressing ----------------------------------------------------------- */

static int deflate_start(const struct req_ctx *rq, z_stream *zs)
{
    const struct compress_conf *sc = site_conf(rq);
    memset(zs, 0, sizeof *zs);
    return deflateInit2(zs, SITE_SETTING(sc, level, DEFAULT_LEVEL), Z_DEFLATED,
                        SITE_SETTING(sc, window, DEFAULT_WINDOW) + 16,   /* + 16: gzip */
                        SITE_SETTING(sc, mem_level, DEFAULT_MEM_LEVEL),
                        Z_DEFAULT_STRATEGY) == Z_OK ? 0 : -1;
}

/* libdeflate: the whole buffer at once, twice as fast as zlib at the same
 * level and no larger. */
static int gzip_whole(const struct req_ctx *rq, const char *in, size_t len, char **out,
                      size_t *out_len)
{
    const struct compress_conf *sc = site_conf(rq);
    struct libdeflate_compressor *c =
        libdeflate_alloc_compressor(SITE_SETTING(sc, level, DEFAULT_LEVEL));
    if (c == NULL)
        return -1;
    size_t cap = libdeflate_gzip_compress_bound(c, len);
    char *buf = malloc(cap);
    size_t n = buf ? libdeflate_gzip_compress(c, in, len, buf, cap) : 0;
    libdeflate_free_compressor(c);
    if (n == 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

static int brotli_whole(const struct req_ctx *rq, const char *in, size_t len, char **out,
                        size_t *out_len)
{
    const struct compress_conf *sc = site_conf(rq);
    size_t cap = BrotliEncoderMaxCompressedSize(len);
    if (cap == 0)
        return -1;
    char *buf = malloc(cap);
    if (buf == NULL)
        return -1;
    *out_len = cap;
    if (!BrotliEncoderCompress(SITE_SETTING(sc, quality, DEFAULT_QUALITY),
                               SITE_SETTING(sc, br_window, DEFAULT_BR_WINDOW),
                               BROTLI_MODE_GENERIC, len, (const uint8_t *)in, out_len,
                               (uint8_t *)buf)) {
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

int compress_whole(const struct req_ctx *rq, int coding, const char *in, size_t len, char **out,
                   size_t *out_len)
{
    return coding == COMPRESS_BR ? brotli_whole(rq, in, len, out, out_len)
                                 : gzip_whole(rq, in, len, out, out_len);
}

#define STREAM_OUT 16384          /* one TLS record; a chunk the kernel takes at once */

struct compress_stream {
    int coding;
    z_stream zs;
    BrotliEncoderState *br;
    char out[STREAM_OUT];
};

struct compress_stream *compress_stream_new(const struct req_ctx *rq, int coding)
{
    const struct compress_conf *sc = site_conf(rq);
    struct compress_stream *z = malloc(sizeof *z);
    if (z == NULL)
        return NULL;
    z->coding = coding;
    z->br = NULL;
    if (coding == COMPRESS_BR) {
        z->br = BrotliEncoderCreateInstance(NULL, NULL, NULL);
        if (z->br == NULL ||
            !BrotliEncoderSetParameter(z->br, BROTLI_PARAM_QUALITY,
                                       (uint32_t)SITE_SETTING(sc, quality, DEFAULT_QUALITY)) ||
            !BrotliEncoderSetParameter(z->br, BROTLI_PARAM_LGWIN,
                                       (uint32_t)SITE_SETTING(sc, br_window, DEFAULT_BR_WINDOW))) {
            if (z->br)
                BrotliEncoderDestroyInstance(z->br);
            free(z);
            return NULL;
        }
    } else if (deflate_start(rq, &z->zs) == -1) {
        free(z);
        return NULL;
    }
    return z;
}

void compress_stream_free(struct compress_stream *z)
{
    if (z == NULL)
        return;
    if (z->coding == COMPRESS_BR)
        BrotliEncoderDestroyInstance(z->br);
    else
        deflateEnd(&z->zs);
    free(z);
}

/* One step of the coder over *IN (*AVAIL bytes, advanced) into z->out,
 * ending as HOW says: how many bytes it produced, or -1.  *DONE: nothing
 * more will come out for this call. */
static long coder_step(struct compress_stream *z, const char **in, size_t *avail, int how,
                       int *done)
{
    int finish = how == COMPRESS_PUT_FINISH;
    if (z->coding == COMPRESS_BR) {
        size_t out_avail = STREAM_OUT;
        uint8_t *next_out = (uint8_t *)z->out;
        const uint8_t *next_in = (const uint8_t *)*in;
        BrotliEncoderOperation op = finish ? BROTLI_OPERATION_FINISH
                                    : how == COMPRESS_PUT_SYNC ? BROTLI_OPERATION_FLUSH
                                                               : BROTLI_OPERATION_PROCESS;
        if (!BrotliEncoderCompressStream(z->br, op, avail, &next_in, &out_avail, &next_out, NULL))
            return -1;
        *in = (const char *)next_in;
        *done = *avail == 0 && !BrotliEncoderHasMoreOutput(z->br) &&
                (!finish || BrotliEncoderIsFinished(z->br));
        return (long)(STREAM_OUT - out_avail);
    }
    size_t take = *avail > UINT32_MAX ? UINT32_MAX : *avail;
    int last = take == *avail;
    z->zs.next_in = (Bytef *)(uintptr_t)*in;
    z->zs.avail_in = (uInt)take;
    z->zs.next_out = (Bytef *)z->out;
    z->zs.avail_out = STREAM_OUT;
    int flush = !last || how == COMPRESS_PUT_MORE ? Z_NO_FLUSH : finish ? Z_FINISH : Z_SYNC_FLUSH;
    int rc = deflate(&z->zs, flush);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
        return -1;
    size_t used = take - z->zs.avail_in;
    *in += used;
    *avail -= used;
    *done = *avail == 0 && (finish ? rc == Z_STREAM_END : z->zs.avail_out != 0);
    return (long)(STREAM_OUT - z->zs.avail_out);
}

int compress_stream_put(struct compress_stream *z, const char *buf, size_t len, int how,
                        int (*emit)(void *arg, const char *buf, size_t n, int last), void *arg)
{
    int finish = how == COMPRESS_PUT_FINISH;
    if (len == 0 && !finish)
        return 0;                 /* nothing to flush: zlib would say Z_BUF_ERROR */
    int done = 0;
    while (!done) {
        long n = coder_step(z, &buf, &len, how, &done);
        if (n < 0)
            return -1;
        if ((n > 0 || (done && finish)) && emit(arg, z->out, (size_t)n, done && finish) == -1)
            return -1;
    }
    return 0;
}

/* ---- streamed responses ---------------------------------------------------- */

/* Whether field value V (LEN bytes) lists TOKEN (case-insensitive, as a
 * comma-separated element). */
static int lists_token(const char *v, size_t len, const char *token)
{
    size_t tn = strlen(token);
    const char *p = v, *end = v + len;
    while (p < end) {
        while (p < end && (is_ows(*p) || *p == ','))
            p++;
        const char *t = p;
        while (p < end && *p != ',' && *p != '=' && !is_ows(*p))
            p++;
        if ((size_t)(p - t) == tn && strncasecmp(t, token, tn) == 0)
            return 1;
        while (p < end && *p != ',')
            p++;
    }
    return 0;
}

void compress_add_vary(struct response_head *h)
{
    size_t len;
    const char *v = response_head_get(h, "Vary", &len);
    if (v == NULL) {
        response_head_add(h, "Vary", "Accept-Encoding", 15);
        return;
    }
    if (lists_token(v, len, "accept-encoding") || lists_token(v, len, "*"))
        return;
    char merged[512];
    int n = snprintf(merged, sizeof merged, "%.*s, Accept-Encoding", (int)len, v);
    if (n > 0 && (size_t)n < sizeof merged)
        response_head_replace_first(h, "Vary", merged, (size_t)n);
}

int compress_stream_head(const struct req_ctx *rq, struct reply *rp)
{
    struct response_head *h = &rp->out.head;
    size_t tlen, len;
    const char *type = response_head_get(h, "Content-Type", &tlen);
    if (rp->status != 200 || type == NULL || response_head_get(h, "Content-Encoding", &len) ||
        response_head_get(h, "Content-Range", &len))
        return COMPRESS_NONE;
    const char *cc = response_head_get(h, "Cache-Control", &len);
    if (cc && lists_token(cc, len, "no-transform"))
        return COMPRESS_NONE;
    const char *cl = response_head_get(h, "Content-Length", &len);
    long long length = -1;
    if (cl) {
        char num[24];
        snprintf(num, sizeof num, "%.*s", (int)(len < 23 ? len : 23), cl);
        length = strtoll(num, NULL, 10);
    }
    unsigned allowed = compress_allowed(rq, type, tlen, length, NULL);
    if (allowed == 0)
        return COMPRESS_NONE;
    compress_add_vary(h);
    int coding = compress_choose_for(rq, allowed);
    if (coding == COMPRESS_NONE)
        return COMPRESS_NONE;
    response_head_remove(h, "Content-Length");
    response_head_add(h, "Content-Encoding", compress_coding_name(coding),
                      coding == COMPRESS_BR ? 2 : 4);
    const char *etag = response_head_get(h, "ETag", &len);
    if (etag) {
        char old[256], neu[300];
        snprintf(old, sizeof old, "%.*s", (int)(len < 255 ? len : 255), etag);
        size_t n = compress_etag(rq, old, coding, neu, sizeof neu);
        if (n)
            response_head_replace_first(h, "ETag", neu, n);
        else
            response_head_remove(h, "ETag");
    }
    return coding;
}

/* reply_out.release for a body compress_reply_body made. */
static void release_coded(void *buf, void *unused)
{
    (void)unused;
    free(buf);
}

int compress_reply_body(const struct req_ctx *rq, struct reply *rp)
{
    struct reply_out *o = &rp->out;
    if (o->body == NULL || o->file_fd != -1 || o->body_sent || o->head_sent)
        return COMPRESS_NONE;
    int coding = compress_stream_head(rq, rp);
    if (coding == COMPRESS_NONE)
        return COMPRESS_NONE;
    char *coded;
    size_t len;
    if (compress_whole(rq, coding, o->body, o->body_len, &coded, &len) == -1) {
        /* Undo the head's promise: the identity goes out. */
        response_head_remove(&o->head, "Content-Encoding");
        response_head_add_num(&o->head, "Content-Length", (long long)o->body_len);
        return COMPRESS_NONE;
    }
    if (o->release)
        o->release(o->release_a, o->release_b);
    o->body = coded;
    o->body_len = len;
    o->release = release_coded;
    o->release_a = coded;
    o->release_b = NULL;
    response_head_add_num(&o->head, "Content-Length", (long long)len);
    return coding;
}

/* ---- the output filter (handler.h) ------------------------------------------ */

static int filter_begin(const struct req_ctx *rq, struct reply *rp, void **state)
{
    int coding = compress_stream_head(rq, rp);
    *state = coding ? compress_stream_new(rq, coding) : NULL;
    return coding && *state == NULL ? -1 : 0;
}

static int filter_write(void *state, const char *buf, size_t len, int last,
                        int (*emit)(void *arg, const char *buf, size_t n, int last), void *arg)
{
    return compress_stream_put(state, buf, len, last ? COMPRESS_PUT_FINISH : COMPRESS_PUT_SYNC,
                               emit, arg);
}

static void filter_end(void *state)
{
    compress_stream_free(state);
}

static const struct stream_filter compress_filter = {filter_begin, filter_write, filter_end};

const struct handler compress_handler = {
    .name = "compress",
    .conf = &compress_conf_module,
    .filter = &compress_filter,
};
