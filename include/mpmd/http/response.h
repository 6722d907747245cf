/* response.h: building a response head, and the canned error pages.
 *
 * Pure formatting: no I/O.  Called by handler threads; each thread keeps
 * its own struct date_cache so the Date header is formatted once a
 * second, not once a request. */
#ifndef MPMD_RESPONSE_H
#define MPMD_RESPONSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* The coarse monotonic clock in whole seconds: request timeouts and file
 * cache re-checks (cheap, never goes backwards).  Any thread. */
static inline long monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (long)ts.tv_sec;
}

/* The wall clock in microseconds: when a request began, how long it
 * took (access log %t and %D, the scoreboard).  Any thread. */
static inline int64_t realtime_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The monotonic clock in milliseconds: upstream connections' idle ages
 * and retry times.  Any thread. */
static inline long long monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* IMF-fixdate of the current second, per thread. */
struct date_cache {
    time_t sec;
    char text[32];   /* "Sun, 06 Nov 1994 08:49:37 GMT" */
};

/* Format T as an IMF-fixdate into OUT (>= 30 bytes).  Returns length 29. */
size_t http_date_format(time_t t, char *out);

/* Parse an HTTP date (IMF-fixdate, RFC 850 or asctime form).  Returns
 * the time, or -1 if it is not a valid date. */
time_t http_date_parse(const char *s, size_t len);

/* The Date text for now (refreshes the cache when the second changed). */
const char *date_cache_now(struct date_cache *dc);

/* A response head under construction: a fixed buffer, so building it
 * never allocates.  Overflowing it sets overflow and keeps the head
 * valid but truncated (callers check response_head_finish).  A head that
 * relays an upstream's fields may be allowed to grow onto the heap
 * (response_head_allow_growth); it then lives in HEAP, owned, freed by
 * response_head_free (reply_release does it).  Read it through
 * response_head_data. */
struct response_head {
    char buf[2048];
    size_t len;
    int overflow;
    size_t max;              /* 0: BUF only; else the most bytes it may grow to */
    char *heap;              /* the head, once it outgrew BUF; owned */
    size_t heap_cap;
};

static inline const char *response_head_data(const struct response_head *h)
{
    return h->heap ? h->heap : h->buf;
}

/* Let H grow up to MAX bytes (allocating when it outgrows its buffer). */
void response_head_allow_growth(struct response_head *h, size_t max);

/* Free what H allocated; H is empty afterwards. */
void response_head_free(struct response_head *h);

/* The reason phrase for STATUS ("Not Found"), or "Unknown". */
const char *http_reason(int status);

/* Start a head: status line, Date and Server. */
void response_head_start(struct response_head *h, int status, const char *date);

/* Append "Name: value\r\n". */
void response_head_add(struct response_head *h, const char *name, const char *value, size_t vlen);
void response_head_add_num(struct response_head *h, const char *name, long long value);

/* The value of the first field NAME (case-insensitive) in H, *VLEN its
 * length; NULL when there is none. */
const char *response_head_get(const struct response_head *h, const char *name, size_t *vlen);

/* Remove every field NAME from H; returns how many. */
int response_head_remove(struct response_head *h, const char *name);

/* Give the first field NAME of H the value VALUE (VLEN bytes), where it
 * stands; add the field when there is none. */
void response_head_replace_first(struct response_head *h, const char *name, const char *value,
                                 size_t vlen);

/* Replace the status line of H with one for STATUS. */
void response_head_set_status(struct response_head *h, int status);

/* The same with the reason phrase REASON (RLEN bytes, at most 128 kept;
 * the caller checked it has no control characters): an upstream's or a
 * script's own. */
void response_head_set_status_reason(struct response_head *h, int status, const char *reason,
                                     size_t rlen);

/* Append the final CRLF.  Returns 0, or -1 if the head overflowed. */
int response_head_finish(struct response_head *h);

/* The small HTML body for an error STATUS; *LEN gets its length.  The
 * string is static. */
const char *response_error_body(int status, size_t *len);

#endif
