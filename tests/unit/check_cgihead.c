/* check_cgihead.c: the CGI response head parser (src/modules/cgihead.c):
 * fields, Status, every refusal, LF and CRLF, the head split at every
 * offset, the size limit to the byte, and RFC 3875 6.2 classification. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "mpmd/modules/cgihead.h"

#define LIMIT 65536

/* Feed TEXT whole to a fresh H (limit LIMIT); returns what feed returned. */
static ssize_t parse(struct cgi_head *h, const char *text)
{
    ck_assert_int_eq(cgi_head_init(h, LIMIT), 0);
    return cgi_head_feed(h, text, strlen(text));
}

/* Field I's name and value are NAME and VALUE exactly. */
static void check_field(const struct cgi_head *h, int i, const char *name, const char *value)
{
    size_t len;
    const char *s = cgi_head_name(h, i, &len);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(len, strlen(name));
    ck_assert_mem_eq(s, name, len);
    s = cgi_head_value(h, i, &len);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(len, strlen(value));
    ck_assert_mem_eq(s, value, len);
}

/* The reason phrase is REASON exactly. */
static void check_reason(const struct cgi_head *h, const char *reason)
{
    ck_assert_uint_eq(h->reason_len, strlen(reason));
    ck_assert_uint_le(h->reason_off + h->reason_len, h->len);
    ck_assert_mem_eq(h->buf + h->reason_off, reason, h->reason_len);
}

START_TEST(test_fields_crlf)
{
    struct cgi_head h;
    const char *out = "Content-Type: text/html\r\nX-A:  b c \t\r\nX-Empty:\r\n\r\n<html>";
    ck_assert_int_eq(parse(&h, out), (ssize_t)(strlen(out) - 6));
    ck_assert_int_eq(h.done, 1);
    ck_assert_ptr_null(h.error);
    ck_assert_int_eq(h.n_fields, 3);
    check_field(&h, 0, "Content-Type", "text/html");
    check_field(&h, 1, "X-A", "b c");
    check_field(&h, 2, "X-Empty", "");
    ck_assert_int_eq(h.content_type, 0);
    ck_assert_int_eq(h.location, -1);
    ck_assert_int_eq(h.status, 0);
    ck_assert_int_eq(cgi_head_kind(&h), CGI_DOCUMENT);
    /* done: later bytes are body, never consumed */
    ck_assert_int_eq(cgi_head_feed(&h, "more", 4), 0);
    ck_assert_int_eq(h.n_fields, 3);
    cgi_head_free(&h);
    ck_assert_ptr_null(h.buf);
}
END_TEST

START_TEST(test_fields_lf_and_mixed)
{
    struct cgi_head h;
    const char *out = "content-type:text/plain\nStatus: 201 Created\r\nX-B: 1\n\nbody\n\n";
    ck_assert_int_eq(parse(&h, out), (ssize_t)(strlen(out) - 6));
    ck_assert_int_eq(h.done, 1);
    ck_assert_int_eq(h.n_fields, 2);                  /* Status is not a field */
    check_field(&h, 0, "content-type", "text/plain");
    check_field(&h, 1, "X-B", "1");
    ck_assert_int_eq(h.content_type, 0);
    ck_assert_int_eq(h.status, 201);
    check_reason(&h, "Created");
    cgi_head_free(&h);
}
END_TEST

START_TEST(test_empty_head)
{
    struct cgi_head h;
    ck_assert_int_eq(parse(&h, "\r\nbody"), 2);
    ck_assert_int_eq(h.done, 1);
    ck_assert_int_eq(h.n_fields, 0);
    ck_assert_int_eq(h.status, 0);
    ck_assert_int_eq(cgi_head_kind(&h), CGI_DOCUMENT);
    cgi_head_free(&h);
    ck_assert_int_eq(parse(&h, "\nbody"), 1);
    ck_assert_int_eq(h.done, 1);
    cgi_head_free(&h);
    /* Nothing fed yet, or an unfinished head: not done. */
    ck_assert_int_eq(parse(&h, ""), 0);
    ck_assert_int_eq(h.done, 0);
    ck_assert_int_eq(cgi_head_feed(&h, "A: b\r\n", 6), 6);
    ck_assert_int_eq(h.done, 0);
    ck_assert_int_eq(cgi_head_feed(&h, "\r", 1), 1);
    ck_assert_int_eq(h.done, 0);
    ck_assert_int_eq(cgi_head_feed(&h, "\nX", 2), 1);
    ck_assert_int_eq(h.done, 1);
    check_field(&h, 0, "A", "b");
    cgi_head_free(&h);
}
END_TEST

START_TEST(test_status_forms)
{
    struct cgi_head h;
    ck_assert_int_eq(parse(&h, "Status: 404 Not Found\r\n\r\n"), 25);
    ck_assert_int_eq(h.status, 404);
    check_reason(&h, "Not Found");
    ck_assert_int_eq(h.n_fields, 0);
    cgi_head_free(&h);

    ck_assert_int_eq(parse(&h, "STATUS:500\n\n"), 12);  /* no reason, case-insensitive */
    ck_assert_int_eq(h.status, 500);
    check_reason(&h, "");
    cgi_head_free(&h);

    ck_assert_int_eq(parse(&h, "status: 200 \t\r\n\r\n"), 17);   /* trailing blanks trimmed */
    ck_assert_int_eq(h.status, 200);
    check_reason(&h, "");
    cgi_head_free(&h);

    ck_assert_int_gt(parse(&h, "Status: 100 \tOdd\tone  \n\n"), 0);
    ck_assert_int_eq(h.status, 100);
    check_reason(&h, "\tOdd\tone");
    cgi_head_free(&h);

    ck_assert_int_gt(parse(&h, "Status: 599 x\n\n"), 0);
    ck_assert_int_eq(h.status, 599);
    check_reason(&h, "x");
    cgi_head_free(&h);
}
END_TEST

/* TEXT is refused with WANT, fed whole and fed byte by byte. */
static void refused(const char *text, const char *want)
{
    struct cgi_head h;
    ck_assert_msg(parse(&h, text) == -1, "accepted: %s", text);
    ck_assert_ptr_nonnull(h.error);
    ck_assert_str_eq(h.error, want);
    ck_assert_int_eq(h.done, 0);
    ck_assert_int_eq(cgi_head_feed(&h, "\r\n", 2), -1);      /* sticky */
    cgi_head_free(&h);
    ck_assert_int_eq(cgi_head_init(&h, LIMIT), 0);
    ssize_t r = 0;
    for (size_t i = 0; text[i] != '\0' && r != -1; i++)
        r = cgi_head_feed(&h, text + i, 1);
    ck_assert_int_eq(r, -1);
    ck_assert_str_eq(h.error, want);
    cgi_head_free(&h);
}

START_TEST(test_status_refused)
{
    static const char *const bad[] = {
        "Status: 20\n\n", "Status: 2000\n\n", "Status: 099 Low\n\n", "Status: 600 High\n\n",
        "Status: abc\n\n", "Status: 200\tOK\n\n", "Status: 20x OK\n\n", "Status:\n\n",
        "Status: 2 00\n\n", "Status: +20 OK\n\n", "Status: 200OK\n\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct cgi_head h;
        ck_assert_msg(parse(&h, bad[i]) == -1, "accepted: %s", bad[i]);
        ck_assert_ptr_nonnull(h.error);
        cgi_head_free(&h);
    }
    refused("Status: 600\r\n\r\n", "CGI Status code is not in 100..599");
    refused("Status: 099\r\n\r\n", "CGI Status code is not in 100..599");
    refused("Status: 20\r\n\r\n", "CGI Status is not a three-digit code and a reason");
    refused("Status: 200 OK\r\nX: y\r\nstatus: 200 OK\r\n\r\n", "CGI head has Status twice");
    refused("Status: 200 O\x01K\r\n\r\n", "CGI header field value has a control character");
}
END_TEST

START_TEST(test_lines_refused)
{
    refused("Content-Type text/html\r\n\r\n", "CGI header line has no colon");
    refused("X: 1\r\nnot a header\n\n", "CGI header line has no colon");
    refused(": value\r\n\r\n", "CGI header field with an empty name");
    refused("Bad Name: x\r\n\r\n", "CGI header field name is not a token");
    refused("Bad\tName: x\r\n\r\n", "CGI header field name is not a token");
    refused("X-\x80: x\r\n\r\n", "CGI header field name is not a token");
    refused("X(y): x\r\n\r\n", "CGI header field name is not a token");
    refused("X: a\rSet-Cookie: evil\r\n\r\n", "CGI header field value has a control character");
    refused("X: a\r\r\n\r\n", "CGI header field value has a control character");
    refused("X: a\x7f\r\n\r\n", "CGI header field value has a control character");
    refused("X: a\x1b[0m\r\n\r\n", "CGI header field value has a control character");
    refused("X: a\x0b b\n\n", "CGI header field value has a control character");
    refused("X: a\r\n continued\r\n\r\n", "CGI head has a folded line (obs-fold)");
    refused("X: a\n\tcontinued\n\n", "CGI head has a folded line (obs-fold)");
    refused(" X: a\n\n", "CGI head has a folded line (obs-fold)");
    /* A NUL: in the value, in the name. */
    struct cgi_head h;
    ck_assert_int_eq(cgi_head_init(&h, LIMIT), 0);
    ck_assert_int_eq(cgi_head_feed(&h, "X: a\0b\r\n\r\n", 10), -1);
    ck_assert_str_eq(h.error, "CGI header field value has a control character");
    cgi_head_free(&h);
    ck_assert_int_eq(cgi_head_init(&h, LIMIT), 0);
    ck_assert_int_eq(cgi_head_feed(&h, "X\0Y: ab\r\n\r\n", 11), -1);
    ck_assert_str_eq(h.error, "CGI header field name is not a token");
    cgi_head_free(&h);
}
END_TEST

/* Obs-text (bytes >= 0x80) and HTAB inside a value are fine. */
START_TEST(test_value_bytes_allowed)
{
    struct cgi_head h;
    ck_assert_int_gt(parse(&h, "X-U: caf\xc3\xa9\tau lait\r\nX~!#$%&'*+-.^_`|: ok\r\n\r\n"), 0);
    ck_assert_int_eq(h.done, 1);
    check_field(&h, 0, "X-U", "caf\xc3\xa9\tau lait");
    check_field(&h, 1, "X~!#$%&'*+-.^_`|", "ok");
    cgi_head_free(&h);
}
END_TEST

START_TEST(test_field_count)
{
    char text[4096];
    size_t n = 0;
    for (int i = 0; i < CGI_HEAD_MAX_FIELDS; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "X-%d: %d\r\n", i, i);
    n += (size_t)snprintf(text + n, sizeof text - n, "Status: 200 OK\r\n");
    snprintf(text + n, sizeof text - n, "\r\n");
    struct cgi_head h;
    ck_assert_int_eq(parse(&h, text), (ssize_t)strlen(text));   /* 100 + Status: fine */
    ck_assert_int_eq(h.n_fields, CGI_HEAD_MAX_FIELDS);
    check_field(&h, 99, "X-99", "99");
    cgi_head_free(&h);
    snprintf(text + n, sizeof text - n, "X-100: x\r\n\r\n");
    refused(text, "CGI head has too many header fields");
}
END_TEST

/* A head of exactly LIMIT bytes is fine; one byte more is refused, with
 * or without its line end, and the body after it does not count. */
START_TEST(test_limit_exact)
{
    const char *text = "Content-Type: text/plain\r\nX-Pad: 0123456789\r\n\r\nBODY BYTES";
    size_t head = strlen(text) - 10;
    struct cgi_head h;
    ck_assert_int_eq(cgi_head_init(&h, head), 0);
    ck_assert_int_eq(cgi_head_feed(&h, text, strlen(text)), (ssize_t)head);
    ck_assert_int_eq(h.done, 1);
    ck_assert_uint_eq(h.len, head);
    cgi_head_free(&h);

    ck_assert_int_eq(cgi_head_init(&h, head - 1), 0);
    ck_assert_int_eq(cgi_head_feed(&h, text, strlen(text)), -1);
    ck_assert_str_eq(h.error, "CGI head is larger than the limit");
    cgi_head_free(&h);

    /* An unfinished line: exactly LIMIT bytes wait, the next byte fails. */
    ck_assert_int_eq(cgi_head_init(&h, 10), 0);
    ck_assert_int_eq(cgi_head_feed(&h, "X: 123", 6), 6);
    ck_assert_int_eq(cgi_head_feed(&h, "4567", 4), 4);
    ck_assert_int_eq(cgi_head_feed(&h, "8", 1), -1);
    ck_assert_str_eq(h.error, "CGI head is larger than the limit");
    cgi_head_free(&h);

    ck_assert_int_eq(cgi_head_init(&h, 0), 0);
    ck_assert_int_eq(cgi_head_feed(&h, "", 0), 0);
    ck_assert_int_eq(cgi_head_feed(&h, "\n", 1), -1);
    cgi_head_free(&h);
}
END_TEST

/* The parsed head, compared field by field (through their bytes). */
static void same_head(const struct cgi_head *a, const struct cgi_head *b)
{
    ck_assert_int_eq(a->done, b->done);
    ck_assert_uint_eq(a->len, b->len);
    ck_assert_mem_eq(a->buf, b->buf, a->len);
    ck_assert_int_eq(a->status, b->status);
    ck_assert_uint_eq(a->reason_off, b->reason_off);
    ck_assert_uint_eq(a->reason_len, b->reason_len);
    ck_assert_int_eq(a->location, b->location);
    ck_assert_int_eq(a->content_type, b->content_type);
    ck_assert_int_eq(a->n_fields, b->n_fields);
    ck_assert_mem_eq(a->fields, b->fields, (size_t)a->n_fields * sizeof a->fields[0]);
}

/* TEXT split in two at every offset, and byte by byte: the same head and
 * the same count of bytes consumed as fed whole. */
static void split_everywhere(const char *text)
{
    size_t len = strlen(text);
    struct cgi_head whole, h;
    ck_assert_int_eq(cgi_head_init(&whole, LIMIT), 0);
    ssize_t want = cgi_head_feed(&whole, text, len);
    ck_assert_int_gt(want, 0);
    for (size_t k = 0; k <= len; k++) {
        ck_assert_int_eq(cgi_head_init(&h, LIMIT), 0);
        ssize_t a = cgi_head_feed(&h, text, k);
        ck_assert_int_ge(a, 0);
        ssize_t b = cgi_head_feed(&h, text + a, len - (size_t)a);
        ck_assert_int_ge(b, 0);
        ck_assert_int_eq(a + b, want);
        same_head(&whole, &h);
        cgi_head_free(&h);
    }
    ck_assert_int_eq(cgi_head_init(&h, LIMIT), 0);
    ssize_t total = 0;
    for (size_t i = 0; i < len && !h.done; i++) {
        ck_assert_int_eq(cgi_head_feed(&h, text + i, 1), 1);
        total++;
    }
    ck_assert_int_eq(total, want);
    same_head(&whole, &h);
    cgi_head_free(&h);
    cgi_head_free(&whole);
}

START_TEST(test_split_every_offset)
{
    split_everywhere("Status: 302 Found\r\nLocation: https://example.com/a?b\r\n"
                     "Content-Type: text/html; charset=UTF-8\r\nX-Powered-By: PHP/8.2.7\r\n"
                     "Set-Cookie: a=b; path=/\r\n\r\n<html>body</html>\r\n\r\n");
    split_everywhere("X-A: 1\nX-B:\t2\t\n\nbody");
    split_everywhere("\r\n\r\nbody");
    split_everywhere("\nX: y\n");
}
END_TEST

START_TEST(test_location_first_and_case)
{
    struct cgi_head h;
    ck_assert_int_gt(parse(&h, "X: 1\r\nlocation: /a\r\nLOCATION: /b\r\n"
                               "CONTENT-TYPE: a/b\r\nContent-type: c/d\r\n\r\n"), 0);
    ck_assert_int_eq(h.location, 1);
    ck_assert_int_eq(h.content_type, 3);
    ck_assert_int_eq(h.n_fields, 5);
    check_field(&h, 2, "LOCATION", "/b");
    ck_assert_int_eq(cgi_head_kind(&h), CGI_LOCAL_REDIRECT);
    cgi_head_free(&h);
    /* Near misses are plain fields. */
    ck_assert_int_gt(parse(&h, "Locations: /a\r\nContent-Types: x\r\nStatus-X: 1\r\n\r\n"), 0);
    ck_assert_int_eq(h.location, -1);
    ck_assert_int_eq(h.content_type, -1);
    ck_assert_int_eq(h.status, 0);
    ck_assert_int_eq(h.n_fields, 3);
    cgi_head_free(&h);
}
END_TEST

static enum cgi_kind kind_of(const char *text)
{
    struct cgi_head h;
    ck_assert_msg(parse(&h, text) > 0, "refused: %s", text);
    ck_assert_int_eq(h.done, 1);
    enum cgi_kind k = cgi_head_kind(&h);
    cgi_head_free(&h);
    return k;
}

START_TEST(test_kind)
{
    ck_assert_int_eq(kind_of("Content-Type: text/html\n\n"), CGI_DOCUMENT);
    ck_assert_int_eq(kind_of("Location: /new/path?q=1\n\n"), CGI_LOCAL_REDIRECT);
    ck_assert_int_eq(kind_of("Location: /\n\n"), CGI_LOCAL_REDIRECT);
    ck_assert_int_eq(kind_of("Status: 302 Found\nLocation: /x\n\n"), CGI_DOCUMENT);
    ck_assert_int_eq(kind_of("Location: http://example.com/\n\n"), CGI_CLIENT_REDIRECT);
    ck_assert_int_eq(kind_of("Status: 301 Moved\nLocation: https://a/\n\n"), CGI_CLIENT_REDIRECT);
    ck_assert_int_eq(kind_of("Location: a+b.c-d:x\n\n"), CGI_CLIENT_REDIRECT);
    ck_assert_int_eq(kind_of("Location: mailto:x@y\n\n"), CGI_CLIENT_REDIRECT);
    ck_assert_int_eq(kind_of("Location: relative/path\n\n"), CGI_DOCUMENT);
    ck_assert_int_eq(kind_of("Location: 1http://x\n\n"), CGI_DOCUMENT);
    ck_assert_int_eq(kind_of("Location: ht tp://x\n\n"), CGI_DOCUMENT);
    ck_assert_int_eq(kind_of("Location: :x\n\n"), CGI_DOCUMENT);
    ck_assert_int_eq(kind_of("Location: http\n\n"), CGI_DOCUMENT);
    ck_assert_int_eq(kind_of("Location:\n\n"), CGI_DOCUMENT);
    ck_assert_int_eq(kind_of("Location:   \t\n\n"), CGI_DOCUMENT);
}
END_TEST

START_TEST(test_accessors_out_of_range)
{
    struct cgi_head h;
    size_t len = 99;
    ck_assert_int_gt(parse(&h, "A: b\n\n"), 0);
    ck_assert_ptr_null(cgi_head_value(&h, 1, &len));
    ck_assert_uint_eq(len, 0);
    len = 99;
    ck_assert_ptr_null(cgi_head_name(&h, -1, &len));
    ck_assert_uint_eq(len, 0);
    ck_assert_ptr_nonnull(cgi_head_name(&h, 0, &len));
    ck_assert_uint_eq(len, 1);
    cgi_head_free(&h);
}
END_TEST

/* A long line fed one byte at a time: offsets stay right across feeds. */
START_TEST(test_long_line_bytewise)
{
    size_t vlen = 60000;
    char *text = malloc(vlen + 32);
    ck_assert_ptr_nonnull(text);
    memcpy(text, "X-Long: ", 8);
    memset(text + 8, 'v', vlen);
    memcpy(text + 8 + vlen, "\r\nA: b\r\n\r\n", 11);
    struct cgi_head h;
    ck_assert_int_eq(cgi_head_init(&h, LIMIT), 0);
    size_t len = strlen(text);
    for (size_t i = 0; i < len; i++)
        ck_assert_int_eq(cgi_head_feed(&h, text + i, 1), 1);
    ck_assert_int_eq(h.done, 1);
    ck_assert_int_eq(h.n_fields, 2);
    size_t n;
    ck_assert_ptr_eq(cgi_head_value(&h, 0, &n), h.buf + 8);
    ck_assert_uint_eq(n, vlen);
    check_field(&h, 1, "A", "b");
    cgi_head_free(&h);
    free(text);
}
END_TEST

Suite *cgihead_suite(void)
{
    Suite *s = suite_create("cgihead");
    TCase *tc = tcase_create("cgihead");
    tcase_add_test(tc, test_fields_crlf);
    tcase_add_test(tc, test_fields_lf_and_mixed);
    tcase_add_test(tc, test_empty_head);
    tcase_add_test(tc, test_status_forms);
    tcase_add_test(tc, test_status_refused);
    tcase_add_test(tc, test_lines_refused);
    tcase_add_test(tc, test_value_bytes_allowed);
    tcase_add_test(tc, test_field_count);
    tcase_add_test(tc, test_limit_exact);
    tcase_add_test(tc, test_split_every_offset);
    tcase_add_test(tc, test_location_first_and_case);
    tcase_add_test(tc, test_kind);
    tcase_add_test(tc, test_accessors_out_of_range);
    tcase_add_test(tc, test_long_line_bytewise);
    suite_add_tcase(s, tc);
    return s;
}
