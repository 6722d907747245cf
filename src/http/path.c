/* path.c: percent-decoding and dot-segment removal for request paths.
 *
 * Pure, allocation-free and linear; handler threads call it once per
 * request.  One pass over the input: each byte is decoded, appended to the
 * current segment in OUT, and when the segment ends ('/' or end of input)
 * it is kept, dropped (".", empty) or removes its parent ("..").
 *
 * A segment that does not fit in OUT is not refused at once, since a later
 * ".." may remove it ("/long/../a" fits where "/long/" does not): it is
 * counted in `hidden` instead, and only a path that still has hidden
 * segments at its end is refused as too long. */
#ifdef HAVE_CONFIG_H
#include "config.h"     /* _GNU_SOURCE (AC_USE_SYSTEM_EXTENSIONS) */
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "mpmd/http/path.h"

/* The result being built; see path_normalize. */
struct norm {
    char *out;
    size_t limit;       /* longest result: OUTCAP - 1 */
    size_t len;         /* bytes in out; out[0] is '/' */
    size_t seg_start;   /* where the current segment begins in out */
    size_t seg_len;     /* decoded bytes of the segment, stored or not */
    int seg_dots;       /* every byte of the segment so far is '.' */
    size_t hidden;      /* segments that did not fit and no ".." removed yet */
};

/* Value of hex digit C (either case), or -1. */
static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Add decoded byte C to the current segment (stored while it fits). */
static void seg_add(struct norm *n, unsigned char c)
{
    n->seg_len++;
    n->seg_dots &= (c == '.');
    if (n->hidden == 0 && n->len < n->limit)
        n->out[n->len++] = (char)c;
}

/* The current segment is "..": drop it and its parent.  -1 above root. */
static int seg_pop_parent(struct norm *n)
{
    if (n->hidden > 0) {
        n->hidden--;                /* the parent was never stored */
        n->len = n->seg_start;
        return 0;
    }
    if (n->seg_start == 1)
        return -1;
    size_t i = n->seg_start - 1;    /* the '/' that ended the parent */
    while (n->out[i - 1] != '/')
        i--;
    n->len = i;
    return 0;
}

/* End the current segment; HAS_SLASH: a '/' follows it.  Returns -1 when
 * it is a ".." that would climb above the root. */
static int seg_end(struct norm *n, int has_slash)
{
    int dots = n->seg_dots ? (int)n->seg_len : 0;

    if (n->seg_len == 0 || dots == 1) {
        n->len = n->seg_start;
    } else if (dots == 2) {
        if (seg_pop_parent(n) == -1)
            return -1;
    } else if (n->hidden > 0) {
        n->hidden++;
    } else if (n->len - n->seg_start == n->seg_len && (!has_slash || n->len < n->limit)) {
        if (has_slash)
            n->out[n->len++] = '/';
    } else {
        n->len = n->seg_start;      /* does not fit: remember, do not store */
        n->hidden = 1;
    }
    n->seg_start = n->len;
    n->seg_len = 0;
    n->seg_dots = 1;
    return 0;
}

/* Decode the escape at IN[*I] ('%'), advancing *I past it.  Returns the
 * byte, or -1 for a malformed escape or an encoded '/'. */
static int decode_escape(const char *in, size_t inlen, size_t *i)
{
    if (inlen - *i < 3)
        return -1;
    int hi = hex_value((unsigned char)in[*i + 1]);
    int lo = hex_value((unsigned char)in[*i + 2]);
    if (hi == -1 || lo == -1)
        return -1;
    *i += 2;
    int c = hi << 4 | lo;
    return c == '/' ? -1 : c;
}

long path_normalize(const char *in, size_t inlen, char *out, size_t outcap)
{
    struct norm n = { .out = out, .limit = outcap - 1, .len = 1, .seg_start = 1, .seg_dots = 1 };

    if (outcap < 2 || inlen == 0 || in[0] != '/')
        goto fail;
    out[0] = '/';
    for (size_t i = 1; i < inlen; i++) {
        int c = (unsigned char)in[i];
        if (c == '/') {
            if (seg_end(&n, 1) == -1)
                goto fail;
            continue;
        }
        if (c == '%' && (c = decode_escape(in, inlen, &i)) == -1)
            goto fail;
        if (c == '\0')
            goto fail;
        seg_add(&n, (unsigned char)c);
    }
    if (seg_end(&n, 0) == -1 || n.hidden > 0)
        goto fail;
    out[n.len] = '\0';
    return (long)n.len;
fail:
    if (outcap > 0)
        out[0] = '\0';
    return -1;
}
