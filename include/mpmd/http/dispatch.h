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
};

/* Build the reply to IN's request in RP.  With LISTENER, returns 0 when
 * the request needs a handler thread (RP untouched, nothing held);
 * otherwise builds RP and returns 1. */
int dispatch_request(const struct dispatch_in *in, struct reply *rp, int listener);

#endif
