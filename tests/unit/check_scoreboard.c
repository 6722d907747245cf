/* check_scoreboard.c: unit tests for the shared scoreboard (src/mpm/scoreboard.c,
 * include/mpmd/mpm/scoreboard.h): the size of the mapping and where the child
 * and thread slots lie in it for several (ServerLimit, ThreadsPerChild)
 * shapes, that it starts zeroed, scoreboard_count_threads (per state, per
 * slot, reading nothing outside the slot), that it is shared across fork,
 * and scoreboard_destroy.  Runs in the single Check runner (check_main.c);
 * each test maps and unmaps its own scoreboard. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_suites.h"
#include "mpmd/mpm/scoreboard.h"

#define CACHE_LINE 64

/* The shapes the layout tests walk: the smallest, the most children the
 * config allows (ServerLimit 20000) with one thread each, the most threads
 * (ThreadsPerChild 1024), and a few odd ones whose child array is not a
 * multiple of 64 bytes. */
static const struct shape {
    int children;
    int threads;
} shapes[] = {
    {1, 1}, {20000, 1}, {16, 1024}, {3, 7}, {5, 64}, {1, 1024}, {7, 3},
};

#define N_SHAPES ((int)(sizeof shapes / sizeof shapes[0]))

static size_t round_up_64(size_t n)
{
    return (n + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
}

/* The size scoreboard.h's layout implies: the child slots rounded up to a
 * cache line, then one struct sb_thread per thread slot (whose size
 * test_thread_slot_is_one_cache_line checks on its own). */
static size_t expected_size(int children, int threads)
{
    return round_up_64((size_t)children * sizeof(struct sb_child)) +
           (size_t)children * (size_t)threads * sizeof(struct sb_thread);
}

static void create_ok(struct scoreboard *sb, int children, int threads)
{
    int rc = scoreboard_create(sb, children, threads);
    ck_assert_msg(rc == 0, "scoreboard_create(%d, %d): %s", children, threads, strerror(errno));
}

/* Whether PTR..PTR+LEN lies inside SB's mapping. */
static int in_mapping(const struct scoreboard *sb, const void *ptr, size_t len)
{
    uintptr_t lo = (uintptr_t)sb->children, hi = lo + sb->size, p = (uintptr_t)ptr;
    return p >= lo && p + len <= hi;
}

/* ---- create: size and layout ---------------------------------------------- */

/* scoreboard.h promises "one cache line each": a thread slot is exactly 64
 * bytes and every one starts on a cache line, so two handler threads never
 * write to the same line (no false sharing). */
START_TEST(test_thread_slot_is_one_cache_line)
{
    ck_assert_msg(sizeof(struct sb_thread) == CACHE_LINE,
                  "sizeof(struct sb_thread) is %zu, not one %d-byte cache line: its pad[] does "
                  "not count the alignment hole after 'state'", sizeof(struct sb_thread),
                  CACHE_LINE);
    struct scoreboard sb;
    create_ok(&sb, 3, 7);
    for (int c = 0; c < 3; c++)
        for (int t = 0; t < 7; t++)
            ck_assert_msg((uintptr_t)scoreboard_thread(&sb, c, t) % CACHE_LINE == 0,
                          "thread slot (%d, %d) is not on a cache line", c, t);
    ck_assert_uint_eq(sb.size, round_up_64(3 * sizeof(struct sb_child)) + 3 * 7 * CACHE_LINE);
    scoreboard_destroy(&sb);
}
END_TEST

/* For shapes[_i]: the header fields and the size of the mapping. */
START_TEST(test_create_fields_and_size)
{
    const struct shape *sh = &shapes[_i];
    struct scoreboard sb;
    memset(&sb, 0xa5, sizeof sb);
    create_ok(&sb, sh->children, sh->threads);
    ck_assert_int_eq(sb.server_limit, sh->children);
    ck_assert_int_eq(sb.threads_per_child, sh->threads);
    ck_assert_uint_eq(sb.size, expected_size(sh->children, sh->threads));
    ck_assert_ptr_nonnull(sb.children);
    ck_assert_ptr_nonnull(sb.threads);
    ck_assert_uint_eq((uintptr_t)sb.children % CACHE_LINE, 0);
    /* Thread slots start right after the child slots, on a cache line. */
    size_t children_bytes = round_up_64((size_t)sh->children * sizeof(struct sb_child));
    ck_assert_ptr_eq((char *)sb.threads, (char *)sb.children + children_bytes);
    ck_assert_uint_eq((uintptr_t)sb.threads % CACHE_LINE, 0);
    ck_assert((char *)&sb.children[sh->children] <= (char *)sb.threads);
    scoreboard_destroy(&sb);
}
END_TEST

/* For shapes[_i]: every child slot distinct, in order, in bounds, and
 * before the thread slots. */
START_TEST(test_child_slots)
{
    const struct shape *sh = &shapes[_i];
    struct scoreboard sb;
    create_ok(&sb, sh->children, sh->threads);
    struct sb_child *prev = NULL;
    for (int c = 0; c < sh->children; c++) {
        struct sb_child *ch = scoreboard_child(&sb, c);
        if (ch != &sb.children[c] || !in_mapping(&sb, ch, sizeof *ch) ||
            (char *)(ch + 1) > (char *)sb.threads || (prev && ch != prev + 1))
            ck_abort_msg("%dx%d: child slot %d at %p (mapping %p + %zu, threads at %p)",
                         sh->children, sh->threads, c, (void *)ch, (void *)sb.children,
                         sb.size, (void *)sb.threads);
        prev = ch;
    }
    scoreboard_destroy(&sb);
}
END_TEST

/* For shapes[_i]: thread(slot, t) == threads + slot * threads_per_child +
 * t, all distinct and back to back (strictly increasing), in bounds, and
 * the last one ends exactly at the end of the mapping. */
START_TEST(test_thread_slots)
{
    const struct shape *sh = &shapes[_i];
    struct scoreboard sb;
    create_ok(&sb, sh->children, sh->threads);
    const char *prev = NULL;
    for (int c = 0; c < sh->children; c++) {
        for (int t = 0; t < sh->threads; t++) {
            struct sb_thread *th = scoreboard_thread(&sb, c, t);
            const char *p = (const char *)th;
            if (th != sb.threads + (size_t)c * (size_t)sh->threads + (size_t)t ||
                !in_mapping(&sb, th, sizeof *th) || (prev && p != prev + sizeof *th))
                ck_abort_msg("%dx%d: thread slot (%d, %d) at %p (threads at %p, mapping "
                             "%p + %zu)", sh->children, sh->threads, c, t, (void *)th,
                             (void *)sb.threads, (void *)sb.children, sb.size);
            prev = p;
        }
    }
    struct sb_thread *last = scoreboard_thread(&sb, sh->children - 1, sh->threads - 1);
    ck_assert_ptr_eq((char *)(last + 1), (char *)sb.children + sb.size);
    scoreboard_destroy(&sb);
}
END_TEST

/* For shapes[_i]: the whole mapping reads as zero (every child FREE,
 * every thread DEAD) and can be written to its last byte. */
START_TEST(test_create_zeroed)
{
    const struct shape *sh = &shapes[_i];
    struct scoreboard sb;
    create_ok(&sb, sh->children, sh->threads);
    const unsigned char *bytes = (const unsigned char *)sb.children;
    for (size_t i = 0; i < sb.size; i++)
        if (bytes[i] != 0)
            ck_abort_msg("%dx%d: byte %zu of %zu is %#x", sh->children, sh->threads, i,
                         sb.size, bytes[i]);
    ck_assert_int_eq(atomic_load(&scoreboard_child(&sb, sh->children - 1)->state),
                     SB_CHILD_FREE);
    ck_assert_int_eq(scoreboard_count_threads(&sb, sh->children - 1, SB_THREAD_DEAD),
                     sh->threads);
    ((volatile unsigned char *)sb.children)[sb.size - 1] = 1;
    ck_assert_int_eq(bytes[sb.size - 1], 1);
    scoreboard_destroy(&sb);
}
END_TEST

START_TEST(test_create_zero_children_fails)
{
    struct scoreboard sb;
    memset(&sb, 0x5a, sizeof sb);
    struct scoreboard before = sb;
    errno = 0;
    ck_assert_int_eq(scoreboard_create(&sb, 0, 25), -1);
    ck_assert_int_eq(errno, EINVAL);              /* mmap of 0 bytes */
    ck_assert_mem_eq(&sb, &before, sizeof sb);    /* left alone */
}
END_TEST

/* A scoreboard larger than the address space: -1, errno set, SB untouched. */
START_TEST(test_create_too_big_fails)
{
    struct scoreboard sb;
    memset(&sb, 0x5a, sizeof sb);
    struct scoreboard before = sb;
    errno = 0;
    ck_assert_int_eq(scoreboard_create(&sb, INT_MAX, 1024), -1);   /* 128 TiB of threads */
    /* The kernel says ENOMEM; valgrind's mmap says EINVAL. */
    ck_assert_msg(errno == ENOMEM || errno == EINVAL, "errno %d (%s)", errno, strerror(errno));
    ck_assert_mem_eq(&sb, &before, sizeof sb);
}
END_TEST

/* ---- scoreboard_count_threads ------------------------------------------- */

START_TEST(test_count_threads_per_state)
{
    struct scoreboard sb;
    create_ok(&sb, 3, 8);
    /* slot 1: 3 READY, 2 WRITING, 1 KEEPALIVE, 1 CLOSING, 1 left DEAD */
    static const int states[8] = {
        SB_THREAD_READY, SB_THREAD_WRITING, SB_THREAD_READY, SB_THREAD_KEEPALIVE,
        SB_THREAD_DEAD, SB_THREAD_CLOSING, SB_THREAD_WRITING, SB_THREAD_READY,
    };
    for (int t = 0; t < 8; t++)
        scoreboard_set_thread_state(scoreboard_thread(&sb, 1, t), states[t]);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_READY), 3);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_WRITING), 2);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_KEEPALIVE), 1);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_CLOSING), 1);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_DEAD), 1);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_READING), 0);
    /* The neighbours were not written by the stores to slot 1. */
    ck_assert_int_eq(scoreboard_count_threads(&sb, 0, SB_THREAD_DEAD), 8);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 2, SB_THREAD_DEAD), 8);
    /* Changing one thread moves one count. */
    scoreboard_set_thread_state(scoreboard_thread(&sb, 1, 4), SB_THREAD_READING);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_DEAD), 0);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_READING), 1);
    scoreboard_destroy(&sb);
}
END_TEST

/* Filling the neighbouring slots (and the first thread of the next one)
 * changes no count of the slot in between. */
START_TEST(test_count_threads_ignores_other_slots)
{
    struct scoreboard sb;
    create_ok(&sb, 4, 5);
    for (int t = 0; t < 5; t++) {
        scoreboard_set_thread_state(scoreboard_thread(&sb, 0, t), SB_THREAD_READY);
        scoreboard_set_thread_state(scoreboard_thread(&sb, 2, t), SB_THREAD_WRITING);
        scoreboard_set_thread_state(scoreboard_thread(&sb, 3, t), SB_THREAD_READY);
    }
    scoreboard_set_thread_state(scoreboard_thread(&sb, 1, 2), SB_THREAD_WRITING);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_READY), 0);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_WRITING), 1);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_DEAD), 4);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 0, SB_THREAD_READY), 5);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 2, SB_THREAD_WRITING), 5);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 3, SB_THREAD_READY), 5);
    /* Child slot fields are not thread states. */
    atomic_store(&scoreboard_child(&sb, 1)->state, SB_THREAD_READY);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_READY), 0);
    scoreboard_destroy(&sb);
}
END_TEST

/* Counting slot 1 of a 16 x 1024 board with every page that holds no
 * byte of slot 1 made inaccessible: a read outside the slot would kill the
 * test with SIGSEGV.  Counting also writes nothing. */
START_TEST(test_count_threads_reads_only_its_slot)
{
    struct scoreboard sb;
    create_ok(&sb, 16, 1024);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (int t = 0; t < 1024; t += 3)
        scoreboard_set_thread_state(scoreboard_thread(&sb, 1, t), SB_THREAD_KEEPALIVE);
    char *base = (char *)sb.children;
    size_t lo = (size_t)((char *)scoreboard_thread(&sb, 1, 0) - base) / page * page;
    size_t hi = (size_t)((char *)scoreboard_thread(&sb, 2, 0) - base);
    hi = (hi + page - 1) / page * page;
    ck_assert_uint_gt(lo, 0);          /* there is something to protect on each side */
    ck_assert_uint_lt(hi, sb.size);
    ck_assert_int_eq(mprotect(base, lo, PROT_NONE), 0);
    ck_assert_int_eq(mprotect(base + hi, sb.size - hi, PROT_NONE), 0);
    ck_assert_int_eq(mprotect(base + lo, hi - lo, PROT_READ), 0);   /* and no writes */
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_KEEPALIVE), 342);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_DEAD), 1024 - 342);
    ck_assert_int_eq(mprotect(base, sb.size, PROT_READ | PROT_WRITE), 0);
    scoreboard_destroy(&sb);
}
END_TEST

/* ---- shared across fork --------------------------------------------------- */

START_TEST(test_shared_across_fork)
{
    struct scoreboard sb;
    create_ok(&sb, 4, 8);
    atomic_store(&scoreboard_child(&sb, 0)->generation, 7);   /* before fork: child sees it */
    pid_t pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        /* The child writes its own slots only; exit status says what it saw. */
        int saw = atomic_load(&scoreboard_child(&sb, 0)->generation);
        struct sb_child *me = scoreboard_child(&sb, 2);
        atomic_store(&me->pid, getpid());
        atomic_store(&me->state, SB_CHILD_READY);
        atomic_fetch_add(&me->requests, 42);
        scoreboard_set_thread_state(scoreboard_thread(&sb, 2, 3), SB_THREAD_WRITING);
        scoreboard_set_thread_state(scoreboard_thread(&sb, 2, 5), SB_THREAD_READY);
        atomic_fetch_add(&scoreboard_thread(&sb, 2, 3)->requests, 5);
        _exit(saw == 7 ? 0 : 3);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child did not see the parent's write (status %#x)", status);
    struct sb_child *kid = scoreboard_child(&sb, 2);
    ck_assert_int_eq(atomic_load(&kid->pid), pid);
    ck_assert_int_eq(atomic_load(&kid->state), SB_CHILD_READY);
    ck_assert_uint_eq(atomic_load(&kid->requests), 42);
    ck_assert_int_eq(atomic_load(&scoreboard_thread(&sb, 2, 3)->state), SB_THREAD_WRITING);
    ck_assert_uint_eq(atomic_load(&scoreboard_thread(&sb, 2, 3)->requests), 5);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 2, SB_THREAD_WRITING), 1);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 2, SB_THREAD_READY), 1);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 2, SB_THREAD_DEAD), 6);
    ck_assert_int_eq(scoreboard_count_threads(&sb, 1, SB_THREAD_DEAD), 8);
    ck_assert_int_eq(atomic_load(&scoreboard_child(&sb, 1)->pid), 0);
    scoreboard_destroy(&sb);
}
END_TEST

/* ---- destroy ------------------------------------------------------------ */

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

START_TEST(test_destroy_unmaps_and_zeroes)
{
    struct scoreboard sb;
    create_ok(&sb, 16, 1024);
    char *first = (char *)sb.children, *last = first + sb.size - 1;
    ck_assert(page_mapped(first));
    ck_assert(page_mapped(last));
    scoreboard_destroy(&sb);
    ck_assert(!page_mapped(first));
    ck_assert(!page_mapped(last));
    ck_assert_ptr_null(sb.children);
    ck_assert_ptr_null(sb.threads);
    ck_assert_uint_eq(sb.size, 0);
    ck_assert_int_eq(sb.server_limit, 0);
    ck_assert_int_eq(sb.threads_per_child, 0);
}
END_TEST

/* Destroying a zeroed struct (never created, or destroyed already) does
 * nothing, and in particular does not unmap whatever lives at address 0
 * or at an earlier scoreboard's address. */
START_TEST(test_destroy_zeroed_is_safe)
{
    struct scoreboard sb, zero;
    memset(&sb, 0, sizeof sb);
    memset(&zero, 0, sizeof zero);
    scoreboard_destroy(&sb);
    ck_assert_mem_eq(&sb, &zero, sizeof sb);
    create_ok(&sb, 2, 2);
    struct scoreboard other;
    create_ok(&other, 2, 2);
    scoreboard_destroy(&sb);
    scoreboard_destroy(&sb);            /* twice: the second call is on a zeroed struct */
    ck_assert_mem_eq(&sb, &zero, sizeof sb);
    ck_assert(page_mapped(other.children));
    scoreboard_set_thread_state(scoreboard_thread(&other, 1, 1), SB_THREAD_READY);
    ck_assert_int_eq(scoreboard_count_threads(&other, 1, SB_THREAD_READY), 1);
    scoreboard_destroy(&other);
}
END_TEST

Suite *scoreboard_suite(void)
{
    Suite *s = suite_create("scoreboard");
    TCase *tc = tcase_create("layout");
    tcase_add_test(tc, test_thread_slot_is_one_cache_line);
    tcase_add_loop_test(tc, test_create_fields_and_size, 0, N_SHAPES);
    tcase_add_loop_test(tc, test_child_slots, 0, N_SHAPES);
    tcase_add_loop_test(tc, test_thread_slots, 0, N_SHAPES);
    tcase_add_loop_test(tc, test_create_zeroed, 0, N_SHAPES);
    tcase_add_test(tc, test_create_zero_children_fails);
    tcase_add_test(tc, test_create_too_big_fails);
    suite_add_tcase(s, tc);

    tc = tcase_create("count");
    tcase_add_test(tc, test_count_threads_per_state);
    tcase_add_test(tc, test_count_threads_ignores_other_slots);
    tcase_add_test(tc, test_count_threads_reads_only_its_slot);
    suite_add_tcase(s, tc);

    tc = tcase_create("sharing");
    tcase_add_test(tc, test_shared_across_fork);
    tcase_add_test(tc, test_destroy_unmaps_and_zeroes);
    tcase_add_test(tc, test_destroy_zeroed_is_safe);
    suite_add_tcase(s, tc);
    return s;
}
