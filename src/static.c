/* static.c: serving files under DocumentRoot (see static.h).
 *
 * Runs in handler threads.  The request target is decoded and normalised
 * by path_normalize before it is joined to DocumentRoot, so no request
 * can name a file outside it; symbolic links inside it are followed, as
 * with Apache's default FollowSymLinks. */
#include "config.h"

#include "mpmd/static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpmd/child.h"
#include "mpmd/conn.h"
#include "mpmd/path.h"
#include "mpmd/precond.h"

/* The path and query of the request target; origin-form or absolute-form
 * (RFC 9112 3.2).  Returns 0, or -1 when the target has no usable path. */
static int target_path(const struct request *r, const char **path, size_t *plen,
                       const char **query)
{
    const char *url = r->buf + r->url_off;
    size_t len = r->url_len;
    if (len > 0 && url[0] != '/') {
        struct http_parser_url u;
        http_parser_url_init(&u);
        if (http_parser_parse_url(url, len, 0, &u) != 0 || !(u.field_set & (1 << UF_PATH)))
            return -1;
        url += u.field_data[UF_PATH].off;
        len -= u.field_data[UF_PATH].off;
    }
    const char *end = url;
    while (end < url + len && *end != '?' && *end != '#')
        end++;
    *path = url;
    *plen = (size_t)(end - url);
    *query = end < url + len && *end == '?' ? end : NULL;
    return *plen > 0 ? 0 : -1;
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

static void reply_options(struct reply *rp, struct worker *w, struct conn *c)
{
    reply_start(rp, &w->date, 200);
    response_head_add(&rp->out.head, "Allow", "GET, HEAD, OPTIONS", 18);
    response_head_add(&rp->out.head, "Content-Length", "0", 1);
    reply_finish(rp, c);
}

/* 301 to the slash form of a directory: the raw path (still encoded),
 * a '/', and the query if any. */
static void reply_add_slash(struct reply *rp, struct worker *w, struct conn *c,
                            const char *path, size_t plen, const char *query)
{
    char loc[PATH_MAX + 2];
    const char *end = c->req.buf + c->req.url_off + c->req.url_len;
    size_t qlen = query ? (size_t)(end - query) : 0;
    int n = snprintf(loc, sizeof loc, "%.*s/%.*s", (int)plen, path, (int)qlen, query ? query : "");
    if (n < 0 || (size_t)n >= sizeof loc) {
        reply_error(rp, &w->date, c, 414);
        return;
    }
    size_t blen;
    const char *body = response_error_body(301, &blen);
    reply_start(rp, &w->date, 301);
    response_head_add(&rp->out.head, "Location", loc, (size_t)n);
    response_head_add(&rp->out.head, "Content-Type", "text/html; charset=utf-8", 24);
    response_head_add_num(&rp->out.head, "Content-Length", (long long)blen);
    reply_finish(rp, c);
    rp->out.body = body;
    rp->out.body_len = blen;
}

/* 304: the validators and no body (RFC 9110 15.4.5). */
static void reply_not_modified(struct reply *rp, struct worker *w, struct conn *c,
                               const char *lm, const char *etag)
{
    reply_start(rp, &w->date, 304);
    response_head_add(&rp->out.head, "Last-Modified", lm, 29);
    response_head_add(&rp->out.head, "ETag", etag, strlen(etag));
    reply_finish(rp, c);
}

/* 416 with the representation's length (RFC 9110 15.5.17). */
static void reply_unsatisfiable(struct reply *rp, struct worker *w, struct conn *c, off_t size)
{
    char cr[40];
    size_t blen;
    const char *body = response_error_body(416, &blen);
    int n = snprintf(cr, sizeof cr, "bytes */%lld", (long long)size);
    reply_start(rp, &w->date, 416);
    response_head_add(&rp->out.head, "Content-Range", cr, (size_t)n);
    response_head_add(&rp->out.head, "Content-Type", "text/html; charset=utf-8", 24);
    response_head_add_num(&rp->out.head, "Content-Length", (long long)blen);
    reply_finish(rp, c);
    rp->out.body = body;
    rp->out.body_len = blen;
}

/* The byte range a GET asks for, honouring If-Range.  Returns what
 * range_parse says (RANGE_NONE when there is no Range or If-Range no
 * longer matches). */
static enum range_result requested_range(const struct conn *c, const char *etag, time_t mtime,
                                         off_t size, off_t *first, off_t *last)
{
    size_t len, iflen;
    if (c->req.parser.method != HTTP_GET)
        return RANGE_NONE;            /* RFC 9110 14.2: only GET has ranges */
    const char *range = http_request_header(&c->req, "Range", &len);
    if (!range)
        return RANGE_NONE;
    const char *ifr = http_request_header(&c->req, "If-Range", &iflen);
    if (ifr && !range_if_matches(ifr, iflen, etag, mtime))
        return RANGE_NONE;
    return range_parse(range, len, size, first, last);
}

/* The reply for the open regular file FD (NAME picks the type): 200, 206,
 * 304, 412 or 416.  Takes ownership of FD. */
static void reply_file(struct reply *rp, struct worker *w, struct conn *c, int fd,
                       const struct stat *st, const char *name)
{
    char lm[32], etag[40], cr[64];
    off_t first = 0, last = st->st_size - 1;
    int m = c->req.parser.method;
    http_date_format(st->st_mtime, lm);
    precond_etag(etag, st->st_mtime, st->st_size);
    int pre = precond_evaluate(&c->req, m == HTTP_GET || m == HTTP_HEAD, etag, st->st_mtime);
    enum range_result range = pre ? RANGE_NONE
                                  : requested_range(c, etag, st->st_mtime, st->st_size, &first, &last);
    if (pre || range == RANGE_UNSATISFIABLE) {
        close(fd);
        if (pre == 304)
            reply_not_modified(rp, w, c, lm, etag);
        else if (pre == 412)
            reply_error(rp, &w->date, c, 412);
        else
            reply_unsatisfiable(rp, w, c, st->st_size);
        return;
    }
    const char *type = mime_lookup(c->child->mime, name, strlen(name));
    reply_start(rp, &w->date, range == RANGE_PARTIAL ? 206 : 200);
    response_head_add(&rp->out.head, "Last-Modified", lm, 29);
    response_head_add(&rp->out.head, "ETag", etag, strlen(etag));
    response_head_add(&rp->out.head, "Accept-Ranges", "bytes", 5);
    response_head_add(&rp->out.head, "Content-Type", type, strlen(type));
    if (range == RANGE_PARTIAL) {
        int n = snprintf(cr, sizeof cr, "bytes %lld-%lld/%lld", (long long)first,
                         (long long)last, (long long)st->st_size);
        response_head_add(&rp->out.head, "Content-Range", cr, (size_t)n);
    } else {
        first = 0;
        last = st->st_size - 1;
    }
    response_head_add_num(&rp->out.head, "Content-Length", (long long)(last - first + 1));
    reply_finish(rp, c);
    rp->out.file_fd = fd;
    rp->out.file_pos = first;
    rp->out.file_end = last + 1;
}

/* Serve DirectoryIndex from the open directory DIRFD, or 403. */
static void reply_index(struct reply *rp, struct worker *w, struct conn *c, int dirfd)
{
    const struct config *cfg = c->child->cfg;
    for (int i = 0; i < cfg->n_directory_index; i++) {
        const char *name = cfg->directory_index[i];
        int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd == -1)
            continue;
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
            reply_file(rp, w, c, fd, &st, name);
            return;
        }
        close(fd);
    }
    reply_error(rp, &w->date, c, 403);
}

static void serve_path(struct reply *rp, struct worker *w, struct conn *c, const char *path,
                       size_t plen, const char *query)
{
    char norm[PATH_MAX], full[PATH_MAX * 2];
    long n = path_normalize(path, plen, norm, sizeof norm);
    if (n < 0) {
        reply_error(rp, &w->date, c, 400);
        return;
    }
    snprintf(full, sizeof full, "%s%s", c->child->cfg->document_root, norm);
    int fd = open(full, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd == -1 || fstat(fd, &st) == -1) {
        int err = errno;
        if (fd != -1)
            close(fd);
        if (status_for_errno(err) == 500)
            log_msg(c->child->log, LOGL_ERROR, "cannot open %s: %s", full, strerror(err));
        reply_error(rp, &w->date, c, status_for_errno(err));
        return;
    }
    if (S_ISREG(st.st_mode)) {
        reply_file(rp, w, c, fd, &st, norm);
        return;
    }
    if (S_ISDIR(st.st_mode) && norm[n - 1] != '/')
        reply_add_slash(rp, w, c, path, plen, query);
    else if (S_ISDIR(st.st_mode))
        reply_index(rp, w, c, fd);
    else
        reply_error(rp, &w->date, c, 403);
    close(fd);
}

void static_handle(struct worker *w, struct conn *c, struct reply *rp)
{
    const struct request *r = &c->req;
    int m = r->parser.method;
    if (m == HTTP_OPTIONS) {
        reply_options(rp, w, c);
        return;
    }
    if (m != HTTP_GET && m != HTTP_HEAD) {
        reply_error(rp, &w->date, c, 405);
        return;
    }
    const char *path, *query;
    size_t plen;
    if (target_path(r, &path, &plen, &query) != 0) {
        reply_error(rp, &w->date, c, 400);
        return;
    }
    serve_path(rp, w, c, path, plen, query);
}
