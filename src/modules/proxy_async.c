/* proxy_async.c: exchanges with upstreams run by the listener thread
 * for suspended requests (proxy_async.h; MPM event), and the HTTP
 * protocol's part of them.  Runs on the listener thread, from the proxy's
 * fast entry point and then from the events of the suspended request
 * (handler.h's "answering later"); the state it builds is freed by the
 * dispatch that resumes the request.
 *
 * A request with no body that asks for no upgrade takes a pooled
 * connection (or starts a new one) without waiting, its head goes out
 * and the connection's readiness is awaited in the listener's event
 * loop, as nginx does: no thread is woken and none waits.  The response
 * is read into one buffer (PA_GATHER_MAX); when it is complete in it,
 * the request is dispatched again on the listener, which answers with the
 * body from memory.  A response that does not fit, that says it streams
 * (text/event-stream, X-Accel-Buffering: no), or whose body pauses for
 * PA_PATIENCE_MS goes to a handler thread as it stands, which relays it
 * streamed (proxy_http.c): what the listener read is re-parsed there, so
 * both paths relay the same bytes the same way.
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
#include "mpmd/modules/compress.h"
#include "mpmd/modules/proxy_async.h"

/* ---- connections the listener keeps ------------------------------------------- */

static struct pa_link **link_list(struct upstream_pool *p)
{
    return (struct pa_link **)upstream_listener_slot(p);
}

/* Close L for good. */
static void link_close(struct pa_link *l)
{
    handler_unkeep(l->kept);
    close(l->fd);
    upstream_detach(l->pool);
    free(l);
}

/* Take L off its pool's idle list. */
static void link_unlist(struct pa_link *l)
{
    for (struct pa_link **p = link_list(l->pool); *p; p = &(*p)->next)
        if (*p == l) {
            *p = l->next;
            return;
        }
}

/* handler_keep's IDLE: an idle kept connection became readable (the
 * upstream closed it, or the child stops): closed.  A busy one keeps its
 * readiness for its request. */
static void link_idle(void *arg)
{
    struct pa_link *l = arg;
    if (l->busy)
        return;
    link_unlist(l);
    link_close(l);
}

/* The newest idle kept connection to P younger than TTL_S, or NULL;
 * older ones are closed (the list is in idle order). */
static struct pa_link *link_take(struct upstream_pool *p, int ttl_s)
{
    struct pa_link **list = link_list(p), *l = *list;
    if (l == NULL)
        return NULL;
    if (monotonic_ms() - l->idle_since < (long long)ttl_s * 1000) {
        *list = l->next;
        l->busy = 1;
        return l;
    }
    *list = NULL;
    while (l) {
        struct pa_link *next = l->next;
        link_close(l);
        l = next;
    }
    return NULL;
}

/* A's connection, kept from here on: L, or NULL when it cannot be. */
static struct pa_link *link_new(struct proxy_async *a)
{
    struct pa_link *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    *l = (struct pa_link){.fd = a->fd, .pool = a->pool, .busy = 1};
    l->kept = handler_keep(a->waiter, a->fd, link_idle, l);
    if (l->kept == NULL) {
        free(l);
        return NULL;
    }
    return l;
}

/* A's connection is no longer wanted: closed (REUSABLE 0) or idle again. */
static void give_back(struct proxy_async *a, int reusable)
{
    struct pa_link *l = a->link;
    if (l && reusable) {
        struct pa_link **list = link_list(l->pool);
        l->busy = 0;
        l->idle_since = monotonic_ms();
        l->next = *list;
        *list = l;
    } else if (l) {
        link_close(l);
    } else if (a->fd != -1) {
        upstream_release(a->pool, a->fd, reusable);
    }
    a->link = NULL;
    a->fd = -1;
}

/* A's kept connection goes to a handler thread: no longer watched here,
 * given back to the shared pool by the thread. */
static void link_hand_over(struct proxy_async *a)
{
    if (a->link) {
        handler_unkeep(a->link->kept);
        free(a->link);
        a->link = NULL;
    }
}

/* ---- the exchange ------------------------------------------------------------- */

void pa_free(struct proxy_async *a)
{
    give_back(a, 0);
    a->proto->free(a);
    free(a->req);
    free(a);
}

enum handler_wake pa_fail(struct proxy_async *a, int e, const char *what, const char *error)
{
    a->phase = PA_FAILED;
    a->fail_errno = e;
    a->fail_what = what;
    a->fail_error = error;
    give_back(a, 0);
    return HANDLER_WAKE_LISTENER;
}

enum handler_wake pa_done(struct proxy_async *a, int reusable)
{
    a->phase = PA_DONE;
    give_back(a, reusable && a->ttl_s > 0);
    return HANDLER_WAKE_LISTENER;
}

ssize_t pa_recv(struct proxy_async *a, void *buf, size_t cap)
{
    for (;;) {
        ssize_t n = recv(a->fd, buf, cap, 0);
        if (n > 0)
            return n;
        if (n == 0)
            return -EPIPE;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return -1;
        if (errno != EINTR)
            return -errno;
    }
}

enum handler_wake pa_wait_read(struct proxy_async *a, int begun, struct pa_want *want)
{
    want->what = HANDLER_EV_READ;
    want->ms = begun ? PA_PATIENCE_MS : a->timeout_ms;
    return HANDLER_WAIT;
}

static enum handler_wake pa_connect_failed(struct proxy_async *a, int e)
{
    upstream_mark_failed(a->pool, a->retry_s);
    return pa_fail(a, e, "cannot connect to", NULL);
}

/* A connection to send on: a pooled one, or a new one (PA_SEND or
 * PA_CONNECT); else -1 and a wake (an error, or a thread when every
 * connection is busy: it waits for one, and forwards from the start). */
static int pa_acquire(struct proxy_async *a, enum handler_wake *wake)
{
    int pending = 0;
    /* A retry takes a new connection: another kept or pooled one may be as
     * dead as the one that failed (TTL 0 closes the pool's idle ones). */
    if (a->proto->keeps && !a->retried && (a->link = link_take(a->pool, a->ttl_s)) != NULL) {
        a->fd = a->link->fd;
        a->reused = 1;
        a->phase = PA_SEND;
        a->req_sent = 0;
        return 0;
    }
    a->fd = upstream_acquire_nowait(a->pool, a->retried ? 0 : a->ttl_s, &a->reused, &pending);
    if (a->fd == -1) {
        int e = errno;
        if (e == EAGAIN)
            *wake = HANDLER_WAKE_THREAD;
        else if (e == EHOSTDOWN)
            *wake = pa_fail(a, e, "cannot connect to", NULL);
        else
            *wake = pa_connect_failed(a, e);
        return -1;
    }
    a->phase = pending ? PA_CONNECT : PA_SEND;
    a->req_sent = 0;
    return 0;
}

static enum handler_wake pa_step(struct proxy_async *a, short what, struct pa_want *want);

enum handler_wake pa_lost(struct proxy_async *a, int e, struct pa_want *want)
{
    if (!a->reused || a->retried || !a->may_retry)
        return pa_fail(a, e, a->proto->no_answer, NULL);
    give_back(a, 0);
    a->retried = 1;
    a->proto->reset(a);
    enum handler_wake wake;
    if (pa_acquire(a, &wake) == -1)
        return wake;
    return pa_step(a, 0, want);
}

/* Send the rest of the request. */
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
    a->phase = PA_READ;
    return pa_wait_read(a, 0, want);  /* the answer cannot be there yet: wait for it */
}

/* Go on after WHAT happened (0: nothing yet, start the phase) until the
 * exchange must wait (HANDLER_WAIT, *WANT set) or is over. */
static enum handler_wake pa_step(struct proxy_async *a, short what, struct pa_want *want)
{
    int timed_out = what & HANDLER_EV_TIMEOUT;
    switch (a->phase) {
    case PA_CONNECT:
        if (what == 0) {
            /* On loopback and unix sockets the connection is usually made
             * by now: send at once rather than wait to be told (a send on
             * a connection still being made fails with EAGAIN; on a refused
             * one with its error). */
            ssize_t n = send(a->fd, a->req, a->req_len, MSG_NOSIGNAL);
            if (n >= 0) {
                a->req_sent = (size_t)n;
                a->phase = PA_SEND;
                return pa_send(a, want);
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN)
                return pa_connect_failed(a, errno);
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
            return pa_fail(a, ETIMEDOUT, a->proto->no_answer, NULL);
        return pa_send(a, want);
    case PA_READ:
        return a->proto->read(a, timed_out, want);
    default:
        return HANDLER_WAKE_LISTENER;
    }
}

/* Wait as WANT says: reading a connection the listener keeps through its
 * registration (made on its first wait), anything else once. */
static int pa_watch(struct proxy_async *a, const struct pa_want *want)
{
    if (want->what == HANDLER_EV_READ && a->proto->keeps) {
        if (a->link == NULL)
            a->link = link_new(a);
        if (a->link)
            return handler_watch_kept(a->waiter, a->link->kept, want->ms);
    }
    return handler_watch(a->waiter, a->fd, want->what, want->ms);
}

static enum handler_wake pa_event(void *state, short what)
{
    struct proxy_async *a = state;
    struct pa_want want = {0, 0};
    enum handler_wake w = pa_step(a, what, &want);
    if (w == HANDLER_WAIT && pa_watch(a, &want) == -1)
        return pa_fail(a, EIO, "cannot wait for", NULL);
    if (w == HANDLER_WAKE_THREAD)
        link_hand_over(a);
    return w;
}

static void pa_cancel(void *state)
{
    pa_free(state);
}

static const struct handler_async_ops pa_ops = {pa_event, pa_cancel};

struct proxy_async *pa_new(const struct proxy_request *pr, const struct pa_proto *proto,
                           char *req, size_t len)
{
    struct proxy_async *a = req ? calloc(1, sizeof *a) : NULL;
    if (a == NULL) {
        free(req);
        return NULL;
    }
    a->proto = proto;
    a->fd = -1;
    a->pool = pr->pool;
    a->timeout_ms = pr->timeout * 1000;
    a->connect_ms = pr->connect_timeout * 1000;
    a->retry_s = pr->w->retry;
    a->ttl_s = pr->ttl;
    a->req = req;
    a->req_len = len;
    return a;
}

int pa_start(struct proxy_request *pr, struct proxy_async *a, struct reply *rp)
{
    enum handler_wake w;
    struct pa_want want = {0, 0};
    if (pa_acquire(a, &w) == 0)
        w = pa_step(a, 0, &want);
    if (w == HANDLER_WAIT) {
        a->waiter = handler_suspend(pr->rq, &pa_ops, a, want.ms);
        if (a->waiter == NULL) {
            pa_fail(a, ENOMEM, "cannot wait for", NULL);
        } else {
            if (pa_watch(a, &want) == -1) {     /* cannot watch: answer at once */
                pa_fail(a, ENOMEM, "cannot wait for", NULL);
                handler_watch(a->waiter, -1, 0, 1);
            }
            return HANDLER_SUSPENDED;
        }
    }
    if (a->phase == PA_FAILED)
        return proxy_async_answer(pr, a, rp);
    pa_free(a);                   /* every connection busy: a thread waits for one */
    return HANDLER_DECLINED;
}

int proxy_async_answer(struct proxy_request *pr, void *state, struct reply *rp)
{
    struct proxy_async *a = state;
    const struct req_ctx *rq = pr->rq;
    if (a->phase == PA_DONE)
        return a->proto->answer(pr, a, rp);
    if (a->fail_error) {
        handler_log(rq, LOGM_PROXY, LOGL_ERROR, "%s: %s (answered 502)", pr->w->addr.text,
                    a->fail_error);
        reply_error(rp, rq->date, 502);
    } else {
        reply_error(rp, rq->date, proxy_fail_status(pr, a->fail_errno, a->fail_what));
    }
    pa_free(a);
    return HANDLER_DONE;
}

/* reply_out.release for a body held in the state's buffers. */
static void release_state(void *state, void *unused)
{
    (void)unused;
    pa_free(state);
}

int pa_answer_body(struct proxy_async *a, const struct req_ctx *rq, struct reply *rp,
                   const char *body, size_t len)
{
    int st = rp->status;
    size_t n;
    rp->relayed = 1;
    /* A HEAD's length is the GET's, unknown here; 1xx, 204, 304 have none. */
    if (rq->req->parser.method == HTTP_HEAD || st < 200 || st == 204 || st == 304) {
        if (st == 200)
            compress_stream_head(rq, rp);     /* a HEAD says what the GET would */
        pa_free(a);
        return HANDLER_DONE;
    }
    if (response_head_get(&rp->out.head, "Content-Length", &n) == NULL)
        response_head_add_num(&rp->out.head, "Content-Length", (long long)len);
    if (len == 0) {
        pa_free(a);
        return HANDLER_DONE;
    }
    rp->out.body = body;
    rp->out.body_len = len;
    rp->out.release = release_state;
    rp->out.release_a = a;
    compress_reply_body(rq, rp);
    return HANDLER_DONE;
}

int proxy_async_relay(struct proxy_request *pr, void *state, struct reply *rp)
{
    struct proxy_async *a = state;
    if (a->fd == -1 && a->phase != PA_DONE) {   /* never got a connection: from the start */
        int (*forward)(struct proxy_request *, struct reply *) = a->proto->forward;
        pa_free(a);
        return forward(pr, rp);
    }
    int fd = a->fd;
    a->fd = -1;
    a->proto->relay(pr, a, fd, rp);
    pa_free(a);
    return HANDLER_DONE;
}

void proxy_async_drop(void *state)
{
    if (state)
        pa_free(state);
}

/* ---- HTTP ---------------------------------------------------------------------- */

static int on_message_complete(http_parser *p)
{
    struct proxy_async *a = p->data;
    a->u.http.message_done = 1;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings body_settings = {.on_message_complete = on_message_complete};

/* The message is in: the connection goes back to the pool when the
 * upstream keeps it and sent nothing past the message. */
static enum handler_wake http_done(struct proxy_async *a)
{
    struct pa_http *h = &a->u.http;
    const struct proxy_resp *r = &h->resp;
    int keep = r->no_body || h->head_request || r->length >= 0 || http_should_keep_alive(&h->hp);
    return pa_done(a, r->keep_alive && keep && h->fed == r->len);
}

/* Head complete in resp: decide how the body is read, or hand over.
 * HANDLER_WAIT to go on with the body. */
static enum handler_wake http_head_done(struct proxy_async *a)
{
    struct pa_http *h = &a->u.http;
    struct proxy_resp *r = &h->resp;
    size_t n;
    if (r->status == 101)
        return pa_fail(a, 0, NULL, "a 101 answer to a request that asked for no upgrade");
    const char *type = proxy_resp_field(r, "Content-Type", &n);
    if (type && n >= 17 && strncasecmp(type, "text/event-stream", 17) == 0)
        return HANDLER_WAKE_THREAD;           /* it streams: relay it as it comes */
    const char *accel = proxy_resp_field(r, "X-Accel-Buffering", &n);
    if (accel && n == 2 && strncasecmp(accel, "no", 2) == 0)
        return HANDLER_WAKE_THREAD;
    h->fed = r->head_len;
    if (r->no_body || h->head_request)
        return http_done(a);
    if (r->length >= 0)
        return HANDLER_WAIT;      /* counted, not parsed (http_parse) */
    if (proxy_resp_body_parser(r, &h->hp, 0))
        return http_done(a);
    h->hp.data = a;
    return HANDLER_WAIT;
}

/* New bytes are in resp: parse the head, then feed the body's framing.
 * HANDLER_WAIT when more is needed, else a wake. */
static enum handler_wake http_parse(struct proxy_async *a)
{
    struct pa_http *h = &a->u.http;
    struct proxy_resp *r = &h->resp;
    if (r->head_len == 0) {
        int p = proxy_resp_parse(r);
        if (p == 0)
            return HANDLER_WAIT;
        if (p == -1)
            return pa_fail(a, 0, NULL, r->error);
        enum handler_wake w = http_head_done(a);
        if (w != HANDLER_WAIT)
            return w;
    }
    if (r->length >= 0) {
        if ((long long)(r->len - r->head_len) < r->length)
            return HANDLER_WAIT;
        h->fed = r->head_len + (size_t)r->length;
        return http_done(a);
    }
    if (r->len == h->fed)
        return HANDLER_WAIT;      /* (a length of 0 would tell http_parser of an EOF) */
    h->fed += http_parser_execute(&h->hp, &body_settings, r->head + h->fed, r->len - h->fed);
    if (h->message_done)
        return http_done(a);
    if (HTTP_PARSER_ERRNO(&h->hp) != HPE_OK)
        return pa_fail(a, 0, NULL, "a malformed response body");
    return HANDLER_WAIT;
}

/* The upstream closed (E: EPIPE) or failed (E) while the response came. */
static enum handler_wake http_ended(struct proxy_async *a, int e, struct pa_want *want)
{
    struct pa_http *h = &a->u.http;
    const struct proxy_resp *r = &h->resp;
    if (r->len == 0)
        return pa_lost(a, e, want);
    if (r->head_len > 0 && r->length < 0 && e == EPIPE) {
        http_parser_execute(&h->hp, &body_settings, NULL, 0);  /* ends a close-delimited body */
        if (h->message_done)
            return http_done(a);
    }
    return pa_fail(a, e, "incomplete response from", NULL);
}

static enum handler_wake http_read(struct proxy_async *a, int timed_out, struct pa_want *want)
{
    struct pa_http *h = &a->u.http;
    struct proxy_resp *r = &h->resp;
    if (timed_out && r->head_len > 0)
        return HANDLER_WAKE_THREAD;   /* a slow body: streamed as it comes */
    if (timed_out)
        return pa_fail(a, ETIMEDOUT, r->len ? "incomplete response from" : "no response from",
                       NULL);
    for (;;) {
        if (r->len == r->cap)             /* a head too large failed in http_parse */
            return HANDLER_WAKE_THREAD;   /* too long to hold: streamed */
        ssize_t n = pa_recv(a, r->head + r->len, r->cap - r->len);
        if (n <= 0)
            return n == -1 ? pa_wait_read(a, r->head_len > 0, want) : http_ended(a, -(int)n, want);
        r->len += (size_t)n;
        enum handler_wake w = http_parse(a);
        if (w != HANDLER_WAIT)
            return w;
    }
}

static void http_reset(struct proxy_async *a)
{
    proxy_resp_reset(&a->u.http.resp);
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
static size_t decode_body(struct pa_http *h)
{
    struct proxy_resp *r = &h->resp;
    if (r->length >= 0)
        return (size_t)r->length;  /* the bytes as they came */
    http_parser hp;
    http_parser_settings st;
    http_parser_settings_init(&st);
    st.on_body = compact_body;
    struct compact c = {r->head + r->head_len};
    proxy_resp_body_parser(r, &hp, 0);
    hp.data = &c;
    if (h->fed > r->head_len)      /* the message ends there */
        http_parser_execute(&hp, &st, r->head + r->head_len, h->fed - r->head_len);
    return (size_t)(c.to - (r->head + r->head_len));
}

/* Answer from the complete response in memory; the body, if any, stays
 * in the state's buffer until sent (the reply frees the state). */
static int http_answer(struct proxy_request *pr, struct proxy_async *a, struct reply *rp)
{
    struct pa_http *h = &a->u.http;
    struct proxy_resp *r = &h->resp;
    if (proxy_http_reply_head(pr, r, rp) == -1) {
        pa_free(a);
        return HANDLER_DONE;       /* a 502 of ours */
    }
    size_t len = r->no_body || h->head_request ? 0 : decode_body(h);
    return pa_answer_body(a, pr->rq, rp, r->head + r->head_len, len);
}

static void http_relay(struct proxy_request *pr, struct proxy_async *a, int fd, struct reply *rp)
{
    proxy_http_relay(pr, fd, &a->u.http.resp, rp);
}

static void http_free(struct proxy_async *a)
{
    proxy_resp_free(&a->u.http.resp);
}

static const struct pa_proto pa_http_proto = {
    .read = http_read,
    .reset = http_reset,
    .answer = http_answer,
    .relay = http_relay,
    .forward = proxy_http_forward,
    .free = http_free,
    .no_answer = "no response from",
    .keeps = 1,
};

static int idempotent(int method)
{
    return method == HTTP_GET || method == HTTP_HEAD || method == HTTP_OPTIONS ||
           method == HTTP_PUT || method == HTTP_DELETE || method == HTTP_TRACE;
}

int proxy_async_start(struct proxy_request *pr, struct reply *rp)
{
    const struct req_ctx *rq = pr->rq;
    if (rq->async == NULL || pr->w->scheme != PROXY_HTTP || http_request_body_pending(rq->req) ||
        proxy_http_wants_upgrade(pr))
        return HANDLER_DECLINED;
    size_t len = 0;
    char *head = proxy_http_request_head(pr, &len);
    struct proxy_async *a = pa_new(pr, &pa_http_proto, head, len);
    if (a == NULL)
        return HANDLER_DECLINED;
    struct pa_http *h = &a->u.http;
    a->may_retry = idempotent(rq->req->parser.method);
    h->head_request = rq->req->parser.method == HTTP_HEAD;
    if (proxy_resp_init(&h->resp, PA_GATHER_MAX, pr->w->response_field_size,
                        rq->env->cfg->limit_request_fields) == -1) {
        free(a->req);
        free(a);
        return HANDLER_DECLINED;
    }
    return pa_start(pr, a, rp);
}
