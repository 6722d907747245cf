/* listener.h: a child's listener thread: one libevent event_base that
 * accepts connections, reads and parses request heads, waits on idle
 * keep-alive connections, completes writes handed back by handlers, and
 * listens to the supervisor's control pipe. */
#ifndef MPMD_LISTENER_H
#define MPMD_LISTENER_H

#include <event2/event.h>
#include <event2/listener.h>

#include "mpmd/mpm/balance.h"
#include "mpmd/core/config.h"
#include "mpmd/core/log.h"
#include "mpmd/http/response.h"

struct child;

struct listener {
    struct event_base *base;
    struct evconnlistener *evl[CONFIG_MAX_LISTEN];
    struct event *watch_ev[CONFIG_MAX_LISTEN]; /* edge-triggered, while deferring */
    int n_evl;
    /* Accept state, listener thread only; listener_sync() turns it into
     * events: evl enabled when accepting && !burst_paused && !deferring,
     * watch_ev added when accepting && deferring. */
    int accepting;                  /* not paused, stopped or out of descriptors */
    struct event *control_ev;       /* supervisor pipe */
    struct event *resume_ev;        /* a handler became idle: accept again */
    struct event *drained_ev;       /* stopping and the last connection closed */
    struct event *sigterm_ev;
    struct event *drain_ev;         /* end of the accept drain on graceful stop */
    int draining;                   /* listener thread only: still accepting to drain */
    struct event *retry_ev;         /* accept again after running out of descriptors */
    int retry_pending;              /* listener thread only */
    struct event *burst_ev;         /* end of an accept burst: accept again */
    int burst;                      /* listener thread only: accepts this burst */
    int burst_paused;               /* listener thread only: yielding to siblings */
    struct accept_balance balance;  /* listener thread only */
    struct log_batch log_batch;     /* access-log lines of one loop iteration */
    int deferring;                  /* listener thread only: over our share (balance.h) */
    struct event *defer_check_ev;   /* a connection waited BALANCE_WAIT_MS: take it */
    /* Common timeouts (libevent keeps one queue per distinct value). */
    const struct timeval *tv_write;      /* Timeout: stalled write */
    const struct timeval *tv_keepalive;  /* KeepAliveTimeout */
    const struct timeval *tv_linger;     /* lingering close */
    struct date_cache date;         /* for answers the listener sends itself (408) */
};

/* Create the event base and events for C.  Returns 0 or -1 (logged). */
int listener_init(struct child *c);

/* Run the loop until the child has stopped.  Listener thread. */
int listener_run(struct child *c);

/* Free what listener_init made.  After listener_run returned. */
void listener_free(struct child *c);

/* Stop accepting for good (the child is stopping).  Listener thread. */
void listener_stop_accepting(struct child *c);

#define LISTENER_DRAIN_MS 300     /* graceful stop: accept what is queued this long */

/* Keep accepting for LISTENER_DRAIN_MS to empty the kernel's queue, then
 * stop accepting, close this child's copies of the listening sockets (and
 * end the loop if no connection is left).  Listener thread. */
void listener_drain_then_stop(struct child *c);

/* Stop / start accepting while busy.  Listener thread only. */
void listener_pause_accept(struct child *c);
void listener_resume_accept(struct child *c);

/* Ask the listener to resume accepting (any thread). */
void listener_wake_accept(struct child *c);

#endif
