/* workq.h: the queue between a child's listener thread and its handler
 * threads.
 *
 * An intrusive FIFO (items embed struct workq_item), one mutex and one
 * condition variable.  It counts the handler threads waiting in
 * workq_pop, so the listener can tell when the child has no idle handler
 * left and stop accepting (Apache's behaviour: idle siblings take the
 * new connections).  When a handler becomes idle again and the listener
 * asked to be told, workq calls the on_idle callback (from the handler
 * thread, outside the lock). */
#ifndef MPMD_WORKQ_H
#define MPMD_WORKQ_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

struct workq_item {
    struct workq_item *next;
};

struct workq {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct workq_item *head;    /* guarded by lock */
    struct workq_item *tail;    /* guarded by lock */
    size_t len;                 /* guarded by lock: queued items */
    int idle;                   /* guarded by lock: threads blocked in workq_pop */
    int closed;                 /* guarded by lock: workq_close was called */
    int notify_idle;            /* guarded by lock: call on_idle at next idle handler */
    void (*on_idle)(void *arg); /* set before threads start; read-only after */
    void *on_idle_arg;
    _Atomic int *len_gauge;     /* set before threads start, or NULL: LEN published
                                 * for server-status and metrics */
};

/* Initialise Q with an optional ON_IDLE callback.  Returns 0 or -1. */
int workq_init(struct workq *q, void (*on_idle)(void *), void *arg);

/* Destroy Q.  No thread may be using it. */
void workq_destroy(struct workq *q);

/* Append IT and wake one idle handler.  Returns how many idle handlers
 * remain unclaimed after this push (<= 0 means every handler is busy or
 * claimed, and the push asked for on_idle to be called when one frees
 * up).  Any thread. */
int workq_push(struct workq *q, struct workq_item *it);

/* Take the oldest item, blocking while the queue is empty.  Returns NULL
 * once the queue is closed and empty.  Handler threads. */
struct workq_item *workq_pop(struct workq *q);

/* Items queued and not yet taken (a snapshot).  Any thread. */
size_t workq_pending(struct workq *q);

/* Wake every waiter; later pops drain what is queued, then return NULL. */
void workq_close(struct workq *q);

#endif
