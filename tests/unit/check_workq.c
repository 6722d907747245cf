/* check_workq.c: unit tests for the listener -> handler queue
 * (src/mpm/workq.c): FIFO order, the spare count returned by push, the
 * on_idle callback, close semantics and a multi-producer/consumer stress
 * run.  Runs in the single Check runner (check_main.c); the tests start
 * their own threads and join them before returning. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "check_suites.h"
#include "mpmd/mpm/workq.h"

/* How long a test waits for another thread before it fails. */
#define WAIT_MS 10000

struct item {
    struct workq_item link;   /* first: a workq_item * is an item * */
    int id;
};

static struct item *item_of(struct workq_item *it)
{
    return (struct item *)it;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int idle_count(struct workq *q)
{
    pthread_mutex_lock(&q->lock);
    int n = q->idle;
    pthread_mutex_unlock(&q->lock);
    return n;
}

/* Wait until Q has exactly N threads blocked in workq_pop. */
static void wait_idle(struct workq *q, int n)
{
    for (int ms = 0; ms < WAIT_MS; ms++) {
        if (idle_count(q) == n)
            return;
        sleep_ms(1);
    }
    ck_abort_msg("timed out waiting for %d idle threads (have %d)", n, idle_count(q));
}

/* Wait until *V reaches N. */
static void wait_atomic(atomic_int *v, int n)
{
    for (int ms = 0; ms < WAIT_MS; ms++) {
        if (atomic_load(v) >= n)
            return;
        sleep_ms(1);
    }
    ck_abort_msg("timed out waiting for counter %d (have %d)", n, atomic_load(v));
}

/* A test thread that says when it is done, so the test can wait with a
 * timeout and then pthread_join (which tools like helgrind understand). */
struct runner {
    pthread_t thread;
    void *(*fn)(void *);
    void *arg;
    void *ret;
    atomic_int done;
};

static void *runner_main(void *p)
{
    struct runner *r = p;
    r->ret = r->fn(r->arg);
    atomic_store(&r->done, 1);
    return NULL;
}

static void start(struct runner *r, void *(*fn)(void *), void *arg)
{
    r->fn = fn;
    r->arg = arg;
    r->ret = NULL;
    atomic_init(&r->done, 0);
    ck_assert_int_eq(pthread_create(&r->thread, NULL, runner_main, r), 0);
}

/* Wait for R's function to return (failing the test instead of hanging),
 * join the thread and return what the function returned. */
static void *finish(struct runner *r)
{
    wait_atomic(&r->done, 1);
    ck_assert_int_eq(pthread_join(r->thread, NULL), 0);
    return r->ret;
}

START_TEST(test_init_empty)
{
    struct workq q;
    ck_assert_int_eq(workq_init(&q, NULL, NULL), 0);
    ck_assert_ptr_null(q.head);
    ck_assert_ptr_null(q.tail);
    ck_assert_uint_eq(q.len, 0);
    ck_assert_int_eq(q.idle, 0);
    ck_assert_int_eq(q.closed, 0);
    ck_assert_int_eq(q.notify_idle, 0);
    workq_destroy(&q);
}
END_TEST

START_TEST(test_fifo_single_thread)
{
    struct workq q;
    struct item items[5];
    ck_assert_int_eq(workq_init(&q, NULL, NULL), 0);
    for (int i = 0; i < 5; i++) {
        items[i].id = i;
        items[i].link.next = &items[0].link;   /* garbage: push must reset it */
        /* Nobody waits: each push leaves -(queued) spare handlers. */
        ck_assert_int_eq(workq_push(&q, &items[i].link), -(i + 1));
        ck_assert_uint_eq(q.len, (size_t)i + 1);
    }
    ck_assert_int_eq(q.notify_idle, 1);
    for (int i = 0; i < 5; i++) {
        struct workq_item *it = workq_pop(&q);
        ck_assert_ptr_eq(it, &items[i].link);
        ck_assert_int_eq(item_of(it)->id, i);
        ck_assert_ptr_null(it->next);
        ck_assert_uint_eq(q.len, (size_t)(4 - i));
    }
    ck_assert_ptr_null(q.head);
    ck_assert_ptr_null(q.tail);

    /* The queue works again after draining (tail was reset). */
    ck_assert_int_eq(workq_push(&q, &items[3].link), -1);
    ck_assert_int_eq(workq_push(&q, &items[1].link), -2);
    ck_assert_ptr_eq(workq_pop(&q), &items[3].link);
    ck_assert_ptr_eq(workq_pop(&q), &items[1].link);
    workq_destroy(&q);
}
END_TEST

START_TEST(test_close_then_pop)
{
    struct workq q;
    struct item items[3];
    ck_assert_int_eq(workq_init(&q, NULL, NULL), 0);
    for (int i = 0; i < 3; i++)
        workq_push(&q, &items[i].link);
    workq_close(&q);
    ck_assert_int_eq(q.closed, 1);
    for (int i = 0; i < 3; i++)
        ck_assert_ptr_eq(workq_pop(&q), &items[i].link);
    ck_assert_ptr_null(workq_pop(&q));
    ck_assert_ptr_null(workq_pop(&q));
    workq_destroy(&q);
}
END_TEST

START_TEST(test_close_empty)
{
    struct workq q;
    ck_assert_int_eq(workq_init(&q, NULL, NULL), 0);
    workq_close(&q);
    ck_assert_ptr_null(workq_pop(&q));
    workq_close(&q);   /* twice is harmless */
    ck_assert_ptr_null(workq_pop(&q));
    workq_destroy(&q);
}
END_TEST

/* A thread that pops once and returns what it got. */
static void *pop_once(void *arg)
{
    return workq_pop(arg);
}

START_TEST(test_push_spare_count)
{
    enum { N = 3 };
    struct workq q;
    struct item items[N + 1];
    struct runner t[N];
    ck_assert_int_eq(workq_init(&q, NULL, NULL), 0);
    for (int i = 0; i < N; i++)
        start(&t[i], pop_once, &q);
    wait_idle(&q, N);

    /* Whether or not a woken handler already took its item, the spare
     * count is idle handlers minus queued items: N-1, N-2, ..., -1. */
    for (int i = 0; i <= N; i++) {
        items[i].id = i;
        ck_assert_int_eq(workq_push(&q, &items[i].link), N - 1 - i);
    }

    int seen[N + 1] = { 0 };
    for (int i = 0; i < N; i++) {
        struct workq_item *it = finish(&t[i]);
        ck_assert_ptr_nonnull(it);
        seen[item_of(it)->id]++;
    }
    /* The first N items went to the handlers, the last is still queued. */
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(seen[i], 1);
    ck_assert_int_eq(seen[N], 0);
    ck_assert_uint_eq(q.len, 1);
    ck_assert_int_eq(q.idle, 0);
    ck_assert_ptr_eq(workq_pop(&q), &items[N].link);
    workq_destroy(&q);
}
END_TEST

START_TEST(test_close_wakes_all)
{
    enum { N = 4 };
    struct workq q;
    struct runner t[N];
    ck_assert_int_eq(workq_init(&q, NULL, NULL), 0);
    for (int i = 0; i < N; i++)
        start(&t[i], pop_once, &q);
    wait_idle(&q, N);
    workq_close(&q);
    for (int i = 0; i < N; i++)
        ck_assert_ptr_null(finish(&t[i]));
    ck_assert_int_eq(q.idle, 0);
    workq_destroy(&q);
}
END_TEST

/* A handler pool for the on_idle tests. */
struct pool_ctx {
    struct workq q;
    atomic_int idle_calls;    /* on_idle invocations */
    atomic_int processed;     /* items handled */
};

static void count_idle(void *arg)
{
    struct pool_ctx *ctx = arg;
    atomic_fetch_add(&ctx->idle_calls, 1);
}

static void *handler_loop(void *arg)
{
    struct pool_ctx *ctx = arg;
    while (workq_pop(&ctx->q))
        atomic_fetch_add(&ctx->processed, 1);
    return NULL;
}

static void pool_start(struct pool_ctx *ctx, struct runner *t, int n)
{
    atomic_init(&ctx->idle_calls, 0);
    atomic_init(&ctx->processed, 0);
    ck_assert_int_eq(workq_init(&ctx->q, count_idle, ctx), 0);
    for (int i = 0; i < n; i++)
        start(&t[i], handler_loop, ctx);
}

static void pool_stop(struct pool_ctx *ctx, struct runner *t, int n)
{
    workq_close(&ctx->q);
    for (int i = 0; i < n; i++)
        finish(&t[i]);
    workq_destroy(&ctx->q);
}

START_TEST(test_on_idle_after_full_push)
{
    struct pool_ctx ctx;
    struct runner t[1];
    struct item a, b;
    pool_start(&ctx, t, 1);
    wait_idle(&ctx.q, 1);

    /* The only handler is claimed: push asks to be told when it frees. */
    ck_assert_int_eq(workq_push(&ctx.q, &a.link), 0);
    wait_atomic(&ctx.idle_calls, 1);
    wait_idle(&ctx.q, 1);
    ck_assert_int_eq(atomic_load(&ctx.processed), 1);
    ck_assert_int_eq(atomic_load(&ctx.idle_calls), 1);   /* once, not per loop */

    /* And again for the next full push. */
    ck_assert_int_eq(workq_push(&ctx.q, &b.link), 0);
    wait_atomic(&ctx.idle_calls, 2);
    wait_idle(&ctx.q, 1);
    ck_assert_int_eq(atomic_load(&ctx.processed), 2);
    ck_assert_int_eq(atomic_load(&ctx.idle_calls), 2);
    pool_stop(&ctx, t, 1);
    ck_assert_int_eq(atomic_load(&ctx.idle_calls), 2);   /* close does not call it */
}
END_TEST

START_TEST(test_on_idle_not_called_with_spare)
{
    enum { N = 2 };
    struct pool_ctx ctx;
    struct runner t[N];
    struct item a;
    pool_start(&ctx, t, N);
    wait_idle(&ctx.q, N);

    ck_assert_int_eq(workq_push(&ctx.q, &a.link), 1);
    wait_atomic(&ctx.processed, 1);
    /* Both handlers back in workq_pop: any on_idle call came before. */
    wait_idle(&ctx.q, N);
    ck_assert_int_eq(atomic_load(&ctx.idle_calls), 0);
    pool_stop(&ctx, t, N);
    ck_assert_int_eq(atomic_load(&ctx.idle_calls), 0);
}
END_TEST

START_TEST(test_on_idle_push_before_handlers)
{
    struct pool_ctx ctx;
    struct runner t[1];
    struct item a;
    atomic_init(&ctx.idle_calls, 0);
    atomic_init(&ctx.processed, 0);
    ck_assert_int_eq(workq_init(&ctx.q, count_idle, &ctx), 0);
    ck_assert_int_eq(workq_push(&ctx.q, &a.link), -1);   /* no handler at all */
    start(&t[0], handler_loop, &ctx);
    wait_atomic(&ctx.idle_calls, 1);
    wait_idle(&ctx.q, 1);
    ck_assert_int_eq(atomic_load(&ctx.processed), 1);
    ck_assert_int_eq(atomic_load(&ctx.idle_calls), 1);
    pool_stop(&ctx, t, 1);
}
END_TEST

START_TEST(test_no_callback_is_fine)
{
    /* on_idle NULL: the notify path must not call through NULL. */
    struct workq q;
    struct item a;
    struct runner t;
    ck_assert_int_eq(workq_init(&q, NULL, NULL), 0);
    ck_assert_int_eq(workq_push(&q, &a.link), -1);
    ck_assert_ptr_eq(workq_pop(&q), &a.link);
    ck_assert_int_eq(q.notify_idle, 1);
    /* A popper on the empty queue clears the request, then blocks. */
    start(&t, pop_once, &q);
    wait_idle(&q, 1);
    pthread_mutex_lock(&q.lock);
    int notify = q.notify_idle;
    pthread_mutex_unlock(&q.lock);
    ck_assert_int_eq(notify, 0);
    workq_close(&q);
    ck_assert_ptr_null(finish(&t));
    workq_destroy(&q);
}
END_TEST

/* ---- stress: producers and consumers -------------------------------- */

enum { STRESS_PRODUCERS = 4, STRESS_CONSUMERS = 4, STRESS_PER_PRODUCER = 10000 };
#define STRESS_ITEMS (STRESS_PRODUCERS * STRESS_PER_PRODUCER)

struct stress {
    struct workq q;
    struct item *items;       /* STRESS_ITEMS; id = producer * PER + seq */
    atomic_int *seen;         /* per item: times popped */
    atomic_int out_of_order;  /* a consumer saw a producer's items out of order */
    atomic_int total;
};

struct producer_arg {
    struct stress *st;
    int producer;
};

static void *producer_run(void *arg)
{
    struct producer_arg *pa = arg;
    struct item *base = pa->st->items + pa->producer * STRESS_PER_PRODUCER;
    for (int i = 0; i < STRESS_PER_PRODUCER; i++)
        workq_push(&pa->st->q, &base[i].link);
    return NULL;
}

static void *consumer_run(void *arg)
{
    struct stress *st = arg;
    int last[STRESS_PRODUCERS];
    for (int p = 0; p < STRESS_PRODUCERS; p++)
        last[p] = -1;
    struct workq_item *it;
    while ((it = workq_pop(&st->q)) != NULL) {
        int id = item_of(it)->id;
        int p = id / STRESS_PER_PRODUCER, seq = id % STRESS_PER_PRODUCER;
        /* FIFO: one producer's items reach any one consumer in order. */
        if (seq <= last[p])
            atomic_fetch_add(&st->out_of_order, 1);
        last[p] = seq;
        atomic_fetch_add(&st->seen[id], 1);
        atomic_fetch_add(&st->total, 1);
    }
    return NULL;
}

START_TEST(test_stress)
{
    struct stress st;
    struct runner prod[STRESS_PRODUCERS], cons[STRESS_CONSUMERS];
    struct producer_arg pa[STRESS_PRODUCERS];
    st.items = calloc(STRESS_ITEMS, sizeof *st.items);
    st.seen = calloc(STRESS_ITEMS, sizeof *st.seen);
    ck_assert_ptr_nonnull(st.items);
    ck_assert_ptr_nonnull(st.seen);
    for (int i = 0; i < STRESS_ITEMS; i++) {
        st.items[i].id = i;
        atomic_init(&st.seen[i], 0);
    }
    atomic_init(&st.out_of_order, 0);
    atomic_init(&st.total, 0);
    ck_assert_int_eq(workq_init(&st.q, NULL, NULL), 0);

    for (int i = 0; i < STRESS_CONSUMERS; i++)
        start(&cons[i], consumer_run, &st);
    for (int i = 0; i < STRESS_PRODUCERS; i++) {
        pa[i].st = &st;
        pa[i].producer = i;
        start(&prod[i], producer_run, &pa[i]);
    }
    for (int i = 0; i < STRESS_PRODUCERS; i++)
        finish(&prod[i]);
    workq_close(&st.q);
    for (int i = 0; i < STRESS_CONSUMERS; i++)
        finish(&cons[i]);

    int missing = 0, doubled = 0;
    for (int i = 0; i < STRESS_ITEMS; i++) {
        int n = atomic_load(&st.seen[i]);
        missing += n == 0;
        doubled += n > 1;
    }
    ck_assert_int_eq(missing, 0);
    ck_assert_int_eq(doubled, 0);
    ck_assert_int_eq(atomic_load(&st.total), STRESS_ITEMS);
    ck_assert_int_eq(atomic_load(&st.out_of_order), 0);
    ck_assert_uint_eq(st.q.len, 0);
    ck_assert_ptr_null(st.q.head);
    workq_destroy(&st.q);
    free(st.items);
    free(st.seen);
}
END_TEST

Suite *workq_suite(void)
{
    Suite *s = suite_create("workq");

    TCase *tc = tcase_create("single");
    tcase_add_test(tc, test_init_empty);
    tcase_add_test(tc, test_fifo_single_thread);
    tcase_add_test(tc, test_close_then_pop);
    tcase_add_test(tc, test_close_empty);
    suite_add_tcase(s, tc);

    tc = tcase_create("threads");
    tcase_set_timeout(tc, 60);   /* valgrind is slow; the tests bound their own waits */
    tcase_add_test(tc, test_push_spare_count);
    tcase_add_test(tc, test_close_wakes_all);
    tcase_add_test(tc, test_on_idle_after_full_push);
    tcase_add_test(tc, test_on_idle_not_called_with_spare);
    tcase_add_test(tc, test_on_idle_push_before_handlers);
    tcase_add_test(tc, test_no_callback_is_fine);
    tcase_add_test(tc, test_stress);
    suite_add_tcase(s, tc);

    return s;
}
