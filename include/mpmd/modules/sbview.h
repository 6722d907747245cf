/* sbview.h: one reading of the server's scoreboard (core/scoreboard.h),
 * as server-status and metrics present it: the totals, one row per live
 * child process of any generation, and a character per handler thread.
 *
 * Taken by the thread answering a status or metrics request (the
 * listener: it never blocks); the view is the caller's, freed with
 * sbview_free. */
#ifndef MPMD_SBVIEW_H
#define MPMD_SBVIEW_H

#include <stdint.h>
#include <time.h>
#include <sys/types.h>

#include "mpmd/core/scoreboard.h"
#include "mpmd/http/handler.h"

struct sbview_thread {
    char mode;                     /* Apache's scoreboard character: _ S R W K C G . */
    uint64_t requests;
    uint64_t bytes;                /* ExtendedStatus: body bytes sent */
    int64_t last_start_us;         /* ExtendedStatus: CLOCK_REALTIME µs, 0: none */
    int64_t last_dur_us;           /* -1 while it runs */
    uint64_t dur_sum_us;
    char client[SB_CLIENT_WORDS * 8 + 1];
    char vhost[SB_VHOST_WORDS * 8 + 1];
    char request[SB_REQUEST_WORDS * 8 + 1];
};

struct sbview_proc {
    int index;                     /* record number in the server's scoreboard */
    pid_t pid;
    int generation;
    int slot;                      /* in its generation */
    int state;                     /* enum sb_child_state */
    int64_t started;               /* CLOCK_REALTIME seconds */
    int conns[SB_CONN_STATES];
    int conns_total;
    int queued;
    int busy, idle, graceful;      /* handler threads */
    uint64_t requests;             /* answered by its threads and its listener */
    uint64_t bytes;                /* ExtendedStatus: body bytes its threads sent */
    int n_threads;                 /* handler threads; threads[n_threads] is the listener */
    struct sbview_thread *threads;
};

struct sbview {
    int64_t now_us;                /* CLOCK_REALTIME when taken */
    int64_t start_time, restart_time;
    int generation;                /* the server's current */
    uint64_t restarts, child_crashes, children_started;
    int server_limit;              /* current configuration's */
    int threads_per_child;
    struct sb_counters totals;     /* every child's, live and exited */
    uint64_t requests;             /* sum over totals.requests */
    int busy, idle, graceful;      /* handler threads, all live children */
    int processes, stopping;       /* live children; of them, stopping */
    int conns[SB_CONN_STATES];
    int conns_total;
    int queued;
    int n_procs;
    struct sbview_proc *procs;     /* live children, current generation first, by slot */
};

/* Read SRV into V (EXTENDED: copy the per-thread request records too).
 * SERVER_LIMIT and THREADS are the reader's configuration's.  Returns 0,
 * or -1 when out of memory. */
int sbview_take(struct sbview *v, const struct sb_server *srv, int generation, int server_limit,
                int threads, int extended);
void sbview_free(struct sbview *v);

/* The Scoreboard line / grid: one character per handler-thread place of
 * the current generation (ServerLimit x ThreadsPerChild, '.' where no
 * child runs).  Older generations' children still finishing take the
 * slots the current one leaves free (as in Apache, so the length stays);
 * only when none is free are their places added at the end.  Returns a
 * malloc'd string, or NULL. */
char *sbview_grid(const struct sbview *v);

/* Take a view for the request RQ (its configuration's ServerLimit,
 * ThreadsPerChild and generation; EXTENDED as sbview_take).  0, or -1
 * with RP answered 405 (a method other than GET or HEAD, with Allow) or
 * 500 (out of memory). */
int sbview_for_request(struct sbview *v, const struct req_ctx *rq, struct reply *rp,
                       int extended);

struct tbuf;
/* Answer RP with B's text as TYPE (B's memory goes with the reply;
 * Cache-Control: no-cache), or 500 when B ran out of memory. */
int sbview_reply(const struct req_ctx *rq, struct reply *rp, struct tbuf *b, const char *type);

/* A growing text buffer for the pages built from a view. */
struct tbuf {
    char *p;
    size_t len, cap;
    int failed;                    /* out of memory: the text is cut */
};
void tb_put(struct tbuf *b, const char *s, size_t n);
void tb_puts(struct tbuf *b, const char *s);
void tb_printf(struct tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* S with & < > " escaped for HTML. */
void tb_html(struct tbuf *b, const char *s);
/* S as the inside of a JSON string. */
void tb_json(struct tbuf *b, const char *s);

#endif
