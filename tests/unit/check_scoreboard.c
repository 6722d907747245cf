/* check_scoreboard.c: unit tests for the shared scoreboard (src/core/scoreboard.c,
 * include/mpmd/core/scoreboard.h).
 *
 *   layout   the server record's mapping (struct sb_server: header, sb_proc
 *            records, sb_thread records of 256 bytes, all inside it and on
 *            cache lines) for several (records, threads) shapes, that it
 *            starts zeroed, and a generation's board (scoreboard_create: every
 *            child's proc is -1; create failing leaves the struct alone;
 *            destroy).
 *   records  scoreboard_proc / scoreboard_thread (NULL without a record, the
 *            right one after children[slot].proc is set), sb_server_thread's
 *            index math with the listener's record at threads_per_proc, and
 *            scoreboard_count_threads.
 *   fold     sb_server_claim (free records, -1 when full, resets the record,
 *            leaves children_started to the supervisor), sb_server_release (counters into
 *            retired, record zeroed and freed, totals unchanged),
 *            sb_server_totals (retired + live records; a fold between two
 *            reads never changes the total; a reader racing a thread that
 *            claims, counts and releases never sees a total go down).
 *   count    sb_count_request (status classes, method clamp, duration
 *            histogram edges) and sb_method_of.
 *   text     sb_text_put / sb_text_get.
 *   sharing  the mappings are shared across fork.
 *
 * Runs in the single Check runner (check_main.c); each test maps and
 * unmaps its own records. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_suites.h"
#include "mpmd/core/scoreboard.h"

#define CACHE_LINE 64

/* The shapes the layout tests walk: (records, handler threads per record). */
static const struct shape {
    int procs;
    int threads;
} shapes[] = {
    {1, 1}, {1, 64}, {3, 7}, {16, 1024}, {76, 64}, {5, 3}, {60016, 1}, {7, 0},
};

#define N_SHAPES ((int)(sizeof shapes / sizeof shapes[0]))

/* Loads outside the ck_assert macros (atomic_load's statement expression
 * shadows their locals). */
static uint64_t ld64(const _Atomic uint64_t *p)
{
    return atomic_load(p);
}

static int ldi(const _Atomic int *p)
{
    return atomic_load(p);
}

static size_t round_up_64(size_t n)
{
    return (n + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
}

static size_t expected_server_size(int procs, int threads)
{
    return round_up_64(sizeof(struct sb_server)) + round_up_64((size_t)procs *
                                                               sizeof(struct sb_proc)) +
           (size_t)procs * (size_t)(threads + 1) * sizeof(struct sb_thread) +
           SB_UPSTREAMS * sizeof(struct sb_upstream);
}

static struct sb_server *server_ok(int procs, int threads)
{
    struct sb_server *srv = sb_server_create(procs, threads);
    ck_assert_msg(srv != NULL, "sb_server_create(%d, %d): %s", procs, threads, strerror(errno));
    return srv;
}

static void board_ok(struct scoreboard *sb, int children, int threads, struct sb_server *srv)
{
    int rc = scoreboard_create(sb, children, threads, srv);
    ck_assert_msg(rc == 0, "scoreboard_create(%d, %d): %s", children, threads, strerror(errno));
}

/* Whether PTR..PTR+LEN lies inside SRV's mapping. */
static int in_server(const struct sb_server *srv, const void *ptr, size_t len)
{
    uintptr_t lo = (uintptr_t)srv, hi = lo + srv->size, p = (uintptr_t)ptr;
    return p >= lo && p + len <= hi;
}

/* Every counter of C, flattened, for comparisons. */
#define N_FLAT (SB_METHODS * SB_STATUS_CLASSES + SB_DURATION_BUCKETS + 6)

static void flatten(const struct sb_counters *c, uint64_t out[N_FLAT])
{
    int k = 0;
    for (int m = 0; m < SB_METHODS; m++)
        for (int s = 0; s < SB_STATUS_CLASSES; s++)
            out[k++] = ld64(&c->requests[m][s]);
    for (int b = 0; b < SB_DURATION_BUCKETS; b++)
        out[k++] = ld64(&c->duration_bucket[b]);
    out[k++] = ld64(&c->body_bytes);
    out[k++] = ld64(&c->duration_us);
    out[k++] = ld64(&c->connections);
    out[k++] = ld64(&c->cache_hits);
    out[k++] = ld64(&c->cache_misses);
    out[k++] = ld64(&c->arm_failures);
}

static void assert_counters_eq(const struct sb_counters *a, const struct sb_counters *b,
                               const char *what)
{
    uint64_t x[N_FLAT], y[N_FLAT];
    flatten(a, x);
    flatten(b, y);
    for (int k = 0; k < N_FLAT; k++)
        if (x[k] != y[k])
            ck_abort_msg("%s: counter %d is %llu, not %llu", what, k, (unsigned long long)x[k],
                         (unsigned long long)y[k]);
}

static void assert_counters_zero(const struct sb_counters *c, const char *what)
{
    uint64_t x[N_FLAT];
    flatten(c, x);
    for (int k = 0; k < N_FLAT; k++)
        if (x[k] != 0)
            ck_abort_msg("%s: counter %d is %llu, not 0", what, k, (unsigned long long)x[k]);
}

static uint64_t total_requests(const struct sb_counters *c)
{
    uint64_t n = 0;
    for (int m = 0; m < SB_METHODS; m++)
        for (int s = 0; s < SB_STATUS_CLASSES; s++)
            n += ld64(&c->requests[m][s]);
    return n;
}

static uint64_t total_buckets(const struct sb_counters *c)
{
    uint64_t n = 0;
    for (int b = 0; b < SB_DURATION_BUCKETS; b++)
        n += ld64(&c->duration_bucket[b]);
    return n;
}

/* Some traffic on C, different for each SEED. */
static void traffic(struct sb_counters *c, int seed)
{
    for (int i = 0; i < 5 + seed; i++)
        sb_count_request(c, (enum sb_method)((seed + i) % SB_METHODS), 100 * (1 + (i + seed) % 5),
                         100 * seed + i, (int64_t)(seed + 1) * 3000 * i);
    atomic_fetch_add(&c->connections, (uint64_t)seed + 2);
    atomic_fetch_add(&c->cache_hits, (uint64_t)seed * 3);
    atomic_fetch_add(&c->cache_misses, 1);
    atomic_fetch_add(&c->arm_failures, (uint64_t)seed);
}

/* ---- layout --------------------------------------------------------------- */

START_TEST(test_thread_record_size)
{
    ck_assert_uint_eq(sizeof(struct sb_thread), 256);
    ck_assert_uint_eq(sizeof(struct sb_thread) % CACHE_LINE, 0);
    /* The text fields lie inside the record and do not overlap. */
    ck_assert_uint_le(offsetof(struct sb_thread, request) + SB_REQUEST_WORDS * 8,
                      offsetof(struct sb_thread, pad));
    ck_assert_uint_le(offsetof(struct sb_thread, client) + SB_CLIENT_WORDS * 8,
                      offsetof(struct sb_thread, vhost));
    ck_assert_uint_le(offsetof(struct sb_thread, vhost) + SB_VHOST_WORDS * 8,
                      offsetof(struct sb_thread, request));
    ck_assert_int_eq(SB_CLIENT_WORDS * 8, 48);
    ck_assert_int_eq(SB_REQUEST_WORDS * 8, 64);
}
END_TEST

/* For shapes[_i]: the header, the size of the mapping, and where the
 * records lie in it. */
START_TEST(test_server_layout)
{
    const struct shape *sh = &shapes[_i];
    struct sb_server *srv = server_ok(sh->procs, sh->threads);
    ck_assert_int_eq(srv->n_procs, sh->procs);
    ck_assert_int_eq(srv->threads_per_proc, sh->threads);
    ck_assert_uint_eq(srv->size, expected_server_size(sh->procs, sh->threads));
    ck_assert_uint_eq((uintptr_t)srv % CACHE_LINE, 0);
    ck_assert_uint_eq((uintptr_t)srv->procs % CACHE_LINE, 0);
    ck_assert_uint_eq((uintptr_t)srv->threads % CACHE_LINE, 0);
    ck_assert((char *)srv->procs >= (char *)(srv + 1));
    ck_assert((char *)&srv->procs[sh->procs] <= (char *)srv->threads);
    ck_assert_uint_eq((uintptr_t)srv->upstreams % 8, 0);
    ck_assert(in_server(srv, srv->procs, (size_t)sh->procs * sizeof(struct sb_proc)));
    size_t n_threads = (size_t)sh->procs * (size_t)(sh->threads + 1);
    ck_assert(in_server(srv, srv->threads, n_threads * sizeof(struct sb_thread)));
    /* The last thread record (the last child's listener) ends the mapping. */
    struct sb_thread *last = sb_server_thread(srv, sh->procs - 1, sh->threads);
    ck_assert_ptr_eq((char *)(last + 1), (char *)srv->upstreams);   /* upstreams end it */
    ck_assert_ptr_eq((char *)&srv->upstreams[SB_UPSTREAMS], (char *)srv + srv->size);
    sb_server_destroy(srv);
}
END_TEST

/* For shapes[_i]: everything but the header's shape and times reads as
 * zero, and the last byte can be written. */
START_TEST(test_server_zeroed)
{
    const struct shape *sh = &shapes[_i];
    time_t before = time(NULL);
    struct sb_server *srv = server_ok(sh->procs, sh->threads);
    time_t after = time(NULL);
    const unsigned char *bytes = (const unsigned char *)srv->procs;
    size_t n = srv->size - (size_t)((const char *)srv->procs - (const char *)srv);
    for (size_t i = 0; i < n; i++)
        if (bytes[i] != 0)
            ck_abort_msg("%dx%d: byte %zu after the header is %#x", sh->procs, sh->threads, i,
                         bytes[i]);
    int64_t start = atomic_load(&srv->start_time), restart = atomic_load(&srv->restart_time);
    ck_assert_int_ge(start, (int64_t)before);
    ck_assert_int_le(start, (int64_t)after);
    ck_assert_int_eq(restart, start);
    ck_assert_int_eq(ldi(&srv->generation), 0);
    ck_assert_uint_eq(ld64(&srv->restarts), 0);
    ck_assert_uint_eq(ld64(&srv->child_crashes), 0);
    ck_assert_uint_eq(ld64(&srv->children_started), 0);
    uint32_t seq = atomic_load(&srv->fold_seq);
    ck_assert_uint_eq(seq, 0);
    assert_counters_zero(&srv->retired, "retired");
    struct sb_counters t;
    sb_server_totals(srv, &t);
    assert_counters_zero(&t, "totals");
    ((volatile unsigned char *)srv)[srv->size - 1] = 1;
    ck_assert_int_eq(((unsigned char *)srv)[srv->size - 1], 1);
    sb_server_destroy(srv);
}
END_TEST

START_TEST(test_server_too_big_fails)
{
    errno = 0;
    ck_assert_ptr_null(sb_server_create(INT_MAX, 1 << 20));   /* petabytes */
    ck_assert_msg(errno == ENOMEM || errno == EINVAL, "errno %d (%s)", errno, strerror(errno));
    sb_server_destroy(NULL);                                  /* no-op */
}
END_TEST

/* For shapes[_i]: a generation's board: its fields, its size, zeroed
 * child slots but for proc, which is -1 everywhere. */
START_TEST(test_board_create)
{
    const struct shape *sh = &shapes[_i];
    int children = sh->procs > 20000 ? 20000 : sh->procs;
    struct sb_server *srv = server_ok(sh->procs, sh->threads);
    struct scoreboard sb;
    memset(&sb, 0xa5, sizeof sb);
    board_ok(&sb, children, sh->threads, srv);
    ck_assert_int_eq(sb.server_limit, children);
    ck_assert_int_eq(sb.threads_per_child, sh->threads);
    ck_assert_ptr_eq(sb.srv, srv);
    ck_assert_uint_eq(sb.size, round_up_64((size_t)children * sizeof(struct sb_child)));
    ck_assert_ptr_nonnull(sb.children);
    ck_assert_uint_eq((uintptr_t)sb.children % CACHE_LINE, 0);
    /* Not inside the server's record: a board of its own. */
    ck_assert(!in_server(srv, sb.children, 1));
    for (int c = 0; c < children; c++) {
        struct sb_child *ch = scoreboard_child(&sb, c);
        pid_t pid = atomic_load(&ch->pid);
        int gen = ldi(&ch->generation), st = ldi(&ch->state), proc = ldi(&ch->proc);
        int open = ldi(&ch->conns_open);
        uint64_t conns = ld64(&ch->connections);
        if (ch != &sb.children[c] || pid != 0 || gen != 0 || st != SB_CHILD_FREE || proc != -1 ||
            open != 0 || conns != 0)
            ck_abort_msg("%dx%d: child %d: pid %ld gen %d state %d proc %d open %d conns %llu",
                         children, sh->threads, c, (long)pid, gen, st, proc, open,
                         (unsigned long long)conns);
        if (scoreboard_proc(&sb, c) != NULL)
            ck_abort_msg("child %d has a record before one was set", c);
    }
    scoreboard_destroy(&sb);
    sb_server_destroy(srv);
}
END_TEST

START_TEST(test_board_zero_children_fails)
{
    struct sb_server *srv = server_ok(2, 2);
    struct scoreboard sb;
    memset(&sb, 0x5a, sizeof sb);
    struct scoreboard before = sb;
    errno = 0;
    ck_assert_int_eq(scoreboard_create(&sb, 0, 2, srv), -1);
    ck_assert_int_eq(errno, EINVAL);              /* mmap of 0 bytes */
    ck_assert_mem_eq(&sb, &before, sizeof sb);    /* left alone */
    sb_server_destroy(srv);
}
END_TEST

/* Whether the page holding ADDR is mapped (msync fails with ENOMEM if not). */
static int page_mapped(const void *addr)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *start = (void *)((uintptr_t)addr / page * page);
    if (msync(start, page, MS_ASYNC) == 0)
        return 1;
    ck_assert_int_eq(errno, ENOMEM);
    return 0;
}

/* scoreboard_destroy unmaps the board only (the server's record lives
 * on), zeroes the struct, and is safe on a zeroed struct. */
START_TEST(test_destroy)
{
    struct sb_server *srv = server_ok(4, 16);
    struct scoreboard sb, zero;
    memset(&zero, 0, sizeof zero);
    board_ok(&sb, 4000, 16, srv);
    char *first = (char *)sb.children, *last = first + sb.size - 1;
    ck_assert(page_mapped(first));
    ck_assert(page_mapped(last));
    scoreboard_destroy(&sb);
    ck_assert(!page_mapped(first));
    ck_assert(!page_mapped(last));
    ck_assert_mem_eq(&sb, &zero, sizeof sb);
    scoreboard_destroy(&sb);                  /* twice: a zeroed struct */
    ck_assert_mem_eq(&sb, &zero, sizeof sb);
    ck_assert(page_mapped(srv));
    ck_assert(page_mapped((char *)srv + srv->size - 1));
    char *s_first = (char *)srv, *s_last = s_first + srv->size - 1;
    sb_server_destroy(srv);
    ck_assert(!page_mapped(s_first));
    ck_assert(!page_mapped(s_last));
}
END_TEST

/* ---- records ---------------------------------------------------------------- */

/* A slot without a record has no process or thread record, whatever proc
 * holds (-1, another negative, n_procs or more), and counts no threads in
 * any state, not even DEAD. */
START_TEST(test_no_record_is_null)
{
    struct sb_server *srv = server_ok(4, 8);
    struct scoreboard sb;
    board_ok(&sb, 3, 8, srv);
    static const int bad[] = { -1, -2, INT_MIN, 4, 5, INT_MAX };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        atomic_store(&scoreboard_child(&sb, 1)->proc, bad[i]);
        ck_assert_msg(scoreboard_proc(&sb, 1) == NULL, "proc %d gave a record", bad[i]);
        for (int t = 0; t <= 8; t++)
            ck_assert_msg(scoreboard_thread(&sb, 1, t) == NULL, "proc %d gave thread %d",
                          bad[i], t);
        for (int st = SB_THREAD_DEAD; st <= SB_THREAD_CLOSING; st++)
            ck_assert_int_eq(scoreboard_count_threads(&sb, 1, st), 0);
    }
    scoreboard_destroy(&sb);
    sb_server_destroy(srv);
}
END_TEST

/* Setting children[slot].proc to K makes the slot's records K's, and
 * setting it back to -1 takes them away. */
START_TEST(test_record_after_set)
{
    struct sb_server *srv = server_ok(6, 5);
    struct scoreboard sb;
    board_ok(&sb, 4, 5, srv);
    static const int map[4] = { 5, -1, 0, 3 };
    for (int slot = 0; slot < 4; slot++)
        atomic_store(&scoreboard_child(&sb, slot)->proc, map[slot]);
    for (int slot = 0; slot < 4; slot++) {
        if (map[slot] < 0) {
            ck_assert_ptr_null(scoreboard_proc(&sb, slot));
            continue;
        }
        ck_assert_ptr_eq(scoreboard_proc(&sb, slot), &srv->procs[map[slot]]);
        for (int t = 0; t <= 5; t++)
            ck_assert_ptr_eq(scoreboard_thread(&sb, slot, t), sb_server_thread(srv, map[slot], t));
    }
    atomic_store(&scoreboard_child(&sb, 3)->proc, -1);
    ck_assert_ptr_null(scoreboard_proc(&sb, 3));
    ck_assert_ptr_null(scoreboard_thread(&sb, 3, 0));
    /* Two boards (generations) may name records of the same server. */
    struct scoreboard next;
    board_ok(&next, 2, 5, srv);
    atomic_store(&scoreboard_child(&next, 1)->proc, 1);
    ck_assert_ptr_eq(scoreboard_proc(&next, 1), &srv->procs[1]);
    ck_assert_ptr_eq(scoreboard_proc(&sb, 0), &srv->procs[5]);
    scoreboard_destroy(&next);
    scoreboard_destroy(&sb);
    sb_server_destroy(srv);
}
END_TEST

/* For shapes[_i]: thread record (p, t) is threads[p * (threads + 1) + t],
 * back to back in order, the listener's (t == threads_per_proc) right
 * before the next record's first, every one inside the mapping. */
START_TEST(test_server_thread_index)
{
    const struct shape *sh = &shapes[_i];
    struct sb_server *srv = server_ok(sh->procs, sh->threads);
    const char *prev = NULL;
    int procs = sh->procs > 200 ? 200 : sh->procs;   /* the big shape: the first few */
    for (int p = 0; p < procs; p++)
        for (int t = 0; t <= sh->threads; t++) {
            struct sb_thread *th = sb_server_thread(srv, p, t);
            if (th != srv->threads + (size_t)p * (size_t)(sh->threads + 1) + (size_t)t ||
                !in_server(srv, th, sizeof *th) || (prev && (const char *)th != prev + 256) ||
                (uintptr_t)th % CACHE_LINE != 0)
                ck_abort_msg("%dx%d: thread (%d, %d) at %p (threads at %p)", sh->procs,
                             sh->threads, p, t, (void *)th, (void *)srv->threads);
            prev = (const char *)th;
        }
    if (sh->procs > 1)
        ck_assert_ptr_eq(sb_server_thread(srv, 0, sh->threads) + 1, sb_server_thread(srv, 1, 0));
    sb_server_destroy(srv);
}
END_TEST

/* The listener's record is the one after the handler threads', reachable
 * through the board as thread threads_per_proc. */
START_TEST(test_listener_record)
{
    struct sb_server *srv = server_ok(3, 4);
    struct scoreboard sb;
    board_ok(&sb, 2, 4, srv);
    atomic_store(&scoreboard_child(&sb, 1)->proc, 2);
    struct sb_thread *l = scoreboard_thread(&sb, 1, srv->threads_per_proc);
    ck_assert_ptr_eq(l, &srv->threads[2 * 5 + 4]);
    ck_assert_ptr_eq(l, sb_server_thread(srv, 2, 4));
    /* the last thread record; the upstreams' follow it to the end */
    ck_assert_ptr_eq((char *)(l + 1), (char *)srv->upstreams);
    ck_assert_ptr_eq((char *)&srv->upstreams[SB_UPSTREAMS], (char *)srv + srv->size);
    atomic_fetch_add(&l->requests, 9);
    ck_assert_uint_eq(ld64(&sb_server_thread(srv, 2, 4)->requests), 9);
    ck_assert_uint_eq(ld64(&sb_server_thread(srv, 2, 3)->requests), 0);
    scoreboard_destroy(&sb);
    sb_server_destroy(srv);
}
END_TEST

START_TEST(test_count_threads_per_state)
{
    struct sb_server *srv = server_ok(4, 8);
    struct scoreboard sb;
    board_ok(&sb, 3, 8, srv);
    atomic_store(&scoreboard_child(&sb, 0)->proc, 0);
    atomic_store(&scoreboard_child(&sb, 1)->proc, 2);
    atomic_store(&scoreboard_child(&sb, 2)->proc, 3);
    /* slot 1: 3 READY, 2 WRITING, 1 KEEPALIVE, 1 CLOSING, 1 left DEAD */
    static const int states[8] = {
        SB_THREAD_READY, SB_THREAD_WRITING, SB_THREAD_READY, SB_THREAD_KEEPALIVE,
        SB_THREAD_DEAD, SB_THREAD_CLOSING, SB_THREAD_WRITING, SB_THREAD_READY,
    };
    for (int t = 0; t < 8; t++)
        scoreboard_set_thread_state(scoreboard_thread(&sb, 1, t), states[t]);
    /* The listener is no handler thread: not counted. */
    scoreboard_set_thread_state(scoreboard_thread(&sb, 1, 8), SB_THREAD_READY);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_READY), 3);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_WRITING), 2);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_KEEPALIVE), 1);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_CLOSING), 1);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_DEAD), 1);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_READING), 0);
    /* The neighbouring records were not written. */
    ck_assert_int_eq(scoreboard_count_threads(&sb, 0, SB_THREAD_DEAD), 8);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 2, SB_THREAD_DEAD), 8);
    ck_assert_int_eq(ldi(&sb_server_thread(srv, 1, 0)->state), SB_THREAD_DEAD);
    ck_assert_int_eq(ldi(&sb_server_thread(srv, 3, 0)->state), SB_THREAD_DEAD);
    /* Changing one thread moves one count. */
    scoreboard_set_thread_state(scoreboard_thread(&sb, 1, 4), SB_THREAD_READING);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_DEAD), 0);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_READING), 1);
    /* Pointing the slot elsewhere counts the other record. */
    atomic_store(&scoreboard_child(&sb, 1)->proc, 1);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_DEAD), 8);
    scoreboard_destroy(&sb);
    sb_server_destroy(srv);
}
END_TEST

/* A board with fewer threads per child than the server has room for
 * counts only its own threads' records: not the rest, not the listener. */
START_TEST(test_count_threads_board_narrower)
{
    struct sb_server *srv = server_ok(2, 64);
    struct scoreboard sb;
    board_ok(&sb, 2, 10, srv);
    atomic_store(&scoreboard_child(&sb, 0)->proc, 1);
    for (int t = 0; t <= 64; t++)
        scoreboard_set_thread_state(sb_server_thread(srv, 1, t), SB_THREAD_READY);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 0, SB_THREAD_READY), 10);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_READY), 0);
    scoreboard_destroy(&sb);
    sb_server_destroy(srv);
}
END_TEST

/* ---- claim, release, totals ------------------------------------------------ */

/* Claims take the free records in order and fill them in; when all are
 * taken, -1 and no count; a released record is taken again. */
START_TEST(test_claim_takes_free_records)
{
    struct sb_server *srv = server_ok(4, 2);
    time_t before = time(NULL);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(sb_server_claim(srv, 3 + i, 10 + i), i);
        struct sb_proc *p = &srv->procs[i];
        pid_t pid = atomic_load(&p->pid);
        ck_assert_int_eq(pid, -1);                  /* taken; no pid before the fork */
        ck_assert_int_eq(ldi(&p->generation), 3 + i);
        ck_assert_int_eq(ldi(&p->slot), 10 + i);
        ck_assert_int_eq(ldi(&p->state), SB_CHILD_STARTING);
        int64_t started = atomic_load(&p->started);
        ck_assert_int_ge(started, (int64_t)before);
        ck_assert_int_le(started, (int64_t)time(NULL));
        ck_assert_uint_eq(ld64(&srv->children_started), 0);  /* counted at fork */
    }
    ck_assert_int_eq(sb_server_claim(srv, 9, 0), -1);
    ck_assert_int_eq(sb_server_claim(srv, 9, 0), -1);
    /* A record whose child got its pid is still taken. */
    atomic_store(&srv->procs[1].pid, 4242);
    sb_server_release(srv, 2);
    ck_assert_int_eq(sb_server_claim(srv, 9, 1), 2);
    ck_assert_int_eq(ldi(&srv->procs[2].generation), 9);
    ck_assert_int_eq(sb_server_claim(srv, 9, 0), -1);
    /* The lowest free record first. */
    sb_server_release(srv, 3);
    sb_server_release(srv, 1);
    ck_assert_int_eq(sb_server_claim(srv, 10, 0), 1);
    ck_assert_int_eq(sb_server_claim(srv, 10, 1), 3);
    sb_server_destroy(srv);
}
END_TEST

/* A claim resets what the last child left in the record: connection
 * counts, queue, thread count and every thread record (the listener's
 * too); the counters are zero (the release moved them to retired). */
START_TEST(test_claim_resets_record)
{
    struct sb_server *srv = server_ok(2, 3);
    ck_assert_int_eq(sb_server_claim(srv, 1, 0), 0);
    struct sb_proc *p = &srv->procs[0];
    atomic_store(&p->pid, 777);
    atomic_store(&p->state, SB_CHILD_READY);
    for (int s = 0; s < SB_CONN_STATES; s++)
        atomic_store(&p->conns[s], 3 + s);
    atomic_store(&p->queued, 5);
    atomic_store(&p->threads, 3);
    for (int t = 0; t <= 3; t++) {
        struct sb_thread *th = sb_server_thread(srv, 0, t);
        atomic_store(&th->state, SB_THREAD_WRITING);
        atomic_store(&th->requests, 100 + (uint64_t)t);
        atomic_store(&th->bytes, 5000);
        atomic_store(&th->last_start_us, 123456789);
        atomic_store(&th->last_dur_us, -1);
        atomic_store(&th->dur_sum_us, 99);
        const char *long_text = "a client name longer than the field holds, by far, really";
        sb_text_put(th->client, SB_CLIENT_WORDS, long_text, strlen(long_text));
        sb_text_put(th->vhost, SB_VHOST_WORDS, "www.example.org", 15);
        sb_text_put(th->request, SB_REQUEST_WORDS, "GET /x HTTP/1.1", 15);
    }
    traffic(&p->c, 3);
    sb_server_release(srv, 0);
    /* A released record: free, threads dead, counters gone to retired. */
    pid_t pid = atomic_load(&p->pid);
    ck_assert_int_eq(pid, 0);
    ck_assert_int_eq(ldi(&p->state), SB_CHILD_FREE);
    for (int t = 0; t <= 3; t++)
        ck_assert_int_eq(ldi(&sb_server_thread(srv, 0, t)->state), SB_THREAD_DEAD);
    assert_counters_zero(&p->c, "released record");

    ck_assert_int_eq(sb_server_claim(srv, 2, 1), 0);
    pid = atomic_load(&p->pid);
    ck_assert_int_eq(pid, -1);
    ck_assert_int_eq(ldi(&p->generation), 2);
    ck_assert_int_eq(ldi(&p->slot), 1);
    ck_assert_int_eq(ldi(&p->state), SB_CHILD_STARTING);
    for (int s = 0; s < SB_CONN_STATES; s++)
        ck_assert_int_eq(ldi(&p->conns[s]), 0);
    ck_assert_int_eq(ldi(&p->queued), 0);
    ck_assert_int_eq(ldi(&p->threads), 0);
    assert_counters_zero(&p->c, "claimed record");
    for (int t = 0; t <= 3; t++) {
        struct sb_thread *th = sb_server_thread(srv, 0, t);
        char buf[SB_REQUEST_WORDS * 8 + 1];
        ck_assert_int_eq(ldi(&th->state), SB_THREAD_DEAD);
        ck_assert_uint_eq(ld64(&th->requests), 0);
        ck_assert_uint_eq(ld64(&th->bytes), 0);
        int64_t v = atomic_load(&th->last_start_us);
        ck_assert_int_eq(v, 0);
        v = atomic_load(&th->last_dur_us);
        ck_assert_int_eq(v, 0);
        ck_assert_uint_eq(ld64(&th->dur_sum_us), 0);
        sb_text_get(th->client, SB_CLIENT_WORDS, buf);
        ck_assert_str_eq(buf, "");
        sb_text_get(th->vhost, SB_VHOST_WORDS, buf);
        ck_assert_str_eq(buf, "");
        sb_text_get(th->request, SB_REQUEST_WORDS, buf);
        ck_assert_str_eq(buf, "");
    }
    /* The other record was not touched. */
    ck_assert_int_eq(ldi(&sb_server_thread(srv, 1, 0)->state), SB_THREAD_DEAD);
    pid = atomic_load(&srv->procs[1].pid);
    ck_assert_int_eq(pid, 0);
    sb_server_destroy(srv);
}
END_TEST

/* Release moves the record's counters into retired (added to what is
 * there), zeroes and frees the record: the totals are the same before and
 * after. */
START_TEST(test_release_folds_counters)
{
    struct sb_server *srv = server_ok(3, 2);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(sb_server_claim(srv, 1, i), i);
        atomic_store(&srv->procs[i].pid, 100 + i);
        traffic(&srv->procs[i].c, i + 1);
    }
    struct sb_counters want_retired, before, after;
    memset(&want_retired, 0, sizeof want_retired);
    sb_server_totals(srv, &before);

    /* Release 1: retired == its counters. */
    uint64_t flat1[N_FLAT], flat2[N_FLAT], flat_r[N_FLAT];
    flatten(&srv->procs[1].c, flat1);
    flatten(&srv->procs[2].c, flat2);
    uint32_t seq0 = atomic_load(&srv->fold_seq);
    sb_server_release(srv, 1);
    uint32_t seq1 = atomic_load(&srv->fold_seq);
    ck_assert_uint_eq(seq1, seq0 + 2);            /* even again, one fold later */
    flatten(&srv->retired, flat_r);
    for (int k = 0; k < N_FLAT; k++)
        ck_assert_uint_eq(flat_r[k], flat1[k]);
    assert_counters_zero(&srv->procs[1].c, "record 1");
    pid_t pid = atomic_load(&srv->procs[1].pid);
    ck_assert_int_eq(pid, 0);
    sb_server_totals(srv, &after);
    assert_counters_eq(&after, &before, "totals after releasing 1");

    /* Release 2: retired == 1's + 2's. */
    sb_server_release(srv, 2);
    flatten(&srv->retired, flat_r);
    for (int k = 0; k < N_FLAT; k++)
        ck_assert_uint_eq(flat_r[k], flat1[k] + flat2[k]);
    sb_server_totals(srv, &after);
    assert_counters_eq(&after, &before, "totals after releasing 2");

    /* Out-of-range releases do nothing. */
    sb_server_release(srv, -1);
    sb_server_release(srv, 3);
    sb_server_release(srv, INT_MAX);
    sb_server_totals(srv, &after);
    assert_counters_eq(&after, &before, "totals after bad releases");
    pid = atomic_load(&srv->procs[0].pid);
    ck_assert_int_eq(pid, 100);

    /* A new child in a released record adds to the totals from zero. */
    ck_assert_int_eq(sb_server_claim(srv, 2, 0), 1);
    sb_count_request(&srv->procs[1].c, SB_METHOD_GET, 200, 10, 1);
    sb_server_totals(srv, &after);
    ck_assert_uint_eq(total_requests(&after), total_requests(&before) + 1);
    sb_server_destroy(srv);
}
END_TEST

/* Totals are retired plus the records in use (pid != 0, -1 included: a
 * claimed record whose fork is under way); a free record's counters are
 * not read. */
START_TEST(test_totals_sum)
{
    struct sb_server *srv = server_ok(4, 1);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(sb_server_claim(srv, 1, i), i);
    atomic_store(&srv->procs[0].pid, 10);
    /* procs[1] keeps pid -1 */
    atomic_store(&srv->procs[2].pid, 12);
    sb_count_request(&srv->procs[0].c, SB_METHOD_GET, 200, 100, 1000);
    sb_count_request(&srv->procs[1].c, SB_METHOD_POST, 404, 7, 6000);
    sb_count_request(&srv->procs[2].c, SB_METHOD_GET, 200, 1, 20000000);
    atomic_fetch_add(&srv->retired.requests[SB_METHOD_GET][1], 40);
    atomic_fetch_add(&srv->retired.body_bytes, 1000);
    atomic_fetch_add(&srv->retired.arm_failures, 2);
    /* Stale counts in a free record (never expected, but not to be read). */
    atomic_fetch_add(&srv->procs[3].c.requests[SB_METHOD_PUT][4], 1000);
    atomic_fetch_add(&srv->procs[3].c.body_bytes, 1000000);

    struct sb_counters t;
    memset(&t, 0xff, sizeof t);                     /* OUT is overwritten, not added to */
    sb_server_totals(srv, &t);
    ck_assert_uint_eq(ld64(&t.requests[SB_METHOD_GET][1]), 42);
    ck_assert_uint_eq(ld64(&t.requests[SB_METHOD_POST][3]), 1);
    ck_assert_uint_eq(ld64(&t.requests[SB_METHOD_PUT][4]), 0);
    ck_assert_uint_eq(total_requests(&t), 43);
    ck_assert_uint_eq(ld64(&t.body_bytes), 1108);
    ck_assert_uint_eq(ld64(&t.duration_us), 1000 + 6000 + 20000000);
    ck_assert_uint_eq(ld64(&t.duration_bucket[0]), 1);
    ck_assert_uint_eq(ld64(&t.duration_bucket[1]), 1);
    ck_assert_uint_eq(ld64(&t.duration_bucket[SB_DURATION_BUCKETS - 1]), 1);
    ck_assert_uint_eq(total_buckets(&t), 3);
    ck_assert_uint_eq(ld64(&t.arm_failures), 2);
    ck_assert_uint_eq(ld64(&t.connections), 0);
    /* Reading changes nothing. */
    struct sb_counters again;
    sb_server_totals(srv, &again);
    assert_counters_eq(&again, &t, "second read");
    sb_server_destroy(srv);
}
END_TEST

/* Folds between reads (claim, count, release, repeated) never change the
 * total of what was counted before them. */
START_TEST(test_fold_between_reads_keeps_total)
{
    struct sb_server *srv = server_ok(3, 2);
    ck_assert_int_eq(sb_server_claim(srv, 1, 0), 0);
    atomic_store(&srv->procs[0].pid, 50);
    traffic(&srv->procs[0].c, 2);
    struct sb_counters a, b;
    for (int round = 0; round < 40; round++) {
        int p = sb_server_claim(srv, 1 + round, 1);
        ck_assert_int_ge(p, 1);
        atomic_store(&srv->procs[p].pid, 1000 + round);
        traffic(&srv->procs[p].c, round % 7);
        sb_server_totals(srv, &a);
        sb_server_release(srv, p);
        sb_server_totals(srv, &b);
        assert_counters_eq(&b, &a, "totals across a fold");
        /* The long-lived record keeps counting too. */
        sb_count_request(&srv->procs[0].c, SB_METHOD_HEAD, 304, 0, round);
        sb_server_totals(srv, &b);
        ck_assert_uint_eq(total_requests(&b), total_requests(&a) + 1);
    }
    sb_server_destroy(srv);
}
END_TEST

/* The concurrent case: a writer thread (the supervisor and the children
 * in one) claims a record, counts requests in it and releases it, over
 * and over, while another record counts all along; the reader's totals
 * never go down and end exactly at what was counted. */
struct race {
    struct sb_server *srv;
    _Atomic int done;
    int rounds;
    uint64_t counted;              /* written by the writer, read after join */
    int error;
};

static void *race_writer(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < r->rounds; i++) {
        int p = sb_server_claim(r->srv, 1, 1);
        if (p < 1) {
            r->error = 1;
            break;
        }
        atomic_store(&r->srv->procs[p].pid, 2000 + i % 1000);
        for (int k = 0; k < 1 + i % 4; k++) {
            sb_count_request(&r->srv->procs[p].c, (enum sb_method)(k % SB_METHODS), 200, 10,
                             (int64_t)k * 4000);
            r->counted++;
        }
        sb_count_request(&r->srv->procs[0].c, SB_METHOD_GET, 500, 1, 1);
        r->counted++;
        sb_server_release(r->srv, p);
    }
    atomic_store(&r->done, 1);
    return NULL;
}

START_TEST(test_totals_never_decrease_under_folds)
{
    struct race r = { .srv = server_ok(4, 2), .rounds = 20000 };
    ck_assert_int_eq(sb_server_claim(r.srv, 1, 0), 0);
    atomic_store(&r.srv->procs[0].pid, 1);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, race_writer, &r), 0);
    uint64_t last_req = 0, last_bucket = 0, last_bytes = 0, reads = 0;
    struct sb_counters t;
    for (;;) {
        int done = atomic_load(&r.done);
        sb_server_totals(r.srv, &t);
        uint64_t req = total_requests(&t), bucket = total_buckets(&t);
        uint64_t bytes = ld64(&t.body_bytes);
        if (req < last_req || bucket < last_bucket || bytes < last_bytes)
            ck_abort_msg("read %llu: totals went down: requests %llu -> %llu, buckets %llu -> "
                         "%llu, bytes %llu -> %llu", (unsigned long long)reads,
                         (unsigned long long)last_req, (unsigned long long)req,
                         (unsigned long long)last_bucket, (unsigned long long)bucket,
                         (unsigned long long)last_bytes, (unsigned long long)bytes);
        last_req = req;
        last_bucket = bucket;
        last_bytes = bytes;
        reads++;
        if (done)
            break;
    }
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(r.error, 0);
    sb_server_totals(r.srv, &t);
    ck_assert_uint_eq(total_requests(&t), r.counted);
    ck_assert_uint_eq(total_buckets(&t), r.counted);
    ck_assert_uint_gt(reads, 1);
    sb_server_destroy(r.srv);
}
END_TEST

/* The same across processes, as in the server: a forked "supervisor"
 * claims, counts and releases in the shared mapping while this process
 * reads. */
START_TEST(test_totals_never_decrease_across_fork)
{
    struct sb_server *srv = server_ok(4, 2);
    pid_t pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        for (int i = 0; i < 20000; i++) {
            int p = sb_server_claim(srv, 1, 0);
            if (p < 0)
                _exit(2);
            atomic_store(&srv->procs[p].pid, getpid());
            sb_count_request(&srv->procs[p].c, SB_METHOD_GET, 200, 3, 100);
            sb_count_request(&srv->procs[p].c, SB_METHOD_POST, 201, 3, 100);
            sb_server_release(srv, p);
        }
        _exit(0);
    }
    uint64_t last = 0;
    struct sb_counters t;
    for (;;) {
        int status;
        pid_t w = waitpid(pid, &status, WNOHANG);
        ck_assert_int_ne(w, -1);
        sb_server_totals(srv, &t);
        uint64_t req = total_requests(&t);
        ck_assert_msg(req >= last, "totals went down: %llu -> %llu", (unsigned long long)last,
                      (unsigned long long)req);
        last = req;
        if (w == pid) {
            ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer status %#x",
                          status);
            break;
        }
    }
    sb_server_totals(srv, &t);
    ck_assert_uint_eq(total_requests(&t), 40000);
    ck_assert_uint_eq(ld64(&t.body_bytes), 120000);
    ck_assert_uint_eq(ld64(&srv->children_started), 0);
    sb_server_destroy(srv);
}
END_TEST

/* ---- sb_count_request, sb_method_of ------------------------------------------ */

/* The status class a request lands in: N xx for 100..599, 5xx for any
 * status out of that range (0, 99, 600, 999, negative). */
START_TEST(test_count_status_classes)
{
    static const struct { int status, cls; } cases[] = {
        {100, 0}, {101, 0}, {199, 0}, {200, 1}, {204, 1}, {299, 1}, {301, 2}, {399, 2},
        {400, 3}, {404, 3}, {499, 3}, {500, 4}, {503, 4}, {599, 4},
        {0, 4}, {1, 4}, {99, 4}, {600, 4}, {999, 4}, {1000, 4}, {-1, 4}, {-200, 4},
        {INT_MAX, 4}, {INT_MIN, 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sb_counters c;
        memset(&c, 0, sizeof c);
        sb_count_request(&c, SB_METHOD_PATCH, cases[i].status, 0, 0);
        for (int m = 0; m < SB_METHODS; m++)
            for (int s = 0; s < SB_STATUS_CLASSES; s++) {
                uint64_t want = m == SB_METHOD_PATCH && s == cases[i].cls;
                if (ld64(&c.requests[m][s]) != want)
                    ck_abort_msg("status %d: requests[%d][%d] is %llu", cases[i].status, m, s,
                                 (unsigned long long)ld64(&c.requests[m][s]));
            }
    }
}
END_TEST

/* A method out of the enum's range counts as OTHER; each known one as
 * itself. */
START_TEST(test_count_method_clamp)
{
    struct sb_counters c;
    memset(&c, 0, sizeof c);
    for (int m = 0; m < SB_METHODS; m++)
        sb_count_request(&c, (enum sb_method)m, 200, 0, 0);
    sb_count_request(&c, SB_METHODS, 200, 0, 0);
    sb_count_request(&c, (enum sb_method)99, 200, 0, 0);
    sb_count_request(&c, (enum sb_method)-1, 200, 0, 0);
    for (int m = 0; m < SB_METHODS; m++)
        ck_assert_uint_eq(ld64(&c.requests[m][1]), m == SB_METHOD_OTHER ? 4 : 1);
    ck_assert_uint_eq(total_requests(&c), SB_METHODS + 3);
}
END_TEST

static int bucket_of(int64_t dur)
{
    struct sb_counters c;
    memset(&c, 0, sizeof c);
    sb_count_request(&c, SB_METHOD_GET, 200, 0, dur);
    int found = -1;
    for (int b = 0; b < SB_DURATION_BUCKETS; b++) {
        uint64_t n = ld64(&c.duration_bucket[b]);
        if (n > 1 || (n == 1 && found != -1))
            ck_abort_msg("duration %lld counted more than once", (long long)dur);
        if (n == 1)
            found = b;
    }
    ck_assert_msg(found != -1, "duration %lld in no bucket", (long long)dur);
    return found;
}

/* Bucket upper bounds are inclusive: 5000 µs is in the first bucket, 5001
 * in the second; anything past 10 s in +Inf; negative durations count as
 * 0 (first bucket, nothing added to the sum). */
START_TEST(test_count_duration_buckets)
{
    ck_assert_int_eq(sb_duration_bounds_us[0], 5000);
    ck_assert_int_eq(sb_duration_bounds_us[SB_DURATION_BUCKETS - 2], 10000000);
    ck_assert_int_eq(sb_duration_bounds_us[SB_DURATION_BUCKETS - 1], INT64_MAX);
    for (int b = 1; b < SB_DURATION_BUCKETS; b++)
        ck_assert_int_gt(sb_duration_bounds_us[b], sb_duration_bounds_us[b - 1]);
    ck_assert_int_eq(bucket_of(0), 0);
    ck_assert_int_eq(bucket_of(1), 0);
    ck_assert_int_eq(bucket_of(4999), 0);
    ck_assert_int_eq(bucket_of(5000), 0);
    ck_assert_int_eq(bucket_of(5001), 1);
    ck_assert_int_eq(bucket_of(10000), 1);
    ck_assert_int_eq(bucket_of(10001), 2);
    for (int b = 0; b < SB_DURATION_BUCKETS - 1; b++) {
        ck_assert_int_eq(bucket_of(sb_duration_bounds_us[b]), b);
        ck_assert_int_eq(bucket_of(sb_duration_bounds_us[b] + 1), b + 1);
    }
    ck_assert_int_eq(bucket_of(10000001), SB_DURATION_BUCKETS - 1);
    ck_assert_int_eq(bucket_of((int64_t)3600 * 1000000), SB_DURATION_BUCKETS - 1);
    ck_assert_int_eq(bucket_of(INT64_MAX), SB_DURATION_BUCKETS - 1);
    ck_assert_int_eq(bucket_of(-1), 0);
    ck_assert_int_eq(bucket_of(INT64_MIN), 0);

    struct sb_counters c;
    memset(&c, 0, sizeof c);
    sb_count_request(&c, SB_METHOD_GET, 200, 0, -5000000);
    ck_assert_uint_eq(ld64(&c.duration_us), 0);
    sb_count_request(&c, SB_METHOD_GET, 200, 0, 5001);
    sb_count_request(&c, SB_METHOD_GET, 200, 0, 12);
    ck_assert_uint_eq(ld64(&c.duration_us), 5013);
    ck_assert_uint_eq(ld64(&c.duration_bucket[0]), 2);
    ck_assert_uint_eq(ld64(&c.duration_bucket[1]), 1);
}
END_TEST

/* Body bytes: positive counts added, zero and negative (unknown) not. */
START_TEST(test_count_body_bytes)
{
    struct sb_counters c;
    memset(&c, 0, sizeof c);
    sb_count_request(&c, SB_METHOD_GET, 200, 1000, 0);
    sb_count_request(&c, SB_METHOD_GET, 200, 0, 0);
    sb_count_request(&c, SB_METHOD_GET, 200, -1, 0);
    sb_count_request(&c, SB_METHOD_GET, 200, (long long)1 << 40, 0);
    ck_assert_uint_eq(ld64(&c.body_bytes), 1000 + ((uint64_t)1 << 40));
    ck_assert_uint_eq(total_requests(&c), 4);
    /* Nothing else moves. */
    ck_assert_uint_eq(ld64(&c.connections), 0);
    ck_assert_uint_eq(ld64(&c.cache_hits), 0);
    ck_assert_uint_eq(ld64(&c.cache_misses), 0);
    ck_assert_uint_eq(ld64(&c.arm_failures), 0);
}
END_TEST

START_TEST(test_method_of)
{
    static const struct { const char *name; enum sb_method m; } known[] = {
        {"GET", SB_METHOD_GET}, {"HEAD", SB_METHOD_HEAD}, {"POST", SB_METHOD_POST},
        {"PUT", SB_METHOD_PUT}, {"DELETE", SB_METHOD_DELETE},
        {"OPTIONS", SB_METHOD_OPTIONS}, {"PATCH", SB_METHOD_PATCH},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        ck_assert_int_eq(sb_method_of(known[i].name, strlen(known[i].name)), known[i].m);
    static const char *const other[] = {
        "get", "Get", "TRACE", "CONNECT", "PROPFIND", "GETS", "GE", "HEADER", "POS", "", " GET",
    };
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        ck_assert_msg(sb_method_of(other[i], strlen(other[i])) == SB_METHOD_OTHER, "%s",
                      other[i]);
    /* LEN decides, not a NUL: a prefix of a longer buffer. */
    ck_assert_int_eq(sb_method_of("GETTER", 3), SB_METHOD_GET);
    ck_assert_int_eq(sb_method_of("POST /x", 4), SB_METHOD_POST);
    ck_assert_int_eq(sb_method_of("GET", 2), SB_METHOD_OTHER);
    ck_assert_int_eq(sb_method_of("GET\0X", 5), SB_METHOD_OTHER);
    ck_assert_int_eq(sb_method_of(NULL, 0), SB_METHOD_OTHER);
    ck_assert_int_eq(sb_method_of(NULL, 3), SB_METHOD_OTHER);
}
END_TEST

/* ---- text fields ------------------------------------------------------------ */

static char *repeat(char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)('A' + (char)(i % 26));
    buf[n] = '\0';
    return buf;
}

/* Put a string of LEN bytes into a field of WORDS words (pre-filled with
 * junk) and read it back: the first min(LEN, WORDS * 8 - 1) bytes. */
static void put_get(int words, size_t len)
{
    _Atomic uint64_t field[SB_REQUEST_WORDS];
    char src[256], out[SB_REQUEST_WORDS * 8 + 1], want[256];
    for (int w = 0; w < SB_REQUEST_WORDS; w++)
        atomic_store(&field[w], UINT64_C(0x5a5a5a5a5a5a5a5a));
    repeat(src, len);
    sb_text_put(field, words, src, len);
    memset(out, 'x', sizeof out);
    sb_text_get(field, words, out);
    size_t cap = (size_t)words * 8 - 1, n = len < cap ? len : cap;
    memcpy(want, src, n);
    want[n] = '\0';
    ck_assert_msg(strcmp(out, want) == 0, "%d words, %zu bytes: read \"%s\"", words, len, out);
    /* A string reaching the last word (one cut to fit included) leaves
     * that word's last byte NUL; shorter ones leave the words past their
     * NUL as they were. */
    uint64_t lastw = ld64(&field[words - 1]);
    unsigned char b[8];
    memcpy(b, &lastw, 8);
    if (len >= (size_t)(words - 1) * 8)
        ck_assert_msg(b[7] == 0, "%d words, %zu bytes: the field's last byte is %#x", words,
                      len, b[7]);
    else
        ck_assert_msg(lastw == UINT64_C(0x5a5a5a5a5a5a5a5a), "%d words, %zu bytes: the last "
                      "word, past the NUL, was written", words, len);
    ck_assert_int_eq(out[words * 8], '\0');
    /* Words past the one holding the NUL are not written. */
    if (words < SB_REQUEST_WORDS)
        ck_assert_uint_eq(ld64(&field[words]), UINT64_C(0x5a5a5a5a5a5a5a5a));
}

START_TEST(test_text_lengths)
{
    static const size_t lens[] = { 0, 1, 7, 8, 9, 15, 16, 17, 47, 48, 49, 63, 64, 65, 100, 200 };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        put_get(SB_CLIENT_WORDS, lens[i]);
        put_get(SB_VHOST_WORDS, lens[i]);
        put_get(SB_REQUEST_WORDS, lens[i]);
        put_get(1, lens[i]);
    }
}
END_TEST

/* The cases spelled out: 47 bytes fit a 48-byte field, 48 lose their
 * last; 63 fit a 64-byte field, 64 and 100 are cut to 63. */
START_TEST(test_text_truncation)
{
    struct sb_server *srv = server_ok(1, 1);
    struct sb_thread *th = sb_server_thread(srv, 0, 0);
    char s[128], out[SB_REQUEST_WORDS * 8 + 1];
    sb_text_put(th->client, SB_CLIENT_WORDS, "", 0);
    sb_text_get(th->client, SB_CLIENT_WORDS, out);
    ck_assert_str_eq(out, "");
    sb_text_put(th->client, SB_CLIENT_WORDS, repeat(s, 47), 47);
    sb_text_get(th->client, SB_CLIENT_WORDS, out);
    ck_assert_uint_eq(strlen(out), 47);
    ck_assert_str_eq(out, s);
    sb_text_put(th->client, SB_CLIENT_WORDS, repeat(s, 48), 48);
    sb_text_get(th->client, SB_CLIENT_WORDS, out);
    ck_assert_uint_eq(strlen(out), 47);
    ck_assert_int_eq(strncmp(out, s, 47), 0);
    sb_text_put(th->request, SB_REQUEST_WORDS, repeat(s, 63), 63);
    sb_text_get(th->request, SB_REQUEST_WORDS, out);
    ck_assert_str_eq(out, s);
    sb_text_put(th->request, SB_REQUEST_WORDS, repeat(s, 64), 64);
    sb_text_get(th->request, SB_REQUEST_WORDS, out);
    ck_assert_uint_eq(strlen(out), 63);
    ck_assert_int_eq(strncmp(out, s, 63), 0);
    sb_text_put(th->request, SB_REQUEST_WORDS, repeat(s, 100), 100);
    sb_text_get(th->request, SB_REQUEST_WORDS, out);
    ck_assert_uint_eq(strlen(out), 63);
    ck_assert_int_eq(strncmp(out, s, 63), 0);
    /* The neighbouring field (vhost, before request) is untouched. */
    sb_text_get(th->vhost, SB_VHOST_WORDS, out);
    ck_assert_str_eq(out, "");
    sb_server_destroy(srv);
}
END_TEST

/* A shorter string after a longer one reads back exactly (the old bytes
 * past its NUL do not show), at and around word boundaries; LEN, not a
 * NUL, bounds what is copied. */
START_TEST(test_text_shorter_after_longer)
{
    _Atomic uint64_t f[SB_REQUEST_WORDS];
    char out[SB_REQUEST_WORDS * 8 + 1], s[128];
    static const size_t lens[] = { 40, 16, 9, 8, 7, 1, 0 };
    sb_text_put(f, SB_REQUEST_WORDS, repeat(s, 100), 100);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        char t[64];
        memset(t, 'z', lens[i]);
        t[lens[i]] = '\0';
        sb_text_put(f, SB_REQUEST_WORDS, t, lens[i]);
        sb_text_get(f, SB_REQUEST_WORDS, out);
        ck_assert_msg(strcmp(out, t) == 0, "after %zu bytes: read \"%s\"", lens[i], out);
    }
    sb_text_put(f, SB_REQUEST_WORDS, "GET /index.html HTTP/1.1", 3);
    sb_text_get(f, SB_REQUEST_WORDS, out);
    ck_assert_str_eq(out, "GET");
    sb_text_put(f, SB_REQUEST_WORDS, "GET /index.html HTTP/1.1", 24);
    sb_text_get(f, SB_REQUEST_WORDS, out);
    ck_assert_str_eq(out, "GET /index.html HTTP/1.1");
    sb_text_put(f, SB_REQUEST_WORDS, "abcdefgh", 8);   /* exactly one word */
    sb_text_get(f, SB_REQUEST_WORDS, out);
    ck_assert_str_eq(out, "abcdefgh");
    sb_text_put(f, SB_REQUEST_WORDS, "a", 1);
    sb_text_get(f, SB_REQUEST_WORDS, out);
    ck_assert_str_eq(out, "a");
}
END_TEST

/* ---- sharing ---------------------------------------------------------------- */

START_TEST(test_shared_across_fork)
{
    struct sb_server *srv = server_ok(4, 8);
    struct scoreboard sb;
    board_ok(&sb, 4, 8, srv);
    atomic_store(&srv->generation, 7);             /* before fork: the child sees it */
    int proc = sb_server_claim(srv, 7, 2);
    ck_assert_int_eq(proc, 0);
    atomic_store(&scoreboard_child(&sb, 2)->proc, proc);
    pid_t pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        int saw = atomic_load(&srv->generation);
        struct sb_proc *me = scoreboard_proc(&sb, 2);
        if (!me)
            _exit(4);
        atomic_store(&me->pid, getpid());
        atomic_store(&me->threads, 8);
        atomic_store(&me->state, SB_CHILD_READY);
        atomic_store(&scoreboard_child(&sb, 2)->state, SB_CHILD_READY);
        sb_count_request(&me->c, SB_METHOD_GET, 200, 42, 10);
        sb_count_request(&me->c, SB_METHOD_GET, 404, 0, 10);
        scoreboard_set_thread_state(scoreboard_thread(&sb, 2, 3), SB_THREAD_WRITING);
        scoreboard_set_thread_state(scoreboard_thread(&sb, 2, 5), SB_THREAD_READY);
        atomic_fetch_add(&scoreboard_thread(&sb, 2, 3)->requests, 5);
        atomic_fetch_add(&scoreboard_thread(&sb, 2, 8)->requests, 1);   /* the listener */
        _exit(saw == 7 ? 0 : 3);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child did not see the parent's write (status %#x)", status);
    struct sb_proc *kid = &srv->procs[proc];
    pid_t kpid = atomic_load(&kid->pid);
    ck_assert_int_eq(kpid, pid);
    ck_assert_int_eq(ldi(&kid->state), SB_CHILD_READY);
    ck_assert_int_eq(ldi(&scoreboard_child(&sb, 2)->state), SB_CHILD_READY);
    ck_assert_uint_eq(ld64(&kid->c.requests[SB_METHOD_GET][1]), 1);
    ck_assert_uint_eq(ld64(&kid->c.requests[SB_METHOD_GET][3]), 1);
    ck_assert_uint_eq(ld64(&scoreboard_thread(&sb, 2, 3)->requests), 5);
    ck_assert_uint_eq(ld64(&sb_server_thread(srv, proc, 8)->requests), 1);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 2, SB_THREAD_WRITING), 1);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 2, SB_THREAD_READY), 1);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 2, SB_THREAD_DEAD), 6);
    /* The supervisor reaps it: the counters outlive the child. */
    struct sb_counters before, after;
    sb_server_totals(srv, &before);
    ck_assert_uint_eq(total_requests(&before), 2);
    atomic_store(&scoreboard_child(&sb, 2)->proc, -1);
    sb_server_release(srv, proc);
    ck_assert_ptr_null(scoreboard_proc(&sb, 2));
    sb_server_totals(srv, &after);
    assert_counters_eq(&after, &before, "totals after the reap");
    ck_assert_uint_eq(ld64(&after.body_bytes), 42);
    scoreboard_destroy(&sb);
    sb_server_destroy(srv);
}
END_TEST

Suite *scoreboard_suite(void)
{
    Suite *s = suite_create("scoreboard");
    TCase *tc = tcase_create("layout");
    tcase_add_test(tc, test_thread_record_size);
    tcase_add_loop_test(tc, test_server_layout, 0, N_SHAPES);
    tcase_add_loop_test(tc, test_server_zeroed, 0, N_SHAPES);
    tcase_add_test(tc, test_server_too_big_fails);
    tcase_add_loop_test(tc, test_board_create, 0, N_SHAPES);
    tcase_add_test(tc, test_board_zero_children_fails);
    tcase_add_test(tc, test_destroy);
    suite_add_tcase(s, tc);

    tc = tcase_create("records");
    tcase_add_test(tc, test_no_record_is_null);
    tcase_add_test(tc, test_record_after_set);
    tcase_add_loop_test(tc, test_server_thread_index, 0, N_SHAPES);
    tcase_add_test(tc, test_listener_record);
    tcase_add_test(tc, test_count_threads_per_state);
    tcase_add_test(tc, test_count_threads_board_narrower);
    suite_add_tcase(s, tc);

    tc = tcase_create("fold");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_claim_takes_free_records);
    tcase_add_test(tc, test_claim_resets_record);
    tcase_add_test(tc, test_release_folds_counters);
    tcase_add_test(tc, test_totals_sum);
    tcase_add_test(tc, test_fold_between_reads_keeps_total);
    tcase_add_test(tc, test_totals_never_decrease_under_folds);
    tcase_add_test(tc, test_totals_never_decrease_across_fork);
    suite_add_tcase(s, tc);

    tc = tcase_create("count");
    tcase_add_test(tc, test_count_status_classes);
    tcase_add_test(tc, test_count_method_clamp);
    tcase_add_test(tc, test_count_duration_buckets);
    tcase_add_test(tc, test_count_body_bytes);
    tcase_add_test(tc, test_method_of);
    suite_add_tcase(s, tc);

    tc = tcase_create("text");
    tcase_add_test(tc, test_text_lengths);
    tcase_add_test(tc, test_text_truncation);
    tcase_add_test(tc, test_text_shorter_after_longer);
    suite_add_tcase(s, tc);

    tc = tcase_create("sharing");
    tcase_add_test(tc, test_shared_across_fork);
    suite_add_tcase(s, tc);
    return s;
}
