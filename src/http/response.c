/* response.c: response heads, HTTP dates and canned error pages.
 *
 * Handler threads call these; nothing here does I/O or allocates. */
#include "config.h"

#include "mpmd/http/response.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mpmd/core/logformat.h"
#include "mpmd/core/version.h"


static char *put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

size_t http_date_format(time_t t, char *out)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    int year = tm.tm_year + 1900;
    char *p = out;
    memcpy(p, logformat_day_abbr[tm.tm_wday], 3);
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    p = put2(p, tm.tm_mday);
    *p++ = ' ';
    memcpy(p, logformat_month_abbr[tm.tm_mon], 3);
    p += 3;
    *p++ = ' ';
    p = put2(p, year / 100);
    p = put2(p, year % 100);
    *p++ = ' ';
    p = put2(p, tm.tm_hour);
    *p++ = ':';
    p = put2(p, tm.tm_min);
    *p++ = ':';
    p = put2(p, tm.tm_sec);
    memcpy(p, " GMT", 5);
    return 29;
}

static int month_index(const char *m)
{
    for (int i = 0; i < 12; i++)
        if (strncmp(m, logformat_month_abbr[i], 3) == 0)
            return i;
    return -1;
}

/* Days from 1970-01-01 to Y-M-D (proleptic Gregorian), no time zone. */
static long long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

time_t http_date_parse(const char *s, size_t len)
{
    char buf[64], mon[4] = "";
    int d = 0, y = 0, hh = 0, mm = 0, ss = 0, n = 0;
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    const char *comma = strchr(buf, ',');
    if (comma && comma - buf == 3) {        /* IMF-fixdate */
        if (sscanf(buf, "%*3s, %2d %3s %4d %2d:%2d:%2d GMT%n", &d, mon, &y, &hh, &mm, &ss, &n) != 6)
            return -1;
    } else if (comma) {                      /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
        if (sscanf(comma, ", %2d-%3s-%2d %2d:%2d:%2d GMT%n", &d, mon, &y, &hh, &mm, &ss, &n) != 6)
            return -1;
        n += (int)(comma - buf);
        y += 2000;                           /* RFC 9110 5.6.7: 50-year window */
        struct tm now;
        time_t t = time(NULL);
        gmtime_r(&t, &now);
        if (y > now.tm_year + 1900 + 50)
            y -= 100;
    } else {                                 /* asctime: Sun Nov  6 08:49:37 1994 */
        if (sscanf(buf, "%*3s %3s %2d %2d:%2d:%2d %4d%n", mon, &d, &hh, &mm, &ss, &y, &n) != 6)
            return -1;
    }
    static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int m = month_index(mon);
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (n != (int)len || m < 0 || d < 1 || d > mdays[m] || (m == 1 && d == 29 && !leap) ||
        hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60 || y < 1970)
        return -1;
    return (time_t)(days_from_civil(y, m + 1, d) * 86400 + hh * 3600 + mm * 60 + ss);
}

const char *date_cache_now(struct date_cache *dc)
{
    time_t now = time(NULL);
    if (now != dc->sec) {
        http_date_format(now, dc->text);
        dc->sec = now;
    }
    return dc->text;
}

struct status_text {
    int status;
    const char *reason;
};

static const struct status_text statuses[] = {
    { 100, "Continue" },
    { 200, "OK" },
    { 204, "No Content" },
    { 206, "Partial Content" },
    { 301, "Moved Permanently" },
    { 302, "Found" },
    { 303, "See Other" },
    { 304, "Not Modified" },
    { 307, "Temporary Redirect" },
    { 308, "Permanent Redirect" },
    { 400, "Bad Request" },
    { 403, "Forbidden" },
    { 404, "Not Found" },
    { 401, "Unauthorized" },
    { 405, "Method Not Allowed" },
    { 408, "Request Timeout" },
    { 410, "Gone" },
    { 411, "Length Required" },
    { 412, "Precondition Failed" },
    { 413, "Content Too Large" },
    { 414, "URI Too Long" },
    { 416, "Range Not Satisfiable" },
    { 417, "Expectation Failed" },
    { 431, "Request Header Fields Too Large" },
    { 500, "Internal Server Error" },
    { 501, "Not Implemented" },
    { 503, "Service Unavailable" },
    { 505, "HTTP Version Not Supported" },
    /* The rest of RFC 9110's, for answers relayed from upstreams and scripts. */
    { 101, "Switching Protocols" },
    { 103, "Early Hints" },
    { 201, "Created" },
    { 202, "Accepted" },
    { 203, "Non-Authoritative Information" },
    { 205, "Reset Content" },
    { 207, "Multi-Status" },
    { 300, "Multiple Choices" },
    { 402, "Payment Required" },
    { 406, "Not Acceptable" },
    { 407, "Proxy Authentication Required" },
    { 409, "Conflict" },
    { 415, "Unsupported Media Type" },
    { 421, "Misdirected Request" },
    { 422, "Unprocessable Content" },
    { 426, "Upgrade Required" },
    { 428, "Precondition Required" },
    { 429, "Too Many Requests" },
    { 451, "Unavailable For Legal Reasons" },
    { 502, "Bad Gateway" },
    { 504, "Gateway Timeout" },
};

static const struct status_text *status_lookup(int status)
{
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if (statuses[i].status == status)
            return &statuses[i];
    return NULL;
}

const char *http_reason(int status)
{
    const struct status_text *st = status_lookup(status);
    return st ? st->reason : "Unknown";
}

static char *head_base(struct response_head *h)
{
    return h->heap ? h->heap : h->buf;
}

/* Make room for a head of WANT bytes in all.  0, or -1 (overflow set). */
static int head_room(struct response_head *h, size_t want)
{
    size_t cap = h->heap ? h->heap_cap : sizeof h->buf;
    if (want <= cap)
        return 0;
    if (h->overflow || want > h->max) {
        h->overflow = 1;
        return -1;
    }
    size_t ncap = cap * 2 < want ? want : cap * 2;
    if (ncap > h->max)
        ncap = h->max;
    char *n = realloc(h->heap, ncap);
    if (n == NULL) {
        h->overflow = 1;
        return -1;
    }
    if (h->heap == NULL)
        memcpy(n, h->buf, h->len);
    h->heap = n;
    h->heap_cap = ncap;
    return 0;
}

void response_head_allow_growth(struct response_head *h, size_t max)
{
    h->max = max;
}

void response_head_free(struct response_head *h)
{
    free(h->heap);
    h->heap = NULL;
    h->heap_cap = 0;
    h->len = 0;
}

/* append's rare case: the head lives on the heap, or must move there. */
static __attribute__((noinline)) void append_slow(struct response_head *h, const char *s,
                                                  size_t n)
{
    size_t cap = h->heap ? h->heap_cap : sizeof h->buf;
    if (h->overflow || (n > cap - h->len && head_room(h, h->len + n) == -1)) {
        h->overflow = 1;
        return;
    }
    memcpy(head_base(h) + h->len, s, n);
    h->len += n;
}

/* Kept small enough to inline: every head of every response goes through
 * it, with the inline buffer. */
static inline void append(struct response_head *h, const char *s, size_t n)
{
    if (__builtin_expect(h->heap == NULL && !h->overflow && n <= sizeof h->buf - h->len, 1)) {
        memcpy(h->buf + h->len, s, n);
        h->len += n;
        return;
    }
    append_slow(h, s, n);
}

static void append_str(struct response_head *h, const char *s)
{
    append(h, s, strlen(s));
}

/* Decimal digits of V into the end of BUF (BUFLEN bytes); returns the
 * first digit.  Hand-rolled: printf is a measurable share of the cached
 * keep-alive path. */
static char *format_unsigned(char *buf, size_t buflen, unsigned long long v)
{
    char *p = buf + buflen;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v && p > buf);
    return p;
}

void response_head_start(struct response_head *h, int status, const char *date)
{
    char num[24];
    h->len = 0;
    h->overflow = 0;
    h->max = 0;
    h->heap = NULL;
    h->heap_cap = 0;
    char *d = format_unsigned(num, sizeof num, (unsigned)status);
    append(h, "HTTP/1.1 ", 9);
    append(h, d, (size_t)(num + sizeof num - d));
    append(h, " ", 1);
    append_str(h, http_reason(status));
    append(h, "\r\n", 2);
    append(h, "Date: ", 6);
    append_str(h, date);
    append(h, "\r\nServer: " MPMD_SERVER_TOKEN "\r\n", sizeof("\r\nServer: " MPMD_SERVER_TOKEN "\r\n") - 1);
}

void response_head_add(struct response_head *h, const char *name, const char *value, size_t vlen)
{
    append_str(h, name);
    append(h, ": ", 2);
    append(h, value, vlen);
    append(h, "\r\n", 2);
}

void response_head_add_num(struct response_head *h, const char *name, long long value)
{
    char num[24];
    char *d = format_unsigned(num + 1, sizeof num - 1,
                              value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value);
    if (value < 0)
        *--d = '-';
    response_head_add(h, name, d, (size_t)(num + sizeof num - d));
}

/* The field line of NAME at or after FROM: its start and end (after the
 * CRLF), or NULL.  The status line is never a match. */
static char *find_field(const struct response_head *h, size_t from, const char *name,
                        char **end)
{
    size_t nlen = strlen(name);
    const char *buf = response_head_data(h);
    const char *line = memchr(buf, '\n', h->len);
    line = line ? line + 1 : buf + h->len;
    if ((size_t)(line - buf) < from)
        line = buf + from;
    while ((size_t)(line - buf) < h->len) {
        const char *nl = memchr(line, '\n', h->len - (size_t)(line - buf));
        const char *next = nl ? nl + 1 : buf + h->len;
        if ((size_t)(next - line) > nlen && line[nlen] == ':' && strncasecmp(line, name, nlen) == 0) {
            *end = (char *)next;
            return (char *)line;
        }
        line = next;
    }
    return NULL;
}

const char *response_head_get(const struct response_head *h, const char *name, size_t *vlen)
{
    char *end, *line = find_field(h, 0, name, &end);
    if (line == NULL)
        return NULL;
    const char *v = line + strlen(name) + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    *vlen = (size_t)(end - 2 - v);
    return v;
}

void response_head_replace_first(struct response_head *h, const char *name, const char *value,
                                 size_t vlen)
{
    char *end, *line = find_field(h, 0, name, &end);
    if (line == NULL) {
        response_head_add(h, name, value, vlen);
        return;
    }
    size_t nlen = strlen(name), old = (size_t)(end - line), want = nlen + 2 + vlen + 2;
    size_t line_off = (size_t)(line - head_base(h)), end_off = (size_t)(end - head_base(h));
    size_t tail = h->len - end_off;
    if (want > old && head_room(h, h->len - old + want) == -1)
        return;
    line = head_base(h) + line_off;
    end = head_base(h) + end_off;
    memmove(line + want, end, tail);
    memcpy(line + nlen, ": ", 2);
    memcpy(line + nlen + 2, value, vlen);
    memcpy(line + nlen + 2 + vlen, "\r\n", 2);
    h->len = h->len - old + want;
}

int response_head_remove(struct response_head *h, const char *name)
{
    int n = 0;
    char *end, *line;
    while ((line = find_field(h, 0, name, &end)) != NULL) {
        memmove(line, end, h->len - (size_t)(end - head_base(h)));
        h->len -= (size_t)(end - line);
        n++;
    }
    return n;
}

void response_head_set_status(struct response_head *h, int status)
{
    const char *reason = http_reason(status);
    response_head_set_status_reason(h, status, reason, strlen(reason));
}

void response_head_set_status_reason(struct response_head *h, int status, const char *reason,
                                     size_t rlen)
{
    char line[192];
    const char *nl = memchr(head_base(h), '\n', h->len);
    if (nl == NULL)
        return;
    size_t old = (size_t)(nl + 1 - head_base(h));
    if (rlen > 128)
        rlen = 128;
    int n = snprintf(line, sizeof line, "HTTP/1.1 %d %.*s\r\n", status, (int)rlen, reason);
    if (n < 0 || (size_t)n >= sizeof line) {
        h->overflow = 1;
        return;
    }
    if ((size_t)n > old && head_room(h, h->len - old + (size_t)n) == -1)
        return;
    char *b = head_base(h);
    memmove(b + n, b + old, h->len - old);
    memcpy(b, line, (size_t)n);
    h->len = h->len - old + (size_t)n;
}

int response_head_finish(struct response_head *h)
{
    append(h, "\r\n", 2);
    return h->overflow ? -1 : 0;
}

/* Error pages are string literals: built at compile time, shared by all
 * threads, no lock. */
#define ERROR_PAGE(code, reason, msg)                                                  \
    { code, "<!DOCTYPE html>\n<html><head><title>" #code " " reason "</title></head>\n" \
            "<body><h1>" reason "</h1>\n<p>" msg "</p>\n</body></html>\n" }

static const struct {
    int status;
    const char *body;
} error_pages[] = {
    ERROR_PAGE(301, "Moved Permanently", "The document has moved."),
    ERROR_PAGE(302, "Found", "The document has moved."),
    ERROR_PAGE(303, "See Other", "The answer to your request is located elsewhere."),
    ERROR_PAGE(307, "Temporary Redirect", "The document has moved temporarily."),
    ERROR_PAGE(308, "Permanent Redirect", "The document has moved permanently."),
    ERROR_PAGE(400, "Bad Request", "Your browser sent a request that this server could not understand."),
    ERROR_PAGE(401, "Unauthorized", "This server could not verify that you are authorized to access the document requested. Either you supplied the wrong credentials (e.g., bad password), or your browser doesn't understand how to supply the credentials required."),
    ERROR_PAGE(403, "Forbidden", "You don't have permission to access this resource."),
    ERROR_PAGE(404, "Not Found", "The requested URL was not found on this server."),
    ERROR_PAGE(410, "Gone", "The requested resource is no longer available on this server."),
    ERROR_PAGE(405, "Method Not Allowed", "The requested method is not allowed for this URL."),
    ERROR_PAGE(408, "Request Timeout", "The server timed out waiting for the request."),
    ERROR_PAGE(411, "Length Required", "A request of this method requires a Content-Length."),
    ERROR_PAGE(412, "Precondition Failed", "A precondition of the request did not hold."),
    ERROR_PAGE(413, "Content Too Large", "The request body is larger than this server accepts."),
    ERROR_PAGE(414, "URI Too Long", "The requested URL's length exceeds the capacity limit of this server."),
    ERROR_PAGE(416, "Range Not Satisfiable", "None of the requested ranges lie within the file."),
    ERROR_PAGE(417, "Expectation Failed", "The expectation given in the Expect header could not be met."),
    ERROR_PAGE(431, "Request Header Fields Too Large", "A request header field exceeds the server limit."),
    ERROR_PAGE(500, "Internal Server Error", "The server encountered an internal error."),
    ERROR_PAGE(501, "Not Implemented", "The request method is not supported by this server."),
    ERROR_PAGE(502, "Bad Gateway", "The proxy server received an invalid response from an upstream server."),
    ERROR_PAGE(503, "Service Unavailable", "The server is temporarily unable to service your request."),
    ERROR_PAGE(504, "Gateway Timeout", "The proxy server did not receive a timely response from the upstream server."),
    ERROR_PAGE(505, "HTTP Version Not Supported", "This server speaks HTTP/1.0 and HTTP/1.1 only."),
};

const char *response_error_body(int status, size_t *len)
{
    for (size_t i = 0; i < sizeof error_pages / sizeof error_pages[0]; i++) {
        if (error_pages[i].status == status) {
            *len = strlen(error_pages[i].body);
            return error_pages[i].body;
        }
    }
    return response_error_body(500, len);
}
