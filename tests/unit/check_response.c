/* check_response.c: unit tests for src/http/response.c: HTTP date formatting
 * and parsing (all three RFC 9110 forms, invalid input, round trips),
 * the per-thread date cache, exact response head bytes with overflow
 * detection, reason phrases and error pages.  Runs in the single Check
 * runner (check_main.c).
 *
 * Tests marked "BUG:" assert what response.h promises and fail against
 * the current src/http/response.c; see the comment on each. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check_suites.h"
#include "mpmd/http/response.h"

/* Sun, 06 Nov 1994 08:49:37 GMT: the example instant of RFC 9110 5.6.7. */
#define RFC_EXAMPLE ((time_t)784111777)

static time_t parse(const char *s)
{
    return http_date_parse(s, strlen(s));
}

static void assert_format(time_t t, const char *want)
{
    char out[64];
    memset(out, 'X', sizeof out);
    ck_assert_uint_eq(http_date_format(t, out), 29);
    ck_assert_str_eq(out, want);
    ck_assert_int_eq(out[30], 'X');   /* 29 characters and a NUL, nothing more */
}

START_TEST(test_format_known)
{
    assert_format(0, "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_format(RFC_EXAMPLE, "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_format(951782400, "Tue, 29 Feb 2000 00:00:00 GMT");     /* leap day */
    assert_format(1234567890, "Fri, 13 Feb 2009 23:31:30 GMT");
    assert_format(86399, "Thu, 01 Jan 1970 23:59:59 GMT");
}
END_TEST

START_TEST(test_format_after_2038)
{
    if (sizeof(time_t) < 8)
        return;   /* 32-bit time_t cannot represent these */
    assert_format((time_t)2147483648LL, "Tue, 19 Jan 2038 03:14:08 GMT");
    assert_format((time_t)4102444800LL, "Fri, 01 Jan 2100 00:00:00 GMT");
    assert_format((time_t)253402300799LL, "Fri, 31 Dec 9999 23:59:59 GMT");
}
END_TEST

START_TEST(test_parse_three_forms)
{
    ck_assert_int_eq(parse("Sun, 06 Nov 1994 08:49:37 GMT"), RFC_EXAMPLE);   /* IMF-fixdate */
    ck_assert_int_eq(parse("Sunday, 06-Nov-94 08:49:37 GMT"), RFC_EXAMPLE);  /* RFC 850 */
    ck_assert_int_eq(parse("Sun Nov  6 08:49:37 1994"), RFC_EXAMPLE);        /* asctime */
}
END_TEST

START_TEST(test_parse_epoch_and_later)
{
    ck_assert_int_eq(parse("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
    /* RFC 9110 5.6.7: a two-digit year is the nearest one not more than 50
     * years ahead, so "70" is 2070 (from 2021 on), never 1970. */
    ck_assert_int_eq(parse("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
    ck_assert_int_eq(parse("Thu Jan  1 00:00:00 1970"), 0);
    ck_assert_int_eq(parse("Tue, 29 Feb 2000 00:00:00 GMT"), 951782400);
    ck_assert_int_eq(parse("Tue Feb 29 00:00:00 2000"), 951782400);
    ck_assert_int_eq(parse("Thursday, 01-Jan-09 00:00:00 GMT"), 1230768000);   /* 09 -> 2009 */
    if (sizeof(time_t) >= 8)
        ck_assert_int_eq(parse("Fri, 01 Jan 2100 00:00:00 GMT"), (time_t)4102444800LL);
}
END_TEST

START_TEST(test_parse_respects_len)
{
    /* Only LEN bytes are read: what follows does not count. */
    const char *s = "Sun, 06 Nov 1994 08:49:37 GMTtrailing";
    ck_assert_int_eq(http_date_parse(s, 29), RFC_EXAMPLE);
    ck_assert_int_eq(http_date_parse(s, 28), -1);   /* "... GM" */
    ck_assert_int_eq(http_date_parse(s, strlen(s)), -1);
}
END_TEST

static const char *const invalid_dates[] = {
    "",
    "garbage",
    "Sun, 06 Nov 1994",                          /* no time */
    "Sun, 06 Nov 1994 08:49 GMT",                /* no seconds */
    "Sun, 06 Foo 1994 08:49:37 GMT",             /* month */
    "Sun, 06 nov 1994 08:49:37 GMT",             /* month is case-sensitive */
    "Sun, 06 Nov 1994 08:49:37 GMT junk",        /* trailing junk */
    "Sun, 06 Nov 1994 08:49:37 GMTX",
    "Sun, 06 Nov 1994 08:49:37 UTC",             /* zone must be GMT */
    "Sun, 06 Nov 1994 08:49:37",
    "Sun, 32 Nov 1994 08:49:37 GMT",             /* day 32 */
    "Sun, 00 Nov 1994 08:49:37 GMT",             /* day 0 */
    "Sun, 06 Nov 1994 24:00:00 GMT",             /* hour 24 */
    "Sun, 06 Nov 1994 08:60:00 GMT",             /* minute 60 */
    "Sun, 06 Nov 1994 08:49:61 GMT",             /* second 61 */
    "Sun, 06 Nov 1969 08:49:37 GMT",             /* before the epoch */
    "Sun, 06 Nov 94 08:49:37 GMT",               /* two-digit year in IMF-fixdate */
    "Sunday, 06-Nov-94 08:49:37 GMT junk",
    "Sunday, 06-Nov-1994 08:49:37 GMT",          /* four-digit year in RFC 850 */
    "Sunday, 06-Xyz-94 08:49:37 GMT",
    "Sunday, 32-Nov-94 08:49:37 GMT",
    "Sun Nov  6 08:49:37 1994 GMT",              /* asctime has no zone */
    "Sun Nov 32 08:49:37 1994",
    "Sun Nov  6 08:49:37",
    "Sun Nov  6 08:49:37 1994 ",
    ", 06 Nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 08:49:37 GMT                                      ",  /* >= 64 bytes */
};

START_TEST(test_parse_invalid)
{
    const char *s = invalid_dates[_i];
    ck_assert_msg(parse(s) == -1, "\"%s\" parsed as %lld", s, (long long)parse(s));
}
END_TEST

/* BUG (src/http/response.c http_date_parse): days are only checked against
 * 1..31 and clock fields only against their maxima, so impossible dates
 * are accepted and silently normalised (30 Feb 2000 becomes 1 Mar 2000,
 * "-1:49:37" is one hour before midnight).  response.h promises -1 for
 * "not a valid date"; an If-Modified-Since with such a value should be
 * ignored, not compared. */
static const char *const impossible_dates[] = {
    "Wed, 30 Feb 2000 00:00:00 GMT",
    "Thu, 29 Feb 2001 00:00:00 GMT",             /* 2001 is not a leap year */
    "Thu, 31 Nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 -1:49:37 GMT",             /* negative hour */
    "Sun, 06 Nov 1994 08:-1:37 GMT",             /* negative minute */
    "Sun Feb 30 00:00:00 2000",
};

START_TEST(test_parse_impossible)
{
    const char *s = impossible_dates[_i];
    ck_assert_msg(parse(s) == -1, "BUG: impossible date \"%s\" parsed as %lld", s,
                  (long long)parse(s));
}
END_TEST

/* Format T with strftime in the C locale (tests do not call setlocale). */
static void format_with(time_t t, const char *fmt, char *out, size_t cap)
{
    struct tm tm;
    ck_assert_ptr_nonnull(gmtime_r(&t, &tm));
    ck_assert_uint_gt(strftime(out, cap, fmt, &tm), 0);
}

static int year_of(time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    return tm.tm_year + 1900;
}

static int this_year(void)
{
    return year_of(time(NULL));
}

START_TEST(test_round_trip)
{
    /* Steps of a prime number of seconds from 1970 to 2038 hit every
     * month, weekday, leap year and clock digit. */
    char text[64], other[64];
    int n = 0;
    for (long long t = 0; t < 2147483647LL; t += 1234567) {
        ck_assert_uint_eq(http_date_format((time_t)t, text), 29);
        ck_assert_msg(parse(text) == (time_t)t, "%s parsed as %lld, want %lld", text,
                      (long long)parse(text), t);
        /* The other two forms of the same instant. */
        format_with((time_t)t, "%a %b %e %H:%M:%S %Y", other, sizeof other);
        ck_assert_msg(parse(other) == (time_t)t, "asctime \"%s\" gave %lld", other,
                      (long long)parse(other));
        /* rfc850's two-digit year only round-trips inside the 50-year
         * window (RFC 9110 5.6.7): years after (this year - 50). */
        format_with((time_t)t, "%A, %d-%b-%y %H:%M:%S GMT", other, sizeof other);
        if (year_of((time_t)t) > this_year() - 50)
            ck_assert_msg(parse(other) == (time_t)t, "rfc850 \"%s\" gave %lld", other,
                          (long long)parse(other));
        /* And the format agrees with strftime's IMF-fixdate. */
        format_with((time_t)t, "%a, %d %b %Y %H:%M:%S GMT", other, sizeof other);
        ck_assert_str_eq(text, other);
        n++;
    }
    ck_assert_int_gt(n, 1000);
}
END_TEST

START_TEST(test_round_trip_far)
{
    if (sizeof(time_t) < 8)
        return;
    char text[64];
    for (long long t = 2147483648LL; t < 253402300800LL; t += 987654321LL) {
        http_date_format((time_t)t, text);
        ck_assert_msg(parse(text) == (time_t)t, "%s parsed as %lld, want %lld", text,
                      (long long)parse(text), t);
    }
}
END_TEST

START_TEST(test_date_cache)
{
    struct date_cache dc;
    memset(&dc, 0, sizeof dc);
    time_t before = time(NULL);
    const char *d = date_cache_now(&dc);
    time_t after = time(NULL);
    ck_assert_ptr_eq(d, dc.text);
    ck_assert_uint_eq(strlen(d), 29);
    ck_assert_str_eq(d + 25, " GMT");
    time_t t = parse(d);
    ck_assert_int_ge(t, before);
    ck_assert_int_le(t, after);
    ck_assert_int_eq(dc.sec, t);

    /* A stale cache is refreshed. */
    dc.sec = 1;
    strcpy(dc.text, "stale");
    before = time(NULL);
    d = date_cache_now(&dc);
    after = time(NULL);
    t = parse(d);
    ck_assert_int_ge(t, before);
    ck_assert_int_le(t, after);

    /* A fresh cache is not reformatted. */
    dc.sec = time(NULL) + 1000;   /* a second that cannot be "now" soon */
    strcpy(dc.text, "kept");
    ck_assert_str_ne(date_cache_now(&dc), "kept");
    time_t s0 = time(NULL);
    dc.sec = s0;
    strcpy(dc.text, "kept");
    d = date_cache_now(&dc);
    /* Unless the second changed meanwhile. */
    if (time(NULL) == s0)
        ck_assert_str_eq(d, "kept");
}
END_TEST

#define SERVER_LINE "Server: mpmd/" PACKAGE_VERSION "\r\n"

START_TEST(test_head_exact)
{
    struct response_head h;
    response_head_start(&h, 404, "D");
    ck_assert_int_eq(response_head_finish(&h), 0);
    const char *want = "HTTP/1.1 404 Not Found\r\nDate: D\r\n" SERVER_LINE "\r\n";
    ck_assert_uint_eq(h.len, strlen(want));
    ck_assert_mem_eq(h.buf, want, h.len);
    ck_assert_int_eq(h.overflow, 0);
}
END_TEST

START_TEST(test_head_fields)
{
    struct response_head h;
    char date[32];
    http_date_format(RFC_EXAMPLE, date);
    response_head_start(&h, 200, date);
    response_head_add(&h, "Content-Type", "text/html; charset=utf-8", 24);
    response_head_add(&h, "ETag", "\"abc\"xyz", 5);   /* only VLEN bytes */
    response_head_add(&h, "X-Empty", "", 0);
    response_head_add_num(&h, "Content-Length", 12345);
    response_head_add_num(&h, "X-Zero", 0);
    response_head_add_num(&h, "X-Neg", -1);
    response_head_add_num(&h, "X-Max", LLONG_MAX);
    response_head_add_num(&h, "X-Min", LLONG_MIN);
    ck_assert_int_eq(response_head_finish(&h), 0);
    const char *want = "HTTP/1.1 200 OK\r\n"
                       "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                       SERVER_LINE
                       "Content-Type: text/html; charset=utf-8\r\n"
                       "ETag: \"abc\"\r\n"
                       "X-Empty: \r\n"
                       "Content-Length: 12345\r\n"
                       "X-Zero: 0\r\n"
                       "X-Neg: -1\r\n"
                       "X-Max: 9223372036854775807\r\n"
                       "X-Min: -9223372036854775808\r\n"
                       "\r\n";
    ck_assert_uint_eq(h.len, strlen(want));
    ck_assert_mem_eq(h.buf, want, h.len);
}
END_TEST

START_TEST(test_head_unknown_status)
{
    struct response_head h;
    response_head_start(&h, 299, "D");
    ck_assert_int_eq(response_head_finish(&h), 0);
    const char *want = "HTTP/1.1 299 Unknown\r\nDate: D\r\n" SERVER_LINE "\r\n";
    ck_assert_uint_eq(h.len, strlen(want));
    ck_assert_mem_eq(h.buf, want, h.len);
}
END_TEST

START_TEST(test_head_overflow)
{
    struct response_head h;
    char value[100];
    memset(value, 'v', sizeof value);
    response_head_start(&h, 200, "D");
    for (int i = 0; i < 40; i++) {   /* ~4.4 KiB, twice the buffer */
        response_head_add(&h, "X-Filler", value, sizeof value);
        ck_assert_uint_le(h.len, sizeof h.buf);
    }
    ck_assert_int_eq(h.overflow, 1);
    response_head_add_num(&h, "Content-Length", 1);
    ck_assert_uint_le(h.len, sizeof h.buf);
    ck_assert_int_eq(response_head_finish(&h), -1);
    ck_assert_uint_le(h.len, sizeof h.buf);
    /* What was written is whole lines of the head. */
    ck_assert_mem_eq(h.buf, "HTTP/1.1 200 OK\r\n", 17);

    /* Starting again clears the overflow. */
    response_head_start(&h, 204, "D");
    ck_assert_int_eq(h.overflow, 0);
    ck_assert_int_eq(response_head_finish(&h), 0);
    ck_assert_mem_eq(h.buf, "HTTP/1.1 204 No Content\r\n", 25);
}
END_TEST

START_TEST(test_head_overflow_sticky)
{
    /* After an overflow nothing more is appended, even what would fit:
     * the head must not continue past a dropped field. */
    static char big[sizeof ((struct response_head *)0)->buf];
    memset(big, 'v', sizeof big);
    struct response_head h;
    response_head_start(&h, 200, "D");
    size_t before = h.len;
    response_head_add(&h, "X-Big", big, sizeof big - before);   /* the name fits, the value not */
    ck_assert_int_eq(h.overflow, 1);
    size_t after = h.len;
    ck_assert_uint_le(after, sizeof h.buf);
    response_head_add(&h, "A", "b", 1);
    response_head_add_num(&h, "N", 1);
    ck_assert_uint_eq(h.len, after);
    ck_assert_int_eq(response_head_finish(&h), -1);
    ck_assert_uint_eq(h.len, after);
}
END_TEST

/* A head of exactly TOTAL bytes (with the final CRLF): start + one
 * "X: vvv...\r\n" field sized to fit. */
static int head_of_size(struct response_head *h, size_t total)
{
    static char value[sizeof h->buf];
    memset(value, 'v', sizeof value);
    response_head_start(h, 200, "D");
    size_t base = h->len + strlen("X: \r\n") + 2;
    ck_assert_uint_lt(base, total);
    response_head_add(h, "X", value, total - base);
    return response_head_finish(h);
}

START_TEST(test_head_exact_fit)
{
    struct response_head h;
    ck_assert_int_eq(head_of_size(&h, sizeof h.buf), 0);
    ck_assert_uint_eq(h.len, sizeof h.buf);
    ck_assert_int_eq(h.overflow, 0);
    ck_assert_mem_eq(h.buf + h.len - 5, "v\r\n\r\n", 5);

    ck_assert_int_eq(head_of_size(&h, sizeof h.buf + 1), -1);
    ck_assert_int_eq(h.overflow, 1);
    ck_assert_uint_le(h.len, sizeof h.buf);
}
END_TEST

START_TEST(test_head_long_date)
{
    /* Even the start can overflow (a caller's bogus date string). */
    static char date[3000];
    memset(date, 'd', sizeof date - 1);
    date[sizeof date - 1] = '\0';
    struct response_head h;
    response_head_start(&h, 200, date);
    ck_assert_int_eq(response_head_finish(&h), -1);
    ck_assert_uint_le(h.len, sizeof h.buf);
}
END_TEST

START_TEST(test_reason)
{
    ck_assert_str_eq(http_reason(200), "OK");
    ck_assert_str_eq(http_reason(206), "Partial Content");
    ck_assert_str_eq(http_reason(304), "Not Modified");
    ck_assert_str_eq(http_reason(400), "Bad Request");
    ck_assert_str_eq(http_reason(404), "Not Found");
    ck_assert_str_eq(http_reason(413), "Content Too Large");
    ck_assert_str_eq(http_reason(414), "URI Too Long");
    ck_assert_str_eq(http_reason(431), "Request Header Fields Too Large");
    ck_assert_str_eq(http_reason(500), "Internal Server Error");
    ck_assert_str_eq(http_reason(505), "HTTP Version Not Supported");
    ck_assert_str_eq(http_reason(0), "Unknown");
    ck_assert_str_eq(http_reason(-1), "Unknown");
    ck_assert_str_eq(http_reason(299), "Unknown");
    ck_assert_str_eq(http_reason(999), "Unknown");
}
END_TEST

START_TEST(test_error_body_404)
{
    size_t len = 0;
    const char *body = response_error_body(404, &len);
    ck_assert_ptr_nonnull(body);
    ck_assert_uint_eq(len, strlen(body));
    ck_assert_ptr_nonnull(strstr(body, "<title>404 Not Found</title>"));
    ck_assert_ptr_nonnull(strstr(body, "<h1>Not Found</h1>"));
    ck_assert(strncmp(body, "<!DOCTYPE html>", 15) == 0);
    ck_assert_ptr_nonnull(strstr(body, "</html>"));
}
END_TEST

START_TEST(test_error_body_fallback)
{
    size_t len500 = 0, len = 0;
    const char *b500 = response_error_body(500, &len500);
    ck_assert_ptr_nonnull(strstr(b500, "<title>500 Internal Server Error</title>"));
    static const int unknown[] = { 0, 200, 418, 999, -5 };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        len = 0;
        ck_assert_ptr_eq(response_error_body(unknown[i], &len), b500);
        ck_assert_uint_eq(len, len500);
    }
}
END_TEST

static const int error_statuses[] = { 301, 400, 403, 404, 405, 408, 411, 412, 413,
                                      414, 416, 417, 431, 500, 501, 503, 505 };

START_TEST(test_error_body_titles)
{
    /* Each page's title agrees with http_reason (two tables, one truth). */
    int status = error_statuses[_i];
    char title[128];
    snprintf(title, sizeof title, "<title>%d %s</title>", status, http_reason(status));
    size_t len = 0;
    const char *body = response_error_body(status, &len);
    ck_assert_msg(strstr(body, title) != NULL, "page for %d lacks %s", status, title);
    ck_assert_uint_eq(len, strlen(body));
}
END_TEST

Suite *response_suite(void)
{
    Suite *s = suite_create("response");

    TCase *tc = tcase_create("date");
    tcase_add_test(tc, test_format_known);
    tcase_add_test(tc, test_format_after_2038);
    tcase_add_test(tc, test_parse_three_forms);
    tcase_add_test(tc, test_parse_epoch_and_later);
    tcase_add_test(tc, test_parse_respects_len);
    tcase_add_loop_test(tc, test_parse_invalid, 0,
                        (int)(sizeof invalid_dates / sizeof invalid_dates[0]));
    tcase_add_loop_test(tc, test_parse_impossible, 0,
                        (int)(sizeof impossible_dates / sizeof impossible_dates[0]));
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_round_trip_far);
    tcase_add_test(tc, test_date_cache);
    suite_add_tcase(s, tc);

    tc = tcase_create("head");
    tcase_add_test(tc, test_head_exact);
    tcase_add_test(tc, test_head_fields);
    tcase_add_test(tc, test_head_unknown_status);
    tcase_add_test(tc, test_head_overflow);
    tcase_add_test(tc, test_head_overflow_sticky);
    tcase_add_test(tc, test_head_exact_fit);
    tcase_add_test(tc, test_head_long_date);
    suite_add_tcase(s, tc);

    tc = tcase_create("reason");
    tcase_add_test(tc, test_reason);
    tcase_add_test(tc, test_error_body_404);
    tcase_add_test(tc, test_error_body_fallback);
    tcase_add_loop_test(tc, test_error_body_titles, 0,
                        (int)(sizeof error_statuses / sizeof error_statuses[0]));
    suite_add_tcase(s, tc);

    return s;
}
