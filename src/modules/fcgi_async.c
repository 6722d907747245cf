/* fcgi_async.c: a FastCGI request without a body, sent and answered by
 * the listener thread (proxy_async.h's protocol part; MPM event).
 *
 * The records go out in one send (BEGIN_REQUEST, PARAMS, the empty
 * STDIN); STDOUT and STDERR are decoded as they come and kept.  At
 * END_REQUEST the script's head is parsed (cgihead.h) and, but for a
 * local redirect (which runs the request again: a handler thread's job),
 * the listener answers from memory, the body with a Content-Length.  A
 * STDOUT longer than PA_GATHER_MAX, or one that pauses for PA_PATIENCE_MS
 * after it began, goes to a handler thread with what came so far
 * (fcgi.c's proxy_fcgi_continue), as does a local redirect.  Listener
 * thread (the relay: a handler thread). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mpmd/core/log.h"
#include "mpmd/modules/cgienv.h"
#include "mpmd/modules/proxy_async.h"

#define FCGI_ID 1
#define STDERR_KEEP 8192          /* STDERR kept for the log; the rest is dropped */
#define READ_CHUNK 16384

/* Keep LEN bytes of STDOUT.  0, or -1 when out of memory. */
static int keep_stdout(struct pa_fcgi *f, const unsigned char *data, size_t len)
{
    if (f->out_len + len > f->out_cap) {
        size_t cap = f->out_cap ? f->out_cap : 4096;
        while (cap < f->out_len + len)
            cap *= 2;
        char *p = realloc(f->out, cap);
        if (p == NULL)
            return -1;
        f->out = p;
        f->out_cap = cap;
    }
    memcpy(f->out + f->out_len, data, len);
    f->out_len += len;
    return 0;
}

static void keep_stderr(struct pa_fcgi *f, const unsigned char *data, size_t len)
{
    if (f->err == NULL && (f->err = malloc(STDERR_KEEP)) == NULL)
        return;
    if (len > STDERR_KEEP - f->err_len)
        len = STDERR_KEEP - f->err_len;
    memcpy(f->err + f->err_len, data, len);
    f->err_len += len;
}

/* END_REQUEST came: parse the script's head.  A local redirect goes to a
 * handler thread; a bad or missing head is answered 502 from here. */
static enum handler_wake ended(struct proxy_async *a)
{
    struct pa_fcgi *f = &a->u.fcgi;
    f->head = malloc(sizeof *f->head);
    if (f->head == NULL || cgi_head_init(f->head, PA_GATHER_MAX) == -1)
        return pa_fail(a, ENOMEM, "no FastCGI response from", NULL);
    ssize_t used = cgi_head_feed(f->head, f->out, f->out_len);
    f->head_used = used > 0 ? (size_t)used : 0;
    if (used >= 0 && f->head->done && cgi_head_kind(f->head) == CGI_LOCAL_REDIRECT)
        return HANDLER_WAKE_THREAD;
    return pa_done(a, f->clean);
}

/* Decode N bytes read.  HANDLER_WAIT for more, else a wake. */
static enum handler_wake decode(struct proxy_async *a, const unsigned char *buf, size_t n)
{
    struct pa_fcgi *f = &a->u.fcgi;
    size_t off = 0;
    f->got_any = 1;
    while (off < n) {
        size_t used, dlen = 0;
        const unsigned char *data = NULL;
        enum fcgi_event ev = fcgi_decode(&f->d, buf + off, n - off, &used, &data, &dlen);
        off += used;
        if (ev == FCGI_EV_STDOUT && keep_stdout(f, data, dlen) == -1)
            return pa_fail(a, ENOMEM, "no FastCGI response from", NULL);
        if (ev == FCGI_EV_STDERR)
            keep_stderr(f, data, dlen);
        if (ev == FCGI_EV_END) {
            f->ended = 1;
            f->clean = off == n && f->d.protocol_status == 0;
            return ended(a);
        }
        if (ev == FCGI_EV_ERROR)
            return pa_fail(a, 0, NULL, f->d.error);
        if (used == 0)
            break;
    }
    return f->out_len > PA_GATHER_MAX ? HANDLER_WAKE_THREAD : HANDLER_WAIT;
}

static enum handler_wake fcgi_read(struct proxy_async *a, int timed_out, struct pa_want *want)
{
    struct pa_fcgi *f = &a->u.fcgi;
    unsigned char buf[READ_CHUNK];
    if (timed_out) {
        if (f->out_len > 0)
            return HANDLER_WAKE_THREAD;   /* a slow answer: streamed as it comes */
        if (!f->got_any)
            return pa_fail(a, ETIMEDOUT, "no FastCGI response from", NULL);
        f->timed_out = 1;                 /* STDERR only, then silence */
        return HANDLER_WAKE_THREAD;
    }
    for (;;) {
        ssize_t n = pa_recv(a, buf, sizeof buf);
        if (n == -1)
            return pa_wait_read(a, f->out_len > 0, want);
        if (n < 0 && !f->got_any)
            return pa_lost(a, -(int)n, want);
        if (n < 0)
            return pa_fail(a, 0, NULL, "the application closed the connection before ending "
                                       "the request");
        enum handler_wake w = decode(a, buf, (size_t)n);
        if (w != HANDLER_WAIT)
            return w;
    }
}

static void fcgi_reset(struct proxy_async *a)
{
    struct pa_fcgi *f = &a->u.fcgi;
    f->out_len = f->err_len = 0;
    f->got_any = 0;
    fcgi_decoder_init(&f->d, FCGI_ID);
}

/* Answer from the script's output, complete in memory. */
static int fcgi_answer(struct proxy_request *pr, struct proxy_async *a, struct reply *rp)
{
    struct pa_fcgi *f = &a->u.fcgi;
    const struct req_ctx *rq = pr->rq;
    char who[300];
    struct cgi_errlog errlog = {.log = rq->log, .who = proxy_fcgi_who(pr, who, sizeof who)};
    cgi_errlog_feed(&errlog, f->err, f->err_len);
    cgi_errlog_flush(&errlog);
    struct cgi_head *h = f->head;
    if (h->error || !h->done) {
        handler_log(rq, LOGM_PROXY_FCGI, LOGL_ERROR,
                    h->error ? "%s: malformed header from script: %s" : "%s: %s", who,
                    h->error ? h->error : "end of script output before headers");
        reply_error(rp, rq->date, 502);
        pa_free(a);
        return HANDLER_DONE;
    }
    if (cgi_head_reply(rq, h, rp) == -1) {
        handler_log(rq, LOGM_PROXY_FCGI, LOGL_ERROR, "%s: response head too large", who);
        pa_free(a);
        return HANDLER_DONE;
    }
    return pa_answer_body(a, rq, rp, f->out + f->head_used, f->out_len - f->head_used);
}

static void fcgi_relay(struct proxy_request *pr, struct proxy_async *a, int fd, struct reply *rp)
{
    struct pa_fcgi *f = &a->u.fcgi;
    struct fcgi_progress p = {.d = &f->d, .out = f->out, .out_len = f->out_len, .err = f->err,
                              .err_len = f->err_len, .ended = f->ended, .clean = f->clean,
                              .timed_out = f->timed_out};
    proxy_fcgi_continue(pr, fd, &p, rp);
}

static void fcgi_free(struct proxy_async *a)
{
    struct pa_fcgi *f = &a->u.fcgi;
    free(f->out);
    free(f->err);
    if (f->head) {
        cgi_head_free(f->head);
        free(f->head);
    }
}

const struct pa_proto pa_fcgi_proto = {
    .read = fcgi_read,
    .reset = fcgi_reset,
    .answer = fcgi_answer,
    .relay = fcgi_relay,
    .forward = proxy_fcgi_forward,
    .free = fcgi_free,
    .no_answer = "no FastCGI response from",
};

int proxy_fcgi_async_start(struct proxy_request *pr, struct reply *rp)
{
    const struct req_ctx *rq = pr->rq;
    if (rq->async == NULL || pr->w->scheme != PROXY_FCGI || http_request_body_pending(rq->req))
        return HANDLER_DECLINED;
    size_t len = 0;
    char *req = proxy_fcgi_request(pr, &len);
    struct proxy_async *a = pa_new(pr, &pa_fcgi_proto, req, len);
    if (a == NULL)
        return HANDLER_DECLINED;
    a->may_retry = 1;             /* no body was consumed: fcgi.c's rule */
    fcgi_decoder_init(&a->u.fcgi.d, FCGI_ID);
    return pa_start(pr, a, rp);
}
