/* pool.h: a child's handler threads.
 *
 * Each thread loops on the child's work queue and runs connections: one
 * request at a time (MPM event) or the whole connection (MPM worker). */
#ifndef MPMD_POOL_H
#define MPMD_POOL_H

#include <pthread.h>

#include "mpmd/http/response.h"
#include "mpmd/core/scoreboard.h"

struct child;

/* Per-thread state, owned by its thread once started. */
struct worker {
    struct child *child;
    int index;
    pthread_t thread;
    struct sb_thread *sb;          /* this thread's scoreboard slot */
    struct date_cache date;
};

struct pool {
    struct worker *workers;        /* n entries, owned */
    int n;
    int started;                   /* threads actually created */
};

/* Start N handler threads for C (all signals blocked in them).  Returns 0,
 * or -1 after joining whatever did start.  Listener thread, at start-up. */
int pool_start(struct pool *p, struct child *c, int n);

/* Join every thread (the work queue must be closed first) and free. */
void pool_join(struct pool *p);

#endif
