/* fuzz_fcgi.c: libFuzzer harness for the FastCGI record layer
 * (src/modules/fcgi_record.c).
 *
 * Input format (so a corpus file is a record stream after 1 byte):
 *   byte 0  how the stream is cut: the split point is byte0 * len / 255 of
 *           the rest; byte0 also picks the chunk size, 1 + byte0 % 13,
 *           and, when odd, makes our request id 1 (php-fpm's), else 2.
 *   rest    the bytes an application sends back.
 *
 * The stream is decoded three ways: whole, in two pieces cut at the split
 * point, and in chunks; each piece sits in a malloc'd buffer of exactly
 * its size, so a read past IN is an ASan report.  Checked on every call:
 * *used <= the bytes given; a data event's bytes are non-empty and end
 * exactly at IN + *used; MORE consumed everything; END and ERROR are
 * final (the next call consumes nothing and repeats them), ERROR with a
 * message, END without.  Checked across the three ways: the same STDOUT
 * and STDERR bytes, the same final event, bytes consumed, END fields and
 * error message.
 *
 * Then the PARAMS encoder: pairs taken from the input (lengths from its
 * bytes, contents cycling over it, so a small input can make a value
 * larger than one record) are encoded, and the records are read back by a
 * reference reader: version 1, PARAMS, our id, no padding, none empty but
 * the last, which is; the content decodes to exactly those pairs.  The
 * encoded stream fed to a decoder for another id is skipped whole.
 *
 * Runs in the calling thread (libFuzzer's, or replay_main.c's); all
 * memory is per input.  Invariant failures abort() with a message. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_NAME "fuzz_fcgi"
#include "fuzz_target.h"
#include "mpmd/modules/fcgi_record.h"

#define MAX_INPUT (64 * 1024)      /* bigger inputs are skipped: nothing new, only slow */
#define MAX_PAIRS 8
#define MAX_PAIR_BYTES (140 * 1024) /* the encoder's pairs, all together */


/* A growing byte buffer. */
struct bytes {
    unsigned char *p;
    size_t len, cap;
};

static void bytes_add(struct bytes *b, const void *src, size_t n)
{
    if (n == 0)
        return;
    if (b->cap - b->len < n) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
        CHECK(b->p != NULL, "out of memory for %zu bytes", b->cap);
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

/* What one way of feeding the stream produced. */
struct outcome {
    struct bytes out, err;
    enum fcgi_event last;      /* END, ERROR, or MORE: the stream ran out */
    size_t consumed;
    uint32_t app_status;
    int protocol_status;
    const char *error;
};

/* Check a decoder that has reported EV (END or ERROR) stays there. */
static void check_final(struct fcgi_decoder *d, enum fcgi_event ev, const unsigned char *in,
                        size_t len)
{
    size_t used = 12345, dlen = 0;
    const unsigned char *data = NULL;
    enum fcgi_event again = fcgi_decode(d, in, len, &used, &data, &dlen);
    CHECK(again == ev, "event %d after final event %d", again, ev);
    CHECK(used == 0, "consumed %zu bytes after final event %d", used, ev);
    CHECK(ev != FCGI_EV_ERROR || d->error != NULL, "ERROR without a message");
    CHECK(ev != FCGI_EV_END || d->error == NULL, "END with an error: %s", d->error);
}

/* Decode one piece (IN, LEN bytes, its own buffer) until it is consumed
 * or the stream is over; adds to O.  Returns 1 when over. */
static int feed_piece(struct fcgi_decoder *d, const unsigned char *in, size_t len,
                      struct outcome *o)
{
    size_t pos = 0;
    for (;;) {
        size_t used = 12345, dlen = 0;
        const unsigned char *data = NULL;
        enum fcgi_event ev = fcgi_decode(d, in + pos, len - pos, &used, &data, &dlen);
        CHECK(used <= len - pos, "used %zu of %zu bytes", used, len - pos);
        if (ev == FCGI_EV_STDOUT || ev == FCGI_EV_STDERR) {
            CHECK(dlen > 0, "empty data event");
            CHECK(data >= in + pos && data + dlen == in + pos + used,
                  "data not at the end of the consumed bytes");
            bytes_add(ev == FCGI_EV_STDOUT ? &o->out : &o->err, data, dlen);
        }
        pos += used;
        o->consumed += used;
        o->last = ev;
        if (ev == FCGI_EV_MORE) {
            CHECK(pos == len, "MORE with %zu of %zu bytes consumed", pos, len);
            return 0;
        }
        if (ev == FCGI_EV_END || ev == FCGI_EV_ERROR) {
            check_final(d, ev, in + pos, len - pos);
            o->app_status = d->app_status;
            o->protocol_status = d->protocol_status;
            o->error = d->error;
            return 1;
        }
        CHECK(ev == FCGI_EV_STDOUT || ev == FCGI_EV_STDERR, "unknown event %d", ev);
    }
}

/* Decode STREAM for request ID in pieces: CUTS[0..N) are the piece ends
 * (the last: STREAM's length). */
static void decode_pieces(const unsigned char *stream, unsigned id, const size_t *cuts,
                          size_t n, struct outcome *o)
{
    struct fcgi_decoder d;
    memset(o, 0, sizeof *o);
    o->last = FCGI_EV_MORE;
    fcgi_decoder_init(&d, id);
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = cuts[i] - start;
        unsigned char *piece = malloc(k ? k : 1);
        CHECK(piece != NULL, "out of memory");
        if (k)
            memcpy(piece, stream + start, k);
        int over = feed_piece(&d, piece, k, o);
        free(piece);
        if (over)
            break;
        start = cuts[i];
    }
}

static void same_outcome(const struct outcome *a, const struct outcome *b, const char *how)
{
    CHECK(a->last == b->last, "%s: final event %d, whole: %d", how, b->last, a->last);
    CHECK(a->consumed == b->consumed, "%s: consumed %zu, whole: %zu", how, b->consumed,
          a->consumed);
    CHECK(a->out.len == b->out.len && (a->out.len == 0 || memcmp(a->out.p, b->out.p,
                                                                 a->out.len) == 0),
          "%s: STDOUT differs", how);
    CHECK(a->err.len == b->err.len && (a->err.len == 0 || memcmp(a->err.p, b->err.p,
                                                                 a->err.len) == 0),
          "%s: STDERR differs", how);
    if (a->last == FCGI_EV_END)
        CHECK(a->app_status == b->app_status && a->protocol_status == b->protocol_status,
              "%s: END fields differ", how);
    if (a->last == FCGI_EV_ERROR)
        CHECK(strcmp(a->error, b->error) == 0, "%s: error '%s', whole: '%s'", how, b->error,
              a->error);
}

static void outcome_free(struct outcome *o)
{
    free(o->out.p);
    free(o->err.p);
}

static void check_decoder(const unsigned char *stream, size_t len, unsigned char b0)
{
    unsigned id = (b0 & 1) ? 1 : 2;
    struct outcome whole, split, chunked;
    size_t end = len;
    decode_pieces(stream, id, &end, 1, &whole);
    CHECK(whole.last != FCGI_EV_MORE || whole.consumed == len, "MORE, %zu of %zu consumed",
          whole.consumed, len);

    size_t cuts[2] = { (size_t)b0 * len / 255, len };
    decode_pieces(stream, id, cuts, 2, &split);
    same_outcome(&whole, &split, "split in two");

    size_t chunk = 1 + b0 % 13, n = (len + chunk - 1) / chunk;
    size_t *many = malloc((n ? n : 1) * sizeof *many);
    CHECK(many != NULL, "out of memory");
    for (size_t i = 0; i < n; i++)
        many[i] = (i + 1) * chunk < len ? (i + 1) * chunk : len;
    decode_pieces(stream, id, many, n, &chunked);
    same_outcome(&whole, &chunked, "in chunks");
    free(many);
    outcome_free(&whole);
    outcome_free(&split);
    outcome_free(&chunked);
}

/* ---- the PARAMS encoder --------------------------------------------------- */

struct pair {
    size_t nlen, vlen;
    char *name, *value;        /* owned */
};

/* LEN bytes cycling over DATA (SIZE > 0) from OFFSET, in a new buffer. */
static char *cycle(const uint8_t *data, size_t size, size_t offset, size_t len)
{
    char *s = malloc(len ? len : 1);
    CHECK(s != NULL, "out of memory");
    for (size_t i = 0; i < len;) {
        size_t from = (offset + i) % size, k = size - from < len - i ? size - from : len - i;
        memcpy(s + i, data + from, k);
        i += k;
    }
    return s;
}

/* Pairs from the input: per pair, a name length byte, a value length
 * byte, and two more bytes: when the last is >= 0xf0, the value length is
 * the middle two bytes times 1..4 halves instead (up to 131070 bytes, so
 * a value spans records now and then). */
static int make_pairs(const uint8_t *data, size_t size, struct pair *pairs)
{
    int n = 0;
    size_t total = 0;
    for (size_t i = 0; i + 4 <= size && n < MAX_PAIRS; i += 4) {
        struct pair *p = &pairs[n];
        p->nlen = data[i];
        p->vlen = data[i + 1];
        if (data[i + 3] >= 0xf0)
            p->vlen = ((size_t)data[i + 1] << 8 | data[i + 2]) * (1 + data[i + 3] % 4) / 2;
        if (total + p->nlen + p->vlen > MAX_PAIR_BYTES)
            break;
        total += p->nlen + p->vlen;
        p->name = cycle(data, size, i, p->nlen);
        p->value = cycle(data, size, i + 7, p->vlen);
        n++;
    }
    return n;
}

/* A name-value length at *S (spec 3.4), as a reference reader. */
static size_t read_length(const unsigned char **s, const unsigned char *end)
{
    CHECK(*s < end, "pair length past the content");
    if (**s < 128)
        return *(*s)++;
    CHECK(end - *s >= 4, "4-byte length past the content");
    size_t v = ((size_t)((*s)[0] & 0x7f) << 24) | ((size_t)(*s)[1] << 16) |
               ((size_t)(*s)[2] << 8) | (*s)[3];
    CHECK(v >= 128, "4-byte length %zu could have been 1 byte", v);
    *s += 4;
    return v;
}

/* Read back P's records (checked on the way); returns their content. */
static struct bytes params_content(const struct fcgi_params *p, unsigned id)
{
    struct bytes c = { 0 };
    size_t pos = 0;
    for (;;) {
        CHECK(p->len - pos >= FCGI_HEADER_LEN, "PARAMS stream ends inside a header");
        const unsigned char *h = p->buf + pos;
        CHECK(h[0] == 1 && h[1] == FCGI_PARAMS && ((unsigned)h[2] << 8 | h[3]) == id &&
                  h[6] == 0 && h[7] == 0, "bad PARAMS header");
        size_t n = (size_t)h[4] << 8 | h[5];
        pos += FCGI_HEADER_LEN;
        CHECK(n <= p->len - pos, "PARAMS record longer than the stream");
        bytes_add(&c, p->buf + pos, n);
        pos += n;
        if (n == 0)
            break;
    }
    CHECK(pos == p->len, "bytes after the empty PARAMS record");
    return c;
}

static void check_params(const uint8_t *data, size_t size)
{
    struct pair pairs[MAX_PAIRS];
    int n = size ? make_pairs(data, size, pairs) : 0;
    unsigned id = size ? data[0] : 1;
    struct fcgi_params p;
    fcgi_params_init(&p, id);
    for (int i = 0; i < n; i++)
        CHECK(fcgi_params_add(&p, pairs[i].name, pairs[i].nlen, pairs[i].value,
                              pairs[i].vlen) == 0, "fcgi_params_add failed");
    CHECK(fcgi_params_finish(&p) == 0 && !p.failed, "fcgi_params_finish failed");
    struct bytes c = params_content(&p, id);
    const unsigned char *s = c.p, *end = c.p ? c.p + c.len : NULL;   /* no pairs: NULL */
    for (int i = 0; i < n; i++) {
        size_t nl = read_length(&s, end), vl = read_length(&s, end);
        CHECK(nl == pairs[i].nlen && vl == pairs[i].vlen, "pair %d: lengths differ", i);
        CHECK((size_t)(end - s) >= nl + vl, "pair %d past the content", i);
        CHECK(memcmp(s, pairs[i].name, nl) == 0 && memcmp(s + nl, pairs[i].value, vl) == 0,
              "pair %d: bytes differ", i);
        s += nl + vl;
        free(pairs[i].name);
        free(pairs[i].value);
    }
    CHECK(s == end, "content after the last pair");
    /* Another request's PARAMS: a decoder skips them all. */
    struct fcgi_decoder d;
    size_t used, dlen;
    const unsigned char *dp;
    fcgi_decoder_init(&d, id + 1);
    CHECK(fcgi_decode(&d, p.buf, p.len, &used, &dp, &dlen) == FCGI_EV_MORE && used == p.len,
          "another id's PARAMS not skipped");
    free(c.p);
    fcgi_params_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    if (size >= 1)
        check_decoder(data + 1, size - 1, data[0]);
    check_params(data, size);
    return 0;
}
