/* proxy_http.c: passing a request to an HTTP/1.1 upstream and its
 * response back (mod_proxy_http's semantics, proxy.h), WebSocket
 * upgrades included.  Handler threads; everything is on the calling
 * thread's stack or freed before it returns, but the pooled connection.
 *
 * The request: its head rewritten (hop-by-hop fields out, Host, the
 * X-Forwarded-* fields), its body streamed as it arrives from the client
 * (Content-Length as given, chunked re-chunked, or with proxy-sendcl
 * spooled to an unlinked file to send its length).  The response: its
 * head read whole (up to limits), checked and rewritten, then the body
 * relayed as it comes (http-parser decodes its framing; the connection
 * code frames it for the client), each read written out before the next:
 * a slow client slows the upstream down, and nothing waits in a buffer.
 *
 * A reused connection that fails before any byte of a response comes
 * back is retried once on a new one (never another pooled one), for
 * idempotent methods whose body was not consumed (nginx's rule): the
 * upstream may have closed it just as it was taken from the pool. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpmd/core/config.h"
#include "mpmd/core/log.h"
#include "mpmd/modules/cgienv.h"
#include "mpmd/modules/proxy.h"
#include "mpmd/modules/proxy_resp.h"

#define BODY_CHUNK 65536
#define RESPONSE_HEAD_MAX PROXY_RESPONSE_HEAD_MAX

/* A growing text buffer (the request head). */
struct strbuf {
    char *s;
    size_t len, cap;
    int failed;
};

static void sb_add(struct strbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_str(struct strbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_field(struct strbuf *b, const char *name, const char *v, size_t vlen)
{
    sb_str(b, name);
    sb_add(b, ": ", 2);
    sb_add(b, v, vlen);
    sb_add(b, "\r\n", 2);
}

/* ---- the request head ------------------------------------------------------ */

/* Fields a proxy never relays in either direction: the hop-by-hop ones
 * and the proxy's own authentication. */
static int not_relayed(const char *name, size_t n)
{
    return http_hop_by_hop(name, n) || http_field_is(name, n, "Proxy-Authenticate") ||
           http_field_is(name, n, "Proxy-Authorization");
}

/* Whether the client asks for a WebSocket this worker may tunnel. */
int proxy_http_wants_upgrade(const struct proxy_request *pr)
{
    size_t ulen, clen;
    const struct request *r = pr->rq->req;
    const char *up = http_request_header(r, "Upgrade", &ulen);
    const char *conn = http_request_header(r, "Connection", &clen);
    return pr->w->upgrade_ws && up && conn && http_list_has(up, ulen, "websocket", 9) &&
           http_list_has(conn, clen, "upgrade", 7) && r->parser.method == HTTP_GET;
}

/* How the request body goes upstream. */
enum body_mode { BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_SPOOLED };

static void add_forwarded(const struct proxy_request *pr, struct strbuf *b)
{
    const struct request *r = pr->rq->req;
    char ip[64];
    size_t n;
    handler_addr_text(pr->rq->peer, ip, sizeof ip, NULL);
    const char *xff = pr->trusted_peer ? http_request_header(r, "X-Forwarded-For", &n) : NULL;
    sb_str(b, "X-Forwarded-For: ");
    if (xff && n > 0) {
        sb_add(b, xff, n);
        sb_add(b, ", ", 2);
    }
    sb_str(b, ip);
    sb_add(b, "\r\n", 2);
    const char *host = http_request_host(r, &n);
    if (host)
        sb_field(b, "X-Forwarded-Host", host, n);
    sb_field(b, "X-Forwarded-Server", pr->rq->site->server_name,
             strlen(pr->rq->site->server_name));
    if (pr->rq->tls)
        sb_field(b, "X-Forwarded-Proto", "https", 5);
    else
        sb_field(b, "X-Forwarded-Proto", "http", 4);
}

/* Whether the client's field NAME (N bytes) is passed on. */
static int pass_field(const struct proxy_request *pr, const char *name, size_t n,
                      const char *conn, size_t clen)
{
    if (not_relayed(name, n) || http_field_is(name, n, "Host") || http_field_is(name, n, "Content-Length") ||
        http_field_is(name, n, "Expect"))
        return 0;
    if (conn && http_list_has(conn, clen, name, n))
        return 0;               /* named in Connection: hop-by-hop too */
    if (pr->add_headers && n > 12 && strncasecmp(name, "X-Forwarded-", 12) == 0)
        return pr->trusted_peer && !http_field_is(name, n, "X-Forwarded-For") &&
               !http_field_is(name, n, "X-Forwarded-Host") && !http_field_is(name, n, "X-Forwarded-Server") &&
               !http_field_is(name, n, "X-Forwarded-Proto");
    return 1;
}

/* The head to send upstream for PR, framing the body as MODE says
 * (LENGTH: BODY_LEN bytes). */
static void build_head(const struct proxy_request *pr, struct strbuf *b, enum body_mode mode,
                       long long body_len, int websocket)
{
    const struct request *r = pr->rq->req;
    size_t clen = 0, n;
    const char *conn = http_request_header(r, "Connection", &clen);
    sb_str(b, http_method_str((enum http_method)r->parser.method));
    sb_add(b, " ", 1);
    sb_str(b, pr->target);
    sb_str(b, " HTTP/1.1\r\n");
    const char *host = pr->preserve_host ? http_request_host(r, &n) : NULL;
    if (host)
        sb_field(b, "Host", host, n);
    else
        sb_field(b, "Host", pr->w->authority, strlen(pr->w->authority));
    for (uint32_t i = 0; i < r->nhdr; i++) {
        const char *name = r->buf + r->hdr[i].name_off;
        size_t nlen = r->hdr[i].name_len;
        if (pass_field(pr, name, nlen, conn, clen)) {
            sb_add(b, name, nlen);
            sb_add(b, ": ", 2);
            sb_add(b, r->buf + r->hdr[i].value_off, r->hdr[i].value_len);
            sb_add(b, "\r\n", 2);
        }
    }
    if (pr->add_headers)
        add_forwarded(pr, b);
    if (websocket) {
        const char *up = http_request_header(r, "Upgrade", &n);
        sb_field(b, "Upgrade", up, n);
        sb_str(b, "Connection: Upgrade\r\n");
    }
    if (mode == BODY_LENGTH || mode == BODY_SPOOLED) {
        char num[32];
        int k = snprintf(num, sizeof num, "%lld", body_len);
        sb_field(b, "Content-Length", num, (size_t)k);
    } else if (mode == BODY_CHUNKED) {
        sb_str(b, "Transfer-Encoding: chunked\r\n");
    }
    sb_add(b, "\r\n", 2);
}

char *proxy_http_request_head(const struct proxy_request *pr, size_t *len)
{
    struct strbuf b = {0};
    build_head(pr, &b, BODY_NONE, 0, 0);
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    *len = b.len;
    return b.s;
}

/* ---- the request body ------------------------------------------------------- */

/* Send the spooled body. */
static int send_spooled(int up, int fd, long long len, int timeout)
{
    off_t off = 0;
    while (off < len) {
        ssize_t n = sendfile(up, fd, &off, (size_t)(len - off));
        if (n > 0)
            continue;
        if (n == -1 && errno == EINTR)
            continue;
        if (n == 0 || errno != EAGAIN)
            return -1;
        int r = upstream_wait(up, POLLOUT, timeout);
        if (r <= 0) {
            errno = r == 0 ? ETIMEDOUT : EIO;
            return -1;
        }
    }
    return 0;
}

/* Stream the client's body to UP as MODE frames it.  Returns 0; -1 when
 * the upstream failed (errno); -2 when the client's body did (*STATUS:
 * the answer, 0 when the client is gone). */
static int stream_body(const struct proxy_request *pr, int up, enum body_mode mode, int *status)
{
    char *buf = malloc(BODY_CHUNK + 32);
    if (buf == NULL) {
        *status = 500;
        return -2;
    }
    int r = 0;
    for (;;) {
        ssize_t n = handler_read_body(pr->rq, buf + 16, BODY_CHUNK, status);
        if (n < 0) {
            r = -2;
            break;
        }
        if (mode == BODY_CHUNKED) {
            if (n == 0) {
                r = upstream_send_all(up, "0\r\n\r\n", 5, pr->timeout);
                break;
            }
            char line[16];
            int k = snprintf(line, sizeof line, "%zx\r\n", (size_t)n);
            memcpy(buf + 16 - k, line, (size_t)k);
            memcpy(buf + 16 + n, "\r\n", 2);
            if ((r = upstream_send_all(up, buf + 16 - k, (size_t)(k + n + 2), pr->timeout)) == -1)
                break;
        } else {
            if (n == 0)
                break;
            if ((r = upstream_send_all(up, buf + 16, (size_t)n, pr->timeout)) == -1)
                break;
        }
    }
    int e = errno;
    free(buf);
    errno = e;
    return r;
}

/* ---- the response ------------------------------------------------------------ */

/* The response relay: http-parser's callbacks write the body through the
 * connection's stream. */
struct relay {
    const struct proxy_request *pr;
    int client_gone;
    int done;
};

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct relay *rl = p->data;
    if (handler_stream_write(rl->pr->rq, at, len, 0) == -1) {
        rl->client_gone = 1;
        return -1;
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct relay *rl = p->data;
    rl->done = 1;
    http_parser_pause(p, 1);
    return 0;
}

/* Copy the response's fields into RP's head: hop-by-hop ones dropped
 * (Upgrade and Connection kept for a 101), Date and Server are ours,
 * ProxyPassReverse applied.  Returns 0, or -1 when the head is too big. */
static int copy_fields(const struct proxy_request *pr, const struct proxy_resp *resp,
                       struct reply *rp)
{
    size_t clen = 0;
    const char *conn = proxy_resp_field(resp, "Connection", &clen);
    int upgrade = resp->status == 101;
    for (int i = 0; i < resp->n_fields; i++) {
        const char *name = resp->head + resp->fields[i].name_off;
        size_t n = resp->fields[i].name_len;
        const char *v = resp->head + resp->fields[i].value_off;
        size_t vlen = resp->fields[i].value_len;
        char fname[128];
        if (n >= sizeof fname)
            continue;
        if (upgrade && (http_field_is(name, n, "Upgrade") || http_field_is(name, n, "Connection"))) {
            /* kept as they are: the tunnel needs them */
        } else if (not_relayed(name, n) || http_field_is(name, n, "Date") || http_field_is(name, n, "Server") ||
                   (conn && http_list_has(conn, clen, name, n))) {
            continue;
        }
        memcpy(fname, name, n);
        fname[n] = '\0';
        char mapped[ROUTE_PATH_MAX + 512];
        size_t mlen = 0;
        if (http_field_is(name, n, "Location") || http_field_is(name, n, "Content-Location") ||
            http_field_is(name, n, "URI"))
            mlen = proxy_reverse_map(pr, v, vlen, mapped, sizeof mapped);
        response_head_add(&rp->out.head, fname, mlen ? mapped : v, mlen ? mlen : vlen);
    }
    return rp->out.head.overflow ? -1 : 0;
}

/* One try at an exchange on connection UP: send the head and the body,
 * read the response head into RESP.  Returns 0 with RESP's head complete;
 * -1 on an upstream failure (errno; RESP->len 0 when no byte of a
 * response came back); -2 when the client's body failed (*STATUS). */
static int exchange(const struct proxy_request *pr, int up, const struct strbuf *head,
                    enum body_mode mode, int spool_fd, long long spool_len,
                    struct proxy_resp *resp, int *status)
{
    if (upstream_send_all(up, head->s, head->len, pr->timeout) == -1)
        return -1;
    int sent = 0;
    if (mode == BODY_SPOOLED)
        sent = send_spooled(up, spool_fd, spool_len, pr->timeout);
    else if (mode != BODY_NONE)
        sent = stream_body(pr, up, mode, status);
    if (sent == -2)
        return -2;
    int send_errno = errno;
    /* Even when sending failed, the upstream may have answered (early 413). */
    int r = proxy_resp_read_head(resp, up, pr->timeout);
    if (r == -1 && sent == -1 && resp->len == 0)
        errno = send_errno;
    return r;
}

/* Relay the response body whose head is in RESP (the parser past it). */
static void relay_body(const struct proxy_request *pr, int up, struct proxy_resp *resp,
                       http_parser *hp, struct relay *rl, const http_parser_settings *st)
{
    char *buf = resp->head;            /* reused: the head was copied out */
    size_t cap = RESPONSE_HEAD_MAX;
    size_t extra = resp->len - resp->head_len;
    memmove(buf, resp->head + resp->head_len, extra);
    if (extra)
        http_parser_execute(hp, st, buf, extra);
    while (!rl->done && !rl->client_gone && HTTP_PARSER_ERRNO(hp) == HPE_OK) {
        int w = upstream_wait(up, POLLIN, pr->timeout);
        if (w <= 0) {
            handler_log(pr->rq, LOGM_PROXY_HTTP, LOGL_ERROR,
                        "%s: no data for %d s in the middle of a response body; cut short",
                        pr->w->addr.text, pr->timeout);
            return;
        }
        ssize_t n = recv(up, buf, cap, 0);
        if (n == -1 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0) {
            http_parser_execute(hp, st, NULL, 0);   /* EOF: ends a close-delimited body */
            if (!rl->done)
                handler_log(pr->rq, LOGM_PROXY_HTTP, LOGL_ERROR, "%s closed the connection in the "
                            "middle of a response body; cut short", pr->w->addr.text);
            return;
        }
        http_parser_execute(hp, st, buf, (size_t)n);
    }
    if (!rl->done && !rl->client_gone)
        handler_log(pr->rq, LOGM_PROXY_HTTP, LOGL_ERROR,
                    "%s sent a malformed response body (%s); cut short", pr->w->addr.text,
                    http_errno_name(HTTP_PARSER_ERRNO(hp)));
}

/* Answer with the upstream's 101 and turn the connection into a tunnel. */
static void tunnel(const struct proxy_request *pr, int up, struct proxy_resp *resp,
                   struct reply *rp)
{
    if (handler_stream_begin(pr->rq, rp, 1) == -1) {
        close(up);
        return;
    }
    handler_stream_tunnel(pr->rq, up, resp->head + resp->head_len, resp->len - resp->head_len,
                          pr->timeout);
}

int proxy_http_reply_head(const struct proxy_request *pr, const struct proxy_resp *resp,
                          struct reply *rp)
{
    reply_start(rp, pr->rq->date, resp->status);
    response_head_allow_growth(&rp->out.head, RESPONSE_HEAD_MAX + 4096);
    const char *reason = resp->head + resp->reason_off;
    if (resp->reason_len > 0 && (strlen(http_reason(resp->status)) != resp->reason_len ||
                                 memcmp(http_reason(resp->status), reason, resp->reason_len)))
        response_head_set_status_reason(&rp->out.head, resp->status, reason, resp->reason_len);
    if (copy_fields(pr, resp, rp) == -1) {
        handler_log(pr->rq, LOGM_PROXY_HTTP, LOGL_ERROR, "%s: response head too large to relay",
                    pr->w->addr.text);
        reply_release(&rp->out);
        reply_error(rp, pr->rq->date, 502);
        return -1;
    }
    return 0;
}

void proxy_http_relay(const struct proxy_request *pr, int up, struct proxy_resp *resp,
                      struct reply *rp)
{
    if (proxy_http_reply_head(pr, resp, rp) == -1) {
        upstream_release(pr->pool, up, 0);
        return;
    }
    if (resp->status == 101) {
        upstream_detach(pr->pool);   /* the tunnel owns it now */
        tunnel(pr, up, resp, rp);
        return;
    }
    http_parser hp;
    http_parser_settings st;
    http_parser_settings_init(&st);
    st.on_body = on_body;
    st.on_message_complete = on_message_complete;
    struct relay rl = {.pr = pr};
    int ended = proxy_resp_body_parser(resp, &hp, pr->rq->req->parser.method == HTTP_HEAD);
    hp.data = &rl;
    int have_body_bytes = resp->len > resp->head_len;
    if (handler_stream_begin(pr->rq, rp, !have_body_bytes && !resp->no_body && !ended) == -1) {
        upstream_release(pr->pool, up, 0);
        return;
    }
    if (resp->no_body || ended || pr->rq->req->parser.method == HTTP_HEAD)
        rl.done = 1;
    else
        relay_body(pr, up, resp, &hp, &rl, &st);
    int reusable = rl.done && !rl.client_gone && pr->ttl > 0 && resp->keep_alive &&
                   (resp->no_body || pr->rq->req->parser.method == HTTP_HEAD ||
                    http_should_keep_alive(&hp));
    if (rl.done && !rl.client_gone)
        handler_stream_write(pr->rq, NULL, 0, 1);
    upstream_release(pr->pool, up, reusable);
}

static int idempotent(int method)
{
    return method == HTTP_GET || method == HTTP_HEAD || method == HTTP_OPTIONS ||
           method == HTTP_PUT || method == HTTP_DELETE || method == HTTP_TRACE;
}

/* How the client's body goes upstream, and its length when known. */
static enum body_mode choose_body_mode(const struct proxy_request *pr, long long *len)
{
    const struct request *r = pr->rq->req;
    *len = 0;
    if (!http_request_body_pending(r))
        return BODY_NONE;
    long long left = http_request_body_left(r);
    if (left >= 0) {
        *len = left;
        return left > 0 ? BODY_LENGTH : BODY_NONE;
    }
    return pr->send_cl ? BODY_SPOOLED : BODY_CHUNKED;
}

int proxy_http_forward(struct proxy_request *pr, struct reply *rp)
{
    const struct req_ctx *rq = pr->rq;
    long long body_len;
    enum body_mode mode = choose_body_mode(pr, &body_len);
    int status = 0, spool_fd = -1;
    if (mode == BODY_SPOOLED && (spool_fd = cgi_body_spool(rq, &body_len, &status)) == -1) {
        reply_error(rp, rq->date, status ? status : 400);
        return HANDLER_DONE;
    }
    int websocket = proxy_http_wants_upgrade(pr);
    struct strbuf head = {0};
    build_head(pr, &head, mode, body_len, websocket);
    struct proxy_resp resp;
    if (head.failed || proxy_resp_init(&resp, RESPONSE_HEAD_MAX, pr->w->response_field_size,
                                       rq->env->cfg->limit_request_fields) == -1) {
        free(head.s);
        if (spool_fd != -1)
            close(spool_fd);
        reply_error(rp, rq->date, 500);
        return HANDLER_DONE;
    }
    int up = -1;
    for (int attempt = 0;; attempt++) {
        int reused = 0;
        /* The retry takes a new connection (TTL 0: the idle ones, as old as
         * the one the upstream just closed, are closed too), as the
         * listener's retry does: another pooled one may be as dead. */
        up = upstream_acquire(pr->pool, pr->connect_timeout, attempt ? 0 : pr->ttl, &reused);
        if (up == -1) {
            int e = errno;
            if (e != EAGAIN && e != EHOSTDOWN)
                upstream_mark_failed(pr->pool, pr->w->retry);
            reply_error(rp, rq->date, proxy_fail_status(pr, e, "cannot connect to"));
            break;
        }
        int r = exchange(pr, up, &head, mode, spool_fd, body_len, &resp, &status);
        if (r == 0 && resp.status == 101 && !websocket) {
            resp.error = "a 101 answer to a request that asked for no upgrade";
            r = -1;
        }
        if (r == 0) {
            proxy_http_relay(pr, up, &resp, rp);
            break;
        }
        int e = errno;
        upstream_release(pr->pool, up, 0);
        up = -1;
        if (r == -2) {             /* the client's body failed */
            reply_error(rp, rq->date, status ? status : 400);
            break;
        }
        int body_consumed = mode == BODY_LENGTH || mode == BODY_CHUNKED;
        int nothing = resp.len == 0;     /* no byte of an answer came back */
        if (reused && nothing && attempt == 0 && idempotent(rq->method) && !body_consumed &&
            resp.error == NULL) {
            proxy_resp_reset(&resp);
            if (spool_fd != -1)
                lseek(spool_fd, 0, SEEK_SET);
            continue;              /* the upstream closed a pooled connection: once more */
        }
        if (resp.error) {
            handler_log(rq, LOGM_PROXY_HTTP, LOGL_ERROR, "%s: %s (answered 502)", pr->w->addr.text,
                        resp.error);
            reply_error(rp, rq->date, 502);
        } else {
            reply_error(rp, rq->date, proxy_fail_status(pr, e, nothing ? "no response from"
                                                                      : "incomplete response from"));
        }
        break;
    }
    proxy_resp_free(&resp);
    free(head.s);
    if (spool_fd != -1)
        close(spool_fd);
    return HANDLER_DONE;
}
