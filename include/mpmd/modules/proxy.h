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
    int max;                      /* max=: connections per child (default ThreadsPerChild) */
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

/* The status for a failed upstream operation with errno E: 504 for a
 * timeout, 503 when no connection could be had (busy, or in its retry
 * time), 502 otherwise; logs WHAT (a verb phrase) with the upstream's
 * address on RQ's error log. */
int proxy_fail_status(const struct proxy_request *pr, int e, const char *what);

#endif
