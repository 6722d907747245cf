/* proxy.h: mod_proxy's directives and the "proxy" handler: ProxyPass
 * (a URL prefix, or a <Location>, answered by an upstream),
 * SetHandler "proxy:fcgi://..." and the settings that shape how a
 * request is passed on.  The handler picks the upstream (a "worker",
 * Apache's name) and hands the request to the protocol's forwarder:
 * HTTP and WebSocket (proxy_http.c) or FastCGI (fcgi.c).
 *
 * Configuration: where it loads (module.h).  Forwarders: handler
 * threads. */
#ifndef MPMD_PROXY_H
#define MPMD_PROXY_H

#include "mpmd/core/module.h"
#include "mpmd/http/handler.h"
#include "mpmd/modules/upstream.h"

extern const struct conf_module proxy_conf_module;
extern const struct handler proxy_handler;

enum proxy_scheme { PROXY_HTTP, PROXY_WS, PROXY_FCGI };

/* One upstream and how to talk to it: the URL of a ProxyPass or a
 * SetHandler "proxy:...", with its key=value parameters (-1: not given,
 * the default applies). */
struct proxy_worker {
    enum proxy_scheme scheme;
    struct upstream_addr addr;
    char *authority;              /* "127.0.0.1:8000" as written: the Host sent upstream */
    char *path;                   /* the URL's path ("/" when none); FastCGI: a prefix of
                                   * SCRIPT_FILENAME */
    int max;                      /* max=: connections per child (-1, default: no limit) */
    int ttl;                      /* ttl=: seconds an idle connection is kept (default 1) */
    int connect_timeout;          /* connectiontimeout= (default: the timeout) */
    int timeout;                  /* timeout= (default ProxyTimeout, else Timeout) */
    int retry;                    /* retry=: seconds to refuse after a failed connect (0) */
    int upgrade_ws;               /* upgrade=websocket, or a ws:// URL */
    int response_field_size;      /* responsefieldsize= (8192) */
    int reuse;                    /* 0: disablereuse=On / enablereuse=Off */
};

/* A request on its way to an upstream, as the handler prepared it. */
struct proxy_request {
    const struct req_ctx *rq;
    const struct proxy_worker *w;
    struct upstream_pool *pool;
    char *target;                 /* HTTP: the request-target to send (path and query);
                                   * FastCGI: SCRIPT_FILENAME; owned by the handler */
    const char *script_name;      /* FastCGI: SCRIPT_NAME (the URL path of the script) */
    size_t script_name_len;
    const char *path_info;        /* FastCGI: PATH_INFO, or NULL */
    size_t path_info_len;
    int timeout, connect_timeout, ttl;  /* the worker's, defaults applied */
    int preserve_host;            /* ProxyPreserveHost */
    int add_headers;              /* ProxyAddHeaders */
    int trusted_peer;             /* the client is in ProxyTrustForwardedFrom */
    int send_cl;                  /* SetEnv proxy-sendcl: buffer a chunked body, send its length */
    const struct proxy_conf *site; /* the site's settings (ProxyPassReverse) */
    const struct proxy_conf *dir; /* the <Location>'s, or NULL */
};

struct proxy_conf;

/* ProxyPassReverse for a response field VALUE (LEN bytes) of PR: the
 * rewritten absolute URL into OUT (CAP bytes), its length returned; 0
 * when no ProxyPassReverse URL is a prefix of VALUE. */
size_t proxy_reverse_map(const struct proxy_request *pr, const char *value, size_t len,
                         char *out, size_t cap);

/* The forwarders: answer PR's request in RP (HANDLER_DONE), streaming the
 * response (handler.h).  Handler thread. */
int proxy_http_forward(struct proxy_request *pr, struct reply *rp);
int proxy_fcgi_forward(struct proxy_request *pr, struct reply *rp);

/* The largest upstream response head (and the read buffer's size). */
#define PROXY_RESPONSE_HEAD_MAX 65536

struct proxy_resp;

/* Whether PR's client asks for a WebSocket its worker may tunnel. */
int proxy_http_wants_upgrade(const struct proxy_request *pr);

/* The head to send upstream for PR's request, which has no body (malloc'd,
 * *LEN bytes), or NULL when out of memory.  Any thread. */
char *proxy_http_request_head(const struct proxy_request *pr, size_t *len);

/* RP's head from the upstream's (RESP, complete): status, reason, the
 * fields a proxy relays.  0, or -1 when it is too large: then RP is a 502
 * (logged).  Any thread. */
int proxy_http_reply_head(const struct proxy_request *pr, const struct proxy_resp *resp,
                          struct reply *rp);

/* Relay the response whose head is in RESP (body bytes read with it
 * after it) from connection UP, streamed (handler.h), a 101 as a tunnel;
 * UP goes back to the pool, or is closed.  Handler thread. */
void proxy_http_relay(const struct proxy_request *pr, int up, struct proxy_resp *resp,
                      struct reply *rp);

/* The listener's way (MPM event, proxy_async.c): PR's request (HTTP, no
 * body, no upgrade) sent and its response read without a thread.
 * HANDLER_SUSPENDED; HANDLER_DECLINED when it needs a thread after all
 * (nothing was sent); HANDLER_DONE with RP an error answer. */
int proxy_async_start(struct proxy_request *pr, struct reply *rp);

/* A suspended exchange dispatched again (rq->resumed, STATE freed here).
 * Listener: its response, complete in memory, answers RP (or the error
 * it ended with).  Handler thread: its response is relayed (one too long
 * or too slow to hold), or when it never got a connection the request is
 * forwarded from the start. */
int proxy_async_answer(struct proxy_request *pr, void *state, struct reply *rp);
int proxy_async_relay(struct proxy_request *pr, void *state, struct reply *rp);

/* The same for a FastCGI request without a body (fcgi_async.c). */
int proxy_fcgi_async_start(struct proxy_request *pr, struct reply *rp);

/* The records that ask a FastCGI application for PR's request, which has
 * no body (BEGIN_REQUEST, PARAMS, the empty STDIN; malloc'd, *LEN bytes),
 * or NULL when out of memory.  Any thread. */
char *proxy_fcgi_request(const struct proxy_request *pr, size_t *len);

/* "FastCGI ADDR SCRIPT", PR's name in log lines, into WHO (LEN bytes). */
const char *proxy_fcgi_who(const struct proxy_request *pr, char *who, size_t len);

/* How far the listener got with a FastCGI answer (fcgi_async.c). */
struct fcgi_decoder;
struct fcgi_progress {
    const struct fcgi_decoder *d; /* the decoder, past what was read */
    const char *out, *err;        /* STDOUT and STDERR read so far */
    size_t out_len, err_len;
    int ended, clean;             /* END_REQUEST came (clean: nothing wrong around it) */
    int timed_out;                /* it then stayed quiet for the timeout */
};

/* Go on with the FastCGI answer the listener began on UP (P): what came
 * so far is relayed as it would have been, then the rest as it comes;
 * UP back to the pool or closed.  Handler thread. */
void proxy_fcgi_continue(struct proxy_request *pr, int up, const struct fcgi_progress *p,
                         struct reply *rp);

/* Free STATE (a resumed request answered otherwise); NULL: nothing. */
void proxy_async_drop(void *state);

/* The status for a failed upstream operation with errno E: 504 for a
 * timeout, 503 when no connection could be had (busy, or in its retry
 * time), 502 otherwise; logs WHAT (a verb phrase) with the upstream's
 * address on RQ's error log. */
int proxy_fail_status(const struct proxy_request *pr, int e, const char *what);

#endif
