/* fuzz_request.c: libFuzzer harness for what mpmd does with a client's bytes.
 *
 * Owns one simulated connection per input: the bytes are fed through
 * http_request_reserve/http_request_parse/http_request_next exactly as
 * src/http/conn.c does (reads limited by the buffer room; a request answered
 * as soon as its head is in, HTTP_PARSE_HEAD or DONE; keep-alive decided
 * per response as decide_keep_alive does, a pending body included; after
 * a keep-alive answer a pending body read and dropped until DONE, an
 * ERROR there ending the connection; pipelined requests parsed after
 * each response; no "100 Continue" ever), and every request that parses
 * is run through what the handlers and the access log do with it: the
 * request line, header lookups, the target's path through path_normalize
 * (checked against a slow reference implementation), the dates through
 * http_date_parse, and the conditional and Range fields through
 * src/modules/precond.c.  Runs in the calling thread (libFuzzer's, or
 * replay_main.c's); everything is freed per input.
 *
 * Input format (so a corpus file is a readable request after 2 bytes):
 *   byte 0  how the client's bytes arrive.  < 0x80: in bursts of 1..(b0+1)
 *           bytes (sizes from a PRNG seeded by bytes 0 and 1); each burst is
 *           read (possibly in several reads, as the buffer room allows)
 *           before the server "would block".  >= 0x80: all in one burst.
 *   byte 1  limits.  Even: Apache's defaults (LimitRequestLine 8190,
 *           LimitRequestFieldSize 8190, LimitRequestFields 100,
 *           LimitRequestBody 1 GiB).  Odd: small limits derived from it, so
 *           the 413/414/431 paths are cheap to reach.  Bytes 0 and 1 also
 *           pick the size of the file that precond/range checks run against.
 *   rest    the bytes the client sends.  At the end of them the client
 *           stalls: a partial request gets the 408 path (access-logged).
 *
 * Every http_request_parse result is checked against the request state
 * (sim_parse): HEAD once per message, with the head in and the body
 * pending; DONE with no body pending; a body's remaining length only
 * counting down, matched by the bytes read.
 *
 * Invariant failures abort() with a message on stderr; memory errors are
 * for ASan/UBSan (fuzz binary, make check-asan). */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FUZZ_NAME "fuzz_request"
#include "fuzz_target.h"
#include "mpmd/http/conn.h"
#include "mpmd/http/http.h"
#include "mpmd/http/path.h"
#include "mpmd/modules/precond.h"
#include "mpmd/http/response.h"

#define FUZZ_PREFIX 2            /* control bytes before the client's bytes */
#define CONN_READ_WANT 2048      /* what conn_fill asks http_request_reserve for */
#define CONN_SLACK 4096          /* conn_fill: line + fields * field_size + this */
#define MAX_KEEPALIVE_REQUESTS 100 /* MaxKeepAliveRequests default (bounds the loop) */
/* (CONN_DISCARD_KEEP_MAX, the largest pending body kept for, is conn.h's.) */
#define FILE_MTIME 1700000000    /* the file precond/range checks run against */

/* Written so the compiler cannot drop the reads that feed it. */
static volatile unsigned fuzz_sink;


/* ---- the client side: bytes arriving in bursts ----------------------- */

struct feed {
    const uint8_t *data;
    size_t size, pos;
    size_t burst_left;     /* bytes of the current burst not read yet */
    size_t burst_max;      /* 0: everything in one burst */
    uint32_t rng;
};

static uint32_t feed_rand(struct feed *f)
{
    uint32_t x = f->rng; /* xorshift32 */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return f->rng = x;
}

/* Start the next burst.  Returns 0 when the client has nothing more. */
static int feed_next_burst(struct feed *f)
{
    size_t rest = f->size - f->pos;
    if (rest == 0)
        return 0;
    size_t n = f->burst_max ? 1 + feed_rand(f) % f->burst_max : rest;
    f->burst_left = n < rest ? n : rest;
    return 1;
}

/* ---- the server side: conn.c's read/serve loop ------------------------- */

struct sim {
    struct request req;
    struct http_limits lim;
    struct feed feed;
    unsigned served;
    int keep_alive;        /* conn->keep_alive: decided per response */
    int discarding;        /* conn->discarding: answered from the head, dropping the body */
    unsigned heads;        /* HEAD results for the current message (at most 1) */
    long long body_at_head; /* body_left when HEAD came: -1 chunked, else Content-Length */
    size_t path_cap_small; /* a second, small OUTCAP for path_normalize */
    off_t file_size;       /* the file precond/range checks run against */
};

/* conn_fill: reserve, then "read" what the current burst has.  Returns
 * bytes read, -1 when the read would block, -3 when the head outgrew
 * every limit. */
static long sim_fill(struct sim *s)
{
    struct request *r = &s->req;
    size_t max = (size_t)s->lim.line + (size_t)s->lim.fields * s->lim.field_size + CONN_SLACK;
    size_t room = http_request_reserve(r, CONN_READ_WANT, max);
    if (room == 0)
        return -3;
    CHECK(r->buf != NULL && room <= (size_t)r->cap - r->len && r->cap <= max,
          "reserve returned room %zu with len %u cap %u max %zu", room, r->len, r->cap, max);
    if (s->feed.burst_left == 0)
        return -1;
    size_t n = room < s->feed.burst_left ? room : s->feed.burst_left;
    memcpy(r->buf + r->len, s->feed.data + s->feed.pos, n);
    r->len += (uint32_t)n;
    s->feed.pos += n;
    s->feed.burst_left -= n;
    return (long)n;
}

/* The statuses http.c (and conn_fill's overflow) may fail a request with. */
static void check_error_status(const struct request *r)
{
    int st = r->error_status;
    CHECK(st == 400 || st == 413 || st == 414 || st == 417 || st == 431 || st == 500 ||
          st == 501 || st == 505,
          "unexpected error status %d (%s)", st, r->error_reason ? r->error_reason : "");
    CHECK(http_reason(st) != NULL, "no reason phrase for %d", st);
}

/* HEAD: once per message, the head in, a body of a known (within
 * LimitRequestBody) or unknown length pending, none of it read yet. */
static void check_head(struct sim *s)
{
    const struct request *r = &s->req;
    CHECK(s->heads == 0, "HEAD %u times for one message", s->heads + 1);
    CHECK(!s->discarding, "HEAD while discarding a body");
    CHECK(r->head_reported && r->headers_done && !r->complete && !r->error_status,
          "HEAD with head_reported %u headers_done %u complete %u error %d",
          r->head_reported, r->headers_done, r->complete, r->error_status);
    CHECK(http_request_body_pending(r), "HEAD but no body pending");
    CHECK(r->body_bytes == 0, "HEAD after %llu body bytes", (unsigned long long)r->body_bytes);
    long long left = http_request_body_left(r);
    CHECK(left == -1 || (left > 0 && (uint64_t)left <= s->lim.body),
          "body_left %lld at HEAD (LimitRequestBody %llu)", left,
          (unsigned long long)s->lim.body);
    size_t len;
    CHECK(!r->expect_continue ||
              (r->parser.http_minor >= 1 && http_request_header(r, "Expect", &len)),
          "expect_continue for HTTP/1.%u without Expect", (unsigned)r->parser.http_minor);
    s->heads = 1;
    s->body_at_head = left;
}

/* DONE: the whole message is in, no body pending; a message that never
 * said HEAD had no body; one with a Content-Length body read all of it. */
static void check_done(const struct sim *s)
{
    const struct request *r = &s->req;
    CHECK(r->complete && r->headers_done && !r->error_status,
          "DONE with complete %u headers_done %u error %d", r->complete, r->headers_done,
          r->error_status);
    CHECK(!http_request_body_pending(r), "DONE but a body is pending");
    CHECK(s->heads == r->head_reported, "%u HEADs but head_reported %u", s->heads,
          r->head_reported);
    if (!r->head_reported)
        CHECK(r->body_bytes == 0 && !r->expect_continue,
              "no HEAD, yet %llu body bytes (expect_continue %u)",
              (unsigned long long)r->body_bytes, r->expect_continue);
    else if (s->body_at_head >= 0)
        CHECK(r->body_bytes == (uint64_t)s->body_at_head,
              "Content-Length %lld but %llu body bytes read by DONE (the rest would be "
              "parsed as the next request)", s->body_at_head,
              (unsigned long long)r->body_bytes);
}

/* A step through a pending body: Content-Length counts down by exactly
 * the bytes read, chunked stays unknown. */
static void check_body_step(const struct sim *s, long long left_before, uint64_t bytes_before)
{
    const struct request *r = &s->req;
    CHECK(r->body_bytes >= bytes_before, "body_bytes went back from %llu to %llu",
          (unsigned long long)bytes_before, (unsigned long long)r->body_bytes);
    if (!http_request_body_pending(r))
        return;
    long long left = http_request_body_left(r);
    if (s->body_at_head < 0) {
        CHECK(left == -1, "chunked body_left became %lld", left);
        return;
    }
    CHECK(left >= 0 && left <= left_before, "body_left went from %lld to %lld", left_before,
          left);
    CHECK((uint64_t)left + r->body_bytes == (uint64_t)s->body_at_head,
          "body_left %lld + %llu bytes read != Content-Length %lld", left,
          (unsigned long long)r->body_bytes, s->body_at_head);
}

/* http_request_parse, with the invariants of what it says. */
static enum http_parse_result sim_parse(struct sim *s)
{
    struct request *r = &s->req;
    int in_body = s->heads && http_request_body_pending(r);
    long long left_before = in_body ? http_request_body_left(r) : 0;
    uint64_t bytes_before = r->body_bytes;
    enum http_parse_result res = http_request_parse(r, &s->lim);
    CHECK(r->parsed <= r->len, "parsed %u beyond len %u", r->parsed, r->len);
    switch (res) {
    case HTTP_PARSE_HEAD:
        check_head(s);
        break;
    case HTTP_PARSE_DONE:
        check_done(s);
        break;
    case HTTP_PARSE_ERROR:
        check_error_status(r);
        break;
    case HTTP_PARSE_MORE:
        CHECK(!r->error_status && !r->complete, "MORE with error %d complete %u",
              r->error_status, r->complete);
        break;
    default:
        CHECK(0, "http_request_parse returned %d", (int)res);
    }
    if (in_body && res != HTTP_PARSE_ERROR)
        check_body_step(s, left_before, bytes_before);
    return res;
}

enum read_result { READ_READY, READ_WAIT };

/* conn_read_request (EOF never happens: the client stalls instead).
 * READ_READY: a head to answer (HEAD, DONE or an error); while
 * discarding, the body is over or broken. */
static enum read_result sim_read_request(struct sim *s)
{
    struct request *r = &s->req;
    for (;;) {
        if (r->parsed < r->len) {
            CHECK(r->buf != NULL, "bytes to parse but no buffer");
            if (sim_parse(s) != HTTP_PARSE_MORE)
                return READ_READY;
        }
        long n = sim_fill(s);
        if (n == -1)
            return READ_WAIT;
        if (n == -3) {
            r->error_status = r->headers_done || r->url_len ? 431 : 414;
            r->error_reason = "request head larger than the configured limits";
            return READ_READY;
        }
    }
}

/* Read LEN bytes at P so ASan checks them; P must lie inside R's buffer. */
static void touch_span(const struct request *r, const char *p, size_t len, const char *what)
{
    if (!p) {
        CHECK(len == 0, "%s: NULL with length %zu", what, len);
        return;
    }
    CHECK(p >= r->buf && len <= r->len && (size_t)(p - r->buf) <= r->len - len,
          "%s: [%td, +%zu) outside the buffer (len %u)", what, p - r->buf, len, r->len);
    unsigned h = 0;
    for (size_t i = 0; i < len; i++)
        h = h * 31 + (unsigned char)p[i];
    fuzz_sink += h;
}

/* What conn_log_access reads: runs for every response, failed requests
 * (400, 408, 414, 431, ...) included. */
static void sim_log_access(const struct request *r)
{
    size_t len;
    const char *line = http_request_line(r, &len);
    touch_span(r, line, len, "request line");
    const char *v = http_request_header(r, "Referer", &len);
    touch_span(r, v, len, "Referer");
    v = http_request_header(r, "User-Agent", &len);
    touch_span(r, v, len, "User-Agent");
}

/* Reference for path_normalize, straight from its contract: decode the
 * whole path, then remove dot segments with a stack, then check the size.
 * Returns the length (result in *OUTP, malloc'd) or -1. */
static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

static long ref_decode(const char *in, size_t inlen, char *dec)
{
    size_t n = 0;
    for (size_t i = 0; i < inlen; i++) {
        int c = (unsigned char)in[i];
        if (c == '%') {
            if (inlen - i < 3 || hex_digit((unsigned char)in[i + 1]) < 0 ||
                hex_digit((unsigned char)in[i + 2]) < 0)
                return -1;
            c = hex_digit((unsigned char)in[i + 1]) << 4 | hex_digit((unsigned char)in[i + 2]);
            if (c == '/')
                return -1;
            i += 2;
        }
        if (c == '\0')
            return -1;
        dec[n++] = (char)c;
    }
    return (long)n;
}

static long ref_remove_dots(const char *dec, size_t dl, char *out, size_t *starts)
{
    size_t ol = 1, depth = 0, i = 1;
    int trailing = 0;
    out[0] = '/';
    for (;;) {
        size_t j = i;
        while (j < dl && dec[j] != '/')
            j++;
        size_t sl = j - i;
        int dot = sl == 1 && dec[i] == '.', dotdot = sl == 2 && dec[i] == '.' && dec[i + 1] == '.';
        trailing = sl == 0 || dot || dotdot;
        if (dotdot) {
            if (depth == 0)
                return -1;
            ol = starts[--depth];
        } else if (sl > 0 && !dot) {
            starts[depth++] = ol;
            memcpy(out + ol, dec + i, sl);
            ol += sl;
            out[ol++] = '/';
        }
        if (j >= dl)
            break;
        i = j + 1;
    }
    if (!trailing && depth > 0)
        ol--;
    return (long)ol;
}

static long ref_normalize(const char *in, size_t inlen, size_t outcap, char **outp)
{
    *outp = NULL;
    if (outcap < 2 || inlen == 0 || in[0] != '/')
        return -1;
    char *dec = malloc(inlen);
    char *out = malloc(inlen + 2);
    size_t *starts = malloc((inlen + 1) * sizeof *starts);
    long n = dec && out && starts ? ref_decode(in, inlen, dec) : -1;
    if (n >= 0)
        n = ref_remove_dots(dec, (size_t)n, out, starts);
    if (n >= 0 && (size_t)n + 1 > outcap)
        n = -1;
    free(dec);
    free(starts);
    if (n < 0) {
        free(out);
        return -1;
    }
    *outp = out;
    return n;
}

/* path_normalize with OUTCAP bytes, compared with the reference. */
static void check_normalize(const char *path, size_t plen, size_t outcap)
{
    char *out = malloc(outcap), *want;
    if (!out)
        return;
    long n = path_normalize(path, plen, out, outcap);
    long wn = ref_normalize(path, plen, outcap, &want);
    CHECK(n == wn, "path_normalize(\"%.*s\", cap %zu) = %ld, reference says %ld (\"%.*s\")",
          (int)plen, path, outcap, n, wn, wn > 0 ? (int)wn : 0, want ? want : "");
    if (n < 0)
        CHECK(out[0] == '\0', "refused path but OUT is not empty");
    else
        CHECK(memcmp(out, want, (size_t)n) == 0 && out[n] == '\0',
              "path_normalize(\"%.*s\") = \"%s\", reference says \"%.*s\"",
              (int)plen, path, out, (int)wn, want);
    free(want);
    free(out);
}

/* A date header: parse it; a valid date must survive format + parse. */
static void check_date_header(const struct request *r, const char *name)
{
    size_t len;
    const char *v = http_request_header(r, name, &len);
    touch_span(r, v, len, name);
    if (!v)
        return;
    time_t t = http_date_parse(v, len);
    CHECK(t >= -1, "http_date_parse(\"%.*s\") = %lld", (int)len, v, (long long)t);
    if (t == -1)
        return;
    char text[64];
    size_t n = http_date_format(t, text);
    CHECK(http_date_parse(text, n) == t, "\"%.*s\" -> %lld -> \"%.*s\" does not parse back",
          (int)len, v, (long long)t, (int)n, text);
}

/* What reply_file does with the conditional and Range fields, for a file
 * of S->file_size bytes. */
static void check_precond(const struct sim *s)
{
    const struct request *r = &s->req;
    char etag[40];
    size_t elen = precond_etag(etag, FILE_MTIME, s->file_size), len;
    CHECK(elen > 2 && elen < sizeof etag, "precond_etag gave %zu bytes", elen);
    int m = http_request_method(r);
    int pre = precond_evaluate(r, m == HTTP_GET || m == HTTP_HEAD, etag, FILE_MTIME);
    CHECK(pre == 0 || pre == 304 || pre == 412, "precond_evaluate = %d", pre);
    static const char *const lists[] = { "If-Match", "If-None-Match" };
    for (size_t i = 0; i < 2; i++) {
        const char *v = http_request_header(r, lists[i], &len);
        if (v && precond_etag_list_matches(v, len, etag, 1))
            CHECK(precond_etag_list_matches(v, len, etag, 0), "%s: strong match, weak not",
                  lists[i]);
    }
    const char *ifr = http_request_header(r, "If-Range", &len);
    if (ifr)
        fuzz_sink += (unsigned)range_if_matches(ifr, len, etag, FILE_MTIME);
    const char *range = http_request_header(r, "Range", &len);
    if (!range)
        return;
    off_t first = -1, last = -1;
    enum range_result rr = range_parse(range, len, s->file_size, &first, &last);
    if (rr == RANGE_PARTIAL)
        CHECK(first >= 0 && first <= last && last < s->file_size,
              "range_parse(\"%.*s\", size %lld) = %lld-%lld", (int)len, range,
              (long long)s->file_size, (long long)first, (long long)last);
    else
        CHECK(rr == RANGE_NONE || rr == RANGE_UNSATISFIABLE, "range_parse = %d", (int)rr);
}

/* What the handler (static_handle) does with a request that parsed. */
static void sim_handle(const struct sim *s)
{
    const struct request *r = &s->req;
    static const char *const plain[] = { "Host", "Connection", "Content-Length",
        "Transfer-Encoding", "Expect", "Range", "If-Match", "If-None-Match", "X-No-Such" };
    static const char *const dates[] = { "If-Modified-Since", "If-Unmodified-Since", "If-Range" };
    size_t len;

    fuzz_sink += (unsigned)http_request_method(r);
    CHECK(r->url_len > 0, "complete request without a target");
    touch_span(r, r->buf + r->url_off, r->url_len, "target");
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        const char *v = http_request_header(r, plain[i], &len);
        touch_span(r, v, len, plain[i]);
    }
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++)
        check_date_header(r, dates[i]);

    const char *path;
    size_t plen;
    const char *query;
    if (http_request_path(r, &path, &plen, &query) == 0) {
        check_normalize(path, plen, PATH_MAX);
        check_normalize(path, plen, s->path_cap_small);
    }
    check_precond(s);
    /* More parsers of request data (new header fields, query strings, ...)
     * go here, with invariant CHECKs on what they return; add their source
     * files to tests_fuzz_fuzz_request_SOURCES in Makefile.am. */
}

/* decide_keep_alive (KeepAlive on, not stopping): a request answered
 * from its head keeps the connection only for a small body of known
 * length that nobody awaits a 100 Continue for. */
static int sim_decide_keep_alive(const struct sim *s)
{
    const struct request *r = &s->req;
    if (!r->keep_alive || r->error_status)
        return 0;
    if (s->served + 1 >= MAX_KEEPALIVE_REQUESTS)
        return 0;
    if (http_request_body_pending(r)) {
        long long left = http_request_body_left(r);
        if (r->expect_continue || left < 0 || left > CONN_DISCARD_KEEP_MAX)
            return 0;
    }
    return 1;
}

/* conn_build_reply, for a request whose head is in (body pending after
 * HEAD, or read), or a failed one. */
static void sim_serve(struct sim *s)
{
    struct request *r = &s->req;
    s->keep_alive = sim_decide_keep_alive(s);
    if (r->error_status) {
        check_error_status(r);
        CHECK(!s->keep_alive, "keep-alive after error %d", r->error_status);
        return;
    }
    CHECK(r->headers_done, "served a request whose head is not in");
    CHECK(r->complete || (r->head_reported && s->heads == 1 && http_request_body_pending(r)),
          "served a request neither complete nor reported by HEAD (complete %u, "
          "head_reported %u)", r->complete, r->head_reported);
    CHECK(r->parsed > 0, "request consumed no bytes (pipelining would spin)");
    sim_handle(s);
}

enum next_step { NEXT_SERVE, NEXT_READ, NEXT_DONE };

/* conn_next_request: the current request is over, body included. */
static enum next_step sim_next_request(struct sim *s)
{
    struct request *r = &s->req;
    uint32_t before = r->len - r->parsed;
    uint32_t rest = http_request_next(r);
    CHECK(rest == before && r->len == rest && r->parsed == 0,
          "http_request_next kept %u of %u bytes (len %u)", rest, before, r->len);
    CHECK(!r->headers_done && !r->complete && !r->head_reported && !r->expect_continue &&
              !r->error_status && r->body_bytes == 0,
          "http_request_next left state of the old message behind");
    s->heads = 0;
    s->body_at_head = 0;
    if (rest == 0) {
        http_request_release_buffer(r);     /* NEXT_IDLE */
        return NEXT_READ;
    }
    return sim_parse(s) == HTTP_PARSE_MORE ? NEXT_READ : NEXT_SERVE;
}

/* conn_discard_step: the parser said RES while a body was being dropped.
 * NEXT_DONE: broken framing, the connection ends (lingers). */
static enum next_step sim_discard_step(struct sim *s, enum http_parse_result res)
{
    CHECK(s->discarding, "discard step while not discarding");
    if (res == HTTP_PARSE_MORE)
        return NEXT_READ;
    s->discarding = 0;
    if (res == HTTP_PARSE_DONE)
        return sim_next_request(s);
    CHECK(res == HTTP_PARSE_ERROR, "discarding a body gave %d", (int)res);
    check_error_status(&s->req);
    return NEXT_DONE;
}

/* conn_discard_ended: sim_read_request said READ_READY while discarding. */
static enum next_step sim_discard_ended(struct sim *s)
{
    return sim_discard_step(s, s->req.complete ? HTTP_PARSE_DONE : HTTP_PARSE_ERROR);
}

/* conn_response_done: the response is sent; log it, then the next
 * request, dropping a pending body first when the connection stays.
 * NEXT_DONE: the connection closes (or lingers: no more parsing). */
static enum next_step sim_response_done(struct sim *s)
{
    struct request *r = &s->req;
    sim_log_access(r);
    s->served++;
    if (!s->keep_alive)
        return NEXT_DONE;
    if (!http_request_body_pending(r))
        return sim_next_request(s);
    CHECK(s->body_at_head >= 0 && s->body_at_head <= CONN_DISCARD_KEEP_MAX &&
              !r->expect_continue,
          "keeping the connection for a body of %lld (expect_continue %u)", s->body_at_head,
          r->expect_continue);
    s->discarding = 1;
    return sim_discard_step(s, sim_parse(s));
}

/* One connection: read, serve (pipelined requests too), until it closes
 * or the client has nothing more to send. */
static void sim_connection(struct sim *s)
{
    for (;;) {
        if (sim_read_request(s) == READ_READY) {
            /* on_readable: the end of a dropped body, or a head to answer */
            enum next_step next = s->discarding ? sim_discard_ended(s) : NEXT_SERVE;
            while (next == NEXT_SERVE) {
                sim_serve(s);
                next = sim_response_done(s);
            }
            if (next == NEXT_DONE)
                return;
            continue;
        }
        /* READ_WAIT (conn_wait_read): hold no buffer while nothing came. */
        if (s->req.len == 0)
            http_request_release_buffer(&s->req);
        if (!feed_next_burst(&s->feed))
            break;
    }
    if (s->req.len > 0 && !s->discarding) {
        /* The client stalled mid-request: the 408 path logs it. */
        s->req.error_status = 408;
        sim_log_access(&s->req);
    }
}

static void sim_init(struct sim *s, const uint8_t *data, size_t size)
{
    memset(s, 0, sizeof *s);
    http_request_init(&s->req);
    uint8_t b0 = data[0], b1 = data[1];
    if (b1 & 1) {
        s->lim.line = s->lim.field_size = 8u + b1;
        s->lim.fields = 1u + (b1 >> 4);
        s->lim.body = 1u + (b1 >> 2);
    } else {
        s->lim.line = s->lim.field_size = 8190;
        s->lim.fields = 100;
        s->lim.body = 1073741824;
    }
    s->path_cap_small = 2 + (size_t)(b1 >> 1) % 48;
    s->file_size = (off_t)((b0 * 131u + b1) % 5000u);
    s->feed.data = data + FUZZ_PREFIX;
    s->feed.size = size - FUZZ_PREFIX;
    s->feed.burst_max = b0 < 0x80 ? (size_t)b0 + 1 : 0;
    s->feed.rng = 0x9e3779b9u ^ ((uint32_t)b0 << 8 | b1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < FUZZ_PREFIX)
        return 0;
    struct sim s;
    sim_init(&s, data, size);
    if (feed_next_burst(&s.feed))
        sim_connection(&s);
    http_request_free(&s.req);
    return 0;
}
