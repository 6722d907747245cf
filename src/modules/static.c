/* static.c: serving files under DocumentRoot (see static.h).
 *
 * A handler (handler.h): static_fast on the listener thread, static_handle
 * on handler threads.  The request target is decoded and normalised
 * by path_normalize before it is joined to DocumentRoot, so no request
 * can name a file outside it; symbolic links inside it are followed, as
 * with Apache's default FollowSymLinks.
 *
 * Small files are kept in the child's file cache (filecache.h): a hit is
 * answered from memory, by the listener thread itself when it finds the
 * hit (static_fast), or by a handler thread; a miss is served from disk
 * with sendfile by a handler, which then caches the file. */
#include "config.h"

#include "mpmd/modules/static.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpmd/core/config.h"
#include "mpmd/core/log.h"
#include "mpmd/core/scoreboard.h"
#include "mpmd/modules/compress.h"
#include "mpmd/modules/autoindex.h"
#include "mpmd/modules/mime.h"
#include "mpmd/modules/filecache.h"
#include "mpmd/modules/fileetag.h"
#include "mpmd/modules/precond.h"

/* What a reply needs to know about a file, from disk or from the cache. */
struct static_file {
    off_t size;
    time_t mtime;
    const char *type;
    int fd;                               /* owned, or -1 when DATA is used */
    const char *data;                     /* cached content, or NULL */
    struct filecache_entry *entry;        /* reference that keeps DATA alive, or NULL */
    char *owned;                          /* DATA malloc'd for this answer (a coded file), or NULL */
    char lm[32];                          /* Last-Modified and ETag, formatted once */
    char etag[64];                        /* FileETag All: up to 53 bytes; "" for none */
    int coding;                           /* the body's Content-Encoding (compress.h) */
    int vary;                             /* the resource has coded variants */
};

_Static_assert(sizeof((struct static_file *)0)->etag >= FILEETAG_MAX &&
                   sizeof((struct static_file *)0)->etag ==
                       sizeof((struct filecache_entry *)0)->etag,
               "any ETag fits, and the cache entry's copy is whole");

/* F's validators, formatted (from the cache entry and from disk they are
 * already: the ETag by FileETag, "" for None). */
static void static_file_validators(struct static_file *f)
{
    if (f->lm[0])
        return;                 /* formatted already (an empty ETag stays empty) */
    http_date_format(f->mtime, f->lm);
    precond_etag(f->etag, f->mtime, f->size);
}

static int status_for_errno(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
        return 404;
    case EACCES:
    case EPERM:
    case ELOOP:
        return 403;
    default:
        return 500;
    }
}

static void reply_options(struct reply *rp, const struct req_ctx *rq)
{
    reply_start(rp, rq->date, 200);
    response_head_add(&rp->out.head, "Allow", "GET, HEAD, OPTIONS", 18);
    response_head_add(&rp->out.head, "Content-Length", "0", 1);
}

/* 301 to the slash form of a directory, as an absolute URL (Apache's
 * mod_dir): the raw path (still encoded), a '/', and the query if any. */
static void reply_add_slash(struct reply *rp, const struct req_ctx *rq,
                            const char *path, size_t plen, const char *query)
{
    char rel[PATH_MAX + 2], loc[PATH_MAX + 600];
    const char *end = rq->req->buf + rq->req->url_off + rq->req->url_len;
    size_t qlen = query ? (size_t)(end - query) : 0;
    int n = snprintf(rel, sizeof rel, "%.*s/%.*s", (int)plen, path, (int)qlen,
                     query ? query : "");
    size_t len = n < 0 || (size_t)n >= sizeof rel
                     ? sizeof loc : handler_absolute_url(rq, rel, (size_t)n, loc, sizeof loc);
    if (len >= sizeof loc) {
        reply_error(rp, rq->date, 414);
        return;
    }
    reply_redirect(rp, rq->date, 301, loc, len);
}

/* 304: the validators and no body (RFC 9110 15.4.5). */
static void reply_not_modified(struct reply *rp, const struct req_ctx *rq,
                               const char *lm, const char *etag)
{
    reply_start(rp, rq->date, 304);
    response_head_add(&rp->out.head, "Last-Modified", lm, 29);
    if (etag[0])
        response_head_add(&rp->out.head, "ETag", etag, strlen(etag));
}

/* What Expires needs of the file F answered in RP (expires.h). */
static void note_file(struct reply *rp, const struct static_file *f)
{
    rp->file_mtime = f->mtime;
    rp->file_type = f->type;
}

/* 416 with the representation's length (RFC 9110 15.5.17). */
static void reply_unsatisfiable(struct reply *rp, const struct req_ctx *rq,
                                off_t size)
{
    char cr[40];
    size_t blen;
    const char *body = response_error_body(416, &blen);
    int n = snprintf(cr, sizeof cr, "bytes */%lld", (long long)size);
    reply_start(rp, rq->date, 416);
    response_head_add(&rp->out.head, "Content-Range", cr, (size_t)n);
    response_head_add(&rp->out.head, "Content-Type", "text/html; charset=utf-8", 24);
    response_head_add_num(&rp->out.head, "Content-Length", (long long)blen);
    rp->out.body = body;
    rp->out.body_len = blen;
}

/* The byte range a GET asks for, honouring If-Range.  Returns what
 * range_parse says (RANGE_NONE when there is no Range or If-Range no
 * longer matches). */
static enum range_result requested_range(const struct req_ctx *rq, const char *etag, time_t mtime,
                                         off_t size, off_t *first, off_t *last)
{
    size_t len, iflen;
    if (rq->method != HTTP_GET)
        return RANGE_NONE;            /* RFC 9110 14.2: only GET has ranges */
    const char *range = http_request_header(rq->req, "Range", &len);
    if (!range)
        return RANGE_NONE;
    const char *ifr = http_request_header(rq->req, "If-Range", &iflen);
    if (ifr && !range_if_matches(ifr, iflen, etag, mtime))
        return RANGE_NONE;
    return range_parse(range, len, size, first, last);
}

/* reply_out's release for a body this answer allocated. */
static void release_owned(void *buf, void *unused)
{
    (void)unused;
    free(buf);
}

/* reply_out's release for a body in the file cache. */
static void release_entry(void *cache, void *entry)
{
    filecache_release(cache, entry);
}

/* Hand the body (bytes FIRST..LAST of F) to the reply; F's fd or cache
 * reference moves into RP. */
static void reply_attach_body(struct reply *rp, const struct req_ctx *rq, struct static_file *f,
                              off_t first, off_t last)
{
    if (f->data) {
        rp->out.body = f->data + first;
        rp->out.body_len = (size_t)(last - first + 1);
        rp->out.release = f->owned ? release_owned : release_entry;
        rp->out.release_a = f->owned ? (void *)f->owned : (void *)rq->env->cache;
        rp->out.release_b = f->entry;
    } else {
        rp->out.file_fd = f->fd;
        rp->out.file_pos = first;
        rp->out.file_end = last + 1;
    }
    f->fd = -1;
    f->entry = NULL;
    f->owned = NULL;
}

/* Give back what F holds (the reply did not take it). */
static void static_file_release(const struct req_ctx *rq, struct static_file *f)
{
    if (f->fd != -1)
        close(f->fd);
    if (f->entry)
        filecache_release(rq->env->cache, f->entry);
    free(f->owned);
    f->fd = -1;
    f->entry = NULL;
    f->owned = NULL;
}

/* Content-Encoding and Vary for F's body. */
static void add_coding_fields(struct reply *rp, const struct static_file *f)
{
    if (f->coding)
        response_head_add(&rp->out.head, "Content-Encoding", compress_coding_name(f->coding),
                          strlen(compress_coding_name(f->coding)));
    if (f->vary)
        compress_add_vary(&rp->out.head);
}

/* The reply for file F: 200, 206, 304, 412 or 416. */
static void reply_file(struct reply *rp, const struct req_ctx *rq,
                       struct static_file *f)
{
    char cr[64];
    off_t first = 0, last = f->size - 1;
    int m = rq->method;
    static_file_validators(f);
    const char *lm = f->lm, *etag = f->etag;
    int pre = precond_evaluate(rq->req, m == HTTP_GET || m == HTTP_HEAD, etag, f->mtime);
    enum range_result range =
        pre ? RANGE_NONE : requested_range(rq, etag, f->mtime, f->size, &first, &last);
    if (pre == 304) {
        reply_not_modified(rp, rq, lm, etag);
        add_coding_fields(rp, f);
        note_file(rp, f);
    } else if (pre == 412) {
        reply_error(rp, rq->date, 412);
    } else if (range == RANGE_UNSATISFIABLE) {
        reply_unsatisfiable(rp, rq, f->size);
    }
    if (pre || range == RANGE_UNSATISFIABLE) {
        static_file_release(rq, f);
        return;
    }
    reply_start(rp, rq->date, range == RANGE_PARTIAL ? 206 : 200);
    note_file(rp, f);
    response_head_add(&rp->out.head, "Last-Modified", lm, 29);
    if (etag[0])
        response_head_add(&rp->out.head, "ETag", etag, strlen(etag));
    response_head_add(&rp->out.head, "Accept-Ranges", "bytes", 5);
    response_head_add(&rp->out.head, "Content-Type", f->type, strlen(f->type));
    add_coding_fields(rp, f);
    if (range == RANGE_PARTIAL) {
        int n = snprintf(cr, sizeof cr, "bytes %lld-%lld/%lld", (long long)first,
                         (long long)last, (long long)f->size);
        response_head_add(&rp->out.head, "Content-Range", cr, (size_t)n);
    }
    response_head_add_num(&rp->out.head, "Content-Length", (long long)(last - first + 1));
    reply_attach_body(rp, rq, f, first, last);
}

/* Open FULL (RT's file-system path) for reading.  Without FollowSymLinks
 * (Options) no symbolic link below the directory the path maps into may
 * be followed: openat2's RESOLVE_NO_SYMLINKS refuses them with ELOOP, a
 * 403 (Apache refuses them too).  Kernels before 5.6 lack openat2: only
 * the last component is checked then (O_NOFOLLOW). */
static int open_target(const struct route *rt, const char *full, int follow)
{
    int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;
    if (follow)
        return open(full, flags);
    int dir = open(rt->fs_base, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir == -1)
        return -1;
    const char *rel = full + strlen(rt->fs_base);
    while (*rel == '/')
        rel++;
    struct open_how how = { .flags = (unsigned)flags,
                            .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH };
    int fd = (int)syscall(SYS_openat2, dir, *rel ? rel : ".", &how, sizeof how);
    if (fd == -1 && errno == ENOSYS)
        fd = openat(dir, *rel ? rel : ".", flags | O_NOFOLLOW);
    int err = errno;
    close(dir);
    errno = err;
    return fd;
}

/* FULL + ".gz" or ".br" (CODING), open, when it is a regular file no
 * older than the original's MTIME (CompressStatic): its descriptor and
 * stat into *ST, or -1.  Opened as FULL was (RT's FollowSymLinks). */
static int open_precompressed(const struct route *rt, const char *full, int coding, time_t mtime,
                              struct stat *st)
{
    char path[PATH_MAX * 2 + 4];
    if (snprintf(path, sizeof path, "%s.%s", full, coding == COMPRESS_BR ? "br" : "gz") >=
        (int)sizeof path)
        return -1;
    int fd = open_target(rt, path, (route_options(rt) & OPT_FOLLOW_SYMLINKS) != 0);
    if (fd == -1)
        return -1;
    if (fstat(fd, st) == 0 && S_ISREG(st->st_mode) && st->st_mtime >= mtime)
        return fd;
    close(fd);
    return -1;
}

/* The codings a file may be sent in: those configured for its TYPE and
 * size (also into *CONFIGURED: the ones it may be coded in here), and,
 * with CompressStatic, those of its fresh precompressed files.
 * *STATIC_FILES: CompressStatic is on. */
static unsigned file_codings(const struct req_ctx *rq, const char *full, const char *type,
                             const struct stat *st, int *static_files, unsigned *configured)
{
    unsigned codings = compress_allowed(rq, type, strlen(type), st->st_size, static_files);
    *configured = codings;
    for (int c = COMPRESS_GZIP; *static_files && c <= COMPRESS_BR; c++) {
        struct stat pst;
        int fd = (codings & (unsigned)c)
                     ? -1 : open_precompressed(rq->route, full, c, st->st_mtime, &pst);
        if (fd != -1) {
            codings |= (unsigned)c;
            close(fd);
        }
    }
    return codings;
}

/* Read LEN bytes of FD from offset 0 into a new variant.  NULL when it
 * cannot (short, unreadable, out of memory). */
static struct filecache_variant *variant_from_fd(int fd, size_t len)
{
    struct filecache_variant *v = malloc(sizeof *v + len + 1);
    size_t done = 0;
    while (v && done < len) {
        ssize_t n = pread(fd, v->data + done, len - done, (off_t)done);
        if (n <= 0 && !(n == -1 && errno == EINTR)) {
            free(v);
            return NULL;
        }
        done += n > 0 ? (size_t)n : 0;
    }
    if (v)
        v->len = len;
    return v;
}

/* Entry E's content in CODING: the precompressed file (CompressStatic)
 * or compressed now.  NULL when out of memory or the coder failed. */
static struct filecache_variant *make_variant(const struct req_ctx *rq, struct filecache_entry *e,
                                              int coding)
{
    int static_files = 0;
    struct stat st;
    struct filecache_variant *v = NULL;
    compress_allowed(rq, e->type, strlen(e->type), -1, &static_files);
    int fd = static_files ? open_precompressed(rq->route, e->file, coding, e->mtime, &st) : -1;
    if (fd != -1) {
        v = variant_from_fd(fd, (size_t)st.st_size);
        close(fd);
    }
    if (v == NULL) {
        char *out;
        size_t len;
        if (compress_whole(rq, coding, e->data, (size_t)e->size, &out, &len) == -1)
            return NULL;
        v = malloc(sizeof *v + len + 1);
        if (v)
            memcpy(v->data, out, len), v->len = len;
        free(out);
        if (v == NULL)
            return NULL;
    }
    v->useless = v->len >= (size_t)e->size;
    if (v->useless)
        v->len = 0;                     /* kept small: it only says "send the identity" */
    if (compress_etag(rq, e->etag, coding, v->etag, sizeof v->etag) == 0)
        v->etag[0] = '\0';
    return filecache_attach_variant(rq->env->cache, e, coding - 1, v);
}

/* Answer from the cache entry E (a reference the reply takes over): in
 * the coding the client prefers among E's, its variant made here first
 * when this is a handler thread.  Returns 0 (E released) when the
 * listener finds the variant not made yet: a handler thread makes it. */
static int serve_entry(struct reply *rp, const struct req_ctx *rq, struct filecache_entry *e)
{
    struct static_file f = { .size = e->size, .mtime = e->mtime, .type = e->type, .fd = -1,
                             .data = e->data, .entry = e, .vary = e->codings != 0 };
    memcpy(f.lm, e->last_modified, sizeof f.lm);
    memcpy(f.etag, e->etag, sizeof e->etag);
    int coding = e->codings ? compress_choose_for(rq, e->codings) : COMPRESS_NONE;
    if (coding) {
        struct filecache_variant *v = filecache_variant(e, coding - 1);
        if (v == NULL && rq->body == NULL) {
            filecache_release(rq->env->cache, e);
            return 0;
        }
        if (v == NULL)
            v = make_variant(rq, e, coding);
        if (v && !v->useless) {
            f.data = v->data;
            f.size = (off_t)v->len;
            f.coding = coding;
            memcpy(f.etag, v->etag, sizeof f.etag);
        }
    }
    reply_file(rp, rq, &f);
    return 1;
}

/* Serve KEY (cache_key) from the cache.  Returns 1 when served. */
static int reply_from_cache(struct reply *rp, const struct req_ctx *rq,
                            const char *key, size_t keylen)
{
    if (!rq->env->cache)
        return 0;
    struct filecache_entry *e = filecache_get(rq->env->cache, key, keylen, monotonic_seconds());
    if (!e) {
        if (rq->body)    /* a handler thread: the listener's miss is not counted twice */
            atomic_fetch_add_explicit(&rq->env->counters->cache_misses, 1, memory_order_relaxed);
        return 0;
    }
    if (!serve_entry(rp, rq, e))
        return 0;
    atomic_fetch_add_explicit(&rq->env->counters->cache_hits, 1, memory_order_relaxed);
    return 1;
}

/* struct compress_stream's output: RQ's response stream. */
static int handler_emit(void *rq, const char *buf, size_t n, int last)
{
    return handler_stream_write(rq, buf, n, last);
}

/* Stream F (open, not cached) compressed in CODING as it is read: the
 * body has no Content-Length, so ranges are not offered.  Handler
 * threads. */
static void stream_coded(struct reply *rp, const struct req_ctx *rq, struct static_file *f,
                         int coding)
{
    struct compress_stream *z = compress_stream_new(rq, coding);
    if (z == NULL) {
        reply_error(rp, rq->date, 500);
        return;
    }
    reply_start(rp, rq->date, 200);
    note_file(rp, f);
    response_head_add(&rp->out.head, "Last-Modified", f->lm, 29);
    if (f->etag[0])
        response_head_add(&rp->out.head, "ETag", f->etag, strlen(f->etag));
    response_head_add(&rp->out.head, "Content-Type", f->type, strlen(f->type));
    add_coding_fields(rp, f);
    enum { CHUNK = 65536 };
    char *buf = rq->method == HTTP_HEAD ? NULL : malloc(CHUNK);
    int ok = handler_stream_begin(rq, rp, 0) == 0;
    off_t pos = 0;
    while (ok && buf) {
        ssize_t n = pread(f->fd, buf, CHUNK, pos);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            handler_log(rq, LOGM_STATIC, LOGL_ERROR, "cannot read: %s", strerror(errno));
        if (n < 0)
            break;                      /* the stream ends unfinished: the client sees it */
        pos += n;
        int how = n == 0 ? COMPRESS_PUT_FINISH : COMPRESS_PUT_MORE;   /* the file is all here */
        ok = compress_stream_put(z, buf, (size_t)n, how, handler_emit, (void *)rq) == 0;
        if (n == 0)
            break;
    }
    if (ok && rq->method == HTTP_HEAD)
        handler_stream_write(rq, NULL, 0, 1);
    free(buf);
    compress_stream_free(z);
    static_file_release(rq, f);
}

/* F (open, not cached, at most COMPRESS_WHOLE_MAX bytes) coded whole in
 * memory for this answer (libdeflate codes gzip twice as fast as zlib
 * streams it), so it has a Content-Length and ranges of the coded bytes,
 * like a cached variant.  ETAG: the variant's.  Returns 0 when the
 * identity is to be sent (the file could not be read whole, or coding
 * made it no smaller). */
static int reply_coded_whole(struct reply *rp, const struct req_ctx *rq, struct static_file *f,
                             int coding, const char *etag)
{
    struct filecache_variant *plain = variant_from_fd(f->fd, (size_t)f->size);
    char *coded = NULL;
    size_t len = 0;
    int ok = plain &&
             compress_whole(rq, coding, plain->data, (size_t)f->size, &coded, &len) == 0;
    free(plain);
    if (!ok || len >= (size_t)f->size) {
        free(coded);
        return 0;
    }
    close(f->fd);
    f->fd = -1;
    f->data = f->owned = coded;
    f->size = (off_t)len;
    f->coding = coding;
    snprintf(f->etag, sizeof f->etag, "%s", etag);
    reply_file(rp, rq, f);
    return 1;
}

/* F (open, not cached) for a client that takes CODING: its fresh
 * precompressed file (CompressStatic), else coded whole in memory when
 * it is small enough, else compressed as it is sent unless a Range asks
 * for part of it (then the identity answers).  CONFIGURED: the codings
 * the route lets it be coded in (file_codings).
 * Returns 0 when the identity is to be sent instead. */
static int reply_coded_file(struct reply *rp, const struct req_ctx *rq, struct static_file *f,
                            const char *full, int coding, int static_files, unsigned configured)
{
    struct stat st;
    int fd = static_files ? open_precompressed(rq->route, full, coding, f->mtime, &st) : -1;
    char etag[64];
    if (compress_etag(rq, f->etag, coding, etag, sizeof etag) == 0)
        etag[0] = '\0';
    if (fd != -1) {
        close(f->fd);
        f->fd = fd;
        f->size = st.st_size;
        f->coding = coding;
        memcpy(f->etag, etag, sizeof etag);
        reply_file(rp, rq, f);
        return 1;
    }
    size_t len;
    if (!(configured & (unsigned)coding))
        return 0;
    if (f->size <= COMPRESS_WHOLE_MAX)
        return reply_coded_whole(rp, rq, f, coding, etag);
    if (rq->stream == NULL ||
        (rq->method == HTTP_GET && http_request_header(rq->req, "Range", &len)))
        return 0;
    memcpy(f->etag, etag, sizeof etag);
    f->coding = coding;
    int pre = precond_evaluate(rq->req, 1, f->etag, f->mtime);
    if (pre == 304) {
        reply_not_modified(rp, rq, f->lm, f->etag);
        add_coding_fields(rp, f);
        note_file(rp, f);
    } else if (pre) {
        reply_error(rp, rq->date, pre);
    }
    if (pre)
        static_file_release(rq, f);
    else
        stream_coded(rp, rq, f, coding);
    return 1;
}

/* Serve the regular file open on FD (FULL its path, NAME picks the type)
 * and cache it under the request path KEY. */
static void reply_disk_file(struct reply *rp, const struct req_ctx *rq, int fd,
                            const struct stat *st, const char *full, const char *name,
                            const char *key, size_t keylen)
{
    const char *type = config_added_type(rq->site, name, strlen(name));
    if (type == NULL)
        type = mime_lookup(rq->env->mime, name, strlen(name));
    int static_files = 0;
    unsigned configured;
    unsigned codings = file_codings(rq, full, type, st, &static_files, &configured);
    struct static_file f = { .size = st->st_size, .mtime = st->st_mtime, .type = type, .fd = fd,
                             .vary = codings != 0 };
    http_date_format(f.mtime, f.lm);
    fileetag_format(f.etag, fileetag_bits(rq), st);
    if (rq->env->cache &&
        filecache_put_coded(rq->env->cache, key, keylen, full, fd, st, type, f.lm, f.etag,
                            codings, monotonic_seconds()) >= 0 && codings) {
        struct filecache_entry *e =
            filecache_get(rq->env->cache, key, keylen, monotonic_seconds());
        if (e && serve_entry(rp, rq, e)) {
            close(fd);                  /* answered from the entry, coded */
            return;
        }
    }
    int coding = compress_choose_for(rq, codings);
    if (coding && reply_coded_file(rp, rq, &f, full, coding, static_files, configured))
        return;
    reply_file(rp, rq, &f);
}

/* Serve DirectoryIndex from the open directory DIRFD (path DIR), else its
 * listing (autoindex.c: 403 without Options Indexes); without FOLLOW not
 * through a symbolic link (Options -FollowSymLinks). */
static void reply_index(struct reply *rp, const struct req_ctx *rq, int dirfd,
                        const char *dir, const char *key, size_t keylen, int follow)
{
    const struct config *cfg = rq->site;
    char full[PATH_MAX * 2];
    for (int i = 0; i < cfg->n_directory_index; i++) {
        const char *name = cfg->directory_index[i];
        int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | (follow ? 0 : O_NOFOLLOW));
        if (fd == -1)
            continue;
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
            snprintf(full, sizeof full, "%s%s", dir, name);
            reply_disk_file(rp, rq, fd, &st, full, name, key, keylen);
            return;
        }
        close(fd);
    }
    autoindex_reply(rp, rq, dirfd, follow);
}

/* The file cache key of the normalised path NORM (N bytes) for this
 * request's site: the site's number in two bytes, then the path, so
 * virtual hosts never share entries.  KEY has room for N + 2 bytes. */
static size_t cache_key(const struct req_ctx *rq, const char *norm, size_t n, char *key)
{
    key[0] = (char)(rq->site->site_id >> 8);
    key[1] = (char)rq->site->site_id;
    memcpy(key + 2, norm, n);
    return n + 2;
}

/* Serve the request's path: from the cache, else from the disk (a file,
 * a directory's index, or the redirect to a directory's slash form). */
static void serve_path(struct reply *rp, const struct req_ctx *rq)
{
    const struct route *rt = rq->route;
    char full[PATH_MAX * 2], key[ROUTE_PATH_MAX + 2];
    size_t klen = cache_key(rq, rt->path, rt->path_len, key);
    if (reply_from_cache(rp, rq, key, klen))
        return;
    if (route_fs_path(rt, full, sizeof full) == NULL) {
        reply_error(rp, rq->date, 414);
        return;
    }
    int follow = (route_options(rt) & OPT_FOLLOW_SYMLINKS) != 0;
    int fd = open_target(rt, full, follow);
    struct stat st;
    if (fd == -1 || fstat(fd, &st) == -1) {
        int err = errno;
        if (fd != -1)
            close(fd);
        if (status_for_errno(err) == 500)
            handler_log(rq, LOGM_STATIC, LOGL_ERROR, "cannot open %s: %s", full, strerror(err));
        reply_error(rp, rq->date, status_for_errno(err));
        return;
    }
    int dir_form = rt->path[rt->path_len - 1] == '/';
    if (S_ISREG(st.st_mode)) {
        reply_disk_file(rp, rq, fd, &st, full, rt->path, key, klen);
        return;
    }
    if (S_ISDIR(st.st_mode) && !dir_form) {
        const char *path, *query;
        size_t plen;
        if (http_request_path(rq->req, &path, &plen, &query) == 0)
            reply_add_slash(rp, rq, path, plen, query);
        else
            reply_error(rp, rq->date, 400);
    } else if (S_ISDIR(st.st_mode)) {
        size_t n = strlen(full);
        if (n > 0 && full[n - 1] != '/' && n + 1 < sizeof full)
            full[n++] = '/', full[n] = '\0';
        reply_index(rp, rq, fd, full, key, klen, follow);
    } else {
        reply_error(rp, rq->date, 403);
    }
    close(fd);
}

/* Method and target checks shared by both entry points.  Returns 1 when
 * the request names a path to serve; 0 after building the reply (OPTIONS,
 * 405, 400). */
static int static_route(struct reply *rp, const struct req_ctx *rq)
{
    int m = rq->method;
    if (m == HTTP_OPTIONS) {
        reply_options(rp, rq);
        return 0;
    }
    if (m != HTTP_GET && m != HTTP_HEAD) {
        reply_error(rp, rq->date, 405);
        response_head_add(&rp->out.head, "Allow", "GET, HEAD, OPTIONS", 18);
        return 0;
    }
    if (!rq->route->path_ok) {
        reply_error(rp, rq->date, 400);
        return 0;
    }
    return 1;
}

/* Handler thread: a file (from the cache, or its descriptor handed to RP
 * for sendfile), a directory's index, a redirect to the slash form of a
 * directory, or an error page.  May block on the disk. */
static int static_handle(const struct req_ctx *rq, struct reply *rp)
{
    if (static_route(rp, rq))
        serve_path(rp, rq);
    return HANDLER_DONE;
}

/* Listener thread: a GET or HEAD of a file in the cache, answered from
 * memory (no disk access beyond a periodic stat); anything else is
 * declined to a handler thread. */
static int static_fast(const struct req_ctx *rq, struct reply *rp)
{
    const struct route *rt = rq->route;
    int m = rq->method;
    if (!rq->env->cache || (m != HTTP_GET && m != HTTP_HEAD) || !rt->path_ok)
        return HANDLER_DECLINED;
    char key[ROUTE_PATH_MAX + 2];
    return reply_from_cache(rp, rq, key, cache_key(rq, rt->path, rt->path_len, key))
               ? HANDLER_DONE
               : HANDLER_DECLINED;
}

const struct conf_module static_conf_module = {
    .name = "static",
    .handler = "static",
};

const struct handler static_handler = {
    .name = "static",
    .conf = &static_conf_module,
    .fast = static_fast,
    .handle = static_handle,
};
