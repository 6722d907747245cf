/* json_valid.h: a minimal strict JSON checker (RFC 8259) for the tests of
 * JSON log lines: check_logformat.c and tests/fuzz/fuzz_logformat.c.
 *
 * json_valid(S, N) is 1 when S[0..N) is exactly one JSON value with
 * optional white space around it, strings holding valid UTF-8 and no raw
 * control character.  Header-only (static functions); no allocation;
 * recursion bounded by JSON_VALID_DEPTH. */
#ifndef MPMD_JSON_VALID_H
#define MPMD_JSON_VALID_H

#include <stddef.h>
#include <string.h>

#define JSON_VALID_DEPTH 64

struct json_cursor {
    const unsigned char *s;
    size_t n, i;
};

static int json_value(struct json_cursor *c, int depth);

static void json_ws(struct json_cursor *c)
{
    while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' ||
                           c->s[c->i] == '\r'))
        c->i++;
}

static int json_peek(const struct json_cursor *c)
{
    return c->i < c->n ? c->s[c->i] : -1;
}

static int json_hex(int ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* The UTF-8 character at the cursor (first byte >= 0x80); 0 if invalid. */
static int json_utf8(struct json_cursor *c)
{
    const unsigned char *p = c->s + c->i;
    size_t left = c->n - c->i, len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        lo = p[0] == 0xe0 ? 0xa0 : 0x80;
        hi = p[0] == 0xed ? 0x9f : 0xbf;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        lo = p[0] == 0xf0 ? 0x90 : 0x80;
        hi = p[0] == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (left < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if (p[k] < 0x80 || p[k] > 0xbf)
            return 0;
    c->i += len;
    return 1;
}

static int json_string(struct json_cursor *c)
{
    c->i++;                                     /* the opening quote */
    while (c->i < c->n) {
        unsigned char ch = c->s[c->i];
        if (ch == '"') {
            c->i++;
            return 1;
        }
        if (ch < 0x20)
            return 0;
        if (ch >= 0x80) {
            if (!json_utf8(c))
                return 0;
            continue;
        }
        c->i++;
        if (ch != '\\')
            continue;
        int e = json_peek(c);
        if (e == 'u') {
            for (int k = 1; k <= 4; k++)
                if (c->i + (size_t)k >= c->n || !json_hex(c->s[c->i + (size_t)k]))
                    return 0;
            c->i += 5;
        } else if (e != -1 && e != 0 && strchr("\"\\/bfnrt", e) != NULL) {
            c->i++;
        } else {
            return 0;
        }
    }
    return 0;
}

static int json_digits(struct json_cursor *c)
{
    size_t start = c->i;
    while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9')
        c->i++;
    return c->i > start;
}

static int json_number(struct json_cursor *c)
{
    if (json_peek(c) == '-')
        c->i++;
    if (json_peek(c) == '0')
        c->i++;
    else if (!(json_peek(c) >= '1' && json_peek(c) <= '9') || !json_digits(c))
        return 0;
    if (json_peek(c) == '.') {
        c->i++;
        if (!json_digits(c))
            return 0;
    }
    if (json_peek(c) == 'e' || json_peek(c) == 'E') {
        c->i++;
        if (json_peek(c) == '+' || json_peek(c) == '-')
            c->i++;
        if (!json_digits(c))
            return 0;
    }
    return 1;
}

static int json_word(struct json_cursor *c, const char *w)
{
    size_t len = strlen(w);
    if (c->n - c->i < len || memcmp(c->s + c->i, w, len) != 0)
        return 0;
    c->i += len;
    return 1;
}

/* An object or an array (OPEN is '{' or '['). */
static int json_container(struct json_cursor *c, int open, int depth)
{
    int close = open == '{' ? '}' : ']';
    c->i++;
    json_ws(c);
    if (json_peek(c) == close) {
        c->i++;
        return 1;
    }
    for (;;) {
        json_ws(c);
        if (open == '{') {
            if (json_peek(c) != '"' || !json_string(c))
                return 0;
            json_ws(c);
            if (json_peek(c) != ':')
                return 0;
            c->i++;
        }
        if (!json_value(c, depth + 1))
            return 0;
        json_ws(c);
        if (json_peek(c) == close) {
            c->i++;
            return 1;
        }
        if (json_peek(c) != ',')
            return 0;
        c->i++;
    }
}

static int json_value(struct json_cursor *c, int depth)
{
    if (depth > JSON_VALID_DEPTH)
        return 0;
    json_ws(c);
    switch (json_peek(c)) {
    case '{': case '[': return json_container(c, json_peek(c), depth);
    case '"': return json_string(c);
    case 't': return json_word(c, "true");
    case 'f': return json_word(c, "false");
    case 'n': return json_word(c, "null");
    default: return json_number(c);
    }
}

static inline int json_valid(const char *s, size_t n)
{
    struct json_cursor c = { (const unsigned char *)s, n, 0 };
    if (!json_value(&c, 0))
        return 0;
    json_ws(&c);
    return c.i == n;
}

#endif
