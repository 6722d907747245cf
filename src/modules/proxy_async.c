/* proxy_async.c: an HTTP request passed upstream without a thread (MPM
 * event; proxy.h).  Runs on the listener thread, from the proxy's fast
 * entry point and then from the events of the suspended request
 * (handler.h's "answering later"); the state it builds is freed by the
 * dispatch that resumes the request.
 *
 * A request with no body that asks for no upgrade takes a pooled
 * connection (or starts a new one) without waiting, its head goes out
 * and the connection's readiness is awaited in the listener's event
 * loop, as nginx does: no thread is woken and none waits.  The response
 * is read into one buffer (PROXY_RESPONSE_HEAD_MAX); when it is complete
 * in it, the request is dispatched again on the listener, which answers
 * with the body from memory.  A response that does not fit, that says it
 * streams (text/event-stream, X-Accel-Buffering: no), or whose body
 * stalls for ASYNC_PATIENCE_MS goes to a handler thread as it stands,
 * which relays it streamed (proxy_http.c): what the listener read is
 * re-parsed there, so both paths relay the same bytes the same way.
 *
 * Errors answer as the thread path does: 502 for refusals and garbage,
 * 504 for timeouts, 503 in a retry= time; a pooled connection that fails
 * before any byte of the response came back is retried once on a new one
 * (GET, HEAD and the other idempotent methods). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpmd/core/config.h"
#include "mpmd/core/log.h"
#include "mpmd/modules/proxy.h"
#include "mpmd/modules/proxy_resp.h"

/* How long a response body may pause before it is streamed by a thread
 * rather than gathered here. */
#define ASYNC_PATIENCE_MS 20

enum phase { PA_CONNECT, PA_SEND, PA_HEAD, PA_BODY, PA_DONE, PA_FAILED };

struct proxy_async {
    struct handler_waiter *waiter;
    struct upstream_pool *pool;
    int fd;                       /* the upstream connection; -1 once given back */
    enum phase phase;
    int reused, retried;
    int timeout_ms, connect_ms, retry_s, ttl_s;
    int idempotent, head_request;
    char *req;                    /* the request head to send */
    size_t req_len, req_sent;
    struct proxy_resp resp;       /* raw bytes read, the head parsed */
    http_parser hp;               /* the body's framing, fed from resp */
    size_t fed;                   /* bytes of resp handed to hp */
    int message_done;             /* hp saw the message's end */
    size_t body_end;              /* PA_DONE: where the message ends in resp */
    int fail_errno;               /* PA_FAILED: errno, or 0 with resp.error set */
    const char *fail_what;        /* PA_FAILED: for proxy_fail_status */
};

/* What the state waits for next. */
struct pa_want {
    short what;
    int ms;
};

static void pa_free(struct proxy_async *a)
{
    if (a->fd != -1)
        upstream_release(a->pool, a->fd, 0);
    proxy_resp_free(&a->resp);
    free(a->req);
    free(a);
}

static int on_message_complete(http_parser *p)
{
    struct proxy_async *a = p->data;
    a->message_done = 1;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings body_settings = {.on_message_complete = on_message_complete};

/* The exchange failed: E (errno; 0 when resp.error says why) while WHAT. */
static enum handler_wake pa_fail(struct proxy_async *a, int e, const char *what)
{
    a->phase = PA_FAILED;
    a->fail_errno = e;
    a->fail_what = what;
    if (a->fd != -1) {
        upstream_release(a->pool, a->fd, 0);
        a->fd = -1;
    }
    return HANDLER_WAKE_LISTENER;
}

static enum handler_wake pa_connect_failed(struct proxy_async *a, int e)
{
    upstream_mark_failed(a->pool, a->retry_s);
    return pa_fail(a, e, "cannot connect to");
}

/* A connection to send on: a pooled one, or a new one.  PA_SEND or
 * PA_CONNECT; else a wake (an error, or a thread when every connection is
 * busy: it waits for one, and forwards from the start). */
static int pa_acquire(struct proxy_async *a, enum handler_wake *wake)
{
    int pending = 0;
    a->fd = upstream_acquire_nowait(a->pool, a->ttl_s, &a->reused, &pending);
    if (a->fd == -1) {
        int e = errno;
        if (e == EAGAIN) {
            *wake = HANDLER_WAKE_THREAD;
        } else if (e == EHOSTDOWN) {
            *wake = pa_fail(a, e, "cannot connect to");
        } else {
            *wake = pa_connect_failed(a, e);
        }
        return -1;
    }
    a->phase = pending ? PA_CONNECT : PA_SEND;
    a->req_sent = 0;
    return 0;
}

/* The connection failed with E before any byte of a response: once more
 * on another when the pool gave it (the upstream may have closed it as it
 * was taken), else the error. */
static enum handler_wake pa_lost(struct proxy_async *a, int e, struct pa_want *want);

static enum handler_wake pa_step(struct proxy_async *a, short what, struct pa_want *want);

/* Head complete in resp: decide how the body is read, or hand over. */
static enum handler_wake pa_head_done(struct proxy_async *a, int *go_on)
{
    struct proxy_resp *r = &a->resp;
    size_t n;
    *go_on = 0;
    if (r->status == 101) {
        r->error = "a 101 answer to a request that asked for no upgrade";
        return pa_fail(a, 0, NULL);
    }
    const char *type = proxy_resp_field(r, "Content-Type", &n);
    const char *accel = proxy_resp_field(r, "X-Accel-Buffering", &n);
    if ((type && n >= 17 && strncasecmp(type, "text/event-stream", 17) == 0) ||
        (accel && n == 2 && strncasecmp(accel, "no", 2) == 0))
        return HANDLER_WAKE_THREAD;           /* it streams: relay it as it comes */
    int ended = proxy_resp_body_parser(r, &a->hp, a->head_request);
    a->hp.data = a;
    a->fed = r->head_len;
    if (r->no_body || ended || a->head_request) {
        a->message_done = 1;
        return HANDLER_WAKE_LISTENER;         /* pa_parse finishes it */
    }
    a->phase = PA_BODY;
    *go_on = 1;
    return HANDLER_WAIT;
}

/* The message is in: the connection goes back to the pool when the
 * upstream keeps it and sent nothing past the message. */
static enum handler_wake pa_done(struct proxy_async *a)
{
    const struct proxy_resp *r = &a->resp;
    int keep = r->no_body || a->head_request || http_should_keep_alive(&a->hp);
    int reusable = a->ttl_s > 0 && r->keep_alive && keep && a->fed == r->len;
    a->body_end = a->fed;
    a->phase = PA_DONE;
    upstream_release(a->pool, a->fd, reusable);
    a->fd = -1;
    return HANDLER_WAKE_LISTENER;
}

/* New bytes are in resp: parse the head, then feed the body's framing.
 * HANDLER_WAIT (with *GO_ON) when more is needed, else a wake. */
static enum handler_wake pa_parse(struct proxy_async *a, int *go_on)
{
    struct proxy_resp *r = &a->resp;
    *go_on = 1;
    if (a->phase == PA_HEAD) {
        int p = proxy_resp_parse(r);
        if (p == 0)
            return HANDLER_WAIT;
        if (p == -1)
            return pa_fail(a, 0, NULL);
        enum handler_wake w = pa_head_done(a, go_on);
        if (a->message_done)
            return pa_done(a);
        if (!*go_on)
            return w;
    }
    if (r->len == a->fed)
        return HANDLER_WAIT;      /* (a length of 0 would tell http_parser of an EOF) */
    size_t used = http_parser_execute(&a->hp, &body_settings, r->head + a->fed, r->len - a->fed);
    a->fed += used;
    if (a->message_done)
        return pa_done(a);
    if (HTTP_PARSER_ERRNO(&a->hp) != HPE_OK) {
        r->error = "a malformed response body";
        return pa_fail(a, 0, NULL);
    }
    return HANDLER_WAIT;
}

/* The upstream closed (E: EPIPE) or failed (E) while the response came. */
static enum handler_wake pa_ended(struct proxy_async *a, int e, struct pa_want *want)
{
    if (a->phase == PA_HEAD && a->resp.len == 0)
        return pa_lost(a, e, want);
    if (a->phase == PA_BODY && e == EPIPE) {
        http_parser_execute(&a->hp, &body_settings, NULL, 0);  /* ends a close-delimited body */
        if (a->message_done)
            return pa_done(a);
    }
    return pa_fail(a, e, "incomplete response from");
}

/* Read what the upstream sent.  HANDLER_WAIT with *WANT set, or a wake. */
static enum handler_wake pa_read(struct proxy_async *a, struct pa_want *want)
{
    struct proxy_resp *r = &a->resp;
    for (;;) {
        if (r->len == r->cap)             /* a head too large fails in pa_parse */
            return HANDLER_WAKE_THREAD;   /* too long to hold: streamed */
        ssize_t n = recv(a->fd, r->head + r->len, r->cap - r->len, 0);
        if (n > 0) {
            int go_on;
            r->len += (size_t)n;
            enum handler_wake w = pa_parse(a, &go_on);
            if (!go_on || w != HANDLER_WAIT)
                return w;
            continue;
        }
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            want->what = HANDLER_EV_READ;
            want->ms = a->phase == PA_HEAD ? a->timeout_ms : ASYNC_PATIENCE_MS;
            return HANDLER_WAIT;
        }
        return pa_ended(a, n == 0 ? EPIPE : errno, want);
    }
}

static enum handler_wake pa_lost(struct proxy_async *a, int e, struct pa_want *want)
{
    if (!a->reused || a->retried || !a->idempotent)
        return pa_fail(a, e, "no response from");
    upstream_release(a->pool, a->fd, 0);
    a->fd = -1;
    a->retried = 1;
    proxy_resp_reset(&a->resp);
    enum handler_wake wake;
    if (pa_acquire(a, &wake) == -1)
        return wake;
    return pa_step(a, 0, want);
}

/* Send the rest of the request head. */
static enum handler_wake pa_send(struct proxy_async *a, struct pa_want *want)
{
    while (a->req_sent < a->req_len) {
        ssize_t n = send(a->fd, a->req + a->req_sent, a->req_len - a->req_sent, MSG_NOSIGNAL);
        if (n > 0) {
            a->req_sent += (size_t)n;
            continue;
        }
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            want->what = HANDLER_EV_WRITE;
            want->ms = a->timeout_ms;
            return HANDLER_WAIT;
        }
        return pa_lost(a, errno, want);
    }
    a->phase = PA_HEAD;
    want->what = HANDLER_EV_READ;
    want->ms = a->timeout_ms;
    return HANDLER_WAIT;       /* the answer cannot be there yet: wait for it */
}

/* Go on after WHAT happened (0: nothing yet, start the phase) until the
 * exchange must wait (HANDLER_WAIT, *WANT set) or is over. */
static enum handler_wake pa_step(struct proxy_async *a, short what, struct pa_want *want)
{
    int timed_out = what & HANDLER_EV_TIMEOUT;
    switch (a->phase) {
    case PA_CONNECT:
        if (what == 0) {
            want->what = HANDLER_EV_WRITE;
            want->ms = a->connect_ms;
            return HANDLER_WAIT;
        }
        if (timed_out)
            return pa_connect_failed(a, ETIMEDOUT);
        {
            int e = upstream_connect_result(a->fd);
            if (e != 0)
                return pa_connect_failed(a, e);
        }
        a->phase = PA_SEND;
        return pa_send(a, want);
    case PA_SEND:
        if (timed_out)
            return pa_fail(a, ETIMEDOUT, "no response from");
        return pa_send(a, want);
    case PA_HEAD:
        if (timed_out)
            return pa_fail(a, ETIMEDOUT, a->resp.len ? "incomplete response from"
                                                     : "no response from");
        return pa_read(a, want);
    case PA_BODY:
        if (timed_out)
            return HANDLER_WAKE_THREAD;   /* a slow body: streamed as it comes */
        return pa_read(a, want);
    default:
        return HANDLER_WAKE_LISTENER;
    }
}

static enum handler_wake pa_event(void *state, short what)
{
    struct proxy_async *a = state;
    struct pa_want want = {0, 0};
    enum handler_wake w = pa_step(a, what, &want);
    if (w == HANDLER_WAIT && handler_watch(a->waiter, a->fd, want.what, want.ms) == -1)
        return pa_fail(a, EIO, "cannot wait for");
    return w;
}

static void pa_cancel(void *state)
{
    pa_free(state);
}

void proxy_async_drop(void *state)
{
    if (state)
        pa_free(state);
}

static const struct handler_async_ops pa_ops = {pa_event, pa_cancel};

static int idempotent(int method)
{
    return method == HTTP_GET || method == HTTP_HEAD || method == HTTP_OPTIONS ||
           method == HTTP_PUT || method == HTTP_DELETE || method == HTTP_TRACE;
}

/* A new state for PR's request, its head built; NULL when out of memory. */
static struct proxy_async *pa_new(const struct proxy_request *pr)
{
    struct proxy_async *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    a->fd = -1;
    a->pool = pr->pool;
    a->timeout_ms = pr->timeout * 1000;
    a->connect_ms = pr->connect_timeout * 1000;
    a->retry_s = pr->w->retry;
    a->ttl_s = pr->ttl;
    a->idempotent = idempotent(pr->rq->req->parser.method);
    a->head_request = pr->rq->req->parser.method == HTTP_HEAD;
    a->req = proxy_http_request_head(pr, &a->req_len);
    if (a->req == NULL || proxy_resp_init(&a->resp, PROXY_RESPONSE_HEAD_MAX,
                                          pr->w->response_field_size,
                                          pr->rq->env->cfg->limit_request_fields) == -1) {
        free(a->req);
        free(a);
        return NULL;
    }
    return a;
}

int proxy_async_start(struct proxy_request *pr, struct reply *rp)
{
    const struct request *r = pr->rq->req;
    if (pr->rq->async == NULL || pr->w->scheme != PROXY_HTTP || http_request_body_pending(r) ||
        proxy_http_wants_upgrade(pr))
        return HANDLER_DECLINED;
    struct proxy_async *a = pa_new(pr);
    if (a == NULL)
        return HANDLER_DECLINED;
    enum handler_wake w;
    struct pa_want want = {0, 0};
    if (pa_acquire(a, &w) == 0)
        w = pa_step(a, 0, &want);
    if (w == HANDLER_WAIT) {
        a->waiter = handler_suspend(pr->rq, &pa_ops, a, a->fd, want.what, want.ms);
        if (a->waiter != NULL)
            return HANDLER_SUSPENDED;
        pa_fail(a, ENOMEM, "cannot wait for");
    }
    if (a->phase == PA_FAILED)
        return proxy_async_answer(pr, a, rp);
    pa_free(a);                   /* every connection busy: a thread waits for one */
    return HANDLER_DECLINED;
}

/* reply_out.release for a body held in the state's buffer. */
static void release_state(void *state, void *unused)
{
    (void)unused;
    pa_free(state);
}

struct compact {
    char *to;                     /* where the next decoded byte goes */
};

static int compact_body(http_parser *p, const char *at, size_t len)
{
    struct compact *c = p->data;
    memmove(c->to, at, len);      /* decoded bytes never run ahead of raw ones */
    c->to += len;
    return 0;
}

/* Decode the complete body in the buffer in place (chunked framing
 * removed); its length. */
static size_t decode_body(struct proxy_async *a)
{
    struct proxy_resp *r = &a->resp;
    http_parser hp;
    http_parser_settings st;
    http_parser_settings_init(&st);
    st.on_body = compact_body;
    struct compact c = {r->head + r->head_len};
    proxy_resp_body_parser(r, &hp, 0);
    hp.data = &c;
    if (a->body_end > r->head_len)
        http_parser_execute(&hp, &st, r->head + r->head_len, a->body_end - r->head_len);
    return (size_t)(c.to - (r->head + r->head_len));
}

int proxy_async_answer(struct proxy_request *pr, void *state, struct reply *rp)
{
    struct proxy_async *a = state;
    const struct req_ctx *rq = pr->rq;
    if (a->phase != PA_DONE) {
        if (a->resp.error) {
            log_msg(rq->log, LOGL_ERROR, "proxy: %s: %s (answered 502)", pr->w->addr.text,
                    a->resp.error);
            reply_error(rp, rq->date, 502);
        } else {
            reply_error(rp, rq->date, proxy_fail_status(pr, a->fail_errno, a->fail_what));
        }
        pa_free(a);
        return HANDLER_DONE;
    }
    struct proxy_resp *r = &a->resp;
    if (proxy_http_reply_head(pr, r, rp) == -1) {
        pa_free(a);
        return HANDLER_DONE;
    }
    rp->relayed = 1;
    if (r->no_body || a->head_request) {
        pa_free(a);
        return HANDLER_DONE;
    }
    size_t len = decode_body(a), n;
    if (proxy_resp_field(r, "Content-Length", &n) == NULL) {
        char num[24];
        int k = snprintf(num, sizeof num, "%zu", len);
        response_head_add(&rp->out.head, "Content-Length", num, (size_t)k);
    }
    rp->out.body = r->head + r->head_len;
    rp->out.body_len = len;
    rp->out.release = release_state;
    rp->out.release_a = a;
    return HANDLER_DONE;
}

int proxy_async_relay(struct proxy_request *pr, void *state, struct reply *rp)
{
    struct proxy_async *a = state;
    if (a->fd == -1) {            /* never got a connection: from the start */
        pa_free(a);
        return proxy_http_forward(pr, rp);
    }
    int fd = a->fd;
    a->fd = -1;
    proxy_http_relay(pr, fd, &a->resp, rp);
    pa_free(a);
    return HANDLER_DONE;
}
