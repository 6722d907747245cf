/* dispatch.h: answering one request: route it (site, Alias/Redirect,
 * sections), check Require, run its handler, then apply ErrorDocument and
 * Header.  The connection code calls this; modules are reached only
 * through the registry (handler.h).
 *
 * Any thread: with LISTENER set only the non-blocking steps run. */
#ifndef MPMD_DISPATCH_H
#define MPMD_DISPATCH_H

#include <sys/socket.h>

#include "mpmd/http/handler.h"

struct dispatch_in {
    const struct request *req;    /* a complete head, no parse error */
    const struct config *site;    /* route_site's choice */
    const struct sockaddr *peer;
    const struct handler_env *env;
    struct date_cache *date;
    const struct body_reader *body; /* handler threads: the body stream; else NULL */
    const struct reply_stream *stream; /* handler threads: the response stream; else NULL */
    const struct reply_async *async; /* the listener in MPM event: suspending; else NULL */
    void *resumed;                /* a suspended request dispatched again: its state */
    int64_t start_us;             /* CLOCK_REALTIME µs its first byte came */
    const struct tls_info *tls;   /* HTTPS: the connection's TLS; NULL: plain */
};

enum { DISPATCH_DECLINED = 0, DISPATCH_DONE = 1, DISPATCH_SUSPENDED = 2 };

/* Build the reply to IN's request in RP.  With LISTENER, returns
 * DISPATCH_DECLINED when the request needs a handler thread, or
 * DISPATCH_SUSPENDED when its handler answers later (handler.h; RP
 * untouched, nothing held either way); otherwise builds RP and returns
 * DISPATCH_DONE. */
int dispatch_request(const struct dispatch_in *in, struct reply *rp, int listener);

#endif
