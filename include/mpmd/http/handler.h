/* handler.h: the interface between the connection code and the modules
 * that answer requests (the static-file handler and Alias/Redirect now;
 * proxy, FastCGI, CGI, status to come).
 *
 * A handler sees the parsed request, its route (route.h), the services of
 * its child (struct handler_env) and the calling thread's date cache, and
 * builds a struct reply (reply.h); it never sees the socket, the event
 * loop or the processes.  Where each entry point runs is the contract
 * (struct handler below). */
#ifndef MPMD_HANDLER_H
#define MPMD_HANDLER_H

#include <sys/socket.h>
#include <sys/types.h>

#include "mpmd/core/module.h"
#include "mpmd/http/http.h"
#include "mpmd/http/reply.h"
#include "mpmd/http/route.h"

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

/* The request body as a stream, for handler threads: read calls return
 * > 0 bytes (decoded: chunked framing removed), 0 at its end (or when
 * there is none), -1 when it failed, with *STATUS the answer to give (400
 * broken framing, 408 too slow, 413 over LimitRequestBody) or 0 when the
 * client is gone.  Reading blocks, up to RequestReadTimeout body= and
 * Timeout; a client that sent "Expect: 100-continue" gets its
 * "100 Continue" on the first read.  What a handler leaves unread is
 * discarded after its answer, as for handlers that take no body. */
struct body_reader {
    ssize_t (*read)(void *ctx, char *buf, size_t len, int *status);
    void *ctx;
};

/* One request, as a handler sees it. */
struct req_ctx {
    const struct request *req;    /* head parsed; body not read (see below) */
    const struct config *site;    /* the virtual host's configuration (route.h), or the
                                   * main server's */
    const struct route *route;    /* normalised path, file-system mapping, the
                                   * per-directory settings that apply */
    int method;                   /* the request's (http_parser's enum), GET when
                                   * serving an ErrorDocument page */
    const struct sockaddr *peer;  /* the client's address */
    const struct handler_env *env;
    const struct logger *log;     /* the site's logs (its ErrorLog) */
    const struct body_reader *body; /* handler threads only; NULL on the listener */
    struct date_cache *date;      /* the calling thread's */
};

enum handler_result { HANDLER_DONE = 0, HANDLER_DECLINED = 1 };

/* A module: its configuration part (directives, per-section create and
 * merge: module.h) and its entry points, each optional.  They run in this
 * order for every request (src/http/dispatch.c):
 *   translate  before the sections are looked up, in registry order: may
 *              move the file-system mapping (route->fs_base, Alias) or
 *              answer at once (Redirect).  Never blocks.
 *   fast       listener thread, for the request's handler (SetHandler):
 *              never blocks; HANDLER_DECLINED sends the request to a
 *              handler thread, where everything runs again from the start.
 *   handle     handler thread: may block on disk or an upstream; must
 *              answer (HANDLER_DONE). */
struct handler {
    const char *name;
    const struct conf_module *conf;
    int (*translate)(const struct req_ctx *rq, struct route *rt, struct reply *rp);
    int (*fast)(const struct req_ctx *rq, struct reply *rp);
    int (*handle)(const struct req_ctx *rq, struct reply *rp);
};

/* The registry (src/modules/modules.c), NULL-terminated, in the same
 * order as mpmd_conf_modules: the static-file handler first (index 0 is
 * the default handler). */
extern const struct handler *const mpmd_handlers[];

/* The module configuration of the request's site for module M (merged
 * main server + virtual host), or NULL when the site sets nothing. */
const void *handler_site_conf(const struct req_ctx *rq, const struct conf_module *m);

/* Module M's configurations along the request's route, in merge order
 * (the site's -- a virtual host's already merged with the main
 * server's -- then each section's that set something for M): up to MAX
 * pointers into OUT; returns how many.  Nothing is merged per request: a
 * module folds the list itself (most take the last setting). */
int handler_dir_confs(const struct req_ctx *rq, const struct conf_module *m, const void **out,
                      int max);

/* The absolute URL "http://HOST/PATH" for a redirect to PATH (LEN bytes,
 * already escaped), HOST being the request's Host as sent (port
 * included), or the site's ServerName without one: Apache's
 * UseCanonicalName Off.  Written to OUT (CAP bytes, NUL-terminated);
 * returns the length, or CAP when it does not fit. */
size_t handler_absolute_url(const struct req_ctx *rq, const char *path, size_t len, char *out,
                            size_t cap);

/* Read up to LEN bytes of RQ's body (struct body_reader's contract);
 * -1 with *STATUS 500 when called where there is no stream (listener). */
ssize_t handler_read_body(const struct req_ctx *rq, char *buf, size_t len, int *status);

#endif
