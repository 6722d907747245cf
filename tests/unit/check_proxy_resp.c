/* check_proxy_resp.c: an upstream's response head (src/modules/proxy_resp.c):
 * complete and incomplete heads, LF and CRLF, fed whole, split at every
 * offset and byte by byte; interim 1xx heads skipped (101 kept); every
 * refusal and its limit to the byte; keep_alive, no_body and the reason
 * phrase; proxy_resp_read_head over a socketpair (pieces, EOF, timeout);
 * and the body after the head through proxy_resp_body_parser and
 * http_parser (chunked, Content-Length, close-delimited, HEAD). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check_suites.h"
#include "mpmd/modules/proxy_resp.h"

#define CAP 65536
#define FIELD_MAX 8192
#define MAX_FIELDS 100

/* ---- helpers ---------------------------------------------------------------- */

/* Append up to LEN bytes of TEXT to R's buffer (no more than it holds, as
 * recv would); returns how many were taken. */
static size_t append(struct proxy_resp *r, const char *text, size_t len)
{
    size_t n = len < r->cap - r->len ? len : r->cap - r->len;
    memcpy(r->head + r->len, text, n);
    r->len += n;
    return n;
}

/* Feed TEXT (LEN bytes) to R the way proxy_resp_read_head does: fill the
 * buffer, parse, again while more is needed and bytes are left. */
static int feed_all(struct proxy_resp *r, const char *text, size_t len)
{
    size_t pos = 0;
    for (;;) {
        int done = proxy_resp_parse(r);
        if (done != 0 || pos == len)
            return done;
        pos += append(r, text + pos, len - pos);
    }
}

/* A fresh R with limits CAP, FIELD_MAX, MAX_FIELDS fed TEXT whole. */
static int parse_with(struct proxy_resp *r, const char *text, size_t cap, size_t field_max,
                      int max_fields)
{
    ck_assert_int_eq(proxy_resp_init(r, cap, field_max, max_fields), 0);
    return feed_all(r, text, strlen(text));
}

static int parse(struct proxy_resp *r, const char *text)
{
    return parse_with(r, text, CAP, FIELD_MAX, MAX_FIELDS);
}

/* Field I is NAME: VALUE exactly (offsets into the head). */
static void check_field(const struct proxy_resp *r, int i, const char *name, const char *value)
{
    ck_assert_int_lt(i, r->n_fields);
    const struct proxy_resp_field *f = &r->fields[i];
    ck_assert_uint_le((size_t)f->name_off + f->name_len, r->head_len);
    ck_assert_uint_le((size_t)f->value_off + f->value_len, r->head_len);
    ck_assert_uint_eq(f->name_len, strlen(name));
    ck_assert_mem_eq(r->head + f->name_off, name, f->name_len);
    ck_assert_uint_eq(f->value_len, strlen(value));
    ck_assert_mem_eq(r->head + f->value_off, value, f->value_len);
}

static void check_reason(const struct proxy_resp *r, const char *reason)
{
    ck_assert_uint_eq(r->reason_len, strlen(reason));
    ck_assert_uint_le((size_t)r->reason_off + r->reason_len, r->head_len);
    ck_assert_mem_eq(r->head + r->reason_off, reason, r->reason_len);
}

/* TEXT is refused with WANT, fed whole and byte by byte. */
static void refused_with(const char *text, size_t field_max, int max_fields, const char *want)
{
    struct proxy_resp r;
    ck_assert_msg(parse_with(&r, text, CAP, field_max, max_fields) == -1, "accepted: %s", text);
    ck_assert_ptr_nonnull(r.error);
    ck_assert_str_eq(r.error, want);
    ck_assert_int_eq(r.head_len, 0);
    proxy_resp_free(&r);
    ck_assert_int_eq(proxy_resp_init(&r, CAP, field_max, max_fields), 0);
    int got = 0;
    for (size_t i = 0; text[i] != '\0' && got == 0; i++) {
        append(&r, text + i, 1);
        got = proxy_resp_parse(&r);
    }
    ck_assert_msg(got == -1, "accepted byte by byte: %s", text);
    ck_assert_str_eq(r.error, want);
    proxy_resp_free(&r);
}

static void refused(const char *text, const char *want)
{
    refused_with(text, FIELD_MAX, MAX_FIELDS, want);
}

/* Everything proxy_resp_parse decided about a head, compared. */
static void same_outcome(const struct proxy_resp *a, int ra, const struct proxy_resp *b, int rb,
                         const char *how, size_t k)
{
    ck_assert_msg(ra == rb, "%s at %zu: returned %d, whole %d (%s)", how, k, rb, ra,
                  rb == -1 ? b->error : ra == -1 ? a->error : "");
    if (ra == -1) {
        ck_assert_msg(strcmp(a->error, b->error) == 0, "%s at %zu: '%s', whole '%s'", how, k,
                      b->error, a->error);
        return;
    }
    if (ra == 0)
        return;
    ck_assert_uint_eq(a->head_len, b->head_len);
    ck_assert_mem_eq(a->head, b->head, a->head_len);
    ck_assert_int_eq(a->status, b->status);
    ck_assert_uint_eq(a->reason_off, b->reason_off);
    ck_assert_uint_eq(a->reason_len, b->reason_len);
    ck_assert_int_eq(a->keep_alive, b->keep_alive);
    ck_assert_int_eq(a->no_body, b->no_body);
    ck_assert_int_eq(a->n_fields, b->n_fields);
    ck_assert_mem_eq(a->fields, b->fields, (size_t)a->n_fields * sizeof a->fields[0]);
}

/* TEXT split in two at every offset, and byte by byte, gives what it gives
 * whole (with limits CAP_, FIELD_MAX_, MAX_FIELDS_); returns that. */
static int split_everywhere_with(const char *text, size_t cap, size_t field_max, int max_fields)
{
    size_t len = strlen(text);
    struct proxy_resp whole, r;
    int want = parse_with(&whole, text, cap, field_max, max_fields);
    for (size_t k = 0; k <= len; k++) {
        ck_assert_int_eq(proxy_resp_init(&r, cap, field_max, max_fields), 0);
        size_t pos = append(&r, text, k);
        int got = proxy_resp_parse(&r);
        if (got == 0)
            got = feed_all(&r, text + pos, len - pos);
        same_outcome(&whole, want, &r, got, "split", k);
        proxy_resp_free(&r);
    }
    ck_assert_int_eq(proxy_resp_init(&r, cap, field_max, max_fields), 0);
    int got = proxy_resp_parse(&r);
    for (size_t i = 0; i < len && got == 0; i++) {
        append(&r, text + i, 1);
        got = proxy_resp_parse(&r);
    }
    same_outcome(&whole, want, &r, got, "byte by byte", 0);
    proxy_resp_free(&r);
    proxy_resp_free(&whole);
    return want;
}

static int split_everywhere(const char *text)
{
    return split_everywhere_with(text, CAP, FIELD_MAX, MAX_FIELDS);
}

/* ---- complete and incomplete heads -------------------------------------------- */

static const char gunicorn[] =
    "HTTP/1.1 200 OK\r\nServer: gunicorn\r\nDate: Fri, 04 Dec 2026 21:55:31 GMT\r\n"
    "Connection: keep-alive\r\nContent-Type: text/html; charset=utf-8\r\n"
    "Content-Length: 5\r\n\r\nhello";

START_TEST(test_complete_crlf)
{
    struct proxy_resp r;
    ck_assert_int_eq(parse(&r, gunicorn), 1);
    ck_assert_ptr_null(r.error);
    ck_assert_uint_eq(r.head_len, strlen(gunicorn) - 5);
    ck_assert_uint_eq(r.len, strlen(gunicorn));
    ck_assert_mem_eq(r.head + r.head_len, "hello", 5);
    ck_assert_int_eq(r.status, 200);
    check_reason(&r, "OK");
    ck_assert_int_eq(r.n_fields, 5);
    check_field(&r, 0, "Server", "gunicorn");
    check_field(&r, 1, "Date", "Fri, 04 Dec 2026 21:55:31 GMT");
    check_field(&r, 2, "Connection", "keep-alive");
    check_field(&r, 3, "Content-Type", "text/html; charset=utf-8");
    check_field(&r, 4, "Content-Length", "5");
    ck_assert_int_eq(r.keep_alive, 1);
    ck_assert_int_eq(r.no_body, 0);
    size_t n = 99;
    const char *v = proxy_resp_field(&r, "content-TYPE", &n);
    ck_assert_ptr_eq(v, r.head + r.fields[3].value_off);
    ck_assert_uint_eq(n, strlen("text/html; charset=utf-8"));
    n = 99;
    ck_assert_ptr_null(proxy_resp_field(&r, "Content", &n));
    ck_assert_ptr_null(proxy_resp_field(&r, "Content-Lengths", &n));
    ck_assert_uint_eq(n, 99);
    /* complete: parsing again changes nothing */
    ck_assert_int_eq(proxy_resp_parse(&r), 1);
    ck_assert_int_eq(r.n_fields, 5);
    proxy_resp_free(&r);
    ck_assert_ptr_null(r.head);
    ck_assert_ptr_null(r.fields);
}
END_TEST

START_TEST(test_complete_lf_and_mixed)
{
    struct proxy_resp r;
    const char *text = "HTTP/1.0 404 Not Found\nX-A:  b c \t\nx-empty:\r\n"
                       "Content-Length:0\n\nrest";
    ck_assert_int_eq(parse(&r, text), 1);
    ck_assert_uint_eq(r.head_len, strlen(text) - 4);
    ck_assert_int_eq(r.status, 404);
    check_reason(&r, "Not Found");
    ck_assert_int_eq(r.n_fields, 3);
    check_field(&r, 0, "X-A", "b c");
    check_field(&r, 1, "x-empty", "");
    check_field(&r, 2, "Content-Length", "0");
    ck_assert_int_eq(r.keep_alive, 0);          /* HTTP/1.0 without keep-alive */
    proxy_resp_free(&r);

    /* No fields at all, obs-text and HTAB in values, every tchar in a name. */
    ck_assert_int_eq(parse(&r, "HTTP/1.1 204 No Content\r\n\r\n"), 1);
    ck_assert_int_eq(r.n_fields, 0);
    ck_assert_uint_eq(r.head_len, 27);
    proxy_resp_free(&r);
    ck_assert_int_eq(parse(&r, "HTTP/1.1 200 OK\nX-U: caf\xc3\xa9\tau lait\n"
                               "X~!#$%&'*+-.^_`|: ok\nContent-Length: 0\n\n"), 1);
    check_field(&r, 0, "X-U", "caf\xc3\xa9\tau lait");
    check_field(&r, 1, "X~!#$%&'*+-.^_`|", "ok");
    proxy_resp_free(&r);
}
END_TEST

START_TEST(test_incomplete)
{
    static const char *const partial[] = {
        "", "H", "HTTP/1.1", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK\r", "HTTP/1.1 200 OK\r\n",
        "HTTP/1.1 200 OK\r\nA: b", "HTTP/1.1 200 OK\r\nA: b\r\n", "HTTP/1.1 200 OK\r\nA: b\r\n\r",
        "HTTP/1.1 200 OK\nA: b\n", "HTTP/1.1 100 Continue\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n",
    };
    for (size_t i = 0; i < sizeof partial / sizeof partial[0]; i++) {
        struct proxy_resp r;
        ck_assert_msg(parse(&r, partial[i]) == 0, "not 0: %s", partial[i]);
        ck_assert_ptr_null(r.error);
        ck_assert_uint_eq(r.head_len, 0);
        proxy_resp_free(&r);
    }
    /* Completed later, the scan resuming where it stopped. */
    struct proxy_resp r;
    ck_assert_int_eq(parse(&r, "HTTP/1.1 200 OK\r\nA: b\r\n"), 0);
    ck_assert_uint_eq(r.scanned, 23);
    append(&r, "B: c\r\n\r\n", 8);
    ck_assert_int_eq(proxy_resp_parse(&r), 1);
    ck_assert_int_eq(r.n_fields, 2);
    check_field(&r, 1, "B", "c");
    proxy_resp_free(&r);
}
END_TEST

START_TEST(test_split_every_offset)
{
    ck_assert_int_eq(split_everywhere(gunicorn), 1);
    ck_assert_int_eq(split_everywhere("HTTP/1.1 200 OK\nA: 1\nB:\t2\t\n\nbody\n\n"), 1);
    ck_assert_int_eq(split_everywhere("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n"
                                      "Link: </a.css>; rel=preload\r\n\r\nHTTP/1.1 201 Created\r\n"
                                      "Location: /x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                      "5\r\nhello\r\n0\r\n\r\n"), 1);
    ck_assert_int_eq(split_everywhere("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                      "Connection: Upgrade\r\n\r\n\x81\x05hello"), 1);
    ck_assert_int_eq(split_everywhere("HTTP/1.1 200 OK\r\nX: a\x01\r\n\r\n"), -1);
    ck_assert_int_eq(split_everywhere("HTTP/1.1 200 OK\r\n folded\r\n\r\n"), -1);
    ck_assert_int_eq(split_everywhere("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
                                      "Transfer-Encoding: chunked\r\n\r\n"), -1);
    ck_assert_int_eq(split_everywhere("HTTP/1.1 999 OK\r\n\r\n"), -1);
    ck_assert_int_eq(split_everywhere("HTTP/1.1 200 OK\r\nA: b\r\n"), 0);
}
END_TEST

/* ---- interim heads ------------------------------------------------------------ */

START_TEST(test_interim_skipped)
{
    struct proxy_resp r;
    const char *text = "HTTP/1.1 100 Continue\r\n\r\n"
                       "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                       "HTTP/1.1 102 Processing\n\n"
                       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    ck_assert_int_eq(parse(&r, text), 1);
    ck_assert_int_eq(r.status, 200);
    check_reason(&r, "OK");
    ck_assert_int_eq(r.n_fields, 1);              /* the Link of the 103 is gone */
    check_field(&r, 0, "Content-Length", "2");
    size_t n;
    ck_assert_ptr_null(proxy_resp_field(&r, "Link", &n));
    /* The interim heads were removed from the buffer: it starts with the final one. */
    ck_assert_uint_eq(r.head_len, strlen("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"));
    ck_assert_mem_eq(r.head, "HTTP/1.1 200 OK\r\n", 17);
    ck_assert_uint_eq(r.len, r.head_len + 2);
    ck_assert_mem_eq(r.head + r.head_len, "ok", 2);
    proxy_resp_free(&r);

    /* An interim head alone: removed, waiting for the final one. */
    ck_assert_int_eq(parse(&r, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2"), 0);
    ck_assert_uint_eq(r.len, 10);
    ck_assert_mem_eq(r.head, "HTTP/1.1 2", 10);
    append(&r, "04 No Content\r\n\r\n", 17);
    ck_assert_int_eq(proxy_resp_parse(&r), 1);
    ck_assert_int_eq(r.status, 204);
    proxy_resp_free(&r);

    /* An interim head is checked like any other. */
    refused("HTTP/1.1 100 Continue\r\nX: a\x7f\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
            "a control character in a response field value");
    refused("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
            "Content-Length: 2\r\n\r\n", "two different Content-Length values in the response");
}
END_TEST

/* The removed interim heads make room: a buffer too small for all of them
 * at once still takes the final head. */
START_TEST(test_interim_frees_room)
{
    const char *text = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
                       "HTTP/1.1 200 OK\r\nA: b\r\n\r\n";
    struct proxy_resp r;
    ck_assert_int_eq(parse_with(&r, text, 32, FIELD_MAX, MAX_FIELDS), 1);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.head_len, 25);
    proxy_resp_free(&r);
    ck_assert_int_eq(split_everywhere_with(text, 32, FIELD_MAX, MAX_FIELDS), 1);
}
END_TEST

START_TEST(test_101_not_skipped)
{
    struct proxy_resp r;
    const char *text = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                       "\r\n\x81\x02hi";
    ck_assert_int_eq(parse(&r, text), 1);
    ck_assert_int_eq(r.status, 101);
    check_reason(&r, "Switching Protocols");
    ck_assert_int_eq(r.n_fields, 3);
    check_field(&r, 0, "Upgrade", "websocket");
    ck_assert_int_eq(r.no_body, 1);
    ck_assert_uint_eq(r.len - r.head_len, 4);     /* the first frame, kept for the tunnel */
    ck_assert_mem_eq(r.head + r.head_len, "\x81\x02hi", 4);
    proxy_resp_free(&r);
    /* After a 100, a 101 is final too. */
    ck_assert_int_eq(parse(&r, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching\r\n"
                               "Upgrade: websocket\r\n\r\n"), 1);
    ck_assert_int_eq(r.status, 101);
    proxy_resp_free(&r);
}
END_TEST

/* ---- refusals ------------------------------------------------------------------- */

START_TEST(test_status_line_refused)
{
    static const char *const not_http[] = {
        "HTTP/2 200 OK\r\n\r\n", "HTTP/1.2 200 OK\r\n\r\n", "HTTP/1.x 200 OK\r\n\r\n",
        "http/1.1 200 OK\r\n\r\n", "HTTP/1.1\t200 OK\r\n\r\n", "HTTP/1.10 200 OK\r\n\r\n",
        "HTTP/1.1 20\r\n\r\n", "ICY 200 OK\r\n\r\n", "HTTP/1.1\r\n\r\n",
        "X-Not-A-Status: 1\r\n\r\n", "<html>\n\n",
    };
    for (size_t i = 0; i < sizeof not_http / sizeof not_http[0]; i++)
        refused(not_http[i], "the response does not start with an HTTP/1.x status line");
    static const char *const bad_code[] = {
        "HTTP/1.1 099 Low\r\n\r\n", "HTTP/1.1 000\r\n\r\n", "HTTP/1.1 600 High\r\n\r\n",
        "HTTP/1.1 999\r\n\r\n", "HTTP/1.1 2000\r\n\r\n", "HTTP/1.1 200OK\r\n\r\n",
        "HTTP/1.1 20x OK\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n", "HTTP/1.1 200\tOK\r\n\r\n",
        "HTTP/1.1 -20 OK\r\n\r\n", "HTTP/1.1  200 OK\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad_code / sizeof bad_code[0]; i++)
        refused(bad_code[i], "the response's status code is not three digits 100-599");
    /* The edges of the range pass. */
    struct proxy_resp r;
    ck_assert_int_eq(parse(&r, "HTTP/1.1 599\r\nContent-Length: 0\r\n\r\n"), 1);
    ck_assert_int_eq(r.status, 599);
    proxy_resp_free(&r);
    ck_assert_int_eq(parse(&r, "HTTP/1.0 200\r\n\r\n"), 1);
    ck_assert_int_eq(r.status, 200);
    proxy_resp_free(&r);
}
END_TEST

/* A blank line where the status line belongs: no status line, refused
 * (it was taken as a complete head with status 0). */
START_TEST(test_blank_first_line_refused)
{
    refused("\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            "the response does not start with an HTTP/1.x status line");
    refused("\nHTTP/1.1 200 OK\n\n", "the response does not start with an HTTP/1.x status line");
    refused("\r\n\r\n", "the response does not start with an HTTP/1.x status line");
}
END_TEST

START_TEST(test_control_characters_refused)
{
    refused("HTTP/1.1 200 O\x01K\r\n\r\n", "a control character in the response's status line");
    refused("HTTP/1.1 200 OK\x7f\r\n\r\n", "a control character in the response's status line");
    refused("HTTP/1.1 200 O\rK\r\n\r\n", "a control character in the response's status line");
    refused("HTTP/1.1 200 OK\r\r\n\r\n", "a control character in the response's status line");
    refused("HTTP/1.1 200 OK\r\nX: a\rSet-Cookie: evil\r\n\r\n",
            "a control character in a response field value");
    refused("HTTP/1.1 200 OK\r\nX: a\r\r\n\r\n", "a control character in a response field value");
    refused("HTTP/1.1 200 OK\r\nX: a\x1b[0m\r\n\r\n",
            "a control character in a response field value");
    refused("HTTP/1.1 200 OK\nX: a\x0b b\n\n", "a control character in a response field value");
    refused("HTTP/1.1 200 OK\nX: \x7f\n\n", "a control character in a response field value");
    /* A NUL in the reason, in a value, in a name. */
#define WITH_LEN(s) s, sizeof s - 1
    static const struct { const char *text; size_t len; const char *want; } nul[] = {
        {WITH_LEN("HTTP/1.1 200 O\0K\r\n\r\n"),
         "a control character in the response's status line"},
        {WITH_LEN("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n"),
         "a control character in a response field value"},
        {WITH_LEN("HTTP/1.1 200 OK\r\nX\0Y: ab\r\n\r\n"),
         "a malformed field line in the response head"},
    };
#undef WITH_LEN
    for (size_t i = 0; i < sizeof nul / sizeof nul[0]; i++) {
        struct proxy_resp r;
        ck_assert_int_eq(proxy_resp_init(&r, CAP, FIELD_MAX, MAX_FIELDS), 0);
        ck_assert_int_eq(feed_all(&r, nul[i].text, nul[i].len), -1);
        ck_assert_str_eq(r.error, nul[i].want);
        proxy_resp_free(&r);
    }
    /* HTAB is no control character here. */
    struct proxy_resp r;
    ck_assert_int_eq(parse(&r, "HTTP/1.1 200 O\tK\r\nX: a\tb\r\nContent-Length: 0\r\n\r\n"), 1);
    check_reason(&r, "O\tK");
    check_field(&r, 0, "X", "a\tb");
    proxy_resp_free(&r);
}
END_TEST

START_TEST(test_obs_fold_refused)
{
    const char *want = "obs-fold (a field line starting with white space) in the response";
    refused("HTTP/1.1 200 OK\r\nX: a\r\n continued\r\n\r\n", want);
    refused("HTTP/1.1 200 OK\nX: a\n\tcontinued\n\n", want);
    refused("HTTP/1.1 200 OK\r\n X: a\r\n\r\n", want);
    refused("HTTP/1.1 200 OK\r\n \r\n\r\n", want);
}
END_TEST

START_TEST(test_malformed_fields_refused)
{
    const char *want = "a malformed field line in the response head";
    refused("HTTP/1.1 200 OK\r\nX : a\r\n\r\n", want);
    refused("HTTP/1.1 200 OK\r\n: a\r\n\r\n", want);
    refused("HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", want);
    refused("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", want);
    refused("HTTP/1.1 200 OK\r\nX(y): a\r\n\r\n", want);
    refused("HTTP/1.1 200 OK\r\nX-\x80: a\r\n\r\n", want);
    refused("HTTP/1.1 200 OK\r\nBad Name: a\r\n\r\n", want);
    refused("HTTP/1.1 200 OK\r\nX\t: a\r\n\r\n", want);
}
END_TEST

/* A line of LEN bytes "X: vvv..." (no line end) into BUF. */
static char *field_line(size_t len)
{
    char *s = malloc(len + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, "X: ", 3);
    memset(s + 3, 'v', len - 3);
    s[len] = '\0';
    return s;
}

/* A field line exactly field_max long passes, with CRLF or LF, fed whole
 * and split anywhere; one byte more is refused. */
START_TEST(test_field_max)
{
    const size_t max = 64;
    const char *want = "a response header line is longer than responsefieldsize";
    char text[512];
    char *line = field_line(max), *longer = field_line(max + 1);
    struct proxy_resp r;
    snprintf(text, sizeof text, "HTTP/1.1 200 OK\r\n%s\r\nContent-Length: 0\r\n\r\n", line);
    ck_assert_int_eq(parse_with(&r, text, CAP, max, MAX_FIELDS), 1);
    ck_assert_uint_eq(r.fields[0].value_len, max - 3);
    proxy_resp_free(&r);
    snprintf(text, sizeof text, "HTTP/1.1 200 OK\n%s\nContent-Length: 0\n\n", line);
    ck_assert_int_eq(parse_with(&r, text, CAP, max, MAX_FIELDS), 1);
    proxy_resp_free(&r);

    snprintf(text, sizeof text, "HTTP/1.1 200 OK\r\n%s\r\nContent-Length: 0\r\n\r\n", longer);
    refused_with(text, max, MAX_FIELDS, want);
    snprintf(text, sizeof text, "HTTP/1.1 200 OK\n%s\n\n", longer);
    refused_with(text, max, MAX_FIELDS, want);
    /* An unfinished line is refused as soon as it is too long. */
    snprintf(text, sizeof text, "HTTP/1.1 200 OK\r\n%s", longer);
    ck_assert_int_eq(parse_with(&r, text, CAP, max, MAX_FIELDS), -1);
    ck_assert_str_eq(r.error, want);
    proxy_resp_free(&r);
    snprintf(text, sizeof text, "HTTP/1.1 200 OK\r\n%s", line);
    ck_assert_int_eq(parse_with(&r, text, CAP, max, MAX_FIELDS), 0);
    proxy_resp_free(&r);
    /* The status line counts too. */
    ck_assert_int_eq(parse_with(&r, "HTTP/1.1 200 0123456789\r\n\r\n", CAP, 23, 10), 1);
    proxy_resp_free(&r);
    refused_with("HTTP/1.1 200 0123456789\r\n\r\n", 22, 10, want);
    free(line);
    free(longer);
}
END_TEST

/* The same, cut between the CR and the LF of the longest line: the CR
 * waiting for its LF is no byte of the line. */
START_TEST(test_field_max_split_at_cr)
{
    const size_t max = 64;
    char text[512];
    char *line = field_line(max);
    snprintf(text, sizeof text, "HTTP/1.1 200 OK\r\n%s\r\nContent-Length: 0\r\n\r\n", line);
    struct proxy_resp r;
    ck_assert_int_eq(proxy_resp_init(&r, CAP, max, MAX_FIELDS), 0);
    size_t cut = strlen("HTTP/1.1 200 OK\r\n") + max + 1;     /* just after the CR */
    append(&r, text, cut);
    int got = proxy_resp_parse(&r);
    ck_assert_msg(got == 0, "a line of exactly responsefieldsize refused when its CR came "
                  "without its LF: %s", r.error ? r.error : "");
    append(&r, text + cut, strlen(text) - cut);
    ck_assert_int_eq(proxy_resp_parse(&r), 1);
    proxy_resp_free(&r);
    ck_assert_int_eq(split_everywhere_with(text, CAP, max, MAX_FIELDS), 1);
    free(line);
}
END_TEST

START_TEST(test_max_fields)
{
    char text[4096];
    size_t n = (size_t)snprintf(text, sizeof text, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 9; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "X-%d: %d\r\n", i, i);
    snprintf(text + n, sizeof text - n, "Content-Length: 0\r\n\r\n");
    struct proxy_resp r;
    ck_assert_int_eq(parse_with(&r, text, CAP, FIELD_MAX, 10), 1);    /* exactly 10 */
    ck_assert_int_eq(r.n_fields, 10);
    check_field(&r, 8, "X-8", "8");
    proxy_resp_free(&r);
    refused_with(text, FIELD_MAX, 9, "more response fields than LimitRequestFields");
    refused_with("HTTP/1.1 200 OK\r\nA: b\r\n\r\n", FIELD_MAX, 0,
                 "more response fields than LimitRequestFields");
    ck_assert_int_eq(parse_with(&r, "HTTP/1.1 204 No Content\r\n\r\n", CAP, FIELD_MAX, 0), 1);
    proxy_resp_free(&r);
}
END_TEST

/* A head of exactly CAP bytes fits; one byte more does not. */
START_TEST(test_head_cap)
{
    const char *text = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: 0123456789\r\n\r\n";
    size_t head = strlen(text);
    const char *want = "the response head is larger than the proxy's buffer";
    struct proxy_resp r;
    ck_assert_int_eq(parse_with(&r, text, head, FIELD_MAX, MAX_FIELDS), 1);
    ck_assert_uint_eq(r.head_len, head);
    proxy_resp_free(&r);
    ck_assert_int_eq(split_everywhere_with(text, head, FIELD_MAX, MAX_FIELDS), 1);

    ck_assert_int_eq(parse_with(&r, text, head - 1, FIELD_MAX, MAX_FIELDS), -1);
    ck_assert_str_eq(r.error, want);
    proxy_resp_free(&r);
    ck_assert_int_eq(split_everywhere_with(text, head - 1, FIELD_MAX, MAX_FIELDS), -1);
}
END_TEST

START_TEST(test_framing_refused)
{
    refused("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "both Content-Length and Transfer-Encoding in the response");
    refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            "both Content-Length and Transfer-Encoding in the response");
    refused("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "two different Content-Length values in the response");
    refused("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\n",
            "two different Content-Length values in the response");
    refused("HTTP/1.1 200 OK\r\nContent-Length: 50\r\nContent-Length: 5\r\n\r\n",
            "two different Content-Length values in the response");
    refused("HTTP/1.1 200 OK\r\ncontent-length: 5\r\nX: y\r\nCONTENT-LENGTH: 7\r\n\r\n",
            "two different Content-Length values in the response");
    static const char *const not_number[] = {"-1", "1,1", "1 1", "0x10", "+5",
                                             "1234567890123456789", "five"};
    for (size_t i = 0; i < sizeof not_number / sizeof not_number[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "HTTP/1.1 200 OK\r\nContent-Length: %s\r\n\r\n", not_number[i]);
        refused(text, "a Content-Length that is not a number in the response");
    }
    refused("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
            "a Content-Length that is not a number in the response");
    const char *te = "a transfer coding other than one 'chunked' in the response";
    refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", te);
    refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", te);
    refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", te);
    refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n", te);
    refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            te);
    refused("HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n", te);
    /* The largest length written with 18 digits passes; chunked in any case. */
    struct proxy_resp r;
    ck_assert_int_eq(parse(&r, "HTTP/1.1 200 OK\r\nContent-Length: 999999999999999999\r\n\r\n"), 1);
    proxy_resp_free(&r);
    ck_assert_int_eq(parse(&r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked \r\n\r\n"), 1);
    proxy_resp_free(&r);
}
END_TEST

/* Two different lengths whatever the place of the fields (the check
 * compared the first field's index with the second value's length). */
START_TEST(test_two_lengths_any_position)
{
    refused("HTTP/1.1 200 OK\r\nX: y\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "two different Content-Length values in the response");
    refused("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nContent-Length: 10\r\nContent-Length: 20\r\n\r\n",
            "two different Content-Length values in the response");
}
END_TEST

START_TEST(test_equal_lengths_accepted)
{
    struct proxy_resp r;
    ck_assert_int_eq(parse(&r, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n"
                               "Content-Length: 5\r\n\r\nhello"), 1);
    ck_assert_int_eq(r.keep_alive, 1);
    ck_assert_int_eq(r.n_fields, 3);
    proxy_resp_free(&r);
}
END_TEST

/* ---- keep_alive, no_body, the reason ------------------------------------------ */

START_TEST(test_keep_alive)
{
    static const struct {
        const char *text;
        int keep;
    } cases[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1},
        {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 0},
        {"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n", 0},
        {"HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n", 0},
        {"HTTP/1.1 200 OK\r\nConnection: x-foo\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
         0},
        {"HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 0\r\n\r\n", 1},
        {"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 1},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 1},
        {"HTTP/1.1 200 OK\r\n\r\n", 0},                   /* the close ends the body */
        {"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n", 0},
        {"HTTP/1.1 204 No Content\r\n\r\n", 1},           /* no body: nothing to delimit */
        {"HTTP/1.1 304 Not Modified\r\n\r\n", 1},
        {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 0},
        {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 1},
        {"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", 1},
        {"HTTP/1.0 200 OK\r\nConnection: keep-alive,close\r\nContent-Length: 0\r\n\r\n", 0},
        {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", 0},
        {"HTTP/1.0 204 No Content\r\nConnection: keep-alive\r\n\r\n", 1},
        {"HTTP/1.0 204 No Content\r\n\r\n", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct proxy_resp r;
        ck_assert_msg(parse(&r, cases[i].text) == 1, "refused: %s", cases[i].text);
        ck_assert_msg(r.keep_alive == cases[i].keep, "keep_alive %d: %s", r.keep_alive,
                      cases[i].text);
        proxy_resp_free(&r);
    }
}
END_TEST

START_TEST(test_no_body)
{
    static const struct {
        const char *text;
        int no_body;
    } cases[] = {
        {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", 1},
        {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0},
        {"HTTP/1.1 204 No Content\r\n\r\n", 1},
        {"HTTP/1.1 205 Reset Content\r\nContent-Length: 0\r\n\r\n", 0},
        {"HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n", 1},
        {"HTTP/1.1 404 Not Found\r\n\r\n", 0},
        {"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct proxy_resp r;
        ck_assert_msg(parse(&r, cases[i].text) == 1, "refused: %s", cases[i].text);
        ck_assert_msg(r.no_body == cases[i].no_body, "no_body %d: %s", r.no_body, cases[i].text);
        proxy_resp_free(&r);
    }
}
END_TEST

START_TEST(test_reason_offsets)
{
    struct proxy_resp r;
    ck_assert_int_eq(parse(&r, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 1);
    ck_assert_uint_eq(r.reason_off, 13);
    ck_assert_uint_eq(r.reason_len, 2);
    proxy_resp_free(&r);
    ck_assert_int_eq(parse(&r, "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"), 1);
    ck_assert_uint_eq(r.reason_off, 12);
    ck_assert_uint_eq(r.reason_len, 0);
    proxy_resp_free(&r);
    ck_assert_int_eq(parse(&r, "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n"), 1);
    ck_assert_uint_eq(r.reason_off, 13);
    ck_assert_uint_eq(r.reason_len, 0);
    proxy_resp_free(&r);
    ck_assert_int_eq(parse(&r, "HTTP/1.1 404  Not  Found \r\nContent-Length: 0\r\n\r\n"), 1);
    check_reason(&r, " Not  Found ");                  /* as sent, blanks and all */
    proxy_resp_free(&r);
    ck_assert_int_eq(parse(&r, "HTTP/1.1 200 D\xc3\xa9j\xc3\xa0 vu\nContent-Length: 0\n\n"), 1);
    check_reason(&r, "D\xc3\xa9j\xc3\xa0 vu");
    proxy_resp_free(&r);
    /* After interim heads, into the buffer as it is now. */
    ck_assert_int_eq(parse(&r, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 418 I'm a teapot\r\n"
                               "Content-Length: 0\r\n\r\n"), 1);
    ck_assert_uint_eq(r.reason_off, 13);
    check_reason(&r, "I'm a teapot");
    proxy_resp_free(&r);
}
END_TEST

START_TEST(test_reset)
{
    struct proxy_resp r;
    ck_assert_int_eq(parse(&r, "HTTP/1.1 200 OK\r\nX: \x01\r\n\r\n"), -1);
    ck_assert_ptr_nonnull(r.error);
    proxy_resp_reset(&r);
    ck_assert_ptr_null(r.error);
    ck_assert_uint_eq(r.len, 0);
    ck_assert_int_eq(feed_all(&r, gunicorn, strlen(gunicorn)), 1);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.n_fields, 5);
    proxy_resp_reset(&r);
    ck_assert_uint_eq(r.head_len, 0);
    ck_assert_int_eq(r.status, 0);
    ck_assert_int_eq(r.n_fields, 0);
    ck_assert_int_eq(proxy_resp_parse(&r), 0);
    proxy_resp_free(&r);
    proxy_resp_free(&r);           /* twice is harmless */
}
END_TEST

/* ---- proxy_resp_read_head over a socketpair ------------------------------------- */

struct writer {
    int fd;
    const char *const *pieces;     /* NULL-terminated */
    int close_after;               /* shut the writing side down at the end */
};

static void *write_pieces(void *arg)
{
    struct writer *w = arg;
    for (int i = 0; w->pieces[i]; i++) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        size_t len = strlen(w->pieces[i]);
        if (write(w->fd, w->pieces[i], len) != (ssize_t)len)
            return (void *)1;
    }
    if (w->close_after)
        shutdown(w->fd, SHUT_WR);
    return NULL;
}

/* A socketpair: sv[0] non-blocking (read_head's end), sv[1] blocking. */
static void pair(int sv[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_int_ne(fcntl(sv[0], F_SETFL, O_NONBLOCK), -1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read with PIECES written then (when CLOSE_AFTER) EOF; returns what
 * read_head returned, *E its errno. */
static int read_pieces(struct proxy_resp *r, const char *const *pieces, int close_after, int *e)
{
    int sv[2];
    pair(sv);
    struct writer w = {sv[1], pieces, close_after};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, write_pieces, &w), 0);
    ck_assert_int_eq(proxy_resp_init(r, CAP, FIELD_MAX, MAX_FIELDS), 0);
    errno = 0;
    int got = proxy_resp_read_head(r, sv[0], 2);
    *e = errno;
    void *ret;
    pthread_join(th, &ret);
    ck_assert_ptr_null(ret);
    close(sv[0]);
    close(sv[1]);
    return got;
}

START_TEST(test_read_head_pieces)
{
    static const char *const pieces[] = {
        "HTTP/1.1 100 Continue\r\n", "\r\nHTTP/1.1 2", "00 OK\r\nContent-Le", "ngth: 4\r",
        "\n\r", "\nbo", NULL,
    };
    struct proxy_resp r;
    int e;
    ck_assert_int_eq(read_pieces(&r, pieces, 0, &e), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.n_fields, 1);
    check_field(&r, 0, "Content-Length", "4");
    ck_assert_uint_eq(r.head_len, strlen("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n"));
    ck_assert_uint_ge(r.len, r.head_len);          /* "bo" may or may not have come yet */
    proxy_resp_free(&r);
}
END_TEST

START_TEST(test_read_head_eof)
{
    static const char *const partial[] = {"HTTP/1.1 200 OK\r\n", "Content-Length: 4\r\n", NULL};
    static const char *const nothing[] = {NULL};
    struct proxy_resp r;
    int e;
    ck_assert_int_eq(read_pieces(&r, partial, 1, &e), -1);
    ck_assert_int_eq(e, EPIPE);
    ck_assert_ptr_null(r.error);
    ck_assert_uint_eq(r.len, 36);
    proxy_resp_free(&r);
    ck_assert_int_eq(read_pieces(&r, nothing, 1, &e), -1);
    ck_assert_int_eq(e, EPIPE);
    ck_assert_uint_eq(r.len, 0);
    proxy_resp_free(&r);
    /* A complete head before the EOF is a head. */
    static const char *const whole[] = {"HTTP/1.1 200 OK\r\n\r\nbody", NULL};
    ck_assert_int_eq(read_pieces(&r, whole, 1, &e), 0);
    ck_assert_int_eq(r.status, 200);
    proxy_resp_free(&r);
}
END_TEST

START_TEST(test_read_head_refused)
{
    static const char *const bad[] = {"HTTP/1.1 200 OK\r\n", "X: a\x01\r\n\r\n", NULL};
    struct proxy_resp r;
    int e;
    ck_assert_int_eq(read_pieces(&r, bad, 0, &e), -1);
    ck_assert_str_eq(r.error, "a control character in a response field value");
    proxy_resp_free(&r);
}
END_TEST

START_TEST(test_read_head_timeout)
{
    int sv[2];
    pair(sv);
    struct proxy_resp r;
    ck_assert_int_eq(proxy_resp_init(&r, CAP, FIELD_MAX, MAX_FIELDS), 0);
    ck_assert_int_eq(write(sv[1], "HTTP/1.1 200 OK\r\n", 17), 17);
    double t0 = now_s();
    errno = 0;
    ck_assert_int_eq(proxy_resp_read_head(&r, sv[0], 1), -1);
    double took = now_s() - t0;
    ck_assert_int_eq(errno, ETIMEDOUT);
    ck_assert_ptr_null(r.error);
    ck_assert_msg(took >= 0.9 && took < 2.5, "timed out after %.2f s", took);
    ck_assert_uint_eq(r.len, 17);
    proxy_resp_free(&r);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

/* ---- the body after the head ------------------------------------------------------ */

struct decoded {
    const char *lo, *hi;           /* the buffer being parsed */
    char body[4096];
    size_t len;
    int complete, headers;
};

static int on_body(http_parser *hp, const char *at, size_t len)
{
    struct decoded *d = hp->data;
    ck_assert_msg(at >= d->lo && at + len <= d->hi, "on_body outside the buffer");
    ck_assert_uint_le(d->len + len, sizeof d->body);
    memcpy(d->body + d->len, at, len);
    d->len += len;
    return 0;
}

static int on_complete(http_parser *hp)
{
    ((struct decoded *)hp->data)->complete++;
    return 0;
}

static int on_headers(http_parser *hp)
{
    ((struct decoded *)hp->data)->headers++;
    return 0;
}

/* Run HP over P (N bytes; N == 0: the EOF). */
static size_t run(http_parser *hp, struct decoded *d, const char *p, size_t n)
{
    http_parser_settings st;
    http_parser_settings_init(&st);
    st.on_body = on_body;
    st.on_message_complete = on_complete;
    st.on_headers_complete = on_headers;
    d->lo = p;
    d->hi = p + n;
    return http_parser_execute(hp, &st, p, n);
}

/* Parse TEXT's head, then decode the body bytes read with it and the rest
 * of TEXT in pieces of STEP bytes (a proxy's reads); EOF at the end when
 * EOF is set.  The parser errno is returned. */
static enum http_errno decode(const char *text, size_t step, int head_request, int eof,
                              struct decoded *d)
{
    struct proxy_resp r;
    size_t len = strlen(text);
    memset(d, 0, sizeof *d);
    ck_assert_int_eq(proxy_resp_init(&r, CAP, FIELD_MAX, MAX_FIELDS), 0);
    size_t first = append(&r, text, len < 64 ? len : 64);   /* the head's first read */
    int got;
    while ((got = proxy_resp_parse(&r)) == 0 && first < len)
        first += append(&r, text + first, 1);
    ck_assert_int_eq(got, 1);
    http_parser hp;
    proxy_resp_body_parser(&r, &hp, head_request);
    hp.data = d;
    enum http_errno e = HTTP_PARSER_ERRNO(&hp);
    ck_assert_int_eq(d->headers, 0);   /* the head went through before hp.data was ours */
    if (e == HPE_OK && r.len > r.head_len)
        run(&hp, d, r.head + r.head_len, r.len - r.head_len);
    for (size_t pos = first; pos < len && HTTP_PARSER_ERRNO(&hp) == HPE_OK; pos += step) {
        size_t n = len - pos < step ? len - pos : step;
        char *piece = malloc(n);
        ck_assert_ptr_nonnull(piece);
        memcpy(piece, text + pos, n);
        run(&hp, d, piece, n);
        free(piece);
    }
    if (eof && HTTP_PARSER_ERRNO(&hp) == HPE_OK)
        run(&hp, d, NULL, 0);
    e = HTTP_PARSER_ERRNO(&hp);
    proxy_resp_free(&r);
    return e;
}

START_TEST(test_body_chunked)
{
    const char *text = "HTTP/1.1 200 OK\r\nServer: uvicorn\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\n1;ext=1\r\n,\r\n6\r\n world\r\nA\r\n0123456789\r\n"
                       "0\r\nX-Trailer: t\r\n\r\n";
    for (size_t step = 1; step <= 64; step = step * 2 + 1) {
        struct decoded d;
        ck_assert_int_eq(decode(text, step, 0, 0, &d), HPE_OK);
        ck_assert_int_eq(d.complete, 1);
        ck_assert_uint_eq(d.len, 22);
        ck_assert_mem_eq(d.body, "hello, world0123456789", 22);
    }
    /* A bad chunk size is the parser's error. */
    struct decoded d;
    ck_assert_int_ne(decode("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 4, 0,
                            0, &d), HPE_OK);
    ck_assert_int_eq(d.complete, 0);
}
END_TEST

START_TEST(test_body_content_length)
{
    const char *text = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello worldEXTRA";
    for (size_t step = 1; step <= 64; step = step * 2 + 1) {
        struct decoded d;
        enum http_errno e = decode(text, step, 0, 0, &d);
        ck_assert_int_eq(d.complete, 1);
        ck_assert_uint_eq(d.len, 11);
        ck_assert_mem_eq(d.body, "hello world", 11);
        (void)e;                   /* EXTRA: a second response to http_parser, not body */
    }
}
END_TEST

/* A Content-Length: 0 response ends with its head: the message completes
 * inside proxy_resp_body_parser (whose settings have no callback), so the
 * caller's on_message_complete never fires and no body byte will come to
 * run its parser over.  The caller has to be told (relay_response in
 * src/modules/proxy_http.c is not: it waits ProxyTimeout for a body byte,
 * logs "no data ... cut short", holds the client's next request that long
 * and drops the upstream connection).  This states how the parser stands
 * after proxy_resp_body_parser; the end itself is not visible to HP's
 * caller. */
START_TEST(test_body_zero_length_ends_in_head)
{
    struct decoded d;
    ck_assert_int_eq(decode("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 4, 0, 0, &d),
                     HPE_OK);
    ck_assert_int_eq(d.complete, 0);
    ck_assert_uint_eq(d.len, 0);
    /* The parser already waits for a new message: the next bytes are one. */
    struct proxy_resp r;
    ck_assert_int_eq(parse(&r, "HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n"),
                     1);
    http_parser hp;
    proxy_resp_body_parser(&r, &hp, 0);
    memset(&d, 0, sizeof d);
    hp.data = &d;
    const char *next = "HTTP/1.1 204 No Content\r\n\r\n";
    ck_assert_uint_eq(run(&hp, &d, next, strlen(next)), strlen(next));
    ck_assert_int_eq(d.headers, 1);
    ck_assert_int_eq(d.complete, 1);
    proxy_resp_free(&r);
}
END_TEST

START_TEST(test_body_close_delimited)
{
    struct decoded d;
    ck_assert_int_eq(decode("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end",
                            3, 0, 1, &d), HPE_OK);
    ck_assert_int_eq(d.complete, 1);
    ck_assert_uint_eq(d.len, 13);
    ck_assert_mem_eq(d.body, "until the end", 13);
}
END_TEST

/* The answer to a HEAD: complete after the head whatever its length says. */
START_TEST(test_body_head_request)
{
    struct proxy_resp r;
    ck_assert_int_eq(parse(&r, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"), 1);
    http_parser hp;
    proxy_resp_body_parser(&r, &hp, 1);
    ck_assert_int_eq(HTTP_PARSER_ERRNO(&hp), HPE_OK);
    ck_assert_int_eq(http_should_keep_alive(&hp), 1);
    /* The next bytes are a new response, not this one's body. */
    struct decoded d = {0};
    hp.data = &d;
    const char *next = "HTTP/1.1 204 No Content\r\n\r\n";
    ck_assert_uint_eq(run(&hp, &d, next, strlen(next)), strlen(next));
    ck_assert_int_eq(d.len, 0);
    ck_assert_int_eq(d.complete, 1);
    proxy_resp_free(&r);
}
END_TEST

/* What proxy_resp_parse accepts as framing the body parser must take as
 * well: two equal Content-Length fields, a Content-Length with a tab
 * after it (OWS).  http_parser 2.9 refuses both, and the relay then cuts
 * the body after sending the head. */
START_TEST(test_body_lengths_as_accepted)
{
    static const char *const heads[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\t\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nContent-Length:\t5 \t\r\n\r\nhello",
    };
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        struct proxy_resp r;
        ck_assert_msg(parse(&r, heads[i]) == 1, "refused: %s", heads[i]);
        proxy_resp_free(&r);
        struct decoded d;
        enum http_errno e = decode(heads[i], 2, 0, 0, &d);
        ck_assert_msg(e == HPE_OK, "the head proxy_resp_parse accepted fails in the body parser "
                      "(%s): %s", http_errno_name(e), heads[i]);
        ck_assert_int_eq(d.complete, 1);
        ck_assert_uint_eq(d.len, 5);
        ck_assert_mem_eq(d.body, "hello", 5);
    }
}
END_TEST

Suite *proxy_resp_suite(void)
{
    Suite *s = suite_create("proxy_resp");
    TCase *tc = tcase_create("proxy_resp");
    tcase_set_timeout(tc, 30);     /* valgrind and sanitizers are slow; waits bound themselves */
    tcase_add_test(tc, test_complete_crlf);
    tcase_add_test(tc, test_complete_lf_and_mixed);
    tcase_add_test(tc, test_incomplete);
    tcase_add_test(tc, test_split_every_offset);
    tcase_add_test(tc, test_interim_skipped);
    tcase_add_test(tc, test_interim_frees_room);
    tcase_add_test(tc, test_101_not_skipped);
    tcase_add_test(tc, test_status_line_refused);
    tcase_add_test(tc, test_blank_first_line_refused);
    tcase_add_test(tc, test_control_characters_refused);
    tcase_add_test(tc, test_obs_fold_refused);
    tcase_add_test(tc, test_malformed_fields_refused);
    tcase_add_test(tc, test_field_max);
    tcase_add_test(tc, test_field_max_split_at_cr);
    tcase_add_test(tc, test_max_fields);
    tcase_add_test(tc, test_head_cap);
    tcase_add_test(tc, test_framing_refused);
    tcase_add_test(tc, test_two_lengths_any_position);
    tcase_add_test(tc, test_equal_lengths_accepted);
    tcase_add_test(tc, test_keep_alive);
    tcase_add_test(tc, test_no_body);
    tcase_add_test(tc, test_reason_offsets);
    tcase_add_test(tc, test_reset);
    tcase_add_test(tc, test_read_head_pieces);
    tcase_add_test(tc, test_read_head_eof);
    tcase_add_test(tc, test_read_head_refused);
    tcase_add_test(tc, test_read_head_timeout);
    tcase_add_test(tc, test_body_chunked);
    tcase_add_test(tc, test_body_content_length);
    tcase_add_test(tc, test_body_zero_length_ends_in_head);
    tcase_add_test(tc, test_body_close_delimited);
    tcase_add_test(tc, test_body_head_request);
    tcase_add_test(tc, test_body_lengths_as_accepted);
    suite_add_tcase(s, tc);
    return s;
}
