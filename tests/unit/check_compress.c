/* check_compress.c: content coding (src/modules/compress.c): the choice
 * of a coding from Accept-Encoding (compress_choose), the codings a route
 * allows a media type (compress_allowed, folded from the main server, a
 * virtual host and sections as a parsed configuration gives them), the
 * coded variant's ETag, and the whole-buffer and streaming coders (gzip
 * checked by decoding with zlib). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check_suites.h"
#include "mpmd/core/config.h"
#include "mpmd/http/handler.h"
#include "mpmd/http/route.h"
#include "mpmd/modules/compress.h"

static char root[64];
static const char *const site_dirs[] = {"htdocs", NULL};

static void root_setup(void)
{
    sandbox_create(root, sizeof root, "compress", site_dirs);
}

static void root_teardown(void)
{
    sandbox_remove(root);
}

/* A route is too large for a Check stack: one per test process. */
static struct route rt;

/* What SITE's route to PATH allows TYPE (LEN bytes long). */
static unsigned allowed(const struct config *site, const char *path, const char *type,
                        long long len)
{
    route_begin(&rt, site, path, strlen(path));
    route_sections(&rt, 1);
    struct req_ctx rq = {.site = site, .route = &rt};
    return compress_allowed(&rq, type, strlen(type), len, NULL);
}

#define BOTH (COMPRESS_GZIP | COMPRESS_BR)

/* ---- choosing ---------------------------------------------------------------- */

static const struct {
    const char *ae;
    int want;
} choices[] = {
    {"", COMPRESS_NONE},
    {"gzip", COMPRESS_GZIP},
    {"br", COMPRESS_BR},
    {"gzip, br", COMPRESS_BR},
    {"br;q=0.5, gzip", COMPRESS_GZIP},
    {"gzip;q=0", COMPRESS_NONE},
    {"*", COMPRESS_BR},
    {"*;q=0", COMPRESS_NONE},
    {"identity", COMPRESS_NONE},
    {"x-gzip", COMPRESS_GZIP},
    {"GZIP", COMPRESS_GZIP},
    {"br;q=1.0, gzip;q=1", COMPRESS_BR},
    {"gzip;q=2", COMPRESS_NONE},
    {"gzip;q=abc", COMPRESS_NONE},
    {"gzip;q=1.001", COMPRESS_NONE},
    {"gzip;q=0.5, br;q=0.4", COMPRESS_GZIP},
    {"gzip, br;q=0", COMPRESS_GZIP},
    {"*, br;q=0", COMPRESS_GZIP},
    {"*;q=0, gzip", COMPRESS_GZIP},
    {"deflate, gzip;q=0.001", COMPRESS_GZIP},
    {"gzip ; q=0.8 , br ; q=0.7", COMPRESS_GZIP},
    {"GZip;Q=1", COMPRESS_GZIP},
    {"br;q=0.5;level=3, gzip;q=0.4", COMPRESS_BR},
    {",,, ,gzip,,", COMPRESS_GZIP},
};

START_TEST(test_choose_table)
{
    for (size_t i = 0; i < sizeof choices / sizeof choices[0]; i++) {
        const char *ae = choices[i].ae;
        ck_assert_msg(compress_choose(ae, strlen(ae), BOTH) == choices[i].want,
                      "Accept-Encoding '%s': got %d, want %d", ae,
                      compress_choose(ae, strlen(ae), BOTH), choices[i].want);
    }
    ck_assert_int_eq(compress_choose(NULL, 0, BOTH), COMPRESS_NONE);
}
END_TEST

START_TEST(test_choose_within_allowed)
{
    ck_assert_int_eq(compress_choose("br", 2, COMPRESS_GZIP), COMPRESS_NONE);
    ck_assert_int_eq(compress_choose("gzip, br", 8, COMPRESS_GZIP), COMPRESS_GZIP);
    ck_assert_int_eq(compress_choose("gzip", 4, COMPRESS_BR), COMPRESS_NONE);
    ck_assert_int_eq(compress_choose("*", 1, COMPRESS_GZIP), COMPRESS_GZIP);
    ck_assert_int_eq(compress_choose("br;q=1, gzip;q=0.1", 18, COMPRESS_GZIP), COMPRESS_GZIP);
    ck_assert_int_eq(compress_choose("gzip, br", 8, 0), COMPRESS_NONE);
    /* LEN bounds the field: what follows is not read. */
    ck_assert_int_eq(compress_choose("gzip, br", 4, BOTH), COMPRESS_GZIP);
}
END_TEST

/* ---- allowed types, folded along the route ----------------------------------------- */

START_TEST(test_allowed_main)
{
    struct config *cfg = sandbox_parse_ok(root, "c.conf",
                                          "Listen 80\n"
                                          "Compress On\n"
                                          "<Location /gz>\n"
                                          "AddOutputFilterByType DEFLATE text/html\n"
                                          "</Location>\n"
                                          "<Location /txt>\n"
                                          "AddOutputFilterByType DEFLATE text/*\n"
                                          "AddOutputFilterByType BROTLI_COMPRESS text/html\n"
                                          "</Location>\n"
                                          "<Location /min>\n"
                                          "CompressMinSize 5000\n"
                                          "</Location>\n");
    ck_assert_uint_eq(allowed(cfg, "/x.html", "text/html", 1000), BOTH);
    ck_assert_uint_eq(allowed(cfg, "/x.html", "text/html; charset=utf-8", 1000), BOTH);
    ck_assert_uint_eq(allowed(cfg, "/x.html", "TEXT/HTML", 1000), BOTH);
    ck_assert_uint_eq(allowed(cfg, "/x.html", "text/html", -1), BOTH);
    ck_assert_uint_eq(allowed(cfg, "/x.html", "text/html", 255), 0);
    ck_assert_uint_eq(allowed(cfg, "/x.html", "text/html", 256), BOTH);
    ck_assert_uint_eq(allowed(cfg, "/x.png", "image/png", 1000), 0);
    ck_assert_uint_eq(allowed(cfg, "/x.bin", "application/octet-stream", 1000), 0);
    ck_assert_uint_eq(allowed(cfg, "/x.svg", "image/svg+xml", 1000), BOTH);
    ck_assert_uint_eq(allowed(cfg, "/gz/x.html", "text/html", 1000), COMPRESS_GZIP);
    ck_assert_uint_eq(allowed(cfg, "/gz/x.css", "text/css", 1000), BOTH);
    ck_assert_uint_eq(allowed(cfg, "/txt/x.html", "text/html", 1000), COMPRESS_BR);
    ck_assert_uint_eq(allowed(cfg, "/txt/x.txt", "text/plain", 1000), COMPRESS_GZIP);
    ck_assert_uint_eq(allowed(cfg, "/txt/x.zz", "text/x-unlisted", 1000), COMPRESS_GZIP);
    ck_assert_uint_eq(allowed(cfg, "/min/x.html", "text/html", 4999), 0);
    ck_assert_uint_eq(allowed(cfg, "/min/x.html", "text/html", 5000), BOTH);
    config_free(cfg);
}
END_TEST

/* The star/star entries: Compress Off, SetOutputFilter and
 * AddOutputFilterByType with star/star. */
START_TEST(test_allowed_star)
{
    struct config *cfg = sandbox_parse_ok(root, "c.conf",
                                          "Listen 80\n"
                                          "Compress On\n"
                                          "<Location /off>\n"
                                          "Compress Off\n"
                                          "</Location>\n"
                                          "<Location /all>\n"
                                          "SetOutputFilter DEFLATE\n"
                                          "</Location>\n"
                                          "<Location /star>\n"
                                          "AddOutputFilterByType BROTLI_COMPRESS */*\n"
                                          "</Location>\n");
    ck_assert_uint_eq(allowed(cfg, "/off/x.html", "text/html", 1000), 0);
    ck_assert_uint_eq(allowed(cfg, "/all/x.bin", "application/octet-stream", 1000),
                      COMPRESS_GZIP);
    ck_assert_uint_eq(allowed(cfg, "/all/x.html", "text/html", 1000), COMPRESS_GZIP);
    ck_assert_uint_eq(allowed(cfg, "/all/x.png", "image/png", 1000), 0);
    ck_assert_uint_eq(allowed(cfg, "/star/x.json", "application/json", 1000), COMPRESS_BR);
    config_free(cfg);
}
END_TEST

START_TEST(test_allowed_vhosts)
{
    struct config *cfg = sandbox_parse_ok(root, "c.conf",
                                          "Listen 80\n"
                                          "Compress On\n"
                                          "<VirtualHost *:80>\n"
                                          "ServerName on.example\n"
                                          "</VirtualHost>\n"
                                          "<VirtualHost *:80>\n"
                                          "ServerName off.example\n"
                                          "Compress Off\n"
                                          "</VirtualHost>\n"
                                          "<VirtualHost *:80>\n"
                                          "ServerName plain.example\n"
                                          "Compress On text/plain\n"
                                          "</VirtualHost>\n");
    ck_assert_int_eq(cfg->n_vhosts, 3);
    ck_assert_uint_eq(allowed(cfg->vhosts[0].cfg, "/x.html", "text/html", 1000), BOTH);
    ck_assert_uint_eq(allowed(cfg->vhosts[1].cfg, "/x.html", "text/html", 1000), 0);
    ck_assert_uint_eq(allowed(cfg->vhosts[2].cfg, "/x.txt", "text/plain", 1000), BOTH);
    config_free(cfg);
}
END_TEST

START_TEST(test_nothing_configured)
{
    struct config *cfg = sandbox_parse_ok(root, "c.conf", "Listen 80\n");
    ck_assert_uint_eq(allowed(cfg, "/x.html", "text/html", 1000), 0);
    config_free(cfg);
}
END_TEST

/* ---- ETags ----------------------------------------------------------------------- */

START_TEST(test_etag)
{
    struct config *cfg = sandbox_parse_ok(root, "c.conf",
                                          "Listen 80\n"
                                          "<VirtualHost *:80>\n"
                                          "ServerName keep.example\n"
                                          "DeflateAlterETag NoChange\n"
                                          "</VirtualHost>\n"
                                          "<VirtualHost *:80>\n"
                                          "ServerName none.example\n"
                                          "BrotliAlterETag Remove\n"
                                          "</VirtualHost>\n");
    char out[64];
    struct req_ctx rq = {.site = cfg};
    ck_assert_uint_eq(compress_etag(&rq, "\"abc-12\"", COMPRESS_GZIP, out, sizeof out), 13);
    ck_assert_str_eq(out, "\"abc-12-gzip\"");
    ck_assert_uint_eq(compress_etag(&rq, "\"abc-12\"", COMPRESS_BR, out, sizeof out), 11);
    ck_assert_str_eq(out, "\"abc-12-br\"");
    ck_assert_uint_eq(compress_etag(&rq, "W/\"x\"", COMPRESS_GZIP, out, sizeof out), 10);
    ck_assert_str_eq(out, "W/\"x-gzip\"");
    ck_assert_uint_eq(compress_etag(&rq, "\"abc-12\"", COMPRESS_GZIP, out, 8), 0);
    rq.site = cfg->vhosts[0].cfg;
    ck_assert_uint_eq(compress_etag(&rq, "\"abc\"", COMPRESS_GZIP, out, sizeof out), 5);
    ck_assert_str_eq(out, "\"abc\"");
    rq.site = cfg->vhosts[1].cfg;
    ck_assert_uint_eq(compress_etag(&rq, "\"abc\"", COMPRESS_GZIP, out, sizeof out), 0);
    config_free(cfg);
}
END_TEST

/* ---- the coders ----------------------------------------------------------------- */

static unsigned char *sample(size_t n)
{
    unsigned char *b = malloc(n);
    ck_assert_ptr_nonnull(b);
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)("the quick brown fox jumps over the lazy dog "[i % 44] ^
                               ((i / 4096) & 1));
    return b;
}

static void gunzip_eq(const char *coded, size_t clen, const unsigned char *want, size_t n)
{
    unsigned char *out = malloc(n + 16);
    ck_assert_ptr_nonnull(out);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    ck_assert_int_eq(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)coded;
    zs.avail_in = (uInt)clen;
    zs.next_out = out;
    zs.avail_out = (uInt)(n + 16);
    ck_assert_int_eq(inflate(&zs, Z_FINISH), Z_STREAM_END);
    ck_assert_uint_eq(zs.total_out, n);
    ck_assert_uint_eq(zs.avail_in, 0);
    ck_assert_int_eq(memcmp(out, want, n), 0);
    inflateEnd(&zs);
    free(out);
}

struct sink {
    char *buf;
    size_t len;
    int lasts;
    int after_last;
};

static int collect(void *arg, const char *buf, size_t n, int last)
{
    struct sink *s = arg;
    if (s->lasts)
        s->after_last++;
    char *grown = realloc(s->buf, s->len + n + 1);
    ck_assert_ptr_nonnull(grown);
    s->buf = grown;
    memcpy(s->buf + s->len, buf, n);
    s->len += n;
    s->lasts += last != 0;
    return 0;
}

START_TEST(test_gzip_whole_and_stream)
{
    struct config *cfg = sandbox_parse_ok(root, "c.conf", "Listen 80\n");
    struct req_ctx rq = {.site = cfg};
    size_t n = 300 * 1024;
    unsigned char *in = sample(n);
    char *coded;
    size_t clen;
    ck_assert_int_eq(compress_whole(&rq, COMPRESS_GZIP, (const char *)in, n, &coded, &clen), 0);
    ck_assert_uint_lt(clen, n / 4);
    gunzip_eq(coded, clen, in, n);
    free(coded);
    /* Streamed in uneven pieces, each flushed: what came out so far always
     * decodes to what went in so far. */
    struct compress_stream *z = compress_stream_new(&rq, COMPRESS_GZIP);
    ck_assert_ptr_nonnull(z);
    struct sink s = {0};
    size_t at = 0, step = 1;
    while (at < n) {
        size_t take = n - at < step ? n - at : step;
        ck_assert_int_eq(compress_stream_put(z, (const char *)in + at, take, 0, collect, &s), 0);
        at += take;
        step = step * 3 + 7;
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        unsigned char *out = malloc(at + 16);
        ck_assert_int_eq(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
        zs.next_in = (Bytef *)s.buf;
        zs.avail_in = (uInt)s.len;
        zs.next_out = out;
        zs.avail_out = (uInt)(at + 16);
        int rc = inflate(&zs, Z_SYNC_FLUSH);
        ck_assert_msg(rc == Z_OK || rc == Z_BUF_ERROR, "inflate %d", rc);
        ck_assert_uint_eq(zs.total_out, at);
        ck_assert_int_eq(memcmp(out, in, at), 0);
        inflateEnd(&zs);
        free(out);
    }
    ck_assert_int_eq(s.lasts, 0);
    ck_assert_int_eq(compress_stream_put(z, NULL, 0, 1, collect, &s), 0);
    ck_assert_int_eq(s.lasts, 1);
    ck_assert_int_eq(s.after_last, 0);
    gunzip_eq(s.buf, s.len, in, n);
    compress_stream_free(z);
    free(s.buf);
    free(in);
    config_free(cfg);
}
END_TEST

Suite *compress_suite(void)
{
    Suite *s = suite_create("compress");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, root_setup, root_teardown);
    tcase_add_test(tc, test_choose_table);
    tcase_add_test(tc, test_choose_within_allowed);
    tcase_add_test(tc, test_allowed_main);
    tcase_add_test(tc, test_allowed_star);
    tcase_add_test(tc, test_allowed_vhosts);
    tcase_add_test(tc, test_nothing_configured);
    tcase_add_test(tc, test_etag);
    tcase_add_test(tc, test_gzip_whole_and_stream);
    suite_add_tcase(s, tc);
    return s;
}
