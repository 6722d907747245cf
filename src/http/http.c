/* http.c: http-parser glue: bytes in, one parsed request out (http.h).
 *
 * Runs in whichever thread owns the connection.  Two layers:
 *   - a line scanner (scan_head) that validates each complete line of the
 *     request head before http-parser sees it, because http-parser is
 *     lenient where request smuggling lives (bare LF, obs-fold, spaces
 *     before the colon, sloppy request lines) and enforces the
 *     LimitRequest* sizes;
 *   - http-parser's callbacks, which only record offsets into the
 *     request's buffer and apply the message-level rules (Host, version,
 *     Transfer-Encoding, body limit, Expect).
 * Policy (what to answer) lives in the handlers. */
#include "config.h"

#include "mpmd/http/http.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_FIRST_BUFFER 4096

/* The parser's data pointer is the request; the limits travel with the
 * call in this small frame so the callbacks can reach both. */
struct parse_frame {
    struct request *req;
    const struct http_limits *lim;
    char *sink;                   /* http_request_read_body's buffer, or NULL: discard */
    size_t sink_len, sink_cap;
};

static struct request *frame_req(http_parser *p)
{
    return ((struct parse_frame *)p->data)->req;
}

static const struct http_limits *frame_lim(http_parser *p)
{
    return ((struct parse_frame *)p->data)->lim;
}

/* Record the answer and make http-parser stop.  Returns -1: for
 * on_headers_complete 1 would mean "no body", so any error is -1. */
static int fail(struct request *r, int status, const char *why)
{
    if (!r->error_status) {
        r->error_status = status;
        r->error_reason = why;
    }
    return -1;
}

static int on_message_begin(http_parser *p)
{
    struct request *r = frame_req(p);
    r->url_off = r->url_len = 0;
    r->nhdr = 0;
    r->host_idx = 0;
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
    return 0;
}

static int add_header(struct request *r, uint32_t off)
{
    if (r->nhdr == r->hdr_cap) {
        if (r->hdr_cap >= (1u << 20))
            return fail(r, 431, "too many header fields");
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
    if (r->headers_done)
        return 0;                 /* trailer fields are discarded (RFC 9110 6.5.1) */
    if (r->nhdr == 0 || r->in_value) {
        if (r->nhdr >= lim->fields)
            return fail(r, 431, "more header fields than LimitRequestFields");
        if (add_header(r, (uint32_t)(at - r->buf)) != 0)
            return -1;
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
    if (r->headers_done)
        return 0;
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

/* Count the Host fields (RFC 9112 3.2 wants exactly one in HTTP/1.1)
 * and remember where the first is (http_request_host). */
static int host_count(struct request *r)
{
    int n = 0;
    r->host_idx = 0;
    for (uint32_t i = 0; i < r->nhdr; i++)
        if (r->hdr[i].name_len == 4 && strncasecmp(r->buf + r->hdr[i].name_off, "host", 4) == 0 &&
            n++ == 0)
            r->host_idx = i + 1;
    return n;
}

/* RFC 9112 6.1: we decode exactly one coding, chunked, and it must be
 * the final (here: only) one.  Returns 0, or the status to answer. */
static int check_transfer_encoding(const struct request *r)
{
    int chunked = 0, others = 0;
    for (uint32_t i = 0; i < r->nhdr; i++) {
        const struct http_header *h = &r->hdr[i];
        if (h->name_len != 17 || strncasecmp(r->buf + h->name_off, "transfer-encoding", 17) != 0)
            continue;
        const char *v = r->buf + h->value_off, *end = v + h->value_len;
        while (v < end) {
            while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
                v++;
            const char *w = v;
            while (v < end && *v != ',' && *v != ' ' && *v != '\t')
                v++;
            if (v == w)
                continue;
            if (chunked)
                return 400;          /* something after chunked, or chunked twice */
            if (v - w == 7 && strncasecmp(w, "chunked", 7) == 0)
                chunked = 1;
            else
                others = 1;
        }
    }
    if (others)
        return chunked ? 501 : 400;  /* a coding we do not implement / chunked not last */
    return 0;
}

/* Field values exclude trailing whitespace (RFC 9110 5.5); http-parser
 * strips only the leading OWS. */
static void trim_values(struct request *r)
{
    for (uint32_t i = 0; i < r->nhdr; i++) {
        struct http_header *h = &r->hdr[i];
        while (h->value_len && (r->buf[h->value_off + h->value_len - 1] == ' ' ||
                                r->buf[h->value_off + h->value_len - 1] == '\t'))
            h->value_len--;
    }
}

static int on_headers_complete(http_parser *p)
{
    struct request *r = frame_req(p);
    const struct http_limits *lim = frame_lim(p);
    trim_values(r);
    if (p->http_major != 1)
        return fail(r, 505, "HTTP major version is not 1");
    int hosts = host_count(r);
    if (hosts > 1 || (p->http_minor >= 1 && hosts == 0))
        return fail(r, 400, hosts ? "more than one Host field" : "HTTP/1.1 request without Host");
    int te = check_transfer_encoding(r);
    if (te)
        return fail(r, te, "unsupported Transfer-Encoding");
    int has_body = (p->flags & F_CHUNKED) ||
                   (p->content_length > 0 && p->content_length != ULLONG_MAX);
    if (lim->body && !(p->flags & F_CHUNKED) && has_body && p->content_length > lim->body)
        return fail(r, 413, "Content-Length larger than LimitRequestBody");
    size_t elen;
    const char *expect = http_request_header(r, "Expect", &elen);
    if (expect && !(elen == 12 && strncasecmp(expect, "100-continue", 12) == 0))
        return fail(r, 417, "Expect other than 100-continue");
    r->headers_done = 1;
    /* RFC 9112 6.1: a 1.0 message with Transfer-Encoding has faulty framing.
     * After CONNECT the client may already be sending tunnel data (RFC
     * 9110 9.3.6), which must never be read as the next request: mpmd
     * tunnels nothing, so the connection ends with the answer.  (Other
     * Upgrade requests are ordinary ones to a server that ignores
     * Upgrade: the client waits for a 101 before it switches.) */
    r->keep_alive = http_should_keep_alive(p) && !(p->http_minor == 0 && (p->flags & F_CHUNKED)) &&
                    p->method != HTTP_CONNECT;
    r->expect_continue = expect && has_body && p->http_minor >= 1;
    if (has_body)
        http_parser_pause(p, 1);  /* resumes at the same byte (s_headers_done) */
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct request *r = frame_req(p);
    uint64_t limit = frame_lim(p)->body;
    r->body_bytes += len;
    if (limit && r->body_bytes > limit)
        return fail(r, 413, "request body larger than LimitRequestBody");
    struct parse_frame *f = p->data;
    if (f->sink != NULL) {        /* http_request_read_body: never more than it fed */
        if (len > f->sink_cap - f->sink_len)
            return fail(r, 500, "request body chunk larger than the reader's buffer");
        memcpy(f->sink + f->sink_len, at, len);
        f->sink_len += len;
    }
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

/* ---- the head scanner ------------------------------------------------ */

/* tchar (RFC 9110 5.6.2): letters and digits first, they are nearly all. */
static inline int is_token_char(unsigned char c)
{
    unsigned char lower = (unsigned char)(c | 0x20);
    if ((lower >= 'a' && lower <= 'z') || (c >= '0' && c <= '9'))
        return 1;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return 1;
    default:
        return 0;
    }
}

/* method SP request-target SP HTTP/DIGIT.DIGIT (RFC 9112 3). */
static int valid_request_line(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && is_token_char((unsigned char)s[i]))
        i++;
    if (i == 0 || i >= n || s[i] != ' ')
        return 0;
    size_t t = ++i;
    while (i < n && (unsigned char)s[i] > 0x20 && (unsigned char)s[i] < 0x7f)
        i++;
    if (i == t || i >= n || s[i] != ' ')
        return 0;
    i++;
    return n - i == 8 && memcmp(s + i, "HTTP/", 5) == 0 && s[i + 5] >= '0' && s[i + 5] <= '9' &&
           s[i + 6] == '.' && s[i + 7] >= '0' && s[i + 7] <= '9';
}

/* field-name ":" OWS field-value OWS; no obs-fold, no CTL but HT (RFC 9112 5). */
static int valid_field_line(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && is_token_char((unsigned char)s[i]))
        i++;
    if (i == 0 || i >= n || s[i] != ':')
        return 0;
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 0;
    }
    return 1;
}

/* Check one complete line (N bytes, CRLF excluded) at S.  Returns 0 or
 * the status to answer. */
static int scan_line(struct request *r, const struct http_limits *lim, const char *s, size_t n)
{
    if (!r->request_line_seen) {
        if (!valid_request_line(s, n))
            return 400;
        r->request_line_seen = 1;
        return 0;
    }
    if (!valid_field_line(s, n))
        return 400;
    if (++r->fields_seen > lim->fields)
        return 431;
    return 0;
}

/* Validate the complete head lines from r->scan on.  Returns 0 (all
 * complete lines good; head_scanned once the empty line was seen), or
 * the status to answer. */
static int scan_head(struct request *r, const struct http_limits *lim)
{
    while (!r->head_scanned) {
        const char *start = r->buf + r->scan, *end = r->buf + r->len;
        const char *lf = memchr(start, '\n', (size_t)(end - start));
        size_t len = (size_t)((lf ? lf : end) - start);
        size_t limit = r->request_line_seen ? lim->field_size : lim->line;
        if (len > limit + 1)
            return r->request_line_seen ? 431 : 414;
        if (!lf)
            return 0;
        if (lf == start || lf[-1] != '\r')
            return 400;                           /* bare LF */
        size_t n = len - 1;
        r->scan = (uint32_t)(lf + 1 - r->buf);
        if (n == 0) {
            if (r->request_line_seen)
                r->head_scanned = 1;
            else if (r->scan > 4)
                return 400;                       /* more than a couple of empty lines */
            continue;
        }
        int status = scan_line(r, lim, start, n);
        if (status)
            return status;
    }
    return 0;
}

/* ---- parsing ----------------------------------------------------------- */

/* Map an http-parser error to the status we answer with.  The scanner has
 * already validated the request line, so an unknown method is a
 * well-formed request for a method we lack: 501 (RFC 9110 9.1). */
static int status_for_parser_error(enum http_errno e)
{
    if (e == HPE_HEADER_OVERFLOW)
        return 431;
    if (e == HPE_INVALID_METHOD)
        return 501;
    return 400;
}

static enum http_parse_result parse_error(struct request *r, int status, const char *why)
{
    if (!r->error_status) {
        r->error_status = status;
        r->error_reason = why;
    }
    return HTTP_PARSE_ERROR;
}

/* One http_parser_execute over LEN bytes from r->parsed, the callbacks
 * seeing FRAME; returns the parser's errno. */
static enum http_errno execute(struct request *r, struct parse_frame *frame, size_t len)
{
    r->parser.data = frame;
    size_t n = http_parser_execute(&r->parser, &parser_settings, r->buf + r->parsed, len);
    r->parser.data = NULL;
    r->parsed += (uint32_t)n;
    return HTTP_PARSER_ERRNO(&r->parser);
}

enum http_parse_result http_request_parse(struct request *r, const struct http_limits *lim)
{
    int bad = scan_head(r, lim);
    if (bad)
        return parse_error(r, bad, "malformed or oversized request head");
    /* Until the head is validated, the parser sees validated lines only. */
    uint32_t upto = r->head_scanned ? r->len : r->scan;
    if (upto <= r->parsed)
        return HTTP_PARSE_MORE;
    if (HTTP_PARSER_ERRNO(&r->parser) == HPE_PAUSED && !r->complete)
        http_parser_pause(&r->parser, 0);         /* the body, after HTTP_PARSE_HEAD */
    struct parse_frame frame = { r, lim, NULL, 0, 0 };
    enum http_errno e = execute(r, &frame, upto - r->parsed);
    if (r->complete)
        return HTTP_PARSE_DONE;
    if (r->error_status)
        return HTTP_PARSE_ERROR;
    if (e == HPE_PAUSED && r->headers_done && !r->head_reported) {
        r->head_reported = 1;
        return HTTP_PARSE_HEAD;
    }
    if (e != HPE_OK)
        return parse_error(r, status_for_parser_error(e), http_errno_description(e));
    if (r->headers_done && r->parsed == r->len)
        r->len = r->parsed = r->scan = referenced_end(r);
    return HTTP_PARSE_MORE;
}

/* One http_parser_execute over at most CAP buffered bytes, the body
 * going to OUT. */
static enum http_parse_result read_body_once(struct request *r, const struct http_limits *lim,
                                             char *out, size_t cap, size_t *got)
{
    uint32_t avail = r->len - r->parsed;
    /* Body bytes never outnumber the input bytes that carry them, so
     * feeding at most CAP bytes keeps every on_body within OUT. */
    size_t feed = avail < cap ? avail : cap;
    if (HTTP_PARSER_ERRNO(&r->parser) == HPE_PAUSED)
        http_parser_pause(&r->parser, 0);
    struct parse_frame frame = { r, lim, out, 0, cap };
    enum http_errno e = execute(r, &frame, feed);
    *got = frame.sink_len;
    if (r->complete)
        return HTTP_PARSE_DONE;
    if (r->error_status)
        return HTTP_PARSE_ERROR;
    if (e != HPE_OK && e != HPE_PAUSED)
        return parse_error(r, status_for_parser_error(e), http_errno_description(e));
    return HTTP_PARSE_MORE;
}

enum http_parse_result http_request_read_body(struct request *r, const struct http_limits *lim,
                                              char *out, size_t cap, size_t *got)
{
    *got = 0;
    if (r->complete)
        return HTTP_PARSE_DONE;
    if (r->error_status)
        return HTTP_PARSE_ERROR;
    if (!r->headers_done || cap == 0)
        return parse_error(r, 500, "request body read before the head");
    /* Framing (chunk sizes, trailers) yields no body bytes: go on while
     * bytes are buffered and nothing came out. */
    while (*got == 0 && r->parsed < r->len && !r->complete && !r->error_status) {
        enum http_parse_result res = read_body_once(r, lim, out, cap, got);
        if (res != HTTP_PARSE_MORE)
            return res;
    }
    if (r->complete)
        return HTTP_PARSE_DONE;
    if (r->parsed == r->len)
        r->len = r->parsed = r->scan = referenced_end(r);   /* the head stays */
    return HTTP_PARSE_MORE;
}

uint32_t http_request_next(struct request *r)
{
    uint32_t rest = r->len - r->parsed;
    if (rest && r->parsed)
        memmove(r->buf, r->buf + r->parsed, rest);
    r->len = rest;
    r->parsed = 0;
    r->scan = 0;
    r->fields_seen = 0;
    r->head_scanned = r->request_line_seen = r->expect_continue = r->head_reported = 0;
    r->nhdr = 0;
    r->host_idx = 0;
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
    r->cap = r->len = r->parsed = r->scan = 0;
    r->hdr_cap = r->nhdr = 0;
}

const char *http_request_host(const struct request *r, size_t *len)
{
    if (r->host_idx == 0 || r->host_idx > r->nhdr) {
        *len = 0;
        return NULL;
    }
    const struct http_header *h = &r->hdr[r->host_idx - 1];
    *len = h->value_len;
    return r->buf + h->value_off;
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

int http_request_path(const struct request *r, const char **path, size_t *plen,
                       const char **query)
{
    const char *url = r->buf + r->url_off;
    size_t len = r->url_len;
    if (len > 0 && url[0] != '/') {
        struct http_parser_url u;
        http_parser_url_init(&u);
        if (http_parser_parse_url(url, len, 0, &u) != 0 || !(u.field_set & (1 << UF_PATH)))
            return -1;
        url += u.field_data[UF_PATH].off;
        len -= u.field_data[UF_PATH].off;
    }
    const char *end = url;
    while (end < url + len && *end != '?' && *end != '#')
        end++;
    *path = url;
    *plen = (size_t)(end - url);
    *query = end < url + len && *end == '?' ? end : NULL;
    return *plen > 0 ? 0 : -1;
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

int http_list_has(const char *list, size_t llen, const char *token, size_t tlen)
{
    size_t i = 0;
    while (i < llen) {
        while (i < llen && (list[i] == ' ' || list[i] == '\t' || list[i] == ','))
            i++;
        size_t start = i;
        while (i < llen && list[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (list[end - 1] == ' ' || list[end - 1] == '\t'))
            end--;
        if (end - start == tlen && strncasecmp(list + start, token, tlen) == 0)
            return 1;
    }
    return 0;
}

int http_hop_by_hop(const char *name, size_t len)
{
    static const char *const names[] = {
        "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding",
        "Upgrade", NULL,
    };
    for (int i = 0; names[i]; i++)
        if (http_field_is(name, len, names[i]))
            return 1;
    return 0;
}

const char *http_request_host_name(const struct request *r, char *buf, size_t cap, size_t *len)
{
    size_t n;
    const char *h = http_request_host(r, &n);
    if (!h || n == 0 || cap == 0)
        return NULL;
    size_t end = n;
    if (h[0] == '[') {
        const char *close = memchr(h, ']', n);
        end = close ? (size_t)(close - h) + 1 : n;
    } else {
        const char *colon = memchr(h, ':', n);
        if (colon)
            end = (size_t)(colon - h);
    }
    if (end >= cap)
        end = cap - 1;
    for (size_t i = 0; i < end; i++)
        buf[i] = (char)(h[i] >= 'A' && h[i] <= 'Z' ? h[i] + 32 : h[i]);
    buf[end] = '\0';
    *len = end;
    return buf;
}
