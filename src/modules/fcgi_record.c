/* fcgi_record.c: the FastCGI 1.0 record layer (see fcgi_record.h).
 *
 * Owns the byte layout of records: headers and BEGIN_REQUEST bodies
 * written big-endian, name-value pairs packed into PARAMS records (a pair
 * may straddle records), and the decoder that walks the application's
 * records one byte range at a time.  Pure code, no I/O, no globals: the
 * handler thread running a request calls it on that request's objects.
 *
 * The decoder is a small state machine over one record at a time: header
 * bytes (gathered into hdr, since a header may arrive split), content
 * (returned, copied into end_body, or skipped), then padding.  Our
 * END_REQUEST, once complete with its padding, is the final state: the
 * header stays in place so every later call sees it and returns END. */
#include "config.h"

#include "mpmd/modules/fcgi_record.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FCGI_VERSION_1 1
#define FCGI_PAIR_MAX (1u << 20)    /* longest name or value fcgi_params_add takes */
#define FCGI_PARAMS_FIRST_CAP 1024  /* first buffer: a typical CGI environment */

/* ---- writing records ---------------------------------------------------- */

void fcgi_record_header(unsigned char out[FCGI_HEADER_LEN], int type, unsigned request_id,
                        size_t content_len, size_t padding)
{
    out[0] = FCGI_VERSION_1;
    out[1] = (unsigned char)type;
    out[2] = (unsigned char)(request_id >> 8);
    out[3] = (unsigned char)request_id;
    out[4] = (unsigned char)(content_len >> 8);
    out[5] = (unsigned char)content_len;
    out[6] = (unsigned char)padding;
    out[7] = 0;
}

void fcgi_begin_request(unsigned char out[16], unsigned request_id, int role, int flags)
{
    fcgi_record_header(out, FCGI_BEGIN_REQUEST, request_id, 8, 0);
    out[8] = (unsigned char)(role >> 8);
    out[9] = (unsigned char)role;
    out[10] = (unsigned char)flags;
    memset(out + 11, 0, 5);
}

/* ---- PARAMS ------------------------------------------------------------- */

void fcgi_params_init(struct fcgi_params *p, unsigned request_id)
{
    memset(p, 0, sizeof *p);
    p->request_id = request_id & 0xffff;
}

static int params_fail(struct fcgi_params *p)
{
    p->failed = 1;
    return -1;
}

/* Room for MORE bytes after len.  -1 when out of memory. */
static int params_reserve(struct fcgi_params *p, size_t more)
{
    if (p->cap - p->len >= more)
        return 0;
    size_t cap = p->cap ? p->cap : FCGI_PARAMS_FIRST_CAP;
    while (cap - p->len < more) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    unsigned char *b = realloc(p->buf, cap);
    if (!b)
        return -1;
    p->buf = b;
    p->cap = cap;
    return 0;
}

/* Content bytes in the open record. */
static size_t params_filled(const struct fcgi_params *p)
{
    return p->len - p->rec_start - FCGI_HEADER_LEN;
}

/* Write the open record's header and close it. */
static void params_close_record(struct fcgi_params *p)
{
    fcgi_record_header(p->buf + p->rec_start, FCGI_PARAMS, p->request_id, params_filled(p), 0);
    p->rec_start = p->len;
}

/* Append N bytes at SRC to the stream, opening a record when none is open
 * and closing one as soon as it is full.  -1 when out of memory. */
static int params_put(struct fcgi_params *p, const void *src, size_t n)
{
    const unsigned char *s = src;
    while (n > 0) {
        size_t k = n < FCGI_MAX_CONTENT ? n : FCGI_MAX_CONTENT;
        if (p->len == p->rec_start) {
            if (params_reserve(p, FCGI_HEADER_LEN + k) == -1)
                return -1;
            p->len += FCGI_HEADER_LEN;        /* header written when the record closes */
        }
        size_t room = FCGI_MAX_CONTENT - params_filled(p);
        if (k > room)
            k = room;
        if (params_reserve(p, k) == -1)
            return -1;
        memcpy(p->buf + p->len, s, k);
        p->len += k;
        s += k;
        n -= k;
        if (params_filled(p) == FCGI_MAX_CONTENT)
            params_close_record(p);
    }
    return 0;
}

/* Encode length N (spec 3.4) at OUT; returns the bytes used, 1 or 4. */
static size_t encode_length(unsigned char *out, size_t n)
{
    if (n < 128) {
        out[0] = (unsigned char)n;
        return 1;
    }
    out[0] = (unsigned char)(0x80 | (n >> 24));
    out[1] = (unsigned char)(n >> 16);
    out[2] = (unsigned char)(n >> 8);
    out[3] = (unsigned char)n;
    return 4;
}

int fcgi_params_add(struct fcgi_params *p, const char *name, size_t nlen, const char *value,
                    size_t vlen)
{
    unsigned char lens[8];
    if (p->failed || nlen > FCGI_PAIR_MAX || vlen > FCGI_PAIR_MAX)
        return params_fail(p);
    size_t n = encode_length(lens, nlen);
    n += encode_length(lens + n, vlen);
    if (params_put(p, lens, n) == -1 || params_put(p, name, nlen) == -1 ||
        params_put(p, value, vlen) == -1)
        return params_fail(p);
    return 0;
}

int fcgi_params_add_str(struct fcgi_params *p, const char *name, const char *value)
{
    return fcgi_params_add(p, name, strlen(name), value, strlen(value));
}

int fcgi_params_finish(struct fcgi_params *p)
{
    if (p->failed)
        return -1;
    if (p->len != p->rec_start)
        params_close_record(p);
    if (params_reserve(p, FCGI_HEADER_LEN) == -1)
        return params_fail(p);
    fcgi_record_header(p->buf + p->len, FCGI_PARAMS, p->request_id, 0, 0);
    p->len += FCGI_HEADER_LEN;
    p->rec_start = p->len;
    return 0;
}

void fcgi_params_free(struct fcgi_params *p)
{
    free(p->buf);
    p->buf = NULL;
    p->len = p->cap = p->rec_start = 0;
}

/* ---- decoding ------------------------------------------------------------ */

void fcgi_decoder_init(struct fcgi_decoder *d, unsigned request_id)
{
    memset(d, 0, sizeof *d);
    d->request_id = request_id & 0xffff;
}

static int decode_fail(struct fcgi_decoder *d, const char *why)
{
    d->error = why;
    return -1;
}

/* Whether the record under way is addressed to our request. */
static int ours(const struct fcgi_decoder *d)
{
    return d->rec_id == d->request_id;
}

/* Whether the record under way is over: header, content and padding in. */
static int record_complete(const struct fcgi_decoder *d)
{
    return d->hdr_got == FCGI_HEADER_LEN && d->content_left == 0 && d->padding_left == 0;
}

/* The header is all in: take its fields and refuse what an application
 * must not send us.  -1 on a protocol error (error set). */
static int take_header(struct fcgi_decoder *d)
{
    const unsigned char *h = d->hdr;
    if (h[0] != FCGI_VERSION_1)
        return decode_fail(d, "FastCGI record version is not 1");
    d->type = h[1];
    d->rec_id = (unsigned)h[2] << 8 | h[3];
    d->content_left = (size_t)h[4] << 8 | h[5];
    d->padding_left = h[6];
    d->end_got = 0;
    if (!ours(d))
        return 0;
    switch (d->type) {
    case FCGI_BEGIN_REQUEST:
    case FCGI_ABORT_REQUEST:
    case FCGI_PARAMS:
    case FCGI_STDIN:
    case FCGI_DATA:
    case FCGI_GET_VALUES:
        return decode_fail(d, "FastCGI application sent a record type only a web server sends");
    case FCGI_END_REQUEST:
        if (d->content_left != 8)
            return decode_fail(d, "FastCGI END_REQUEST content is not 8 bytes");
        return 0;
    default:
        return 0;
    }
}

/* Copy header bytes from IN (LEN > 0); returns how many were taken. */
static size_t gather_header(struct fcgi_decoder *d, const unsigned char *in, size_t len)
{
    size_t k = FCGI_HEADER_LEN - d->hdr_got;
    if (k > len)
        k = len;
    memcpy(d->hdr + d->hdr_got, in, k);
    d->hdr_got += k;
    return k;
}

/* Copy END_REQUEST body bytes; the fields are set once all 8 are in. */
static void gather_end_body(struct fcgi_decoder *d, const unsigned char *in, size_t k)
{
    memcpy(d->end_body + d->end_got, in, k);
    d->end_got += k;
    if (d->end_got < sizeof d->end_body)
        return;
    const unsigned char *b = d->end_body;
    d->app_status = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    d->protocol_status = b[4];
}

/* Take content bytes of the record under way from IN (LEN > 0): *N gets
 * how many.  Returns a data event for our STDOUT/STDERR, else MORE. */
static enum fcgi_event take_content(struct fcgi_decoder *d, const unsigned char *in, size_t len,
                                    size_t *n, const unsigned char **data, size_t *dlen)
{
    size_t k = d->content_left < len ? d->content_left : len;
    d->content_left -= k;
    *n = k;
    if (!ours(d))
        return FCGI_EV_MORE;
    if (d->type == FCGI_END_REQUEST)
        gather_end_body(d, in, k);
    if (d->type != FCGI_STDOUT && d->type != FCGI_STDERR)
        return FCGI_EV_MORE;
    *data = in;
    *dlen = k;
    return d->type == FCGI_STDOUT ? FCGI_EV_STDOUT : FCGI_EV_STDERR;
}

/* One step over IN (LEN > 0) in the record under way: *N bytes taken. */
static enum fcgi_event decode_step(struct fcgi_decoder *d, const unsigned char *in, size_t len,
                                   size_t *n, const unsigned char **data, size_t *dlen)
{
    if (d->hdr_got < FCGI_HEADER_LEN) {
        *n = gather_header(d, in, len);
        if (d->hdr_got == FCGI_HEADER_LEN && take_header(d) == -1)
            return FCGI_EV_ERROR;
        return FCGI_EV_MORE;
    }
    if (d->content_left > 0)
        return take_content(d, in, len, n, data, dlen);
    *n = d->padding_left < len ? d->padding_left : len;
    d->padding_left -= *n;
    return FCGI_EV_MORE;
}

enum fcgi_event fcgi_decode(struct fcgi_decoder *d, const unsigned char *in, size_t len,
                            size_t *used, const unsigned char **data, size_t *dlen)
{
    enum fcgi_event ev = FCGI_EV_MORE;
    size_t pos = 0;
    *used = 0;
    if (d->error)
        return FCGI_EV_ERROR;
    for (;;) {
        if (record_complete(d)) {
            if (ours(d) && d->type == FCGI_END_REQUEST) {
                ev = FCGI_EV_END;             /* final: the header stays in place */
                break;
            }
            d->hdr_got = 0;
        }
        if (pos == len)
            break;
        size_t n = 0;
        ev = decode_step(d, in + pos, len - pos, &n, data, dlen);
        pos += n;
        if (ev != FCGI_EV_MORE)
            break;
    }
    *used = pos;
    return ev;
}
