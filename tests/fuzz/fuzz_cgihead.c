/* fuzz_cgihead.c: libFuzzer harness for the CGI response head parser
 * (src/modules/cgihead.c).
 *
 * Input format (so a corpus file is a script's output after 1 byte):
 *   byte 0  the split point, byte0 * len / 255 of the rest; and the head
 *           size limit: 65536 when byte0 is even, else 8 * (byte0 >> 1),
 *           so the limit path is cheap to reach.
 *   rest    what the script writes: head, then body.
 *
 * The output is fed three ways: whole, in two pieces cut at the split
 * point (the second piece starting where the first call stopped, as a
 * handler would), and one byte at a time; each piece sits in a malloc'd
 * buffer of exactly its size (a read past it is an ASan report).  Checked
 * on every call: the count is -1 (error set) or <= the bytes given, and
 * all of them unless done.  Checked on the result: when done, the head
 * consumed ends in LF and is byte for byte the start of the input, buf
 * holding exactly it; every offset lies inside buf; names are tokens,
 * values have no control character but HTAB and no blank at either end;
 * status is 0 or 100..599; location and content_type index fields of
 * those names; cgi_head_kind agrees with a reference.  Across the three
 * ways: the same outcome, field for field.
 *
 * Runs in the calling thread (libFuzzer's, or replay_main.c's); all
 * memory is per input.  Invariant failures abort() with a message. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FUZZ_NAME "fuzz_cgihead"
#include "fuzz_target.h"
#include "mpmd/modules/cgihead.h"

#define MAX_INPUT (128 * 1024)     /* bigger inputs are skipped: nothing new, only slow */
#define BIG_LIMIT 65536


/* Feed IN (LEN bytes) to H as one piece in its own buffer.  Returns what
 * cgi_head_feed returned, after checking it. */
static ssize_t feed(struct cgi_head *h, const char *in, size_t len)
{
    char *piece = malloc(len ? len : 1);
    CHECK(piece != NULL, "out of memory");
    if (len)
        memcpy(piece, in, len);
    int was_done = h->done;
    ssize_t r = cgi_head_feed(h, piece, len);
    free(piece);
    CHECK(r >= -1 && (r == -1 || (size_t)r <= len), "fed %zu, returned %zd", len, r);
    CHECK((r == -1) == (h->error != NULL), "returned %zd with error %s", r,
          h->error ? h->error : "(none)");
    CHECK(r == -1 || h->done || (size_t)r == len, "not done, %zd of %zu consumed", r, len);
    CHECK(!was_done || r == 0 || r == -1, "consumed %zd after done", r);
    CHECK(h->len <= h->limit, "len %zu over limit %zu", h->len, h->limit);
    return r;
}

/* Feed OUT (LEN bytes) in pieces ending at CUTS[0..N) (the last == LEN),
 * each piece starting where the last call stopped.  *CONSUMED gets the
 * total consumed, or -1 on error. */
static void feed_pieces(struct cgi_head *h, const char *out, size_t len, const size_t *cuts,
                        size_t n, ssize_t *consumed)
{
    size_t pos = 0;
    *consumed = 0;
    for (size_t i = 0; i < n && !h->done; i++) {
        if (cuts[i] < pos)
            continue;
        ssize_t r = feed(h, out + pos, cuts[i] - pos);
        if (r == -1) {
            *consumed = -1;
            return;
        }
        pos += (size_t)r;
    }
    CHECK(pos <= len, "consumed past the input");
    *consumed = (ssize_t)pos;
}

static int is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 3986 scheme characters after the first. */
static int is_scheme_char(char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

/* A reference cgi_head_kind. */
static enum cgi_kind ref_kind(const struct cgi_head *h)
{
    if (h->location < 0)
        return CGI_DOCUMENT;
    const struct cgi_field *f = &h->fields[h->location];
    const char *v = h->buf + f->value_off;
    size_t n = f->value_len, i = 1;
    if (n > 0 && v[0] == '/' && h->status == 0)
        return CGI_LOCAL_REDIRECT;
    if (n == 0 || !is_alpha(v[0]))
        return CGI_DOCUMENT;
    while (i < n && is_scheme_char(v[i]))
        i++;
    return i < n && v[i] == ':' ? CGI_CLIENT_REDIRECT : CGI_DOCUMENT;
}

static void check_field(const struct cgi_head *h, int i)
{
    const struct cgi_field *f = &h->fields[i];
    CHECK((size_t)f->name_off + f->name_len <= h->len && f->name_len > 0, "field %d name", i);
    CHECK((size_t)f->value_off + f->value_len <= h->len, "field %d value out of buf", i);
    CHECK(f->value_off > f->name_off + f->name_len, "field %d value before its name", i);
    CHECK(h->buf[f->name_off + f->name_len] == ':', "field %d: no colon after the name", i);
    for (uint32_t k = 0; k < f->name_len; k++)
        CHECK(is_tchar((unsigned char)h->buf[f->name_off + k]), "field %d name not a token", i);
    const char *v = h->buf + f->value_off;
    for (uint32_t k = 0; k < f->value_len; k++) {
        unsigned char c = (unsigned char)v[k];
        CHECK(c >= 0x20 ? c != 0x7f : c == '\t', "field %d: control 0x%02x in value", i, c);
    }
    CHECK(f->value_len == 0 || (v[0] != ' ' && v[0] != '\t' && v[f->value_len - 1] != ' ' &&
                                v[f->value_len - 1] != '\t'), "field %d value not trimmed", i);
    CHECK(i == 0 || f->name_off > h->fields[i - 1].value_off, "fields out of order");
}

/* Field I is named NAME (case-insensitive). */
static int named(const struct cgi_head *h, int i, const char *name)
{
    const struct cgi_field *f = &h->fields[i];
    return f->name_len == strlen(name) && strncasecmp(h->buf + f->name_off, name,
                                                      f->name_len) == 0;
}

/* Check H after feeding OUT (LEN bytes), CONSUMED of them taken. */
static void check_head(const struct cgi_head *h, const char *out, ssize_t consumed)
{
    if (consumed == -1)
        return;
    CHECK(h->len == (size_t)consumed && memcmp(h->buf, out, h->len) == 0,
          "buf is not the bytes consumed");
    CHECK(!h->done || (h->len > 0 && h->buf[h->len - 1] == '\n'), "done, no LF at the end");
    CHECK(h->n_fields >= 0 && h->n_fields <= CGI_HEAD_MAX_FIELDS, "%d fields", h->n_fields);
    for (int i = 0; i < h->n_fields; i++)
        check_field(h, i);
    CHECK(h->status == 0 || (h->status >= 100 && h->status <= 599), "status %d", h->status);
    CHECK((size_t)h->reason_off + h->reason_len <= h->len, "reason out of buf");
    CHECK(h->status != 0 || h->reason_len == 0, "a reason without a status");
    CHECK(h->location == -1 || (h->location >= 0 && h->location < h->n_fields &&
                                named(h, h->location, "Location")), "location index");
    CHECK(h->content_type == -1 ||
              (h->content_type >= 0 && h->content_type < h->n_fields &&
               named(h, h->content_type, "Content-Type")), "content_type index");
    for (int i = 0; i < h->location; i++)
        CHECK(!named(h, i, "Location"), "location is not the first");
    CHECK(cgi_head_kind(h) == ref_kind(h), "kind %d, reference %d", cgi_head_kind(h),
          ref_kind(h));
}

static void same_head(const struct cgi_head *a, ssize_t ca, const struct cgi_head *b,
                      ssize_t cb, const char *how)
{
    CHECK(ca == cb, "%s: consumed %zd, whole %zd", how, cb, ca);
    if (ca == -1) {
        CHECK(strcmp(a->error, b->error) == 0, "%s: error '%s', whole '%s'", how, b->error,
              a->error);
        return;
    }
    CHECK(a->done == b->done && a->len == b->len && a->status == b->status &&
              a->reason_off == b->reason_off && a->reason_len == b->reason_len &&
              a->location == b->location && a->content_type == b->content_type &&
              a->n_fields == b->n_fields, "%s: head differs", how);
    CHECK(memcmp(a->fields, b->fields, (size_t)a->n_fields * sizeof a->fields[0]) == 0,
          "%s: fields differ", how);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_INPUT)
        return 0;
    const char *out = (const char *)data + 1;
    size_t len = size - 1;
    size_t limit = (data[0] & 1) ? 8u * (data[0] >> 1) : BIG_LIMIT;
    struct cgi_head whole, split, bytes;
    CHECK(cgi_head_init(&whole, limit) == 0 && cgi_head_init(&split, limit) == 0 &&
              cgi_head_init(&bytes, limit) == 0, "out of memory");
    ssize_t cw, cs, cb;
    feed_pieces(&whole, out, len, &len, 1, &cw);
    check_head(&whole, out, cw);

    size_t cuts[2] = { (size_t)data[0] * len / 255, len };
    feed_pieces(&split, out, len, cuts, 2, &cs);
    same_head(&whole, cw, &split, cs, "split in two");

    size_t *each = malloc((len ? len : 1) * sizeof *each);
    CHECK(each != NULL, "out of memory");
    for (size_t i = 0; i < len; i++)
        each[i] = i + 1;
    feed_pieces(&bytes, out, len, each, len, &cb);
    same_head(&whole, cw, &bytes, cb, "byte by byte");
    free(each);
    cgi_head_free(&whole);
    cgi_head_free(&split);
    cgi_head_free(&bytes);
    return 0;
}
