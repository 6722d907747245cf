/* fcgi.c: a request passed to a FastCGI application (php-fpm) as a
 * responder (proxy.h's proxy_fcgi_forward; mod_proxy_fcgi's semantics).
 *
 * One request per connection at a time (id 1), with FCGI_KEEP_CONN so
 * the connection goes back to the child's pool when the application
 * ended the request cleanly.  The meta-variables go as PARAMS
 * (cgienv.h; SCRIPT_FILENAME is the script's file, as php-fpm wants),
 * the body as STDIN records as it arrives from the client (a chunked body
 * is first read into a file: php needs CONTENT_LENGTH), STDOUT is the
 * CGI response streamed to the client, STDERR goes to the error log.
 * Handler threads. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpmd/core/log.h"
#include "mpmd/modules/cgienv.h"
#include "mpmd/modules/fcgi_record.h"
#include "mpmd/modules/proxy.h"

#define FCGI_ID 1
#define FCGI_READ 65536

static int add_param(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
    return fcgi_params_add(ctx, name, nlen, value, vlen);
}

/* One STDIN record holding BUF (LEN <= 65535 bytes; 0: the end). */
static int send_stdin(int fd, const char *buf, size_t len, int timeout)
{
    unsigned char h[FCGI_HEADER_LEN];
    fcgi_record_header(h, FCGI_STDIN, FCGI_ID, len, 0);
    if (upstream_send_all(fd, (const char *)h, sizeof h, timeout) == -1)
        return -1;
    return len ? upstream_send_all(fd, buf, len, timeout) : 0;
}

/* The request body as STDIN records: from SPOOL_FD when the body was
 * read into a file, else from the client.  0; -1 upstream failure; -2
 * the client's body failed (*STATUS). */
static int send_body(const struct proxy_request *pr, int fd, int spool_fd, int has_body,
                     int *status)
{
    char *buf = malloc(FCGI_MAX_CONTENT);
    int r = 0;
    if (buf == NULL) {
        *status = 500;
        return -2;
    }
    while (has_body) {
        ssize_t n = spool_fd != -1 ? read(spool_fd, buf, FCGI_MAX_CONTENT)
                                   : handler_read_body(pr->rq, buf, FCGI_MAX_CONTENT, status);
        if (n < 0) {
            r = -2;
            break;
        }
        if (n == 0)
            break;
        if (send_stdin(fd, buf, (size_t)n, pr->timeout) == -1) {
            r = -1;
            break;
        }
    }
    free(buf);
    if (r == 0 && send_stdin(fd, NULL, 0, pr->timeout) == -1)
        r = -1;
    return r;
}

/* The request's records up to the end of STDIN.  Same returns as send_body. */
static int send_request(const struct proxy_request *pr, int fd, const struct fcgi_params *params,
                        int spool_fd, int has_body, int keep, int *status)
{
    unsigned char begin[16];
    fcgi_begin_request(begin, FCGI_ID, FCGI_RESPONDER, keep ? FCGI_KEEP_CONN : 0);
    if (upstream_send_all(fd, (const char *)begin, sizeof begin, pr->timeout) == -1 ||
        upstream_send_all(fd, (const char *)params->buf, params->len, pr->timeout) == -1)
        return -1;
    return send_body(pr, fd, spool_fd, has_body, status);
}

/* Read records until END_REQUEST, relaying STDOUT and STDERR, D
 * decoding (GOT_ANY: bytes of the answer came already).  Returns 1 when
 * the request ended cleanly with nothing after it, 0 when it ended
 * otherwise (the connection is not reused), -1 when nothing at all came
 * back (errno). */
static int relay(const struct proxy_request *pr, int fd, struct cgi_output *out,
                 struct fcgi_decoder *d, int got_any)
{
    unsigned char *buf = malloc(FCGI_READ);
    int ended = 0, stop = 0, clean = 0;
    const char *why = NULL;
    if (buf == NULL) {
        errno = ENOMEM;
        return -1;
    }
    /* The request has just gone out: wait for the answer before reading. */
    int w = upstream_wait(fd, POLLIN, pr->timeout);
    while (w > 0 && !ended && !stop) {
        ssize_t n = recv(fd, buf, FCGI_READ, 0);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && errno == EAGAIN) {
            w = upstream_wait(fd, POLLIN, pr->timeout);
            continue;
        }
        if (n <= 0) {
            why = n == 0 ? "the application closed the connection before ending the request"
                         : strerror(errno);
            if (n == 0)
                errno = EPIPE;
            break;
        }
        got_any = 1;
        size_t off = 0;
        while (off < (size_t)n && !ended && !stop) {
            size_t used, dlen = 0;
            const unsigned char *data = NULL;
            enum fcgi_event ev = fcgi_decode(d, buf + off, (size_t)n - off, &used, &data, &dlen);
            off += used;
            if (ev == FCGI_EV_STDOUT)
                stop = cgi_output_feed(out, (const char *)data, dlen) == -1;
            else if (ev == FCGI_EV_STDERR)
                cgi_output_stderr(out, (const char *)data, dlen);
            else if (ev == FCGI_EV_END) {
                ended = 1;
                clean = off == (size_t)n && d->protocol_status == 0;
            } else if (ev == FCGI_EV_ERROR) {
                why = d->error;
                stop = 1;
            } else if (used == 0) {
                break;
            }
        }
    }
    if (w <= 0) {
        why = "no answer within the timeout";
        errno = ETIMEDOUT;
    }
    free(buf);
    if (!got_any && !ended)
        return -1;            /* nothing to the client yet: the caller may retry */
    cgi_output_end(out, ended, ended ? NULL : why ? why : "the output was not wanted");
    return clean && !stop ? 1 : 0;
}

const char *proxy_fcgi_who(const struct proxy_request *pr, char *who, size_t len)
{
    snprintf(who, len, "FastCGI %s %s", pr->w->addr.text, pr->target);
    return who;
}

void proxy_fcgi_continue(struct proxy_request *pr, int fd, const struct fcgi_progress *p,
                         struct reply *rp)
{
    char who[300];
    struct cgi_output out;
    struct fcgi_decoder d = *p->d;
    if (cgi_output_init(&out, pr->rq, rp, proxy_fcgi_who(pr, who, sizeof who), 502) == -1) {
        if (fd != -1)
            upstream_release(pr->pool, fd, 0);
        reply_error(rp, pr->rq->date, 500);
        return;
    }
    cgi_output_stderr(&out, p->err, p->err_len);
    int stop = cgi_output_feed(&out, p->out, p->out_len) == -1, rel = 0;
    if (p->ended || stop)
        cgi_output_end(&out, p->ended, p->ended ? NULL : "the output was not wanted");
    else if (p->timed_out)
        cgi_output_end(&out, 0, "no answer within the timeout");
    else
        rel = relay(pr, fd, &out, &d, 1);
    if (p->ended)
        rel = p->clean && !stop;
    cgi_output_free(&out);
    if (fd != -1)
        upstream_release(pr->pool, fd, rel == 1 && pr->ttl > 0);
}

/* The PARAMS records for PR (CONTENT_LENGTH LENGTH, < 0: none). */
static int build_params(const struct proxy_request *pr, struct fcgi_params *params,
                        long long length)
{
    struct cgi_script s = {.filename = pr->target, .name = pr->script_name,
                           .name_len = pr->script_name_len, .path_info = pr->path_info,
                           .path_info_len = pr->path_info_len};
    fcgi_params_init(params, FCGI_ID);
    if (cgi_env_build(pr->rq, &s, length, add_param, params) == -1)
        return -1;
    return fcgi_params_finish(params);
}

char *proxy_fcgi_request(const struct proxy_request *pr, size_t *len)
{
    struct fcgi_params params;
    unsigned char begin[16], end[FCGI_HEADER_LEN];
    if (build_params(pr, &params, -1) == -1) {
        fcgi_params_free(&params);
        return NULL;
    }
    fcgi_begin_request(begin, FCGI_ID, FCGI_RESPONDER, pr->ttl > 0 ? FCGI_KEEP_CONN : 0);
    fcgi_record_header(end, FCGI_STDIN, FCGI_ID, 0, 0);
    *len = sizeof begin + params.len + sizeof end;
    char *buf = malloc(*len);
    if (buf) {
        memcpy(buf, begin, sizeof begin);
        memcpy(buf + sizeof begin, params.buf, params.len);
        memcpy(buf + sizeof begin + params.len, end, sizeof end);
    }
    fcgi_params_free(&params);
    return buf;
}

int proxy_fcgi_forward(struct proxy_request *pr, struct reply *rp)
{
    const struct req_ctx *rq = pr->rq;
    const struct request *r = rq->req;
    long long length = -1;
    int spool_fd = -1, status = 0;
    int has_body = http_request_body_pending(r);
    if (has_body) {
        length = http_request_body_left(r);
        if (length < 0 && (spool_fd = cgi_body_spool(rq, &length, &status)) == -1) {
            reply_error(rp, rq->date, status ? status : 400);
            return HANDLER_DONE;
        }
    }
    struct fcgi_params params;
    if (build_params(pr, &params, length) == -1) {
        fcgi_params_free(&params);
        if (spool_fd != -1)
            close(spool_fd);
        reply_error(rp, rq->date, 500);
        return HANDLER_DONE;
    }
    char who[300];
    proxy_fcgi_who(pr, who, sizeof who);
    for (int attempt = 0;; attempt++) {
        int reused = 0;
        /* A retry takes a new connection (proxy_http.c). */
        int fd = upstream_acquire(pr->pool, pr->connect_timeout, attempt ? 0 : pr->ttl, &reused);
        if (fd == -1) {
            int e = errno;
            if (e != EAGAIN && e != EHOSTDOWN)
                upstream_mark_failed(pr->pool, pr->w->retry);
            reply_error(rp, rq->date, proxy_fail_status(pr, e, "cannot connect to"));
            break;
        }
        struct cgi_output out;
        if (cgi_output_init(&out, rq, rp, who, 502) == -1) {
            upstream_release(pr->pool, fd, 0);
            reply_error(rp, rq->date, 500);
            break;
        }
        int sent = send_request(pr, fd, &params, spool_fd, has_body && length > 0, pr->ttl > 0,
                                &status);
        int e = errno;
        if (sent == -2) {
            cgi_output_free(&out);
            upstream_release(pr->pool, fd, 0);
            reply_error(rp, rq->date, status ? status : 400);
            break;
        }
        struct fcgi_decoder d;
        fcgi_decoder_init(&d, FCGI_ID);
        int rel = relay(pr, fd, &out, &d, 0);
        if (rel == -1)
            e = errno ? errno : e;
        cgi_output_free(&out);
        upstream_release(pr->pool, fd, rel == 1 && pr->ttl > 0);
        int body_consumed = has_body && length > 0 && spool_fd == -1;
        if (rel == -1 && reused && attempt == 0 && !body_consumed) {
            if (spool_fd != -1)
                lseek(spool_fd, 0, SEEK_SET);
            continue;          /* the application closed a pooled connection: once more */
        }
        if (rel == -1) {
            reply_error(rp, rq->date, proxy_fail_status(pr, e, "no FastCGI response from"));
        }
        break;
    }
    fcgi_params_free(&params);
    if (spool_fd != -1)
        close(spool_fd);
    return HANDLER_DONE;
}
