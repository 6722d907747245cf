/* fuzz_proxy_resp.c: libFuzzer harness for an upstream's response head
 * (src/modules/proxy_resp.c) and the body decoding that follows it
 * (proxy_resp_body_parser, then http_parser as proxy_http.c runs it).
 *
 * Input format (so a corpus file is 3 bytes, then what an upstream sends):
 *   byte 0, 1  two cut points, byteN * len / 255 of the rest: the upstream's
 *              bytes arrive in three pieces cut there.
 *   byte 2     bit 0 clear: the proxy's limits (a 65536-byte buffer,
 *              responsefieldsize 8192, 100 fields); set: small ones, so the
 *              limit paths are cheap to reach: buffer 24 + 8 * bits 2-4,
 *              responsefieldsize 8 + 4 * bits 5-7, fields 1 + bits 2-4.
 *              Bit 1: the request was a HEAD.
 *   rest       the upstream's response: interim heads, the head, the body.
 *
 * The head is read three ways, as proxy_resp_read_head does (append what
 * fits in the buffer, parse, again while more is needed): all bytes at
 * once, in the three pieces, and one byte at a time.  Under ASan the
 * buffer past the bytes read is poisoned while proxy_resp_parse runs, so
 * a read past them is a report.  Checked: the three ways end alike (the
 * same return, error text, status, reason, fields, head_len, keep_alive,
 * no_body, head bytes); -1 comes with an error and 1 without; a final
 * head ends in a blank line, has a status 100-599 that is no interim one,
 * lines no longer than responsefieldsize, at most the field limit, every
 * offset inside the head, token names followed by ':', trimmed values
 * without control characters but HTAB; the buffer holds the last bytes
 * read (interim heads are removed from its front); Content-Length values
 * are numbers and all the same, never with Transfer-Encoding, which is
 * one 'chunked'; no_body and keep_alive agree with a reference.
 *
 * Then, for a final head other than a 101: proxy_resp_body_parser must
 * accept the head proxy_resp_parse accepted, and http_parser decodes the
 * bytes after it, once as one buffer and once in the pieces (each in a
 * malloc'd buffer of exactly its size), then the upstream's EOF, pausing
 * at the end of the message as relay_response does; on_body's pointers
 * must lie in the buffer being parsed, both runs must decode the same
 * bytes, end the same way, and a Content-Length body must not exceed its
 * length.
 *
 * Runs in the calling thread (libFuzzer's, or replay_main.c's); all
 * memory is per input.  Invariant failures abort() with a message. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FUZZ_NAME "fuzz_proxy_resp"
#include "fuzz_target.h"
#include "mpmd/modules/proxy_resp.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(FUZZ_ASAN)
#define FUZZ_ASAN 1
#endif
#ifdef FUZZ_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define MAX_INPUT (128 * 1024)     /* bigger inputs are skipped: nothing new, only slow */
#define HEADER 3


struct limits {
    size_t cap, field_max;
    int max_fields;
    int head_request;
};

/* One way of reading the head: R, what parse returned, the input bytes
 * taken into the buffer. */
struct reading {
    struct proxy_resp r;
    int ret;
    size_t fed;
};

/* proxy_resp_parse on R with the buffer past its bytes poisoned. */
static int parse(struct proxy_resp *r)
{
    POISON(r->head + r->len, r->cap - r->len);
    int ret = proxy_resp_parse(r);
    UNPOISON(r->head, r->cap);
    CHECK(ret >= -1 && ret <= 1, "returned %d", ret);
    CHECK((ret == -1) == (r->error != NULL), "returned %d with error %s", ret,
          r->error ? r->error : "(none)");
    CHECK(r->len <= r->cap, "len %zu over cap %zu", r->len, r->cap);
    return ret;
}

/* Read IN (LEN bytes) into RD in pieces ending at CUTS[0..N) (the last ==
 * LEN), each piece appended as far as the buffer holds, then parsed, as
 * proxy_resp_read_head does with each recv. */
static void read_in_pieces(struct reading *rd, const struct limits *lim, const char *in,
                           size_t len, const size_t *cuts, size_t n)
{
    CHECK(proxy_resp_init(&rd->r, lim->cap, lim->field_max, lim->max_fields) == 0, "no memory");
    rd->fed = 0;
    rd->ret = parse(&rd->r);
    for (size_t i = 0; i < n && rd->ret == 0; i++) {
        while (rd->fed < cuts[i] && rd->ret == 0) {
            size_t room = rd->r.cap - rd->r.len, want = cuts[i] - rd->fed;
            size_t take = want < room ? want : room;
            CHECK(take > 0, "a full buffer waiting for more (len %zu)", rd->r.len);
            memcpy(rd->r.head + rd->r.len, in + rd->fed, take);
            rd->r.len += take;
            rd->fed += take;
            rd->ret = parse(&rd->r);
        }
    }
    CHECK(rd->ret != 0 || rd->fed == len, "waiting with %zu of %zu bytes unread", len - rd->fed,
          len);
}

static int is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int named(const struct proxy_resp *r, int i, const char *name)
{
    const struct proxy_resp_field *f = &r->fields[i];
    return f->name_len == strlen(name) &&
           strncasecmp(r->head + f->name_off, name, f->name_len) == 0;
}

/* Whether the value of field I has TOKEN in its comma/blank separated list. */
static int has_token(const struct proxy_resp *r, int i, const char *token)
{
    const char *v = r->head + r->fields[i].value_off;
    size_t n = r->fields[i].value_len, t = strlen(token);
    for (size_t k = 0; k < n;) {
        while (k < n && strchr(", \t", v[k]))
            k++;
        size_t s = k;
        while (k < n && !strchr(", \t", v[k]))
            k++;
        if (k - s == t && strncasecmp(v + s, token, t) == 0)
            return 1;
    }
    return 0;
}

static void check_field(const struct proxy_resp *r, int i)
{
    const struct proxy_resp_field *f = &r->fields[i];
    CHECK(f->name_len > 0 && (size_t)f->name_off + f->name_len < r->head_len, "field %d name", i);
    CHECK((size_t)f->value_off + f->value_len <= r->head_len, "field %d value outside", i);
    CHECK(r->head[f->name_off + f->name_len] == ':', "field %d: no colon after the name", i);
    CHECK(f->value_off > f->name_off + f->name_len, "field %d value before its name", i);
    CHECK(f->name_off > 0 && r->head[f->name_off - 1] == '\n', "field %d not at a line start", i);
    for (uint32_t k = 0; k < f->name_len; k++)
        CHECK(is_tchar((unsigned char)r->head[f->name_off + k]), "field %d name not a token", i);
    const char *v = r->head + f->value_off;
    for (uint32_t k = 0; k < f->value_len; k++) {
        unsigned char c = (unsigned char)v[k];
        CHECK(c >= 0x20 ? c != 0x7f : c == '\t', "field %d: control 0x%02x in value", i, c);
    }
    CHECK(f->value_len == 0 || (v[0] != ' ' && v[0] != '\t' && v[f->value_len - 1] != ' ' &&
                                v[f->value_len - 1] != '\t'), "field %d value not trimmed", i);
    CHECK(i == 0 || f->name_off > r->fields[i - 1].value_off, "fields out of order");
}

/* The framing a final head R declares, checked against a reference:
 * *CL the Content-Length (-1: none), *TE chunked. */
static void check_framing(const struct proxy_resp *r, long long *cl, int *te)
{
    int close = 0, keep = 0, first_cl = -1;
    *cl = -1;
    *te = 0;
    for (int i = 0; i < r->n_fields; i++) {
        const struct proxy_resp_field *f = &r->fields[i];
        const char *v = r->head + f->value_off;
        if (named(r, i, "Content-Length")) {
            CHECK(f->value_len > 0 && f->value_len <= 18 &&
                      strspn(v, "0123456789") >= f->value_len, "a Content-Length not a number");
            CHECK(first_cl == -1 ||
                      (f->value_len == r->fields[first_cl].value_len &&
                       memcmp(v, r->head + r->fields[first_cl].value_off, f->value_len) == 0),
                  "two different Content-Length values accepted (fields %d and %d)", first_cl, i);
            if (first_cl == -1)
                first_cl = i;
            *cl = strtoll(v, NULL, 10);
        } else if (named(r, i, "Transfer-Encoding")) {
            CHECK(!*te && f->value_len == 7 && strncasecmp(v, "chunked", 7) == 0,
                  "a transfer coding other than one chunked accepted");
            *te = 1;
        } else if (named(r, i, "Connection")) {
            close |= has_token(r, i, "close");
            keep |= has_token(r, i, "keep-alive");
        }
    }
    CHECK(!(*cl != -1 && *te), "Content-Length and Transfer-Encoding accepted");
    int no_body = r->status < 200 || r->status == 204 || r->status == 304;
    CHECK(r->no_body == no_body, "no_body %d for status %d", r->no_body, r->status);
    int minor = r->head[7] - '0';
    int keep_alive = (minor == 1 ? !close : keep && !close) && (no_body || *cl != -1 || *te);
    CHECK(r->keep_alive == keep_alive, "keep_alive %d, reference %d", r->keep_alive, keep_alive);
}

/* RD after reading IN (LEN bytes). */
static void check_reading(const struct reading *rd, const struct limits *lim, const char *in,
                          size_t len, long long *cl, int *te)
{
    const struct proxy_resp *r = &rd->r;
    CHECK(rd->fed <= len && r->len <= rd->fed, "fed %zu, len %zu", rd->fed, r->len);
    /* Interim heads leave from the front: the buffer is the last bytes read. */
    CHECK(memcmp(r->head, in + rd->fed - r->len, r->len) == 0, "buffer is not the bytes read");
    if (rd->ret != 1)
        return;
    size_t n = r->head_len;
    CHECK(n <= r->len, "head_len %zu, len %zu", n, r->len);
    CHECK(n >= 14 && memcmp(r->head, "HTTP/1.", 7) == 0 && (r->head[7] == '0' || r->head[7] == '1'),
          "a head of %zu bytes without an HTTP/1.x status line at the front (status %d)", n,
          r->status);
    CHECK(r->head[n - 1] == '\n' &&
              (r->head[n - 2] == '\n' || (r->head[n - 2] == '\r' && r->head[n - 3] == '\n')),
          "the head does not end in a blank line");
    CHECK(r->status >= 100 && r->status <= 599, "status %d", r->status);
    CHECK(r->status >= 200 || r->status == 101, "an interim status %d is final", r->status);
    CHECK((r->head[9] - '0') * 100 + (r->head[10] - '0') * 10 + (r->head[11] - '0') == r->status,
          "status %d is not the status line's", r->status);
    CHECK((size_t)r->reason_off + r->reason_len <= n, "reason outside the head");
    CHECK(r->n_fields >= 0 && r->n_fields <= lim->max_fields, "%d fields", r->n_fields);
    for (size_t p = 0, e; p < n; p = e + 1) {
        e = (size_t)((const char *)memchr(r->head + p, '\n', n - p) - r->head);
        size_t l = e - p - (e > p && r->head[e - 1] == '\r');
        CHECK(l <= lim->field_max, "a line of %zu bytes over responsefieldsize %zu", l,
              lim->field_max);
    }
    for (int i = 0; i < r->n_fields; i++)
        check_field(r, i);
    check_framing(r, cl, te);
}

static void same_reading(const struct reading *a, const struct reading *b, const char *how)
{
    CHECK(a->ret == b->ret, "%s: returned %d (%s), all at once %d (%s)", how, b->ret,
          b->r.error ? b->r.error : "", a->ret, a->r.error ? a->r.error : "");
    if (a->ret == -1) {
        CHECK(strcmp(a->r.error, b->r.error) == 0, "%s: '%s', all at once '%s'", how, b->r.error,
              a->r.error);
        return;
    }
    if (a->ret == 0)
        return;
    const struct proxy_resp *x = &a->r, *y = &b->r;
    CHECK(x->head_len == y->head_len && memcmp(x->head, y->head, x->head_len) == 0 &&
              x->status == y->status && x->reason_off == y->reason_off &&
              x->reason_len == y->reason_len && x->keep_alive == y->keep_alive &&
              x->no_body == y->no_body && x->n_fields == y->n_fields,
          "%s: the head differs", how);
    CHECK(memcmp(x->fields, y->fields, (size_t)x->n_fields * sizeof x->fields[0]) == 0,
          "%s: the fields differ", how);
}

/* ---- the body ------------------------------------------------------------------ */

struct body {
    const char *lo, *hi;           /* the buffer being parsed */
    char *out;                     /* decoded bytes */
    size_t len, cap;
    int complete;
};

static int on_body(http_parser *hp, const char *at, size_t len)
{
    struct body *b = hp->data;
    CHECK(at >= b->lo && len <= (size_t)(b->hi - at), "on_body outside the buffer parsed");
    CHECK(b->len + len <= b->cap, "more body than input");
    memcpy(b->out + b->len, at, len);
    b->len += len;
    return 0;
}

static int on_complete(http_parser *hp)
{
    struct body *b = hp->data;
    b->complete++;
    http_parser_pause(hp, 1);      /* as relay_response: one message */
    return 0;
}

/* Run HP over a malloc'd copy of P (N bytes; none: the upstream's EOF,
 * as relay_body passes it on). */
static void run(http_parser *hp, struct body *b, const char *p, size_t n)
{
    if (HTTP_PARSER_ERRNO(hp) != HPE_OK)
        return;
    if (n == 0) {
        b->lo = b->hi = NULL;
        http_parser_settings st;
        http_parser_settings_init(&st);
        st.on_body = on_body;
        st.on_message_complete = on_complete;
        http_parser_execute(hp, &st, NULL, 0);   /* may say 1 when a callback pauses */
        return;
    }
    http_parser_settings st;
    http_parser_settings_init(&st);
    st.on_body = on_body;
    st.on_message_complete = on_complete;
    char *copy = malloc(n ? n : 1);
    CHECK(copy != NULL, "no memory");
    memcpy(copy, p, n);
    b->lo = copy;
    b->hi = copy + n;
    size_t used = http_parser_execute(hp, &st, copy, n);
    CHECK(used <= n, "parsed %zu of %zu", used, n);
    free(copy);
}

/* Decode what follows RD's head: the body bytes in its buffer, then the
 * rest of IN, cut at CUTS[0..N) (the last == LEN). */
static void decode(const struct reading *rd, const struct limits *lim, const char *in,
                   size_t len, const size_t *cuts, size_t n, struct body *b, http_parser *hp)
{
    b->cap = len;
    b->out = malloc(len ? len : 1);
    CHECK(b->out != NULL, "no memory");
    proxy_resp_body_parser(&rd->r, hp, lim->head_request);
    CHECK(HTTP_PARSER_ERRNO(hp) == HPE_OK, "http_parser refuses the head proxy_resp accepted: %s",
          http_errno_name(HTTP_PARSER_ERRNO(hp)));
    hp->data = b;
    if (rd->r.len > rd->r.head_len)
        run(hp, b, rd->r.head + rd->r.head_len, rd->r.len - rd->r.head_len);
    size_t pos = rd->fed;
    for (size_t i = 0; i < n; i++)
        if (cuts[i] > pos) {
            run(hp, b, in + pos, cuts[i] - pos);
            pos = cuts[i];
        }
    run(hp, b, NULL, 0);           /* the upstream closes after the input */
}

static void check_body(const struct reading *rd, const struct limits *lim, const char *in,
                       size_t len, const size_t *cuts, long long cl, int te)
{
    if (rd->r.status == 101)
        return;                    /* a tunnel follows, no body */
    struct body one = {0}, parts = {0};
    http_parser h1, h2;
    size_t all = len;
    decode(rd, lim, in, len, &all, 1, &one, &h1);
    decode(rd, lim, in, len, cuts, 3, &parts, &h2);
    CHECK(one.len == parts.len && memcmp(one.out, parts.out, one.len) == 0,
          "the body decodes differently in pieces (%zu and %zu bytes)", one.len, parts.len);
    CHECK(one.complete == parts.complete, "complete %d, in pieces %d", one.complete,
          parts.complete);
    CHECK(HTTP_PARSER_ERRNO(&h1) == HTTP_PARSER_ERRNO(&h2), "%s, in pieces %s",
          http_errno_name(HTTP_PARSER_ERRNO(&h1)), http_errno_name(HTTP_PARSER_ERRNO(&h2)));
    if (!rd->r.no_body && !lim->head_request && !te && cl >= 0)
        CHECK((long long)one.len <= cl, "%zu body bytes for Content-Length %lld", one.len, cl);
    free(one.out);
    free(parts.out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER || size > MAX_INPUT)
        return 0;
    const char *in = (const char *)data + HEADER;
    size_t len = size - HEADER;
    unsigned mode = data[2];
    struct limits lim = {65536, 8192, 100, (mode >> 1) & 1};
    if (mode & 1) {
        lim.cap = 24 + 8 * ((mode >> 2) & 7);
        lim.field_max = 8 + 4 * (mode >> 5);
        lim.max_fields = 1 + (int)((mode >> 2) & 7);
    }
    size_t c0 = (size_t)data[0] * len / 255, c1 = (size_t)data[1] * len / 255;
    size_t cuts[3] = {c0 < c1 ? c0 : c1, c0 < c1 ? c1 : c0, len};

    struct reading whole, parts, bytes;
    read_in_pieces(&whole, &lim, in, len, &len, 1);
    long long cl = -1;
    int te = 0;
    check_reading(&whole, &lim, in, len, &cl, &te);
    read_in_pieces(&parts, &lim, in, len, cuts, 3);
    same_reading(&whole, &parts, "in three pieces");
    size_t *each = malloc((len ? len : 1) * sizeof *each);
    CHECK(each != NULL, "no memory");
    for (size_t i = 0; i < len; i++)
        each[i] = i + 1;
    read_in_pieces(&bytes, &lim, in, len, each, len);
    same_reading(&whole, &bytes, "byte by byte");
    free(each);
    if (whole.ret == 1)
        check_body(&whole, &lim, in, len, cuts, cl, te);
    proxy_resp_free(&whole.r);
    proxy_resp_free(&parts.r);
    proxy_resp_free(&bytes.r);
    return 0;
}
