/* handler.h: the interface between the connection code and the modules
 * that answer requests (static files, Alias/Redirect, proxy and FastCGI,
 * CGI).
 *
 * A handler sees the parsed request, its route (route.h), the services of
 * its child (struct handler_env) and the calling thread's date cache, and
 * builds a struct reply (reply.h); it never sees the client's socket, the
 * event loop or the processes (a suspended request watches its own
 * upstream descriptor through handler_watch).  Where each entry point
 * runs is the contract (struct handler below). */
#ifndef MPMD_HANDLER_H
#define MPMD_HANDLER_H

#include <sys/socket.h>
#include <sys/types.h>

#include "mpmd/core/module.h"
#include "mpmd/http/http.h"
#include "mpmd/http/reply.h"
#include "mpmd/http/route.h"

struct authz;
struct config;
struct filecache;
struct logger;
struct mime_table;
struct sb_counters;
struct sb_server;

/* A child's services, read-only for handlers (the file cache locks
 * itself).  Filled in by the child before any request. */
struct handler_env {
    const struct config *cfg;
    const struct mime_table *mime;
    struct filecache *cache;      /* NULL when FileCacheSize is 0 */
    struct logger *log;
    struct sb_server *scoreboard; /* the server's (status, metrics: read only) */
    struct sb_counters *counters; /* this child's counters (any thread adds) */
    int generation;               /* this child's */
    void *state[CONFIG_MAX_MODULES]; /* each handler's child_init result (its own
                                   * locking), by registry index */
};

/* A response sent as it is produced (proxy, FastCGI, CGI): handler
 * threads only, through the handler_stream_* calls below.  The
 * connection code implements it (src/http/conn.c). */
struct reply_stream {
    int (*begin)(void *ctx, struct reply *rp, int flush);
    int (*write)(void *ctx, const char *buf, size_t len, int last);
    int (*tunnel)(void *ctx, int fd, const char *pending, size_t len, int idle_s);
    int (*local_addr)(void *ctx, struct sockaddr_storage *out);
    void *ctx;
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
/* The TLS connection a request came on (HTTPS): what mod_ssl calls
 * SSL_PROTOCOL, SSL_CIPHER, SSL_TLS_SNI and SSL_SESSION_RESUMED. */
struct tls_info {
    const char *protocol;         /* "TLSv1.3" */
    const char *cipher;           /* "TLS_AES_128_GCM_SHA256" */
    const char *sni;              /* the name the client sent, or NULL */
    int resumed;                  /* the session was resumed (a ticket) */
};

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
    const struct reply_stream *stream; /* handler threads only; NULL on the listener */
    struct date_cache *date;      /* the calling thread's */
    const char *query;            /* after a local redirect: its query (no '?'), else NULL:
                                   * the request's */
    size_t query_len;
    const struct reply_async *async; /* the listener thread in MPM event: the request
                                   * may be suspended (below); else NULL */
    void *resumed;                /* a suspended request dispatched again: the state its
                                   * handler suspended it with (below); else NULL */
    int64_t start_us;             /* CLOCK_REALTIME µs the request's first byte came */
    const struct tls_info *tls;   /* HTTPS: the connection's TLS; NULL: plain HTTP */
    const char *user;             /* the user Basic authentication let in (REMOTE_USER),
                                   * else NULL */
};

/* An output filter a module puts on streamed responses (compression):
 * dispatch.c offers every stream a handler thread begins to the
 * registry's filters in order; the first that takes it sees every write.
 * Handler threads only. */
struct stream_filter {
    /* At the head of RP (Header directives applied): 0 with *STATE set
     * when it takes the stream (it may have rewritten the head), 0 with
     * *STATE NULL when not, -1 when it failed (the stream fails). */
    int (*begin)(const struct req_ctx *rq, struct reply *rp, void **state);
    /* Body bytes BUF (LEN; LAST ends the body): what is to be sent goes to
     * EMIT(ARG, ...), the last piece with LAST.  0, or -1 (EMIT failed). */
    int (*write)(void *state, const char *buf, size_t len, int last,
                 int (*emit)(void *arg, const char *buf, size_t n, int last), void *arg);
    void (*end)(void *state);     /* the response is over: free STATE */
};

enum handler_result { HANDLER_DONE = 0, HANDLER_DECLINED = 1, HANDLER_SUSPENDED = 2 };

/* A module: its configuration part (directives, per-section create and
 * merge: module.h) and its entry points, each optional.  They run in this
 * order for every request (src/http/dispatch.c):
 *   translate  before the sections are looked up, in registry order: may
 *              move the file-system mapping (route->fs_base, Alias) or
 *              answer at once (Redirect).  Never blocks.
 *   fast       listener thread, for the request's handler (SetHandler):
 *              never blocks; HANDLER_DECLINED sends the request to a
 *              handler thread, where everything runs again from the start;
 *              HANDLER_SUSPENDED (MPM event): the answer waits on an
 *              upstream without holding a thread (see "answering later").
 *   handle     handler thread: may block on disk or an upstream; must
 *              answer (HANDLER_DONE). */
struct handler {
    const char *name;
    const struct conf_module *conf;
    const struct stream_filter *filter; /* or NULL */
    /* An output step on every answer about to go out, whole or streamed,
     * before the Header directives (Expires): any thread, never blocks.
     * SERVER_MADE: the answer did not come from a handler (a Redirect, a
     * Require refusal).  NULL: none. */
    void (*finish)(const struct req_ctx *rq, struct reply *rp, int server_made);
    /* In each child, once, before any request (handler_env's state[]),
     * and at its end; either may be NULL.  A NULL return with a message
     * in ERR stops the child. */
    void *(*child_init)(const struct handler_env *env, char *err, size_t errlen);
    void (*child_exit)(void *state);
    int (*translate)(const struct req_ctx *rq, struct route *rt, struct reply *rp);
    int (*fast)(const struct req_ctx *rq, struct reply *rp);
    int (*handle)(const struct req_ctx *rq, struct reply *rp);
    /* Authentication for a Require RULE that only a user can grant (the
     * rule said AZ_DENIED_NO_USER without one, dirconf.h): find who the
     * client is, then evaluate RULE for that user.  ACCESS_GRANTED (the
     * user let in); ACCESS_ANSWERED with the refusal in RP (401, 500);
     * on the listener (LISTENER set: never blocks) ACCESS_THREAD when it
     * takes a handler thread (a password to check).  USER (CAP bytes)
     * gets the user the credentials name whenever they could be read
     * (the access log's %u, as Apache logs it even on a 401), else "".
     * RULE NULL (no Require applies): ACCESS_ANSWERED (500) where the
     * module is set to authenticate, as Apache refuses an AuthType with
     * no Require (AH01627), else ACCESS_GRANTED; cheap, it runs for
     * every request.  The first module that has it is asked. */
    int (*authorize)(const struct req_ctx *rq, const struct authz *rule, struct reply *rp,
                     int listener, char *user, size_t cap);
};

enum access_result { ACCESS_GRANTED, ACCESS_ANSWERED, ACCESS_THREAD };
#define ACCESS_USER_MAX REPLY_USER_MAX

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

/* RQ's query string without the '?' (after a local redirect, that
 * redirect's), *LEN its length; NULL (and 0) when there is none. */
const char *handler_query(const struct req_ctx *rq, size_t *len);

/* An error-log line about RQ in its site's ErrorLog, under MODULE (enum
 * log_module: its own LogLevel applies), with the client's address and
 * the virtual host.  Any thread. */
void handler_log(const struct req_ctx *rq, int module, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Read up to LEN bytes of RQ's body (struct body_reader's contract);
 * -1 with *STATUS 500 when called where there is no stream (listener). */
ssize_t handler_read_body(const struct req_ctx *rq, char *buf, size_t len, int *status);

/* The address of SA as text into BUF (LEN bytes: "unknown" for none or
 * another family), an IPv4-mapped IPv6 address in its IPv4 form; its port
 * into *PORT unless PORT is NULL.  Any thread. */
void handler_addr_text(const struct sockaddr *sa, char *buf, size_t len, int *port);

/* This handler's per-child state (its child_init result), or NULL. */
void *handler_state(const struct req_ctx *rq, const struct handler *h);

/* ---- streaming a response (handler threads) ------------------------------
 * A handler that relays what an upstream produces builds the head with
 * reply_start and response_head_add (no body source), then:
 *   handler_stream_begin   the head goes out (Header directives applied,
 *                          Connection added by the connection code); with
 *                          no Content-Length in it and a status that has a
 *                          body, the body is sent chunked to an HTTP/1.1
 *                          client and delimited by the close otherwise.
 *                          FLUSH: send the head now (no body bytes are at
 *                          hand); else it waits for the first write.
 *   handler_stream_write   body bytes, sent before it returns (blocks up to
 *                          Timeout for a slow client: the backpressure);
 *                          LAST: the body ends with them (the final chunk
 *                          goes in the same packet).  With a Content-Length
 *                          head, bytes beyond it are dropped.
 *   handler_stream_tunnel  after a 101: the connection becomes a tunnel
 *                          between the client and FD (owned from here on),
 *                          relayed by the listener thread until either
 *                          side closes or both are quiet for IDLE_S
 *                          seconds; PENDING (LEN bytes already read from
 *                          FD) go to the client first.
 * Each returns 0, or -1 when the client is gone or stopped reading: the
 * handler then stops and drops its upstream.  A handler that began a
 * stream must return HANDLER_DONE without touching RP again; a stream
 * not ended by a LAST write (the upstream failed half-way) ends the
 * connection, so the client sees the response cut short.  Every call
 * returns -1 where there is no stream (the listener thread). */
int handler_stream_begin(const struct req_ctx *rq, struct reply *rp, int flush);

/* The address the client connected to (SERVER_ADDR, SERVER_PORT), into
 * OUT: 0, or -1 (the socket is gone; on the listener in MPM worker).  A
 * system call each time: for handlers that need it (CGI, FastCGI). */
int handler_local_addr(const struct req_ctx *rq, struct sockaddr_storage *out);
int handler_stream_write(const struct req_ctx *rq, const char *buf, size_t len, int last);
int handler_stream_tunnel(const struct req_ctx *rq, int fd, const char *pending, size_t len,
                          int idle_s);

/* ---- answering later, without a thread (MPM event, listener thread) ------
 * A fast entry point whose answer waits on an upstream may suspend the
 * request instead of declining it: it calls handler_suspend with a state
 * of its own, says what that state waits on (handler_watch,
 * handler_watch_kept), and returns HANDLER_SUSPENDED.  The connection
 * then waits holding no thread (its client's input is left for after the
 * answer), and the listener calls
 *   event(STATE, WHAT)  when the watched descriptor is ready (WHAT has
 *                       HANDLER_EV_READ or _WRITE) or its time ran out
 *                       (HANDLER_EV_TIMEOUT); the watch is one-shot.  It
 *                       returns HANDLER_WAIT after watching again, or where
 *                       the request goes now:
 *   HANDLER_WAKE_LISTENER / HANDLER_WAKE_THREAD: the request is dispatched
 *                       again from the start, on the listener (fast) or a
 *                       handler thread (handle), with rq->resumed = STATE;
 *                       the handler answers from it and frees it.  Routing
 *                       is deterministic: the same handler gets it.
 *   cancel(STATE)       when the connection is dropped while suspended (the
 *                       child stops now): free everything.
 * Only event and cancel ever run on STATE while it is suspended, both on
 * the listener thread, and they must not block. */
enum { HANDLER_EV_TIMEOUT = 0x01, HANDLER_EV_READ = 0x02, HANDLER_EV_WRITE = 0x04 };
enum handler_wake { HANDLER_WAIT, HANDLER_WAKE_LISTENER, HANDLER_WAKE_THREAD };

struct handler_async_ops {
    enum handler_wake (*event)(void *state, short what);
    void (*cancel)(void *state);
};

struct handler_waiter;            /* the suspended connection's (src/http/conn.c) */

/* The connection code's side of it (rq->async). */
struct reply_async {
    struct handler_waiter *(*suspend)(void *ctx, const struct handler_async_ops *ops,
                                      void *state, int timeout_ms);
    int (*local_addr)(void *ctx, struct sockaddr_storage *out);
    void *ctx;
};

/* Suspend RQ with STATE, woken by its time (HANDLER_EV_TIMEOUT) after
 * TIMEOUT_MS (> 0) unless a watch replaces that: the waiter to watch
 * with, or NULL where a request cannot be suspended (rq->async NULL; out
 * of memory; the event loop refused): then nothing is held, and the
 * handler declines or answers. */
struct handler_waiter *handler_suspend(const struct req_ctx *rq,
                                       const struct handler_async_ops *ops, void *state,
                                       int timeout_ms);

/* Watch FD for WHAT (HANDLER_EV_READ or _WRITE; FD -1 and WHAT 0: only
 * the time) for up to TIMEOUT_MS, once, instead of what W watched.  0, or
 * -1 when the event loop refused (W then watches nothing: wake the
 * request to answer an error).  Listener thread. */
int handler_watch(struct handler_waiter *w, int fd, short what, int timeout_ms);

/* A descriptor a handler keeps open on the listener across requests (an
 * upstream connection it reuses): registered with the event loop once,
 * for its whole life, instead of once per wait (two epoll_ctl calls per
 * request saved: 10 % of a proxying listener's time).  While a suspended
 * request waits on it (handler_watch_kept), its readiness reaches that
 * request's event() as HANDLER_EV_READ; when it becomes readable with no
 * request waiting, IDLE(ARG) runs (the peer closed, or sent what nobody
 * asked for; or the handler's own request is between waits: the
 * readiness is then kept for its next handler_watch_kept); when the
 * child stops, IDLE runs for every kept descriptor once the suspended
 * requests are gone, and must let go of it (handler_unkeep).  W: the
 * waiter of the request that registers it.  NULL when out of memory.
 * Listener thread, like everything about it. */
struct handler_kept;
struct handler_kept *handler_keep(struct handler_waiter *w, int fd, void (*idle)(void *arg),
                                  void *arg);

/* Wait until K is readable, up to TIMEOUT_MS (once).  0, or -1. */
int handler_watch_kept(struct handler_waiter *w, struct handler_kept *k, int timeout_ms);

/* Forget K (before its descriptor is closed or given to another thread);
 * NULL: nothing. */
void handler_unkeep(struct handler_kept *k);

#endif
