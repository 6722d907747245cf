/* autoindex.h: directory listings (Options +Indexes), as Apache's
 * mod_autoindex writes them (a plain list, FancyIndexing's <pre>,
 * HTMLTable), and mpmd's JSON listing (?F=json, Accept:
 * application/json).
 *
 * The static handler (static.c) calls autoindex_reply on a handler thread
 * for a directory without an index file.  The configuration part
 * (IndexOptions, IndexIgnore, IndexIgnoreReset, IndexOrderDefault) loads
 * where the configuration loads.  Everything else below is pure: any
 * thread, exported for the unit tests. */
#ifndef MPMD_AUTOINDEX_H
#define MPMD_AUTOINDEX_H

#include <stddef.h>
#include <time.h>

#include "mpmd/http/handler.h"

struct tbuf;

extern const struct conf_module autoindex_conf_module;

/* Answer RQ with the listing of the directory open on DIRFD (read, not
 * closed), or 403 when Options has no Indexes (Apache's answer then).
 * FOLLOW: Options FollowSymLinks (symbolic links are listed only then,
 * and only when their target is a file or a directory).  Handler
 * threads only: reads the directory and stats every entry. */
void autoindex_reply(struct reply *rp, const struct req_ctx *rq, int dirfd, int follow);

/* IndexOptions keywords (Apache's names). */
#define AI_FANCY 0x0001u
#define AI_TABLE 0x0002u
#define AI_FOLDERS_FIRST 0x0004u
#define AI_IGNORE_CASE 0x0008u
#define AI_IGNORE_CLIENT 0x0010u
#define AI_SUPPRESS_COLSORT 0x0020u
#define AI_SUPPRESS_LAST_MOD 0x0040u
#define AI_SUPPRESS_SIZE 0x0080u
#define AI_SUPPRESS_DESC 0x0100u
#define AI_SUPPRESS_ICON 0x0200u
#define AI_SUPPRESS_RULES 0x0400u
#define AI_VERSION_SORT 0x0800u

/* The output formats: Apache's F=0, 1, 2, and mpmd's F=json. */
enum ai_format { AI_FORMAT_NONE = -1, AI_FORMAT_PLAIN = 0, AI_FORMAT_FANCY = 1,
                 AI_FORMAT_TABLE = 2, AI_FORMAT_JSON = 3 };

/* What a listing's query asks for, as Apache reads it: "C=N;O=D",
 * '&' or ';' between the pairs, the first pair it does not understand
 * ending the parse (the rest is ignored, never an error). */
struct ai_query {
    char key;                     /* 'N', 'M', 'S', 'D', or 0: not given */
    char order;                   /* 'A', 'D', or 0 */
    int format;                   /* enum ai_format; AI_FORMAT_NONE: not given */
    int version;                  /* V=0 / V=1, or -1 */
    const char *pattern;          /* P=: into the query (still percent-encoded), or NULL */
    size_t pattern_len;
};

/* Parse the query Q (LEN bytes, no '?'; may be NULL) into OUT. */
void autoindex_parse_query(const char *q, size_t len, struct ai_query *out);

/* SIZE as Apache's apr_strfsize writes it, always 4 characters: "  - "
 * for a negative size (directories), "972 ", "1.0K", " 10K", "2.9M".
 * OUT has room for 8 bytes (4 are used, and the NUL); returns OUT. */
char *autoindex_format_size(long long size, char *out);

/* Whether NAME matches the IndexIgnore PATTERN ('*' any run of bytes,
 * '?' one byte, everything else itself; a leading '.' is not special;
 * a pattern with a '/' is matched by its last segment): 1 or 0. */
int autoindex_ignore_match(const char *pattern, const char *name);

/* S (LEN bytes) percent-encoded into B: every byte but the unreserved
 * ones (RFC 3986: A-Z a-z 0-9 - . _ ~) as %XX, and '/' too unless
 * KEEP_SLASH. */
void autoindex_put_href(struct tbuf *b, const char *s, size_t len, int keep_slash);

/* S as a JSON string, quotes included: well-formed UTF-8 as it is, '"',
 * '\\' and control characters escaped, and every byte that is not part of
 * well-formed UTF-8 as the lone surrogate \udcXX (Python's
 * "surrogateescape": os.fsencode gives the byte back). */
void autoindex_put_json_string(struct tbuf *b, const char *s, size_t len);

/* Natural ("version") order of A and B, as apr_strnatcmp: runs of digits
 * compare by value ("f9" < "f10"); FOLD: letters without case.  <0, 0, >0. */
int autoindex_natcmp(const char *a, const char *b, int fold);

/* One listed entry. */
struct ai_entry {
    char *name;                   /* a directory's with its trailing '/' (Apache
                                   * compares names so) */
    size_t len;
    int is_dir;
    long long size;               /* -1: directories, and every entry of a plain list */
    time_t mtime;                 /* -1 in a plain list (sorted as 0 by date) */
    long long mtime_us;           /* what the date sorts by (Apache: microseconds) */
};

/* How to sort: the column ('N', 'M', 'S', 'D'), 'A' or 'D', and
 * AI_FOLDERS_FIRST, AI_IGNORE_CASE, AI_VERSION_SORT from OPTS. */
struct ai_sort {
    char key;
    char order;
    unsigned opts;
};

/* Sort E (N entries) as Apache's listing is sorted: by the column, ties
 * by name (IgnoreCase first without case, then with), directories first
 * with FoldersFirst whatever the order. */
void autoindex_sort(struct ai_entry *e, size_t n, const struct ai_sort *s);

#endif
