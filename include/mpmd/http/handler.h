/* handler.h: the interface between the connection code and the modules
 * that answer requests (the static-file handler now; proxy, FastCGI,
 * CGI, status to come).
 *
 * A handler sees the parsed request, the services of its child (struct
 * handler_env) and the calling thread's date cache, and builds a struct
 * reply (reply.h); it never sees the socket, the event loop or the
 * processes.  Two entry points, and where each runs is the contract:
 *   fast    listener thread: must never block (cache hits, errors);
 *           HANDLER_DECLINED sends the request to a handler thread;
 *   handle  handler thread: may block on disk or an upstream; must
 *           answer (HANDLER_DONE). */
#ifndef MPMD_HANDLER_H
#define MPMD_HANDLER_H

#include "mpmd/http/http.h"
#include "mpmd/http/reply.h"

struct config;
struct filecache;
struct logger;
struct mime_table;

/* A child's services, read-only for handlers (the file cache locks
 * itself).  Filled in by the child before any request. */
struct handler_env {
    const struct config *cfg;
    const struct mime_table *mime;
    struct filecache *cache;      /* NULL when FileCacheSize is 0 */
    struct logger *log;
};

/* One request, as a handler sees it. */
struct req_ctx {
    const struct request *req;    /* head parsed; body not read (see below) */
    const struct config *site;    /* the virtual host's configuration (route.h), or the
                                   * main server's */
    const struct handler_env *env;
    struct date_cache *date;      /* the calling thread's */
};

enum handler_result { HANDLER_DONE = 0, HANDLER_DECLINED = 1 };

struct handler {
    const char *name;
    int (*fast)(const struct req_ctx *rq, struct reply *rp);    /* listener thread */
    int (*handle)(const struct req_ctx *rq, struct reply *rp);  /* handler thread */
};

/* Request bodies: today's handlers answer from the head; the connection
 * then drops the body (src/http/conn.c, "Answering from the head" in
 * docs/architecture.md).  A handler that reads bodies (the proxy and
 * FastCGI work) will get a body stream through struct req_ctx. */

#endif
