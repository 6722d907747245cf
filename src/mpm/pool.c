/* pool.c: a child's handler threads (see pool.h).
 *
 * Created by the listener (main) thread at child start-up; each thread
 * pops connections from the work queue until the queue is closed. */
#include "config.h"

#include "mpmd/mpm/pool.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "mpmd/mpm/child.h"
#include "mpmd/http/conn.h"

#define HANDLER_STACK_SIZE (256 * 1024)

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct child *ch = w->child;
    struct workq_item *it;
    while ((it = workq_pop(&ch->q)) != NULL) {
        scoreboard_set_thread_state(w->sb, SB_THREAD_WRITING);
        conn_run(w, (struct conn *)it);
        scoreboard_set_thread_state(w->sb, SB_THREAD_READY);
    }
    scoreboard_set_thread_state(w->sb, SB_THREAD_DEAD);
    return NULL;
}

int pool_start(struct pool *p, struct child *c, int n)
{
    sigset_t all, old;
    pthread_attr_t attr;
    p->workers = calloc((size_t)n, sizeof *p->workers);
    p->n = n;
    p->started = 0;
    if (!p->workers)
        return -1;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, HANDLER_STACK_SIZE);
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* new threads inherit the full mask */
    for (int i = 0; i < n; i++) {
        struct worker *w = &p->workers[i];
        w->child = c;
        w->index = i;
        w->sb = scoreboard_thread(c->sb, c->slot, i);
        /* READY before the thread runs: the supervisor counts idle threads
         * as soon as the child says it is ready, and a thread not yet
         * scheduled is as idle as one waiting for work. */
        scoreboard_set_thread_state(w->sb, SB_THREAD_READY);
        if (pthread_create(&w->thread, &attr, worker_main, w) != 0) {
            scoreboard_set_thread_state(w->sb, SB_THREAD_DEAD);
            break;
        }
        p->started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (p->started == n)
        return 0;
    workq_close(&c->q);
    pool_join(p);
    return -1;
}

void pool_join(struct pool *p)
{
    for (int i = 0; i < p->started; i++)
        pthread_join(p->workers[i].thread, NULL);
    free(p->workers);
    p->workers = NULL;
    p->started = p->n = 0;
}
