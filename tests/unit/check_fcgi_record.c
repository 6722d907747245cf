/* check_fcgi_record.c: the FastCGI record layer (src/modules/fcgi_record.c):
 * header and BEGIN_REQUEST bytes, PARAMS encoding (checked byte for byte
 * and by a reference decoder written here from the spec), and the
 * decoder fed whole, byte by byte and split at every offset. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "mpmd/modules/fcgi_record.h"

#define RID 0x1234
#define MIB (1u << 20)

/* ---- helpers: building and reading records ------------------------------ */

struct bytes {
    unsigned char *p;
    size_t len, cap;
};

static void bytes_add(struct bytes *b, const void *src, size_t n)
{
    if (b->cap - b->len < n) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    if (n)
        memcpy(b->p + b->len, src, n);
    b->len += n;
}

/* Append a record: header (version VERSION), CONTENT (N bytes), PAD zeros. */
static void record_v(struct bytes *b, int version, int type, unsigned id, const void *content,
                     size_t n, size_t pad)
{
    unsigned char h[FCGI_HEADER_LEN], zeros[255] = { 0 };
    fcgi_record_header(h, type, id, n, pad);
    h[0] = (unsigned char)version;
    bytes_add(b, h, sizeof h);
    bytes_add(b, content, n);
    bytes_add(b, zeros, pad);
}

static void record(struct bytes *b, int type, unsigned id, const void *content, size_t n,
                   size_t pad)
{
    record_v(b, 1, type, id, content, n, pad);
}

static void end_record(struct bytes *b, unsigned id, uint32_t app, int proto, size_t pad)
{
    unsigned char body[8] = { app >> 24, app >> 16, app >> 8, app, (unsigned char)proto, 0, 0,
                              0 };
    record(b, FCGI_END_REQUEST, id, body, 8, pad);
}

/* Check P's finished stream: PARAMS records of RID, padding 0, each but
 * the last non-empty, the last empty.  Returns the contents joined (to
 * free); *NRECORDS gets the number of records, the empty one included. */
static unsigned char *params_content(const struct fcgi_params *p, size_t *clen, int *nrecords)
{
    struct bytes c = { 0 };
    size_t pos = 0;
    *nrecords = 0;
    for (;;) {
        ck_assert_uint_ge(p->len - pos, FCGI_HEADER_LEN);
        const unsigned char *h = p->buf + pos;
        ck_assert_int_eq(h[0], 1);
        ck_assert_int_eq(h[1], FCGI_PARAMS);
        ck_assert_uint_eq((unsigned)h[2] << 8 | h[3], RID);
        ck_assert_int_eq(h[6], 0);
        ck_assert_int_eq(h[7], 0);
        size_t n = (size_t)h[4] << 8 | h[5];
        pos += FCGI_HEADER_LEN;
        ck_assert_uint_le(n, p->len - pos);
        bytes_add(&c, p->buf + pos, n);
        pos += n;
        ++*nrecords;
        if (n == 0)
            break;
    }
    ck_assert_uint_eq(pos, p->len);                  /* the empty record is the last */
    *clen = c.len;
    return c.p;
}

/* A name-value length at *P (spec 3.4, the reference reading). */
static size_t read_length(const unsigned char **p)
{
    const unsigned char *s = *p;
    if (s[0] < 128) {
        *p += 1;
        return s[0];
    }
    *p += 4;
    return ((size_t)(s[0] & 0x7f) << 24) | ((size_t)s[1] << 16) | ((size_t)s[2] << 8) | s[3];
}

/* ---- writing ------------------------------------------------------------ */

START_TEST(test_header_bytes)
{
    unsigned char h[FCGI_HEADER_LEN];
    static const unsigned char want[] = { 1, 6, 0x12, 0x34, 0xab, 0xcd, 7, 0 };
    fcgi_record_header(h, FCGI_STDOUT, RID, 0xabcd, 7);
    ck_assert_mem_eq(h, want, sizeof want);
    static const unsigned char want_max[] = { 1, 5, 0xff, 0xff, 0xff, 0xff, 255, 0 };
    fcgi_record_header(h, FCGI_STDIN, 0xffff, FCGI_MAX_CONTENT, 255);
    ck_assert_mem_eq(h, want_max, sizeof want_max);
}
END_TEST

START_TEST(test_begin_request_bytes)
{
    unsigned char r[16];
    static const unsigned char keep[] = { 1, 1, 0x12, 0x34, 0, 8, 0, 0,
                                          0, 1, 1,    0,    0, 0, 0, 0 };
    memset(r, 0xee, sizeof r);
    fcgi_begin_request(r, RID, FCGI_RESPONDER, FCGI_KEEP_CONN);
    ck_assert_mem_eq(r, keep, sizeof keep);
    static const unsigned char close_[] = { 1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
    memset(r, 0xee, sizeof r);
    fcgi_begin_request(r, 1, FCGI_RESPONDER, 0);
    ck_assert_mem_eq(r, close_, sizeof close_);
}
END_TEST

START_TEST(test_params_exact_bytes)
{
    struct fcgi_params p;
    fcgi_params_init(&p, RID);
    ck_assert_int_eq(fcgi_params_add_str(&p, "SCRIPT_NAME", "/x.php"), 0);
    ck_assert_int_eq(fcgi_params_add(&p, "EMPTY", 5, NULL, 0), 0);
    ck_assert_int_eq(fcgi_params_finish(&p), 0);
    static const unsigned char want[] = {
        1, 4, 0x12, 0x34, 0, 26, 0, 0,
        11, 6, 'S', 'C', 'R', 'I', 'P', 'T', '_', 'N', 'A', 'M', 'E', '/', 'x', '.', 'p', 'h', 'p',
        5, 0, 'E', 'M', 'P', 'T', 'Y',
        1, 4, 0x12, 0x34, 0, 0, 0, 0,
    };
    ck_assert_uint_eq(p.len, sizeof want);
    ck_assert_mem_eq(p.buf, want, sizeof want);
    ck_assert_int_eq(p.failed, 0);
    fcgi_params_free(&p);
    ck_assert_ptr_null(p.buf);
}
END_TEST

START_TEST(test_params_empty_stream)
{
    struct fcgi_params p;
    static const unsigned char want[] = { 1, 4, 0, 7, 0, 0, 0, 0 };
    fcgi_params_init(&p, 7);
    ck_assert_int_eq(fcgi_params_finish(&p), 0);
    ck_assert_uint_eq(p.len, sizeof want);
    ck_assert_mem_eq(p.buf, want, sizeof want);
    fcgi_params_free(&p);
}
END_TEST

START_TEST(test_params_length_127_128)
{
    char n127[127], v128[128];
    memset(n127, 'N', sizeof n127);
    memset(v128, 'v', sizeof v128);
    struct fcgi_params p;
    fcgi_params_init(&p, RID);
    ck_assert_int_eq(fcgi_params_add(&p, n127, 127, v128, 128), 0);
    ck_assert_int_eq(fcgi_params_add(&p, v128, 128, n127, 127), 0);
    ck_assert_int_eq(fcgi_params_finish(&p), 0);
    size_t clen;
    int nrec;
    unsigned char *c = params_content(&p, &clen, &nrec);
    ck_assert_int_eq(nrec, 2);
    ck_assert_uint_eq(clen, 2 * (1 + 4 + 127 + 128));
    static const unsigned char first[] = { 127, 0x80, 0, 0, 128 };
    ck_assert_mem_eq(c, first, sizeof first);
    ck_assert_mem_eq(c + 5, n127, 127);
    ck_assert_mem_eq(c + 5 + 127, v128, 128);
    static const unsigned char second[] = { 0x80, 0, 0, 128, 127 };
    ck_assert_mem_eq(c + 260, second, sizeof second);
    ck_assert_mem_eq(c + 265, v128, 128);
    ck_assert_mem_eq(c + 265 + 128, n127, 127);
    free(c);
    fcgi_params_free(&p);
}
END_TEST

/* Check that the content C (CLEN bytes) holds exactly the pairs NAMES[i] =
 * VALUES[i] (lengths VLENS[i]), as the reference decoder reads them. */
static void check_pairs(const unsigned char *c, size_t clen, const char *const *names,
                        const char *const *values, const size_t *vlens, int n)
{
    const unsigned char *s = c, *end = c + clen;
    for (int i = 0; i < n; i++) {
        ck_assert(s < end);
        size_t nl = read_length(&s), vl = read_length(&s);
        ck_assert_uint_eq(nl, strlen(names[i]));
        ck_assert_uint_eq(vl, vlens[i]);
        ck_assert_uint_le(nl + vl, (size_t)(end - s));
        ck_assert_mem_eq(s, names[i], nl);
        ck_assert_mem_eq(s + nl, values[i], vl);
        s += nl + vl;
    }
    ck_assert_ptr_eq(s, end);
}

START_TEST(test_params_span_records)
{
    size_t big = 70000;
    char *v = malloc(big);
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < big; i++)
        v[i] = (char)('a' + i % 26);
    struct fcgi_params p;
    fcgi_params_init(&p, RID);
    ck_assert_int_eq(fcgi_params_add_str(&p, "A", "1"), 0);
    ck_assert_int_eq(fcgi_params_add(&p, "QUERY_STRING", 12, v, big), 0);
    ck_assert_int_eq(fcgi_params_add_str(&p, "B", "2"), 0);
    ck_assert_int_eq(fcgi_params_finish(&p), 0);
    /* 4 + (1 + 4 + 12 + 70000) + 4 content bytes: a full record, the rest, the empty one. */
    ck_assert_uint_eq(p.len, 3 * FCGI_HEADER_LEN + 4 + 70017 + 4);
    ck_assert_int_eq(p.buf[4], 0xff);
    ck_assert_int_eq(p.buf[5], 0xff);
    size_t clen;
    int nrec;
    unsigned char *c = params_content(&p, &clen, &nrec);
    ck_assert_int_eq(nrec, 3);
    const char *names[] = { "A", "QUERY_STRING", "B" }, *values[] = { "1", v, "2" };
    size_t vlens[] = { 1, big, 1 };
    check_pairs(c, clen, names, values, vlens, 3);
    free(c);
    fcgi_params_free(&p);
    free(v);
}
END_TEST

/* A record filled to exactly 65535 bytes is closed at once: finish adds
 * only the empty record, no zero-length one in between, no header split. */
START_TEST(test_params_exact_fill)
{
    size_t vlen = FCGI_MAX_CONTENT - 1 - 4 - 1;      /* lengths 1 + 4, name 1 */
    char *v = malloc(vlen);
    ck_assert_ptr_nonnull(v);
    memset(v, 'x', vlen);
    struct fcgi_params p;
    fcgi_params_init(&p, RID);
    ck_assert_int_eq(fcgi_params_add(&p, "N", 1, v, vlen), 0);
    ck_assert_uint_eq(p.rec_start, p.len);           /* closed, none open */
    ck_assert_int_eq(fcgi_params_add_str(&p, "M", "y"), 0);
    ck_assert_int_eq(fcgi_params_finish(&p), 0);
    size_t clen;
    int nrec;
    unsigned char *c = params_content(&p, &clen, &nrec);
    ck_assert_int_eq(nrec, 3);
    ck_assert_uint_eq(p.len, FCGI_HEADER_LEN + FCGI_MAX_CONTENT + FCGI_HEADER_LEN + 4 +
                                 FCGI_HEADER_LEN);
    const char *names[] = { "N", "M" }, *values[] = { v, "y" };
    size_t vlens[] = { vlen, 1 };
    check_pairs(c, clen, names, values, vlens, 2);
    free(c);
    fcgi_params_free(&p);
    free(v);
}
END_TEST

START_TEST(test_params_too_large)
{
    char *v = malloc(MIB + 1);
    ck_assert_ptr_nonnull(v);
    memset(v, 'z', MIB + 1);
    struct fcgi_params p;
    fcgi_params_init(&p, RID);
    ck_assert_int_eq(fcgi_params_add(&p, "OK", 2, v, MIB), 0);     /* 1 MiB: allowed */
    ck_assert_int_eq(fcgi_params_add(&p, v, MIB, "x", 1), 0);
    ck_assert_int_eq(p.failed, 0);
    size_t len = p.len;
    ck_assert_int_eq(fcgi_params_add(&p, "BIG", 3, v, MIB + 1), -1);
    ck_assert_int_eq(p.failed, 1);
    ck_assert_uint_eq(p.len, len);                    /* nothing of it written */
    ck_assert_int_eq(fcgi_params_add_str(&p, "A", "b"), -1);   /* sticky */
    ck_assert_uint_eq(p.len, len);
    ck_assert_int_eq(fcgi_params_finish(&p), -1);
    fcgi_params_free(&p);

    fcgi_params_init(&p, RID);
    ck_assert_int_eq(fcgi_params_add(&p, v, MIB + 1, "x", 1), -1);  /* the name too */
    ck_assert_int_eq(fcgi_params_finish(&p), -1);
    fcgi_params_free(&p);
    free(v);
}
END_TEST

/* A 1 MiB value: its 4-byte length and 17 records of it. */
START_TEST(test_params_one_mib)
{
    char *v = malloc(MIB);
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < MIB; i++)
        v[i] = (char)(i * 7);
    struct fcgi_params p;
    fcgi_params_init(&p, RID);
    ck_assert_int_eq(fcgi_params_add(&p, "V", 1, v, MIB), 0);
    ck_assert_int_eq(fcgi_params_finish(&p), 0);
    size_t clen;
    int nrec;
    unsigned char *c = params_content(&p, &clen, &nrec);
    ck_assert_uint_eq(clen, 1 + 4 + 1 + MIB);
    ck_assert_int_eq(nrec, (int)((clen + FCGI_MAX_CONTENT - 1) / FCGI_MAX_CONTENT) + 1);
    static const unsigned char lens[] = { 1, 0x80, 0x10, 0, 0 };
    ck_assert_mem_eq(c, lens, sizeof lens);
    const char *names[] = { "V" }, *values[] = { v };
    size_t vlens[] = { MIB };
    check_pairs(c, clen, names, values, vlens, 1);
    free(c);
    fcgi_params_free(&p);
    free(v);
}
END_TEST

/* ---- decoding ------------------------------------------------------------ */

struct decoded {
    struct bytes out, err;
    int n_out, n_err;             /* data events */
    enum fcgi_event last;         /* END, ERROR, or MORE when the input ran out */
    size_t consumed;
};

/* Feed IN (LEN bytes) to D in pieces of CHUNK bytes (0: whole), each piece
 * in its own malloc'd buffer so ASan sees a read past it; checks *USED and
 * the data pointers. */
static void decode_chunks(struct fcgi_decoder *d, const unsigned char *in, size_t len,
                          size_t chunk, struct decoded *r)
{
    memset(r, 0, sizeof *r);
    r->last = FCGI_EV_MORE;
    for (size_t off = 0; off < len || off == 0;) {
        size_t n = chunk == 0 || len - off < chunk ? len - off : chunk;
        unsigned char *piece = malloc(n ? n : 1);
        ck_assert_ptr_nonnull(piece);
        memcpy(piece, in + off, n);
        size_t pos = 0;
        for (;;) {
            size_t used = 999999, dlen = 0;
            const unsigned char *data = NULL;
            enum fcgi_event ev = fcgi_decode(d, piece + pos, n - pos, &used, &data, &dlen);
            ck_assert_uint_le(used, n - pos);
            if (ev == FCGI_EV_STDOUT || ev == FCGI_EV_STDERR) {
                ck_assert_uint_gt(dlen, 0);
                ck_assert(data >= piece + pos && data + dlen <= piece + pos + used);
                bytes_add(ev == FCGI_EV_STDOUT ? &r->out : &r->err, data, dlen);
                ++*(ev == FCGI_EV_STDOUT ? &r->n_out : &r->n_err);
            }
            pos += used;
            r->last = ev;
            if (ev == FCGI_EV_MORE) {
                ck_assert_uint_eq(pos, n);
                break;
            }
            if (ev == FCGI_EV_END || ev == FCGI_EV_ERROR)
                break;
        }
        r->consumed += pos;
        free(piece);
        off += n;
        if (r->last != FCGI_EV_MORE || n == 0)
            break;
    }
}

static void decoded_free(struct decoded *r)
{
    free(r->out.p);
    free(r->err.p);
}

/* A php-fpm-like response: STDOUT in two records (padded), STDERR, noise
 * for other ids and management records, the empty STDOUT, END. */
static void sample_stream(struct bytes *b, size_t end_pad)
{
    static const char head[] = "Content-type: text/html; charset=UTF-8\r\n\r\n";
    static const unsigned char unknown_body[8] = { 99 };
    record(b, FCGI_STDOUT, RID, head, strlen(head), 6);
    record(b, FCGI_STDOUT, RID + 1, "not ours", 8, 0);
    record(b, FCGI_STDERR, RID, "PHP Notice", 10, 0);
    record(b, FCGI_GET_VALUES_RESULT, 0, "\x0f\x01" "FCGI_MPXS_CONNS" "0", 18, 6);
    record(b, FCGI_UNKNOWN_TYPE, 0, unknown_body, 8, 0);
    record(b, FCGI_UNKNOWN_TYPE, RID, unknown_body, 8, 0);
    record(b, 42, RID, "future", 6, 2);
    record(b, FCGI_STDOUT, RID, "<p>hi</p>", 9, 7);
    end_record(b, RID + 1, 5, 1, 0);
    record(b, FCGI_STDOUT, RID, NULL, 0, 0);
    record(b, FCGI_STDERR, RID, NULL, 0, 0);
    end_record(b, RID, 0x01020304, 0, end_pad);
}

static const char sample_out[] =
    "Content-type: text/html; charset=UTF-8\r\n\r\n<p>hi</p>";

START_TEST(test_decode_whole)
{
    struct bytes b = { 0 };
    sample_stream(&b, 0);
    struct fcgi_decoder d;
    struct decoded r;
    fcgi_decoder_init(&d, RID);
    decode_chunks(&d, b.p, b.len, 0, &r);
    ck_assert_int_eq(r.last, FCGI_EV_END);
    ck_assert_uint_eq(r.consumed, b.len);
    ck_assert_uint_eq(r.out.len, strlen(sample_out));
    ck_assert_mem_eq(r.out.p, sample_out, r.out.len);
    ck_assert_int_eq(r.n_out, 2);
    ck_assert_uint_eq(r.err.len, 10);
    ck_assert_mem_eq(r.err.p, "PHP Notice", 10);
    ck_assert_uint_eq(d.app_status, 0x01020304);
    ck_assert_int_eq(d.protocol_status, 0);
    ck_assert_ptr_null(d.error);
    decoded_free(&r);
    free(b.p);
}
END_TEST

START_TEST(test_decode_byte_by_byte)
{
    struct bytes b = { 0 };
    sample_stream(&b, 0);
    struct fcgi_decoder d;
    struct decoded r;
    fcgi_decoder_init(&d, RID);
    decode_chunks(&d, b.p, b.len, 1, &r);
    ck_assert_int_eq(r.last, FCGI_EV_END);
    ck_assert_uint_eq(r.consumed, b.len);
    ck_assert_uint_eq(r.out.len, strlen(sample_out));
    ck_assert_mem_eq(r.out.p, sample_out, r.out.len);
    ck_assert_int_eq(r.n_out, (int)strlen(sample_out));     /* one event per byte */
    ck_assert_mem_eq(r.err.p, "PHP Notice", 10);
    ck_assert_uint_eq(d.app_status, 0x01020304);
    decoded_free(&r);
    free(b.p);
}
END_TEST

/* Every chunk size gives the same bytes and the same end. */
START_TEST(test_decode_every_chunk_size)
{
    struct bytes b = { 0 };
    sample_stream(&b, 3);
    for (size_t chunk = 1; chunk <= b.len; chunk++) {
        struct fcgi_decoder d;
        struct decoded r;
        fcgi_decoder_init(&d, RID);
        decode_chunks(&d, b.p, b.len, chunk, &r);
        ck_assert_int_eq(r.last, FCGI_EV_END);
        ck_assert_uint_eq(r.consumed, b.len);
        ck_assert_uint_eq(r.out.len, strlen(sample_out));
        ck_assert_mem_eq(r.out.p, sample_out, r.out.len);
        ck_assert_uint_eq(r.err.len, 10);
        ck_assert_uint_eq(d.app_status, 0x01020304);
        decoded_free(&r);
    }
    free(b.p);
}
END_TEST

/* END is reported only once its padding is in; bytes after it stay unread. */
START_TEST(test_decode_end_padding)
{
    struct bytes b = { 0 };
    end_record(&b, RID, 0xfffffffe, 3, 5);
    bytes_add(&b, "next", 4);
    struct fcgi_decoder d;
    fcgi_decoder_init(&d, RID);
    size_t used;
    const unsigned char *data;
    size_t dlen;
    ck_assert_int_eq(fcgi_decode(&d, b.p, 20, &used, &data, &dlen), FCGI_EV_MORE);
    ck_assert_uint_eq(used, 20);                     /* header, body, 4 of the 5 padding */
    ck_assert_int_eq(fcgi_decode(&d, b.p + 20, b.len - 20, &used, &data, &dlen), FCGI_EV_END);
    ck_assert_uint_eq(used, 1);
    ck_assert_uint_eq(d.app_status, 0xfffffffe);
    ck_assert_int_eq(d.protocol_status, 3);
    /* Final: nothing more consumed, END again. */
    ck_assert_int_eq(fcgi_decode(&d, b.p + 21, 4, &used, &data, &dlen), FCGI_EV_END);
    ck_assert_uint_eq(used, 0);
    ck_assert_int_eq(fcgi_decode(&d, NULL, 0, &used, &data, &dlen), FCGI_EV_END);
    ck_assert_uint_eq(used, 0);
    free(b.p);
}
END_TEST

/* A data event stops the call: the rest of IN is for the next call. */
START_TEST(test_decode_stops_at_data)
{
    struct bytes b = { 0 };
    record(&b, FCGI_STDOUT, RID, "abc", 3, 1);
    record(&b, FCGI_STDERR, RID, "de", 2, 0);
    end_record(&b, RID, 0, 0, 0);
    struct fcgi_decoder d;
    fcgi_decoder_init(&d, RID);
    size_t used, dlen = 0;
    const unsigned char *data = NULL;
    ck_assert_int_eq(fcgi_decode(&d, b.p, b.len, &used, &data, &dlen), FCGI_EV_STDOUT);
    ck_assert_uint_eq(used, 11);
    ck_assert_ptr_eq(data, b.p + 8);
    ck_assert_uint_eq(dlen, 3);
    size_t pos = used;
    ck_assert_int_eq(fcgi_decode(&d, b.p + pos, b.len - pos, &used, &data, &dlen),
                     FCGI_EV_STDERR);
    ck_assert_uint_eq(used, 1 + 8 + 2);               /* padding, header, data */
    ck_assert_mem_eq(data, "de", 2);
    pos += used;
    ck_assert_int_eq(fcgi_decode(&d, b.p + pos, b.len - pos, &used, &data, &dlen), FCGI_EV_END);
    ck_assert_uint_eq(pos + used, b.len);
    free(b.p);
}
END_TEST

/* Data split inside a record: several events, pointing into each piece. */
START_TEST(test_decode_split_record)
{
    static char big[FCGI_MAX_CONTENT];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 31 + 7);
    struct bytes b = { 0 };
    record(&b, FCGI_STDOUT, RID, big, sizeof big, 255);
    end_record(&b, RID, 0, 0, 0);
    struct fcgi_decoder d;
    struct decoded r;
    fcgi_decoder_init(&d, RID);
    decode_chunks(&d, b.p, b.len, 1000, &r);
    ck_assert_int_eq(r.last, FCGI_EV_END);
    ck_assert_uint_eq(r.out.len, sizeof big);
    ck_assert_mem_eq(r.out.p, big, sizeof big);
    ck_assert_int_eq(r.n_out, 66);                     /* 992 bytes, then 65 x 1000 */
    decoded_free(&r);
    free(b.p);
}
END_TEST

/* Empty input: MORE, nothing consumed, state untouched. */
START_TEST(test_decode_empty_input)
{
    struct fcgi_decoder d;
    size_t used = 7, dlen = 0;
    const unsigned char *data = NULL;
    fcgi_decoder_init(&d, RID);
    ck_assert_int_eq(fcgi_decode(&d, NULL, 0, &used, &data, &dlen), FCGI_EV_MORE);
    ck_assert_uint_eq(used, 0);
    ck_assert_uint_eq(d.hdr_got, 0);
}
END_TEST

/* Decode STREAM (LEN bytes) whole and byte by byte: both end in ERROR with
 * WANT_ERR, having consumed WANT_USED bytes. */
static void expect_error(const unsigned char *stream, size_t len, size_t want_used,
                         const char *want_err)
{
    for (size_t chunk = 0; chunk <= 1; chunk++) {
        struct fcgi_decoder d;
        struct decoded r;
        fcgi_decoder_init(&d, RID);
        decode_chunks(&d, stream, len, chunk, &r);
        ck_assert_int_eq(r.last, FCGI_EV_ERROR);
        ck_assert_uint_eq(r.consumed, want_used);
        ck_assert_ptr_nonnull(d.error);
        ck_assert_str_eq(d.error, want_err);
        /* sticky: nothing more consumed */
        size_t used = 5, dlen;
        const unsigned char *data;
        ck_assert_int_eq(fcgi_decode(&d, stream, len, &used, &data, &dlen), FCGI_EV_ERROR);
        ck_assert_uint_eq(used, 0);
        decoded_free(&r);
    }
}

START_TEST(test_decode_bad_version)
{
    struct bytes b = { 0 };
    record(&b, FCGI_STDOUT, RID, "ok", 2, 0);
    record_v(&b, 2, FCGI_STDOUT, RID, "no", 2, 0);
    expect_error(b.p, b.len, 10 + 8, "FastCGI record version is not 1");
    free(b.p);
    /* Any id: the version is checked before anything else. */
    b = (struct bytes){ 0 };
    record_v(&b, 0, FCGI_STDOUT, RID + 9, "no", 2, 0);
    expect_error(b.p, b.len, 8, "FastCGI record version is not 1");
    free(b.p);
}
END_TEST

START_TEST(test_decode_bad_end_length)
{
    static const unsigned char body[9] = { 0 };
    for (size_t n = 0; n <= 9; n++) {
        if (n == 8)
            continue;
        struct bytes b = { 0 };
        record(&b, FCGI_END_REQUEST, RID, body, n, 0);
        expect_error(b.p, b.len, 8, "FastCGI END_REQUEST content is not 8 bytes");
        free(b.p);
    }
    /* Another id's odd END_REQUEST is skipped. */
    struct bytes b = { 0 };
    record(&b, FCGI_END_REQUEST, RID + 1, body, 3, 1);
    end_record(&b, RID, 7, 0, 0);
    struct fcgi_decoder d;
    struct decoded r;
    fcgi_decoder_init(&d, RID);
    decode_chunks(&d, b.p, b.len, 0, &r);
    ck_assert_int_eq(r.last, FCGI_EV_END);
    ck_assert_uint_eq(d.app_status, 7);
    decoded_free(&r);
    free(b.p);
}
END_TEST

START_TEST(test_decode_server_types_refused)
{
    static const int types[] = { FCGI_BEGIN_REQUEST, FCGI_ABORT_REQUEST, FCGI_PARAMS,
                                 FCGI_STDIN, FCGI_DATA, FCGI_GET_VALUES };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        struct bytes b = { 0 };
        record(&b, types[i], RID, "12345678", 8, 0);
        expect_error(b.p, b.len, 8,
                     "FastCGI application sent a record type only a web server sends");
        free(b.p);
        /* The same for another id (or a management record): skipped. */
        b = (struct bytes){ 0 };
        record(&b, types[i], RID + 1, "12345678", 8, 2);
        record(&b, types[i], 0, "12345678", 8, 0);
        record(&b, FCGI_STDOUT, RID, "x", 1, 0);
        end_record(&b, RID, 0, 0, 0);
        struct fcgi_decoder d;
        struct decoded r;
        fcgi_decoder_init(&d, RID);
        decode_chunks(&d, b.p, b.len, 0, &r);
        ck_assert_int_eq(r.last, FCGI_EV_END);
        ck_assert_uint_eq(r.out.len, 1);
        ck_assert_int_eq(r.out.p[0], 'x');
        decoded_free(&r);
        free(b.p);
    }
}
END_TEST

/* The END_REQUEST fields: big-endian app status, protocol status. */
START_TEST(test_decode_end_fields)
{
    static const unsigned char rec[] = { 1, 3, 0x12, 0x34, 0, 8, 0, 0,
                                         0x80, 0x00, 0x01, 0xff, 2, 9, 9, 9 };
    struct fcgi_decoder d;
    size_t used, dlen;
    const unsigned char *data;
    fcgi_decoder_init(&d, RID);
    ck_assert_int_eq(fcgi_decode(&d, rec, sizeof rec, &used, &data, &dlen), FCGI_EV_END);
    ck_assert_uint_eq(used, sizeof rec);
    ck_assert_uint_eq(d.app_status, 0x800001ffu);
    ck_assert_int_eq(d.protocol_status, 2);           /* FCGI_OVERLOADED */
}
END_TEST

/* A stream that stops short: MORE, everything consumed, no END. */
START_TEST(test_decode_truncated)
{
    struct bytes b = { 0 };
    record(&b, FCGI_STDOUT, RID, "abc", 3, 4);
    end_record(&b, RID, 0, 0, 0);
    for (size_t cut = 0; cut < b.len; cut++) {
        struct fcgi_decoder d;
        struct decoded r;
        fcgi_decoder_init(&d, RID);
        decode_chunks(&d, b.p, cut, 0, &r);
        ck_assert_int_eq(r.last, FCGI_EV_MORE);
        ck_assert_uint_eq(r.consumed, cut);
        ck_assert_uint_eq(r.out.len, cut <= 8 ? 0 : cut < 11 ? cut - 8 : 3);
        decoded_free(&r);
    }
    free(b.p);
}
END_TEST

Suite *fcgi_record_suite(void)
{
    Suite *s = suite_create("fcgi_record");
    TCase *tc = tcase_create("fcgi_record");
    tcase_add_test(tc, test_header_bytes);
    tcase_add_test(tc, test_begin_request_bytes);
    tcase_add_test(tc, test_params_exact_bytes);
    tcase_add_test(tc, test_params_empty_stream);
    tcase_add_test(tc, test_params_length_127_128);
    tcase_add_test(tc, test_params_span_records);
    tcase_add_test(tc, test_params_exact_fill);
    tcase_add_test(tc, test_params_too_large);
    tcase_add_test(tc, test_params_one_mib);
    tcase_add_test(tc, test_decode_whole);
    tcase_add_test(tc, test_decode_byte_by_byte);
    tcase_add_test(tc, test_decode_every_chunk_size);
    tcase_add_test(tc, test_decode_end_padding);
    tcase_add_test(tc, test_decode_stops_at_data);
    tcase_add_test(tc, test_decode_split_record);
    tcase_add_test(tc, test_decode_empty_input);
    tcase_add_test(tc, test_decode_bad_version);
    tcase_add_test(tc, test_decode_bad_end_length);
    tcase_add_test(tc, test_decode_server_types_refused);
    tcase_add_test(tc, test_decode_end_fields);
    tcase_add_test(tc, test_decode_truncated);
    suite_add_tcase(s, tc);
    return s;
}
