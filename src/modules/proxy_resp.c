/* proxy_resp.c: reading and checking an upstream's response head
 * (proxy_resp.h).  Any thread; pure parsing but proxy_resp_read_head's
 * reads. */
#include "config.h"

#include "mpmd/modules/proxy_resp.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "mpmd/http/http.h"
#include "mpmd/modules/upstream.h"

int proxy_resp_init(struct proxy_resp *r, size_t cap, size_t field_max, int max_fields)
{
    memset(r, 0, sizeof *r);
    r->head = malloc(cap);
    /* Written before read (n_fields counts them): no need to clear. */
    r->fields = malloc((size_t)(max_fields > 0 ? max_fields : 1) * sizeof *r->fields);
    r->cap = cap;
    r->field_max = field_max;
    r->max_fields = max_fields;
    if (r->head == NULL || r->fields == NULL) {
        proxy_resp_free(r);
        return -1;
    }
    return 0;
}

void proxy_resp_reset(struct proxy_resp *r)
{
    r->len = r->head_len = r->scanned = 0;
    r->status = r->keep_alive = r->no_body = r->n_fields = 0;
    r->error = NULL;
}

void proxy_resp_free(struct proxy_resp *r)
{
    free(r->head);
    free(r->fields);
    r->head = NULL;
    r->fields = NULL;
}

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int fail(struct proxy_resp *r, const char *why)
{
    r->error = why;
    return -1;
}

/* The status line S (LEN bytes, no line end). */
static int parse_status_line(struct proxy_resp *r, const char *s, size_t len, int *minor)
{
    if (len < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') || s[8] != ' ')
        return fail(r, "the response does not start with an HTTP/1.x status line");
    if (s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9' ||
        (len > 12 && s[12] != ' '))
        return fail(r, "the response's status code is not three digits 100-599");
    for (size_t i = 12; i < len; i++)
        if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
            return fail(r, "a control character in the response's status line");
    *minor = s[7] - '0';
    r->reason_off = (uint32_t)(s - r->head) + (len > 13 ? 13 : (uint32_t)len);
    r->reason_len = len > 13 ? (uint32_t)(len - 13) : 0;
    r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    return 0;
}

/* One field line L (LEN bytes, no line end) at offset OFF of the head. */
static int parse_field(struct proxy_resp *r, const char *l, size_t len, size_t off)
{
    if (len > 0 && (l[0] == ' ' || l[0] == '\t'))
        return fail(r, "obs-fold (a field line starting with white space) in the response");
    size_t n = 0;
    while (n < len && is_tchar((unsigned char)l[n]))
        n++;
    if (n == 0 || n == len || l[n] != ':')
        return fail(r, "a malformed field line in the response head");
    size_t v = n + 1, e = len;
    while (v < e && (l[v] == ' ' || l[v] == '\t'))
        v++;
    while (e > v && (l[e - 1] == ' ' || l[e - 1] == '\t'))
        e--;
    for (size_t i = v; i < e; i++)
        if (((unsigned char)l[i] < 0x20 && l[i] != '\t') || l[i] == 0x7f)
            return fail(r, "a control character in a response field value");
    if (r->n_fields == r->max_fields)
        return fail(r, "more response fields than LimitRequestFields");
    r->fields[r->n_fields++] = (struct proxy_resp_field){
        (uint32_t)off, (uint32_t)n, (uint32_t)(off + v), (uint32_t)(e - v)};
    return 0;
}

static int value_is(const struct proxy_resp *r, int i, const char *want)
{
    return r->fields[i].value_len == strlen(want) &&
           strncasecmp(r->head + r->fields[i].value_off, want, strlen(want)) == 0;
}

static int name_is(const struct proxy_resp *r, int i, const char *want)
{
    return http_field_is(r->head + r->fields[i].name_off, r->fields[i].name_len, want);
}

/* Whether the value of field I has TOKEN among its comma- or
 * blank-separated words (a Connection value: "close", "keep-alive"). */
static int value_has(const struct proxy_resp *r, int i, const char *token)
{
    const char *v = r->head + r->fields[i].value_off;
    size_t len = r->fields[i].value_len, t = strlen(token), k = 0;
    while (k < len) {
        while (k < len && (v[k] == ' ' || v[k] == '\t' || v[k] == ','))
            k++;
        size_t s = k;
        while (k < len && v[k] != ',' && v[k] != ' ' && v[k] != '\t')
            k++;
        if (k - s == t && strncasecmp(v + s, token, t) == 0)
            return 1;
    }
    return 0;
}

/* Framing and persistence from the fields. */
static int check_framing(struct proxy_resp *r, int minor)
{
    int cl = -1, te = 0, close = 0, keep = 0;
    for (int i = 0; i < r->n_fields; i++) {
        if (name_is(r, i, "Content-Length")) {
            const char *v = r->head + r->fields[i].value_off;
            size_t n = r->fields[i].value_len;
            if (n == 0 || n > 18 || strspn(v, "0123456789") < n)
                return fail(r, "a Content-Length that is not a number in the response");
            if (cl != -1 && (r->fields[cl].value_len != n ||
                             memcmp(v, r->head + r->fields[cl].value_off, n) != 0))
                return fail(r, "two different Content-Length values in the response");
            cl = i;
        } else if (name_is(r, i, "Transfer-Encoding")) {
            if (te || !value_is(r, i, "chunked"))
                return fail(r, "a transfer coding other than one 'chunked' in the response");
            te = 1;
        } else if (name_is(r, i, "Connection")) {
            close |= value_has(r, i, "close");
            keep |= value_has(r, i, "keep-alive");
        }
    }
    if (cl != -1 && te)
        return fail(r, "both Content-Length and Transfer-Encoding in the response");
    r->length = cl == -1 ? -1 : 0;   /* digits only, at most 18: checked above */
    for (size_t k = 0; cl != -1 && k < r->fields[cl].value_len; k++)
        r->length = r->length * 10 + (r->head[r->fields[cl].value_off + k] - '0');
    r->no_body = r->status < 200 || r->status == 204 || r->status == 304;
    r->keep_alive = minor == 1 ? !close : keep && !close;
    if (!r->no_body && cl == -1 && !te)
        r->keep_alive = 0;        /* the close ends the body */
    return 0;
}

/* The end of the line starting at P (the LF), or NULL. */
static const char *line_end(const struct proxy_resp *r, size_t p)
{
    return memchr(r->head + p, '\n', r->len - p);
}

int proxy_resp_parse(struct proxy_resp *r)
{
    for (;;) {
        if (r->head_len)
            return 1;
        /* Find the blank line, checking line lengths on the way. */
        size_t p = r->scanned;
        const char *nl;
        while ((nl = line_end(r, p)) != NULL) {
            size_t end = (size_t)(nl - r->head), l = end - p;
            if (l > 0 && r->head[end - 1] == '\r')
                l--;
            if (l > r->field_max)
                return fail(r, "a response header line is longer than responsefieldsize");
            p = end + 1;
            if (l == 0)
                break;
        }
        if (nl == NULL) {
            size_t partial = r->len - p;
            if (partial > 0 && r->head[r->len - 1] == '\r')
                partial--;        /* its LF may be the next byte */
            if (partial > r->field_max)
                return fail(r, "a response header line is longer than responsefieldsize");
            if (r->len == r->cap)
                return fail(r, "the response head is larger than the proxy's buffer");
            r->scanned = p;
            return 0;
        }
        size_t head_end = p;
        /* Parse it line by line. */
        int minor = 1;
        r->n_fields = 0;
        size_t q = 0;
        for (int first = 1; q < head_end; first = 0) {
            const char *e = memchr(r->head + q, '\n', head_end - q);
            size_t end = (size_t)(e - r->head), l = end - q;
            if (l > 0 && r->head[end - 1] == '\r')
                l--;
            if (l == 0 && first)
                return fail(r, "the response does not start with an HTTP/1.x status line");
            if (l == 0)
                break;
            int bad = first ? parse_status_line(r, r->head + q, l, &minor)
                            : parse_field(r, r->head + q, l, q);
            if (bad)
                return -1;
            q = end + 1;
        }
        if (r->status >= 100 && r->status < 200 && r->status != 101) {
            memmove(r->head, r->head + head_end, r->len - head_end);   /* interim: skip */
            r->len -= head_end;
            r->scanned = 0;
            r->n_fields = 0;
            continue;
        }
        if (check_framing(r, minor) == -1)
            return -1;
        r->head_len = head_end;
        return 1;
    }
}

int proxy_resp_read_head(struct proxy_resp *r, int fd, int timeout_s)
{
    int waited = 0;
    for (;;) {
        int done = proxy_resp_parse(r);
        if (done != 0)
            return done == 1 ? 0 : -1;
        if (r->len == 0 && !waited) {
            /* The request has just gone out: no answer can be there yet, so
             * wait before the first read instead of reading EAGAIN. */
            int w = upstream_wait(fd, POLLIN, timeout_s);
            if (w <= 0) {
                errno = w == 0 ? ETIMEDOUT : EIO;
                return -1;
            }
            waited = 1;
        }
        ssize_t n = recv(fd, r->head + r->len, r->cap - r->len, 0);
        if (n > 0) {
            r->len += (size_t)n;
            continue;
        }
        if (n == 0) {
            errno = EPIPE;
            return -1;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -1;
        int w = upstream_wait(fd, POLLIN, timeout_s);
        if (w <= 0) {
            errno = w == 0 ? ETIMEDOUT : EIO;
            return -1;
        }
    }
}

const char *proxy_resp_field(const struct proxy_resp *r, const char *name, size_t *len)
{
    for (int i = 0; i < r->n_fields; i++)
        if (name_is(r, i, name)) {
            *len = r->fields[i].value_len;
            return r->head + r->fields[i].value_off;
        }
    return NULL;
}

static int skip_body(http_parser *p)
{
    (void)p;
    return 1;
}

static int ended_with_head(http_parser *p)
{
    *(int *)p->data = 1;
    return 0;
}

int proxy_resp_body_parser(const struct proxy_resp *r, http_parser *hp, int head_request)
{
    /* http_parser sees the framing only, as check_framing accepted it: it
     * refuses some of what RFC 9112 lets through (an equal Content-Length
     * twice, a tab after one) and needs nothing else of the head. */
    size_t cl_len = 0, te_len = 0;
    const char *cl = proxy_resp_field(r, "Content-Length", &cl_len);
    const char *te = proxy_resp_field(r, "Transfer-Encoding", &te_len);
    char head[128];
    int n = snprintf(head, sizeof head, "HTTP/1.%c %03d -\r\n%s%.*s%s%s%s\r\n", r->head[7],
                     r->status, cl ? "Content-Length: " : "", (int)cl_len, cl ? cl : "",
                     cl ? "\r\n" : "", te ? "Transfer-Encoding: chunked\r\n" : "",
                     r->keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
    http_parser_settings st;
    int ended = 0;
    http_parser_settings_init(&st);
    if (head_request)
        st.on_headers_complete = skip_body;
    st.on_message_complete = ended_with_head;
    http_parser_init(hp, HTTP_RESPONSE);
    hp->data = &ended;
    http_parser_execute(hp, &st, head, (size_t)n);
    hp->data = NULL;
    return ended;
}
