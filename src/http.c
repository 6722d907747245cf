/* http.c: http-parser glue: bytes in, one parsed request out (http.h).
 *
 * Runs in whichever thread owns the connection.  The parser callbacks
 * only record offsets into the request's buffer and enforce Apache's
 * LimitRequest* limits; policy (what to answer) lives in the handlers. */
#include "config.h"

#include "mpmd/http.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_FIRST_BUFFER 4096

/* The parser's data pointer is the request; the limits travel with the
 * call in this small frame so the callbacks can reach both. */
struct parse_frame {
    struct request *req;
    const struct http_limits *lim;
};

static struct request *frame_req(http_parser *p)
{
    return ((struct parse_frame *)p->data)->req;
}

static const struct http_limits *frame_lim(http_parser *p)
{
    return ((struct parse_frame *)p->data)->lim;
}

static int fail(struct request *r, int status, const char *why)
{
    r->error_status = status;
    r->error_reason = why;
    return 1;
}

static int on_message_begin(http_parser *p)
{
    struct request *r = frame_req(p);
    r->url_off = r->url_len = 0;
    r->nhdr = 0;
    r->in_value = 0;
    r->headers_done = 0;
    r->complete = 0;
    r->body_bytes = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct request *r = frame_req(p);
    if (r->url_len == 0)
        r->url_off = (uint32_t)(at - r->buf);
    r->url_len += (uint32_t)len;
    if (r->url_len > frame_lim(p)->line)
        return fail(r, 414, "request target longer than LimitRequestLine");
    return 0;
}

static int add_header(struct request *r, uint32_t off)
{
    if (r->nhdr == r->hdr_cap) {
        uint32_t cap = r->hdr_cap ? r->hdr_cap * 2 : 16;
        struct http_header *h = realloc(r->hdr, cap * sizeof *h);
        if (!h)
            return fail(r, 500, "out of memory");
        r->hdr = h;
        r->hdr_cap = cap;
    }
    struct http_header *h = &r->hdr[r->nhdr++];
    h->name_off = off;
    h->name_len = 0;
    h->value_off = 0;
    h->value_len = 0;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct request *r = frame_req(p);
    const struct http_limits *lim = frame_lim(p);
    if (r->nhdr == 0 || r->in_value) {
        if (r->nhdr >= lim->fields)
            return fail(r, 431, "more header fields than LimitRequestFields");
        if (add_header(r, (uint32_t)(at - r->buf)) != 0)
            return 1;
        r->in_value = 0;
    }
    struct http_header *h = &r->hdr[r->nhdr - 1];
    h->name_len += (uint32_t)len;
    if (h->name_len > lim->field_size)
        return fail(r, 431, "header field longer than LimitRequestFieldSize");
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct request *r = frame_req(p);
    struct http_header *h = &r->hdr[r->nhdr - 1];
    if (!r->in_value) {
        h->value_off = (uint32_t)(at - r->buf);
        r->in_value = 1;
    }
    h->value_len += (uint32_t)len;
    if (h->name_len + h->value_len > frame_lim(p)->field_size)
        return fail(r, 431, "header field longer than LimitRequestFieldSize");
    return 0;
}

/* Count the Host fields: RFC 9112 3.2 wants exactly one in HTTP/1.1. */
static int host_count(const struct request *r)
{
    int n = 0;
    for (uint32_t i = 0; i < r->nhdr; i++)
        if (r->hdr[i].name_len == 4 && strncasecmp(r->buf + r->hdr[i].name_off, "host", 4) == 0)
            n++;
    return n;
}

static int on_headers_complete(http_parser *p)
{
    struct request *r = frame_req(p);
    if (p->http_major != 1)
        return fail(r, 505, "HTTP major version is not 1");
    int hosts = host_count(r);
    if (hosts > 1 || (p->http_minor >= 1 && hosts == 0))
        return fail(r, 400, hosts ? "more than one Host field" : "HTTP/1.1 request without Host");
    r->headers_done = 1;
    r->keep_alive = http_should_keep_alive(p) ? 1 : 0;
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    (void)at;
    frame_req(p)->body_bytes += len;
    return 0;
}

static int on_message_complete(http_parser *p)
{
    frame_req(p)->complete = 1;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void http_request_init(struct request *r)
{
    memset(r, 0, sizeof *r);
    http_parser_init(&r->parser, HTTP_REQUEST);
}

void http_request_free(struct request *r)
{
    free(r->buf);
    free(r->hdr);
    memset(r, 0, sizeof *r);
}

size_t http_request_reserve(struct request *r, size_t want, size_t max)
{
    size_t room = r->cap - r->len;
    if (room >= want && room > 0)
        return room;
    if (r->cap >= max)
        return room;
    size_t cap = r->cap ? (size_t)r->cap * 2 : HTTP_FIRST_BUFFER;
    while (cap - r->len < want && cap < max)
        cap *= 2;
    if (cap > max)
        cap = max;
    char *b = realloc(r->buf, cap);
    if (!b)
        return room;
    r->buf = b;
    r->cap = (uint32_t)cap;
    return cap - r->len;
}

/* The end of the last byte a header or the target points at: bytes the
 * parser consumed beyond it (body bytes) may be overwritten. */
static uint32_t referenced_end(const struct request *r)
{
    uint32_t end = r->url_off + r->url_len;
    if (r->nhdr) {
        const struct http_header *h = &r->hdr[r->nhdr - 1];
        uint32_t e = h->value_len ? h->value_off + h->value_len : h->name_off + h->name_len;
        if (e > end)
            end = e;
    }
    return end;
}

/* Map an http-parser error to the status we answer with.  An unknown
 * method on an otherwise well-formed request line is 501 (RFC 9110
 * 9.1); anything else unparseable is 400. */
static int status_for_parser_error(const struct request *r, enum http_errno e)
{
    if (e == HPE_HEADER_OVERFLOW)
        return 431;
    if (e == HPE_INVALID_METHOD) {
        const char *b = r->buf, *end = r->buf + r->len;
        const char *eol = memchr(b, '\n', r->len);
        const char *sp1 = memchr(b, ' ', r->len);
        if (eol && sp1 && sp1 > b && sp1 < eol) {
            const char *ver = eol - (eol > b && eol[-1] == '\r' ? 1 : 0) - 8;
            if (ver > sp1 && ver < end && memcmp(ver - 1, " HTTP/1.", 8) == 0)
                return 501;
        }
    }
    return 400;
}

enum http_parse_result http_request_parse(struct request *r, const struct http_limits *lim)
{
    struct parse_frame frame = { r, lim };
    r->parser.data = &frame;
    size_t n = http_parser_execute(&r->parser, &parser_settings, r->buf + r->parsed,
                                   r->len - r->parsed);
    r->parser.data = NULL;
    r->parsed += (uint32_t)n;
    enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
    if (r->complete)
        return HTTP_PARSE_DONE;
    if (e != HPE_OK) {
        if (!r->error_status) {
            r->error_status = status_for_parser_error(r, e);
            r->error_reason = http_errno_description(e);
        }
        return HTTP_PARSE_ERROR;
    }
    if (r->parser.upgrade) {
        /* Upgrade with a body we do not speak: refuse rather than guess. */
        r->error_status = 400;
        r->error_reason = "protocol upgrade with a request body";
        return HTTP_PARSE_ERROR;
    }
    if (r->headers_done && r->parsed == r->len)
        r->len = r->parsed = referenced_end(r);
    return HTTP_PARSE_MORE;
}

uint32_t http_request_next(struct request *r)
{
    uint32_t rest = r->len - r->parsed;
    if (rest && r->parsed)
        memmove(r->buf, r->buf + r->parsed, rest);
    r->len = rest;
    r->parsed = 0;
    r->nhdr = 0;
    r->url_off = r->url_len = 0;
    r->headers_done = r->complete = r->in_value = 0;
    r->error_status = 0;
    r->error_reason = NULL;
    r->body_bytes = 0;
    http_parser_pause(&r->parser, 0);
    r->parser.upgrade = 0;
    return rest;
}

void http_request_release_buffer(struct request *r)
{
    free(r->buf);
    free(r->hdr);
    r->buf = NULL;
    r->hdr = NULL;
    r->cap = r->len = r->parsed = 0;
    r->hdr_cap = r->nhdr = 0;
}

const char *http_request_header(const struct request *r, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    for (uint32_t i = 0; i < r->nhdr; i++) {
        const struct http_header *h = &r->hdr[i];
        if (h->name_len == nl && strncasecmp(r->buf + h->name_off, name, nl) == 0) {
            *len = h->value_len;
            return r->buf + h->value_off;
        }
    }
    *len = 0;
    return NULL;
}

const char *http_request_line(const struct request *r, size_t *len)
{
    const char *m = http_method_str(r->parser.method);
    size_t ml = strlen(m);
    if (r->url_len == 0 || r->url_off < ml + 1) {
        *len = 0;
        return NULL;
    }
    const char *start = r->buf + r->url_off - ml - 1;
    const char *p = r->buf + r->url_off + r->url_len;
    const char *end = r->buf + r->len;
    while (p < end && *p != '\r' && *p != '\n')
        p++;
    *len = (size_t)(p - start);
    return start;
}
