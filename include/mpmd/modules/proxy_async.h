/* proxy_async.h: an exchange with an upstream run by the listener thread
 * for a suspended request (handler.h's "answering later"; MPM event).
 *
 * proxy_async.c owns the part every protocol shares: a connection taken
 * from the pool without waiting (or connected without blocking), the
 * request bytes sent, one retry on a new connection when a pooled one
 * failed before any byte of an answer, errors and timeouts; and the HTTP
 * response (struct pa_http).  fcgi_async.c reads a FastCGI application's
 * records (struct pa_fcgi).  Each protocol says, through struct pa_proto,
 * how its answer is read, given from memory on the listener, or relayed
 * from where the listener stopped on a handler thread.
 *
 * Listener thread, but for the relay; a state belongs to one request. */
#ifndef MPMD_PROXY_ASYNC_H
#define MPMD_PROXY_ASYNC_H

#include <http_parser.h>
#include <sys/types.h>

#include "mpmd/modules/cgihead.h"
#include "mpmd/modules/fcgi_record.h"
#include "mpmd/modules/proxy.h"
#include "mpmd/modules/proxy_resp.h"

/* How long an answer may pause, once it has begun, before it is streamed
 * by a handler thread rather than gathered here. */
#define PA_PATIENCE_MS 20

/* How much of an answer the listener gathers before a thread streams it. */
#define PA_GATHER_MAX PROXY_RESPONSE_HEAD_MAX

enum pa_phase { PA_CONNECT, PA_SEND, PA_READ, PA_DONE, PA_FAILED };

/* What the state waits for next. */
struct pa_want {
    short what;
    int ms;
};

struct proxy_async;

struct pa_proto {
    /* PA_READ: the connection is readable (TIMED_OUT: it stayed quiet for
     * the wait asked).  HANDLER_WAIT with *WANT set, or a wake: after
     * pa_done (complete), pa_fail, pa_lost (nothing came back), or
     * HANDLER_WAKE_THREAD (stream it from here). */
    enum handler_wake (*read)(struct proxy_async *a, int timed_out, struct pa_want *want);
    void (*reset)(struct proxy_async *a);      /* before a retry: forget what was read */
    int (*answer)(struct proxy_request *pr, struct proxy_async *a, struct reply *rp);
    void (*relay)(struct proxy_request *pr, struct proxy_async *a, int fd, struct reply *rp);
    int (*forward)(struct proxy_request *pr, struct reply *rp);  /* from the start */
    void (*free)(struct proxy_async *a);
    const char *no_answer;        /* "no response from": for proxy_fail_status */
    int keeps;                    /* the listener keeps its connections for itself
                                   * (struct pa_link) rather than in the shared pool */
};

/* A connection the listener keeps for itself: registered with its event
 * loop once (handler_keep), reused by the listener only, still counted
 * in its pool's open connections.  Listener thread. */
struct pa_link {
    int fd;
    struct handler_kept *kept;
    struct upstream_pool *pool;
    struct pa_link *next;         /* in the pool's listener list, newest first */
    long long idle_since;         /* monotonic ms it went idle */
    int busy;                     /* a request has it */
};

/* The HTTP response, raw bytes as read, the head parsed. */
struct pa_http {
    struct proxy_resp resp;       /* the head parsed once resp.head_len is set; a
                                   * Content-Length body is counted (resp.length) */
    http_parser hp;               /* else the body's framing, fed from resp */
    size_t fed;                   /* bytes of resp looked at; once done, where the
                                   * message ends */
    int message_done;             /* hp saw the message's end */
    int head_request;
};

/* A FastCGI application's records, decoded. */
struct pa_fcgi {
    struct fcgi_decoder d;
    char *out;                    /* STDOUT so far (head and body) */
    size_t out_len, out_cap;
    char *err;                    /* STDERR so far (up to a limit) */
    size_t err_len;
    int got_any;                  /* a byte of an answer came back */
    int ended, clean;             /* END_REQUEST seen; nothing wrong around it */
    int timed_out;                /* quiet for the timeout after its first bytes */
    struct cgi_head *head;        /* parsed once ended (owned), else NULL */
    size_t head_used;             /* bytes of OUT the head took */
};

struct proxy_async {
    const struct pa_proto *proto;
    struct handler_waiter *waiter;
    struct upstream_pool *pool;
    int fd;                       /* the upstream connection; -1 once given back */
    struct pa_link *link;         /* FD kept by the listener, or NULL (the shared pool's) */
    enum pa_phase phase;
    int reused, retried, may_retry;
    int timeout_ms, connect_ms, retry_s, ttl_s;
    char *req;                    /* the request bytes to send (owned) */
    size_t req_len, req_sent;
    int fail_errno;               /* PA_FAILED: errno, or 0 when FAIL_ERROR says why */
    const char *fail_what;        /* PA_FAILED: for proxy_fail_status */
    const char *fail_error;       /* PA_FAILED: a malformed answer (static), a 502 */
    union {
        struct pa_http http;
        struct pa_fcgi fcgi;
    } u;
};

/* A state for PR's request that sends REQ (LEN bytes, owned from here,
 * even on failure) and reads the answer as PROTO says; NULL when out of
 * memory.  The protocol part is zeroed: the caller sets it up. */
struct proxy_async *pa_new(const struct proxy_request *pr, const struct pa_proto *proto,
                           char *req, size_t len);

/* Suspend PR's request on A and start: HANDLER_SUSPENDED, HANDLER_DONE
 * (RP an error answer), or HANDLER_DECLINED (every connection busy:
 * nothing was sent; A freed either way but when suspended). */
int pa_start(struct proxy_request *pr, struct proxy_async *a, struct reply *rp);

/* The exchange failed: errno E while WHAT (proxy_fail_status), or with
 * E 0 the answer was malformed as ERROR says.  The connection is closed. */
enum handler_wake pa_fail(struct proxy_async *a, int e, const char *what, const char *error);

/* The connection failed with E before any byte of an answer came back:
 * once more on another when the pool gave it, else the error. */
enum handler_wake pa_lost(struct proxy_async *a, int e, struct pa_want *want);

/* The answer is complete: the connection back to the pool when REUSABLE
 * (and ttl allows), else closed. */
enum handler_wake pa_done(struct proxy_async *a, int reusable);

/* One read of A's connection into BUF (CAP bytes): the bytes read (> 0),
 * -1 when there are none yet, or minus an errno: -EPIPE at its end,
 * -ECONNRESET and the like. */
ssize_t pa_recv(struct proxy_async *a, void *buf, size_t cap);

/* A wait for more of an answer: the full timeout until its first bytes,
 * PA_PATIENCE_MS after. */
enum handler_wake pa_wait_read(struct proxy_async *a, int begun, struct pa_want *want);

/* RP, built from an upstream's complete answer, gets its body: LEN bytes
 * at BODY in A's buffers, sent from there (the reply then frees A; A is
 * freed at once when there is nothing to send).  No body for HEAD and
 * 1xx/204/304; a Content-Length when the head has none, else.  Never
 * replaced by an ErrorDocument (rp->relayed).  HANDLER_DONE. */
int pa_answer_body(struct proxy_async *a, const struct req_ctx *rq, struct reply *rp,
                   const char *body, size_t len);

void pa_free(struct proxy_async *a);

/* The FastCGI protocol (fcgi_async.c). */
extern const struct pa_proto pa_fcgi_proto;

#endif
