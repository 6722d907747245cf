/* fuzz_autoindex.c: libFuzzer harness for the pure parts of directory
 * listings (src/modules/autoindex.c): the ?C=..;O=.. query parser, the
 * link and JSON escapers, IndexIgnore matching and the natural order.
 *
 * Input format: the whole input is a query string (no '?'), and also a
 * file name (the bytes before the first NUL; the bytes after it, up to the
 * next NUL, are an IndexIgnore pattern).
 *
 * Checked: the query's fields hold only values Apache's grammar allows
 * (C= N M S D, O= A D, F= 0 1 2 json, V= 0 1) and a P= value lies inside
 * the input without a ';' or '&'; a query cut after any byte parses no
 * further than the whole one did.  The link of the name has only
 * unreserved bytes, '%' and '/' and decodes back to the name; its JSON
 * string is valid JSON (json_valid.h) with no raw control byte.  "*"
 * matches every name, a pattern without '*' and '?' only itself.  The
 * natural order is antisymmetric and a name equals itself.
 *
 * Runs in the calling thread (libFuzzer's, or replay_main.c's); all memory
 * is per input.  Invariant failures abort() with a message. */
#include "config.h"

#include <string.h>

#define FUZZ_NAME "fuzz_autoindex"
#include "fuzz_target.h"
#include "mpmd/modules/autoindex.h"
#include "mpmd/modules/sbview.h"
#include "../unit/json_valid.h"

#define FUZZ_MAX_INPUT (16 * 1024)

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

static void check_fields(const struct ai_query *q, const char *in, size_t size)
{
    CHECK(q->key == 0 || strchr("NMSD", q->key), "key %d\n", q->key);
    CHECK(q->order == 0 || q->order == 'A' || q->order == 'D', "order %d\n", q->order);
    CHECK(q->format >= AI_FORMAT_NONE && q->format <= AI_FORMAT_JSON, "format %d\n", q->format);
    CHECK(q->version >= -1 && q->version <= 1, "version %d\n", q->version);
    if (q->pattern) {
        CHECK(q->pattern >= in && q->pattern + q->pattern_len <= in + size, "P= outside\n");
        CHECK(q->pattern_len > 0, "empty P= kept\n");
        CHECK(!memchr(q->pattern, ';', q->pattern_len) && !memchr(q->pattern, '&', q->pattern_len),
              "P= holds a separator\n");
    }
}

static void check_query(const char *in, size_t size)
{
    struct ai_query whole, cut;
    autoindex_parse_query(in, size, &whole);
    check_fields(&whole, in, size);
    for (size_t n = 0; n < size && n < 64; n++) {
        autoindex_parse_query(in, n, &cut);
        check_fields(&cut, in, n);
    }
}

static int hex(int c)
{
    return c <= '9' ? c - '0' : c - 'A' + 10;
}

static void check_href(const char *name, size_t len)
{
    struct tbuf b = { 0 };
    autoindex_put_href(&b, name, len, 0);
    size_t o = 0;
    for (size_t i = 0; !b.failed && i < b.len; o++) {
        char c = b.p[i];
        CHECK(c == '%' || c == '-' || c == '.' || c == '_' || c == '~' ||
              (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'),
              "byte 0x%02x in a link\n", (unsigned char)c);
        int v = c;
        if (c == '%') {
            CHECK(i + 2 < b.len, "cut escape\n");
            v = hex(b.p[i + 1]) * 16 + hex(b.p[i + 2]);
            i += 3;
        } else {
            i++;
        }
        CHECK(o < len && (unsigned char)name[o] == v, "link decodes to another name\n");
    }
    CHECK(b.failed || o == len, "link decodes to %zu of %zu bytes\n", o, len);
    free(b.p);
}

static void check_json(const char *name, size_t len)
{
    struct tbuf b = { 0 };
    autoindex_put_json_string(&b, name, len);
    CHECK(b.failed || json_valid(b.p, b.len), "invalid JSON: %.*s\n", (int)b.len, b.p);
    free(b.p);
}

static void check_match(const char *name, const char *pattern)
{
    CHECK(autoindex_ignore_match("*", name), "'*' misses a name\n");
    if (!strpbrk(pattern, "*?") && !strchr(pattern, '/'))
        CHECK(autoindex_ignore_match(pattern, name) == (strcmp(pattern, name) == 0),
              "a plain pattern is not an equality\n");
    (void)autoindex_ignore_match(pattern, name);   /* ends (no exponential backtracking) */
}

static void check_natcmp(const char *a, const char *b)
{
    for (int fold = 0; fold < 2; fold++) {
        CHECK(sign(autoindex_natcmp(a, b, fold)) == -sign(autoindex_natcmp(b, a, fold)),
              "natural order not antisymmetric\n");
        CHECK(autoindex_natcmp(a, a, fold) == 0, "a name differs from itself\n");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return 0;
    char *in = malloc(size + 2);
    if (in == NULL)
        return 0;
    memcpy(in, data, size);
    in[size] = in[size + 1] = '\0';
    check_query(in, size);
    size_t nlen = strlen(in);
    const char *pattern = in + nlen + (nlen < size);
    check_href(in, nlen);
    check_json(in, nlen);
    check_match(in, pattern);
    check_natcmp(in, pattern);
    free(in);
    return 0;
}
