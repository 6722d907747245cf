/* dispatch.c: one request from route to finished reply (dispatch.h).
 *
 * The order is Apache's: translate (Alias, Redirect: before any section
 * applies), the sections that apply to the path (route.h), Require (403),
 * the handler SetHandler chose (the static-file handler by default), then
 * ErrorDocument for an error answer, then Expires, then Header.  Runs on the listener
 * thread (only what cannot block) and on handler threads; everything lives
 * on the caller's stack. */
#include "config.h"

#include "mpmd/http/dispatch.h"

#include <stdarg.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpmd/core/dirconf.h"
#include "mpmd/core/log.h"

#define TEXT_HTML_LATIN1 "text/html; charset=iso-8859-1"   /* Apache's, for ErrorDocument text */

const void *handler_site_conf(const struct req_ctx *rq, const struct conf_module *m)
{
    int i = module_index(m);
    return i < 0 ? NULL : rq->site->dir.module[i];
}

void handler_addr_text(const struct sockaddr *sa, char *buf, size_t len, int *port)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    int p = 0;
    snprintf(buf, len, "unknown");
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, buf, (socklen_t)len);
        p = ntohs(s4->sin_port);
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        if (memcmp(s6->sin6_addr.s6_addr, mapped, 12) == 0)
            inet_ntop(AF_INET, s6->sin6_addr.s6_addr + 12, buf, (socklen_t)len);
        else
            inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)len);
        p = ntohs(s6->sin6_port);
    }
    if (port)
        *port = p;
}

void *handler_state(const struct req_ctx *rq, const struct handler *h)
{
    int i = module_index(h->conf);
    return i < 0 ? NULL : rq->env->state[i];
}

static int is_success(int status);

/* The modules' output steps (handler.h's finish: Expires), in registry order. */
static void run_finish_steps(const struct req_ctx *rq, struct reply *rp, int server_made)
{
    for (int i = 0; mpmd_handlers[i]; i++)
        if (mpmd_handlers[i]->finish)
            mpmd_handlers[i]->finish(rq, rp, server_made);
}

int handler_stream_begin(const struct req_ctx *rq, struct reply *rp, int flush)
{
    if (rq->stream == NULL)
        return -1;
    run_finish_steps(rq, rp, 0);
    route_apply_headers(rq->route, &rp->out.head, !is_success(rp->status));
    return rq->stream->begin(rq->stream->ctx, rp, flush);
}

int handler_local_addr(const struct req_ctx *rq, struct sockaddr_storage *out)
{
    if (rq->stream)
        return rq->stream->local_addr(rq->stream->ctx, out);
    return rq->async ? rq->async->local_addr(rq->async->ctx, out) : -1;
}

int handler_stream_write(const struct req_ctx *rq, const char *buf, size_t len, int last)
{
    return rq->stream ? rq->stream->write(rq->stream->ctx, buf, len, last) : -1;
}

int handler_stream_tunnel(const struct req_ctx *rq, int fd, const char *pending, size_t len,
                          int idle_s)
{
    return rq->stream ? rq->stream->tunnel(rq->stream->ctx, fd, pending, len, idle_s) : -1;
}

struct handler_waiter *handler_suspend(const struct req_ctx *rq,
                                       const struct handler_async_ops *ops, void *state,
                                       int timeout_ms)
{
    return rq->async ? rq->async->suspend(rq->async->ctx, ops, state, timeout_ms) : NULL;
}

ssize_t handler_read_body(const struct req_ctx *rq, char *buf, size_t len, int *status)
{
    if (rq->body == NULL) {
        *status = 500;
        return -1;
    }
    return rq->body->read(rq->body->ctx, buf, len, status);
}

int handler_dir_confs(const struct req_ctx *rq, const struct conf_module *m, const void **out,
                      int max)
{
    int i = module_index(m), n = 0;
    if (i < 0)
        return 0;
    for (int k = 0; k < rq->route->n_chain && n < max; k++) {
        const struct dirconf *d = rq->route->chain[k];
        /* A virtual host's own object is merged with the main server's already. */
        if (d->module[i] && d != rq->site->main_dir)
            out[n++] = d->module[i];
    }
    return n;
}

/* A Host value safe to copy into a Location: host name or IP literal and
 * an optional port. */
static int host_is_clean(const char *h, size_t len)
{
    if (len == 0 || len > 255)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']'))
            return 0;
    }
    return 1;
}

size_t handler_absolute_url(const struct req_ctx *rq, const char *path, size_t len, char *out,
                            size_t cap)
{
    size_t hlen = 0;
    const char *host = http_request_host(rq->req, &hlen);
    if (host == NULL || !host_is_clean(host, hlen)) {
        host = rq->site->server_name;
        hlen = strlen(host);
    }
    int n = snprintf(out, cap, "%s://%.*s%.*s", rq->tls ? "https" : "http", (int)hlen, host,
                     (int)len, path);
    return n < 0 || (size_t)n >= cap ? cap : (size_t)n;
}

/* The peer as text, for log lines. */
static const char *peer_text(const struct sockaddr *sa, char *buf, size_t len)
{
    const void *a = sa->sa_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                                              : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
    if (inet_ntop(sa->sa_family, a, buf, (socklen_t)len) == NULL)
        snprintf(buf, len, "-");
    return buf;
}

/* The access log's %u for RP: USER (NULL or "": none). */
static void note_user(struct reply *rp, const char *user)
{
    size_t n = user ? strnlen(user, sizeof rp->user - 1) : 0;
    memcpy(rp->user, user ? user : "", n);
    rp->user[n] = '\0';
}

/* Require RULE for RQ (NULL: none applies, granted unless the
 * authentication module objects): granted without a user, else refused (403), else
 * (a user could be let in) the authentication module's answer: USER
 * (ACCESS_USER_MAX bytes) gets the user the credentials name, "" for
 * none; RQ runs as that user only when granted. */
static int check_access(const struct req_ctx *rq, const struct authz *rule, struct reply *rp,
                        int listener, char *user)
{
    user[0] = '\0';
    if (rule == NULL) {           /* authentication configured without Require? */
        for (int i = 0; mpmd_handlers[i]; i++)
            if (mpmd_handlers[i]->authorize)
                return mpmd_handlers[i]->authorize(rq, NULL, rp, listener, user,
                                                   ACCESS_USER_MAX);
        return ACCESS_GRANTED;
    }
    enum authz_result r = authz_eval(rule, rq->peer, NULL);
    if (r == AZ_GRANTED)
        return ACCESS_GRANTED;
    if (r == AZ_DENIED_NO_USER) {
        for (int i = 0; mpmd_handlers[i]; i++)
            if (mpmd_handlers[i]->authorize)
                return mpmd_handlers[i]->authorize(rq, rule, rp, listener, user,
                                                   ACCESS_USER_MAX);
        handler_log(rq, LOGM_CORE, LOGL_ERROR, "Require needs a user but no module "
                    "authenticates: %s", rq->route->path);
        reply_error(rp, rq->date, 500);
        return ACCESS_ANSWERED;
    }
    char who[64];
    handler_log(rq, LOGM_CORE, LOGL_ERROR, "client %s denied by server configuration: %s",
                peer_text(rq->peer, who, sizeof who), rq->route->path);
    reply_error(rp, rq->date, 403);
    return ACCESS_ANSWERED;
}

/* Route RQ (whose route is RT, begun) and run its handler.  *SERVER_MADE
 * is set when the answer did not come from a handler (a redirect, a
 * Require refusal).  Returns DISPATCH_DONE, or on the listener
 * DISPATCH_DECLINED or DISPATCH_SUSPENDED. */
static int run(const struct req_ctx *rq, struct route *rt, struct reply *rp, int listener,
               int *server_made)
{
    *server_made = 0;
    for (int i = 0; mpmd_handlers[i]; i++)
        if (mpmd_handlers[i]->translate &&
            mpmd_handlers[i]->translate(rq, rt, rp) == HANDLER_DONE) {
            route_sections(rt, 0);
            *server_made = 1;
            return 1;
        }
    route_sections(rt, 1);
    const struct authz *rule = route_require(rt);
    struct req_ctx authed;
    char user[ACCESS_USER_MAX];
    if (rq->peer) {
        int a = check_access(rq, rule, rp, listener, user);
        if (a == ACCESS_THREAD)
            return DISPATCH_DECLINED;
        if (a == ACCESS_ANSWERED) {
            note_user(rp, user);
            *server_made = 1;
            return 1;
        }
        if (a == ACCESS_GRANTED && user[0]) {
            authed = *rq;
            authed.user = user;
            rq = &authed;
        }
    }
    const struct handler *h = mpmd_handlers[route_handler_index(rt)];
    if (listener) {
        int r = h->fast ? h->fast(rq, rp) : HANDLER_DECLINED;
        if (r == HANDLER_DONE)
            note_user(rp, rq->user);
        return r == HANDLER_DONE ? DISPATCH_DONE
                                 : r == HANDLER_SUSPENDED ? DISPATCH_SUSPENDED : DISPATCH_DECLINED;
    }
    h->handle(rq, rp);
    note_user(rp, rq->user);
    return DISPATCH_DONE;
}

/* What an error answer keeps when an ErrorDocument replaces it, as
 * Apache keeps err_headers_out: a 401's challenge, the logged user. */
struct kept {
    char challenge[512];
    size_t clen;                  /* 0: none */
    char user[REPLY_USER_MAX];
};

static void keep_take(struct kept *k, const struct reply *rp)
{
    size_t len = 0;
    const char *v = rp->status == 401
                        ? response_head_get(&rp->out.head, "WWW-Authenticate", &len) : NULL;
    k->clen = v && len <= sizeof k->challenge ? len : 0;
    if (k->clen)
        memcpy(k->challenge, v, k->clen);
    memcpy(k->user, rp->user, sizeof k->user);
}

static void keep_put(const struct kept *k, struct reply *rp)
{
    if (k->clen && rp->status == 401)
        response_head_add(&rp->out.head, "WWW-Authenticate", k->challenge, k->clen);
    memcpy(rp->user, k->user, sizeof rp->user);
}

/* The local ErrorDocument page PATH for the error in RP: served as a GET
 * of PATH through the whole pipeline, under the original status.  Returns
 * 0 when the listener must hand the request over, 1 otherwise; *RT2 is the
 * page's route when it replaced RP (*USED set). */
static int error_page(const struct req_ctx *rq, const char *path, struct reply *rp,
                      struct route *rt2, int listener, int *used)
{
    struct req_ctx sub = *rq;
    struct reply page;
    sub.stream = NULL;     /* the page is sent under another status: not streamed */
    sub.async = NULL;      /* nor suspended */
    sub.resumed = NULL;
    int server_made;
    const char *q = strchr(path, '?');
    *used = 0;
    route_begin(rt2, rq->site, path, q ? (size_t)(q - path) : strlen(path));
    sub.route = rt2;
    sub.method = HTTP_GET;
    if (run(&sub, rt2, &page, listener, &server_made) != DISPATCH_DONE)
        return 0;
    if (page.status != 200) {           /* the page itself failed: the plain error */
        reply_release(&page.out);
        return 1;
    }
    int status = rp->status, must_close = rp->must_close;
    struct kept k;
    keep_take(&k, rp);
    reply_release(&rp->out);
    *rp = page;
    rp->status = status;
    rp->must_close = must_close;
    response_head_set_status(&rp->out.head, status);
    keep_put(&k, rp);
    *used = 1;
    return 1;
}

/* ErrorDocument text or URL for RP's error. */
static void error_text_or_url(const struct req_ctx *rq, const struct error_doc *e,
                              struct reply *rp)
{
    int must_close = rp->must_close;
    struct kept k;
    keep_take(&k, rp);
    reply_release(&rp->out);
    if (e->kind == ERRDOC_URL)
        reply_redirect(rp, rq->date, 302, e->text, strlen(e->text));
    else
        reply_text(rp, rq->date, rp->status, TEXT_HTML_LATIN1, e->text, strlen(e->text));
    rp->must_close = must_close;
    keep_put(&k, rp);
}

static int is_success(int status)
{
    return (status >= 200 && status < 300) || status == 304;
}

/* ErrorDocument and Header for RP, the answer to RQ along RT. */
static int finish(const struct req_ctx *rq, const struct route *rt, struct reply *rp,
                  int listener, int server_made)
{
    struct route page_rt;
    const struct route *final = rt;
    int error = server_made || !is_success(rp->status);
    const struct error_doc *e =
        rp->status >= 400 && !rp->relayed ? route_error_doc(rt, rp->status) : NULL;
    if (e && e->kind == ERRDOC_LOCAL) {
        int used;
        if (!error_page(rq, e->text, rp, &page_rt, listener, &used)) {
            reply_release(&rp->out);
            return 0;
        }
        if (used)
            final = &page_rt, error = 0;
    } else if (e) {
        error_text_or_url(rq, e, rp);
    }
    run_finish_steps(rq, rp, server_made);   /* before Header, as mod_expires before mod_headers */
    route_apply_headers(final, &rp->out.head, error);
    return 1;
}

#define MAX_LOCAL_REDIRECTS 10   /* Apache's LimitInternalRecursion */

/* A script answered "Location: /path" alone (RFC 3875 6.2.2): answer
 * with a GET of that path instead, the query the Location gives. */
static int local_redirect(const struct req_ctx *rq, struct reply *rp)
{
    struct route rt;
    struct req_ctx sub = *rq;
    char *target = NULL;
    int server_made = 0;
    for (int depth = 0; rp->local_redirect; depth++) {
        free(target);
        target = rp->local_redirect;
        rp->local_redirect = NULL;
        reply_release(&rp->out);
        if (depth == MAX_LOCAL_REDIRECTS) {
            handler_log(rq, LOGM_CORE, LOGL_ERROR,
                        "more than %d local redirects (CGI Location) in a row; the last to %s",
                        MAX_LOCAL_REDIRECTS, target);
            reply_error(rp, rq->date, 500);
            free(target);
            return 1;
        }
        const char *q = strchr(target, '?');
        size_t plen = q ? (size_t)(q - target) : strlen(target);
        route_begin(&rt, rq->site, target, plen);
        sub.route = &rt;
        sub.method = HTTP_GET;
        sub.resumed = NULL;
        sub.query = q ? q + 1 : "";
        sub.query_len = q ? strlen(q + 1) : 0;
        run(&sub, &rt, rp, 0, &server_made);
    }
    int r = rp->streamed ? 1 : finish(&sub, &rt, rp, 0, server_made);
    free(target);
    return r;
}

static int dispatch_unfiltered(const struct dispatch_in *in, struct reply *rp, int listener,
                               const struct req_ctx **rq_out);

/* ---- output filters on streamed responses ------------------------------------
 * A handler thread's stream goes through this wrapper: at the head, the
 * registry's filters (handler.h: compression) may take the stream; from
 * then on every write goes through the one that did, never buffered
 * whole. */
struct filtered_stream {
    const struct reply_stream *inner;
    const struct req_ctx *rq;
    const struct stream_filter *filter;   /* the one that took it, or NULL */
    void *state;
};

static int filtered_begin(void *ctx, struct reply *rp, int flush)
{
    struct filtered_stream *fs = ctx;
    for (int i = 0; mpmd_handlers[i] && fs->filter == NULL; i++) {
        const struct stream_filter *f = mpmd_handlers[i]->filter;
        if (f && f->begin(fs->rq, rp, &fs->state) == -1)
            return -1;
        if (f && fs->state)
            fs->filter = f;
    }
    return fs->inner->begin(fs->inner->ctx, rp, flush);
}

static int filtered_emit(void *ctx, const char *buf, size_t len, int last)
{
    struct filtered_stream *fs = ctx;
    return fs->inner->write(fs->inner->ctx, buf, len, last);
}

static int filtered_write(void *ctx, const char *buf, size_t len, int last)
{
    struct filtered_stream *fs = ctx;
    if (fs->filter == NULL)
        return fs->inner->write(fs->inner->ctx, buf, len, last);
    return fs->filter->write(fs->state, buf, len, last, filtered_emit, fs);
}

static int filtered_tunnel(void *ctx, int fd, const char *pending, size_t len, int idle_s)
{
    struct filtered_stream *fs = ctx;
    return fs->inner->tunnel(fs->inner->ctx, fd, pending, len, idle_s);
}

static int filtered_local_addr(void *ctx, struct sockaddr_storage *out)
{
    struct filtered_stream *fs = ctx;
    return fs->inner->local_addr(fs->inner->ctx, out);
}

int dispatch_request(const struct dispatch_in *in, struct reply *rp, int listener)
{
    if (!listener && in->stream) {
        struct filtered_stream fs = {.inner = in->stream};
        struct reply_stream filtered = {filtered_begin, filtered_write, filtered_tunnel,
                                        filtered_local_addr, &fs};
        struct dispatch_in fin = *in;
        fin.stream = &filtered;
        int r = dispatch_unfiltered(&fin, rp, listener, &fs.rq);
        if (fs.filter)
            fs.filter->end(fs.state);
        return r;
    }
    return dispatch_unfiltered(in, rp, listener, NULL);
}

/* dispatch_request, the stream (if any) filtered already; *RQ_OUT (when
 * not NULL) learns the request's context for the filter. */
static int dispatch_unfiltered(const struct dispatch_in *in, struct reply *rp, int listener,
                               const struct req_ctx **rq_out)
{
    struct route rt;
    const char *raw, *query;
    size_t rawlen = 0;
    if (http_request_path(in->req, &raw, &rawlen, &query) != 0)
        raw = NULL;
    struct req_ctx rq = {.req = in->req, .site = in->site, .route = &rt,
                         .method = in->req->parser.method, .peer = in->peer, .env = in->env,
                         .log = log_for_site(in->env->log, in->site->site_id),
                         .date = in->date, .body = listener ? NULL : in->body,
                         .stream = listener ? NULL : in->stream,
                         .async = listener ? in->async : NULL, .resumed = in->resumed,
                         .start_us = in->start_us, .tls = in->tls};
    if (rq_out)
        *rq_out = &rq;
    route_begin(&rt, in->site, raw, rawlen);
    int server_made;
    int r = run(&rq, &rt, rp, listener, &server_made);
    if (r != DISPATCH_DONE)
        return r;
    if (rp->local_redirect && !rp->streamed)
        return local_redirect(&rq, rp);
    if (rp->streamed)
        return 1;         /* sent as it came, Header directives included */
    return finish(&rq, &rt, rp, listener, server_made);
}

const char *handler_query(const struct req_ctx *rq, size_t *len)
{
    const char *path, *query = NULL;
    size_t plen;
    *len = 0;
    if (rq->query) {
        *len = rq->query_len;
        return rq->query;
    }
    if (http_request_path(rq->req, &path, &plen, &query) != 0 || query == NULL)
        return NULL;
    const char *url = rq->req->buf + rq->req->url_off;
    *len = (size_t)(url + rq->req->url_len - query - 1);
    return query + 1;
}

void handler_log(const struct req_ctx *rq, int module, int level, const char *fmt, ...)
{
    if (!log_enabled(rq->log, module, level))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_reqmsg(rq->log, module, level, rq->peer, rq->site ? rq->site->server_name : NULL, fmt,
               ap);
    va_end(ap);
}
