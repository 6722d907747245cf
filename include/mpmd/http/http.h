/* http.h: one HTTP/1.x request being read, parsed by http-parser.
 *
 * A struct request owns the bytes read from the connection (one growing
 * buffer) and an http_parser.  Header names, values and the target are
 * kept as offsets into that buffer, so the buffer may grow (realloc)
 * while a head arrives.  Once a message is complete the parser pauses;
 * bytes after it (a pipelined request) stay in the buffer and are parsed
 * by the next call to http_request_next + http_request_parse.
 *
 * A request is used by one thread at a time: whichever thread owns the
 * connection (the listener, or a handler thread in MPM worker). */
#ifndef MPMD_HTTP_H
#define MPMD_HTTP_H

#include <http_parser.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* Limits from the config (Apache's LimitRequest* directives). */
struct http_limits {
    uint32_t line;         /* LimitRequestLine: request-line bytes (target incl.) */
    uint32_t field_size;   /* LimitRequestFieldSize: one header line */
    uint32_t fields;       /* LimitRequestFields: header count */
    uint64_t body;         /* LimitRequestBody: body bytes, 0 = unlimited */
};

struct http_header {
    uint32_t name_off, name_len;
    uint32_t value_off, value_len;
};

enum http_parse_result {
    HTTP_PARSE_MORE = 0,   /* need more bytes */
    HTTP_PARSE_DONE = 1,   /* a whole message is in (head and body) */
    HTTP_PARSE_ERROR = 2,  /* malformed: answer req->error_status and close */
    HTTP_PARSE_HEAD = 3,   /* the head is complete and a body follows, not yet
                            * read: answer now if the answer does not depend on
                            * the body, then parse again to read (discard) it */
};

struct request {
    http_parser parser;
    char *buf;             /* owned; NULL until the first read */
    uint32_t len;          /* bytes in buf */
    uint32_t cap;          /* allocated size of buf */
    uint32_t parsed;       /* bytes of buf handed to the parser */
    uint32_t scan;         /* head lines before this offset are validated */
    uint32_t fields_seen;  /* header lines validated so far */

    uint32_t line_off;     /* request line: start (method) */
    uint32_t url_off, url_len;
    struct http_header *hdr;  /* owned; grows by doubling */
    uint32_t nhdr, hdr_cap;
    uint32_t host_idx;     /* the Host field: index + 1 in hdr, 0 when none (yet) */

    uint64_t body_bytes;   /* body bytes seen (discarded, or given to a reader) */
    int error_status;      /* status to answer with when parsing failed */
    const char *error_reason; /* for the error log */
    unsigned headers_done : 1;
    unsigned complete : 1;
    unsigned in_value : 1; /* last data callback was a header value */
    unsigned keep_alive : 1; /* the client allows a persistent connection */
    unsigned head_scanned : 1; /* the empty line ending the head was validated */
    unsigned request_line_seen : 1;
    unsigned expect_continue : 1; /* HTTP/1.1 "Expect: 100-continue" with a body */
    unsigned head_reported : 1; /* HTTP_PARSE_HEAD was returned for this message */
};

/* Prepare R (zeroed storage) for a new connection.  No allocation. */
void http_request_init(struct request *r);

/* Free what R owns and zero it. */
void http_request_free(struct request *r);

/* Make room for at least WANT more bytes at buf + len, growing up to
 * MAX total bytes.  Returns the free space (>= 1), or 0 when the buffer
 * is already at MAX (the head is too large) or memory ran out. */
size_t http_request_reserve(struct request *r, size_t want, size_t max);

/* Parse the bytes between parsed and len.  Returns HTTP_PARSE_DONE once a
 * complete message has been seen (the parser is then paused),
 * HTTP_PARSE_HEAD once for a message with a body, as soon as its head is
 * complete (the parser pauses before the first body byte; the next call
 * goes on with the body), HTTP_PARSE_ERROR with error_status set (400,
 * 413, 414, 417, 431, 501, 505) on bad input, HTTP_PARSE_MORE otherwise.
 * Body bytes are discarded as they are parsed, so a large body never
 * grows the buffer.  No "100 Continue" is implied: a caller that answers
 * from the head never sends one (RFC 9110 10.1.1).
 *
 * The head is held to RFC 9112 more strictly than http-parser holds it:
 * every line must end in CRLF (no bare LF), no obs-fold, the request line
 * is exactly "token SP target SP HTTP/d.d", field names are tokens with
 * no space before the colon, values have no control characters; only
 * "Transfer-Encoding: chunked" (once) is accepted. */
enum http_parse_result http_request_parse(struct request *r, const struct http_limits *lim);

/* Read body bytes of the current message (after HTTP_PARSE_HEAD) from
 * the bytes already in R's buffer, decoded (Content-Length or chunked),
 * into OUT (CAP bytes): *GOT gets how many.  Returns HTTP_PARSE_DONE when
 * the body is complete (bytes after it stay for the next message),
 * HTTP_PARSE_MORE when the caller must read more bytes into the buffer
 * (http_request_reserve) and call again (*GOT may be > 0: use those
 * first), HTTP_PARSE_ERROR with error_status set (400 bad chunking, 413
 * LimitRequestBody).  The buffer does not grow with the body: consumed
 * bytes are dropped. */
enum http_parse_result http_request_read_body(struct request *r, const struct http_limits *lim,
                                              char *out, size_t cap, size_t *got);

/* After a response: forget the finished message, move any pipelined
 * bytes to the front and reset the parser.  Returns the number of
 * pipelined bytes kept (0: the buffer may be released). */
uint32_t http_request_next(struct request *r);

/* Release the buffer (and header array) while keeping parser state; used
 * when a connection goes idle with no pipelined bytes. */
void http_request_release_buffer(struct request *r);

/* The value of header NAME (case-insensitive), or NULL; *LEN gets its
 * length.  The first match wins. */
const char *http_request_header(const struct request *r, const char *name, size_t *len);

/* The Host field's value (found while the head was checked), or NULL. */
const char *http_request_host(const struct request *r, size_t *len);

/* The host name the client named, as Apache's server name for the
 * request (UseCanonicalName Off): the Host value in lower case without
 * its port, into BUF (CAP bytes, NUL-terminated; longer names are cut).
 * Returns BUF with *LEN its length, or NULL when there is no Host. */
const char *http_request_host_name(const struct request *r, char *buf, size_t cap, size_t *len);

/* The path of the request target, origin-form or absolute-form (RFC 9112
 * 3.2): *PATH, *PLEN (still percent-encoded, no query), *QUERY at the '?'
 * or NULL.  Returns 0, or -1 when the target has no usable path. */
int http_request_path(const struct request *r, const char **path, size_t *plen,
                      const char **query);

/* The request line (without CRLF) as received; *LEN gets its length. */
const char *http_request_line(const struct request *r, size_t *len);

/* Whether the head of the current message is in and its body is not all
 * read yet. */
static inline int http_request_body_pending(const struct request *r)
{
    return r->headers_done && !r->complete;
}

/* Body bytes still to come when the length is known (Content-Length),
 * -1 when it is not (chunked) or is beyond LLONG_MAX.  Meaningful while
 * the body is pending. */
static inline long long http_request_body_left(const struct request *r)
{
    if ((r->parser.flags & F_CHUNKED) || r->parser.content_length > (uint64_t)LLONG_MAX)
        return -1;
    return (long long)r->parser.content_length;
}

/* Whether the field name NAME (LEN bytes) is WANT, case-insensitively. */
static inline int http_field_is(const char *name, size_t len, const char *want)
{
    return len == strlen(want) && strncasecmp(name, want, len) == 0;
}

/* Whether TOKEN (TLEN bytes) is an element of the comma-separated LIST
 * (LLEN bytes; RFC 9110 5.6.1: optional white space around elements),
 * case-insensitively: "close" in a Connection value. */
int http_list_has(const char *list, size_t llen, const char *token, size_t tlen);

/* Whether field NAME (LEN bytes) describes one connection rather than the
 * message (RFC 9110 7.6.1): Connection, Keep-Alive, Proxy-Connection, TE,
 * Trailer, Transfer-Encoding, Upgrade.  A relay drops these, and those
 * the Connection field names. */
int http_hop_by_hop(const char *name, size_t len);

static inline int http_request_method(const struct request *r)
{
    return r->parser.method;
}

#endif
