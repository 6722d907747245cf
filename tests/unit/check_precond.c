/* check_precond.c: conditional requests and byte ranges (src/modules/precond.c). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "mpmd/http/http.h"
#include "mpmd/modules/precond.h"
#include "mpmd/http/response.h"

#define MTIME 784111777          /* Sun, 06 Nov 1994 08:49:37 GMT */
#define ETAG "\"2ebc98a1-64\""   /* precond_etag(MTIME, 100) */

/* Parse a GET with HEADERS (CRLF-separated lines) into R. */
static void make_request(struct request *r, const char *headers)
{
    char raw[2048];
    struct http_limits lim = { 8190, 8190, 100, 0 };
    snprintf(raw, sizeof raw, "GET /f HTTP/1.1\r\nHost: x\r\n%s\r\n", headers);
    http_request_init(r);
    size_t n = strlen(raw);
    ck_assert_uint_ge(http_request_reserve(r, n, 1 << 16), n);
    memcpy(r->buf, raw, n);
    r->len = (uint32_t)n;
    ck_assert_int_eq(http_request_parse(r, &lim), HTTP_PARSE_DONE);
}

static int evaluate(const char *headers, int get_or_head)
{
    struct request r;
    make_request(&r, headers);
    int v = precond_evaluate(&r, get_or_head, ETAG, MTIME);
    http_request_free(&r);
    return v;
}

START_TEST(test_etag_format)
{
    char e[40];
    ck_assert_uint_eq(precond_etag(e, MTIME, 100), strlen(ETAG));
    ck_assert_str_eq(e, ETAG);
    precond_etag(e, 0, 0);
    ck_assert_str_eq(e, "\"0-0\"");
}
END_TEST

START_TEST(test_list_matching)
{
    const char *l;
    ck_assert(precond_etag_list_matches(ETAG, strlen(ETAG), ETAG, 1));
    l = "W/" ETAG;
    ck_assert(!precond_etag_list_matches(l, strlen(l), ETAG, 1));   /* strong: weak never */
    ck_assert(precond_etag_list_matches(l, strlen(l), ETAG, 0));    /* weak compare */
    l = "\"a\", \"b\" ," ETAG;
    ck_assert(precond_etag_list_matches(l, strlen(l), ETAG, 1));
    l = "\"a\", \"b\"";
    ck_assert(!precond_etag_list_matches(l, strlen(l), ETAG, 0));
    ck_assert(precond_etag_list_matches("*", 1, ETAG, 1));
    ck_assert(precond_etag_list_matches(" * ", 3, ETAG, 0));
    l = "*, \"a\"";
    ck_assert(!precond_etag_list_matches(l, strlen(l), ETAG, 1));   /* '*' is alone or nothing */
    l = "2ebc98a1-64";                                               /* unquoted: malformed */
    ck_assert(!precond_etag_list_matches(l, strlen(l), ETAG, 0));
    l = "\"2ebc98a1-64";                                             /* unterminated */
    ck_assert(!precond_etag_list_matches(l, strlen(l), ETAG, 0));
}
END_TEST

START_TEST(test_evaluate_order)
{
    ck_assert_int_eq(evaluate("", 1), 0);
    ck_assert_int_eq(evaluate("If-Match: \"x\"\r\n", 1), 412);
    ck_assert_int_eq(evaluate("If-Match: " ETAG "\r\n", 1), 0);
    ck_assert_int_eq(evaluate("If-Match: *\r\n", 1), 0);
    /* If-Match present: If-Unmodified-Since is not looked at. */
    ck_assert_int_eq(evaluate("If-Match: " ETAG "\r\nIf-Unmodified-Since: Sat, 01 Jan 1994 "
                              "00:00:00 GMT\r\n", 1), 0);
    ck_assert_int_eq(evaluate("If-Unmodified-Since: Sat, 01 Jan 1994 00:00:00 GMT\r\n", 1), 412);
    ck_assert_int_eq(evaluate("If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n", 1), 0);
    ck_assert_int_eq(evaluate("If-Unmodified-Since: yesterday\r\n", 1), 0);    /* ignored */
    ck_assert_int_eq(evaluate("If-None-Match: " ETAG "\r\n", 1), 304);
    ck_assert_int_eq(evaluate("If-None-Match: W/" ETAG "\r\n", 1), 304);        /* weak compare */
    ck_assert_int_eq(evaluate("If-None-Match: " ETAG "\r\n", 0), 412);          /* not GET/HEAD */
    ck_assert_int_eq(evaluate("If-None-Match: \"x\"\r\n", 1), 0);
    /* If-Match fails first even when If-None-Match would match. */
    ck_assert_int_eq(evaluate("If-Match: \"x\"\r\nIf-None-Match: " ETAG "\r\n", 1), 412);
    /* If-None-Match present: If-Modified-Since is ignored. */
    ck_assert_int_eq(evaluate("If-None-Match: \"x\"\r\nIf-Modified-Since: Sun, 06 Nov 1994 "
                              "08:49:37 GMT\r\n", 1), 0);
    ck_assert_int_eq(evaluate("If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n", 1), 304);
    ck_assert_int_eq(evaluate("If-Modified-Since: Sun, 06 Nov 1994 08:49:36 GMT\r\n", 1), 0);
    ck_assert_int_eq(evaluate("If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n", 0), 0);
    ck_assert_int_eq(evaluate("If-Modified-Since: garbage\r\n", 1), 0);
}
END_TEST

static enum range_result range(const char *v, off_t size, off_t *a, off_t *b)
{
    *a = *b = -7;
    return range_parse(v, strlen(v), size, a, b);
}

START_TEST(test_range_parse)
{
    off_t a, b;
    ck_assert_int_eq(range("bytes=0-9", 100, &a, &b), RANGE_PARTIAL);
    ck_assert(a == 0 && b == 9);
    ck_assert_int_eq(range("bytes=90-", 100, &a, &b), RANGE_PARTIAL);
    ck_assert(a == 90 && b == 99);
    ck_assert_int_eq(range("bytes=90-200", 100, &a, &b), RANGE_PARTIAL);    /* clamped */
    ck_assert(a == 90 && b == 99);
    ck_assert_int_eq(range("bytes=-10", 100, &a, &b), RANGE_PARTIAL);
    ck_assert(a == 90 && b == 99);
    ck_assert_int_eq(range("bytes=-1000", 100, &a, &b), RANGE_PARTIAL);     /* whole */
    ck_assert(a == 0 && b == 99);
    ck_assert_int_eq(range("BYTES=5-5", 100, &a, &b), RANGE_PARTIAL);
    ck_assert(a == 5 && b == 5);
    ck_assert_int_eq(range("bytes=100-", 100, &a, &b), RANGE_UNSATISFIABLE);
    ck_assert_int_eq(range("bytes=-0", 100, &a, &b), RANGE_UNSATISFIABLE);
    ck_assert_int_eq(range("bytes=0-", 0, &a, &b), RANGE_UNSATISFIABLE);
    ck_assert_int_eq(range("bytes=-5", 0, &a, &b), RANGE_UNSATISFIABLE);
    ck_assert_int_eq(range("bytes=5-2", 100, &a, &b), RANGE_NONE);
    ck_assert_int_eq(range("items=0-1", 100, &a, &b), RANGE_NONE);
    ck_assert_int_eq(range("bytes=x-", 100, &a, &b), RANGE_NONE);
    ck_assert_int_eq(range("bytes=0-1,5-6", 100, &a, &b), RANGE_NONE);
    ck_assert_int_eq(range("bytes=", 100, &a, &b), RANGE_NONE);
    ck_assert_int_eq(range("bytes=-", 100, &a, &b), RANGE_NONE);
    ck_assert_int_eq(range("bytes=1234567890123456789-", 100, &a, &b), RANGE_NONE);
    ck_assert_int_eq(range("bytes=99999999999-", 100, &a, &b), RANGE_UNSATISFIABLE);
}
END_TEST

START_TEST(test_if_range)
{
    const char *d = "Sun, 06 Nov 1994 08:49:37 GMT";
    ck_assert(range_if_matches(ETAG, strlen(ETAG), ETAG, MTIME));
    ck_assert(!range_if_matches("W/" ETAG, strlen("W/" ETAG), ETAG, MTIME));
    ck_assert(!range_if_matches("\"x\"", 3, ETAG, MTIME));
    ck_assert(range_if_matches(d, strlen(d), ETAG, MTIME));
    ck_assert(!range_if_matches(d, strlen(d), ETAG, MTIME + 1));
    ck_assert(!range_if_matches("garbage", 7, ETAG, MTIME));
}
END_TEST

Suite *precond_suite(void)
{
    Suite *s = suite_create("precond");
    TCase *tc = tcase_create("precond");
    tcase_add_test(tc, test_etag_format);
    tcase_add_test(tc, test_list_matching);
    tcase_add_test(tc, test_evaluate_order);
    tcase_add_test(tc, test_range_parse);
    tcase_add_test(tc, test_if_range);
    suite_add_tcase(s, tc);
    return s;
}
