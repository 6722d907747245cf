/* precond.h: conditional requests (RFC 9110 13) and byte ranges (RFC 9110
 * 14) for a representation known by its ETag and modification time.
 *
 * Pure functions over header values: any thread, no allocation. */
#ifndef MPMD_PRECOND_H
#define MPMD_PRECOND_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct request;

/* Format the strong ETag of a file: "\"<mtime hex>-<size hex>\"" into OUT
 * (>= 40 bytes).  Returns its length. */
size_t precond_etag(char *out, time_t mtime, off_t size);

/* Lower-case hex of V at OUT (no NUL); returns the end.  For ETag parts
 * (fileetag.c). */
char *precond_put_hex(char *out, unsigned long long v);

/* Evaluate If-Match, If-Unmodified-Since, If-None-Match and
 * If-Modified-Since in RFC 9110 13.2.2 order for a GET or HEAD (IS_GET_OR_HEAD)
 * or another method.  Returns 0 to go on, 304 (not modified) or 412
 * (precondition failed). */
int precond_evaluate(const struct request *r, int is_get_or_head, const char *etag,
                     time_t mtime);

enum range_result {
    RANGE_NONE,          /* no usable Range: send the whole representation */
    RANGE_PARTIAL,       /* one satisfiable range: *FIRST..*LAST (inclusive) */
    RANGE_UNSATISFIABLE, /* 416 */
};

/* Interpret a Range field VALUE (LEN bytes) for a representation of SIZE
 * bytes.  Multiple ranges and syntax errors give RANGE_NONE. */
enum range_result range_parse(const char *value, size_t len, off_t size, off_t *first,
                              off_t *last);

/* Whether an If-Range VALUE (entity-tag or HTTP-date) still matches the
 * representation (strong comparison; a weak tag never matches). */
int range_if_matches(const char *value, size_t len, const char *etag, time_t mtime);

/* Does the entity-tag list VALUE (or "*") match ETAG?  STRONG selects the
 * strong comparison function (If-Match) over the weak one (If-None-Match). */
int precond_etag_list_matches(const char *value, size_t len, const char *etag, int strong);

#endif
