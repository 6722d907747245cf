/* proxy_resp.h: an upstream's HTTP/1.x response head, read and checked
 * before anything of it reaches the client.
 *
 * The status line and fields are held to RFC 9112 (bare LF line ends
 * accepted, as recipients may): a token name, no space before the colon,
 * no obs-fold, no control characters in values; a field line longer than
 * the worker's responsefieldsize, more fields than LimitRequestFields, or
 * a head larger than the buffer is refused, as are framing fields that
 * disagree (Content-Length with Transfer-Encoding, two different lengths,
 * a transfer coding other than chunked).  Interim 1xx heads (but 101) are
 * skipped.  Any thread; a struct proxy_resp belongs to one request. */
#ifndef MPMD_PROXY_RESP_H
#define MPMD_PROXY_RESP_H

#include <http_parser.h>
#include <stddef.h>
#include <stdint.h>

struct proxy_resp_field {
    uint32_t name_off, name_len, value_off, value_len;   /* into head */
};

struct proxy_resp {
    char *head;                   /* owned, CAP bytes: the head, then body bytes read
                                   * with it */
    size_t len, cap;
    size_t head_len;              /* bytes of the head, blank line included, once complete */
    size_t scanned;               /* bytes of HEAD checked so far */
    size_t field_max;             /* the longest field line allowed (responsefieldsize) */
    int max_fields;
    int status;
    uint32_t reason_off, reason_len; /* the reason phrase, in HEAD */
    int keep_alive;               /* the upstream keeps the connection after this response */
    int no_body;                  /* 1xx, 204, 304 */
    long long length;             /* the Content-Length, once the head is in; -1: none
                                   * (chunked, or delimited by the close) */
    struct proxy_resp_field *fields; /* owned, MAX_FIELDS */
    int n_fields;
    const char *error;            /* why the head was refused (static), or NULL */
};

/* CAP: the buffer (the largest head); FIELD_MAX and MAX_FIELDS the
 * limits.  0, or -1 when out of memory. */
int proxy_resp_init(struct proxy_resp *r, size_t cap, size_t field_max, int max_fields);

/* Forget what was read (for another try on a new connection). */
void proxy_resp_reset(struct proxy_resp *r);

void proxy_resp_free(struct proxy_resp *r);

/* Look at the LEN bytes in HEAD: 1 when a final head is complete
 * (head_len, status, fields set; an interim head before it is removed
 * from the buffer), 0 when more bytes are needed, -1 when the head is
 * refused (error says why). */
int proxy_resp_parse(struct proxy_resp *r);

/* Read from FD (non-blocking) until a final head is in, waiting up to
 * TIMEOUT_S seconds for each read.  0; -1 with error set (refused) or
 * errno (ETIMEDOUT, ECONNRESET; EPIPE for an EOF). */
int proxy_resp_read_head(struct proxy_resp *r, int fd, int timeout_s);

/* The value of the first field NAME (case-insensitive), *LEN its length;
 * NULL when absent. */
const char *proxy_resp_field(const struct proxy_resp *r, const char *name, size_t *len);

/* Prepare HP to decode the body after the head: an http_parser for a
 * response that has consumed the head's framing (HEAD_REQUEST: the
 * answer to a HEAD, no body follows).  Returns 1 when the message ended
 * with its head (Content-Length: 0, or HEAD_REQUEST): no body byte
 * follows and HP's callbacks will not see its end; else 0. */
int proxy_resp_body_parser(const struct proxy_resp *r, http_parser *hp, int head_request);

#endif
