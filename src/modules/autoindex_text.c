/* autoindex_text.c: the pure parts of directory listings (autoindex.h):
 * the ?C=..;O=.. query, Apache's sizes, IndexIgnore patterns, link and
 * JSON escaping, the natural order and the sort.
 *
 * No state, no allocation but the caller's tbuf: any thread (the listing
 * runs them on handler threads; the unit tests and fuzz_autoindex.c call
 * them directly). */
#include "config.h"

#include "mpmd/modules/autoindex.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mpmd/core/logformat.h"
#include "mpmd/modules/sbview.h"

/* ---- the query ------------------------------------------------------------ */

/* The value of a one-letter pair "X=V" at Q (N bytes left): V's length
 * up to the next ';' or '&' and *NEXT after that separator. */
static size_t pair_value(const char *q, size_t n, size_t *next)
{
    size_t i = 2;
    while (i < n && q[i] != ';' && q[i] != '&')
        i++;
    *next = i < n ? i + 1 : n;
    return i - 2;
}

/* One pair at Q; 0 when understood, -1 when the parse ends here. */
static int parse_pair(const char *q, size_t n, struct ai_query *out, size_t *next)
{
    if (n < 2 || q[1] != '=')
        return -1;
    size_t vlen = pair_value(q, n, next);
    const char *v = q + 2;
    if (q[0] == 'P') {
        out->pattern = vlen ? v : NULL;
        out->pattern_len = vlen;
        return 0;
    }
    if (q[0] == 'F' && vlen == 4 && memcmp(v, "json", 4) == 0) {
        out->format = AI_FORMAT_JSON;
        return 0;
    }
    if (vlen != 1)
        return -1;
    if (q[0] == 'C' && strchr("NMSD", *v))
        out->key = *v;
    else if (q[0] == 'O' && (*v == 'A' || *v == 'D'))
        out->order = *v;
    else if (q[0] == 'F' && *v >= '0' && *v <= '2')
        out->format = *v - '0';
    else if (q[0] == 'V' && (*v == '0' || *v == '1'))
        out->version = *v - '0';
    else
        return -1;
    return 0;
}

void autoindex_parse_query(const char *q, size_t len, struct ai_query *out)
{
    *out = (struct ai_query){ .format = AI_FORMAT_NONE, .version = -1 };
    size_t at = 0, next;
    while (q && at < len && parse_pair(q + at, len - at, out, &next) == 0)
        at += next;
}

char *autoindex_format_size(long long size, char *out)
{
    static const char units[] = "KMGTPE";
    const char *u = units;
    if (size < 0) {
        memcpy(out, "  - ", 5);
        return out;
    }
    if (size < 973) {
        snprintf(out, 8, "%3d ", (int)size);
        return out;
    }
    for (;;) {
        int remain = (int)(size & 1023);
        size >>= 10;
        if (size >= 973) {
            u++;
            continue;
        }
        if (size < 9 || (size == 9 && remain < 973)) {
            if ((remain = ((remain * 5) + 256) / 512) >= 10)
                size++, remain = 0;
            snprintf(out, 8, "%d.%d%c", (int)size, remain, *u);
            return out;
        }
        if (remain >= 512)
            size++;
        snprintf(out, 8, "%3d%c", (int)size, *u);
        return out;
    }
}

int autoindex_ignore_match(const char *pattern, const char *name)
{
    const char *slash = strrchr(pattern, '/');
    const char *p = slash ? slash + 1 : pattern, *s = name;
    const char *star = NULL, *retry = NULL;
    while (*s) {
        if (*p == '*') {
            star = ++p;
            retry = s;
        } else if (*p && (*p == '?' || *p == *s)) {
            p++, s++;
        } else if (star) {
            p = star;
            s = ++retry;
        } else {
            return 0;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

void autoindex_put_href(struct tbuf *b, const char *s, size_t len, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
            (c == '/' && keep_slash)) {
            tb_put(b, s + i, 1);
        } else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            tb_put(b, e, 3);
        }
    }
}

void autoindex_put_json_string(struct tbuf *b, const char *s, size_t len)
{
    tb_put(b, "\"", 1);
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        size_t n = c >= 0x80 ? logformat_utf8_char((const unsigned char *)s + i, len - i) : 1;
        if (c == '"' || c == '\\') {
            char e[2] = { '\\', (char)c };
            tb_put(b, e, 2);
        } else if (c < 0x20 || c == 0x7f) {
            tb_printf(b, "\\u%04x", c);
        } else if (n == 0) {
            tb_printf(b, "\\udc%02x", c);   /* a byte that is not UTF-8: surrogateescape */
            n = 1;
        } else {
            tb_put(b, s + i, n);
        }
        i += n ? n : 1;
    }
    tb_put(b, "\"", 1);
}

/* ---- natural order (apr_strnatcmp) ----------------------------------------- */

static int is_digit(signed char c)
{
    return c >= '0' && c <= '9';
}

/* Two runs of digits that are whole numbers: the longer wins, else the
 * first digit that differs. */
static int nat_right(const signed char *a, const signed char *b)
{
    int bias = 0;
    for (;; a++, b++) {
        if (!is_digit(*a) && !is_digit(*b))
            return bias;
        if (!is_digit(*a))
            return -1;
        if (!is_digit(*b))
            return 1;
        if (*a != *b && !bias)
            bias = *a < *b ? -1 : 1;
    }
}

/* Two runs with a leading zero (fractions): the first digit that differs. */
static int nat_left(const signed char *a, const signed char *b)
{
    for (;; a++, b++) {
        if (!is_digit(*a) && !is_digit(*b))
            return 0;
        if (!is_digit(*a))
            return -1;
        if (!is_digit(*b))
            return 1;
        if (*a != *b)
            return *a < *b ? -1 : 1;
    }
}

int autoindex_natcmp(const char *as, const char *bs, int fold)
{
    const signed char *a = (const signed char *)as, *b = (const signed char *)bs;
    for (;;) {
        while (isspace((unsigned char)*a))
            a++;
        while (isspace((unsigned char)*b))
            b++;
        if (is_digit(*a) && is_digit(*b)) {
            int r = (*a == '0' || *b == '0') ? nat_left(a, b) : nat_right(a, b);
            if (r)
                return r;
        }
        if (!*a && !*b)
            return 0;
        signed char ca = *a, cb = *b;
        if (fold) {
            ca = (signed char)toupper((unsigned char)ca);
            cb = (signed char)toupper((unsigned char)cb);
        }
        if (ca != cb)
            return ca < cb ? -1 : 1;
        a++, b++;
    }
}

/* ---- sorting ---------------------------------------------------------------- */

static int compare_names(const struct ai_entry *x, const struct ai_entry *y, unsigned opts)
{
    int r = 0, fold = (opts & AI_IGNORE_CASE) != 0;
    if (opts & AI_VERSION_SORT) {
        if (fold)
            r = autoindex_natcmp(x->name, y->name, 1);
        if (!r)
            r = autoindex_natcmp(x->name, y->name, 0);
    }
    if (!r && fold)
        r = strcasecmp(x->name, y->name);
    return r ? r : strcmp(x->name, y->name);
}

static int compare_entries(const void *pa, const void *pb, void *arg)
{
    const struct ai_sort *s = arg;
    const struct ai_entry *x = pa, *y = pb;
    if ((s->opts & AI_FOLDERS_FIRST) && x->is_dir != y->is_dir)
        return x->is_dir ? -1 : 1;
    if (s->order == 'D') {
        const struct ai_entry *t = x;
        x = y, y = t;
    }
    if (s->key == 'M' && x->mtime_us != y->mtime_us)
        return x->mtime_us > y->mtime_us ? 1 : -1;
    if (s->key == 'S' && x->size != y->size)
        return x->size > y->size ? 1 : -1;
    return compare_names(x, y, s->opts);
}

void autoindex_sort(struct ai_entry *e, size_t n, const struct ai_sort *s)
{
    if (n > 1)
        qsort_r(e, n, sizeof *e, compare_entries, (void *)s);
}
