/* precond.c: conditional requests and byte ranges (see precond.h).
 * Handler threads; pure functions. */
#include "config.h"

#include "mpmd/modules/precond.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mpmd/http/http.h"
#include "mpmd/http/response.h"

char *precond_put_hex(char *out, unsigned long long v)
{
    char tmp[16];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    while (n)
        *out++ = tmp[--n];
    return out;
}

size_t precond_etag(char *out, time_t mtime, off_t size)
{
    char *p = out;
    *p++ = '"';
    p = precond_put_hex(p, (unsigned long long)mtime);
    *p++ = '-';
    p = precond_put_hex(p, (unsigned long long)size);
    *p++ = '"';
    *p = '\0';
    return (size_t)(p - out);
}

static const char *skip_ows_commas(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
        p++;
    return p;
}

int precond_etag_list_matches(const char *v, size_t len, const char *etag, int strong)
{
    const char *p = v, *end = v + len;
    size_t elen = strlen(etag);
    p = skip_ows_commas(p, end);
    if (p < end && *p == '*') {
        const char *q = skip_ows_commas(p + 1, end);
        return q == end;
    }
    while (p < end) {
        int weak = 0;
        if (end - p >= 2 && p[0] == 'W' && p[1] == '/') {
            weak = 1;
            p += 2;
        }
        if (p >= end || *p != '"')
            return 0;                 /* malformed list: matches nothing */
        const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
        if (!q)
            return 0;
        size_t tlen = (size_t)(q + 1 - p);
        if (tlen == elen && memcmp(p, etag, elen) == 0 && !(strong && weak))
            return 1;
        p = skip_ows_commas(q + 1, end);
    }
    return 0;
}

static int header_date(const struct request *r, const char *name, time_t *out)
{
    size_t len;
    const char *v = http_request_header(r, name, &len);
    if (!v)
        return 0;
    time_t t = http_date_parse(v, len);
    if (t == (time_t)-1)
        return 0;                     /* invalid dates are ignored (RFC 9110 13.1.3) */
    *out = t;
    return 1;
}

int precond_evaluate(const struct request *r, int is_get_or_head, const char *etag, time_t mtime)
{
    size_t len;
    time_t t;
    const char *v = http_request_header(r, "If-Match", &len);
    if (v) {
        if (!precond_etag_list_matches(v, len, etag, 1))
            return 412;
    } else if (header_date(r, "If-Unmodified-Since", &t) && mtime > t) {
        return 412;
    }
    v = http_request_header(r, "If-None-Match", &len);
    if (v) {
        if (precond_etag_list_matches(v, len, etag, 0))
            return is_get_or_head ? 304 : 412;
    } else if (is_get_or_head && header_date(r, "If-Modified-Since", &t) && mtime <= t) {
        return 304;
    }
    return 0;
}

/* Digits at *P (at most 18, so no overflow); advances *P.  -1 if none. */
static long long parse_digits(const char **p, const char *end)
{
    long long v = 0;
    int n = 0;
    while (*p < end && **p >= '0' && **p <= '9') {
        if (++n > 18)
            return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    return n ? v : -1;
}

enum range_result range_parse(const char *value, size_t len, off_t size, off_t *first,
                              off_t *last)
{
    const char *p = value, *end = value + len;
    if (len < 6 || strncasecmp(p, "bytes=", 6) != 0)
        return RANGE_NONE;
    p += 6;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    long long a = -1, b = -1;
    if (p < end && *p == '-') {                     /* suffix: the last N bytes */
        p++;
        b = parse_digits(&p, end);
        if (b < 0)
            return RANGE_NONE;
    } else {
        a = parse_digits(&p, end);
        if (a < 0 || p >= end || *p != '-')
            return RANGE_NONE;
        p++;
        if (p < end && *p >= '0' && *p <= '9')
            b = parse_digits(&p, end);
        if (b >= 0 && b < a)
            return RANGE_NONE;                      /* invalid: ignore the field */
    }
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p != end)
        return RANGE_NONE;                          /* several ranges or junk */
    if (a < 0) {                                    /* suffix-range */
        if (b == 0 || size == 0)
            return RANGE_UNSATISFIABLE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return RANGE_PARTIAL;
    }
    if (a >= size)
        return RANGE_UNSATISFIABLE;
    *first = a;
    *last = b < 0 || b >= size ? size - 1 : b;
    return RANGE_PARTIAL;
}

int range_if_matches(const char *value, size_t len, const char *etag, time_t mtime)
{
    if (len > 0 && (value[0] == '"' || value[0] == 'W'))
        return len == strlen(etag) && memcmp(value, etag, len) == 0;
    time_t t = http_date_parse(value, len);
    return t != (time_t)-1 && t == mtime;
}
