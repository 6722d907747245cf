/* child.h: one child process: its single context struct and entry point.
 *
 * A child runs one listener thread (its main thread, driving a libevent
 * event_base) and a pool of ThreadsPerChild handler threads.  Everything
 * a child owns hangs off its struct child; there is no other mutable
 * state in the process. */
#ifndef MPMD_CHILD_H
#define MPMD_CHILD_H

#include <stdatomic.h>
#include <stdint.h>

#include "mpmd/core/config.h"
#include "mpmd/http/handler.h"
#include "mpmd/http/http.h"
#include "mpmd/mpm/listener.h"
#include "mpmd/core/log.h"
#include "mpmd/modules/mime.h"
#include "mpmd/mpm/pool.h"
#include "mpmd/core/scoreboard.h"
#include "mpmd/mpm/workq.h"

/* Messages on the supervisor → child control pipe (one byte each). */
#define CONTROL_GRACEFUL 'G'   /* stop accepting, finish in-flight requests, exit */
#define CONTROL_DRAIN 'W'      /* graceful stop: first accept what the kernel queued */
#define CONTROL_STOP 'S'       /* close connections now and exit */

enum child_stop { CHILD_RUNNING = 0, CHILD_GRACEFUL = 1, CHILD_IMMEDIATE = 2 };

struct child {
    /* Set by the supervisor before fork; read-only in the child. */
    const struct config *cfg;
    struct logger *log;
    const struct mime_table *mime;
    struct scoreboard *sb;
    int slot;                     /* scoreboard slot of this child */
    struct sb_proc *proc;         /* its record in the server's scoreboard */
    struct sb_thread *listener_rec; /* the listener thread's record (set by child_main) */
    pid_t pid;                    /* getpid() (a system call each time since glibc 2.25) */
    int generation;
    int control_fd;               /* read end of the supervisor's pipe */
    const int *listen_fds;
    int n_listen;

    /* Set up by child_main. */
    struct http_limits limits;
    struct filecache *cache;      /* small files; NULL when FileCacheSize is 0 */
    struct handler_env env;       /* what handlers may use (cfg, mime, cache, log) */
    struct listener lst;          /* listener thread state */
    struct workq q;               /* listener → handlers */
    struct pool pool;             /* handler threads */
    int stop_pipe[2];             /* read end turns readable when stopping */
    _Atomic int stopping;         /* enum child_stop; written by the listener thread */
    _Atomic uint64_t accepted;    /* connections accepted (MaxConnectionsPerChild) */
};

/* Run the child: drop privileges, start the handler threads, run the
 * listener until told to stop, join everything.  Returns the process
 * exit status.  Called in the forked child only. */
int child_main(struct child *c);

/* Begin stopping (listener thread only): stop accepting, and either let
 * in-flight requests finish (graceful) or close everything now.  With
 * DRAIN (graceful stop of the whole server, new connections already kept
 * out by the supervisor) the child first accepts, for a short while,
 * every connection the kernel has queued, so none is reset. */
void child_begin_stop(struct child *c, enum child_stop how, int drain);

/* Called (any thread) whenever a connection opens: counts it in the
 * child's scoreboard slot, where siblings balance accepts against it. */
void child_conn_opened(struct child *c);

/* Connections open in this child now (any thread). */
int child_conns_open(const struct child *c);

/* Called (any thread) whenever a connection closes: uncounts it, and wakes
 * the listener when a stopping child has no connection left. */
void child_conn_closed(struct child *c);

#endif
