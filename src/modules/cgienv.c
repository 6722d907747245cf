/* cgienv.c: meta-variables, body spooling and script heads for CGI and
 * FastCGI (cgienv.h).  Handler threads; no state. */
#include "config.h"

#include "mpmd/modules/cgienv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mpmd/core/config.h"
#include "mpmd/core/log.h"
#include "mpmd/core/version.h"

#define SPOOL_CHUNK 65536

struct env_out {
    cgi_env_add_fn add;
    void *ctx;
    int failed;
};

static void put(struct env_out *o, const char *name, const char *v, size_t vlen)
{
    if (!o->failed && o->add(o->ctx, name, strlen(name), v, vlen) == -1)
        o->failed = 1;
}

static void put_str(struct env_out *o, const char *name, const char *v)
{
    put(o, name, v, strlen(v));
}

static void put_num(struct env_out *o, const char *name, long long v)
{
    char num[32];
    int n = snprintf(num, sizeof num, "%lld", v);
    put(o, name, num, (size_t)n);
}

/* HTTP_NAME for a field name: upper case, '-' as '_'.  0, or -1 when the
 * name is one scripts must not see or has other characters. */
static int http_var(const char *name, size_t n, char *out, size_t cap)
{
    if (n + 6 > cap)
        return -1;
    if ((n == 5 && strncasecmp(name, "Proxy", 5) == 0) ||
        (n == 13 && strncasecmp(name, "Authorization", 13) == 0) ||
        (n == 19 && strncasecmp(name, "Proxy-Authorization", 19) == 0) ||
        (n == 14 && strncasecmp(name, "Content-Length", 14) == 0) ||
        (n == 12 && strncasecmp(name, "Content-Type", 12) == 0))
        return -1;
    memcpy(out, "HTTP_", 5);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c == '-')
            c = '_';
        else if (c >= 'a' && c <= 'z')
            c = (char)(c - 32);
        else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return -1;        /* "X_Y" and "X-Y" must not both become HTTP_X_Y */
        out[5 + i] = c;
    }
    out[5 + n] = '\0';
    return 0;
}

/* The request's fields as HTTP_* variables; a repeated field once, its
 * values joined with ", ". */
static void put_fields(struct env_out *o, const struct request *r)
{
    for (uint32_t i = 0; i < r->nhdr && !o->failed; i++) {
        const char *name = r->buf + r->hdr[i].name_off;
        size_t n = r->hdr[i].name_len;
        char var[300];
        int seen = 0;
        for (uint32_t k = 0; k < i && !seen; k++)
            seen = r->hdr[k].name_len == n && strncasecmp(r->buf + r->hdr[k].name_off, name, n) == 0;
        if (seen || http_var(name, n, var, sizeof var) == -1)
            continue;
        size_t total = 0;
        for (uint32_t k = i; k < r->nhdr; k++)
            if (r->hdr[k].name_len == n && strncasecmp(r->buf + r->hdr[k].name_off, name, n) == 0)
                total += r->hdr[k].value_len + 2;
        char *v = malloc(total + 1);
        if (v == NULL) {
            o->failed = 1;
            return;
        }
        size_t len = 0;
        for (uint32_t k = i; k < r->nhdr; k++)
            if (r->hdr[k].name_len == n && strncasecmp(r->buf + r->hdr[k].name_off, name, n) == 0) {
                if (len)
                    memcpy(v + len, ", ", 2), len += 2;
                memcpy(v + len, r->buf + r->hdr[k].value_off, r->hdr[k].value_len);
                len += r->hdr[k].value_len;
            }
        put(o, var, v, len);
        free(v);
    }
}

/* SERVER_NAME: the Host's name as sent when it is clean (Apache's
 * UseCanonicalName Off), else ServerName. */
static void put_server_name(struct env_out *o, const struct req_ctx *rq)
{
    size_t hlen = 0;
    const char *value = http_request_host(rq->req, &hlen), *host = NULL;
    size_t n = value ? route_host_name(value, hlen, &host) : 0;
    int clean = n > 0 && n < 256;
    for (size_t i = 0; clean && i < n; i++)
        clean = host[i] > 0x20 && host[i] != '/' && host[i] != '\\' && host[i] != 0x7f;
    if (clean)
        put(o, "SERVER_NAME", host, n);
    else
        put_str(o, "SERVER_NAME", rq->site->server_name);
}

/* SetEnv and UnsetEnv along the route: each name once, as its latest
 * SetEnv says (the one route_env finds), nothing after an UnsetEnv. */
static void put_setenv(struct env_out *o, const struct route *rt)
{
    for (int i = 0; i < rt->n_chain; i++)
        for (int k = 0; k < rt->chain[i]->n_env; k++) {
            const struct env_op *op = &rt->chain[i]->env[k];
            if (op->value && route_env(rt, op->name) == op->value)
                put_str(o, op->name, op->value);
        }
}

int cgi_env_build(const struct req_ctx *rq, const struct cgi_script *s, long long length,
                  cgi_env_add_fn add, void *ctx)
{
    struct env_out o = {add, ctx, 0};
    const struct request *r = rq->req;
    char ip[64];
    int port;
    put_str(&o, "GATEWAY_INTERFACE", "CGI/1.1");
    put_str(&o, "SERVER_SOFTWARE", MPMD_SERVER_TOKEN);
    char proto[32];
    snprintf(proto, sizeof proto, "HTTP/%d.%d", r->parser.http_major, r->parser.http_minor);
    put_str(&o, "SERVER_PROTOCOL", proto);
    put_server_name(&o, rq);
    struct sockaddr_storage local;
    if (handler_local_addr(rq, &local) == 0) {
        handler_addr_text((const struct sockaddr *)&local, ip, sizeof ip, &port);
        put_str(&o, "SERVER_ADDR", ip);
        put_num(&o, "SERVER_PORT", port);
    }
    handler_addr_text(rq->peer, ip, sizeof ip, &port);
    put_str(&o, "REMOTE_ADDR", ip);
    put_num(&o, "REMOTE_PORT", port);
    if (rq->user) {                   /* Basic authentication let this user in */
        put_str(&o, "AUTH_TYPE", "Basic");
        put_str(&o, "REMOTE_USER", rq->user);
    }
    put_str(&o, "REQUEST_SCHEME", rq->tls ? "https" : "http");
    if (rq->tls) {                    /* mod_ssl's StdEnvVars, the common part */
        put_str(&o, "HTTPS", "on");
        put_str(&o, "SSL_PROTOCOL", rq->tls->protocol);
        put_str(&o, "SSL_CIPHER", rq->tls->cipher);
        put_str(&o, "SSL_SESSION_RESUMED", rq->tls->resumed ? "Resumed" : "Initial");
        if (rq->tls->sni)
            put_str(&o, "SSL_TLS_SNI", rq->tls->sni);
    }
    put_str(&o, "REQUEST_METHOD", http_method_str((enum http_method)rq->method));
    const char *path, *query = NULL;
    size_t plen;
    if (http_request_path(r, &path, &plen, &query) != 0)
        query = NULL;
    const char *url = r->buf + r->url_off;
    size_t qlen = query ? (size_t)(url + r->url_len - query - 1) : 0;
    if (rq->query)
        put(&o, "QUERY_STRING", rq->query, rq->query_len);
    else
        put(&o, "QUERY_STRING", query ? query + 1 : "", qlen);
    put(&o, "REQUEST_URI", url, r->url_len);
    put(&o, "SCRIPT_NAME", s->name, s->name_len);
    put_str(&o, "SCRIPT_FILENAME", s->filename);
    put_str(&o, "DOCUMENT_ROOT", rq->site->document_root);
    put_str(&o, "CONTEXT_DOCUMENT_ROOT", rq->site->document_root);
    put_str(&o, "CONTEXT_PREFIX", "");
    if (s->path_info && s->path_info_len) {
        put(&o, "PATH_INFO", s->path_info, s->path_info_len);
        char *t = malloc(strlen(rq->site->document_root) + s->path_info_len + 1);
        if (t) {
            sprintf(t, "%s%.*s", rq->site->document_root, (int)s->path_info_len, s->path_info);
            put_str(&o, "PATH_TRANSLATED", t);
            free(t);
        }
    }
    if (rq->site->server_admin)
        put_str(&o, "SERVER_ADMIN", rq->site->server_admin);
    put_str(&o, "SERVER_SIGNATURE", "");
    const char *env_path = getenv("PATH");
    put_str(&o, "PATH", env_path ? env_path : "/usr/local/bin:/usr/bin:/bin");
    if (length >= 0) {
        put_num(&o, "CONTENT_LENGTH", length);
        size_t tlen;
        const char *type = http_request_header(r, "Content-Type", &tlen);
        if (type)
            put(&o, "CONTENT_TYPE", type, tlen);
    }
    put_fields(&o, r);
    put_setenv(&o, rq->route);
    return o.failed ? -1 : 0;
}

int cgi_body_spool(const struct req_ctx *rq, long long *len, int *status)
{
    const char *dir = getenv("TMPDIR");
    int fd = open(dir && dir[0] ? dir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    char *buf = malloc(SPOOL_CHUNK);
    *len = 0;
    *status = 500;
    if (fd == -1 || buf == NULL) {
        log_msg(rq->log, LOGL_ERROR, "cannot buffer a request body of unknown length: %s",
                strerror(errno));
        goto fail;
    }
    for (;;) {
        ssize_t n = handler_read_body(rq, buf, SPOOL_CHUNK, status);
        if (n == 0)
            break;
        if (n < 0)
            goto fail;
        if (write(fd, buf, (size_t)n) != n) {
            log_msg(rq->log, LOGL_ERROR, "cannot buffer a request body: %s", strerror(errno));
            *status = 500;
            goto fail;
        }
        *len += n;
    }
    free(buf);
    lseek(fd, 0, SEEK_SET);
    return fd;
fail:
    free(buf);
    if (fd != -1)
        close(fd);
    return -1;
}

/* Fields the server writes itself, or that describe the script's pipe. */
static int server_field(const char *name, size_t n)
{
    return http_hop_by_hop(name, n) || http_field_is(name, n, "Date") ||
           http_field_is(name, n, "Server");
}

int cgi_head_reply(const struct req_ctx *rq, const struct cgi_head *h, struct reply *rp)
{
    enum cgi_kind kind = cgi_head_kind(h);
    size_t llen = 0;
    const char *loc = h->location >= 0 ? cgi_head_value(h, h->location, &llen) : NULL;
    if (kind == CGI_LOCAL_REDIRECT) {
        reply_error(rp, rq->date, 500);
        rp->local_redirect = strndup(loc, llen);
        return 0;
    }
    int status = h->status ? h->status : kind == CGI_CLIENT_REDIRECT ? 302 : 200;
    reply_start(rp, rq->date, status);
    response_head_allow_growth(&rp->out.head, h->limit + 4096);
    if (h->reason_len > 0)
        response_head_set_status_reason(&rp->out.head, status, h->buf + h->reason_off,
                                        h->reason_len);
    for (int i = 0; i < h->n_fields; i++) {
        size_t n, vlen;
        const char *name = cgi_head_name(h, i, &n);
        const char *v = cgi_head_value(h, i, &vlen);
        char fname[128];
        if (server_field(name, n) || n >= sizeof fname)
            continue;
        memcpy(fname, name, n);
        fname[n] = '\0';
        response_head_add(&rp->out.head, fname, v, vlen);
    }
    if (rp->out.head.overflow) {
        reply_release(&rp->out);
        reply_error(rp, rq->date, 502);
        return -1;
    }
    return 0;
}

/* ---- the script's output ---------------------------------------------------- */

#define CGI_HEAD_LIMIT 65536

int cgi_output_init(struct cgi_output *o, const struct req_ctx *rq, struct reply *rp,
                    const char *who, int bad_status)
{
    memset(o, 0, sizeof *o);
    o->rq = rq;
    o->rp = rp;
    o->who = who;
    o->bad_status = bad_status;
    o->errlog = (struct cgi_errlog){.log = rq->log, .who = who};
    return cgi_head_init(&o->head, CGI_HEAD_LIMIT);
}

/* The head is complete: answer from it, then the body bytes BUF. */
static int begin_output(struct cgi_output *o, const char *buf, size_t len)
{
    if (cgi_head_reply(o->rq, &o->head, o->rp) == -1) {
        log_msg(o->rq->log, LOGL_ERROR, "%s: response head too large", o->who);
        o->failed = 1;
        return -1;
    }
    if (o->rp->local_redirect) {
        o->redirected = 1;
        return 0;
    }
    o->begun = 1;
    if (handler_stream_begin(o->rq, o->rp, len == 0) == -1 ||
        (len > 0 && handler_stream_write(o->rq, buf, len, 0) == -1)) {
        o->client_gone = 1;
        return -1;
    }
    return 0;
}

int cgi_output_feed(struct cgi_output *o, const char *buf, size_t len)
{
    if (o->failed || o->client_gone)
        return -1;
    if (o->redirected)
        return 0;
    if (o->begun) {
        if (handler_stream_write(o->rq, buf, len, 0) == -1) {
            o->client_gone = 1;
            return -1;
        }
        return 0;
    }
    ssize_t used = cgi_head_feed(&o->head, buf, len);
    if (used < 0) {
        log_msg(o->rq->log, LOGL_ERROR, "%s: malformed header from script: %s", o->who,
                o->head.error ? o->head.error : "bad head");
        reply_error(o->rp, o->rq->date, o->bad_status);
        o->failed = 1;
        return -1;
    }
    if (!o->head.done)
        return 0;
    return begin_output(o, buf + used, len - (size_t)used);
}

void cgi_errlog_flush(struct cgi_errlog *e)
{
    size_t n = e->len;
    if (n > 0 && e->line[n - 1] == '\r')
        n--;                      /* a CRLF line end */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)e->line[i] < 0x20 && e->line[i] != '\t')
            e->line[i] = ' ';
    if (n > 0)
        log_msg(e->log, LOGL_ERROR, "%s: %.*s", e->who, (int)n, e->line);
    e->len = 0;
}

void cgi_errlog_feed(struct cgi_errlog *e, const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (c == '\n' || e->len == sizeof e->line - 1) {
            cgi_errlog_flush(e);
            if (c == '\n')
                continue;
        }
        e->line[e->len++] = c;
    }
}

void cgi_output_stderr(struct cgi_output *o, const char *buf, size_t len)
{
    cgi_errlog_feed(&o->errlog, buf, len);
}

void cgi_output_end(struct cgi_output *o, int complete, const char *why)
{
    cgi_errlog_flush(&o->errlog);
    if (o->failed || o->redirected)
        return;
    if (o->begun) {
        if (complete && !o->client_gone)
            handler_stream_write(o->rq, NULL, 0, 1);
        else if (!o->client_gone && why)
            log_msg(o->rq->log, LOGL_ERROR, "%s: %s; response cut short", o->who, why);
        return;
    }
    log_msg(o->rq->log, LOGL_ERROR, "%s: %s", o->who,
            why ? why : "end of script output before headers");
    reply_error(o->rp, o->rq->date, o->bad_status);
    o->failed = 1;
}

void cgi_output_free(struct cgi_output *o)
{
    cgi_head_free(&o->head);
}
