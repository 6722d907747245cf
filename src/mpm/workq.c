/* workq.c: the listener → handler queue of a child (see workq.h).
 *
 * Runs in the listener thread (push) and handler threads (pop).  One
 * mutex guards everything; the condition variable is signalled only when
 * somebody is actually waiting, so a push to a busy pool costs no
 * wake-up system call. */
#include "config.h"

#include "mpmd/mpm/workq.h"

int workq_init(struct workq *q, void (*on_idle)(void *), void *arg)
{
    q->head = q->tail = NULL;
    q->len = 0;
    q->idle = 0;
    q->closed = 0;
    q->notify_idle = 0;
    q->on_idle = on_idle;
    q->on_idle_arg = arg;
    q->len_gauge = NULL;
    if (pthread_mutex_init(&q->lock, NULL) != 0)
        return -1;
    if (pthread_cond_init(&q->cond, NULL) != 0) {
        pthread_mutex_destroy(&q->lock);
        return -1;
    }
    return 0;
}

void workq_destroy(struct workq *q)
{
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
}

int workq_push(struct workq *q, struct workq_item *it)
{
    it->next = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    q->len++;
    if (q->len_gauge)
        atomic_store_explicit(q->len_gauge, (int)q->len, memory_order_relaxed);
    int spare = q->idle - (int)q->len;
    if (spare <= 0)
        q->notify_idle = 1;
    if (q->idle > 0)
        pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
    return spare;
}

size_t workq_pending(struct workq *q)
{
    pthread_mutex_lock(&q->lock);
    size_t n = q->len;
    pthread_mutex_unlock(&q->lock);
    return n;
}

/* Called with the lock held: unlink and return the head item. */
static struct workq_item *take_head(struct workq *q)
{
    struct workq_item *it = q->head;
    q->head = it->next;
    if (!q->head)
        q->tail = NULL;
    q->len--;
    if (q->len_gauge)
        atomic_store_explicit(q->len_gauge, (int)q->len, memory_order_relaxed);
    it->next = NULL;
    return it;
}

struct workq_item *workq_pop(struct workq *q)
{
    pthread_mutex_lock(&q->lock);
    while (!q->head && !q->closed) {
        if (q->notify_idle) {
            /* Tell the listener outside the lock, then look again. */
            q->notify_idle = 0;
            pthread_mutex_unlock(&q->lock);
            if (q->on_idle)
                q->on_idle(q->on_idle_arg);
            pthread_mutex_lock(&q->lock);
            continue;
        }
        q->idle++;
        pthread_cond_wait(&q->cond, &q->lock);
        q->idle--;
    }
    struct workq_item *it = q->head ? take_head(q) : NULL;
    pthread_mutex_unlock(&q->lock);
    return it;
}

void workq_close(struct workq *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}
