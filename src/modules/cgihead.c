/* cgihead.c: the CGI response head, RFC 3875 section 6 (see cgihead.h).
 *
 * Owns the parsing of the header lines a CGI script or FastCGI
 * application writes before its body.  Pure code, no I/O, no globals: the
 * handler thread running a request feeds that request's cgi_head.
 *
 * Bytes are copied into buf (allocated once, LIMIT bytes) up to and
 * including each LF, and every line is checked and recorded as soon as
 * its LF is in, so the fields are offsets into buf.  The start of the line
 * under way is not stored: it follows the last LF already in buf, found
 * with memrchr when the next LF arrives (once per line, so the work stays
 * linear in the head's size however the bytes are split). */
#include "config.h"

#include "mpmd/modules/cgihead.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cgi_head_init(struct cgi_head *h, size_t limit)
{
    memset(h, 0, sizeof *h);
    h->limit = limit < UINT32_MAX ? limit : UINT32_MAX;  /* offsets are 32-bit */
    h->location = -1;
    h->content_type = -1;
    h->buf = malloc(h->limit ? h->limit : 1);
    return h->buf ? 0 : -1;
}

void cgi_head_free(struct cgi_head *h)
{
    free(h->buf);
    h->buf = NULL;
    h->len = 0;
}

static int head_fail(struct cgi_head *h, const char *why)
{
    h->error = why;
    return -1;
}

/* RFC 9110 5.6.2 tchar. */
static int is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Whether NAME (LEN bytes) is the field name WANT, case-insensitively. */
static int name_is(const char *name, size_t len, const char *want)
{
    return len == strlen(want) && strncasecmp(name, want, len) == 0;
}

/* Status: VALUE (LEN bytes, trimmed, at offset OFF in buf).  -1 if not
 * "NNN" or "NNN reason" with NNN in 100..599. */
static int take_status(struct cgi_head *h, const char *v, size_t len, size_t off)
{
    if (h->status != 0)
        return head_fail(h, "CGI head has Status twice");
    if (len < 3 || (len > 3 && v[3] != ' '))
        return head_fail(h, "CGI Status is not a three-digit code and a reason");
    for (int i = 0; i < 3; i++)
        if (v[i] < '0' || v[i] > '9')
            return head_fail(h, "CGI Status is not a three-digit code and a reason");
    int code = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
    if (code < 100 || code > 599)
        return head_fail(h, "CGI Status code is not in 100..599");
    h->status = code;
    h->reason_off = (uint32_t)(len > 3 ? off + 4 : off + len);
    h->reason_len = (uint32_t)(len > 3 ? len - 4 : 0);
    return 0;
}

/* Record the field NAME..VALUE (offsets into buf), indexing Location and
 * Content-Type at their first occurrence.  -1 when there are too many. */
static int take_field(struct cgi_head *h, size_t name_off, size_t name_len, size_t value_off,
                      size_t value_len)
{
    if (h->n_fields == CGI_HEAD_MAX_FIELDS)
        return head_fail(h, "CGI head has too many header fields");
    const char *name = h->buf + name_off;
    if (h->location < 0 && name_is(name, name_len, "Location"))
        h->location = h->n_fields;
    if (h->content_type < 0 && name_is(name, name_len, "Content-Type"))
        h->content_type = h->n_fields;
    struct cgi_field *f = &h->fields[h->n_fields++];
    f->name_off = (uint32_t)name_off;
    f->name_len = (uint32_t)name_len;
    f->value_off = (uint32_t)value_off;
    f->value_len = (uint32_t)value_len;
    return 0;
}

/* Check the field name buf[START..COLON): a non-empty token. */
static int check_name(struct cgi_head *h, size_t start, size_t colon)
{
    if (colon == start)
        return head_fail(h, "CGI header field with an empty name");
    for (size_t i = start; i < colon; i++)
        if (!is_tchar((unsigned char)h->buf[i]))
            return head_fail(h, "CGI header field name is not a token");
    return 0;
}

/* Check the value buf[START..END): no control character but HTAB. */
static int check_value(struct cgi_head *h, size_t start, size_t end)
{
    for (size_t i = start; i < end; i++) {
        unsigned char c = (unsigned char)h->buf[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return head_fail(h, "CGI header field value has a control character");
    }
    return 0;
}

/* The line buf[START..END) (its LF, and CR before it, removed) is in:
 * the blank line ends the head, anything else is a field.  -1 on error. */
static int take_line(struct cgi_head *h, size_t start, size_t end)
{
    if (end == start) {
        h->done = 1;
        return 0;
    }
    const char *b = h->buf;
    if (is_blank(b[start]))
        return head_fail(h, "CGI head has a folded line (obs-fold)");
    const char *colon = memchr(b + start, ':', end - start);
    if (!colon)
        return head_fail(h, "CGI header line has no colon");
    size_t c = (size_t)(colon - b), vs = c + 1, ve = end;
    if (check_name(h, start, c) == -1)
        return -1;
    while (vs < ve && is_blank(b[vs]))
        vs++;
    while (ve > vs && is_blank(b[ve - 1]))
        ve--;
    if (check_value(h, vs, ve) == -1)
        return -1;
    if (name_is(b + start, c - start, "Status"))
        return take_status(h, b + vs, ve - vs, vs);
    return take_field(h, start, c - start, vs, ve - vs);
}

/* Append IN (N bytes) to buf, within the limit.  -1 when it would not fit. */
static int append(struct cgi_head *h, const char *in, size_t n)
{
    if (n > h->limit - h->len)
        return head_fail(h, "CGI head is larger than the limit");
    memcpy(h->buf + h->len, in, n);
    h->len += n;
    return 0;
}

/* Where the line under way starts: after the last LF in buf. */
static size_t line_start(const struct cgi_head *h)
{
    const char *lf = h->len ? memrchr(h->buf, '\n', h->len) : NULL;
    return lf ? (size_t)(lf - h->buf) + 1 : 0;
}

ssize_t cgi_head_feed(struct cgi_head *h, const char *in, size_t len)
{
    if (h->error)
        return -1;
    if (!h->buf)
        return head_fail(h, "CGI head has no buffer (out of memory at init)");
    size_t pos = 0;
    while (!h->done && pos < len) {
        const char *lf = memchr(in + pos, '\n', len - pos);
        if (!lf)
            return append(h, in + pos, len - pos) == -1 ? -1 : (ssize_t)len;
        size_t n = (size_t)(lf - in) + 1 - pos;
        size_t start = line_start(h);
        if (append(h, in + pos, n) == -1)
            return -1;
        pos += n;
        size_t end = h->len - 1;
        if (end > start && h->buf[end - 1] == '\r')
            end--;
        if (take_line(h, start, end) == -1)
            return -1;
    }
    return (ssize_t)pos;
}

/* Whether V (LEN bytes) starts with an RFC 3986 scheme and ':'. */
static int has_scheme(const char *v, size_t len)
{
    if (len == 0 || !((v[0] >= 'a' && v[0] <= 'z') || (v[0] >= 'A' && v[0] <= 'Z')))
        return 0;
    for (size_t i = 1; i < len; i++) {
        char c = v[i];
        if (c == ':')
            return 1;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '+' || c == '-' || c == '.';
        if (!ok)
            return 0;
    }
    return 0;
}

enum cgi_kind cgi_head_kind(const struct cgi_head *h)
{
    size_t len;
    const char *v = cgi_head_value(h, h->location, &len);
    if (!v)
        return CGI_DOCUMENT;
    if (len > 0 && v[0] == '/' && h->status == 0)
        return CGI_LOCAL_REDIRECT;
    if (has_scheme(v, len))
        return CGI_CLIENT_REDIRECT;
    return CGI_DOCUMENT;
}

const char *cgi_head_value(const struct cgi_head *h, int i, size_t *len)
{
    if (i < 0 || i >= h->n_fields) {
        *len = 0;
        return NULL;
    }
    *len = h->fields[i].value_len;
    return h->buf + h->fields[i].value_off;
}

const char *cgi_head_name(const struct cgi_head *h, int i, size_t *len)
{
    if (i < 0 || i >= h->n_fields) {
        *len = 0;
        return NULL;
    }
    *len = h->fields[i].name_len;
    return h->buf + h->fields[i].name_off;
}
