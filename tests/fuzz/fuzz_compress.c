/* fuzz_compress.c: libFuzzer harness for content coding
 * (src/modules/compress.c): the Accept-Encoding parser and the streaming
 * coder.
 *
 * Input format:
 *   byte 0  bits 0-1: the codings allowed (compress.h's set); bit 2: the
 *           coding the stream uses (Brotli when set, else gzip); bits 3-7:
 *           how many pieces the body is cut into (1 + value)
 *   then    an Accept-Encoding value up to the first '\n'
 *   rest    a response body
 *
 * Checked: compress_choose returns COMPRESS_NONE or one coding of the
 * allowed set, the same for the value as given and with the allowed set
 * widened by what it returned (it is a choice, not a guess), NONE when
 * nothing is allowed or there is no value.  The
 * body, fed to compress_stream_put in the pieces (each in a buffer of its
 * exact size; odd pieces without a flush, even ones with a sync flush) and
 * finished, and coded whole by compress_whole, decodes (zlib's inflate,
 * Brotli's decoder) to
 * exactly the body, and the last emitted piece, only it, says LAST.
 *
 * Runs in the calling thread (libFuzzer's, or replay_main.c's); all memory
 * is per input.  Invariant failures abort() with a message. */
#include "config.h"

#include <brotli/decode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define FUZZ_NAME "fuzz_compress"
#include "fuzz_target.h"
#include "mpmd/core/config.h"
#include "mpmd/modules/compress.h"

#define MAX_FUZZ_INPUT (256 * 1024)

struct sink {
    char *buf;
    size_t len, cap;
    int lasts;                    /* pieces that said LAST */
    int after_last;               /* pieces emitted after one said LAST */
};

static int collect(void *arg, const char *buf, size_t n, int last)
{
    struct sink *s = arg;
    if (s->lasts)
        s->after_last++;
    if (s->len + n > s->cap) {
        s->cap = (s->len + n) * 2 + 64;
        s->buf = realloc(s->buf, s->cap);
        CHECK(s->buf != NULL, "out of memory");
    }
    if (n)
        memcpy(s->buf + s->len, buf, n);
    s->len += n;
    s->lasts += last != 0;
    return 0;
}

static void check_gzip(const struct sink *s, const uint8_t *body, size_t len)
{
    char *out = malloc(len + 1);
    CHECK(out != NULL, "out of memory");
    z_stream zs = {0};
    CHECK(inflateInit2(&zs, 15 + 16) == Z_OK, "inflateInit2");
    zs.next_in = (Bytef *)s->buf;
    zs.avail_in = (uInt)s->len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)len + 1;
    int rc = inflate(&zs, Z_FINISH);
    CHECK(rc == Z_STREAM_END, "gzip stream does not decode to its end (%d)", rc);
    CHECK(zs.total_out == len && memcmp(out, body, len) == 0, "gzip decodes to %lu bytes, not %zu",
          zs.total_out, len);
    CHECK(zs.avail_in == 0, "%u bytes after the gzip stream", zs.avail_in);
    inflateEnd(&zs);
    free(out);
}

static void check_brotli(const struct sink *s, const uint8_t *body, size_t len)
{
    uint8_t *out = malloc(len + 1);
    CHECK(out != NULL, "out of memory");
    size_t out_len = len + 1;
    BrotliDecoderResult rc =
        BrotliDecoderDecompress(s->len, (const uint8_t *)s->buf, &out_len, out);
    CHECK(rc == BROTLI_DECODER_RESULT_SUCCESS, "Brotli stream does not decode (%d)", (int)rc);
    CHECK(out_len == len && memcmp(out, body, len) == 0, "Brotli decodes to %zu bytes, not %zu",
          out_len, len);
    free(out);
}

static void check_choice(const char *ae, size_t len, unsigned allowed)
{
    int c = compress_choose(ae, len, allowed);
    CHECK(c == COMPRESS_NONE || ((unsigned)c & allowed) == (unsigned)c,
          "chose %d outside the allowed set %u", c, allowed);
    CHECK(c == COMPRESS_NONE || c == COMPRESS_GZIP || c == COMPRESS_BR, "chose %d", c);
    /* Widening the set by the choice changes nothing. */
    CHECK(compress_choose(ae, len, allowed | (unsigned)c) == c, "choice unstable");
    CHECK(compress_choose(ae, len, 0) == COMPRESS_NONE, "chose with nothing allowed");
    CHECK(compress_choose(NULL, 0, allowed) == COMPRESS_NONE, "chose without Accept-Encoding");
}

static void check_stream(const uint8_t *body, size_t len, int coding, int pieces)
{
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    struct req_ctx rq = {.site = &cfg};   /* no compress settings: the defaults */
    struct compress_stream *z = compress_stream_new(&rq, coding);
    CHECK(z != NULL, "compress_stream_new");
    struct sink s = {0};
    size_t at = 0;
    for (int i = 1; i <= pieces; i++) {
        size_t end = len * (size_t)i / (size_t)pieces;
        char *piece = malloc(end - at ? end - at : 1);
        CHECK(piece != NULL, "out of memory");
        memcpy(piece, body + at, end - at);
        int how = i == pieces ? COMPRESS_PUT_FINISH : i % 2 ? COMPRESS_PUT_MORE : COMPRESS_PUT_SYNC;
        CHECK(compress_stream_put(z, piece, end - at, how, collect, &s) == 0,
              "compress_stream_put failed");
        free(piece);
        CHECK(i == pieces || s.lasts == 0, "LAST before the end");
        at = end;
    }
    CHECK(s.lasts == 1 && s.after_last == 0, "%d pieces said LAST, %d after it", s.lasts,
          s.after_last);
    if (coding == COMPRESS_BR)
        check_brotli(&s, body, len);
    else
        check_gzip(&s, body, len);
    compress_stream_free(z);
    free(s.buf);
}

/* compress_whole (libdeflate for gzip, Brotli's one-shot) decodes to BODY too. */
static void check_whole(const uint8_t *body, size_t len, int coding)
{
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    struct req_ctx rq = {.site = &cfg};
    struct sink s = {0};
    CHECK(compress_whole(&rq, coding, (const char *)body, len, &s.buf, &s.len) == 0,
          "compress_whole failed");
    if (coding == COMPRESS_BR)
        check_brotli(&s, body, len);
    else
        check_gzip(&s, body, len);
    free(s.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_FUZZ_INPUT)
        return 0;
    unsigned allowed = data[0] & 3u;
    int coding = (data[0] & 4u) ? COMPRESS_BR : COMPRESS_GZIP;
    int pieces = 1 + (data[0] >> 3);
    const uint8_t *rest = data + 1;
    size_t n = size - 1;
    const uint8_t *nl = memchr(rest, '\n', n);
    size_t ae_len = nl ? (size_t)(nl - rest) : n;
    char *ae = malloc(ae_len ? ae_len : 1);
    CHECK(ae != NULL, "out of memory");
    memcpy(ae, rest, ae_len);
    check_choice(ae, ae_len, allowed);
    check_choice(ae, ae_len, COMPRESS_GZIP | COMPRESS_BR);
    free(ae);
    const uint8_t *body = nl ? nl + 1 : rest + n;
    check_stream(body, (size_t)(rest + n - body), coding, pieces);
    check_whole(body, (size_t)(rest + n - body), coding);
    return 0;
}
