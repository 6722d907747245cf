/* compress.h: gzip and Brotli content coding, as mod_deflate and
 * mod_brotli do it (AddOutputFilterByType DEFLATE|BROTLI_COMPRESS, and
 * mpmd's Compress shorthand), for static files and for streamed
 * responses (proxy, FastCGI, CGI).
 *
 * Configuration: where it loads (module.h).  Choosing a coding
 * (compress_choose) is a pure function of the request's Accept-Encoding
 * and the encodings a resource allows: any thread, never blocks.
 * Compressing (compress_whole, struct compress_stream) is CPU work for
 * handler threads; the listener only serves variants already made (the
 * file cache keeps them: filecache.h). */
#ifndef MPMD_COMPRESS_H
#define MPMD_COMPRESS_H

#include <stddef.h>

#include "mpmd/core/module.h"
#include "mpmd/http/handler.h"

/* Codings, as bits of a set and, one at a time, as the coding chosen. */
enum {
    COMPRESS_NONE = 0,
    COMPRESS_GZIP = 1,
    COMPRESS_BR = 2,
};

/* Files up to this size that the file cache does not keep are coded whole
 * in memory per request (a Content-Length, ranges of the coded bytes);
 * larger ones are coded as they are sent. */
#define COMPRESS_WHOLE_MAX (2 * 1024 * 1024)

/* The variant slots of a cache entry: COMPRESS_GZIP - 1, COMPRESS_BR - 1. */
#define COMPRESS_VARIANTS 2

extern const struct conf_module compress_conf_module;
extern const struct handler compress_handler;   /* the stream filter only */

/* What the route's configuration says about a response of media TYPE
 * (parameters ignored) and LEN bytes (-1: unknown): the codings it may
 * be sent in (a set; 0 when the type is not configured, is one of the
 * already-compressed types, or LEN is under CompressMinSize), and, in
 * *STATIC_FILES (when not NULL), whether CompressStatic is on. */
unsigned compress_allowed(const struct req_ctx *rq, const char *type, size_t type_len, long long len,
                          int *static_files);

/* The coding to send for a request whose Accept-Encoding is AE (LEN
 * bytes; NULL: none) among ALLOWED: COMPRESS_BR when the client takes it
 * at least as gladly as gzip, COMPRESS_GZIP, or COMPRESS_NONE (identity:
 * also when nothing it accepts is allowed).  q-values, "*" and x-gzip as
 * RFC 9110 12.5.3 says. */
int compress_choose(const char *ae, size_t len, unsigned allowed);

/* The same for RQ's Accept-Encoding. */
int compress_choose_for(const struct req_ctx *rq, unsigned allowed);

/* "gzip" or "br". */
const char *compress_coding_name(int coding);

/* The ETag of the CODING variant of the resource whose identity ETag is
 * ETAG (Apache's DeflateAlterETag AddSuffix: "abc" -> "abc-gzip"), into
 * OUT (CAP bytes).  Returns its length, or 0 when it does not fit or the
 * route's DeflateAlterETag says Remove (no ETag); NoChange copies ETAG. */
size_t compress_etag(const struct req_ctx *rq, const char *etag, int coding, char *out,
                     size_t cap);

/* Add Accept-Encoding to H's Vary (or add the field), unless it is
 * there or Vary is "*". */
void compress_add_vary(struct response_head *h);

/* IN (LEN bytes) in CODING at the route's level, into a new buffer
 * (*OUT, malloc'd, *OUT_LEN bytes).  0, or -1 (out of memory, or the
 * library failed). */
int compress_whole(const struct req_ctx *rq, int coding, const char *in, size_t len, char **out,
                   size_t *out_len);

/* How compress_stream_put ends: a sync flush (what an upstream sent
 * reaches the client without waiting for more, as mod_deflate does on a
 * flush), the end of the coded stream, or nothing (more input follows at
 * once: a file read in pieces). */
enum { COMPRESS_PUT_SYNC = 0, COMPRESS_PUT_FINISH = 1, COMPRESS_PUT_MORE = 2 };

/* A compressor for a body sent as it comes.  compress_stream_put feeds
 * LEN bytes and ends as HOW says (COMPRESS_PUT_*).  The coded bytes go to
 * EMIT(ARG, BUF, N, LAST) in pieces; LAST is set on the final piece of a
 * finished stream (possibly empty).  Returns 0, or -1 when EMIT failed
 * or the library did. */
struct compress_stream;
struct compress_stream *compress_stream_new(const struct req_ctx *rq, int coding);
int compress_stream_put(struct compress_stream *z, const char *buf, size_t len, int how,
                        int (*emit)(void *arg, const char *buf, size_t n, int last), void *arg);
void compress_stream_free(struct compress_stream *z);

/* Whether the head of RP (a response about to be streamed) may be
 * compressed for RQ, and in which coding: a 200 with a body, no
 * Content-Encoding, no Content-Range, no "Cache-Control: no-transform",
 * a configured type, a Content-Length (if any) not under
 * CompressMinSize.  The head then says so (Content-Encoding, Vary, the
 * ETag altered, no Content-Length).  Returns the coding, or
 * COMPRESS_NONE with the head left as it was (but for Vary when the type
 * is compressible). */
int compress_stream_head(const struct req_ctx *rq, struct reply *rp);

/* The same for a whole response RP with its body in memory (a proxied
 * or FastCGI answer the listener read whole, at most 64 KiB): when it is
 * to be compressed, the body is coded now into a new buffer (the old one
 * is released), and the head says so, with the new Content-Length.
 * Returns the coding, or COMPRESS_NONE (nothing changed but Vary; also
 * when out of memory).  Runs where the answer is built: on the listener,
 * as nginx codes in its event loop; the bodies are small. */
int compress_reply_body(const struct req_ctx *rq, struct reply *rp);

#endif
